//! The live feed: alarm, device and order changes in the viewer's scope as Server-Sent
//! Events, device positions as coarse as the viewer must see them.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use zhulao_domain::Action;

use crate::AppState;
use crate::access::{alarm_json_for, alarm_scope, position_digits, round_to, visible_live};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/live", get(live))
}

/// The live feed: alarm and device changes in the viewer's scope, as Server-Sent Events
/// (`event: alarm` / `event: device`, JSON data). A consumer too slow to keep up gets an
/// `event: lagged` with how many changes it missed, and should reload the queue.
pub async fn live(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Response> {
    user.require(Action::ReadAlarms)?;
    let scope = alarm_scope(&state, &user.viewer()).await?;
    let slot = state.streams.open(user.account.id).ok_or(ApiError::TooManyStreams)?;
    let viewer = user.viewer();
    let digits = position_digits(&viewer);
    let feed = Feed {
        rx: state.response.hub().subscribe(),
        scope,
        viewer,
        digits,
        store: state.store.clone(),
        token_hash: user.token_hash.clone(),
        recheck: tokio::time::interval_at(tokio::time::Instant::now() + SESSION_RECHECK, SESSION_RECHECK),
        checked: std::time::Instant::now(),
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok::<_, Infallible>(event), feed))
    });
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)));
    Ok((
        [(header::CACHE_CONTROL, "no-cache"), (header::HeaderName::from_static("x-accel-buffering"), "no")],
        sse,
    )
        .into_response())
}

/// Live feeds one account may have open at once on this instance (a console, a big screen and
/// a few tabs; a stolen session cannot open hundreds).
const MAX_STREAMS_PER_ACCOUNT: usize = 8;

/// Live feeds open per account.
#[derive(Debug, Default)]
pub(crate) struct Streams(std::sync::Mutex<std::collections::HashMap<i64, usize>>);

impl Streams {
    /// A place for one more feed of `account`, or `None` at the limit.
    fn open(self: &std::sync::Arc<Self>, account: i64) -> Option<StreamSlot> {
        let mut open = self.0.lock().expect("streams lock");
        let n = open.entry(account).or_default();
        if *n >= MAX_STREAMS_PER_ACCOUNT {
            return None;
        }
        *n += 1;
        Some(StreamSlot { streams: self.clone(), account })
    }
}

/// One open feed's place; freed when the feed ends.
struct StreamSlot {
    streams: std::sync::Arc<Streams>,
    account: i64,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.streams.0.lock().expect("streams lock");
        if let Some(n) = open.get_mut(&self.account) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.account);
            }
        }
    }
}

/// How often an open feed checks that its session still stands (logout, expiry, a
/// deactivated account end it).
const SESSION_RECHECK: Duration = Duration::from_secs(5);

/// One open live feed.
struct Feed {
    rx: tokio::sync::broadcast::Receiver<zhulao_response::LiveEvent>,
    scope: crate::access::AlarmScope,
    viewer: zhulao_domain::Viewer,
    digits: i32,
    store: std::sync::Arc<dyn zhulao_store::Store>,
    token_hash: String,
    recheck: tokio::time::Interval,
    checked: std::time::Instant,
    _slot: StreamSlot,
}

impl Feed {
    /// Whether the feed's session still stands (signed in, not expired, account active). A
    /// database error keeps the feed open (and is logged): an operator's feed does not drop
    /// with one failed query.
    async fn session_stands(&mut self) -> bool {
        self.checked = std::time::Instant::now();
        match self.store.session_account(&self.token_hash).await {
            Ok(found) => found.is_some(),
            Err(e) => {
                tracing::warn!(error = %e, "live feed: session check failed; kept open");
                true
            }
        }
    }

    /// The next event for this viewer; `None` ends the stream (the hub closed, or the session
    /// no longer stands).
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            tokio::select! {
                _ = self.recheck.tick() => {
                    if !self.session_stands().await {
                        return None;
                    }
                }
                got = self.rx.recv() => match got {
                    Ok(mut e) => {
                        if visible_live(&self.scope, &e) {
                            // Nothing leaves for a session that has ended since the last check
                            // (checked at most once a second on a busy feed).
                            if self.checked.elapsed() > Duration::from_secs(1) && !self.session_stands().await {
                                return None;
                            }
                            if e.topic == "device" {
                                coarsen_position(&mut e.data, self.digits);
                            } else if e.topic == "alarm" {
                                alarm_json_for(&self.viewer, &mut e.data);
                            }
                            return Some(SseEvent::default().event(e.topic).json_data(&e).unwrap_or_default());
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        return Some(SseEvent::default().event("lagged").data(format!("{{\"missed\":{n}}}")));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }
}

/// A device event's position as precise as the viewer may see it (the same grid as the map).
fn coarsen_position(data: &mut serde_json::Value, digits: i32) {
    for key in ["lat", "lon"] {
        if let Some(x) = data.get(key).and_then(serde_json::Value::as_f64) {
            data[key] = round_to(x, digits).into();
        }
    }
}
