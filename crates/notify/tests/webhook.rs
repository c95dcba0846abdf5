//! The webhook channel against a real axum receiver on 127.0.0.1 that checks every signature with
//! `verify_signature`, records what arrived and answers from a script.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use zhulao_notify::{
    Attempt, Channel, DeliveryOutcome, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, Notification,
    Recipient, RetryPolicy, WebhookChannel, WebhookConfig, WebhookPayload, verify_signature,
};

const SECRET: &str = "whsec_0123456789abcdef0123456789abcdef";
const NOW_MS: i64 = 1_700_000_000_123;

/// One scripted answer.
#[derive(Clone, Copy)]
struct Reply {
    status: u16,
    retry_after: Option<&'static str>,
    delay: Duration,
}

fn reply(status: u16) -> Reply {
    Reply { status, retry_after: None, delay: Duration::ZERO }
}

/// What one request looked like to the receiver.
#[derive(Debug, Clone)]
struct Call {
    id: String,
    timestamp: String,
    signature_ok: bool,
    payload: Option<WebhookPayload>,
    at: Instant,
}

#[derive(Default)]
struct Receiver {
    script: Mutex<VecDeque<Reply>>,
    calls: Mutex<Vec<Call>>,
}

impl Receiver {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

async fn hook(State(rx): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    let timestamp = header(&headers, HEADER_TIMESTAMP);
    let signature_ok =
        verify_signature(SECRET.as_bytes(), &timestamp, &body, &header(&headers, HEADER_SIGNATURE));
    rx.calls.lock().unwrap().push(Call {
        id: header(&headers, HEADER_ID),
        timestamp,
        signature_ok,
        payload: serde_json::from_slice(&body).ok(),
        at: Instant::now(),
    });
    if !signature_ok {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let next = rx.script.lock().unwrap().pop_front().unwrap_or(reply(200));
    tokio::time::sleep(next.delay).await;
    let status = StatusCode::from_u16(next.status).unwrap();
    match next.retry_after {
        Some(after) => (status, [("retry-after", after)], "").into_response(),
        None => (status, "").into_response(),
    }
}

/// Starts a receiver answering `script` in order (then 200); returns its URL.
async fn receiver(script: Vec<Reply>) -> (String, Arc<Receiver>) {
    let rx = Arc::new(Receiver { script: Mutex::new(script.into()), calls: Mutex::default() });
    let app = Router::new().route("/hook", post(hook)).with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook?token=not-for-logs"), rx)
}

fn fast(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(5),
        attempt_timeout: Duration::from_secs(5),
    }
}

fn channel(url: &str, secret: &str, retry: RetryPolicy) -> WebhookChannel {
    WebhookChannel::new(WebhookConfig { url: url.to_owned(), secret: secret.to_owned(), retry })
        .unwrap()
        .with_clock(|| NOW_MS)
}

fn notification() -> Notification {
    Notification {
        id: "alarm-123-family-0-attempt-1".into(),
        alarm_id: 123,
        kind: "family_call".into(),
        recipient: Recipient::new("王芳", "family").phone("13812345678").email("wangfang@example.cn"),
        subject_zh: "跌倒告警".into(),
        subject_en: "Fall alarm".into(),
        body_zh: "王秀英可能跌倒，请尽快联系。".into(),
        body_en: "Wang Xiuying may have fallen; please call.".into(),
        data: serde_json::json!({
            "alarm_kind": "fall",
            "elder": "王秀英",
            "location": { "lat": 39.9, "lon": 116.4 },
            "link": "https://zhulao.example.cn/alarms/123"
        }),
    }
}

/// No attempt text may carry the secret, the URL's query, the phone number or the address.
fn assert_masked(attempts: &[Attempt], port: u16) {
    for a in attempts {
        assert_eq!(a.channel, "webhook");
        assert_eq!(a.target, format!("127.0.0.1:{port}"));
        for secret in [SECRET, "not-for-logs", "13812345678", "wangfang@example.cn"] {
            assert!(!a.detail.contains(secret) && !a.target.contains(secret), "{a:?} leaks {secret}");
        }
    }
}

fn port(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().split('/').next().unwrap().parse().unwrap()
}

fn outcomes(attempts: &[Attempt]) -> Vec<DeliveryOutcome> {
    attempts.iter().map(|a| a.outcome).collect()
}

const RETRY: DeliveryOutcome = DeliveryOutcome::Failed { retryable: true };
const PERMANENT: DeliveryOutcome = DeliveryOutcome::Failed { retryable: false };

#[tokio::test]
async fn two_server_errors_then_delivered_with_one_idempotency_key() {
    let (url, rx) = receiver(vec![reply(500), reply(500), reply(200)]).await;
    let ch: Arc<dyn Channel> = Arc::new(channel(&url, SECRET, fast(4)));
    let n = notification();

    let attempts = ch.send(&n).await;

    assert_eq!(outcomes(&attempts), [RETRY, RETRY, DeliveryOutcome::Delivered]);
    assert_eq!(attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(attempts.iter().map(|a| a.status).collect::<Vec<_>>(), [Some(500), Some(500), Some(200)]);
    assert_eq!(attempts[2].detail, "HTTP 200");
    assert!(attempts.iter().all(|a| a.started_at_ms == NOW_MS));
    assert_masked(&attempts, port(&url));

    let calls = rx.calls();
    assert_eq!(calls.len(), 3);
    for call in &calls {
        assert!(call.signature_ok);
        assert_eq!(call.id, "alarm-123-family-0-attempt-1", "idempotency key constant across retries");
        assert_eq!(call.timestamp, "1700000000");
        let payload = call.payload.as_ref().unwrap();
        assert_eq!(payload.id, n.id);
        assert_eq!(payload.alarm_id, 123);
        assert_eq!(payload.kind, "family_call");
        assert_eq!(payload.sent_at, NOW_MS);
        assert_eq!(payload.subject.zh, "跌倒告警");
        assert_eq!(payload.body.en, n.body_en);
        assert_eq!(payload.data, n.data);
        // The receiver has to reach the person, so the payload itself carries the real number.
        assert_eq!(payload.recipient.phone.as_deref(), Some("13812345678"));
    }
}

#[tokio::test]
async fn client_error_is_one_permanent_failure() {
    let (url, rx) = receiver(vec![reply(400)]).await;
    let attempts = channel(&url, SECRET, fast(4)).send(&notification()).await;
    assert_eq!(outcomes(&attempts), [PERMANENT]);
    assert_eq!(attempts[0].status, Some(400));
    assert_eq!(attempts[0].detail, "HTTP 400");
    assert_eq!(rx.calls().len(), 1);
}

#[tokio::test]
async fn timeout_and_too_many_requests_are_retried() {
    let (url, _rx) = receiver(vec![reply(408), reply(429), reply(204)]).await;
    let attempts = channel(&url, SECRET, fast(4)).send(&notification()).await;
    assert_eq!(outcomes(&attempts), [RETRY, RETRY, DeliveryOutcome::Delivered]);
    assert_eq!(attempts[2].status, Some(204));
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_receiver() {
    let (url, rx) = receiver(vec![]).await;
    let attempts = channel(&url, "another-secret", fast(4)).send(&notification()).await;
    assert_eq!(outcomes(&attempts), [PERMANENT]);
    assert_eq!(attempts[0].status, Some(401));
    assert!(!rx.calls()[0].signature_ok);
}

#[tokio::test]
async fn a_slow_server_gives_timed_out_attempts() {
    let slow = Reply { delay: Duration::from_secs(3), ..reply(200) };
    let (url, rx) = receiver(vec![slow, slow]).await;
    let retry = RetryPolicy { attempt_timeout: Duration::from_millis(200), ..fast(2) };
    let t0 = Instant::now();
    let attempts = channel(&url, SECRET, retry).send(&notification()).await;
    assert!(t0.elapsed() < Duration::from_secs(2), "the channel did not wait for the slow answers");
    assert_eq!(outcomes(&attempts), [RETRY, RETRY]);
    for a in &attempts {
        assert_eq!(a.detail, "timed out after 200 ms");
        assert_eq!(a.status, None);
        assert!((200..1_000).contains(&a.duration_ms), "{a:?}");
    }
    assert_eq!(rx.calls().len(), 2);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (url, rx) = receiver(vec![Reply { retry_after: Some("1"), ..reply(503) }, reply(200)]).await;
    // The backoff alone would wait 5–10 ms; the server asks for a second.
    let attempts = channel(&url, SECRET, fast(3)).send(&notification()).await;
    assert_eq!(outcomes(&attempts), [RETRY, DeliveryOutcome::Delivered]);
    assert_eq!(attempts[0].detail, "HTTP 503, Retry-After 1 s");
    let calls = rx.calls();
    let gap = calls[1].at - calls[0].at;
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
    assert!(gap < Duration::from_secs(3), "retried after {gap:?}");
}

#[tokio::test]
async fn retry_after_is_capped_by_max_delay() {
    let (url, rx) = receiver(vec![Reply { retry_after: Some("3600"), ..reply(429) }, reply(200)]).await;
    let retry = RetryPolicy { max_delay: Duration::from_millis(300), ..fast(3) };
    let attempts = channel(&url, SECRET, retry).send(&notification()).await;
    assert_eq!(outcomes(&attempts), [RETRY, DeliveryOutcome::Delivered]);
    let calls = rx.calls();
    let gap = calls[1].at - calls[0].at;
    assert!(gap >= Duration::from_millis(300) && gap < Duration::from_secs(3), "retried after {gap:?}");
}

#[tokio::test]
async fn a_closed_port_gives_retryable_connection_failures() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/hook");
    let attempts = channel(&url, SECRET, fast(3)).send(&notification()).await;
    assert_eq!(outcomes(&attempts), [RETRY, RETRY, RETRY]);
    assert!(attempts.iter().all(|a| a.detail == "connection failed" && a.status.is_none()));
    assert_masked(&attempts, addr.port());
}
