//! The time bank: volunteers (elders who serve elders), their recorded and confirmed
//! minutes, redemption, and volunteer–elder pairing.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use zhulao_domain::{Action, FieldError};
use zhulao_services::catalogue::ServiceCategory;
use zhulao_services::timebank::{HourRecord, Pairing, Posting};
use zhulao_store::{TimeBalance, VolunteerRow};

use crate::AppState;
use crate::access::{Reach, bank_actor, hours_reach, list_region, visible_elder};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, WithField};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::views::PageView;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/timebank/volunteers", get(list_volunteers).post(put_volunteer))
        .route("/timebank/volunteers/{id}", get(get_volunteer))
        .route("/timebank/volunteers/{id}/redeem", post(redeem))
        .route("/timebank/records", get(list_hours).post(record_hours))
        .route("/timebank/records/{id}/{action}", post(decide_hours))
        .route("/timebank/pairings", get(pairings).post(create_pair))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VolunteerInput {
    /// The volunteer is an elder in the registry (often a younger one).
    pub elder_id: i64,
    #[serde(default)]
    pub skills: Vec<String>,
    /// How many elders they will look after (default 2).
    #[serde(default)]
    pub capacity: Option<u32>,
    #[serde(default)]
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VolunteerView {
    pub elder_id: i64,
    pub name: String,
    pub skills: Vec<String>,
    pub capacity: u32,
    pub paired: u32,
    pub active: bool,
    pub banked_min: i64,
    pub pending_min: i64,
}

async fn volunteer_view(state: &AppState, v: VolunteerRow) -> ApiResult<VolunteerView> {
    let e = state.store.elder(v.elder_id).await?;
    let b = state.store.time_balance(v.elder_id).await?;
    Ok(VolunteerView {
        elder_id: v.elder_id,
        name: e.record.name,
        skills: v.skills,
        capacity: v.capacity,
        paired: v.paired,
        active: v.active,
        banked_min: b.banked_min,
        pending_min: b.pending_min,
    })
}

/// Registers (or updates) a time-bank volunteer. Admin, station staff, care managers.
#[utoipa::path(post, path = "/api/v1/timebank/volunteers", request_body = VolunteerInput, responses((status = 200, body = VolunteerView)))]
pub async fn put_volunteer(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<VolunteerInput>,
) -> ApiResult<Json<VolunteerView>> {
    user.require(Action::ManageTimeBank)?;
    visible_elder(&state, &user, input.elder_id).await?;
    let mut skills = Vec::new();
    for (i, s) in input.skills.iter().enumerate() {
        skills.push(zhulao_services::SkillCode::parse(&format!("skills[{i}]"), s)?.to_string());
    }
    let capacity = input.capacity.unwrap_or(2);
    if capacity > 20 {
        return Err(ApiError::field(FieldError::new(
            "capacity",
            "out_of_range",
            "结对人数最多20",
            "at most 20",
        )));
    }
    let row = VolunteerRow {
        elder_id: input.elder_id,
        skills,
        capacity,
        active: input.active.unwrap_or(true),
        joined_at: 0,
        paired: 0,
    };
    let saved = state.store.put_volunteer(&row, user.actor()).await?;
    Ok(Json(volunteer_view(&state, saved).await?))
}

#[utoipa::path(get, path = "/api/v1/timebank/volunteers", responses((status = 200, body = Vec<VolunteerView>)))]
pub async fn list_volunteers(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<VolunteerView>>> {
    user.require(Action::ManageTimeBank)?;
    let prefix = list_region(&user);
    let mut out = Vec::new();
    for v in state.store.volunteers(prefix.as_deref()).await? {
        out.push(volunteer_view(&state, v).await?);
    }
    Ok(Json(out))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VolunteerDetail {
    #[serde(flatten)]
    pub volunteer: VolunteerView,
    #[schema(value_type = Vec<Object>)]
    pub postings: Vec<Posting>,
}

/// A volunteer's balance and every posting of their minutes. Staff, and the volunteer's own
/// family.
#[utoipa::path(get, path = "/api/v1/timebank/volunteers/{id}", responses((status = 200, body = VolunteerDetail)))]
pub async fn get_volunteer(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<VolunteerDetail>> {
    visible_elder(&state, &user, id).await?;
    let v = state.store.volunteer(id).await?;
    Ok(Json(VolunteerDetail {
        volunteer: volunteer_view(&state, v).await?,
        postings: state.store.time_postings(id).await?,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemInput {
    pub minutes: u32,
    /// The service order the minutes pay for, if any.
    #[serde(default)]
    pub order_id: Option<i64>,
}

/// Spends banked minutes on a service; never below zero (409 `timebank_insufficient`).
#[utoipa::path(post, path = "/api/v1/timebank/volunteers/{id}/redeem", request_body = RedeemInput,
    responses((status = 200, body = Object), (status = 409, body = crate::error::ErrorBody)))]
pub async fn redeem(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<RedeemInput>,
) -> ApiResult<Json<TimeBalance>> {
    user.require(Action::ManageTimeBank)?;
    visible_elder(&state, &user, id).await?;
    Ok(Json(
        state
            .orders
            .redeem(bank_actor(&user), id, input.minutes, input.order_id)
            .await
            .with_field("timebank")?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursInput {
    pub volunteer_id: i64,
    /// The elder served.
    pub elder_id: i64,
    pub minutes: u32,
    /// When (Unix ms), within the last 30 days.
    pub served_at: i64,
    /// A service category: visit, recreation, shopping …
    #[serde(default)]
    pub activity: Option<String>,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoursView {
    pub id: i64,
    pub version: i64,
    #[schema(value_type = Object)]
    pub record: HourRecord,
    pub state_zh: &'static str,
}

fn hours_view(r: zhulao_store::HourRow) -> HoursView {
    HoursView { id: r.id, version: r.version, state_zh: r.record.state.label_zh(), record: r.record }
}

/// Records minutes a volunteer served an elder; they wait for confirmation. Admin, station
/// staff, care managers.
#[utoipa::path(post, path = "/api/v1/timebank/records", request_body = HoursInput,
    responses((status = 201, body = HoursView), (status = 422, body = crate::error::ErrorBody)))]
pub async fn record_hours(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<HoursInput>,
) -> ApiResult<(StatusCode, Json<HoursView>)> {
    user.require(Action::ManageTimeBank)?;
    visible_elder(&state, &user, input.elder_id).await?;
    let activity = ServiceCategory::parse_field("activity", input.activity.as_deref().unwrap_or("visit"))?;
    let served_at = chrono::DateTime::from_timestamp_millis(input.served_at).ok_or_else(|| {
        ApiError::field(FieldError::new("served_at", "invalid", "服务时间无效", "invalid time"))
    })?;
    let row = state
        .orders
        .record_hours(
            bank_actor(&user),
            input.volunteer_id,
            input.elder_id,
            input.minutes,
            served_at,
            activity,
            &input.note,
        )
        .await
        .with_field("timebank")?;
    Ok((StatusCode::CREATED, Json(hours_view(row))))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct HoursQuery {
    pub volunteer_id: Option<i64>,
    pub elder_id: Option<i64>,
    /// pending, confirmed, rejected.
    pub state: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/timebank/records", params(HoursQuery), responses((status = 200, body = PageView<HoursView>)))]
pub async fn list_hours(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<HoursQuery>,
) -> ApiResult<Json<PageView<HoursView>>> {
    let v = user.viewer();
    let mut f =
        zhulao_store::HourFilter { volunteer_id: q.volunteer_id, elder_id: q.elder_id, ..Default::default() };
    match hours_reach(&v)? {
        Reach::All | Reach::Facility(_) => {}
        Reach::Region(prefix) => f.region_prefix = prefix,
        Reach::OneElder => {
            let e = q.elder_id.ok_or_else(|| ApiError::missing("elder_id"))?;
            visible_elder(&state, &user, e).await?;
        }
    }
    if let Some(s) = q.state.as_deref().filter(|s| !s.is_empty()) {
        f.state = Some(zhulao_services::timebank::HourState::parse_field("state", s)?);
    }
    let per_page = q.per_page.unwrap_or(20).clamp(1, 200);
    let page = q.page.unwrap_or(1).max(1);
    f.offset = (page - 1).saturating_mul(per_page);
    f.limit = per_page;
    let rows = state.store.list_hour_records(&f).await?;
    Ok(Json(PageView {
        items: rows.items.into_iter().map(hours_view).collect(),
        total: rows.total,
        page,
        per_page,
    }))
}

/// `confirm` (the minutes are banked) or `reject`, by the served elder's family or care
/// manager, station staff or an admin.
#[utoipa::path(post, path = "/api/v1/timebank/records/{id}/{action}",
    responses((status = 200, body = HoursView), (status = 409, body = crate::error::ErrorBody)))]
pub async fn decide_hours(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, action)): ApiPath<(i64, String)>,
) -> ApiResult<Json<HoursView>> {
    let confirm = match action.as_str() {
        "confirm" => true,
        "reject" => false,
        _ => return Err(ApiError::NotFound("route")),
    };
    let row = state.store.hour_record(id).await?;
    visible_elder(&state, &user, row.record.elder).await.map_err(|_| ApiError::NotFound("hour record"))?;
    let saved = state.orders.decide_hours(id, bank_actor(&user), confirm).await.with_field("timebank")?;
    Ok(Json(hours_view(saved)))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct PairingQuery {
    pub region: Option<String>,
}

/// Suggested volunteer–elder pairs (80+ living alone first, nearest volunteer with room).
#[utoipa::path(get, path = "/api/v1/timebank/pairings", params(PairingQuery), responses((status = 200, body = Object)))]
pub async fn pairings(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<PairingQuery>,
) -> ApiResult<Json<Pairing>> {
    user.require(Action::ManageTimeBank)?;
    let prefix = match q.region.as_deref().filter(|s| !s.is_empty()) {
        Some(r) => Some(zhulao_domain::RegionCode::parse("region", r)?.prefix().to_string()),
        None => list_region(&user),
    };
    Ok(Json(state.orders.pairing_suggestions(prefix.as_deref()).await.with_field("timebank")?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairInput {
    pub volunteer_id: i64,
    pub elder_id: i64,
}

/// Pairs a volunteer with an elder.
#[utoipa::path(post, path = "/api/v1/timebank/pairings", request_body = PairInput, responses((status = 201, body = Object)))]
pub async fn create_pair(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<PairInput>,
) -> ApiResult<(StatusCode, Json<zhulao_store::PairRow>)> {
    user.require(Action::ManageTimeBank)?;
    visible_elder(&state, &user, input.elder_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_pair(input.volunteer_id, input.elder_id, user.actor()).await?),
    ))
}
