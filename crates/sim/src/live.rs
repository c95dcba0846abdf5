//! The platform's live feed, as an operator console sees it: sign in, then read the
//! Server-Sent-Events stream `GET /api/v1/live` and note when each alarm arrives.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::{ApiConfig, Ctx};

/// One dispatched server-sent event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field (`message` when absent).
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// An incremental `text/event-stream` parser: feed it bytes as they arrive, in any pieces.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The previous byte was a CR (a CRLF's LF must not end a second line).
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the events completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    self.line(&line, &mut out);
                }
                _ => {
                    self.after_cr = false;
                    // A line longer than 1 MiB is not an alarm; drop it rather than grow forever.
                    if self.line.len() < 1 << 20 {
                        self.line.push(b);
                    }
                }
            }
        }
        out
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if self.has_data {
                let event = if self.event.is_empty() {
                    "message".to_string()
                } else {
                    std::mem::take(&mut self.event)
                };
                out.push(SseEvent { event, data: std::mem::take(&mut self.data) });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return; // a comment: keep-alive
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (text.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {} // id, retry, unknown fields
        }
    }
}

/// An alarm change seen on the feed.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveAlarm {
    pub alarm_id: Option<i64>,
    /// `fall`, `sos`, `vital`, …
    pub kind: String,
    /// `raised`, `repeat`, `answer`, …
    pub change: String,
    pub serial: Option<String>,
    /// When this client read it (wall-clock Unix ms).
    pub seen_ms: i64,
    /// When the server committed it (its clock).
    pub at_ms: Option<i64>,
}

#[derive(Deserialize)]
struct WireEvent {
    topic: Option<String>,
    at: Option<i64>,
    #[serde(default)]
    data: serde_json::Value,
}

/// The alarm in an `alarm` event's data, if it is one.
pub fn parse_alarm(ev: &SseEvent, seen_ms: i64) -> Option<LiveAlarm> {
    if ev.event != "alarm" {
        return None;
    }
    let w: WireEvent = serde_json::from_str(&ev.data).ok()?;
    if w.topic.as_deref().is_some_and(|t| t != "alarm") {
        return None;
    }
    let d = &w.data;
    Some(LiveAlarm {
        alarm_id: d.get("id").and_then(|v| v.as_i64()),
        kind: d.get("kind").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
        change: d.get("change").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
        serial: d.get("serial").and_then(|v| v.as_str()).map(str::to_string),
        seen_ms,
        at_ms: w.at,
    })
}

#[derive(Deserialize)]
struct LoginResponse {
    token: String,
}

async fn login(http: &reqwest::Client, api: &ApiConfig) -> anyhow::Result<String> {
    let url = format!("{}/api/v1/auth/login", api.base_url.trim_end_matches('/'));
    let body = serde_json::json!({ "username": api.username, "password": api.password });
    let resp = http.post(&url).json(&body).send().await.with_context(|| format!("POST {url}"))?;
    if !resp.status().is_success() {
        bail!("sign-in as {} refused: HTTP {}", api.username, resp.status());
    }
    Ok(resp.json::<LoginResponse>().await.context("sign-in response")?.token)
}

/// Reads the live feed until the task is aborted, reconnecting (and signing in again) after
/// any failure. Alarm changes go to `ctx.live`.
pub(crate) async fn follow(api: ApiConfig, ctx: Arc<Ctx>) {
    let http = match reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "live feed: no HTTP client");
            return;
        }
    };
    let mut failures = 0u32;
    loop {
        match stream_once(&http, &api, &ctx).await {
            Ok(()) => tracing::warn!("live feed closed by the server; reconnecting"),
            Err(e) => {
                failures += 1;
                if failures <= 3 || failures.is_power_of_two() {
                    tracing::warn!(error = format!("{e:#}"), "live feed unavailable; retrying in 2 s");
                }
            }
        }
        ctx.stats.live_connected.store(false, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn stream_once(http: &reqwest::Client, api: &ApiConfig, ctx: &Ctx) -> anyhow::Result<()> {
    let token = login(http, api).await?;
    let url = format!("{}/api/v1/live", api.base_url.trim_end_matches('/'));
    let mut resp = http
        .get(&url)
        .bearer_auth(token)
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    if !resp.status().is_success() {
        bail!("GET {url}: HTTP {}", resp.status());
    }
    tracing::info!("live feed connected: {url}");
    ctx.stats.live_connected.store(true, Ordering::Relaxed);
    ctx.stats.live_ever_connected.store(true, Ordering::Relaxed);
    let mut parser = SseParser::new();
    while let Some(chunk) = resp.chunk().await.context("reading the live feed")? {
        let seen = ctx.clock.now_ms();
        for ev in parser.push(&chunk) {
            if let Some(a) = parse_alarm(&ev, seen) {
                if a.change == "raised" {
                    ctx.stats.alarms_seen.fetch_add(1, Ordering::Relaxed);
                }
                ctx.live.lock().expect("live lock").push(a);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = ": keep-alive\n\nevent: device\ndata: {\"topic\":\"device\"}\n\n\
        event: alarm\r\ndata: {\"topic\":\"alarm\",\"region_code\":\"140213001001\",\"elder_id\":7,\
        \"responder_id\":null,\"at\":1700000000123,\"data\":{\"id\":42,\"kind\":\"fall\",\
        \"serial\":\"ZL-P-000001\",\"change\":\"raised\",\"raised_at\":1700000000100}}\r\n\r\n\
        data: first\ndata: second\nid: 9\nretry: 100\n\n";

    #[test]
    fn events_comments_and_line_endings() {
        let evs = SseParser::new().push(STREAM.as_bytes());
        assert_eq!(evs.len(), 3, "{evs:?}");
        assert_eq!(evs[0], SseEvent { event: "device".into(), data: "{\"topic\":\"device\"}".into() });
        assert_eq!(evs[1].event, "alarm");
        assert_eq!(evs[2], SseEvent { event: "message".into(), data: "first\nsecond".into() });
        let a = parse_alarm(&evs[1], 5).unwrap();
        assert_eq!(
            a,
            LiveAlarm {
                alarm_id: Some(42),
                kind: "fall".into(),
                change: "raised".into(),
                serial: Some("ZL-P-000001".into()),
                seen_ms: 5,
                at_ms: Some(1_700_000_000_123),
            }
        );
        assert!(parse_alarm(&evs[0], 5).is_none() && parse_alarm(&evs[2], 5).is_none());
    }

    #[test]
    fn any_split_gives_the_same_events() {
        let whole = SseParser::new().push(STREAM.as_bytes());
        let bytes = STREAM.as_bytes();
        for cut in 0..bytes.len() {
            let mut p = SseParser::new();
            let mut evs = p.push(&bytes[..cut]);
            evs.extend(p.push(&bytes[cut..]));
            assert_eq!(evs, whole, "split at {cut}");
        }
        let mut p = SseParser::new();
        let evs: Vec<SseEvent> = bytes.iter().flat_map(|b| p.push(std::slice::from_ref(b))).collect();
        assert_eq!(evs, whole);
    }

    #[test]
    fn incomplete_and_empty_events_are_not_dispatched() {
        let mut p = SseParser::new();
        assert!(p.push(b"event: alarm\n\n").is_empty(), "no data, no event");
        assert!(p.push(b"data: x").is_empty(), "not terminated");
        assert_eq!(p.push(b"\n\n").len(), 1);
        assert!(p.push(b":comment only\n\n\n").is_empty());
        // Bad JSON in an alarm event is ignored, not a panic.
        let ev = SseEvent { event: "alarm".into(), data: "{not json".into() };
        assert!(parse_alarm(&ev, 0).is_none());
    }
}
