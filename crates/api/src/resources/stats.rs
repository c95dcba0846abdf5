//! Figures: a region's registry statistics and coverage ratios, and today's service
//! figures for the big screen (counts only, no personal data).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Serialize;
use zhulao_domain::policy;
use zhulao_domain::{Action, RegionCode, RegionStats};
use zhulao_services::catalogue::ServiceCategory;
use zhulao_services::meals::MealCounts;

use crate::AppState;
use crate::access::{list_region, order_scope, sees_figures};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, WithField};
use crate::extract::{ApiQuery, opt};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/stats", get(stats)).route("/services/today", get(services_today))
}

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
pub async fn stats(
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
    let stats = state.store.region_stats(&policy::elder_scope(&v), &prefix, state.today()).await?;
    Ok(Json(StatsView {
        card_coverage: stats.card_coverage(),
        device_coverage: stats.device_coverage(),
        elders_per_care_manager: stats.elders_per_care_manager(),
        stats,
    }))
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ServicesTodayView {
    /// Today in Beijing time.
    #[schema(value_type = String)]
    pub date: NaiveDate,
    /// Orders placed today, in all, per service category and per state.
    pub orders_today: u32,
    pub orders_by_category: BTreeMap<ServiceCategory, u32>,
    pub orders_by_state: BTreeMap<zhulao_services::order::OrderState, u32>,
    /// Ratings given today, and over the orders of the last 30 days: how many, the mean in
    /// stars, and how many of each star.
    pub ratings_today: u32,
    pub ratings_30d: u32,
    pub mean_stars_30d: Option<f64>,
    pub stars_30d: [u32; 5],
    /// Today's meals in the region's canteens.
    #[schema(value_type = Object)]
    pub meals_today: MealCounts,
}

/// Today's service figures for the big screen: orders by service and state, ratings, meals.
/// Counts only, no personal data; scoped to the viewer's region. Admin, supervisors and
/// operators.
#[utoipa::path(get, path = "/api/v1/services/today", responses((status = 200, body = ServicesTodayView)))]
pub async fn services_today(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<ServicesTodayView>> {
    let v = user.viewer();
    sees_figures(&v)?;
    let date = state.today();
    let day_start =
        |d: NaiveDate| d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis() - 8 * 3_600_000);
    let start = day_start(date);
    let mut out = ServicesTodayView { date, ..Default::default() };
    let mut f = zhulao_store::OrderFilter::scoped(order_scope(&v));
    f.since = Some(day_start(date - chrono::Duration::days(30)));
    f.limit = 100_000;
    let rows = state.store.list_orders(&f).await?;
    let mut stars_sum = 0u64;
    for r in &rows.items {
        let o = &r.order;
        if o.created_at.timestamp_millis() >= start {
            out.orders_today += 1;
            *out.orders_by_category.entry(o.category).or_default() += 1;
            *out.orders_by_state.entry(o.state).or_default() += 1;
        }
        if let Some(rating) = &o.rating {
            out.ratings_30d += 1;
            stars_sum += u64::from(rating.stars);
            if let Some(n) = out.stars_30d.get_mut(usize::from(rating.stars.clamp(1, 5)) - 1) {
                *n += 1;
            }
            if rating.at.timestamp_millis() >= start {
                out.ratings_today += 1;
            }
        }
    }
    out.mean_stars_30d = (out.ratings_30d > 0).then(|| stars_sum as f64 / f64::from(out.ratings_30d));
    let (per_canteen, _) = state.orders.meal_counts(date, date, None).await.with_field("meal")?;
    let prefix = list_region(&user);
    for (canteen, c) in per_canteen {
        if let Some(p) = &prefix
            && !state.store.facility(canteen).await?.record.region.as_str().starts_with(p.as_str())
        {
            continue;
        }
        let t = &mut out.meals_today;
        t.ordered += c.ordered;
        t.cancelled += c.cancelled;
        t.served += c.served;
        t.delivered += c.delivered;
        t.missed += c.missed;
        t.free += c.free;
    }
    Ok(Json(out))
}
