//! Settlement and order throughput: splits per second with 二七's and 赤城's rules, and one
//! order's whole lifecycle (create → publish → grab → trip → check-in → check-out → rate →
//! settle).
//!
//! `cargo bench -p zhulao-services` — criterion reports the time per iteration; the rates
//! are printed once before measuring.

use std::hint::black_box;
use std::time::Instant;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use zhulao_domain::{Fen, GeoPoint, RegionCode};
use zhulao_services::catalogue::ServiceCategory;
use zhulao_services::order::{NewOrder, Order, OrderChannel, OrderCommand, OrderPolicy, Schedule};
use zhulao_services::settlement::{Balances, RuleBook, SettleInput};
use zhulao_services::{
    ActorRole, Caregiver, Catalogue, ElderCategory, ElderProfile, OrderActor, PoolCode, ServiceCode,
    SkillCode,
};

fn rules() -> RuleBook {
    serde_json::from_str(include_str!("../rules/example.json")).expect("example rules")
}

fn inputs() -> Vec<SettleInput> {
    let pool = |s: &str| PoolCode::parse("pool", s).expect("pool code");
    let mut balances = Balances { card: Fen(20_000), ..Balances::default() };
    for p in ["erqi_gov_purchase", "erqi_charity_canteen", "village_collective", "chicheng_charity"] {
        balances.pools.insert(pool(p), Fen(100_000_000));
    }
    let profile = |region: &str, age, cats: &[ElderCategory]| ElderProfile {
        elder: 1,
        region: RegionCode::parse("r", region).expect("region"),
        age,
        categories: cats.iter().copied().collect(),
    };
    let date = NaiveDate::from_ymd_opt(2026, 5, 11).expect("date");
    [
        (
            6000,
            ServiceCategory::Cleaning,
            profile("410103001001", 85, &[ElderCategory::Hardship, ElderCategory::Disabled]),
        ),
        (8000, ServiceCategory::Medical, profile("410103001001", 78, &[ElderCategory::GovPurchase])),
        (1050, ServiceCategory::Meals, profile("410103002001", 68, &[])),
        (3500, ServiceCategory::Meals, profile("130732100200", 82, &[ElderCategory::Rural])),
    ]
    .into_iter()
    .map(|(price, service, elder)| SettleInput {
        price: Fen(price),
        service,
        item: None,
        elder,
        date,
        balances: balances.clone(),
    })
    .collect()
}

fn lifecycle(catalogue: &Catalogue, rules: &RuleBook, input: &SettleInput) -> Order {
    let t0 = Utc.with_ymd_and_hms(2026, 5, 11, 1, 0, 0).single().expect("time");
    let home = GeoPoint::new(34.7466, 113.6253).expect("home");
    let region = RegionCode::parse("r", "410103001001").expect("region");
    let code = ServiceCode::parse("item", "home_cleaning").expect("item");
    let quote = catalogue.quote(&code, &region).expect("quote");
    let elder = OrderActor::new(ActorRole::Elder, 1);
    let new = NewOrder::from_quote(&quote, 1, region, home, elder, OrderChannel::App, Schedule::Asap, "");
    let mut o = Order::new(new, OrderPolicy::default(), t0).expect("order");
    let caregiver = Caregiver {
        id: 9,
        skills: vec![SkillCode::parse("s", "housekeeping").expect("skill")],
        on_duty: true,
        position: Some(home),
        commitments: vec![],
        quality_milli: 4_500,
    };
    let at = |m| t0 + Duration::minutes(m);
    let steps = [
        OrderCommand::Publish { by: elder },
        OrderCommand::Grab { caregiver },
        OrderCommand::StartTrip { caregiver: 9 },
        OrderCommand::CheckIn { caregiver: 9, position: home },
        OrderCommand::CheckOut { caregiver: 9, position: home, notes: String::new(), photos: vec![] },
        OrderCommand::Rate { by: elder, stars: 5, tags: vec![], text: String::new() },
    ];
    for (i, cmd) in steps.iter().enumerate() {
        o.apply(cmd, at(i as i64 * 30)).expect("step");
    }
    let split = rules.settle(&SettleInput { price: o.price, ..input.clone() }).expect("settle").split;
    o.apply(&OrderCommand::Settle { split }, at(200)).expect("settle step");
    o
}

fn bench(c: &mut Criterion) {
    let rules = rules();
    let inputs = inputs();
    let catalogue = Catalogue::with_defaults();

    let n = 200_000;
    let start = Instant::now();
    for i in 0..n {
        black_box(rules.settle(&inputs[i % inputs.len()]).expect("settle"));
    }
    println!("settlement: {:.0} splits/s", n as f64 / start.elapsed().as_secs_f64());
    let n = 20_000;
    let start = Instant::now();
    for _ in 0..n {
        black_box(lifecycle(&catalogue, &rules, &inputs[0]));
    }
    println!("orders: {:.0} whole lifecycles/s", n as f64 / start.elapsed().as_secs_f64());

    c.bench_function("settle (4 regions' cases)", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % inputs.len();
            black_box(rules.settle(black_box(&inputs[i])).expect("settle"))
        })
    });
    c.bench_function("order lifecycle", |b| b.iter(|| black_box(lifecycle(&catalogue, &rules, &inputs[0]))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
