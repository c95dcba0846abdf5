//! The service catalogue (六助 + X): items, and their prices per region.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use zhulao_domain::Action;
use zhulao_services::{RegionPrefix, RegionPrice, ServiceCode, ServiceItem, ServiceItemInput};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, WithField};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/catalogue", get(list_catalogue).post(create_item))
        .route("/catalogue/{code}", patch(update_item))
        .route("/catalogue/{code}/prices", put(set_price))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogueItemView {
    #[serde(flatten)]
    pub item: ServiceItem,
    pub category_zh: &'static str,
    /// The price in the region asked for (the base price without one).
    pub price_fen: i64,
    /// Regional prices of this item.
    pub prices: Vec<RegionPrice>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct CatalogueQuery {
    /// A region code: prices as they apply there.
    pub region: Option<String>,
    /// Include deactivated items.
    pub all: Option<bool>,
}

/// The service catalogue (六助 + X) with prices.
#[utoipa::path(get, path = "/api/v1/catalogue", params(CatalogueQuery), responses((status = 200, body = Vec<CatalogueItemView>)))]
pub async fn list_catalogue(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<CatalogueQuery>,
) -> ApiResult<Json<Vec<CatalogueItemView>>> {
    user.require(Action::ReadOrders)?;
    let region = match q.region.as_deref().filter(|s| !s.is_empty()) {
        Some(r) => Some(zhulao_domain::RegionCode::parse("region", r)?),
        None => user.account.region.clone(),
    };
    let c = state.orders.catalogue().await.with_field("catalogue")?;
    let items = c
        .items()
        .filter(|i| i.active || q.all == Some(true))
        .map(|i| CatalogueItemView {
            item: i.clone(),
            category_zh: i.category.label_zh(),
            price_fen: region.as_ref().and_then(|r| c.price(&i.code, r)).unwrap_or(i.base_price).0,
            prices: c.prices().iter().filter(|p| p.item == i.code).cloned().collect(),
        })
        .collect();
    Ok(Json(items))
}

/// Adds an item ("+X"). Admin.
#[utoipa::path(post, path = "/api/v1/catalogue", request_body = ServiceItemInput,
    responses((status = 201, body = ServiceItem), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_item(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<ServiceItemInput>,
) -> ApiResult<(StatusCode, Json<ServiceItem>)> {
    user.require(Action::ManageCatalogue)?;
    let item = input.validate()?;
    Ok((StatusCode::CREATED, Json(state.store.create_service_item(&item, user.actor()).await?)))
}

/// Changes to an item; absent fields stay as they are. Items are deactivated, never deleted.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ItemPatch {
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub duration_min: Option<u32>,
    pub skills: Option<Vec<String>>,
    /// Yuan.
    pub price_yuan: Option<String>,
    pub active: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/catalogue/{code}", request_body = ItemPatch, responses((status = 200, body = ServiceItem)))]
pub async fn update_item(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(code): ApiPath<String>,
    ApiJson(p): ApiJson<ItemPatch>,
) -> ApiResult<Json<ServiceItem>> {
    user.require(Action::ManageCatalogue)?;
    let code = ServiceCode::parse("code", &code)?;
    let c = state.orders.catalogue().await.with_field("catalogue")?;
    let current = c.get(&code).ok_or(ApiError::NotFound("service item"))?;
    // Validate the result as a whole, as if it were new.
    let input = ServiceItemInput {
        code: current.code.to_string(),
        category: current.category.as_str().into(),
        name_zh: p.name_zh.unwrap_or_else(|| current.name_zh.clone()),
        name_en: p.name_en.unwrap_or_else(|| current.name_en.clone()),
        duration_min: p.duration_min.unwrap_or(current.duration_min),
        skills: p.skills.unwrap_or_else(|| current.skills.iter().map(|s| s.to_string()).collect()),
        price_yuan: p
            .price_yuan
            .unwrap_or_else(|| format!("{}.{:02}", current.base_price.0 / 100, current.base_price.0 % 100)),
    };
    let mut item = input.validate()?;
    item.builtin = current.builtin;
    item.active = p.active.unwrap_or(current.active);
    Ok(Json(state.store.update_service_item(&item, user.actor()).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PriceInput {
    /// A region code or prefix (`140213`, `140213050`); empty for everywhere.
    pub region_prefix: String,
    pub price_yuan: String,
}

/// Sets an item's price for a region. Admin.
#[utoipa::path(put, path = "/api/v1/catalogue/{code}/prices", request_body = PriceInput, responses((status = 200, body = RegionPrice)))]
pub async fn set_price(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(code): ApiPath<String>,
    ApiJson(p): ApiJson<PriceInput>,
) -> ApiResult<Json<RegionPrice>> {
    user.require(Action::ManageCatalogue)?;
    let mut errors = Vec::new();
    let item = ServiceCode::parse("code", &code).map_err(|e| errors.push(e)).ok();
    let prefix = RegionPrefix::parse("region_prefix", &p.region_prefix).map_err(|e| errors.push(e)).ok();
    let price =
        zhulao_services::catalogue::parse_price("price_yuan", &p.price_yuan).map_err(|e| errors.push(e)).ok();
    let (Some(item), Some(region_prefix), Some(price)) = (item, prefix, price) else {
        return Err(ApiError::Invalid(errors));
    };
    let rp = RegionPrice { region_prefix, item, price };
    state.store.set_service_price(&rp, user.actor()).await?;
    Ok(Json(rp))
}
