//! The order lifecycle: every transition, every refusal, the door checks, the history.

mod common;

use common::*;
use zhulao_domain::Fen;
use zhulao_services::PayRecord;
use zhulao_services::order::{
    ActorRole, CancelReason, NoShowParty, Notice, NoticeRecipient, OrderAction, OrderCommand, OrderEffect,
    OrderError, OrderState, PhotoRef, Schedule, may_cancel,
};
use zhulao_services::quality::{ComplaintKind, RatingTag};
use zhulao_services::settlement::{Balances, FundingSource, SettleInput, Split, SplitLine, default_rules};
use zhulao_services::{NewOrder, Order, OrderActor, OrderChannel, OrderPolicy, Refusal};

const CG: i64 = 50;

fn me() -> OrderActor {
    OrderActor::new(ActorRole::Caregiver, CG)
}

fn taken() -> Order {
    let mut o = published();
    o.apply(&OrderCommand::Grab { caregiver: caregiver(CG, 1_500.0) }, t0() + mins(1)).unwrap();
    o
}

fn checked_in() -> Order {
    let mut o = taken();
    o.apply(&OrderCommand::StartTrip { caregiver: CG }, t0() + mins(2)).unwrap();
    o.apply(&OrderCommand::CheckIn { caregiver: CG, position: offset(120.0, 0.0) }, t0() + mins(20)).unwrap();
    o
}

fn completed() -> Order {
    let mut o = checked_in();
    let out = OrderCommand::CheckOut {
        caregiver: CG,
        position: offset(0.0, 80.0),
        notes: "助浴完成，皮肤无破损".into(),
        photos: vec![PhotoRef("orders/1/after.jpg".into())],
    };
    o.apply(&out, t0() + mins(85)).unwrap();
    o
}

fn own_split(price: Fen) -> Split {
    Split {
        price,
        lines: vec![SplitLine { source: FundingSource::OwnPayment, rule: None, pool: None, amount: price }],
    }
}

/// Applies `cmd` expecting a refusal, and checks the order did not change.
fn refused(o: &mut Order, cmd: &OrderCommand, at: chrono::DateTime<chrono::Utc>) -> OrderError {
    let before = o.clone();
    let e = o.apply(cmd, at).expect_err("the step should be refused");
    assert_eq!(*o, before, "a refused step changed the order");
    assert!(!e.code().is_empty() && !e.zh().is_empty() && !e.en().is_empty());
    e
}

#[test]
fn the_whole_way_from_order_to_settlement() {
    let mut o = order_at(Schedule::Asap, t0());
    assert_eq!((o.state, o.price, o.duration_min), (OrderState::Created, Fen(6000), 60));
    let fx = o.apply(&OrderCommand::Publish { by: ELDER }, t0()).unwrap();
    assert_eq!(fx, vec![OrderEffect::Offer { radius_m: 2_000, exclude: vec![] }]);

    let fx = o.apply(&OrderCommand::Grab { caregiver: caregiver(CG, 1_500.0) }, t0() + mins(1)).unwrap();
    assert_eq!(o.state, OrderState::Taken);
    assert_eq!(o.assigned_by, None);
    assert!(fx.contains(&OrderEffect::Withdraw));
    assert!(fx.contains(&OrderEffect::GrantContact { caregiver: CG }));
    assert!(fx.contains(&OrderEffect::Notify { to: NoticeRecipient::Requester, notice: Notice::Taken }));
    assert!(o.may_see_contact(CG) && !o.may_see_contact(CG + 1));

    let fx = o.apply(&OrderCommand::StartTrip { caregiver: CG }, t0() + mins(2)).unwrap();
    assert_eq!(fx, vec![OrderEffect::Notify { to: NoticeRecipient::Requester, notice: Notice::OnTheWay }]);
    o.apply(&OrderCommand::CheckIn { caregiver: CG, position: offset(150.0, 0.0) }, t0() + mins(20)).unwrap();
    assert_eq!(o.state, OrderState::CheckedIn);
    assert_eq!(o.check_in.unwrap().distance_m, 150);

    let out =
        OrderCommand::CheckOut { caregiver: CG, position: home(), notes: String::new(), photos: vec![] };
    let fx = o.apply(&out, t0() + mins(85)).unwrap();
    assert_eq!(o.state, OrderState::Completed);
    assert_eq!(o.served_min, Some(65));
    assert!(!o.short_service);
    assert!(fx.contains(&OrderEffect::RevokeContact { caregiver: CG }));
    assert!(
        fx.contains(&OrderEffect::Notify {
            to: NoticeRecipient::Requester,
            notice: Notice::ConfirmRequested
        })
    );
    assert!(!o.may_see_contact(CG));

    let fx = o.apply(&OrderCommand::Confirm { by: FAMILY }, t0() + mins(90)).unwrap();
    assert_eq!(fx, vec![OrderEffect::ReadyToSettle]);
    let rate =
        OrderCommand::Rate {
            by: ELDER, stars: 5, tags: vec![RatingTag::Patient], text: "小王很细心".into()
        };
    let fx = o.apply(&rate, t0() + mins(95)).unwrap();
    assert_eq!(o.state, OrderState::Rated);
    assert_eq!(fx, vec![OrderEffect::RescoreCaregiver { caregiver: CG }]);

    // The settlement input and the pay record come from the order.
    let profile =
        zhulao_services::ElderProfile { elder: 1, region: region(), age: 83, categories: Default::default() };
    let input = SettleInput::for_order(&o, profile, 480, Balances::default());
    assert_eq!((input.price, input.date), (Fen(6000), chrono::NaiveDate::from_ymd_opt(2026, 5, 11).unwrap()));
    let split = default_rules().settle(&input).unwrap().split;
    assert_eq!(split.amount(FundingSource::Subsidy), Fen(500), "80+: 5 yuan off");
    o.apply(&OrderCommand::Settle { split }, t0() + mins(100)).unwrap();
    assert_eq!(o.state, OrderState::Settled);
    let pay = PayRecord::from_order(77, &o, input.date, 0).unwrap();
    assert_eq!((pay.caregiver, pay.served_min, pay.stars, pay.no_show), (CG, 65, Some(5), false));
    assert_eq!(PayRecord::from_order(78, &published(), input.date, 0), None);
    let actions: Vec<OrderAction> = o.history.iter().map(|h| h.action).collect();
    use OrderAction::*;
    assert_eq!(actions, vec![Create, Publish, Grab, StartTrip, CheckIn, CheckOut, Confirm, Rate, Settle]);
    let states: Vec<OrderState> = o.history.iter().map(|h| h.to).collect();
    use OrderState as S;
    assert_eq!(
        states,
        vec![
            S::Created,
            S::Published,
            S::Taken,
            S::OnTheWay,
            S::CheckedIn,
            S::Completed,
            S::Completed,
            S::Rated,
            S::Settled
        ]
    );
    assert!(o.history.iter().skip(1).all(|h| h.by.is_some()));
    // Nothing more can happen except a complaint.
    assert_eq!(refused(&mut o, &rate, t0() + mins(101)), OrderError::AlreadyRated);
    assert_eq!(
        refused(&mut o, &OrderCommand::Confirm { by: ELDER }, t0() + mins(101)),
        OrderError::AlreadyConfirmed
    );
}

#[test]
fn steps_out_of_order_are_refused_and_change_nothing() {
    let mut o = order_at(Schedule::Asap, t0());
    let at = t0() + mins(1);
    for cmd in [
        OrderCommand::Grab { caregiver: caregiver(CG, 10.0) },
        OrderCommand::StartTrip { caregiver: CG },
        OrderCommand::CheckIn { caregiver: CG, position: home() },
        OrderCommand::Release { caregiver: CG, reason: "有事".into() },
        OrderCommand::Confirm { by: ELDER },
        OrderCommand::Settle { split: own_split(Fen(6000)) },
        OrderCommand::Complain { by: ELDER, kind: ComplaintKind::Other, text: "x".into() },
        OrderCommand::NoShow { by: FAMILY, party: NoShowParty::Caregiver, position: None },
    ] {
        refused(&mut o, &cmd, at);
    }
    assert!(matches!(
        refused(&mut o, &OrderCommand::Grab { caregiver: caregiver(CG, 10.0) }, at),
        OrderError::WrongState { action: OrderAction::Grab, state: OrderState::Created }
    ));
    let mut o = checked_in();
    refused(&mut o, &OrderCommand::Publish { by: ELDER }, t0() + mins(30));
    refused(&mut o, &OrderCommand::StartTrip { caregiver: CG }, t0() + mins(30));
    refused(&mut o, &OrderCommand::CheckIn { caregiver: CG, position: home() }, t0() + mins(30));
    refused(
        &mut o,
        &OrderCommand::Cancel { by: OPERATOR, reason: CancelReason::NotNeeded, text: String::new() },
        t0() + mins(30),
    );
    refused(&mut o, &OrderCommand::Expire, t0() + mins(600));
}

#[test]
fn only_the_holder_acts_at_the_door() {
    let mut o = taken();
    assert_eq!(
        refused(&mut o, &OrderCommand::StartTrip { caregiver: CG + 1 }, t0() + mins(2)),
        OrderError::NotHolder
    );
    assert_eq!(
        refused(&mut o, &OrderCommand::CheckIn { caregiver: CG + 1, position: home() }, t0() + mins(2)),
        OrderError::NotHolder
    );
    // Checking in straight from "taken" is allowed.
    o.apply(&OrderCommand::CheckIn { caregiver: CG, position: home() }, t0() + mins(15)).unwrap();
    assert_eq!(o.trip_started_at, None);
}

#[test]
fn check_in_and_out_must_be_at_the_home() {
    let mut o = taken();
    let far = OrderCommand::CheckIn { caregiver: CG, position: offset(250.0, 0.0) };
    assert_eq!(
        refused(&mut o, &far, t0() + mins(10)),
        OrderError::TooFar { distance_m: 250, tolerance_m: 200 }
    );
    o.apply(&OrderCommand::CheckIn { caregiver: CG, position: offset(0.0, 199.0) }, t0() + mins(10)).unwrap();
    let far_out = OrderCommand::CheckOut {
        caregiver: CG,
        position: offset(-400.0, 0.0),
        notes: String::new(),
        photos: vec![],
    };
    assert!(matches!(refused(&mut o, &far_out, t0() + mins(70)), OrderError::TooFar { distance_m: 400, .. }));
}

#[test]
fn a_short_visit_is_flagged_for_the_station() {
    let mut o = checked_in();
    let out =
        OrderCommand::CheckOut { caregiver: CG, position: home(), notes: String::new(), photos: vec![] };
    // Checked in at +20, out at +49: 29 of 60 minutes, under half.
    let fx = o.apply(&out, t0() + mins(49)).unwrap();
    assert!(o.short_service);
    assert_eq!(o.served_min, Some(29));
    assert!(fx.contains(&OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::ShortService }));
}

#[test]
fn photos_and_notes_are_checked_at_check_out() {
    let mut o = checked_in();
    let many = OrderCommand::CheckOut {
        caregiver: CG,
        position: home(),
        notes: String::new(),
        photos: (0..10).map(|i| PhotoRef(format!("p/{i}.jpg"))).collect(),
    };
    assert!(
        matches!(refused(&mut o, &many, t0() + mins(80)), OrderError::Invalid(e) if e.code == "too_many")
    );
    let blank = OrderCommand::CheckOut {
        caregiver: CG,
        position: home(),
        notes: String::new(),
        photos: vec![PhotoRef(" ".into())],
    };
    refused(&mut o, &blank, t0() + mins(80));
    o.policy.min_photos = 1;
    let none =
        OrderCommand::CheckOut { caregiver: CG, position: home(), notes: String::new(), photos: vec![] };
    assert!(matches!(refused(&mut o, &none, t0() + mins(80)), OrderError::Invalid(e) if e.code == "too_few"));
    let long = OrderCommand::CheckOut {
        caregiver: CG,
        position: home(),
        notes: "长".repeat(1001),
        photos: vec![PhotoRef("a.jpg".into())],
    };
    refused(&mut o, &long, t0() + mins(80));
}

#[test]
fn a_release_puts_the_order_back_on_offer_without_the_caregiver() {
    let mut o = taken();
    assert!(matches!(
        refused(&mut o, &OrderCommand::Release { caregiver: CG, reason: " ".into() }, t0() + mins(3)),
        OrderError::Invalid(_)
    ));
    let fx = o
        .apply(&OrderCommand::Release { caregiver: CG, reason: "电动车坏了".into() }, t0() + mins(3))
        .unwrap();
    assert_eq!(o.state, OrderState::Published);
    assert_eq!(o.caregiver, None);
    assert_eq!(o.dispatch.excluded, vec![CG]);
    assert_eq!(o.dispatch.offered_at, Some(t0() + mins(3)));
    assert!(fx.contains(&OrderEffect::RevokeContact { caregiver: CG }));
    assert!(fx.contains(&OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::Released }));
    assert!(fx.contains(&OrderEffect::Offer { radius_m: 2_000, exclude: vec![CG] }));
    let again = OrderCommand::Grab { caregiver: caregiver(CG, 100.0) };
    assert!(matches!(refused(&mut o, &again, t0() + mins(4)), OrderError::Ineligible(_)));
    o.apply(&OrderCommand::Grab { caregiver: caregiver(CG + 1, 100.0) }, t0() + mins(4)).unwrap();
    // After setting off, releasing is no longer possible: call the station.
    o.apply(&OrderCommand::StartTrip { caregiver: CG + 1 }, t0() + mins(5)).unwrap();
    refused(&mut o, &OrderCommand::Release { caregiver: CG + 1, reason: "x".into() }, t0() + mins(6));
}

#[test]
fn operators_assign_and_reassign() {
    let mut o = order_at(Schedule::Asap, t0());
    // Not the elder.
    let assign = |c| OrderCommand::Assign { caregiver: c, by: ELDER };
    assert_eq!(
        refused(&mut o, &assign(caregiver(CG, 10.0)), t0()),
        OrderError::NotPermitted { action: OrderAction::Assign, role: ActorRole::Elder }
    );
    // Off duty and 30 km away is the operator's call; missing skills is not.
    let mut far = caregiver(CG, 30_000.0);
    far.on_duty = false;
    let mut unskilled = caregiver(CG + 1, 10.0);
    unskilled.skills.clear();
    let e = refused(&mut o, &OrderCommand::Assign { caregiver: unskilled, by: OPERATOR }, t0());
    assert_eq!(e.code(), "dispatch_missing_skills");
    let fx = o.apply(&OrderCommand::Assign { caregiver: far, by: OPERATOR }, t0() + mins(1)).unwrap();
    assert_eq!(o.state, OrderState::Taken);
    assert_eq!(o.assigned_by, Some(OPERATOR));
    assert!(fx.contains(&OrderEffect::Notify {
        to: NoticeRecipient::Caregiver { id: CG },
        notice: Notice::Assigned
    }));
    // Reassigning to the same caregiver is pointless; to another revokes the first.
    assert_eq!(
        refused(
            &mut o,
            &OrderCommand::Assign { caregiver: caregiver(CG, 10.0), by: STATION },
            t0() + mins(2)
        ),
        OrderError::SameCaregiver
    );
    let fx = o
        .apply(&OrderCommand::Assign { caregiver: caregiver(CG + 2, 10.0), by: STATION }, t0() + mins(2))
        .unwrap();
    assert!(fx.contains(&OrderEffect::RevokeContact { caregiver: CG }));
    assert!(fx.contains(&OrderEffect::Notify {
        to: NoticeRecipient::Caregiver { id: CG },
        notice: Notice::Reassigned
    }));
    assert!(fx.contains(&OrderEffect::GrantContact { caregiver: CG + 2 }));
    assert_eq!(o.caregiver, Some(CG + 2));
}

#[test]
fn a_busy_caregiver_cannot_be_assigned() {
    let mut o = order_at(Schedule::At { start: t0() + mins(120) }, t0());
    let mut busy = caregiver(CG, 10.0);
    // Another order from +100 to +190 (60 min + 30 buffer) overlaps +120..+210.
    busy.commitments.push(zhulao_services::Window { start: t0() + mins(100), end: t0() + mins(190) });
    let e = refused(&mut o, &OrderCommand::Assign { caregiver: busy.clone(), by: OPERATOR }, t0());
    assert_eq!(e.code(), "dispatch_busy");
    busy.commitments = vec![zhulao_services::Window { start: t0() + mins(30), end: t0() + mins(120) }];
    o.apply(&OrderCommand::Assign { caregiver: busy, by: OPERATOR }, t0()).unwrap();
}

#[test]
fn who_may_cancel_in_which_state() {
    use ActorRole::*;
    use OrderState as S;
    let roles = [Elder, Family, CareManager, Operator, Caregiver, Station, Supervisor, System];
    for state in OrderState::ALL {
        for role in roles {
            let expected = match state {
                S::Created | S::Published | S::Taken => !matches!(role, Caregiver | System),
                S::OnTheWay => matches!(role, Operator | Station | Supervisor),
                _ => false,
            };
            assert_eq!(may_cancel(role, *state), expected, "{role:?} in {state:?}");
        }
    }
}

#[test]
fn cancelling_notifies_whoever_is_involved() {
    let cancel = |by| OrderCommand::Cancel { by, reason: CancelReason::Hospitalised, text: String::new() };
    let mut o = published();
    let fx = o.apply(&cancel(ELDER), t0() + mins(1)).unwrap();
    assert_eq!(o.state, OrderState::Cancelled);
    assert_eq!(
        fx,
        vec![
            OrderEffect::Withdraw,
            OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::Cancelled }
        ]
    );
    assert_eq!(o.cancellation.as_ref().unwrap().from, OrderState::Published);

    let mut o = taken();
    o.apply(&OrderCommand::StartTrip { caregiver: CG }, t0() + mins(2)).unwrap();
    assert!(matches!(refused(&mut o, &cancel(FAMILY), t0() + mins(3)), OrderError::NotPermitted { .. }));
    assert!(matches!(refused(&mut o, &cancel(me()), t0() + mins(3)), OrderError::NotPermitted { .. }));
    let fx = o.apply(&cancel(OPERATOR), t0() + mins(3)).unwrap();
    assert!(fx.contains(&OrderEffect::RevokeContact { caregiver: CG }));
    assert!(fx.contains(&OrderEffect::Notify {
        to: NoticeRecipient::Caregiver { id: CG },
        notice: Notice::Cancelled
    }));
    assert!(fx.contains(&OrderEffect::Notify { to: NoticeRecipient::Requester, notice: Notice::Cancelled }));
    // "Other" needs a word of explanation.
    let mut o = published();
    let other = OrderCommand::Cancel { by: ELDER, reason: CancelReason::Other, text: String::new() };
    assert!(matches!(refused(&mut o, &other, t0()), OrderError::Invalid(_)));
    o.apply(&cancel(ELDER), t0()).unwrap();
}

#[test]
fn a_cancelled_order_stays_cancelled() {
    let mut o = published();
    o.apply(&OrderCommand::Cancel { by: ELDER, reason: CancelReason::Duplicate, text: String::new() }, t0())
        .unwrap();
    for cmd in [
        OrderCommand::Cancel { by: OPERATOR, reason: CancelReason::Duplicate, text: String::new() },
        OrderCommand::Grab { caregiver: caregiver(CG, 10.0) },
        OrderCommand::Publish { by: ELDER },
        OrderCommand::Expire,
    ] {
        refused(&mut o, &cmd, t0() + mins(500));
    }
}

#[test]
fn the_elder_not_at_home() {
    let start = t0() + mins(120);
    let mut o = order_at(Schedule::At { start }, t0());
    o.apply(&OrderCommand::Publish { by: ELDER }, t0()).unwrap();
    o.apply(&OrderCommand::Grab { caregiver: caregiver(CG, 500.0) }, t0() + mins(1)).unwrap();
    let at_door =
        OrderCommand::NoShow { by: me(), party: NoShowParty::Elder, position: Some(offset(30.0, 0.0)) };
    assert_eq!(refused(&mut o, &at_door, start - secs(1)), OrderError::TooEarly { until: start });
    let away =
        OrderCommand::NoShow { by: me(), party: NoShowParty::Elder, position: Some(offset(3_000.0, 0.0)) };
    assert!(matches!(refused(&mut o, &away, start + mins(10)), OrderError::TooFar { .. }));
    let nowhere = OrderCommand::NoShow { by: me(), party: NoShowParty::Elder, position: None };
    refused(&mut o, &nowhere, start + mins(10));
    let by_family = OrderCommand::NoShow { by: FAMILY, party: NoShowParty::Elder, position: Some(home()) };
    assert!(matches!(refused(&mut o, &by_family, start + mins(10)), OrderError::NotPermitted { .. }));
    let fx = o.apply(&at_door, start + mins(10)).unwrap();
    assert_eq!(o.state, OrderState::NoShow);
    assert!(fx.contains(&OrderEffect::RevokeContact { caregiver: CG }));
    assert!(fx.contains(&OrderEffect::Notify { to: NoticeRecipient::Requester, notice: Notice::NoShow }));
    assert!(!fx.iter().any(|e| matches!(e, OrderEffect::RescoreCaregiver { .. })));
}

#[test]
fn the_caregiver_did_not_come() {
    // Taken at +1 "as soon as possible": due at +61, no-show declarable from +91.
    let mut o = taken();
    let cmd = OrderCommand::NoShow { by: FAMILY, party: NoShowParty::Caregiver, position: None };
    assert_eq!(refused(&mut o, &cmd, t0() + mins(90)), OrderError::TooEarly { until: t0() + mins(91) });
    let by_self = OrderCommand::NoShow { by: me(), party: NoShowParty::Caregiver, position: None };
    refused(&mut o, &by_self, t0() + mins(91));
    let fx = o.apply(&cmd, t0() + mins(91)).unwrap();
    assert_eq!(o.state, OrderState::NoShow);
    assert!(fx.contains(&OrderEffect::RescoreCaregiver { caregiver: CG }));
    assert!(fx.contains(&OrderEffect::Notify {
        to: NoticeRecipient::Caregiver { id: CG },
        notice: Notice::NoShow
    }));
    // A complaint about it is still possible.
    o.apply(
        &OrderCommand::Complain { by: FAMILY, kind: ComplaintKind::Lateness, text: "等了一上午".into() },
        t0() + mins(100),
    )
    .unwrap();
}

#[test]
fn expiry_by_command_waits_for_the_deadline() {
    let mut o = published();
    let deadline = t0() + mins(240);
    assert_eq!(
        refused(&mut o, &OrderCommand::Expire, deadline - secs(1)),
        OrderError::TooEarly { until: deadline }
    );
    let fx = o.apply(&OrderCommand::Expire, deadline).unwrap();
    assert_eq!(o.state, OrderState::Expired);
    assert_eq!(fx[0], OrderEffect::Withdraw);
    assert_eq!(o.ended_at, Some(deadline));
}

#[test]
fn rating_confirms_and_may_come_after_settlement() {
    let mut o = completed();
    let bad = OrderCommand::Rate { by: ELDER, stars: 6, tags: vec![], text: String::new() };
    assert!(matches!(refused(&mut o, &bad, t0() + mins(90)), OrderError::Invalid(_)));
    let by_caregiver = OrderCommand::Rate { by: me(), stars: 5, tags: vec![], text: String::new() };
    assert!(matches!(refused(&mut o, &by_caregiver, t0() + mins(90)), OrderError::NotPermitted { .. }));
    let low =
        OrderCommand::Rate { by: FAMILY, stars: 2, tags: vec![RatingTag::Hasty], text: "敷衍".into() };
    let fx = o.apply(&low, t0() + mins(90)).unwrap();
    assert_eq!(o.state, OrderState::Rated);
    assert_eq!(o.confirmed_by, Some(FAMILY));
    assert!(fx.contains(&OrderEffect::ReadyToSettle));
    assert!(fx.contains(&OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::LowRating }));

    // Confirmed, settled, then rated: the state stays settled.
    let mut o = completed();
    o.apply(&OrderCommand::Confirm { by: OPERATOR }, t0() + mins(90)).unwrap();
    o.apply(&OrderCommand::Settle { split: own_split(Fen(6000)) }, t0() + mins(91)).unwrap();
    let fx = o
        .apply(
            &OrderCommand::Rate { by: ELDER, stars: 4, tags: vec![], text: String::new() },
            t0() + mins(200),
        )
        .unwrap();
    assert_eq!(o.state, OrderState::Settled);
    assert_eq!(o.rating.as_ref().unwrap().stars, 4);
    assert_eq!(fx, vec![OrderEffect::RescoreCaregiver { caregiver: CG }]);
}

#[test]
fn settlement_needs_confirmation_and_an_exact_split() {
    let mut o = completed();
    let settle = OrderCommand::Settle { split: own_split(Fen(6000)) };
    assert_eq!(refused(&mut o, &settle, t0() + mins(90)), OrderError::NotConfirmed);
    o.apply(&OrderCommand::Confirm { by: ELDER }, t0() + mins(90)).unwrap();
    let short = OrderCommand::Settle {
        split: Split {
            price: Fen(6000),
            lines: vec![SplitLine {
                source: FundingSource::OwnPayment,
                rule: None,
                pool: None,
                amount: Fen(5999),
            }],
        },
    };
    assert_eq!(
        refused(&mut o, &short, t0() + mins(91)),
        OrderError::SplitMismatch { split: Fen(5999), price: Fen(6000) }
    );
    refused(&mut o, &OrderCommand::Settle { split: own_split(Fen(7000)) }, t0() + mins(91));
    o.apply(&settle, t0() + mins(91)).unwrap();
    refused(&mut o, &settle, t0() + mins(92));
    assert_eq!(o.settlement.as_ref().unwrap().total(), Fen(6000));
}

#[test]
fn complaints_open_a_case_within_the_window() {
    let mut o = published();
    let complain =
        OrderCommand::Complain { by: ELDER, kind: ComplaintKind::Attitude, text: "说话难听".into() };
    refused(&mut o, &complain, t0() + mins(1));
    let mut o = completed();
    let fx = o.apply(&complain, t0() + mins(90)).unwrap();
    assert_eq!(fx[0], OrderEffect::OpenComplaint { kind: ComplaintKind::Attitude, caregiver: Some(CG) });
    assert_eq!(o.complaints.len(), 1);
    assert_eq!(o.state, OrderState::Completed, "a complaint does not move the order");
    let late = t0() + mins(85) + chrono::Duration::days(30) + secs(1);
    assert_eq!(refused(&mut o, &complain, late), OrderError::ComplaintWindowClosed);
    let blank = OrderCommand::Complain { by: ELDER, kind: ComplaintKind::Other, text: " ".into() };
    refused(&mut o, &blank, t0() + mins(91));
    let by_caregiver = OrderCommand::Complain { by: me(), kind: ComplaintKind::Other, text: "x".into() };
    refused(&mut o, &by_caregiver, t0() + mins(91));
}

#[test]
fn new_orders_are_validated() {
    let catalogue = zhulao_services::Catalogue::with_defaults();
    let code = zhulao_services::ServiceCode::parse("item", "haircut").unwrap();
    let quote = catalogue.quote(&code, &region()).unwrap();
    let make = |by, schedule, note: &str| {
        let input =
            NewOrder::from_quote(&quote, 1, region(), home(), by, OrderChannel::Phone, schedule, note);
        Order::new(input, OrderPolicy::default(), t0())
    };
    assert!(make(OPERATOR, Schedule::At { start: t0() + mins(60) }, "").is_ok());
    assert!(matches!(
        make(OrderActor::new(ActorRole::Caregiver, 5), Schedule::Asap, ""),
        Err(OrderError::NotPermitted { .. })
    ));
    assert!(make(ELDER, Schedule::At { start: t0() - mins(60) }, "").is_err());
    assert!(make(ELDER, Schedule::At { start: t0() + chrono::Duration::days(61) }, "").is_err());
    assert!(make(ELDER, Schedule::Asap, &"长".repeat(501)).is_err());
    let o = make(ELDER, Schedule::Asap, "  门铃坏了请敲门 ").unwrap();
    assert_eq!(o.note, "门铃坏了请敲门");
    assert_eq!(o.price, Fen(1500));
}

#[test]
fn absurd_policies_do_not_panic() {
    let mut o = completed();
    o.policy.complaint_window_days = u32::MAX;
    o.policy.confirm_window_min = u32::MAX;
    o.policy.dispatch.travel_buffer_min = u32::MAX;
    let complain = OrderCommand::Complain { by: ELDER, kind: ComplaintKind::Other, text: "x".into() };
    o.apply(&complain, t0() + chrono::Duration::days(3_000)).unwrap();
    assert!(o.next_due().is_some());
    let _ = o.window(t0());
    let p = OrderPolicy { max_days_ahead: u32::MAX, ..OrderPolicy::default() };
    let catalogue = zhulao_services::Catalogue::with_defaults();
    let code = zhulao_services::ServiceCode::parse("item", "haircut").unwrap();
    let quote = catalogue.quote(&code, &region()).unwrap();
    let far = Schedule::At { start: t0() + chrono::Duration::days(365 * 50) };
    let input = NewOrder::from_quote(&quote, 1, region(), home(), ELDER, OrderChannel::App, far, "");
    assert!(Order::new(input, p, t0()).is_ok());
}

#[test]
fn orders_and_commands_round_trip_through_json() {
    let o = completed();
    let json = serde_json::to_string(&o).unwrap();
    assert_eq!(serde_json::from_str::<Order>(&json).unwrap(), o);
    let cmd: OrderCommand = serde_json::from_str(
        r#"{"action":"cancel","by":{"role":"family","id":21},"reason":"hospitalised","text":""}"#,
    )
    .unwrap();
    assert_eq!(
        cmd,
        OrderCommand::Cancel { by: FAMILY, reason: CancelReason::Hospitalised, text: String::new() }
    );
    let fx = serde_json::to_value(OrderEffect::Notify {
        to: NoticeRecipient::Caregiver { id: 5 },
        notice: Notice::Late,
    })
    .unwrap();
    assert_eq!(fx, serde_json::json!({"effect":"notify","to":{"kind":"caregiver","id":5},"notice":"late"}));
}
