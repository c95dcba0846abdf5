//! Facilities: service stations, canteens, day centres and the like.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use zhulao_domain::{Action, Facility, FacilityInput, FacilityKind, RegionCode};
use zhulao_store::FacilityFilter;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Paging, opt};
use crate::views::{ActiveFlag, PageView};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/facilities", get(list_facilities).post(create_facility))
        .route("/facilities/{id}", get(get_facility).put(update_facility))
        .route("/facilities/{id}/active", post(set_facility_active))
}

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
pub async fn list_facilities(
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
pub async fn get_facility(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Facility>> {
    user.require(Action::ReadFacilities)?;
    Ok(Json(state.store.facility(id).await?))
}

#[utoipa::path(post, path = "/api/v1/facilities", request_body = FacilityInput, responses((status = 201, body = Facility), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_facility(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<FacilityInput>,
) -> ApiResult<(StatusCode, Json<Facility>)> {
    user.require(Action::ManageFacilities)?;
    let rec = input.validate()?;
    Ok((StatusCode::CREATED, Json(state.store.create_facility(&rec, user.actor()).await?)))
}

#[utoipa::path(put, path = "/api/v1/facilities/{id}", request_body = FacilityInput, responses((status = 200, body = Facility)))]
pub async fn update_facility(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<FacilityInput>,
) -> ApiResult<Json<Facility>> {
    user.require(Action::ManageFacilities)?;
    let rec = input.validate()?;
    Ok(Json(state.store.update_facility(id, &rec, user.actor()).await?))
}

#[utoipa::path(post, path = "/api/v1/facilities/{id}/active", request_body = ActiveFlag, responses((status = 200, body = Facility)))]
pub async fn set_facility_active(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(flag): ApiJson<ActiveFlag>,
) -> ApiResult<Json<Facility>> {
    user.require(Action::ManageFacilities)?;
    Ok(Json(state.store.set_facility_active(id, flag.active, user.actor()).await?))
}
