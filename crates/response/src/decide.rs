//! The response service's pure half: what a raise becomes given the open alarm, which
//! timeline entry a step writes, and which live change a step announces. No I/O, no clock:
//! the service reads, calls these, and hands the store the result.

use zhulao_alarms::{
    AlarmCase, AlarmRow, Command, Effect, NewAlarm, NewAlarmEvent, Policy, RaiseDecision, TransitionError,
};
use zhulao_domain::Actor;

/// A raise decided: what the store writes, what follows once it is committed, and the live
/// change to announce.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RaiseStep {
    pub decision: RaiseDecision,
    pub event: NewAlarmEvent,
    pub effects: Vec<Effect>,
    pub change: &'static str,
}

/// A new alarm, or a repeat merged into the open alarm of the same subject and kind.
pub(crate) fn decide_raise(
    open: Option<&AlarmRow>,
    a: &NewAlarm,
    now: i64,
    policy: &Policy,
) -> Result<RaiseStep, TransitionError> {
    match open {
        Some(row) => {
            let mut case = row.case.clone();
            let effects = case.apply(&Command::Repeat, now)?;
            let event = device_event(
                "repeat",
                serde_json::json!({ "source": a.source, "msg_id": a.msg_id, "detail": a.detail }),
            );
            let next_due_at = due(&case, policy);
            let decision =
                RaiseDecision::Repeat { id: row.id, expected_version: row.version, case, next_due_at };
            Ok(RaiseStep { decision, event, effects, change: "repeat" })
        }
        None => {
            let (case, effects) = AlarmCase::raise(a.kind, now, a.contacts);
            let event = device_event(
                "raised",
                serde_json::json!({ "kind": a.kind, "source": a.source, "msg_id": a.msg_id }),
            );
            let next_due_at = due(&case, policy);
            Ok(RaiseStep {
                decision: RaiseDecision::New { case, next_due_at },
                event,
                effects,
                change: "raised",
            })
        }
    }
}

fn device_event(kind: &str, detail: serde_json::Value) -> NewAlarmEvent {
    NewAlarmEvent {
        actor: Actor::SYSTEM,
        actor_kind: "device".into(),
        kind: kind.into(),
        detail,
        audit: None,
    }
}

/// When the case's next timer comes due under `policy`.
pub(crate) fn due(case: &AlarmCase, policy: &Policy) -> Option<i64> {
    case.next_due(policy).map(|(at, _)| at)
}

/// The timeline entry one step writes. A fall's trace goes on the timeline whole; the audit
/// log keeps only that it arrived.
pub(crate) fn step_event(cmd: &Command, actor: Actor, actor_kind: &str) -> NewAlarmEvent {
    let (detail, audit) = match cmd {
        Command::AttachTrace { trace } => {
            (serde_json::to_value(trace).unwrap_or_default(), Some(serde_json::json!({ "kind": cmd.name() })))
        }
        // The audit log keeps what it kept before these went through the door: the kind.
        Command::Recovered { impact_ms, at_ms } => (
            serde_json::json!({ "impact_ms": impact_ms, "at_ms": at_ms }),
            Some(serde_json::json!({ "kind": cmd.name() })),
        ),
        Command::WearerCancelled => (serde_json::json!({}), Some(serde_json::json!({ "kind": cmd.name() }))),
        _ => (serde_json::to_value(cmd).unwrap_or_default(), None),
    };
    NewAlarmEvent { actor, actor_kind: actor_kind.into(), kind: cmd.name().into(), detail, audit }
}

/// The live change a committed step announces: one per change. An escalation to every
/// operator (unanswered, or the family unreachable) is `escalated`, which consoles sound.
pub(crate) fn change_name(default: &'static str, effects: &[Effect]) -> &'static str {
    if effects.iter().any(|e| matches!(e, Effect::NotifyOperators { escalated: true })) {
        "escalated"
    } else {
        default
    }
}

#[cfg(test)]
mod tests {
    use zhulao_alarms::{AlarmKind, AlarmSource, FallTrace, Feedback, Stage, Timer};

    use super::*;

    const T0: i64 = 1_800_000_000_000;

    fn sos() -> NewAlarm {
        NewAlarm {
            kind: AlarmKind::Sos,
            elder_id: Some(1),
            device_id: Some(2),
            serial: Some("ZL-P-000001".into()),
            region_code: "140213001001".into(),
            location: None,
            source: AlarmSource::DeviceEvent,
            impact_ms: None,
            detail: serde_json::json!({}),
            contacts: 2,
            msg_id: Some("e-1".into()),
        }
    }

    fn row(case: AlarmCase) -> AlarmRow {
        let a = sos();
        AlarmRow {
            id: 9,
            elder_id: a.elder_id,
            device_id: a.device_id,
            serial: a.serial,
            region_code: a.region_code,
            location: None,
            source: a.source,
            impact_ms: None,
            detail: a.detail,
            case,
            next_due_at: None,
            version: 4,
            updated_at: T0,
        }
    }

    #[test]
    fn a_raise_without_an_open_alarm_is_new_with_its_first_timer() {
        let p = Policy::default();
        let step = decide_raise(None, &sos(), T0, &p).unwrap();
        let RaiseDecision::New { case, next_due_at } = &step.decision else { panic!("{step:?}") };
        assert_eq!((case.stage, case.raised_at, case.contacts), (Stage::Queued, T0, 2));
        assert_eq!(*next_due_at, Some(T0 + 30_000));
        assert_eq!(case.next_due(&p).map(|d| d.1), Some(Timer::AnswerEscalate));
        assert_eq!(step.event.kind, "raised");
        assert_eq!(step.change, "raised");
        assert!(step.effects.contains(&Effect::DeviceFeedback { state: Feedback::Received }));
    }

    #[test]
    fn a_raise_with_an_open_alarm_repeats_it_at_its_version() {
        let (open, _) = AlarmCase::raise(AlarmKind::Sos, T0 - 5_000, 2);
        let step = decide_raise(Some(&row(open)), &sos(), T0, &Policy::default()).unwrap();
        let RaiseDecision::Repeat { id, expected_version, case, next_due_at } = &step.decision else {
            panic!("{step:?}")
        };
        assert_eq!((*id, *expected_version, case.repeats), (9, 4, 1));
        assert_eq!(*next_due_at, Some(T0 - 5_000 + 30_000), "the timer runs from the first raise");
        assert_eq!((step.event.kind.as_str(), step.change), ("repeat", "repeat"));
    }

    #[test]
    fn a_trace_is_on_the_timeline_but_not_in_the_audit_log() {
        let trace = FallTrace {
            impact_ms: T0,
            posture_after: "lying".into(),
            trace_start_ms: T0 - 5_000,
            rate_hz: 100,
            trace_mg: vec![[1, 2, 3]; 4],
        };
        let e = step_event(&Command::AttachTrace { trace }, Actor::SYSTEM, "device");
        assert_eq!(e.kind, "fall_trace");
        assert_eq!(e.detail["trace_mg"].as_array().map(Vec::len), Some(4));
        assert_eq!(e.audit, Some(serde_json::json!({ "kind": "fall_trace" })));
        let e = step_event(&Command::WearerCancelled, Actor::SYSTEM, "device");
        assert_eq!(e.audit, Some(serde_json::json!({ "kind": "wearer_cancelled" })));
        let e = step_event(&Command::Recovered { impact_ms: T0, at_ms: T0 + 1 }, Actor::SYSTEM, "device");
        assert_eq!(
            (e.kind.as_str(), e.audit),
            ("recovered", Some(serde_json::json!({ "kind": "recovered" })))
        );
        let e = step_event(&Command::Answer { by: 3 }, Actor::account(3), "operator");
        assert_eq!((e.kind.as_str(), e.audit), ("answer", None));
    }

    #[test]
    fn escalations_are_announced_once_as_escalated() {
        let fx = [Effect::NotifyOperators { escalated: true }, Effect::FamilyUnreachable];
        assert_eq!(change_name("timer", &fx), "escalated");
        assert_eq!(change_name("timer", &[Effect::CallFamily { contact: 0 }]), "timer");
    }
}
