//! Per-elder monitoring settings (监护设置): `GET`/`PUT /api/v1/elders/{id}/monitoring` —
//! vital-sign limits over the detector's defaults, safe zones, the inactivity period. A change
//! reaches the gateway's detector for the elder's devices on their next message.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use zhulao_detect::{ActivityConfig, VitalConfig, VitalKind};
use zhulao_domain::{Action, Elder, MonitoringSettings, VitalLimit, VitalSign, policy};

use crate::AppState;
use crate::access::{constrain_elder, visible_elder};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, if_match};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/elders/{id}/monitoring", get(get_monitoring).put(put_monitoring))
}

/// An elder's monitoring settings, with what applies where nothing is set.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringView {
    pub elder_id: i64,
    /// The elder record's version (send it back as `If-Match`).
    pub version: i64,
    pub settings: MonitoringSettings,
    pub defaults: MonitoringDefaults,
}

/// The platform defaults (the detector's).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringDefaults {
    pub vital_limits: Vec<VitalLimit>,
    pub inactivity_min: u32,
    /// Inactivity is only raised within these local hours (`07:00–21:00`).
    pub waking_hours: String,
}

/// The detector's kind for a vital sign (the gateway maps them the same way).
fn detector_kind(s: VitalSign) -> VitalKind {
    match s {
        VitalSign::HeartRate => VitalKind::HeartRate,
        VitalSign::Systolic => VitalKind::Systolic,
        VitalSign::Diastolic => VitalKind::Diastolic,
        VitalSign::Spo2 => VitalKind::SpO2,
        VitalSign::Temperature => VitalKind::Temperature,
    }
}

fn defaults() -> MonitoringDefaults {
    let vitals = VitalConfig::default();
    let activity = ActivityConfig::default();
    let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    MonitoringDefaults {
        vital_limits: VitalSign::ALL
            .iter()
            .map(|&kind| {
                let l = vitals.rule(detector_kind(kind)).limits;
                // As a form would send them back: within the settable range (the detector's
                // SpO2 ceiling of 101 % means "none"), to one decimal (f32 → f64 noise).
                let (min, max, _) = kind.settable();
                let shown = |v: f32| ((f64::from(v) * 10.0).round() / 10.0).clamp(min, max);
                VitalLimit { kind, low: shown(l.low), high: shown(l.high) }
            })
            .collect(),
        inactivity_min: (activity.inactivity_ms / 60_000) as u32,
        waking_hours: format!("{}–{}", hm(activity.wake_start_min), hm(activity.wake_end_min)),
    }
}

fn view(e: Elder) -> MonitoringView {
    MonitoringView { elder_id: e.id, version: e.version, settings: e.monitoring, defaults: defaults() }
}

/// Safe zones draw where the elder lives and goes, and limits follow their health: only
/// those who may see the address and the health record see them.
#[utoipa::path(get, path = "/api/v1/elders/{id}/monitoring",
    responses((status = 200, body = MonitoringView), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_monitoring(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<MonitoringView>> {
    user.require(Action::ReadElders)?;
    let e = visible_elder(&state, &user, id).await?;
    let access = policy::personal_data(&user.viewer());
    if !(access.address && access.health) {
        return Err(ApiError::Forbidden);
    }
    Ok(Json(view(e)))
}

/// Replaces the settings (all of them: send the whole object). With `If-Match: <version>`
/// a concurrent edit gives 412.
#[utoipa::path(put, path = "/api/v1/elders/{id}/monitoring", request_body = MonitoringSettings,
    responses((status = 200, body = MonitoringView), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn put_monitoring(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<MonitoringSettings>,
) -> ApiResult<Json<MonitoringView>> {
    user.require(Action::WriteElders)?;
    let expected = if_match(&headers)?;
    let e = visible_elder(&state, &user, id).await?;
    // The same write scope as editing the record (station, care manager, region).
    constrain_elder(&user.viewer(), &mut e.record.clone())?;
    let settings = input.validate()?;
    let e = state.store.set_monitoring(id, &settings, expected, user.actor()).await?;
    state.response.elder_changed(id);
    // Zones are places: only counts go to the log.
    tracing::info!(
        elder = id,
        vital_limits = settings.vital_limits.len(),
        safe_zones = settings.safe_zones.len(),
        "monitoring settings changed"
    );
    Ok(Json(view(e)))
}
