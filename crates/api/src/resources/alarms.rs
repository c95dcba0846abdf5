//! Alarms: the call centre's queue and steps, responders' steps and positions, the
//! responders near an alarm, alarms the call centre raises itself, and response-time
//! statistics.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use zhulao_alarms::{AlarmKind, Assessment, Command, Outcome, TravelMode, response_stats};
use zhulao_alarms::{AlarmLocation, AlarmRow, AlarmSource, LocationSource, NewAlarm, Raised};
use zhulao_domain::{Action, FieldError, GeoPoint, Role, Viewer};
use zhulao_response::{ResponderPosition, alarm_summary};
use zhulao_store::AlarmFilter;

use crate::AppState;
use crate::access::{alarm_json_for, alarm_scope, position_digits, round_to, sees_figures, visible_alarm};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, WithField};
use crate::extract::{ApiJson, ApiPath, ApiQuery, optional_json};
use crate::views::{ElderView, PageView};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/alarms", get(list_alarms).post(raise_alarm))
        .route("/alarms/stats", get(alarm_stats))
        .route("/alarms/{id}", get(get_alarm))
        .route("/alarms/{id}/responders", get(alarm_responders))
        .route("/alarms/{id}/{step}", post(alarm_step))
        .route("/me/position", post(report_position))
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

async fn alarm_view(state: &AppState, v: &Viewer, a: &AlarmRow) -> ApiResult<AlarmView> {
    let elder_name = match a.elder_id {
        Some(e) => Some(state.store.elder(e).await?.record.name),
        None => None,
    };
    let mut alarm = alarm_summary(a);
    alarm_json_for(v, &mut alarm);
    Ok(AlarmView {
        alarm,
        elder_name,
        location_gcj02: a.location.map(|l| {
            let (lat, lon) = zhulao_proto::coords::wgs84_to_gcj02(l.lat, l.lon);
            let digits = position_digits(v);
            [round_to(lat, digits), round_to(lon, digits)]
        }),
    })
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct AlarmQuery {
    pub open: Option<bool>,
    /// fall, sos, bedside, vital, inactivity, device_removed, offline, low_battery, geofence_exit,
    /// device_conflict.
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
        Some(k) => Some(AlarmKind::parse_field("kind", k)?),
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
        items.push(alarm_view(&state, &user.viewer(), a).await?);
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
        view: alarm_view(&state, &user.viewer(), &a).await?,
        case: serde_json::to_value(&a.case).unwrap_or_default(),
        // What decided a vital-sign alarm (the measured values) is health data too.
        detail: {
            let mut d = if health { a.detail.clone() } else { serde_json::json!({}) };
            if let Some(o) = d.as_object_mut() {
                o.insert("serial".into(), a.serial.clone().into());
            }
            alarm_json_for(&v, &mut d);
            d
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
    let b: StepBody = optional_json(&body)?;
    let a = visible_alarm(&state, &user, id).await?;
    let me = user.account.id;
    let (cmd, actor_kind) = match step.as_str() {
        "answer" | "assess" | "dispatch" | "called-120" | "notify-family" | "family-result" | "close" => {
            user.require(Action::HandleAlarms)?;
            let cmd = match step.as_str() {
                "answer" => Command::Answer { by: me },
                "assess" => {
                    let s = b.assessment.as_deref().ok_or_else(|| ApiError::missing("assessment"))?;
                    Command::Assess { by: me, assessment: Assessment::parse_field("assessment", s)? }
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
                        state.response.dispatch_nearest_now(&a).await?;
                        let a = state.store.alarm(id).await?;
                        return Ok(Json(alarm_view(&state, &user.viewer(), &a).await?));
                    }
                },
                "called-120" => Command::Called120 { by: me },
                "notify-family" => Command::NotifyFamily,
                "family-result" => Command::FamilyResult {
                    contact: b.contact.ok_or_else(|| ApiError::missing("contact"))?,
                    confirmed: b.confirmed.ok_or_else(|| ApiError::missing("confirmed"))?,
                },
                _ => {
                    let s = b.outcome.as_deref().ok_or_else(|| ApiError::missing("outcome"))?;
                    let notes = b.notes.unwrap_or_default();
                    if notes.chars().count() > 2000 {
                        return Err(ApiError::field(FieldError::new(
                            "notes",
                            "too_long",
                            "备注不超过2000字",
                            "notes: at most 2000 characters",
                        )));
                    }
                    Command::Close { by: me, outcome: Outcome::parse_field("outcome", s)?, notes }
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
    let saved = state.response.act(id, &cmd, user.actor(), actor_kind).await?;
    Ok(Json(alarm_view(&state, &user.viewer(), &saved).await?))
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
    let kind = AlarmKind::parse_field("kind", &input.kind)?;
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
    let raised = state.response.raise(&alarm).await?;
    let id = match raised {
        Raised::New(a) | Raised::Merged(a) => a.id,
        Raised::Duplicate { alarm_id } => alarm_id.unwrap_or_default(),
    };
    let a = state.store.alarm(id).await?;
    Ok((StatusCode::CREATED, Json(alarm_view(&state, &user.viewer(), &a).await?)))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct AlarmStatsQuery {
    /// From (Unix ms); default: the last 30 days.
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// Response times per step (p50, p90, share within target) over alarms in the viewer's scope.
#[utoipa::path(get, path = "/api/v1/alarms/stats", params(AlarmStatsQuery), responses((status = 200, body = Object)))]
pub async fn alarm_stats(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<AlarmStatsQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    user.require(Action::ReadAlarms)?;
    sees_figures(&user.viewer())?;
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
    let at = GeoPoint::new(p.lat, p.lon)?;
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
        state.orders.report_caregiver(user.account.id, p.on_duty, Some(at)).await.with_field("position")?;
    }
    Ok(StatusCode::NO_CONTENT)
}
