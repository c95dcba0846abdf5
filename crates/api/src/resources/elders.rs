//! Elders: the registry (list, read, create, update with `If-Match`), status changes and
//! their history, family links, caregiver assignments, and the lists civil affairs keeps.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use zhulao_domain::policy;
use zhulao_domain::{Action, Elder, ElderInput, ElderStatus, FieldError};
use zhulao_services::ElderCategory;
use zhulao_store::StatusChange;

use crate::AppState;
use crate::access::{constrain_elder, visible_elder};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, ElderQuery, Paging, if_match};
use crate::views::{ElderView, PageView};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/elders", get(list_elders).post(create_elder))
        .route("/elders/{id}", get(get_elder).put(update_elder))
        .route("/elders/{id}/status", post(set_elder_status))
        .route("/elders/{id}/history", get(elder_history))
        .route("/elders/{id}/family", post(link_family))
        .route("/elders/{id}/assignments", post(start_assignment))
        .route("/assignments/{id}/end", post(end_assignment))
        .route("/me/assignments", get(my_assignments))
        .route("/elders/{id}/lists", get(get_lists).put(put_lists))
}

fn elder_view(state: &AppState, user: &CurrentUser, e: Elder) -> ElderView {
    ElderView::new(e, policy::personal_data(&user.viewer()), state.today())
}

#[utoipa::path(get, path = "/api/v1/elders", params(ElderQuery), responses((status = 200, body = PageView<ElderView>)))]
pub async fn list_elders(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ElderQuery>,
) -> ApiResult<Json<PageView<ElderView>>> {
    user.require(Action::ReadElders)?;
    let (offset, limit) = Paging { page: q.page, per_page: q.per_page }.bounds();
    let filter = q.filter(&user.viewer(), state.today(), offset, limit)?;
    // An exact ID number or phone finds a person whatever the mask shows: only for roles that
    // see the field in full, and recorded.
    let exact = filter
        .query
        .as_deref()
        .and_then(|text| exact_search(&user.viewer(), text).transpose())
        .transpose()?;
    let page = state.store.list_elders(&filter).await?;
    if let Some(by) = exact {
        let detail = serde_json::json!({ "by": by, "results": page.total });
        state.store.record_action(user.actor(), "search", "elder", 0, &detail).await?;
    }
    Ok(Json(PageView::from_store(page, |e| elder_view(&state, &user, e))))
}

/// The exact identifier a search text is (`id_number`, `phone`), if it is one the viewer may
/// search by; `Err` when the viewer does not see that field in full.
fn exact_search(v: &zhulao_domain::Viewer, text: &str) -> ApiResult<Option<&'static str>> {
    use zhulao_domain::elder::ElderSearch;
    let fields = zhulao_domain::policy::personal_data(v);
    let (by, allowed) = match ElderSearch::of(text) {
        ElderSearch::Name => return Ok(None),
        ElderSearch::IdNumber => ("id_number", fields.id_number),
        ElderSearch::Phone => ("phone", fields.phone),
    };
    if allowed { Ok(Some(by)) } else { Err(ApiError::Forbidden) }
}

#[utoipa::path(get, path = "/api/v1/elders/{id}", responses((status = 200, body = ElderView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_elder(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ElderView>> {
    user.require(Action::ReadElders)?;
    let e = visible_elder(&state, &user, id).await?;
    Ok(Json(elder_view(&state, &user, e)))
}

#[utoipa::path(post, path = "/api/v1/elders", request_body = ElderInput, responses((status = 201, body = ElderView), (status = 422, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn create_elder(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<ElderInput>,
) -> ApiResult<(StatusCode, Json<ElderView>)> {
    user.require(Action::WriteElders)?;
    let mut rec = input.validate(state.today())?;
    constrain_elder(&user.viewer(), &mut rec)?;
    let e = state.store.create_elder(&rec, user.actor()).await?;
    Ok((StatusCode::CREATED, Json(elder_view(&state, &user, e))))
}

/// `If-Match: <version>` makes the update conditional on the record being unchanged.
#[utoipa::path(put, path = "/api/v1/elders/{id}", request_body = ElderInput, responses((status = 200, body = ElderView), (status = 412, body = crate::error::ErrorBody)))]
pub async fn update_elder(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<ElderInput>,
) -> ApiResult<Json<ElderView>> {
    user.require(Action::WriteElders)?;
    let expected = if_match(&headers)?;
    visible_elder(&state, &user, id).await?;
    let mut rec = input.validate(state.today())?;
    constrain_elder(&user.viewer(), &mut rec)?;
    let e = state.store.update_elder(id, &rec, expected, user.actor()).await?;
    // Home and contacts feed the gateway's alarms.
    state.response.elder_changed(id);
    Ok(Json(elder_view(&state, &user, e)))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// `active`, `moved_away` or `deceased`.
    pub status: String,
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/elders/{id}/status", request_body = StatusRequest, responses((status = 200, body = ElderView)))]
pub async fn set_elder_status(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<StatusRequest>,
) -> ApiResult<Json<ElderView>> {
    user.require(Action::ChangeElderStatus)?;
    let status = ElderStatus::parse_field("status", &req.status)?;
    let reason = zhulao_domain::error::required_text("reason", &req.reason, 200)?;
    visible_elder(&state, &user, id).await?;
    let e = state.store.set_elder_status(id, status, &reason, user.actor()).await?;
    state.response.elder_changed(id);
    Ok(Json(elder_view(&state, &user, e)))
}

#[utoipa::path(get, path = "/api/v1/elders/{id}/history", responses((status = 200, body = Vec<StatusChangeView>)))]
pub async fn elder_history(
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
pub async fn link_family(
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
pub async fn start_assignment(
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
pub async fn end_assignment(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AssignmentView>> {
    user.require(Action::ManageAssignments)?;
    let a = state.store.assignment(id).await?;
    visible_elder(&state, &user, a.elder_id).await?;
    Ok(Json(state.store.end_assignment(id, user.actor()).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/me/assignments", responses((status = 200, body = Vec<AssignmentView>)))]
pub async fn my_assignments(
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

#[derive(Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ListsInput {
    /// gov_purchase, charity_meal, veteran, special_family (the derived categories — hardship,
    /// disability, living alone … — come from the record itself).
    pub lists: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/elders/{id}/lists", responses((status = 200, body = ListsInput)))]
pub async fn get_lists(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ListsInput>> {
    visible_elder(&state, &user, id).await?;
    let lists = state.store.elder_lists(id).await?;
    Ok(Json(ListsInput { lists: lists.iter().map(|c| c.as_str().to_string()).collect() }))
}

/// Puts an elder on the lists civil affairs keeps (replacing the previous ones). Admin and
/// station staff.
#[utoipa::path(put, path = "/api/v1/elders/{id}/lists", request_body = ListsInput, responses((status = 200, body = ListsInput)))]
pub async fn put_lists(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ListsInput>,
) -> ApiResult<Json<ListsInput>> {
    user.require(Action::ChangeElderStatus)?;
    visible_elder(&state, &user, id).await?;
    let allowed = [
        ElderCategory::GovPurchase,
        ElderCategory::CharityMeal,
        ElderCategory::Veteran,
        ElderCategory::SpecialFamily,
    ];
    let mut lists = Vec::new();
    for (i, s) in input.lists.iter().enumerate() {
        let c = ElderCategory::parse_field(&format!("lists[{i}]"), s)?;
        if !allowed.contains(&c) {
            return Err(ApiError::field(FieldError::new(
                format!("lists[{i}]"),
                "derived_category",
                "该类别由老人档案自动得出，不能手工设置",
                "this category follows from the elder's record and cannot be set by hand",
            )));
        }
        lists.push(c);
    }
    state.store.set_elder_lists(id, &lists, user.actor()).await?;
    get_lists(State(state), user, ApiPath(id)).await
}
