//! Import throughput: a generated 100,000-row ledger as CSV and as .xlsx.
//!
//! `cargo bench -p zhulao-ledger` — criterion reports the time per file; the rows per second
//! are printed once per format before measuring.

use std::hint::black_box;
use std::time::Instant;

use chrono::NaiveDate;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zhulao_domain::RegionCode;
use zhulao_domain::id_number::compose;
use zhulao_ledger::{ExportContact, ExportRow, Format, export_xlsx, parse_ledger};

const ROWS: usize = 100_000;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default()
}

fn resolve(name: &str) -> Option<RegionCode> {
    name.strip_prefix("社区")
        .and_then(|n| RegionCode::parse("region_code", &format!("140213001{n:0>3}")).ok())
}

/// A realistic ledger: every elder distinct, most columns filled.
fn ledger() -> Vec<ExportRow> {
    let living = ["独居", "空巢", "与子女同住", "集中供养", "其他"];
    let economic = ["低保", "特困", "五保", "经济困难", "一般"];
    (0..ROWS)
        .filter_map(|i| {
            let birth =
                NaiveDate::from_ymd_opt(1930 + (i % 30) as i32, 1 + (i % 12) as u32, 1 + (i % 28) as u32)?;
            // (birth, seq) repeats every 21,000 rows, so the division code changes every 20,000.
            let division = format!("{:06}", 140213 + i / 20_000);
            let id = compose(&division, birth, (i % 1000) as u16)?;
            Some(ExportRow {
                id_number: id.as_str().to_string(),
                name: format!("老人{i}"),
                phone: format!("138{:08}", i),
                address: format!("平城区新建南路街道{}号院{}单元", i % 500, i % 6),
                lat: format!("40.{:04}", i % 10_000),
                lon: format!("113.{:04}", i % 10_000),
                region_name: format!("社区{:03}", 1 + i % 20),
                hukou: if i % 3 == 0 { "农村" } else { "城镇" }.into(),
                living: living[i % 5].into(),
                economic: economic[i % 5].into(),
                capability: (i % 5).to_string(),
                chronic_conditions: "高血压、糖尿病".into(),
                blood_type: "A".into(),
                contacts: vec![ExportContact {
                    name: format!("家属{i}"),
                    relation: "子女".into(),
                    phone: format!("139{:08}", i),
                }],
                card_balance_yuan: format!("{}.{:02}", i % 1000, i % 100),
                ..ExportRow::default()
            })
        })
        .collect()
}

/// The same rows as a CSV in the ledger layout (the columns the importer reads).
fn csv(rows: &[ExportRow]) -> Vec<u8> {
    let mut out = String::from(
        "身份证号,姓名,联系电话,住址,纬度,经度,所属社区,户籍,居住状况,经济状况,能力等级,慢性病,血型,紧急联系人1,联系人1关系,联系人1电话,服务卡余额(元)\n",
    );
    for r in rows {
        let c = r.contacts.first().cloned().unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.id_number,
            r.name,
            r.phone,
            r.address,
            r.lat,
            r.lon,
            r.region_name,
            r.hukou,
            r.living,
            r.economic,
            r.capability,
            r.chronic_conditions,
            r.blood_type,
            c.name,
            c.relation,
            c.phone,
            r.card_balance_yuan
        ));
    }
    out.into_bytes()
}

fn report(what: &str, bytes: &[u8], format: Format) {
    let start = Instant::now();
    let parsed = parse_ledger(bytes, format, today(), &resolve);
    let secs = start.elapsed().as_secs_f64();
    match parsed {
        Ok(p) => println!(
            "{what}: {} bytes, {} rows ({} valid, {} errors) in {secs:.2} s = {:.0} rows/s",
            bytes.len(),
            p.total_rows,
            p.rows.len(),
            p.errors.len(),
            p.total_rows as f64 / secs
        ),
        Err(e) => println!("{what}: failed: {e}"),
    }
}

fn import(c: &mut Criterion) {
    let rows = ledger();
    let csv = csv(&rows);
    let xlsx = export_xlsx(&rows).unwrap_or_default();
    report("csv", &csv, Format::Csv);
    report("xlsx", &xlsx, Format::Xlsx);

    let mut group = c.benchmark_group("import_100k");
    group.sample_size(10).throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("csv", |b| b.iter(|| parse_ledger(black_box(&csv), Format::Csv, today(), &resolve)));
    group.bench_function("xlsx", |b| {
        b.iter(|| parse_ledger(black_box(&xlsx), Format::Xlsx, today(), &resolve))
    });
    group.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
