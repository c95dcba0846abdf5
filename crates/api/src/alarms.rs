//! The alarm endpoints — the call centre's queue and steps, responders' steps, response-time
//! statistics — the live feed (Server-Sent Events, scoped per viewer) and `/metrics`.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use zhulao_alarms::{AlarmKind, Assessment, Command, Outcome, TravelMode, response_stats};
use zhulao_alarms::{AlarmLocation, AlarmRow, AlarmSource, LocationSource, NewAlarm, Raised};
use zhulao_domain::{Action, ElderScope, FieldError, GeoPoint, Role, Viewer};
use zhulao_response::{ActError, LiveEvent, ResponderPosition, alarm_summary};
use zhulao_store::{AlarmFilter, ElderFilter};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::views::{ElderView, PageView};

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/alarms", get(list_alarms).post(raise_alarm))
        .route("/alarms/stats", get(alarm_stats))
        .route("/alarms/{id}", get(get_alarm))
        .route("/alarms/{id}/responders", get(alarm_responders))
        .route("/alarms/{id}/{step}", post(alarm_step))
        .route("/me/position", post(report_position))
        .route("/devices/{id}/config", post(device_config))
        .route("/devices/{id}/commands", post(device_command))
        .route("/live", get(live))
}

/// Who sees which alarms: the call centre and supervisors by region, care managers and
/// family their elders, responders what they are dispatched to.
#[derive(Debug, Clone)]
pub(crate) enum AlarmScope {
    All,
    Region(String),
    Elders(HashSet<i64>),
    Responder(i64),
}

pub(crate) async fn alarm_scope(state: &AppState, v: &Viewer) -> ApiResult<AlarmScope> {
    Ok(match v.role {
        Role::Admin => AlarmScope::All,
        Role::Supervisor | Role::Operator => match &v.region {
            Some(r) => AlarmScope::Region(r.prefix().to_string()),
            None => AlarmScope::All,
        },
        Role::CareManager | Role::Family => {
            let scope = if v.role == Role::Family {
                ElderScope::Family(v.account_id)
            } else {
                ElderScope::CareManager(v.account_id)
            };
            let mut f = ElderFilter::scoped(scope);
            f.limit = 5000;
            let elders = state.store.list_elders(&f).await?;
            AlarmScope::Elders(elders.items.into_iter().map(|e| e.id).collect())
        }
        Role::Caregiver | Role::StationStaff => AlarmScope::Responder(v.account_id),
    })
}

impl AlarmScope {
    pub(crate) fn apply(&self, f: &mut AlarmFilter) {
        match self {
            AlarmScope::All => {}
            AlarmScope::Region(p) => f.region_prefix = Some(p.clone()),
            AlarmScope::Elders(ids) => f.elder_ids = Some(ids.iter().copied().collect()),
            AlarmScope::Responder(id) => f.responder_id = Some(*id),
        }
    }

    fn covers(&self, region: &str, elder: Option<i64>, responder: Option<i64>) -> bool {
        match self {
            AlarmScope::All => true,
            AlarmScope::Region(p) => region.starts_with(p.as_str()),
            AlarmScope::Elders(ids) => elder.is_some_and(|e| ids.contains(&e)),
            AlarmScope::Responder(id) => responder == Some(*id),
        }
    }

    fn covers_row(&self, a: &AlarmRow) -> bool {
        // A responder keeps seeing an alarm they were once sent to.
        if let AlarmScope::Responder(id) = self
            && a.case.offers.iter().any(|o| o.responder == *id)
        {
            return true;
        }
        self.covers(&a.region_code, a.elder_id, a.case.current_offer().map(|o| o.responder))
    }
}

/// An alarm as a list shows it: the summary plus the elder's name where the role may see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlarmView {
    #[schema(value_type = Object)]
    pub alarm: serde_json::Value,
    pub elder_name: Option<String>,
    /// GCJ-02 position for Chinese web maps (the stored position is WGS-84).
    pub location_gcj02: Option<[f64; 2]>,
}

async fn alarm_view(state: &AppState, a: &AlarmRow) -> ApiResult<AlarmView> {
    let elder_name = match a.elder_id {
        Some(e) => Some(state.store.elder(e).await?.record.name),
        None => None,
    };
    Ok(AlarmView {
        alarm: alarm_summary(a),
        elder_name,
        location_gcj02: a.location.map(|l| {
            let (lat, lon) = zhulao_proto::coords::wgs84_to_gcj02(l.lat, l.lon);
            [lat, lon]
        }),
    })
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct AlarmQuery {
    pub open: Option<bool>,
    /// fall, sos, bedside, vital, inactivity, device_removed, offline, low_battery, geofence_exit.
    pub kind: Option<String>,
    pub elder_id: Option<i64>,
    /// Raised at or after (Unix ms).
    pub since: Option<i64>,
    /// Raised before (Unix ms).
    pub until: Option<i64>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// The alarm queue: open alarms first, most urgent and oldest first; then closed ones.
#[utoipa::path(get, path = "/api/v1/alarms", params(AlarmQuery), responses((status = 200, body = PageView<AlarmView>)))]
pub async fn list_alarms(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<AlarmQuery>,
) -> ApiResult<Json<PageView<AlarmView>>> {
    user.require(Action::ReadAlarms)?;
    let per_page = q.per_page.unwrap_or(20).clamp(1, 200);
    let page = q.page.unwrap_or(1).max(1);
    let kind = match q.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => Some(AlarmKind::parse_field("kind", k).map_err(ApiError::field)?),
        None => None,
    };
    let mut f = AlarmFilter {
        open: q.open,
        kind,
        elder_id: q.elder_id,
        since: q.since,
        until: q.until,
        offset: (page - 1).saturating_mul(per_page),
        limit: per_page,
        ..Default::default()
    };
    alarm_scope(&state, &user.viewer()).await?.apply(&mut f);
    let rows = state.store.list_alarms(&f).await?;
    let mut items = Vec::with_capacity(rows.items.len());
    for a in &rows.items {
        items.push(alarm_view(&state, a).await?);
    }
    Ok(Json(PageView { items, total: rows.total, page, per_page }))
}

/// Everything about one alarm: the case, its timeline, every notification attempt, the elder
/// (masked by role) and the device's latest state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlarmDetail {
    #[serde(flatten)]
    pub view: AlarmView,
    #[schema(value_type = Object)]
    pub case: serde_json::Value,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub timeline: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub notifications: Vec<serde_json::Value>,
    pub elder: Option<ElderView>,
    #[schema(value_type = Option<Object>)]
    pub device_state: Option<serde_json::Value>,
}

async fn visible_alarm(state: &AppState, user: &CurrentUser, id: i64) -> ApiResult<AlarmRow> {
    user.require(Action::ReadAlarms)?;
    let a = state.store.alarm(id).await?;
    if alarm_scope(state, &user.viewer()).await?.covers_row(&a) {
        Ok(a)
    } else {
        Err(ApiError::NotFound("alarm"))
    }
}

#[utoipa::path(get, path = "/api/v1/alarms/{id}", responses((status = 200, body = AlarmDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_alarm(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AlarmDetail>> {
    let a = visible_alarm(&state, &user, id).await?;
    let v = user.viewer();
    let elder = match a.elder_id {
        Some(e) => {
            let e = state.store.elder(e).await?;
            Some(ElderView::new(e, zhulao_domain::policy::personal_data(&v), state.store.clock().today()))
        }
        None => None,
    };
    // Vital signs are health data: only for roles that may see the health record.
    let health = zhulao_domain::policy::personal_data(&v).health;
    let device_state = match a.device_id {
        Some(d) => state.store.device_state(d).await?.map(|mut s| {
            if !health {
                s.vitals = None;
                s.vitals_at = None;
            }
            serde_json::to_value(s).unwrap_or_default()
        }),
        None => None,
    };
    let timeline =
        state.store.alarm_events(id).await?.into_iter().map(|e| serde_json::to_value(e).unwrap_or_default());
    let notifications = state
        .store
        .alarm_notifications(id)
        .await?
        .into_iter()
        .map(|n| serde_json::to_value(n).unwrap_or_default());
    Ok(Json(AlarmDetail {
        view: alarm_view(&state, &a).await?,
        case: serde_json::to_value(&a.case).unwrap_or_default(),
        // What decided a vital-sign alarm (the measured values) is health data too.
        detail: if health {
            let mut d = a.detail.clone();
            if let Some(o) = d.as_object_mut() {
                o.insert("serial".into(), a.serial.clone().into());
            }
            d
        } else {
            serde_json::json!({ "serial": a.serial })
        },
        timeline: timeline.collect(),
        notifications: notifications.collect(),
        elder,
        device_state,
    }))
}

/// A responder the call centre could send, as the alarm's map shows them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResponderView {
    pub account_id: i64,
    pub display_name: String,
    /// caregiver or station_staff.
    pub role: String,
    /// WGS-84: their phone's last position, or their station's.
    pub lat: f64,
    pub lon: f64,
    /// walk, e_bike, car.
    pub mode: String,
    pub distance_m: f64,
    pub eta_s: u32,
}

/// The nearest available responders to an open alarm (up to 5, fastest first): who the
/// dispatch step would choose from. The call centre only.
#[utoipa::path(get, path = "/api/v1/alarms/{id}/responders",
    responses((status = 200, body = Vec<ResponderView>), (status = 404, body = crate::error::ErrorBody)))]
pub async fn alarm_responders(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<ResponderView>>> {
    user.require(Action::HandleAlarms)?;
    let a = visible_alarm(&state, &user, id).await?;
    if !a.case.is_open() {
        return Ok(Json(Vec::new()));
    }
    let ranked = state.response.nearest_responders(&a, 5).await?;
    let mut out = Vec::with_capacity(ranked.len());
    for r in ranked {
        let acc = state.store.account(r.account_id).await?;
        out.push(ResponderView {
            account_id: r.account_id,
            display_name: acc.display_name,
            role: acc.role.as_str().to_string(),
            lat: r.at.lat,
            lon: r.at.lon,
            mode: match r.mode {
                TravelMode::Walk => "walk",
                TravelMode::EBike => "e_bike",
                TravelMode::Car => "car",
            }
            .to_string(),
            distance_m: r.distance_m.round(),
            eta_s: r.eta_s,
        });
    }
    Ok(Json(out))
}

/// A step's parameters; which are needed depends on the step.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StepBody {
    /// assess: false_alarm, phone_advice, home_visit, emergency.
    pub assessment: Option<String>,
    /// dispatch: a responder's account id; absent = the nearest available.
    pub responder_id: Option<i64>,
    /// family-result: the contact's position in the elder's list (0-based).
    pub contact: Option<usize>,
    /// family-result: whether they confirmed.
    pub confirmed: Option<bool>,
    /// close: false_alarm, resolved_by_phone, resolved_on_site, hospitalised, other.
    pub outcome: Option<String>,
    pub notes: Option<String>,
}

fn missing(field: &str) -> ApiError {
    ApiError::field(FieldError::new(
        field,
        "required",
        format!("缺少 {field}"),
        format!("{field} is required"),
    ))
}

fn act_error(e: ActError) -> ApiError {
    match e {
        ActError::Transition(t) => ApiError::Conflict(FieldError::new("alarm", t.code(), t.zh(), t.en())),
        ActError::Contended => ApiError::Conflict(FieldError::new(
            "alarm",
            "alarm_busy",
            "警情正在被其他人同时处理，请稍后重试",
            "the alarm is being changed by someone else; try again",
        )),
        ActError::Store(s) => s.into(),
    }
}

/// One step of the response chain. The call centre: `answer`, `assess`, `dispatch`,
/// `called-120`, `notify-family`, `family-result`, `close`. The dispatched responder:
/// `accept`, `decline`, `on-site`.
#[utoipa::path(post, path = "/api/v1/alarms/{id}/{step}", request_body = StepBody,
    responses((status = 200, body = AlarmView), (status = 409, body = crate::error::ErrorBody)))]
pub async fn alarm_step(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, step)): ApiPath<(i64, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<AlarmView>> {
    // The body is optional: most steps need none.
    let b: StepBody = if body.iter().all(u8::is_ascii_whitespace) {
        StepBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest {
            code: "invalid_json",
            zh: format!("请求内容不是有效的 JSON：{e}"),
            en: format!("the body is not valid JSON: {e}"),
        })?
    };
    let a = visible_alarm(&state, &user, id).await?;
    let me = user.account.id;
    let (cmd, actor_kind) = match step.as_str() {
        "answer" | "assess" | "dispatch" | "called-120" | "notify-family" | "family-result" | "close" => {
            user.require(Action::HandleAlarms)?;
            let cmd = match step.as_str() {
                "answer" => Command::Answer { by: me },
                "assess" => {
                    let s = b.assessment.as_deref().ok_or_else(|| missing("assessment"))?;
                    Command::Assess {
                        by: me,
                        assessment: Assessment::parse_field("assessment", s).map_err(ApiError::field)?,
                    }
                }
                "dispatch" => match b.responder_id {
                    Some(r) => {
                        let acc = state.store.account(r).await?;
                        if !matches!(acc.role, Role::Caregiver | Role::StationStaff) || !acc.active {
                            return Err(ApiError::field(FieldError::new(
                                "responder_id",
                                "not_a_responder",
                                "只能派遣在岗的助老员或服务站人员",
                                "only an active caregiver or station staff member can be dispatched",
                            )));
                        }
                        Command::Dispatch { responder: r, eta_s: 0 }
                    }
                    None => {
                        state.response.dispatch_nearest_now(&a).await.map_err(act_error)?;
                        let a = state.store.alarm(id).await?;
                        return Ok(Json(alarm_view(&state, &a).await?));
                    }
                },
                "called-120" => Command::Called120 { by: me },
                "notify-family" => Command::NotifyFamily,
                "family-result" => Command::FamilyResult {
                    contact: b.contact.ok_or_else(|| missing("contact"))?,
                    confirmed: b.confirmed.ok_or_else(|| missing("confirmed"))?,
                },
                _ => {
                    let s = b.outcome.as_deref().ok_or_else(|| missing("outcome"))?;
                    let notes = b.notes.unwrap_or_default();
                    if notes.chars().count() > 2000 {
                        return Err(ApiError::field(FieldError::new(
                            "notes",
                            "too_long",
                            "备注不超过2000字",
                            "notes: at most 2000 characters",
                        )));
                    }
                    Command::Close {
                        by: me,
                        outcome: Outcome::parse_field("outcome", s).map_err(ApiError::field)?,
                        notes,
                    }
                }
            };
            (cmd, "operator")
        }
        "accept" | "decline" | "on-site" => {
            user.require(Action::RespondAlarms)?;
            let cmd = match step.as_str() {
                "accept" => Command::Accept { responder: me },
                "decline" => Command::Decline { responder: me },
                _ => Command::OnSite { responder: me },
            };
            (cmd, "responder")
        }
        _ => return Err(ApiError::NotFound("route")),
    };
    let saved = state.response.act(id, &cmd, user.actor(), actor_kind).await.map_err(act_error)?;
    Ok(Json(alarm_view(&state, &saved).await?))
}

/// An alarm the call centre raises itself (a phone call from an elder without a device).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RaiseInput {
    pub elder_id: i64,
    pub kind: String,
    #[serde(default)]
    pub notes: String,
}

#[utoipa::path(post, path = "/api/v1/alarms", request_body = RaiseInput, responses((status = 201, body = AlarmView)))]
pub async fn raise_alarm(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<RaiseInput>,
) -> ApiResult<(StatusCode, Json<AlarmView>)> {
    user.require(Action::HandleAlarms)?;
    let kind = AlarmKind::parse_field("kind", &input.kind).map_err(ApiError::field)?;
    let elder = state.store.elder(input.elder_id).await?;
    if !zhulao_domain::policy::covers_region(&user.viewer(), &elder.record.region) {
        return Err(ApiError::NotFound("elder"));
    }
    let alarm = NewAlarm {
        kind,
        elder_id: Some(elder.id),
        device_id: None,
        region_code: elder.record.region.as_str().to_string(),
        location: elder.record.location.map(|h| AlarmLocation {
            lat: h.lat,
            lon: h.lon,
            source: LocationSource::Home,
            at: None,
        }),
        serial: None,
        source: AlarmSource::Operator,
        impact_ms: None,
        detail: serde_json::json!({ "raised_by": user.account.id, "notes": input.notes }),
        contacts: elder.record.contacts.len(),
        msg_id: None,
    };
    let raised = state.response.raise(&alarm).await.map_err(act_error)?;
    let id = match raised {
        Raised::New(a) | Raised::Merged(a) => a.id,
        Raised::Duplicate { alarm_id } => alarm_id.unwrap_or_default(),
    };
    let a = state.store.alarm(id).await?;
    Ok((StatusCode::CREATED, Json(alarm_view(&state, &a).await?)))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct StatsQuery {
    /// From (Unix ms); default: the last 30 days.
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// Response times per step (p50, p90, share within target) over alarms in the viewer's scope.
#[utoipa::path(get, path = "/api/v1/alarms/stats", params(StatsQuery), responses((status = 200, body = Object)))]
pub async fn alarm_stats(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    user.require(Action::ReadAlarms)?;
    if !matches!(user.account.role, Role::Admin | Role::Supervisor | Role::Operator) {
        return Err(ApiError::Forbidden);
    }
    let now = state.store.clock().now_ms();
    let mut f = AlarmFilter {
        since: Some(q.since.unwrap_or(now - 30 * 86_400_000)),
        until: q.until,
        limit: 100_000,
        ..Default::default()
    };
    alarm_scope(&state, &user.viewer()).await?.apply(&mut f);
    let rows = state.store.list_alarms(&f).await?;
    let cases: Vec<_> = rows.items.iter().map(|a| a.case.clone()).collect();
    let policy = match &f.region_prefix {
        Some(p) => *state.response.policies().for_region(p),
        None => state.response.policies().default,
    };
    let mut by_kind = std::collections::BTreeMap::<&str, usize>::new();
    for c in &cases {
        *by_kind.entry(c.kind.as_str()).or_default() += 1;
    }
    Ok(Json(serde_json::json!({
        "alarms": cases.len(),
        "open": cases.iter().filter(|c| c.is_open()).count(),
        "by_kind": by_kind,
        "steps": response_stats(&cases, &policy),
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionInput {
    pub lat: f64,
    pub lon: f64,
    pub on_duty: bool,
    /// walk, e_bike, car.
    #[serde(default)]
    pub mode: Option<String>,
}

/// A responder's phone reports where they are (WGS-84) and whether they are on duty.
#[utoipa::path(post, path = "/api/v1/me/position", request_body = PositionInput, responses((status = 204)))]
pub async fn report_position(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(p): ApiJson<PositionInput>,
) -> ApiResult<StatusCode> {
    user.require(Action::RespondAlarms)?;
    let at = GeoPoint::new(p.lat, p.lon).map_err(ApiError::field)?;
    let mode = match p.mode.as_deref() {
        None | Some("e_bike") => TravelMode::EBike,
        Some("walk") => TravelMode::Walk,
        Some("car") => TravelMode::Car,
        Some(_) => {
            return Err(ApiError::field(FieldError::new(
                "mode",
                "unknown_value",
                "出行方式应为 walk、e_bike 或 car",
                "mode must be walk, e_bike or car",
            )));
        }
    };
    state.response.report_position(
        user.account.id,
        ResponderPosition { at, reported_at: state.store.clock().now_ms(), on_duty: p.on_duty, mode },
    );
    // A caregiver's duty and position also decide which service orders they are offered.
    if user.account.role == Role::Caregiver {
        state
            .orders
            .report_caregiver(user.account.id, p.on_duty, Some(at))
            .await
            .map_err(|e| crate::orders::service_error(e, "position"))?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The live feed: alarm and device changes in the viewer's scope, as Server-Sent Events
/// (`event: alarm` / `event: device`, JSON data). A consumer too slow to keep up gets an
/// `event: lagged` with how many changes it missed, and should reload the queue.
pub async fn live(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Response> {
    user.require(Action::ReadAlarms)?;
    let scope = alarm_scope(&state, &user.viewer()).await?;
    let digits = crate::map::position_digits(&user.viewer());
    let rx = state.response.hub().subscribe();
    let stream = futures_util::stream::unfold((rx, scope), move |(mut rx, scope)| async move {
        loop {
            match rx.recv().await {
                Ok(mut e) => {
                    if visible_live(&scope, &e) {
                        if e.topic == "device" {
                            coarsen_position(&mut e.data, digits);
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
            data[key] = crate::map::round_to(x, digits).into();
        }
    }
}

fn visible_live(scope: &AlarmScope, e: &LiveEvent) -> bool {
    match scope {
        // An order on offer goes to the caregiver it is offered to, and nobody else.
        _ if e.topic == "order_offer" => {
            matches!(scope, AlarmScope::Responder(id) if e.responder_id == Some(*id))
        }
        // Device dots are for the region's screens, not for a responder's phone.
        AlarmScope::Responder(_) if e.topic == "device" => false,
        _ => scope.covers(&e.region_code, e.elder_id, e.responder_id),
    }
}

/// Prometheus metrics of the device pipeline (no personal data).
pub async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.as_ref().map(|m| m()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body)
        .into_response()
}

/// Settings to push to a device; the SOS contacts come from the bound elder's record.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceConfigInput {
    /// Seconds between vital-sign, position and battery reports (10–86400).
    pub report_interval_s: Option<u32>,
    /// Heart-rate alarm thresholds on the device, bpm (20–250).
    pub hr_low: Option<u16>,
    pub hr_high: Option<u16>,
    /// low, normal, high.
    pub fall_sensitivity: Option<String>,
}

/// Pushes settings to a device over its downlink (`down/config`, retained by the broker so a
/// device that is offline gets them when it connects). The elder's emergency contacts go along
/// as the device's SOS numbers.
#[utoipa::path(post, path = "/api/v1/devices/{id}/config", request_body = DeviceConfigInput,
    responses((status = 202, body = Object), (status = 422, body = crate::error::ErrorBody)))]
pub async fn device_config(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<DeviceConfigInput>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    user.require(Action::ManageDevices)?;
    let device = crate::routes::visible_device(&state, &user, id).await?;
    let contacts = match device.elder_id {
        Some(e) => {
            let elder = state.store.elder(e).await?;
            let list: Vec<zhulao_proto::ConfigContact> = elder
                .record
                .contacts
                .iter()
                .map(|c| zhulao_proto::ConfigContact {
                    name: c.name.clone(),
                    phone: c.phone.as_str().to_string(),
                })
                .collect();
            Some(list)
        }
        None => None,
    };
    let fall_sensitivity = match input.fall_sensitivity.as_deref() {
        None => None,
        Some(s) => Some(zhulao_proto::FallSensitivity::parse(s).ok_or_else(|| {
            ApiError::field(FieldError::new(
                "fall_sensitivity",
                "unknown_value",
                "跌倒灵敏度应为 low、normal 或 high",
                "fall_sensitivity must be low, normal or high",
            ))
        })?),
    };
    let msg = zhulao_proto::DeviceConfigMsg {
        report_interval_s: input.report_interval_s,
        contacts,
        hr_low: input.hr_low,
        hr_high: input.hr_high,
        fall_sensitivity,
        silent: None,
    };
    let msg_contacts = msg.contacts.as_ref().map(Vec::len);
    let payload = zhulao_proto::Downlink::Config(msg).encode();
    // The device protocol's own rules decide what the device accepts.
    if let Err(e) = zhulao_proto::decode_downlink(zhulao_proto::Kind::Config, &payload) {
        return Err(ApiError::field(FieldError::new(
            e.field().unwrap_or("config"),
            e.code(),
            e.zh(),
            e.en(),
        )));
    }
    // Audited before it leaves: the contacts' phones are the elder record's, so not repeated.
    let detail = serde_json::json!({
        "report_interval_s": input.report_interval_s,
        "hr_low": input.hr_low,
        "hr_high": input.hr_high,
        "fall_sensitivity": input.fall_sensitivity,
        "contacts": msg_contacts,
    });
    state.store.record_action(user.actor(), "config", "device", device.id, &detail).await?;
    // Kept until a TCP watch logs in (MQTT devices get them retained by the broker).
    state.store.queue_device_config(device.id, &String::from_utf8_lossy(&payload)).await?;
    state.response.send_to_device(
        device.id,
        zhulao_response::Downlink::Config { serial: device.serial.clone(), payload },
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "device_id": device.id, "serial": device.serial, "queued": true })),
    ))
}

/// Sends a command to a watch connected over TCP (3G or IW protocol): `{"command":
/// "find_device"}`, `"locate_now"`, `"measure_heart_rate"`, `"reboot"`, `{"command":
/// "report_interval", "seconds": 300}`, `{"command": "heart_rate_interval", "minutes": 30}`,
/// `{"command": "silent_hours", "periods": [["22:00", "06:30"]]}`, `{"command":
/// "sos_numbers", "numbers": ["138…"]}`, `{"command": "phonebook", "contacts": [{"name",
/// "phone"}]}`, `{"command": "message", "text": "…"}`. The watch must be connected to this
/// instance now (409 otherwise); MQTT devices take `/config` instead (422).
#[utoipa::path(post, path = "/api/v1/devices/{id}/commands", request_body = Object,
    responses((status = 202, body = Object), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn device_command(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<serde_json::Value>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    user.require(Action::ManageDevices)?;
    let device = crate::routes::visible_device(&state, &user, id).await?;
    let name = input.get("command").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
    // Audited before it is sent; the arguments may hold phone numbers: only their names go in.
    let args: Vec<&String> =
        input.as_object().map(|o| o.keys().filter(|k| *k != "command").collect()).unwrap_or_default();
    let detail = serde_json::json!({ "command": name, "arguments": args });
    state.store.record_action(user.actor(), "command", "device", device.id, &detail).await?;
    match state.response.device_command(device.id, &input) {
        Ok(()) => {
            // The command's arguments may hold phone numbers: only its name is logged.
            tracing::info!(device = device.id, command = %name, "device command sent");
            Ok((
                StatusCode::ACCEPTED,
                Json(
                    serde_json::json!({ "device_id": device.id, "serial": device.serial, "command": name, "sent": true }),
                ),
            ))
        }
        Err(zhulao_response::CommandRefused::NotConnected) => Err(ApiError::Conflict(FieldError::new(
            "device",
            "device_not_connected",
            "手表当前未连接，请稍后再试",
            "the watch is not connected now; try again later",
        ))),
        Err(zhulao_response::CommandRefused::Unsupported) => Err(ApiError::field(FieldError::new(
            "command",
            "unsupported",
            "该设备不支持远程命令，请使用设备设置",
            "this device takes settings (/config), not commands",
        ))),
        Err(zhulao_response::CommandRefused::Invalid { code, zh, en }) => {
            Err(ApiError::field(FieldError::new("command", code, zh, en)))
        }
    }
}
