//! Property tests of the settlement invariants over arbitrary rule lists, elders and
//! balances (negative ones included): the lines sum to the price, none is negative, no
//! balance is overdrawn, no cap is exceeded — for one order, for a sequence of orders on one
//! elder's balances, and for two orders settled concurrently against the same balances.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use proptest::prelude::*;
use zhulao_domain::{Fen, RegionCode};
use zhulao_services::catalogue::ServiceCategory;
use zhulao_services::settlement::{
    Applies, Balances, Basis, Caps, FundingSource, Rule, RuleOutcome, SettleInput, Settlement, Share, Usage,
    settle,
};
use zhulao_services::{ElderCategory, ElderProfile, PoolCode, RuleCode};

const POOLS: [&str; 3] = ["pool_a", "pool_b", "pool_c"];
const MAX_RULES: usize = 8;

fn pool(i: usize) -> PoolCode {
    PoolCode::parse("pool", POOLS[i]).unwrap()
}

fn code(i: usize) -> RuleCode {
    RuleCode::parse("rule", &format!("r{i}")).unwrap()
}

fn day0() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
}

fn arb_share() -> impl Strategy<Value = Share> {
    prop_oneof![
        Just(Share::Full),
        (0u32..=12_000, any::<bool>()).prop_map(|(basis_points, rem)| Share::Percent {
            basis_points,
            of: if rem { Basis::Remaining } else { Basis::Price },
        }),
        (-500i64..40_000).prop_map(|f| Share::Fixed { fen: Fen(f) }),
    ]
}

fn arb_fen_cap() -> impl Strategy<Value = Option<Fen>> {
    proptest::option::of((-100i64..60_000).prop_map(Fen))
}

fn arb_caps() -> impl Strategy<Value = Caps> {
    (
        arb_fen_cap(),
        arb_fen_cap(),
        arb_fen_cap(),
        proptest::option::of(0u32..6),
        proptest::option::of(0u32..12),
    )
        .prop_map(|(per_order, per_month, per_year, units_per_month, units_per_year)| Caps {
            per_order,
            per_month,
            per_year,
            units_per_month,
            units_per_year,
        })
}

fn arb_categories(max: usize) -> impl Strategy<Value = Vec<ElderCategory>> {
    proptest::collection::vec(proptest::sample::select(ElderCategory::ALL), 0..=max)
}

fn arb_applies() -> impl Strategy<Value = Applies> {
    (
        arb_categories(1),
        arb_categories(2),
        arb_categories(1),
        proptest::option::of(60u8..90),
        proptest::collection::vec(proptest::sample::select(ServiceCategory::ALL), 0..3),
    )
        .prop_map(|(all_of, any_of, none_of, min_age, services)| Applies {
            all_of,
            any_of,
            none_of,
            min_age,
            max_age: None,
            services,
            items: vec![],
        })
}

fn arb_rules() -> impl Strategy<Value = Vec<Rule>> {
    // Most rules apply to everyone and always, so that many rules meet in one split.
    let one = (
        proptest::sample::select(FundingSource::ALL),
        prop_oneof![3 => Just(Applies::default()), 1 => arb_applies()],
        arb_share(),
        arb_caps(),
        proptest::option::of(0usize..POOLS.len()),
        prop_oneof![4 => Just(None), 1 => (0i64..365).prop_map(Some)],
    );
    proptest::collection::vec(one, 0..=MAX_RULES).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (source, applies, share, caps, pool_i, from))| Rule {
                code: code(i),
                name_zh: format!("规则{i}"),
                name_en: String::new(),
                source,
                applies,
                share,
                caps,
                pool: pool_i.map(pool),
                valid_from: from.map(|d| day0() + Duration::days(d)),
                valid_until: None,
            })
            .collect()
    })
}

fn arb_usage() -> impl Strategy<Value = Usage> {
    (2025i32..=2026, 1u32..=12, 0i64..60_000, 0i64..200_000, 0u32..6, 0u32..12).prop_map(
        |(year, month, m, y, mu, yu)| Usage {
            year,
            month,
            month_fen: Fen(m),
            year_fen: Fen(y),
            month_units: mu,
            year_units: yu,
        },
    )
}

/// Balances, possibly negative (which the store never holds; they must count as zero).
fn arb_balances(min: i64) -> impl Strategy<Value = Balances> {
    (
        min..200_000i64,
        proptest::collection::vec(proptest::option::of(min..200_000i64), POOLS.len()),
        proptest::collection::vec(proptest::option::of(arb_usage()), MAX_RULES),
    )
        .prop_map(|(card, pools, usage)| Balances {
            card: Fen(card),
            pools: pools.into_iter().enumerate().filter_map(|(i, b)| b.map(|b| (pool(i), Fen(b)))).collect(),
            usage: usage.into_iter().enumerate().filter_map(|(i, u)| u.map(|u| (code(i), u))).collect(),
        })
}

fn arb_elder() -> impl Strategy<Value = ElderProfile> {
    (55u8..100, arb_categories(5)).prop_map(|(age, cats)| ElderProfile {
        elder: 1,
        region: RegionCode::parse("r", "410103001001").unwrap(),
        age,
        categories: cats.into_iter().collect::<BTreeSet<_>>(),
    })
}

fn arb_input(balances_min: i64) -> impl Strategy<Value = SettleInput> {
    (
        0i64..2_000_000,
        proptest::sample::select(ServiceCategory::ALL),
        arb_elder(),
        0i64..365,
        arb_balances(balances_min),
    )
        .prop_map(|(price, service, elder, d, balances)| SettleInput {
            price: Fen(price),
            service,
            item: None,
            elder,
            date: day0() + Duration::days(d),
            balances,
        })
}

/// Every invariant of one settlement against the balances it was computed from.
fn check(rules: &[Rule], input: &SettleInput, s: &Settlement) -> Result<(), TestCaseError> {
    let lines = &s.split.lines;
    prop_assert_eq!(s.split.price, input.price);
    prop_assert_eq!(lines.iter().map(|l| l.amount.0).sum::<i64>(), input.price.0, "lines sum to the price");
    prop_assert!(lines.iter().all(|l| l.amount.0 > 0), "every line is positive");
    let own: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.source == FundingSource::OwnPayment && l.rule.is_none())
        .map(|(i, _)| i)
        .collect();
    prop_assert!(
        own.len() <= 1 && own.iter().all(|i| *i + 1 == lines.len()),
        "the own payment is one last line"
    );

    let card_lines: i64 =
        lines.iter().filter(|l| l.source == FundingSource::ServiceCard).map(|l| l.amount.0).sum();
    prop_assert_eq!(s.debits.card.0, card_lines);
    prop_assert!(s.debits.card.0 <= input.balances.card.0.max(0), "the card is never overdrawn");
    for (p, d) in &s.debits.pools {
        let held = input.balances.pools.get(p).map_or(0, |f| f.0.max(0));
        prop_assert!(d.0 > 0 && d.0 <= held, "pool {} pays {} of {}", p, d.0, held);
        let drawn: i64 = lines.iter().filter(|l| l.pool.as_ref() == Some(p)).map(|l| l.amount.0).sum();
        prop_assert_eq!(drawn, d.0);
    }
    for rule in rules {
        let used = input.balances.usage.get(&rule.code).map(|u| u.for_date(input.date)).unwrap_or_default();
        let paid: i64 =
            lines.iter().filter(|l| l.rule.as_ref() == Some(&rule.code)).map(|l| l.amount.0).sum();
        let delta = s.debits.usage.get(&rule.code);
        prop_assert_eq!(delta.map_or(0, |d| d.fen.0), paid);
        if paid == 0 {
            prop_assert!(delta.is_none());
            continue;
        }
        prop_assert_eq!(delta.map(|d| d.units), Some(1));
        let c = rule.caps;
        prop_assert!(c.per_order.is_none_or(|v| paid <= v.0), "per order");
        prop_assert!(c.per_month.is_none_or(|v| used.month_fen.0 + paid <= v.0), "per month");
        prop_assert!(c.per_year.is_none_or(|v| used.year_fen.0 + paid <= v.0), "per year");
        prop_assert!(c.units_per_month.is_none_or(|n| used.month_units < n), "units per month");
        prop_assert!(c.units_per_year.is_none_or(|n| used.year_units < n), "units per year");
        if let Share::Percent { basis_points, of: Basis::Price } = rule.share {
            prop_assert!(
                i128::from(paid) * 10_000 <= i128::from(input.price.0) * i128::from(basis_points.min(10_000))
            );
        }
        if let Share::Fixed { fen } = rule.share {
            prop_assert!(paid <= fen.0);
        }
    }
    for t in &s.trace {
        if let RuleOutcome::Paid { wanted, amount, .. } = t.outcome {
            prop_assert!(amount.0 >= 0 && amount <= wanted);
        }
    }
    Ok(())
}

/// Balances never negative and usage within every rule's caps for `date`.
fn check_balances(rules: &[Rule], b: &Balances, date: NaiveDate) -> Result<(), TestCaseError> {
    prop_assert!(b.card.0 >= 0, "card {}", b.card.0);
    prop_assert!(b.pools.values().all(|p| p.0 >= 0), "pools {:?}", b.pools);
    for rule in rules {
        let u = b.usage.get(&rule.code).map(|u| u.for_date(date)).unwrap_or_default();
        let c = rule.caps;
        prop_assert!(c.per_month.is_none_or(|v| u.month_fen <= v.max(Fen::ZERO)));
        prop_assert!(c.per_year.is_none_or(|v| u.year_fen <= v.max(Fen::ZERO)));
        prop_assert!(c.units_per_month.is_none_or(|n| u.month_units <= n));
        prop_assert!(c.units_per_year.is_none_or(|n| u.year_units <= n));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4_000, ..ProptestConfig::default() })]

    #[test]
    fn one_settlement_keeps_every_invariant(rules in arb_rules(), input in arb_input(-2_000)) {
        let s = settle(&rules, &input).unwrap();
        check(&rules, &input, &s)?;
        // Reproducible: again, and from the stored input.
        prop_assert_eq!(&settle(&rules, &input).unwrap(), &s);
        let stored: SettleInput = serde_json::from_str(&serde_json::to_string(&input).unwrap()).unwrap();
        prop_assert_eq!(&settle(&rules, &stored).unwrap(), &s);
        // The debits always apply to the balances they were computed from, and leave no
        // non-negative balance negative.
        let mut after = input.balances.clone();
        after.apply(&s.debits, input.date).unwrap();
        if input.balances.card.0 >= 0 {
            prop_assert!(after.card.0 >= 0);
        }
        for (p, before) in &input.balances.pools {
            if before.0 >= 0 {
                prop_assert!(after.pools[p].0 >= 0);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn a_year_of_orders_never_overdraws_or_exceeds_a_cap(
        rules in arb_rules(),
        start in arb_balances(0),
        elder in arb_elder(),
        orders in proptest::collection::vec((0i64..50_000, proptest::sample::select(ServiceCategory::ALL), 0i64..20), 1..40),
    ) {
        let mut balances = Balances { usage: BTreeMap::new(), ..start.clone() };
        let mut date = day0();
        let (mut card_spent, mut pool_spent) = (0i64, BTreeMap::<PoolCode, i64>::new());
        for (price, service, gap) in orders {
            date += Duration::days(gap);
            let input = SettleInput { price: Fen(price), service, item: None, elder: elder.clone(), date, balances: balances.clone() };
            let s = settle(&rules, &input).unwrap();
            check(&rules, &input, &s)?;
            balances.apply(&s.debits, date).unwrap();
            check_balances(&rules, &balances, date)?;
            card_spent += s.split.amount(FundingSource::ServiceCard).0;
            for (p, d) in &s.debits.pools {
                *pool_spent.entry(p.clone()).or_default() += d.0;
            }
        }
        prop_assert_eq!(start.card.0 - balances.card.0, card_spent);
        for (p, b) in &start.pools {
            prop_assert_eq!(b.0 - balances.pools[p].0, pool_spent.get(p).copied().unwrap_or(0));
        }
    }

    #[test]
    fn concurrent_settlements_cannot_overdraw(
        rules in arb_rules(),
        start in arb_balances(0),
        elder in arb_elder(),
        a in 0i64..60_000,
        b in 0i64..60_000,
        service in proptest::sample::select(ServiceCategory::ALL),
        d in 0i64..365,
    ) {
        let date = day0() + Duration::days(d);
        // Valid balances: usage within the caps, as the store keeps them.
        let mut balances = Balances { usage: BTreeMap::new(), ..start };
        let input = |price, balances: &Balances| SettleInput {
            price: Fen(price), service, item: None, elder: elder.clone(), date, balances: balances.clone(),
        };
        // Both computed from the same balances, as two requests would.
        let first = settle(&rules, &input(a, &balances)).unwrap();
        let second = settle(&rules, &input(b, &balances)).unwrap();
        balances.apply(&first.debits, date).unwrap();
        let after_first = balances.clone();
        match balances.apply(&second.debits, date) {
            Ok(()) => check_balances(&rules, &balances, date)?,
            Err(_) => {
                prop_assert_eq!(&balances, &after_first, "a refused debit changes nothing");
                // Settled again with fresh balances, it goes through.
                let again = settle(&rules, &input(b, &balances)).unwrap();
                check(&rules, &input(b, &balances), &again)?;
                balances.apply(&again.debits, date).unwrap();
                check_balances(&rules, &balances, date)?;
            }
        }
    }
}
