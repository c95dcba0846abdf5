//! Statements: a month's settled services and meals (per elder, provider, service, rule
//! and funding source), and a caregiver's monthly pay.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use zhulao_domain::{Action, Role};
use zhulao_services::settlement::{FundingSource, MonthlyStatement};

use crate::AppState;
use crate::access::{Reach, statement_reach, visible_elder};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, WithField};
use crate::extract::{ApiQuery, parse_month};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/statements/monthly", get(monthly_statement))
        .route("/statements/pay", get(pay_statement))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct MonthlyQuery {
    /// `2026-05`; default the current month.
    pub month: Option<String>,
    pub elder_id: Option<i64>,
    /// A station's or canteen's facility id.
    pub provider_id: Option<i64>,
    /// Only this funding source's share: gov_purchase, subsidy, collective, donation,
    /// service_card, family, own_payment.
    pub source: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MonthlyView {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub statement: MonthlyStatement,
    /// With `source`: what that source paid in all, per elder and per provider.
    pub source: Option<FundingSource>,
    pub source_total_fen: Option<i64>,
    pub source_per_elder: Option<BTreeMap<i64, i64>>,
    pub source_per_provider: Option<BTreeMap<i64, i64>>,
}

/// A month's settled services and meals: totals, per elder, per provider, per service and
/// per rule, each adding up to the total; with `source`, one funding source's bill. Admin
/// and supervisors (their region), station staff (their own facility as provider), family
/// and care managers (one elder of theirs).
#[utoipa::path(get, path = "/api/v1/statements/monthly", params(MonthlyQuery), responses((status = 200, body = MonthlyView)))]
pub async fn monthly_statement(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<MonthlyQuery>,
) -> ApiResult<Json<MonthlyView>> {
    let v = user.viewer();
    let (mut provider, mut region) = (q.provider_id, None);
    match statement_reach(&v)? {
        Reach::All => {}
        Reach::Region(prefix) => region = prefix,
        Reach::Facility(id) => provider = Some(id),
        Reach::OneElder => {
            let e = q.elder_id.ok_or_else(|| ApiError::missing("elder_id"))?;
            visible_elder(&state, &user, e).await?;
        }
    }
    let (year, month) = match q.month.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => parse_month("month", m)?,
        None => zhulao_orders::year_month(state.today()),
    };
    let source = match q.source.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(FundingSource::parse_field("source", s)?),
        None => None,
    };
    let statement = state
        .orders
        .monthly_statement(year, month, q.elder_id, provider, region)
        .await
        .with_field("statement")?;
    let pick = |m: &BTreeMap<i64, zhulao_services::settlement::Totals>, s: FundingSource| {
        m.iter().filter_map(|(k, t)| t.by_source.get(&s).map(|f| (*k, f.0))).collect::<BTreeMap<_, _>>()
    };
    Ok(Json(MonthlyView {
        source,
        source_total_fen: source.map(|s| statement.total.by_source.get(&s).map_or(0, |f| f.0)),
        source_per_elder: source.map(|s| pick(&statement.per_elder, s)),
        source_per_provider: source.map(|s| pick(&statement.per_provider, s)),
        statement,
    }))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct PayQuery {
    /// Default: yourself (a caregiver).
    pub caregiver_id: Option<i64>,
    /// `2026-05`; default the current month.
    pub month: Option<String>,
}

/// A caregiver's monthly pay: base per order, time, the rating bonus, penalties. A caregiver
/// sees their own; admins, supervisors (their region) and station staff anyone's.
#[utoipa::path(get, path = "/api/v1/statements/pay", params(PayQuery), responses((status = 200, body = Object)))]
pub async fn pay_statement(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<PayQuery>,
) -> ApiResult<Json<zhulao_services::PayStatement>> {
    let caregiver = match user.account.role {
        Role::Caregiver => {
            if q.caregiver_id.is_some_and(|c| c != user.account.id) {
                return Err(ApiError::Forbidden);
            }
            user.account.id
        }
        _ => {
            user.require(Action::ReadStatements)?;
            let id = q.caregiver_id.ok_or_else(|| ApiError::missing("caregiver_id"))?;
            let acc = state.store.account(id).await?;
            let in_region = match (&user.account.region, &acc.region, user.account.role) {
                (_, _, Role::Admin) => true,
                (Some(mine), Some(theirs), _) => mine.contains(theirs),
                (None, _, _) => true,
                (Some(_), None, _) => false,
            };
            if acc.role != Role::Caregiver || !in_region {
                return Err(ApiError::NotFound("caregiver"));
            }
            id
        }
    };
    let (year, month) = match q.month.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => parse_month("month", m)?,
        None => zhulao_orders::year_month(state.today()),
    };
    Ok(Json(state.orders.pay_statement(caregiver, year, month).await.with_field("pay")?))
}
