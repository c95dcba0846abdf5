//! Meals: menus, ordering until the cut-off, serving and delivering, the kitchen's
//! production list, delivery rounds, counts, and the charity canteens' free-meal list.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use zhulao_domain::policy;
use zhulao_domain::{Action, GeoPoint, Role};
use zhulao_orders::PlaceMeal;
use zhulao_services::meals::{
    Fulfilment, MealCounts, MealOrder, MealOrderState, MealSlot, Menu, ProductionList,
};
use zhulao_services::settlement::FundingSource;
use zhulao_services::{ElderCategory, MenuCode};
use zhulao_store::{MealOrderFilter, MealOrderRow, MenuRow};

use crate::AppState;
use crate::access::{
    actor, covers_elder, kitchen_roles, list_region, meal_scope, own_facility, visible_elder,
};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, WithField};
use crate::extract::{ApiJson, ApiPath, ApiQuery, parse_date};
use crate::views::PageView;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/meals/menus", get(list_menus).put(put_menu))
        .route("/meals/menus/{canteen}/{date}/{slot}", delete(delete_menu))
        .route("/meals/orders", get(list_meals).post(order_meal))
        .route("/meals/orders/{id}/{action}", post(meal_action))
        .route("/meals/production", get(production))
        .route("/meals/deliveries", get(deliveries))
        .route("/meals/counts", get(counts))
        .route("/meals/free-list", get(free_list))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct MenuQuery {
    pub canteen_id: Option<i64>,
    /// Default: today.
    pub from: Option<String>,
    /// Default: a week after `from`.
    pub to: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/meals/menus", params(MenuQuery), responses((status = 200, body = Vec<Object>)))]
pub async fn list_menus(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<MenuQuery>,
) -> ApiResult<Json<Vec<MenuRow>>> {
    user.require(Action::ReadOrders)?;
    let from = match q.from.as_deref().filter(|s| !s.is_empty()) {
        Some(d) => parse_date("from", d)?,
        None => state.today(),
    };
    let to = match q.to.as_deref().filter(|s| !s.is_empty()) {
        Some(d) => parse_date("to", d)?,
        None => from + chrono::Duration::days(7),
    };
    Ok(Json(state.store.menus(q.canteen_id, from, to).await?))
}

/// Creates or replaces a canteen's menu for one meal of one day (prices in fen). Admin and
/// the canteen's staff.
#[utoipa::path(put, path = "/api/v1/meals/menus", request_body = Object,
    responses((status = 200, body = Object), (status = 422, body = crate::error::ErrorBody)))]
pub async fn put_menu(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(menu): ApiJson<Menu>,
) -> ApiResult<Json<MenuRow>> {
    user.require(Action::ManageMeals)?;
    own_facility(&user, menu.canteen)?;
    Ok(Json(state.orders.put_menu(&menu, actor(&user)).await.with_field("menu")?))
}

/// Removes a menu nobody has ordered from.
#[utoipa::path(delete, path = "/api/v1/meals/menus/{canteen}/{date}/{slot}", responses((status = 204), (status = 409, body = crate::error::ErrorBody)))]
pub async fn delete_menu(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((canteen, date, slot)): ApiPath<(i64, String, String)>,
) -> ApiResult<StatusCode> {
    user.require(Action::ManageMeals)?;
    own_facility(&user, canteen)?;
    let date = parse_date("date", &date)?;
    let slot = MealSlot::parse_field("slot", &slot)?;
    state.store.delete_menu(canteen, date, slot, user.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MealInput {
    pub elder_id: i64,
    pub canteen_id: i64,
    /// The day of the meal, `2026-05-12`.
    pub date: String,
    /// breakfast, lunch, dinner.
    pub slot: String,
    /// The set meal's code on the menu.
    pub option: String,
    /// dine_in or delivery (delivered by the elder's home station).
    #[serde(default)]
    pub fulfilment: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MealView {
    pub id: i64,
    pub version: i64,
    #[schema(value_type = Object)]
    pub order: MealOrder,
    pub state_zh: &'static str,
    /// What the elder pays out of pocket (own payment plus card) by the estimate shown when
    /// ordering, or by the settlement once served.
    pub elder_pays_fen: Option<i64>,
}

fn meal_view(r: &MealOrderRow) -> MealView {
    let split = r.order.settlement.as_ref().or(r.order.quote.as_ref());
    MealView {
        id: r.id,
        version: r.version,
        state_zh: r.order.state.label_zh(),
        elder_pays_fen: split
            .map(|s| s.amount(FundingSource::OwnPayment).0 + s.amount(FundingSource::ServiceCard).0),
        order: r.order.clone(),
    }
}

/// Orders a meal for an elder in scope, until the cut-off (18:00 the day before, Beijing
/// time); a late order is 409 `meal_too_late`. One meal per elder, day and slot.
#[utoipa::path(post, path = "/api/v1/meals/orders", request_body = MealInput,
    responses((status = 201, body = MealView), (status = 409, body = crate::error::ErrorBody)))]
pub async fn order_meal(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<MealInput>,
) -> ApiResult<(StatusCode, Json<MealView>)> {
    user.require(Action::OrderMeals)?;
    visible_elder(&state, &user, input.elder_id).await?;
    let req = PlaceMeal {
        elder_id: input.elder_id,
        canteen_id: input.canteen_id,
        date: parse_date("date", &input.date)?,
        slot: MealSlot::parse_field("slot", &input.slot)?,
        option: MenuCode::parse("option", &input.option)?,
        fulfilment: Fulfilment::parse_field("fulfilment", input.fulfilment.as_deref().unwrap_or("dine_in"))?,
    };
    let row = state.orders.place_meal(actor(&user), req).await.with_field("meal")?;
    Ok((StatusCode::CREATED, Json(meal_view(&row))))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct MealQuery {
    pub date: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub slot: Option<String>,
    pub canteen_id: Option<i64>,
    pub station_id: Option<i64>,
    pub elder_id: Option<i64>,
    pub state: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Meal orders in the viewer's scope (a canteen's staff: their canteen's).
#[utoipa::path(get, path = "/api/v1/meals/orders", params(MealQuery), responses((status = 200, body = PageView<MealView>)))]
pub async fn list_meals(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<MealQuery>,
) -> ApiResult<Json<PageView<MealView>>> {
    user.require(Action::ReadOrders)?;
    let v = user.viewer();
    let scope = meal_scope(&v)?;
    let per_page = q.per_page.unwrap_or(50).clamp(1, 500);
    let page = q.page.unwrap_or(1).max(1);
    let mut f = MealOrderFilter::scoped(scope);
    if v.role == Role::StationStaff {
        let mine = v.facility_id.unwrap_or(-1);
        match (q.canteen_id, q.station_id) {
            (Some(c), _) if c == mine => f.canteen_id = Some(c),
            (_, Some(s)) if s == mine => f.station_id = Some(s),
            (None, None) => f.canteen_id = Some(mine),
            _ => return Err(ApiError::Forbidden),
        }
    } else {
        f.canteen_id = q.canteen_id;
        f.station_id = q.station_id;
    }
    if let Some(d) = q.date.as_deref().filter(|s| !s.is_empty()) {
        let d = parse_date("date", d)?;
        (f.from, f.to) = (Some(d), Some(d));
    }
    if let Some(d) = q.from.as_deref().filter(|s| !s.is_empty()) {
        f.from = Some(parse_date("from", d)?);
    }
    if let Some(d) = q.to.as_deref().filter(|s| !s.is_empty()) {
        f.to = Some(parse_date("to", d)?);
    }
    if let Some(s) = q.slot.as_deref().filter(|s| !s.is_empty()) {
        f.slot = Some(MealSlot::parse_field("slot", s)?);
    }
    if let Some(s) = q.state.as_deref().filter(|s| !s.is_empty()) {
        f.state = Some(MealOrderState::parse_field("state", s)?);
    }
    f.elder_id = q.elder_id;
    f.offset = (page - 1).saturating_mul(per_page);
    f.limit = per_page;
    let rows = state.store.list_meal_orders(&f).await?;
    Ok(Json(PageView {
        items: rows.items.iter().map(meal_view).collect(),
        total: rows.total,
        page,
        per_page,
    }))
}

/// `cancel` (the elder side or staff, before the cut-off); `served`, `delivered`, `missed`
/// (the canteen's or delivering station's staff, on the day; settles the meal).
#[utoipa::path(post, path = "/api/v1/meals/orders/{id}/{action}", responses((status = 200, body = MealView), (status = 409, body = crate::error::ErrorBody)))]
pub async fn meal_action(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, action)): ApiPath<(i64, String)>,
) -> ApiResult<Json<MealView>> {
    let row = state.store.meal_order(id).await?;
    let v = user.viewer();
    let row = match action.as_str() {
        "cancel" => {
            user.require(Action::OrderMeals)?;
            let elder = state.store.elder(row.order.elder).await?;
            let mine = v.role == Role::StationStaff
                && (v.facility_id == Some(row.order.canteen)
                    || row.order.delivery.is_some_and(|d| Some(d.station) == v.facility_id));
            if !mine && !covers_elder(&state, &v, &elder).await? {
                return Err(ApiError::NotFound("meal order"));
            }
            state.orders.cancel_meal(id, actor(&user)).await
        }
        "served" | "delivered" | "missed" => {
            user.require(Action::ManageMeals)?;
            if v.role == Role::StationStaff
                && v.facility_id != Some(row.order.canteen)
                && row.order.delivery.is_none_or(|d| Some(d.station) != v.facility_id)
            {
                return Err(ApiError::NotFound("meal order"));
            }
            let outcome = MealOrderState::parse_field("action", &action)?;
            state.orders.finish_meal(id, outcome, actor(&user)).await
        }
        _ => return Err(ApiError::NotFound("route")),
    }
    .with_field("meal")?;
    Ok(Json(meal_view(&row)))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct DayQuery {
    /// Default: tomorrow (the day the kitchen prepares for after the cut-off).
    pub date: Option<String>,
    /// Default: lunch.
    pub slot: Option<String>,
    pub canteen_id: Option<i64>,
    pub station_id: Option<i64>,
}

fn day_slot(state: &AppState, q: &DayQuery) -> ApiResult<(NaiveDate, MealSlot)> {
    let date = match q.date.as_deref().filter(|s| !s.is_empty()) {
        Some(d) => parse_date("date", d)?,
        None => state.today() + chrono::Duration::days(1),
    };
    let slot = MealSlot::parse_field("slot", q.slot.as_deref().unwrap_or("lunch"))?;
    Ok((date, slot))
}

/// The central kitchen's production list for one meal: portions per canteen, per set and
/// per dish (with dietary tags), and the kitchen's total per dish.
#[utoipa::path(get, path = "/api/v1/meals/production", params(DayQuery), responses((status = 200, body = Object)))]
pub async fn production(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<DayQuery>,
) -> ApiResult<Json<ProductionList>> {
    kitchen_roles(&user)?;
    let (date, slot) = day_slot(&state, &q)?;
    Ok(Json(state.orders.production_list(date, slot, q.canteen_id).await.with_field("meal")?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StopView {
    pub meal_order_id: i64,
    pub elder_id: i64,
    pub name: String,
    pub address: String,
    pub phone: Option<String>,
    pub location: Option<GeoPoint>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RouteView {
    pub station_id: i64,
    /// Straight-line length of the round, in metres.
    pub distance_m: u32,
    /// In visiting order.
    pub stops: Vec<StopView>,
}

/// Each station's delivery round for one meal, in route order from the station (nearest
/// neighbour, then 2-opt). Station staff get their own round, with addresses and phones.
#[utoipa::path(get, path = "/api/v1/meals/deliveries", params(DayQuery), responses((status = 200, body = Vec<RouteView>)))]
pub async fn deliveries(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<DayQuery>,
) -> ApiResult<Json<Vec<RouteView>>> {
    kitchen_roles(&user)?;
    let (date, slot) = day_slot(&state, &q)?;
    let station = if user.account.role == Role::StationStaff {
        user.account.facility_id.or(Some(-1))
    } else {
        q.station_id
    };
    let routes = state.orders.delivery_lists(date, slot, station).await.with_field("meal")?;
    let pd = policy::personal_data(&user.viewer());
    let mut out = Vec::new();
    for (station_id, route) in routes {
        let mut stops = Vec::new();
        for s in route.stops {
            let e = state.store.elder(s.elder).await?;
            stops.push(StopView {
                meal_order_id: s.order,
                elder_id: s.elder,
                name: e.record.name.clone(),
                address: if pd.address {
                    e.record.address.clone()
                } else {
                    policy::mask_address(&e.record.address)
                },
                phone: e
                    .record
                    .phone
                    .as_ref()
                    .map(|p| if pd.phone { p.as_str().to_string() } else { p.masked() }),
                location: if pd.address { Some(s.position) } else { None },
            });
        }
        out.push(RouteView { station_id, distance_m: route.distance_m, stops });
    }
    Ok(Json(out))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct CountQuery {
    /// Default: the last 30 days.
    pub from: Option<String>,
    pub to: Option<String>,
    pub canteen_id: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CountsView {
    #[schema(value_type = Object)]
    pub total: MealCounts,
    #[schema(value_type = Object)]
    pub per_canteen: BTreeMap<i64, MealCounts>,
}

/// Meals ordered, cancelled, served, delivered, missed and free, per canteen and in all.
#[utoipa::path(get, path = "/api/v1/meals/counts", params(CountQuery), responses((status = 200, body = CountsView)))]
pub async fn counts(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<CountQuery>,
) -> ApiResult<Json<CountsView>> {
    kitchen_roles(&user)?;
    let to = match q.to.as_deref().filter(|s| !s.is_empty()) {
        Some(d) => parse_date("to", d)?,
        None => state.today(),
    };
    let from = match q.from.as_deref().filter(|s| !s.is_empty()) {
        Some(d) => parse_date("from", d)?,
        None => to - chrono::Duration::days(30),
    };
    let (per_canteen, total) = state.orders.meal_counts(from, to, q.canteen_id).await.with_field("meal")?;
    Ok(Json(CountsView { total, per_canteen }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FreeMealView {
    pub elder_id: i64,
    pub name: String,
    pub region_code: String,
    pub home_station_id: Option<i64>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct FreeListQuery {
    pub region: Option<String>,
}

/// The charity canteens' free-meal list (爱心食堂): elders on the `charity_meal` list.
#[utoipa::path(get, path = "/api/v1/meals/free-list", params(FreeListQuery), responses((status = 200, body = Vec<FreeMealView>)))]
pub async fn free_list(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<FreeListQuery>,
) -> ApiResult<Json<Vec<FreeMealView>>> {
    kitchen_roles(&user)?;
    let asked = match q.region.as_deref().filter(|s| !s.is_empty()) {
        Some(r) => Some(zhulao_domain::RegionCode::parse("region", r)?.prefix().to_string()),
        None => None,
    };
    let mine = list_region(&user);
    let prefix = match (asked, mine) {
        (Some(a), Some(m)) if !a.starts_with(&m) => return Err(ApiError::Forbidden),
        (Some(a), _) => Some(a),
        (None, m) => m,
    };
    let ids = state.store.elders_on_list(ElderCategory::CharityMeal, prefix.as_deref()).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let e = state.store.elder(id).await?;
        out.push(FreeMealView {
            elder_id: e.id,
            name: e.record.name,
            region_code: e.record.region.as_str().to_string(),
            home_station_id: e.record.home_station_id,
        });
    }
    Ok(Json(out))
}
