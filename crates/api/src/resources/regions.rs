//! Administrative regions (statistical division codes): the tree and its upkeep.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use zhulao_domain::{Action, Region, RegionCode};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, opt};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/regions", get(list_regions).post(upsert_regions))
        .route("/regions/{code}", get(get_region))
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct RegionQuery {
    /// Children of this region; top level when absent.
    pub parent: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/regions", params(RegionQuery), responses((status = 200, body = Vec<Region>)))]
pub async fn list_regions(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<RegionQuery>,
) -> ApiResult<Json<Vec<Region>>> {
    user.require(Action::ReadRegions)?;
    let parent = opt("parent", &q.parent, RegionCode::parse)?;
    Ok(Json(state.store.list_regions(parent.as_ref()).await?))
}

#[utoipa::path(get, path = "/api/v1/regions/{code}", responses((status = 200, body = Region), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_region(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<Region>> {
    user.require(Action::ReadRegions)?;
    let code = RegionCode::parse("code", &code)?;
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
pub async fn upsert_regions(
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
        return Err(ApiError::Invalid(errors));
    }
    state.store.upsert_regions(&regions, user.actor()).await?;
    Ok(Json(regions))
}
