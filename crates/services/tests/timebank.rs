//! The time bank: records, confirmation, the double-entry ledger (property-tested to
//! balance), redemption that never goes below zero, and pairing volunteers with elders.

mod common;

use std::collections::BTreeMap;

use common::{STATION, offset, skill, t0};
use proptest::prelude::*;
use zhulao_services::catalogue::ServiceCategory;
use zhulao_services::timebank::{
    ElderNeed, HourRecord, HourState, Ledger, PairingPolicy, Posting, PostingKind, TimeAccount,
    TimeBankError, Volunteer, pair,
};
use zhulao_services::{ActorRole, OrderActor, Refusal};

const V: i64 = 7;
const ELDER: i64 = 1;

fn record(id: i64, minutes: u32) -> (HourRecord, Posting) {
    HourRecord::record(
        id,
        V,
        ELDER,
        minutes,
        t0() - chrono::Duration::hours(2),
        ServiceCategory::Visit,
        "陪聊天",
        t0(),
    )
    .unwrap()
}

#[test]
fn recorded_minutes_are_banked_once_confirmed() {
    let mut ledger = Ledger::default();
    let (mut r, p) = record(11, 90);
    assert_eq!(
        (p.debit, p.credit, p.kind, p.reference),
        (TimeAccount::Issued, TimeAccount::Pending { id: V }, PostingKind::Record, Some(11))
    );
    ledger.post(p).unwrap();
    assert_eq!(ledger.balance(TimeAccount::Pending { id: V }), 90);
    assert_eq!(ledger.balance(TimeAccount::Volunteer { id: V }), 0);

    let stranger = OrderActor::new(ActorRole::Elder, 2);
    assert_eq!(r.confirm(11, stranger, t0()), Err(TimeBankError::NotPermitted { role: ActorRole::Elder }));
    assert!(r.confirm(11, OrderActor::new(ActorRole::Caregiver, 3), t0()).is_err());
    let p = r.confirm(11, OrderActor::new(ActorRole::Elder, ELDER), t0()).unwrap();
    assert_eq!(r.state, HourState::Confirmed);
    ledger.post(p).unwrap();
    assert_eq!(ledger.balance(TimeAccount::Volunteer { id: V }), 90);
    assert_eq!(ledger.balance(TimeAccount::Pending { id: V }), 0);
    assert_eq!(ledger.balance(TimeAccount::Issued), -90);
    assert_eq!(r.confirm(11, STATION, t0()), Err(TimeBankError::WrongState { state: HourState::Confirmed }));

    // A rejected record returns its minutes to where they came from.
    let (mut r2, p) = record(12, 30);
    ledger.post(p).unwrap();
    ledger.post(r2.reject(12, STATION, t0()).unwrap()).unwrap();
    assert_eq!(r2.state, HourState::Rejected);
    assert_eq!(ledger.balance(TimeAccount::Pending { id: V }), 0);
    assert_eq!(ledger.balance(TimeAccount::Issued), -90);
    assert!(ledger.is_balanced());
}

#[test]
fn records_are_validated() {
    let rec = |minutes, served_at| {
        HourRecord::record(1, V, ELDER, minutes, served_at, ServiceCategory::Visit, "", t0())
    };
    assert!(rec(0, t0()).is_err());
    assert!(rec(481, t0()).is_err());
    assert!(rec(480, t0()).is_ok());
    assert!(rec(60, t0() + chrono::Duration::seconds(1)).is_err());
    assert!(rec(60, t0() - chrono::Duration::days(31)).is_err());
    let e = rec(0, t0()).unwrap_err();
    assert_eq!(e.code(), "out_of_range");
    assert!(e.zh().contains("分钟"));
}

#[test]
fn redeeming_never_goes_below_zero() {
    let mut ledger = Ledger::default();
    let (mut r, p) = record(1, 120);
    ledger.post(p).unwrap();
    // Pending minutes cannot be spent.
    let before = ledger.clone();
    let e = ledger.redeem(V, 60, Some(900), t0()).unwrap_err();
    assert_eq!(
        e,
        TimeBankError::Insufficient { account: TimeAccount::Volunteer { id: V }, balance: 0, wanted: 60 }
    );
    assert_eq!(ledger, before);
    ledger.post(r.confirm(1, STATION, t0()).unwrap()).unwrap();
    ledger.redeem(V, 100, Some(900), t0()).unwrap();
    assert!(ledger.redeem(V, 21, None, t0()).is_err());
    ledger.transfer(V, 8, 20, t0()).unwrap();
    assert_eq!(ledger.balance(TimeAccount::Volunteer { id: V }), 0);
    assert_eq!(ledger.balance(TimeAccount::Volunteer { id: 8 }), 20);
    assert_eq!(ledger.balance(TimeAccount::Redeemed), 100);
    assert_eq!(
        ledger.post(Posting { minutes: 0, ..ledger.postings()[0].clone() }),
        Err(TimeBankError::BadPosting)
    );
    let to_self =
        Posting { debit: TimeAccount::Issued, credit: TimeAccount::Issued, ..ledger.postings()[0].clone() };
    assert_eq!(ledger.post(to_self), Err(TimeBankError::BadPosting));
    assert!(ledger.is_balanced());
    // The stored postings replay to the same ledger; a history that overdraws does not.
    assert_eq!(Ledger::from_postings(ledger.postings().to_vec()).unwrap(), ledger);
    let mut bad = ledger.postings().to_vec();
    bad.swap(0, 2);
    assert!(Ledger::from_postings(bad).is_err());
    let json = serde_json::to_string(&ledger.postings()[3]).unwrap();
    assert!(json.contains(r#""debit":{"kind":"volunteer","id":7}"#), "{json}");
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Op {
    Record { volunteer: i64, minutes: u32 },
    Confirm { index: usize },
    Reject { index: usize },
    Redeem { volunteer: i64, minutes: u32 },
    Transfer { from: i64, to: i64, minutes: u32 },
}

fn arb_op() -> impl Strategy<Value = Op> {
    let v = 1i64..5;
    prop_oneof![
        (v.clone(), 1u32..=480).prop_map(|(volunteer, minutes)| Op::Record { volunteer, minutes }),
        (0usize..40).prop_map(|index| Op::Confirm { index }),
        (0usize..40).prop_map(|index| Op::Reject { index }),
        (v.clone(), 1u32..600).prop_map(|(volunteer, minutes)| Op::Redeem { volunteer, minutes }),
        (v.clone(), v, 1u32..300).prop_map(|(from, to, minutes)| Op::Transfer { from, to, minutes }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_always_balances(ops in proptest::collection::vec(arb_op(), 1..80)) {
        let mut ledger = Ledger::default();
        let mut records: Vec<HourRecord> = Vec::new();
        // The model: banked and pending minutes per volunteer.
        let mut banked: BTreeMap<i64, i64> = BTreeMap::new();
        let mut pending: BTreeMap<i64, i64> = BTreeMap::new();
        for op in ops {
            let before = ledger.clone();
            let result: Result<(), TimeBankError> = match op {
                Op::Record { volunteer, minutes } => {
                    let (r, p) = HourRecord::record(records.len() as i64, volunteer, ELDER, minutes, t0(), ServiceCategory::Visit, "", t0()).unwrap();
                    ledger.post(p).map(|()| {
                        *pending.entry(volunteer).or_default() += i64::from(minutes);
                        records.push(r);
                    })
                }
                Op::Confirm { index } | Op::Reject { index } if index >= records.len() => Ok(()),
                Op::Confirm { index } => {
                    let r = &mut records[index];
                    match r.confirm(index as i64, STATION, t0()) {
                        Ok(p) => {
                            ledger.post(p).unwrap();
                            *pending.entry(r.volunteer).or_default() -= i64::from(r.minutes);
                            *banked.entry(r.volunteer).or_default() += i64::from(r.minutes);
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                }
                Op::Reject { index } => {
                    let r = &mut records[index];
                    match r.reject(index as i64, STATION, t0()) {
                        Ok(p) => {
                            ledger.post(p).unwrap();
                            *pending.entry(r.volunteer).or_default() -= i64::from(r.minutes);
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                }
                Op::Redeem { volunteer, minutes } => {
                    let has = banked.get(&volunteer).copied().unwrap_or(0);
                    let r = ledger.redeem(volunteer, minutes, None, t0()).map(|_| ());
                    prop_assert_eq!(r.is_ok(), has >= i64::from(minutes));
                    if r.is_ok() {
                        *banked.entry(volunteer).or_default() -= i64::from(minutes);
                    }
                    r
                }
                Op::Transfer { from, to, minutes } => {
                    let has = banked.get(&from).copied().unwrap_or(0);
                    let r = ledger.transfer(from, to, minutes, t0()).map(|_| ());
                    prop_assert_eq!(r.is_ok(), from != to && has >= i64::from(minutes));
                    if r.is_ok() {
                        *banked.entry(from).or_default() -= i64::from(minutes);
                        *banked.entry(to).or_default() += i64::from(minutes);
                    }
                    r
                }
            };
            if result.is_err() {
                prop_assert_eq!(&ledger, &before, "a refused step changes nothing");
            }
            prop_assert!(ledger.is_balanced());
            prop_assert_eq!(ledger.balances().values().sum::<i64>(), 0);
            for v in 1..5 {
                prop_assert_eq!(ledger.balance(TimeAccount::Volunteer { id: v }), banked.get(&v).copied().unwrap_or(0));
                prop_assert_eq!(ledger.balance(TimeAccount::Pending { id: v }), pending.get(&v).copied().unwrap_or(0));
                let volunteer = ledger.balance(TimeAccount::Volunteer { id: v });
                prop_assert!(volunteer >= 0);
            }
            // What the community owes is exactly what volunteers hold, banked or pending.
            let held: i64 = banked.values().sum::<i64>() + pending.values().sum::<i64>();
            prop_assert_eq!(-ledger.balance(TimeAccount::Issued), held + ledger.balance(TimeAccount::Redeemed));
        }
    }
}

fn volunteer(id: i64, north_m: f64, skills: &[&str], capacity: u32) -> Volunteer {
    Volunteer {
        id,
        position: offset(north_m, 0.0),
        skills: skills.iter().map(|s| skill(s)).collect(),
        capacity,
        paired: 0,
    }
}

fn need(elder: i64, age: u8, alone: bool, north_m: f64, needs: &[&str]) -> ElderNeed {
    ElderNeed {
        elder,
        age,
        living_alone: alone,
        position: offset(north_m, 0.0),
        needs: needs.iter().map(|s| skill(s)).collect(),
    }
}

#[test]
fn the_oldest_living_alone_are_paired_first_with_the_nearest() {
    let volunteers = vec![
        volunteer(1, 0.0, &["escort"], 1),
        volunteer(2, 800.0, &[], 2),
        volunteer(3, 5_000.0, &["escort"], 5),
    ];
    let elders = vec![
        need(10, 70, false, 100.0, &[]),
        need(11, 86, true, 100.0, &[]),
        need(12, 82, false, 50.0, &["escort"]),
        need(13, 75, true, 700.0, &[]),
        need(14, 90, true, 9_000.0, &[]),
    ];
    let p = pair(&volunteers, &elders, &PairingPolicy::default());
    let got: Vec<(i64, i64, u8)> = p.pairs.iter().map(|x| (x.elder, x.volunteer, x.tier)).collect();
    // 14 (90, alone) is too far from everyone; 11 (86, alone) takes volunteer 1, the
    // nearest; 12 (82) needs an escort: 1 is full and 3 is 5 km away; 13 (75, alone) gets 2;
    // 10 gets 2's second place.
    assert_eq!(got, vec![(11, 1, 0), (13, 2, 2), (10, 2, 3)]);
    assert_eq!(p.unpaired, vec![14, 12]);
    let wider =
        pair(&volunteers, &elders, &PairingPolicy { max_distance_m: 10_000, ..PairingPolicy::default() });
    assert!(wider.unpaired.is_empty());
    assert_eq!(wider.pairs[0].elder, 14);
    let mut shuffled = elders.clone();
    shuffled.reverse();
    assert_eq!(pair(&volunteers, &shuffled, &PairingPolicy::default()), p);
}
