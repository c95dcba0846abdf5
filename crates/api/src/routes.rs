//! The `/api/v1` handlers. Each one authorises first (role via `CurrentUser::require`,
//! record scope via the policy), then reads or writes through the store.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Months, NaiveDate};
use zhulao_domain::policy::{self, ElderFacts};
use zhulao_domain::{
    Account, AccountInput, Action, CapabilityLevel, Device, DeviceBinding, DeviceInput, EconomicStatus,
    Elder, ElderInput, ElderRecord, ElderStatus, Facility, FacilityInput, FacilityKind, FieldError, Hukou,
    LivingArrangement, Region, RegionCode, RegionStats, Role, Viewer,
};
use zhulao_store::{
    AccountFilter, AuditEntry, AuditFilter, DeviceFilter, ElderFilter, FacilityFilter, StatusChange,
};

use crate::AppState;
use crate::auth::{self, CurrentUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::views::{ElderView, PageView, scrub_personal};

/// The largest ledger upload accepted.
pub const MAX_UPLOAD: usize = zhulao_ledger::MAX_BYTES;

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/me", get(me))
        .route("/me/password", post(change_password))
        .route("/me/assignments", get(my_assignments))
        .route("/regions", get(list_regions).post(upsert_regions))
        .route("/regions/{code}", get(get_region))
        .route("/facilities", get(list_facilities).post(create_facility))
        .route("/facilities/{id}", get(get_facility).put(update_facility))
        .route("/facilities/{id}/active", post(set_facility_active))
        .route("/elders", get(list_elders).post(create_elder))
        .route("/elders/{id}", get(get_elder).put(update_elder))
        .route("/elders/{id}/status", post(set_elder_status))
        .route("/elders/{id}/history", get(elder_history))
        .route("/elders/{id}/family", post(link_family))
        .route("/elders/{id}/assignments", post(start_assignment))
        .route("/elders/{id}/devices", get(elder_devices))
        .route("/assignments/{id}/end", post(end_assignment))
        .route("/accounts", get(list_accounts).post(create_account))
        .route("/accounts/{id}/active", post(set_account_active))
        .route("/devices", get(list_devices).post(register_device))
        .route("/devices/{id}", get(get_device))
        .route("/devices/{id}/bind", post(bind_device))
        .route("/devices/{id}/unbind", post(unbind_device))
        .route("/devices/{id}/bindings", get(device_bindings))
        .route("/ledger/import", post(import_ledger))
        .route("/ledger/export", get(export_ledger))
        .route("/ledger/template", get(ledger_template))
        .route("/stats", get(stats))
        .route("/audit", get(list_audit))
        .merge(crate::alarms::router())
        .merge(crate::map::router())
        .merge(crate::orders::router())
        .merge(crate::care::router())
        .merge(crate::monitoring::router())
        .layer(DefaultBodyLimit::max(MAX_UPLOAD));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::alarms::metrics))
        .route(
            "/api/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], crate::openapi_json()) }),
        )
        .nest("/api/v1", v1)
        .fallback(|| async { ApiError::NotFound("route") })
        .with_state(state)
}

// ---------------------------------------------------------------------------------------
// Shared helpers

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct Paging {
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page, 1–200 (default 20).
    pub per_page: Option<i64>,
}

impl Paging {
    fn bounds(&self) -> (i64, i64) {
        let per_page = self.per_page.unwrap_or(20).clamp(1, 200);
        let page = self.page.unwrap_or(1).max(1);
        ((page - 1).saturating_mul(per_page), per_page)
    }
}

fn today(state: &AppState) -> NaiveDate {
    state.store.clock().today()
}

pub(crate) fn invalid(errors: Vec<FieldError>) -> ApiError {
    ApiError::Invalid(errors)
}

/// Parses an optional vocabulary value from a query string.
fn opt<T>(
    field: &str,
    v: &Option<String>,
    parse: impl Fn(&str, &str) -> Result<T, FieldError>,
) -> ApiResult<Option<T>> {
    v.as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse(field, s))
        .transpose()
        .map_err(ApiError::field)
}

/// Loads an elder the viewer may see; records outside the viewer's scope are reported as
/// not found, so their existence is not revealed.
pub(crate) async fn visible_elder(state: &AppState, user: &CurrentUser, id: i64) -> ApiResult<Elder> {
    let elder = state.store.elder(id).await?;
    let v = user.viewer();
    let facts = ElderFacts {
        region: &elder.record.region,
        care_manager_id: elder.record.care_manager_id,
        home_station_id: elder.record.home_station_id,
        family_linked: v.role == Role::Family && state.store.is_family_of(v.account_id, id).await?,
        served_by_viewer: v.role == Role::Caregiver && state.store.is_serving(v.account_id, id).await?,
    };
    if policy::can_see_elder(&v, &facts) { Ok(elder) } else { Err(ApiError::NotFound("elder")) }
}

fn elder_view(state: &AppState, user: &CurrentUser, e: Elder) -> ElderView {
    ElderView::new(e, policy::personal_data(&user.viewer()), today(state))
}

/// Applies what a role may set on a record it writes: station staff keep elders at their
/// station, care managers keep them on their own list, and both stay inside their region.
pub(crate) fn constrain_elder(v: &Viewer, rec: &mut ElderRecord) -> ApiResult<()> {
    match v.role {
        Role::StationStaff => match rec.home_station_id {
            None => rec.home_station_id = v.facility_id,
            Some(id) if Some(id) == v.facility_id => {}
            Some(_) => return Err(ApiError::Forbidden),
        },
        Role::CareManager => match rec.care_manager_id {
            None => rec.care_manager_id = Some(v.account_id),
            Some(id) if id == v.account_id => {}
            Some(_) => return Err(ApiError::Forbidden),
        },
        _ => {}
    }
    // Station staff are scoped by their station (above), others by their region.
    if !matches!(v.role, Role::Admin | Role::StationStaff)
        && v.region.is_some()
        && !policy::covers_region(v, &rec.region)
    {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Health

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> ApiResult<&'static str> {
    state.store.ping().await?;
    Ok("ready")
}

// ---------------------------------------------------------------------------------------
// Auth

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: i64,
    pub account: Account,
}

/// A hash to verify against when the username is unknown, so that the response time does not
/// reveal which usernames exist.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| auth::hash_password("zhulao-dummy"));

#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let now = state.store.clock().now_ms();
    let username = req.username.trim().to_ascii_lowercase();
    if username.is_empty() || username.len() > 64 || req.password.len() > 256 {
        return Err(ApiError::Unauthenticated);
    }
    let keys = [format!("user:{username}")];
    state.limiter.check(&keys, now)?;
    let found = state.store.credentials(&username).await?;
    let hash = found.as_ref().map_or_else(|| DUMMY_HASH.clone(), |(_, h)| h.clone());
    let password = req.password;
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let account = match found {
        Some((account, _)) if ok && account.active => account,
        _ => {
            state.limiter.fail(&keys, now);
            return Err(ApiError::Unauthenticated);
        }
    };
    state.limiter.succeed(&keys);
    let (token, token_hash) = auth::new_token();
    let expires_at = now + auth::SESSION_MS;
    state.store.create_session(&token_hash, account.id, expires_at).await?;
    Ok(Json(LoginResponse { token, expires_at, account }))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", responses((status = 204)))]
async fn logout(State(state): State<AppState>, user: CurrentUser) -> ApiResult<StatusCode> {
    state.store.delete_session(&user.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = Account)))]
async fn me(user: CurrentUser) -> Json<Account> {
    Json(user.account)
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub old_password: String,
    pub new_password: String,
}

#[utoipa::path(post, path = "/api/v1/me/password", request_body = PasswordChange, responses((status = 204)))]
async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    let new = zhulao_domain::account::check_password(&req.new_password).map_err(ApiError::field)?;
    let (_, hash) =
        state.store.credentials(&user.account.username).await?.ok_or(ApiError::Unauthenticated)?;
    let old = req.old_password;
    let new_hash = tokio::task::spawn_blocking(move || {
        auth::verify_password(&old, &hash).then(|| auth::hash_password(&new))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .ok_or_else(|| {
        ApiError::field(FieldError::new(
            "old_password",
            "wrong_password",
            "原密码错误",
            "the old password is wrong",
        ))
    })?;
    state.store.set_password(user.account.id, &new_hash, user.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/me/assignments", responses((status = 200, body = Vec<AssignmentView>)))]
async fn my_assignments(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<AssignmentView>>> {
    Ok(Json(
        state
            .store
            .active_assignments(user.account.id)
            .await?
            .into_iter()
            .map(AssignmentView::from)
            .collect(),
    ))
}

// ---------------------------------------------------------------------------------------
// Regions

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct RegionQuery {
    /// Children of this region; top level when absent.
    pub parent: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/regions", params(RegionQuery), responses((status = 200, body = Vec<Region>)))]
async fn list_regions(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<RegionQuery>,
) -> ApiResult<Json<Vec<Region>>> {
    user.require(Action::ReadRegions)?;
    let parent = opt("parent", &q.parent, RegionCode::parse)?;
    Ok(Json(state.store.list_regions(parent.as_ref()).await?))
}

#[utoipa::path(get, path = "/api/v1/regions/{code}", responses((status = 200, body = Region), (status = 404, body = crate::error::ErrorBody)))]
async fn get_region(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<Region>> {
    user.require(Action::ReadRegions)?;
    let code = RegionCode::parse("code", &code).map_err(ApiError::field)?;
    Ok(Json(state.store.region(&code).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionInput {
    /// 6-, 9- or 12-digit statistical division code; level and parent follow from it.
    pub code: String,
    pub name: String,
}

#[utoipa::path(post, path = "/api/v1/regions", request_body = Vec<RegionInput>, responses((status = 200, body = Vec<Region>)))]
async fn upsert_regions(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<Vec<RegionInput>>,
) -> ApiResult<Json<Vec<Region>>> {
    user.require(Action::ManageRegions)?;
    let mut errors = Vec::new();
    let mut regions = Vec::new();
    for (i, r) in input.iter().enumerate() {
        let code = RegionCode::parse(&format!("[{i}].code"), &r.code);
        let name = zhulao_domain::error::required_text(&format!("[{i}].name"), &r.name, 60);
        match (code, name) {
            (Ok(code), Ok(name)) => {
                regions.push(Region { level: code.level(), parent: code.parent(), code, name })
            }
            (c, n) => errors.extend(c.err().into_iter().chain(n.err())),
        }
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    state.store.upsert_regions(&regions, user.actor()).await?;
    Ok(Json(regions))
}

// ---------------------------------------------------------------------------------------
// Facilities

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct FacilityQuery {
    pub region: Option<String>,
    pub kind: Option<String>,
    pub active: Option<bool>,
    pub q: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/facilities", params(FacilityQuery), responses((status = 200, body = PageView<Facility>)))]
async fn list_facilities(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<FacilityQuery>,
) -> ApiResult<Json<PageView<Facility>>> {
    user.require(Action::ReadFacilities)?;
    let (offset, limit) = Paging { page: q.page, per_page: q.per_page }.bounds();
    let region = opt("region", &q.region, RegionCode::parse)?;
    let filter = FacilityFilter {
        region_prefix: region.map(|r| r.prefix().to_string()),
        kind: opt("kind", &q.kind, FacilityKind::parse_field)?,
        active: q.active,
        query: q.q,
        offset,
        limit,
    };
    Ok(Json(PageView::from_store(state.store.list_facilities(&filter).await?, |f| f)))
}

#[utoipa::path(get, path = "/api/v1/facilities/{id}", responses((status = 200, body = Facility)))]
async fn get_facility(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Facility>> {
    user.require(Action::ReadFacilities)?;
    Ok(Json(state.store.facility(id).await?))
}

#[utoipa::path(post, path = "/api/v1/facilities", request_body = FacilityInput, responses((status = 201, body = Facility), (status = 422, body = crate::error::ErrorBody)))]
async fn create_facility(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<FacilityInput>,
) -> ApiResult<(StatusCode, Json<Facility>)> {
    user.require(Action::ManageFacilities)?;
    let rec = input.validate().map_err(invalid)?;
    Ok((StatusCode::CREATED, Json(state.store.create_facility(&rec, user.actor()).await?)))
}

#[utoipa::path(put, path = "/api/v1/facilities/{id}", request_body = FacilityInput, responses((status = 200, body = Facility)))]
async fn update_facility(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<FacilityInput>,
) -> ApiResult<Json<Facility>> {
    user.require(Action::ManageFacilities)?;
    let rec = input.validate().map_err(invalid)?;
    Ok(Json(state.store.update_facility(id, &rec, user.actor()).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActiveFlag {
    pub active: bool,
}

#[utoipa::path(post, path = "/api/v1/facilities/{id}/active", request_body = ActiveFlag, responses((status = 200, body = Facility)))]
async fn set_facility_active(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(flag): ApiJson<ActiveFlag>,
) -> ApiResult<Json<Facility>> {
    user.require(Action::ManageFacilities)?;
    Ok(Json(state.store.set_facility_active(id, flag.active, user.actor()).await?))
}

// ---------------------------------------------------------------------------------------
// Elders

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct ElderQuery {
    /// Region code (6, 9 or 12 digits): the region and everything in it.
    pub region: Option<String>,
    /// `active`, `moved_away`, `deceased` (default: all).
    pub status: Option<String>,
    pub age_min: Option<u32>,
    pub age_max: Option<u32>,
    /// `alone`, `empty_nest`, `with_children`, `institutional`, `other` (or 独居, 空巢 …).
    pub living: Option<String>,
    /// `dibao`, `tekun`, `wubao`, `hardship`, `general` (or 低保, 特困 …).
    pub economic: Option<String>,
    /// 0–4.
    pub capability: Option<String>,
    pub hukou: Option<String>,
    pub has_card: Option<bool>,
    pub has_device: Option<bool>,
    pub care_manager_id: Option<i64>,
    pub home_station_id: Option<i64>,
    /// A name fragment, or an exact ID number or phone.
    pub q: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

impl ElderQuery {
    fn filter(&self, v: &Viewer, today: NaiveDate, offset: i64, limit: i64) -> ApiResult<ElderFilter> {
        let years = |n: u32| today.checked_sub_months(Months::new(12 * n)).unwrap_or(NaiveDate::MIN);
        if let (Some(a), Some(b)) = (self.age_min, self.age_max)
            && a > b
        {
            return Err(ApiError::field(FieldError::new(
                "age_min",
                "range",
                "最小年龄大于最大年龄",
                "age_min > age_max",
            )));
        }
        Ok(ElderFilter {
            scope: policy::elder_scope(v),
            region_prefix: opt("region", &self.region, RegionCode::parse)?.map(|r| r.prefix().to_string()),
            status: opt("status", &self.status, ElderStatus::parse_field)?,
            born_on_or_before: self.age_min.map(|a| years(a.min(150))),
            born_on_or_after: self
                .age_max
                .map(|b| years(b.min(150) + 1).succ_opt().unwrap_or(NaiveDate::MAX)),
            living: opt("living", &self.living, LivingArrangement::parse_field)?,
            economic: opt("economic", &self.economic, EconomicStatus::parse_field)?,
            capability: opt("capability", &self.capability, CapabilityLevel::parse_field)?,
            hukou: opt("hukou", &self.hukou, Hukou::parse_field)?,
            has_card: self.has_card,
            has_device: self.has_device,
            care_manager_id: self.care_manager_id,
            home_station_id: self.home_station_id,
            query: self.q.clone().filter(|q| q.chars().count() <= 50),
            offset,
            limit,
        })
    }
}

#[utoipa::path(get, path = "/api/v1/elders", params(ElderQuery), responses((status = 200, body = PageView<ElderView>)))]
async fn list_elders(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ElderQuery>,
) -> ApiResult<Json<PageView<ElderView>>> {
    user.require(Action::ReadElders)?;
    let (offset, limit) = Paging { page: q.page, per_page: q.per_page }.bounds();
    let filter = q.filter(&user.viewer(), today(&state), offset, limit)?;
    let page = state.store.list_elders(&filter).await?;
    Ok(Json(PageView::from_store(page, |e| elder_view(&state, &user, e))))
}

#[utoipa::path(get, path = "/api/v1/elders/{id}", responses((status = 200, body = ElderView), (status = 404, body = crate::error::ErrorBody)))]
async fn get_elder(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ElderView>> {
    user.require(Action::ReadElders)?;
    let e = visible_elder(&state, &user, id).await?;
    Ok(Json(elder_view(&state, &user, e)))
}

#[utoipa::path(post, path = "/api/v1/elders", request_body = ElderInput, responses((status = 201, body = ElderView), (status = 422, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
async fn create_elder(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<ElderInput>,
) -> ApiResult<(StatusCode, Json<ElderView>)> {
    user.require(Action::WriteElders)?;
    let mut rec = input.validate(today(&state)).map_err(invalid)?;
    constrain_elder(&user.viewer(), &mut rec)?;
    let e = state.store.create_elder(&rec, user.actor()).await?;
    Ok((StatusCode::CREATED, Json(elder_view(&state, &user, e))))
}

/// `If-Match: <version>` makes the update conditional on the record being unchanged.
#[utoipa::path(put, path = "/api/v1/elders/{id}", request_body = ElderInput, responses((status = 200, body = ElderView), (status = 412, body = crate::error::ErrorBody)))]
async fn update_elder(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<ElderInput>,
) -> ApiResult<Json<ElderView>> {
    user.require(Action::WriteElders)?;
    let expected = if_match(&headers)?;
    visible_elder(&state, &user, id).await?;
    let mut rec = input.validate(today(&state)).map_err(invalid)?;
    constrain_elder(&user.viewer(), &mut rec)?;
    let e = state.store.update_elder(id, &rec, expected, user.actor()).await?;
    // Home and contacts feed the gateway's alarms.
    state.response.elder_changed(id);
    Ok(Json(elder_view(&state, &user, e)))
}

/// The record version an `If-Match` header names, if any.
pub(crate) fn if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    match headers.get(header::IF_MATCH) {
        None => Ok(None),
        Some(v) => Ok(Some(
            v.to_str().ok().and_then(|s| s.trim_matches('"').parse::<i64>().ok()).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_if_match",
                    "If-Match 应为记录版本号",
                    "If-Match must be the record version",
                )
            })?,
        )),
    }
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// `active`, `moved_away` or `deceased`.
    pub status: String,
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/elders/{id}/status", request_body = StatusRequest, responses((status = 200, body = ElderView)))]
async fn set_elder_status(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<StatusRequest>,
) -> ApiResult<Json<ElderView>> {
    user.require(Action::ChangeElderStatus)?;
    let status = ElderStatus::parse_field("status", &req.status).map_err(ApiError::field)?;
    let reason = zhulao_domain::error::required_text("reason", &req.reason, 200).map_err(ApiError::field)?;
    visible_elder(&state, &user, id).await?;
    let e = state.store.set_elder_status(id, status, &reason, user.actor()).await?;
    state.response.elder_changed(id);
    Ok(Json(elder_view(&state, &user, e)))
}

#[utoipa::path(get, path = "/api/v1/elders/{id}/history", responses((status = 200, body = Vec<StatusChangeView>)))]
async fn elder_history(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<StatusChangeView>>> {
    user.require(Action::ReadElders)?;
    visible_elder(&state, &user, id).await?;
    Ok(Json(state.store.elder_status_history(id).await?.into_iter().map(StatusChangeView::from).collect()))
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StatusChangeView {
    pub status: ElderStatus,
    pub reason: String,
    pub at: i64,
    pub actor_id: Option<i64>,
}

impl From<StatusChange> for StatusChangeView {
    fn from(s: StatusChange) -> Self {
        StatusChangeView { status: s.status, reason: s.reason, at: s.at, actor_id: s.actor_id }
    }
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountRef {
    pub account_id: i64,
}

#[utoipa::path(post, path = "/api/v1/elders/{id}/family", request_body = AccountRef, responses((status = 204)))]
async fn link_family(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<AccountRef>,
) -> ApiResult<StatusCode> {
    user.require(Action::LinkFamily)?;
    visible_elder(&state, &user, id).await?;
    state.store.link_family(req.account_id, id, user.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AssignmentView {
    pub id: i64,
    pub caregiver_id: i64,
    pub elder_id: i64,
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

impl From<zhulao_store::Assignment> for AssignmentView {
    fn from(a: zhulao_store::Assignment) -> Self {
        AssignmentView {
            id: a.id,
            caregiver_id: a.caregiver_id,
            elder_id: a.elder_id,
            started_at: a.started_at,
            ended_at: a.ended_at,
        }
    }
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaregiverRef {
    pub caregiver_id: i64,
}

#[utoipa::path(post, path = "/api/v1/elders/{id}/assignments", request_body = CaregiverRef, responses((status = 201, body = AssignmentView)))]
async fn start_assignment(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<CaregiverRef>,
) -> ApiResult<(StatusCode, Json<AssignmentView>)> {
    user.require(Action::ManageAssignments)?;
    visible_elder(&state, &user, id).await?;
    let a = state.store.start_assignment(req.caregiver_id, id, user.actor()).await?;
    Ok((StatusCode::CREATED, Json(a.into())))
}

#[utoipa::path(post, path = "/api/v1/assignments/{id}/end", responses((status = 200, body = AssignmentView)))]
async fn end_assignment(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AssignmentView>> {
    user.require(Action::ManageAssignments)?;
    let a = state.store.assignment(id).await?;
    visible_elder(&state, &user, a.elder_id).await?;
    Ok(Json(state.store.end_assignment(id, user.actor()).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/elders/{id}/devices", responses((status = 200, body = Vec<Device>)))]
async fn elder_devices(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Device>>> {
    user.require(Action::ReadDevices)?;
    visible_elder(&state, &user, id).await?;
    let f = DeviceFilter {
        scope: zhulao_domain::ElderScope::All,
        include_unbound: false,
        elder_id: Some(id),
        offset: 0,
        limit: 100,
    };
    Ok(Json(state.store.list_devices(&f).await?.items))
}

// ---------------------------------------------------------------------------------------
// Accounts

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct AccountQuery {
    pub role: Option<String>,
    pub active: Option<bool>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/accounts", params(AccountQuery), responses((status = 200, body = PageView<Account>)))]
async fn list_accounts(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<AccountQuery>,
) -> ApiResult<Json<PageView<Account>>> {
    user.require(Action::ReadAccounts)?;
    let (offset, limit) = Paging { page: q.page, per_page: q.per_page }.bounds();
    let v = user.viewer();
    let mut f = AccountFilter {
        role: opt("role", &q.role, Role::parse_field)?,
        active: q.active,
        offset,
        limit,
        ..Default::default()
    };
    match v.role {
        Role::Admin => {}
        Role::StationStaff => f.facility_id = Some(v.facility_id.unwrap_or(-1)),
        _ => f.region_prefix = v.region.as_ref().map(|r| r.prefix().to_string()),
    }
    Ok(Json(PageView::from_store(state.store.list_accounts(&f).await?, |a| a)))
}

#[utoipa::path(post, path = "/api/v1/accounts", request_body = AccountInput, responses((status = 201, body = Account), (status = 422, body = crate::error::ErrorBody)))]
async fn create_account(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<AccountInput>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    user.require(Action::ManageAccounts)?;
    let (account, password) = input.validate().map_err(invalid)?;
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((StatusCode::CREATED, Json(state.store.create_account(&account, &hash, user.actor()).await?)))
}

#[utoipa::path(post, path = "/api/v1/accounts/{id}/active", request_body = ActiveFlag, responses((status = 200, body = Account)))]
async fn set_account_active(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(flag): ApiJson<ActiveFlag>,
) -> ApiResult<Json<Account>> {
    user.require(Action::ManageAccounts)?;
    Ok(Json(state.store.set_account_active(id, flag.active, user.actor()).await?))
}

// ---------------------------------------------------------------------------------------
// Devices

fn device_filter(v: &Viewer) -> DeviceFilter {
    DeviceFilter {
        scope: policy::elder_scope(v),
        include_unbound: matches!(v.role, Role::Admin | Role::StationStaff),
        elder_id: None,
        offset: 0,
        limit: 20,
    }
}

#[utoipa::path(get, path = "/api/v1/devices", params(Paging), responses((status = 200, body = PageView<Device>)))]
async fn list_devices(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(p): ApiQuery<Paging>,
) -> ApiResult<Json<PageView<Device>>> {
    user.require(Action::ReadDevices)?;
    let (offset, limit) = p.bounds();
    let f = DeviceFilter { offset, limit, ..device_filter(&user.viewer()) };
    Ok(Json(PageView::from_store(state.store.list_devices(&f).await?, |d| d)))
}

pub(crate) async fn visible_device(state: &AppState, user: &CurrentUser, id: i64) -> ApiResult<Device> {
    let d = state.store.device(id).await?;
    match d.elder_id {
        Some(elder) => visible_elder(state, user, elder).await.map(|_| d),
        None if device_filter(&user.viewer()).include_unbound => Ok(d),
        None => Err(ApiError::NotFound("device")),
    }
}

#[utoipa::path(get, path = "/api/v1/devices/{id}", responses((status = 200, body = Device)))]
async fn get_device(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Device>> {
    user.require(Action::ReadDevices)?;
    Ok(Json(visible_device(&state, &user, id).await?))
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RegisteredDevice {
    pub device: Device,
    /// The device's secret for authenticating to the gateway. Shown once; only its hash is kept.
    pub secret: String,
}

#[utoipa::path(post, path = "/api/v1/devices", request_body = DeviceInput, responses((status = 201, body = RegisteredDevice)))]
async fn register_device(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<DeviceInput>,
) -> ApiResult<(StatusCode, Json<RegisteredDevice>)> {
    user.require(Action::ManageDevices)?;
    let d = input.validate().map_err(invalid)?;
    // A device secret is random and long, so a fast hash is enough (and a gateway can check
    // thousands of reconnecting devices a second).
    let (secret, secret_hash) = auth::new_token();
    let device = state.store.register_device(&d, &secret_hash, user.actor()).await?;
    Ok((StatusCode::CREATED, Json(RegisteredDevice { device, secret })))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ElderRef {
    pub elder_id: i64,
}

#[utoipa::path(post, path = "/api/v1/devices/{id}/bind", request_body = ElderRef, responses((status = 200, body = Device)))]
async fn bind_device(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<ElderRef>,
) -> ApiResult<Json<Device>> {
    user.require(Action::ManageDevices)?;
    visible_device(&state, &user, id).await?;
    visible_elder(&state, &user, req.elder_id).await?;
    let device = state.store.bind_device(id, req.elder_id, user.actor()).await?;
    // The gateway attributes the device's next message to its new wearer.
    state.response.device_changed(id);
    Ok(Json(device))
}

#[utoipa::path(post, path = "/api/v1/devices/{id}/unbind", responses((status = 200, body = Device)))]
async fn unbind_device(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Device>> {
    user.require(Action::ManageDevices)?;
    visible_device(&state, &user, id).await?;
    let device = state.store.unbind_device(id, user.actor()).await?;
    state.response.device_changed(id);
    Ok(Json(device))
}

#[utoipa::path(get, path = "/api/v1/devices/{id}/bindings", responses((status = 200, body = Vec<DeviceBinding>)))]
async fn device_bindings(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<DeviceBinding>>> {
    user.require(Action::ReadDevices)?;
    visible_device(&state, &user, id).await?;
    Ok(Json(state.store.device_bindings(id).await?))
}

// ---------------------------------------------------------------------------------------
// Ledger import and export

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct ImportQuery {
    /// The uploaded file's name; its extension (.xlsx, .csv) picks the format when given.
    pub filename: Option<String>,
    /// Validate and report without writing.
    pub dry_run: bool,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub total_rows: usize,
    pub valid_rows: usize,
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub dry_run: bool,
    pub errors: Vec<RowErrorView>,
    pub warnings: Vec<String>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RowErrorView {
    /// The spreadsheet row number as staff see it (the header is row 1).
    pub row: usize,
    pub column: String,
    /// The offending cell; ID numbers and phones only masked.
    pub value: String,
    pub code: String,
    pub message: String,
    pub message_en: String,
}

/// Upload a ledger (.xlsx or .csv in UTF-8 or GBK) as the request body. Every row is
/// validated; valid rows are stored in one transaction (re-importing updates, matched by ID
/// number); invalid rows come back in `errors`.
#[utoipa::path(post, path = "/api/v1/ledger/import", params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = ImportReport), (status = 400, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody)))]
async fn import_ledger(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Json<ImportReport>> {
    user.require(Action::ImportLedger)?;
    let body = body.map_err(|rej| match rej {
        axum::extract::rejection::BytesRejection::FailedToBufferBody(_) => {
            ApiError::TooLarge { max_bytes: MAX_UPLOAD }
        }
        other => ApiError::bad_request("invalid_body", "无法读取上传内容", other.body_text()),
    })?;
    if body.is_empty() {
        return Err(ApiError::bad_request("empty_upload", "上传的文件为空", "the upload is empty"));
    }
    let regions = all_regions(&state).await?;
    let known: std::collections::HashSet<String> =
        regions.iter().map(|r| r.code.as_str().to_string()).collect();
    let today = today(&state);
    let format = zhulao_ledger::Format::detect(q.filename.as_deref(), &body);
    let parsed = tokio::task::spawn_blocking(move || {
        let resolve = |name: &str| resolve_region(&regions, name);
        zhulao_ledger::parse_ledger(&body, format, today, &resolve)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::bad_request(e.code(), e.zh(), e.en()))?;

    let v = user.viewer();
    let mut errors: Vec<RowErrorView> = parsed.errors.iter().map(row_error).collect();
    let mut records = Vec::with_capacity(parsed.rows.len());
    for row in parsed.rows {
        let mut rec = row.record;
        if !known.contains(rec.region.as_str()) {
            errors.push(RowErrorView {
                row: row.row,
                column: "区划代码".into(),
                value: rec.region.to_string(),
                code: "unknown_region".into(),
                message: format!("区划代码 {} 不存在", rec.region),
                message_en: format!("unknown region code {}", rec.region),
            });
            continue;
        }
        if constrain_elder(&v, &mut rec).is_err() {
            errors.push(RowErrorView {
                row: row.row,
                column: "所属社区".into(),
                value: rec.region.to_string(),
                code: "out_of_scope".into(),
                message: "该老人不在您的管辖范围内".into(),
                message_en: "this elder is outside your scope".into(),
            });
            continue;
        }
        // An existing record of another station is not this station's to overwrite.
        if v.role == Role::StationStaff
            && let Some(existing) = state.store.elder_by_id_number(rec.id_number.as_str()).await?
            && existing.record.home_station_id != v.facility_id
        {
            errors.push(RowErrorView {
                row: row.row,
                column: "身份证号".into(),
                value: rec.id_number.masked(),
                code: "other_station".into(),
                message: "该老人已登记在其他服务站".into(),
                message_en: "this elder is registered at another station".into(),
            });
            continue;
        }
        records.push(rec);
    }
    errors.sort_by_key(|e| e.row);
    let summary = if q.dry_run || records.is_empty() {
        zhulao_store::ImportSummary::default()
    } else {
        state.store.import_elders(&records, user.actor()).await?
    };
    Ok(Json(ImportReport {
        total_rows: parsed.total_rows,
        valid_rows: records.len(),
        inserted: summary.inserted,
        updated: summary.updated,
        unchanged: summary.unchanged,
        dry_run: q.dry_run,
        errors,
        warnings: parsed.warnings,
    }))
}

fn row_error(e: &zhulao_ledger::RowError) -> RowErrorView {
    RowErrorView {
        row: e.row,
        column: e.column.clone(),
        value: e.value.clone(),
        code: e.code.into(),
        message: e.zh.clone(),
        message_en: e.en.clone(),
    }
}

async fn all_regions(state: &AppState) -> ApiResult<Vec<Region>> {
    let mut out = Vec::new();
    let mut frontier = state.store.list_regions(None).await?;
    while let Some(r) = frontier.pop() {
        if r.level != zhulao_domain::RegionLevel::Village {
            frontier.extend(state.store.list_regions(Some(&r.code)).await?);
        }
        out.push(r);
    }
    Ok(out)
}

/// Finds a community or village by its official name (`柳港园社区居民委员会`) or the short
/// form staff write (`柳港园社区`, `柳港园`).
fn resolve_region(regions: &[Region], name: &str) -> Option<RegionCode> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let short = |s: &str| -> String {
        s.trim_end_matches("居民委员会").trim_end_matches("村民委员会").trim_end_matches("委员会").to_string()
    };
    let wanted = short(name);
    let matches: Vec<&Region> = regions
        .iter()
        .filter(|r| {
            r.name == name
                || short(&r.name) == wanted
                || short(&r.name).trim_end_matches(['社', '区', '村']) == wanted
        })
        .collect();
    // An ambiguous name resolves to nothing rather than to a guess.
    match matches.as_slice() {
        [one] => Some(one.code.clone()),
        _ => None,
    }
}

#[utoipa::path(get, path = "/api/v1/ledger/export", params(ElderQuery),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
async fn export_ledger(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ElderQuery>,
) -> ApiResult<Response> {
    user.require(Action::ExportLedger)?;
    let today = today(&state);
    let filter = q.filter(&user.viewer(), today, 0, 200_000)?;
    let elders = state.store.list_elders(&filter).await?.items;
    let access = policy::personal_data(&user.viewer());
    let names: std::collections::HashMap<String, String> =
        all_regions(&state).await?.into_iter().map(|r| (r.code.as_str().to_string(), r.name)).collect();
    let bytes = tokio::task::spawn_blocking(move || {
        let rows: Vec<zhulao_ledger::ExportRow> = elders
            .iter()
            .map(|e| {
                let mut row = zhulao_ledger::ExportRow::from_record(&e.record, today);
                row.region_name = names.get(e.record.region.as_str()).cloned().unwrap_or_default();
                row.status = e.status.label_zh().to_string();
                mask_export(&mut row, &e.record, access);
                row
            })
            .collect();
        zhulao_ledger::export_xlsx(&rows)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(e.en()))?;
    Ok(xlsx_response(bytes, "elders.xlsx"))
}

fn mask_export(row: &mut zhulao_ledger::ExportRow, rec: &ElderRecord, access: policy::PersonalData) {
    if !access.id_number {
        row.id_number = rec.id_number.masked();
        row.birth_date.clear();
    }
    if !access.phone {
        row.phone = rec.phone.as_ref().map(|p| p.masked()).unwrap_or_default();
    }
    if !access.address {
        row.address = policy::mask_address(&rec.address);
        row.lat.clear();
        row.lon.clear();
    }
    if !access.contacts {
        row.contacts.clear();
    }
    if !access.health {
        for f in [
            &mut row.chronic_conditions,
            &mut row.allergies,
            &mut row.medications,
            &mut row.blood_type,
            &mut row.family_doctor,
        ] {
            f.clear();
        }
    }
}

fn xlsx_response(bytes: Vec<u8>, filename: &str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        bytes,
    )
        .into_response()
}

#[utoipa::path(get, path = "/api/v1/ledger/template",
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
async fn ledger_template(user: CurrentUser) -> ApiResult<Response> {
    user.require(Action::ImportLedger)?;
    Ok(xlsx_response(zhulao_ledger::template_xlsx(), "ledger-template.xlsx"))
}

// ---------------------------------------------------------------------------------------
// Statistics and audit

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct StatsQuery {
    /// Region code; default: the viewer's own region, or everything.
    pub region: Option<String>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StatsView {
    #[serde(flatten)]
    pub stats: RegionStats,
    /// Share of residents aged 70+ with a service card (大同: 0.9288).
    pub card_coverage: Option<f64>,
    /// Share of card holders with a device (大同: 0.7123).
    pub device_coverage: Option<f64>,
    /// Active elders per care manager (二七: 20).
    pub elders_per_care_manager: Option<f64>,
}

#[utoipa::path(get, path = "/api/v1/stats", params(StatsQuery), responses((status = 200, body = StatsView)))]
async fn stats(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Json<StatsView>> {
    user.require(Action::ReadStats)?;
    let v = user.viewer();
    let region = opt("region", &q.region, RegionCode::parse)?;
    if let Some(r) = &region
        && !policy::covers_region(&v, r)
        && v.region.is_some()
    {
        return Err(ApiError::Forbidden);
    }
    let prefix = region.as_ref().or(v.region.as_ref()).map(|r| r.prefix().to_string()).unwrap_or_default();
    let stats = state.store.region_stats(&policy::elder_scope(&v), &prefix, today(&state)).await?;
    Ok(Json(StatsView {
        card_coverage: stats.card_coverage(),
        device_coverage: stats.device_coverage(),
        elders_per_care_manager: stats.elders_per_care_manager(),
        stats,
    }))
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct AuditQuery {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub actor_id: Option<i64>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), responses((status = 200, body = PageView<AuditView>)))]
async fn list_audit(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<PageView<AuditView>>> {
    user.require(Action::ReadAudit)?;
    let (offset, limit) = Paging { page: q.page, per_page: q.per_page }.bounds();
    let f = AuditFilter { entity: q.entity, entity_id: q.entity_id, actor_id: q.actor_id, offset, limit };
    let scrub = user.account.role != Role::Admin;
    let page = state.store.list_audit(&f).await?;
    Ok(Json(PageView::from_store(page, |e: AuditEntry| {
        let (mut before, mut after) = (e.before, e.after);
        if scrub {
            before.iter_mut().chain(after.iter_mut()).for_each(scrub_personal);
        }
        AuditView {
            id: e.id,
            at: e.at,
            actor_id: e.actor_id,
            action: e.action,
            entity: e.entity,
            entity_id: e.entity_id,
            before,
            after,
        }
    })))
}
