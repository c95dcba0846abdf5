//! `zhulao bench registry`: generates a district, writes it as a ledger, imports it through
//! the ledger parser and the store, then times the registry's list and filter queries.
//! `zhulao bench orders` is in `bench_orders.rs`. Prints medians; nothing here asserts on
//! time.

use std::sync::Arc;
use std::time::Instant;

use chrono::Months;
use zhulao_domain::{CapabilityLevel, EconomicStatus, ElderScope, LivingArrangement};
use zhulao_store::testing::{self, TestDb};
use zhulao_store::{ElderFilter, SystemClock};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// What to benchmark: `registry` or `orders`.
    #[arg(default_value = "registry")]
    pub what: String,
    /// Elders in the generated ledger.
    #[arg(long, default_value_t = 100_000)]
    pub elders: usize,
    /// `sqlite` (a temporary file) or a PostgreSQL server URL (a fresh database is created
    /// on it and dropped afterwards).
    #[arg(long, default_value = "sqlite")]
    pub database: String,
    /// Repetitions of each query.
    #[arg(long, default_value_t = 21)]
    pub runs: usize,
    /// orders: caregivers grabbing at once.
    #[arg(long, default_value_t = 500)]
    pub caregivers: usize,
    /// orders: orders per grab round.
    #[arg(long, default_value_t = 100)]
    pub orders: usize,
    /// orders: grab rounds.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// orders: orders created to time creation (half by one client, half by 16).
    #[arg(long, default_value_t = 1000)]
    pub create: usize,
}

fn median_ms(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.what == "orders" {
        return crate::bench_orders::run(args).await;
    }
    anyhow::ensure!(args.what == "registry", "unknown benchmark {:?}: try `registry` or `orders`", args.what);
    let clock = Arc::new(SystemClock);
    let db: TestDb = if args.database == "sqlite" {
        testing::sqlite(clock.clone()).await
    } else {
        testing::fresh_postgres(&args.database, clock.clone()).await
    };
    let store = db.store.clone();
    let today = store.clock().today();
    println!("registry benchmark: {} elders on {:?}", args.elders, store.backend());

    let t = Instant::now();
    let district = zhulao_demo::generate(7, today, zhulao_demo::DemoSize { elders: args.elders });
    // Regions, facilities and staff first, so the ledger rows can reference them.
    let staff_only =
        zhulao_demo::DemoDistrict { elders: Vec::new(), devices: Vec::new(), ..district.clone() };
    let staff_only = zhulao_demo::DemoDistrict {
        accounts: staff_only.accounts.into_iter().filter(|a| a.elder.is_none()).collect(),
        ..staff_only
    };
    crate::demo::load(&store, &staff_only).await?;
    println!("  generate district:        {:>9.0} ms", t.elapsed().as_secs_f64() * 1e3);

    // The ledger as community staff would upload it.
    let records = district
        .elders
        .iter()
        .map(|e| e.input.validate(today).map_err(|e| anyhow::anyhow!("{e:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let rows: Vec<_> = records.iter().map(|r| zhulao_ledger::ExportRow::from_record(r, today)).collect();
    let xlsx = zhulao_ledger::export_xlsx(&rows).map_err(|e| anyhow::anyhow!(e.en()))?;
    let regions = district.regions.clone();
    let resolve = move |name: &str| regions.iter().find(|r| r.name == name).map(|r| r.code.clone());

    let t = Instant::now();
    let parsed = zhulao_ledger::parse_ledger(&xlsx, zhulao_ledger::Format::Xlsx, today, &resolve)
        .map_err(|e| anyhow::anyhow!(e.en()))?;
    let parse_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        parsed.errors.is_empty(),
        "ledger rows rejected: {:?}",
        &parsed.errors[..parsed.errors.len().min(3)]
    );
    let valid: Vec<_> = parsed.rows.into_iter().map(|r| r.record).collect();
    let t = Instant::now();
    let summary = store.import_elders(&valid, zhulao_store::Actor::SYSTEM).await?;
    let import_s = t.elapsed().as_secs_f64();
    println!(
        "  parse .xlsx ledger:       {:>9.0} ms  ({:.0} rows/s, {} bytes)",
        parse_s * 1e3,
        valid.len() as f64 / parse_s,
        xlsx.len()
    );
    println!(
        "  import into store:        {:>9.0} ms  ({:.0} rows/s, {} inserted, one transaction)",
        import_s * 1e3,
        valid.len() as f64 / import_s,
        summary.inserted
    );
    let t = Instant::now();
    let again = store.import_elders(&valid, zhulao_store::Actor::SYSTEM).await?;
    println!(
        "  re-import (unchanged):    {:>9.0} ms  ({} unchanged)",
        t.elapsed().as_secs_f64() * 1e3,
        again.unchanged
    );

    let all = || ElderFilter { limit: 20, ..ElderFilter::scoped(ElderScope::All) };
    let eighty = today.checked_sub_months(Months::new(12 * 80)).expect("date");
    let street =
        district.regions.iter().find(|r| r.level == zhulao_domain::RegionLevel::Township).expect("street");
    let cases: Vec<(&str, ElderFilter)> = vec![
        ("list page 1", all()),
        ("list page 2000", ElderFilter { offset: 20 * 1999, ..all() }),
        ("filter: street", ElderFilter { region_prefix: Some(street.code.prefix().to_string()), ..all() }),
        (
            "filter: alone + 80+",
            ElderFilter { living: Some(LivingArrangement::Alone), born_on_or_before: Some(eighty), ..all() },
        ),
        (
            "filter: dibao + level 2",
            ElderFilter {
                economic: Some(EconomicStatus::Dibao),
                capability: Some(CapabilityLevel::Moderate),
                ..all()
            },
        ),
        ("search: name fragment", ElderFilter { query: Some("秀英".into()), ..all() }),
        (
            "search: exact ID number",
            ElderFilter { query: Some(valid[valid.len() / 2].id_number.as_str().into()), ..all() },
        ),
        (
            "scope: one community",
            ElderFilter { scope: ElderScope::RegionPrefix(valid[0].region.prefix().to_string()), ..all() },
        ),
    ];
    println!("  queries (median of {} runs, each = count + one page of 20):", args.runs);
    for (name, f) in cases {
        let mut times = Vec::new();
        let mut total = 0;
        for _ in 0..args.runs {
            let t = Instant::now();
            total = store.list_elders(&f).await?.total;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        println!("    {name:<24} {:>8.2} ms  ({total} matches)", median_ms(times));
    }
    let mut times = Vec::new();
    for _ in 0..args.runs.min(7) {
        let t = Instant::now();
        store.region_stats(&ElderScope::All, "140213", today).await?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("    {:<24} {:>8.2} ms", "region statistics", median_ms(times));
    drop(store);
    db.finish().await;
    Ok(())
}
