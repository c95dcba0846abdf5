//! The console channel with and without operators subscribed to the broadcast feed.

use tokio::sync::broadcast;
use zhulao_notify::{Channel, ConsoleChannel, DeliveryOutcome, Notification, Recipient};

fn notification(alarm_id: i64) -> Notification {
    Notification {
        id: format!("alarm-{alarm_id}-operators-attempt-1"),
        alarm_id,
        kind: "alarm_raised".into(),
        recipient: Recipient::new("值班员", "operator"),
        subject_zh: "跌倒告警".into(),
        subject_en: "Fall alarm".into(),
        body_zh: "请处理。".into(),
        body_en: "Please handle.".into(),
        data: serde_json::json!({ "alarm_kind": "fall" }),
    }
}

#[tokio::test]
async fn delivered_to_every_subscribed_console() {
    let (tx, mut first) = broadcast::channel(8);
    let console = ConsoleChannel::new(tx).with_clock(|| 42);
    let mut second = console.subscribe();

    let attempts = console.send(&notification(9)).await;

    assert_eq!(attempts.len(), 1);
    let a = &attempts[0];
    assert_eq!((a.channel, a.attempt, a.started_at_ms), ("console", 1, 42));
    assert_eq!(a.outcome, DeliveryOutcome::Delivered);
    assert_eq!(a.detail, "delivered to 2 consoles");
    assert_eq!(first.recv().await.unwrap(), notification(9));
    assert_eq!(second.recv().await.unwrap().alarm_id, 9);
}

#[tokio::test]
async fn fails_retryably_when_no_console_listens() {
    let (tx, rx) = broadcast::channel(8);
    let console = ConsoleChannel::new(tx).with_clock(|| 42);
    drop(rx);

    let attempts = console.send(&notification(10)).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, DeliveryOutcome::Failed { retryable: true });
    assert_eq!(attempts[0].detail, "no console is listening");

    // An operator connects: the next one goes through.
    let mut feed = console.subscribe();
    let attempts = console.send(&notification(11)).await;
    assert_eq!(attempts[0].outcome, DeliveryOutcome::Delivered);
    assert_eq!(attempts[0].detail, "delivered to 1 console");
    assert_eq!(feed.recv().await.unwrap().alarm_id, 11);
}
