//! Grab dispatch with an injected clock: the widening radius, eligibility, ranking, and the
//! timers — widen, escalate, auto-assign, expire, late alert, auto-confirm.

mod common;

use common::*;
use zhulao_domain::RegionCode;
use zhulao_services::dispatch::{
    DispatchPolicies, DispatchPolicy, Ineligible, OrderTimer, RadiusStep, RegionDispatch, best_candidate,
    eligible, offer_radius, rank, validate_grab,
};
use zhulao_services::order::{
    Notice, NoticeRecipient, OrderCommand, OrderEffect, OrderError, OrderState, Schedule,
};
use zhulao_services::{ActorRole, OrderActor, RegionPrefix, Window};

fn timers(fired: &[(OrderTimer, Vec<OrderEffect>)]) -> Vec<OrderTimer> {
    fired.iter().map(|(t, _)| *t).collect()
}

#[test]
fn the_radius_widens_at_the_exact_minute() {
    let p = DispatchPolicy::default();
    for (after, radius) in
        [(-60, 2_000), (0, 2_000), (299, 2_000), (300, 5_000), (899, 5_000), (900, 10_000), (99_999, 10_000)]
    {
        assert_eq!(offer_radius(t0(), t0() + secs(after), &p), radius, "after {after} s");
    }
    assert_eq!(p.max_radius_m(), 10_000);
}

#[test]
fn who_is_eligible() {
    let o = published();
    let now = t0() + mins(1);
    assert_eq!(eligible(&o, &caregiver(1, 1_900.0), now), Ok(()));
    assert_eq!(
        eligible(&o, &caregiver(1, 2_500.0), now),
        Err(Ineligible::OutOfRange { distance_m: 2_500, radius_m: 2_000 })
    );
    // Five minutes on, 2.5 km is inside.
    assert_eq!(eligible(&o, &caregiver(1, 2_500.0), t0() + mins(5)), Ok(()));
    let mut off = caregiver(2, 10.0);
    off.on_duty = false;
    assert_eq!(eligible(&o, &off, now), Err(Ineligible::NotOnDuty));
    let mut lost = caregiver(3, 10.0);
    lost.position = None;
    assert_eq!(eligible(&o, &lost, now), Err(Ineligible::NoPosition));
    let mut cook = caregiver(4, 10.0);
    cook.skills = vec![skill("cooking"), skill("bathing")];
    assert_eq!(eligible(&o, &cook, now), Err(Ineligible::MissingSkills(vec![skill("personal_care")])));
    let mut busy = caregiver(5, 10.0);
    busy.commitments = vec![Window { start: now + mins(30), end: now + mins(120) }];
    assert_eq!(eligible(&o, &busy, now), Err(Ineligible::Busy { start: now + mins(30) }));
    // An agenda that ends before this order's window starts is fine.
    busy.commitments = vec![Window { start: now - mins(120), end: now }];
    assert_eq!(eligible(&o, &busy, now), Ok(()));
    // Only published orders can be grabbed.
    let created = order_at(Schedule::Asap, t0());
    assert!(matches!(validate_grab(&created, &caregiver(1, 10.0), now), Err(OrderError::WrongState { .. })));
    assert_eq!(validate_grab(&o, &caregiver(1, 10.0), now), Ok(()));
}

#[test]
fn a_grab_from_beyond_the_radius_is_refused_until_it_widens() {
    let mut o = published();
    let far = caregiver(7, 4_000.0);
    let e = o.apply(&OrderCommand::Grab { caregiver: far.clone() }, t0() + mins(4)).unwrap_err();
    assert_eq!(e, OrderError::Ineligible(Ineligible::OutOfRange { distance_m: 4_000, radius_m: 2_000 }));
    // The timer has not run (the store is late): eligibility follows the clock anyway.
    o.apply(&OrderCommand::Grab { caregiver: far }, t0() + mins(5)).unwrap();
    assert_eq!(o.state, OrderState::Taken);
    // The second grab loses.
    let e = o.apply(&OrderCommand::Grab { caregiver: caregiver(8, 10.0) }, t0() + mins(5)).unwrap_err();
    assert!(matches!(e, OrderError::WrongState { state: OrderState::Taken, .. }));
}

#[test]
fn nobody_takes_it_widen_escalate_auto_assign_expire() {
    let mut o = published();
    assert_eq!(o.next_due(), Some((t0() + mins(5), OrderTimer::Widen)));
    assert!(o.fire_due(t0() + mins(5) - secs(1)).is_empty());

    let fired = o.fire_due(t0() + mins(5));
    assert_eq!(
        fired,
        vec![(OrderTimer::Widen, vec![OrderEffect::Offer { radius_m: 5_000, exclude: vec![] }])]
    );
    assert!(o.fire_due(t0() + mins(5)).is_empty(), "a fired timer does not fire again");
    assert_eq!(o.next_due(), Some((t0() + mins(15), OrderTimer::Widen)));

    assert_eq!(timers(&o.fire_due(t0() + mins(15))), vec![OrderTimer::Widen]);
    assert_eq!(o.dispatch.step, 2);

    let fired = o.fire_due(t0() + mins(20));
    assert_eq!(
        fired,
        vec![(
            OrderTimer::Escalate,
            vec![
                OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::Unanswered },
                OrderEffect::Notify { to: NoticeRecipient::Operators, notice: Notice::Unanswered },
            ]
        )]
    );

    let fired = o.fire_due(t0() + mins(30));
    assert_eq!(
        fired,
        vec![(OrderTimer::AutoAssign, vec![OrderEffect::AutoAssign { radius_m: 10_000, exclude: vec![] }])]
    );
    // Nobody was found: retried every 10 minutes, three attempts in all.
    assert_eq!(o.next_due(), Some((t0() + mins(40), OrderTimer::AutoAssign)));
    assert_eq!(timers(&o.fire_due(t0() + mins(50))), vec![OrderTimer::AutoAssign, OrderTimer::AutoAssign]);
    assert_eq!(o.dispatch.auto_assign_attempts, 3);
    assert_eq!(o.next_due(), Some((t0() + mins(240), OrderTimer::Expire)));

    let fired = o.fire_due(t0() + mins(240));
    assert_eq!(timers(&fired), vec![OrderTimer::Expire]);
    assert_eq!(o.state, OrderState::Expired);
    assert!(fired[0].1.contains(&OrderEffect::Withdraw));
    assert_eq!(o.next_due(), None);
    let kinds: Vec<&str> = o.history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "create",
            "publish",
            "widen",
            "widen",
            "escalate",
            "auto_assign",
            "auto_assign",
            "auto_assign",
            "expire"
        ]
    );
}

#[test]
fn a_late_timer_run_catches_up_in_due_order() {
    let mut o = published();
    let fired = o.fire_due(t0() + mins(31));
    assert_eq!(
        timers(&fired),
        vec![OrderTimer::Widen, OrderTimer::Widen, OrderTimer::Escalate, OrderTimer::AutoAssign]
    );
}

#[test]
fn auto_assignment_picks_the_best_candidate() {
    let mut o = published();
    let fired = o.fire_due(t0() + mins(30));
    let Some((_, fx)) = fired.iter().find(|(t, _)| *t == OrderTimer::AutoAssign) else {
        panic!("no auto-assign")
    };
    assert!(fx.contains(&OrderEffect::AutoAssign { radius_m: 10_000, exclude: vec![] }));
    let now = t0() + mins(30);
    let mut candidates =
        vec![caregiver(1, 6_500.0), caregiver(2, 6_200.0), caregiver(3, 12_000.0), caregiver(4, 900.0)];
    candidates[0].quality_milli = 4_900;
    candidates[3].on_duty = false;
    // 6.5 km and 6.2 km are in the same 1 km band: the better score wins over 300 m.
    assert_eq!(best_candidate(&o, &candidates, now), Some(1));
    let ranked = rank(&o, &candidates, now);
    assert_eq!(ranked.iter().map(|r| r.caregiver).collect::<Vec<_>>(), vec![1, 2]);
    let chosen = candidates[0].clone();
    o.apply(&OrderCommand::Assign { caregiver: chosen, by: OrderActor::system() }, now).unwrap();
    assert_eq!(o.state, OrderState::Taken);
    assert_eq!(o.assigned_by, Some(OrderActor::system()));
    // The system may not assign someone ineligible (off duty here).
    let mut o = published();
    o.fire_due(now);
    let e = o
        .apply(&OrderCommand::Assign { caregiver: candidates[3].clone(), by: OrderActor::system() }, now)
        .unwrap_err();
    assert_eq!(e, OrderError::Ineligible(Ineligible::NotOnDuty));
    assert_eq!(best_candidate(&o, &[candidates[3].clone()], now), None);
}

#[test]
fn the_ranking_is_a_total_order() {
    let o = published();
    let now = t0() + mins(20);
    let mut cs: Vec<_> = (1..=8).map(|i| caregiver(i, 1_000.0 + (i % 3) as f64 * 400.0)).collect();
    cs[5].quality_milli = 4_800;
    let a = rank(&o, &cs, now);
    cs.reverse();
    let b = rank(&o, &cs, now);
    assert_eq!(a, b);
    // Band 1 (1.0–1.99 km): caregiver 6 (best score) first, then by distance, then id.
    assert_eq!(a.iter().map(|r| r.caregiver).collect::<Vec<_>>(), vec![6, 3, 1, 4, 7, 2, 5, 8]);
}

#[test]
fn a_scheduled_order_waits_until_a_day_before() {
    let start = t0() + chrono::Duration::days(3);
    let mut o = order_at(Schedule::At { start }, t0());
    o.apply(&OrderCommand::Publish { by: ELDER }, t0()).unwrap();
    let clock = start - chrono::Duration::hours(24);
    assert_eq!(o.dispatch_clock(), Some(clock));
    assert_eq!(o.next_due(), Some((clock + mins(5), OrderTimer::Widen)));
    assert!(o.fire_due(clock).is_empty());
    assert_eq!(o.offer_radius(t0() + mins(30)), 2_000);
    assert_eq!(
        timers(&o.fire_due(clock + mins(20))),
        vec![OrderTimer::Widen, OrderTimer::Widen, OrderTimer::Escalate]
    );
    assert_eq!(o.expires_at(), start + mins(60));
    // Published inside the lead, the clock starts at publication.
    let start = t0() + mins(60);
    let mut late = order_at(Schedule::At { start }, t0() - mins(5));
    let fx = late.apply(&OrderCommand::Publish { by: ELDER }, t0()).unwrap();
    assert_eq!(fx, vec![OrderEffect::Offer { radius_m: 2_000, exclude: vec![] }]);
    assert_eq!(late.dispatch_clock(), Some(t0()));
    assert_eq!(
        timers(&late.fire_due(t0() + mins(30))),
        vec![OrderTimer::Widen, OrderTimer::Widen, OrderTimer::Escalate, OrderTimer::AutoAssign]
    );
}

#[test]
fn a_release_restarts_the_dispatch_clock() {
    let mut o = published();
    o.fire_due(t0() + mins(21));
    assert!(o.dispatch.escalated);
    o.apply(&OrderCommand::Grab { caregiver: caregiver(9, 100.0) }, t0() + mins(22)).unwrap();
    assert_eq!(o.next_due().map(|(_, t)| t), Some(OrderTimer::LateAlert));
    o.apply(&OrderCommand::Release { caregiver: 9, reason: "临时有事".into() }, t0() + mins(25)).unwrap();
    assert!(!o.dispatch.escalated);
    assert_eq!(o.dispatch.step, 0);
    assert_eq!(o.next_due(), Some((t0() + mins(30), OrderTimer::Widen)));
    // But the order still expires on its first publication's schedule.
    assert_eq!(o.expires_at(), t0() + mins(240));
}

#[test]
fn the_station_hears_when_a_caregiver_is_late() {
    let mut o = published();
    o.apply(&OrderCommand::Grab { caregiver: caregiver(9, 100.0) }, t0() + mins(10)).unwrap();
    // Due 60 minutes after taking it; alert 15 minutes after that.
    assert_eq!(o.next_due(), Some((t0() + mins(85), OrderTimer::LateAlert)));
    let fired = o.fire_due(t0() + mins(85));
    assert_eq!(
        fired[0].1,
        vec![
            OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::Late },
            OrderEffect::Notify { to: NoticeRecipient::Caregiver { id: 9 }, notice: Notice::Late },
        ]
    );
    assert!(o.fire_due(t0() + mins(200)).is_empty());
    o.apply(&OrderCommand::CheckIn { caregiver: 9, position: home() }, t0() + mins(90)).unwrap();
    assert_eq!(o.next_due(), None);
}

#[test]
fn an_unconfirmed_service_is_confirmed_after_a_day() {
    let mut o = published();
    o.apply(&OrderCommand::Grab { caregiver: caregiver(9, 100.0) }, t0() + mins(1)).unwrap();
    o.apply(&OrderCommand::CheckIn { caregiver: 9, position: home() }, t0() + mins(20)).unwrap();
    let out = OrderCommand::CheckOut { caregiver: 9, position: home(), notes: String::new(), photos: vec![] };
    o.apply(&out, t0() + mins(80)).unwrap();
    let due = t0() + mins(80) + chrono::Duration::hours(24);
    assert_eq!(o.next_due(), Some((due, OrderTimer::AutoConfirm)));
    assert!(o.fire_due(due - secs(1)).is_empty());
    assert_eq!(o.fire_due(due), vec![(OrderTimer::AutoConfirm, vec![OrderEffect::ReadyToSettle])]);
    assert_eq!(o.confirmed_by, Some(OrderActor::new(ActorRole::System, 0)));
    assert_eq!(o.next_due(), None);
}

#[test]
fn policies_validate_and_vary_by_region() {
    assert_eq!(DispatchPolicy::default().validate(), Ok(()));
    let bad = DispatchPolicy {
        radius_steps: vec![
            RadiusStep { after_min: 3, radius_m: 5_000 },
            RadiusStep { after_min: 2, radius_m: 1_000 },
        ],
        ..DispatchPolicy::default()
    };
    assert_eq!(bad.validate().unwrap_err().len(), 2);
    assert!(DispatchPolicy { radius_steps: vec![], ..DispatchPolicy::default() }.validate().is_err());
    let rural = DispatchPolicy {
        radius_steps: vec![
            RadiusStep { after_min: 0, radius_m: 5_000 },
            RadiusStep { after_min: 30, radius_m: 20_000 },
        ],
        ..DispatchPolicy::default()
    };
    let policies = DispatchPolicies {
        default: DispatchPolicy::default(),
        regions: vec![RegionDispatch {
            region_prefix: RegionPrefix::parse("p", "130732").unwrap(),
            policy: rural.clone(),
        }],
    };
    let chicheng = RegionCode::parse("r", "130732100200").unwrap();
    assert_eq!(policies.for_region(&chicheng), &rural);
    assert_eq!(policies.for_region(&region()), &DispatchPolicy::default());
    // Partial configuration keeps the defaults.
    let p: DispatchPolicy = serde_json::from_str(r#"{"escalate_after_min": 10}"#).unwrap();
    assert_eq!(p, DispatchPolicy { escalate_after_min: 10, ..DispatchPolicy::default() });
}
