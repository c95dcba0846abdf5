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
use crate::error::ApiResult;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/live", get(live))
}

/// The live feed: alarm and device changes in the viewer's scope, as Server-Sent Events
/// (`event: alarm` / `event: device`, JSON data). A consumer too slow to keep up gets an
/// `event: lagged` with how many changes it missed, and should reload the queue.
pub async fn live(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Response> {
    user.require(Action::ReadAlarms)?;
    let scope = alarm_scope(&state, &user.viewer()).await?;
    let viewer = user.viewer();
    let digits = position_digits(&viewer);
    let viewer = std::sync::Arc::new(viewer);
    let rx = state.response.hub().subscribe();
    let stream = futures_util::stream::unfold((rx, scope), move |(mut rx, scope)| {
        let viewer = viewer.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok(mut e) => {
                        if visible_live(&scope, &e) {
                            if e.topic == "device" {
                                coarsen_position(&mut e.data, digits);
                            } else if e.topic == "alarm" {
                                alarm_json_for(&viewer, &mut e.data);
                            }
                            let ev = SseEvent::default().event(e.topic).json_data(&e).unwrap_or_default();
                            return Some((Ok::<_, Infallible>(ev), (rx, scope)));
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        let ev = SseEvent::default().event("lagged").data(format!("{{\"missed\":{n}}}"));
                        return Some((Ok(ev), (rx, scope)));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)));
    Ok((
        [(header::CACHE_CONTROL, "no-cache"), (header::HeaderName::from_static("x-accel-buffering"), "no")],
        sse,
    )
        .into_response())
}

/// A device event's position as precise as the viewer may see it (the same grid as the map).
fn coarsen_position(data: &mut serde_json::Value, digits: i32) {
    for key in ["lat", "lon"] {
        if let Some(x) = data.get(key).and_then(serde_json::Value::as_f64) {
            data[key] = round_to(x, digits).into();
        }
    }
}
