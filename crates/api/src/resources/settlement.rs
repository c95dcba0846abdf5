//! Settlement: the funding rule book per region, and the funding pools (budgets, charity
//! funds) it draws on.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use zhulao_domain::Action;
use zhulao_services::settlement::{RegionRules, RuleBook};
use zhulao_services::{PoolCode, RegionPrefix};
use zhulao_store::Pool;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, WithField};
use crate::extract::ApiJson;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settlement/rules", get(get_rules).put(put_rules))
        .route("/settlement/pools", get(list_pools).post(fund_pool))
}

/// The rule book in force: per region prefix, the ordered funding rules.
#[utoipa::path(get, path = "/api/v1/settlement/rules", responses((status = 200, body = RuleBook)))]
pub async fn get_rules(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<RuleBook>> {
    user.require(Action::ReadStatements)?;
    Ok(Json(state.orders.rule_book().await.with_field("rules")?))
}

/// Replaces one region's rules (validated as data: codes, shares, caps, periods). Admin.
#[utoipa::path(put, path = "/api/v1/settlement/rules", request_body = RegionRules,
    responses((status = 200, body = RuleBook), (status = 422, body = crate::error::ErrorBody)))]
pub async fn put_rules(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(rules): ApiJson<RegionRules>,
) -> ApiResult<Json<RuleBook>> {
    user.require(Action::ManageSettlement)?;
    RuleBook { regions: vec![rules.clone()] }.validate()?;
    state.store.put_region_rules(&rules, user.actor()).await?;
    Ok(Json(state.store.rule_book().await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PoolView {
    #[schema(value_type = String)]
    pub code: PoolCode,
    pub name: String,
    #[schema(value_type = String)]
    pub region_prefix: RegionPrefix,
    pub balance_fen: i64,
    pub updated_at: i64,
}

impl From<Pool> for PoolView {
    fn from(p: Pool) -> Self {
        PoolView {
            code: p.code,
            name: p.name,
            region_prefix: p.region_prefix,
            balance_fen: p.balance_fen,
            updated_at: p.updated_at,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/settlement/pools", responses((status = 200, body = Vec<PoolView>)))]
pub async fn list_pools(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<Vec<PoolView>>> {
    user.require(Action::ReadStatements)?;
    Ok(Json(state.store.pools().await?.into_iter().map(PoolView::from).collect()))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PoolInput {
    pub code: String,
    pub name: String,
    pub region_prefix: String,
    /// Added to the balance (yuan, not negative).
    pub top_up_yuan: String,
}

/// Creates a funding pool or tops it up (a budget, a charity fund). Admin.
#[utoipa::path(post, path = "/api/v1/settlement/pools", request_body = PoolInput, responses((status = 200, body = PoolView)))]
pub async fn fund_pool(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(p): ApiJson<PoolInput>,
) -> ApiResult<Json<PoolView>> {
    user.require(Action::ManageSettlement)?;
    let mut errors = Vec::new();
    let code = PoolCode::parse("code", &p.code).map_err(|e| errors.push(e)).ok();
    let name = zhulao_domain::error::required_text("name", &p.name, 60).map_err(|e| errors.push(e)).ok();
    let prefix = RegionPrefix::parse("region_prefix", &p.region_prefix).map_err(|e| errors.push(e)).ok();
    let top_up = if p.top_up_yuan.trim().is_empty() {
        Some(zhulao_domain::Fen::ZERO)
    } else {
        zhulao_services::catalogue::parse_price("top_up_yuan", &p.top_up_yuan)
            .map_err(|e| errors.push(e))
            .ok()
    };
    let (Some(code), Some(name), Some(prefix), Some(top_up)) = (code, name, prefix, top_up) else {
        return Err(ApiError::Invalid(errors));
    };
    Ok(Json(state.store.fund_pool(&code, &name, &prefix, top_up.0, user.actor()).await?.into()))
}
