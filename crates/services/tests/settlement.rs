//! Settlement with the rules as data: the default rules, 二七's government-purchased
//! services and meals, 赤城's rural "五个一点", caps, periods, rounding, balances, statements.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use zhulao_domain::{Fen, RegionCode};
use zhulao_services::catalogue::ServiceCategory;
use zhulao_services::settlement::{
    Applies, Balances, Basis, Caps, Debits, FundingSource, Limit, Rule, RuleBook, RuleOutcome, SettleInput,
    SettledOrder, SettlementError, Share, SkipReason, Usage, default_rules, monthly_statement, settle,
};
use zhulao_services::{ElderCategory, ElderProfile, PoolCode, Refusal, RuleCode};

const EXAMPLE: &str = include_str!("../rules/example.json");

fn book() -> RuleBook {
    let b: RuleBook = serde_json::from_str(EXAMPLE).unwrap();
    b.validate().unwrap();
    b
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn elder(region: &str, age: u8, cats: &[ElderCategory]) -> ElderProfile {
    ElderProfile {
        elder: 1,
        region: RegionCode::parse("r", region).unwrap(),
        age,
        categories: cats.iter().copied().collect::<BTreeSet<_>>(),
    }
}

fn pool(s: &str) -> PoolCode {
    PoolCode::parse("pool", s).unwrap()
}

fn rule(s: &str) -> RuleCode {
    RuleCode::parse("rule", s).unwrap()
}

fn input(price: i64, service: ServiceCategory, elder: ElderProfile, balances: Balances) -> SettleInput {
    SettleInput { price: Fen(price), service, item: None, elder, date: day(2026, 5, 11), balances }
}

/// The split as `(source, amount)` pairs, in order.
fn lines(i: &SettleInput, b: &RuleBook) -> Vec<(FundingSource, i64)> {
    let s = b.settle(i).unwrap();
    assert_eq!(s.split.total(), i.price);
    s.split.lines.iter().map(|l| (l.source, l.amount.0)).collect()
}

fn card(fen: i64) -> Balances {
    Balances { card: Fen(fen), ..Balances::default() }
}

use ElderCategory::*;
use FundingSource::*;
use ServiceCategory::*;

#[test]
fn without_rules_the_elder_pays_everything() {
    let i = input(6000, Cleaning, elder("140213001001", 70, &[]), card(10_000));
    let s = settle(&[], &i).unwrap();
    assert_eq!(s.split.lines.len(), 1);
    assert_eq!(s.split.own_payment(), Fen(6000));
    assert_eq!(s.debits, Debits::default());
    assert_eq!(
        settle(&[], &input(0, Cleaning, elder("140213", 70, &[]), card(0))).unwrap().split.lines,
        vec![]
    );
    let e = settle(&[], &input(-1, Cleaning, elder("140213", 70, &[]), card(0))).unwrap_err();
    assert_eq!(e, SettlementError::NegativePrice);
    assert_eq!(e.code(), "settlement_negative_price");
}

#[test]
fn the_default_rules_hardship_high_age_then_the_card() {
    let b = default_rules();
    b.validate().unwrap();
    let poor = elder("140213001001", 85, &[Hardship, Disabled]);
    // 60 yuan: 80 % is 48 yuan, the high-age allowance 5 yuan, the card pays 7 of its 30.
    let i = input(6000, Cleaning, poor.clone(), card(3000));
    assert_eq!(lines(&i, &b), vec![(Subsidy, 4800), (Subsidy, 500), (ServiceCard, 700)]);
    let s = b.settle(&i).unwrap();
    assert_eq!(s.debits.card, Fen(700));
    assert_eq!(s.debits.usage[&rule("hardship_disabled")].fen, Fen(4800));
    assert_eq!(s.split.by_source(), BTreeMap::from([(Subsidy, Fen(5300)), (ServiceCard, Fen(700))]));
    // An empty card: the rest is the own payment.
    let i = input(6000, Cleaning, poor, card(0));
    assert_eq!(lines(&i, &b), vec![(Subsidy, 4800), (Subsidy, 500), (OwnPayment, 700)]);
    // A 72-year-old in general circumstances uses only the card.
    let i = input(6000, Cleaning, elder("140213001001", 72, &[]), card(2500));
    assert_eq!(lines(&i, &b), vec![(ServiceCard, 2500), (OwnPayment, 3500)]);
}

#[test]
fn the_monthly_cap_and_a_new_month() {
    let b = default_rules();
    let mut balances = Balances::default();
    balances.usage.insert(
        rule("hardship_disabled"),
        Usage { year: 2026, month: 5, month_fen: Fen(19_000), year_fen: Fen(60_000), ..Usage::default() },
    );
    let poor = elder("140213001001", 75, &[Hardship, Disabled]);
    let i = input(6000, Cleaning, poor.clone(), balances.clone());
    let s = b.settle(&i).unwrap();
    assert_eq!(s.split.amount(Subsidy), Fen(1000));
    assert_eq!(
        s.trace[0].outcome,
        RuleOutcome::Paid { wanted: Fen(4800), amount: Fen(1000), limited_by: Some(Limit::PerMonth) }
    );
    // Usage counted in April does not limit May.
    balances.usage.get_mut(&rule("hardship_disabled")).unwrap().month = 4;
    let i = input(6000, Cleaning, poor, balances);
    assert_eq!(b.settle(&i).unwrap().split.amount(Subsidy), Fen(4800));
}

#[test]
fn percentages_round_down_and_the_crumbs_are_the_own_payment() {
    let r = Rule {
        code: rule("eighty"),
        name_zh: "八成".into(),
        name_en: String::new(),
        source: Subsidy,
        applies: Applies::default(),
        share: Share::Percent { basis_points: 8000, of: Basis::Price },
        caps: Caps::default(),
        pool: None,
        valid_from: None,
        valid_until: None,
    };
    let third = Rule {
        code: rule("third"),
        share: Share::Percent { basis_points: 3333, of: Basis::Remaining },
        ..r.clone()
    };
    let e = elder("140213", 70, &[]);
    // 10.01 yuan × 80 % = 8.008 → 8.00; the remaining 2.01 × 33.33 % = 0.6699… → 0.66.
    let s = settle(&[r, third], &input(1001, Cleaning, e, card(0))).unwrap();
    let got: Vec<i64> = s.split.lines.iter().map(|l| l.amount.0).collect();
    assert_eq!(got, vec![800, 66, 135]);
}

#[test]
fn erqi_government_purchased_services_from_the_budget() {
    let b = book();
    let listed = elder("410103001001", 78, &[ElderCategory::GovPurchase]);
    let mut balances = card(5000);
    balances.pools.insert(pool("erqi_gov_purchase"), Fen(500_000_000));
    let i = input(8000, Cleaning, listed.clone(), balances.clone());
    assert_eq!(lines(&i, &b), vec![(FundingSource::GovPurchase, 8000)]);
    let s = b.settle(&i).unwrap();
    assert_eq!(s.debits.pools[&pool("erqi_gov_purchase")], Fen(8000));
    assert_eq!(s.debits.card, Fen(0));
    // The budget nearly spent: it pays what it has, the card the rest.
    balances.pools.insert(pool("erqi_gov_purchase"), Fen(3000));
    let i = input(8000, Cleaning, listed.clone(), balances.clone());
    assert_eq!(lines(&i, &b), vec![(FundingSource::GovPurchase, 3000), (ServiceCard, 5000)]);
    // The yearly quota of 96 services used up.
    balances.pools.insert(pool("erqi_gov_purchase"), Fen(500_000_000));
    balances.usage.insert(
        rule("erqi_gov_purchase"),
        Usage { year: 2026, month: 3, year_units: 96, ..Usage::default() },
    );
    let i = input(8000, Cleaning, listed.clone(), balances.clone());
    let s = b.settle(&i).unwrap();
    assert_eq!(s.split.amount(FundingSource::GovPurchase), Fen(0));
    assert!(matches!(s.trace[0].outcome, RuleOutcome::Paid { limited_by: Some(Limit::UnitsPerYear), .. }));
    // Not in 2027 (the programme's period), and not for meals.
    let mut i = input(8000, Cleaning, listed.clone(), card(0));
    i.date = day(2027, 1, 2);
    assert_eq!(
        b.settle(&i).unwrap().trace[0].outcome,
        RuleOutcome::Skipped { reason: SkipReason::NotInForce }
    );
    let i = input(800, Meals, listed, card(0));
    assert_eq!(
        b.settle(&i).unwrap().trace[0].outcome,
        RuleOutcome::Skipped { reason: SkipReason::ServiceNotCovered }
    );
    // An elder not on the list.
    let i = input(8000, Cleaning, elder("410103001001", 78, &[]), card(0));
    assert_eq!(
        b.settle(&i).unwrap().trace[0].outcome,
        RuleOutcome::Skipped { reason: SkipReason::NotEligible }
    );
}

#[test]
fn erqi_meals_subsidised_and_free_for_the_charity_list() {
    let b = book();
    // A 10.50 yuan meal: 3 yuan off for over-60s, 7.50 to pay.
    let i = input(1050, Meals, elder("410103002003", 68, &[]), card(0));
    assert_eq!(lines(&i, &b), vec![(Subsidy, 300), (OwnPayment, 750)]);
    let mut balances = card(0);
    balances.pools.insert(pool("erqi_charity_canteen"), Fen(100_000));
    let i = input(1050, Meals, elder("410103002003", 68, &[CharityMeal]), balances);
    assert_eq!(lines(&i, &b), vec![(Donation, 1050)]);
    let s = b.settle(&i).unwrap();
    assert_eq!(s.trace[2].outcome, RuleOutcome::Skipped { reason: SkipReason::NothingLeft });
}

#[test]
fn chicheng_rural_five_shares() {
    let b = book();
    let rural = elder("130732100200", 82, &[Rural]);
    let mut balances = card(10_000);
    balances.pools.insert(pool("village_collective"), Fen(1_000_000));
    balances.pools.insert(pool("chicheng_charity"), Fen(1_000_000));
    // 35 yuan: government 30 %, collective 20 %, society 10 %, family 20 %, the elder's card 20 %.
    let i = input(3500, Meals, rural.clone(), balances.clone());
    assert_eq!(
        lines(&i, &b),
        vec![(Subsidy, 1050), (Collective, 700), (Donation, 350), (Family, 700), (ServiceCard, 700)]
    );
    // The collective's fund is low: it pays what it holds, the card makes up the difference.
    balances.pools.insert(pool("village_collective"), Fen(100));
    let s = b.settle(&input(3500, Meals, rural, balances)).unwrap();
    assert_eq!(s.split.amount(Collective), Fen(100));
    assert_eq!(s.split.amount(ServiceCard), Fen(1300));
    assert!(matches!(s.trace[1].outcome, RuleOutcome::Paid { limited_by: Some(Limit::Pool), .. }));
    // A town elder in the same county pays everything (nothing matches; no card rule applies
    // either, since the card rule is for everyone: it pays).
    let town = elder("130732001001", 82, &[]);
    assert_eq!(lines(&input(3500, Meals, town, card(0)), &b), vec![(OwnPayment, 3500)]);
}

#[test]
fn the_most_specific_region_list_applies() {
    let b = book();
    assert_eq!(b.rules_for(&RegionCode::parse("r", "410103").unwrap())[0].code, rule("erqi_gov_purchase"));
    assert_eq!(b.rules_for(&RegionCode::parse("r", "140213").unwrap())[0].code, rule("hardship_disabled"));
    assert!(RuleBook::default().rules_for(&RegionCode::parse("r", "140213").unwrap()).is_empty());
}

#[test]
fn a_rule_book_is_checked_whole() {
    let mut b = book();
    let rules = &mut b.regions[0].rules;
    rules[1].code = rules[0].code.clone();
    rules[0].share = Share::Percent { basis_points: 12_000, of: Basis::Price };
    rules[2].pool = Some(pool("somewhere"));
    rules[2].valid_from = Some(day(2026, 2, 1));
    rules[2].valid_until = Some(day(2026, 1, 1));
    b.regions[1].rules[0].source = OwnPayment;
    b.regions[2].region_prefix = b.regions[1].region_prefix.clone();
    let errs = b.validate().unwrap_err();
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "regions[0].rules[0].share",
            "regions[0].rules[1].code",
            "regions[0].rules[2].pool",
            "regions[0].rules[2].valid_until",
            "regions[1].rules[0].source",
            "regions[2].region_prefix",
        ]
    );
    assert!(serde_json::from_str::<RuleBook>(r#"{"regions":[{"region_prefix":"14x","rules":[]}]}"#).is_err());
}

#[test]
fn balances_refuse_stale_debits_and_change_nothing() {
    let b = default_rules();
    let e = elder("140213001001", 85, &[Hardship, Disabled]);
    let mut balances = card(3000);
    let d = day(2026, 5, 11);
    let first =
        b.settle(&SettleInput { date: d, ..input(6000, Cleaning, e.clone(), balances.clone()) }).unwrap();
    let second =
        b.settle(&SettleInput { date: d, ..input(6000, Cleaning, e.clone(), balances.clone()) }).unwrap();
    assert_eq!(first, second, "same input, same settlement");
    balances.apply(&first.debits, d).unwrap();
    assert_eq!(balances.card, Fen(2300));
    // Computed from the same (now stale) balances, the second is fine for the card (2300 ≥
    // 700) and the cap (9600 ≤ 20000): applied.
    balances.apply(&second.debits, d).unwrap();
    // A debit larger than the card is refused, and nothing changes.
    let before = balances.clone();
    let mut big = first.debits.clone();
    big.card = Fen(5000);
    assert!(matches!(balances.apply(&big, d), Err(SettlementError::Overdrawn { .. })));
    assert_eq!(balances, before);
    // So is one that would pass the monthly cap.
    let mut over = first.debits.clone();
    over.card = Fen(0);
    over.usage.get_mut(&rule("hardship_disabled")).unwrap().fen = Fen(20_000);
    assert!(balances.apply(&over, d).is_err());
    assert_eq!(balances, before);
    let negative = Debits { card: Fen(-100), ..Debits::default() };
    assert!(balances.apply(&negative, d).is_err());
}

#[test]
fn monthly_statements_add_up_every_way() {
    let b = book();
    let mut records = Vec::new();
    for (n, (elder_id, provider, price, service, region, cats, date)) in [
        (1, 100, 6000, Cleaning, "140213001001", vec![Hardship, Disabled], day(2026, 5, 2)),
        (1, 101, 1050, Meals, "140213001001", vec![Hardship, Disabled], day(2026, 5, 3)),
        (2, 100, 8000, Medical, "410103001001", vec![], day(2026, 5, 31)),
        (3, 102, 3500, Meals, "130732100200", vec![Rural], day(2026, 5, 15)),
        (3, 102, 3500, Meals, "130732100200", vec![Rural], day(2026, 6, 1)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = elder(region, 81, &cats);
        e.elder = elder_id;
        let i = SettleInput { date, ..input(price, service, e, card(1000)) };
        let s = b.settle(&i).unwrap();
        records.push(SettledOrder {
            order: n as i64,
            elder: elder_id,
            provider,
            service,
            date,
            split: s.split,
        });
    }
    let m = monthly_statement(&records, 2026, 5);
    assert_eq!(m.total.orders, 4);
    assert_eq!(m.total.total, Fen(6000 + 1050 + 8000 + 3500));
    let sum =
        |t: &BTreeMap<i64, zhulao_services::settlement::Totals>| t.values().map(|t| t.total.0).sum::<i64>();
    assert_eq!(sum(&m.per_elder), m.total.total.0);
    assert_eq!(sum(&m.per_provider), m.total.total.0);
    assert_eq!(m.per_service.values().map(|t| t.total.0).sum::<i64>(), m.total.total.0);
    assert_eq!(m.total.by_source.values().map(|f| f.0).sum::<i64>(), m.total.total.0);
    assert_eq!(m.per_rule.values().map(|f| f.0).sum::<i64>(), m.total.total.0);
    assert_eq!(m.per_elder[&1].orders, 2);
    assert_eq!(m.per_provider[&102].orders, 1);
    // No collective or charity fund in these balances: those rules paid nothing.
    assert_eq!(m.per_rule["rural_gov"], Fen(1050));
    assert!(!m.per_rule.contains_key("rural_collective"));
    let json = serde_json::to_string(&m).unwrap();
    assert!(json.contains("\"own_payment\""));
    assert_eq!(serde_json::from_str::<zhulao_services::MonthlyStatement>(&json).unwrap(), m);
    assert_eq!(monthly_statement(&records, 2026, 7).total.orders, 0);
}
