//! The home-care endpoints around orders: settlement (rule books, funding pools), monthly
//! and pay statements, meals (menus, ordering until the cut-off, serving, the kitchen's
//! production list, delivery rounds, counts, the free-meal list), the lists civil affairs
//! keeps per elder, and the time bank (volunteers, hours, redemption, pairing).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use zhulao_domain::policy;
use zhulao_domain::{Action, FieldError, GeoPoint, Role};
use zhulao_orders::PlaceMeal;
use zhulao_services::catalogue::ServiceCategory;
use zhulao_services::meals::{
    Fulfilment, MealCounts, MealOrder, MealOrderState, MealSlot, Menu, ProductionList,
};
use zhulao_services::order::{Actor, ActorRole};
use zhulao_services::settlement::{FundingSource, MonthlyStatement, RegionRules, RuleBook};
use zhulao_services::timebank::{HourRecord, Pairing, Posting};
use zhulao_services::{ElderCategory, MenuCode, PoolCode, RegionPrefix};
use zhulao_store::{MealOrderFilter, MealOrderRow, MenuRow, OrderScope, Pool, TimeBalance, VolunteerRow};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::orders::{actor, covers_elder, missing, order_scope, service_error};
use crate::views::PageView;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/settlement/rules", get(get_rules).put(put_rules))
        .route("/settlement/pools", get(list_pools).post(fund_pool))
        .route("/statements/monthly", get(monthly_statement))
        .route("/statements/pay", get(pay_statement))
        .route("/elders/{id}/lists", get(get_lists).put(put_lists))
        .route("/meals/menus", get(list_menus).put(put_menu))
        .route("/meals/menus/{canteen}/{date}/{slot}", axum::routing::delete(delete_menu))
        .route("/meals/orders", get(list_meals).post(order_meal))
        .route("/meals/orders/{id}/{action}", post(meal_action))
        .route("/meals/production", get(production))
        .route("/meals/deliveries", get(deliveries))
        .route("/meals/counts", get(counts))
        .route("/meals/free-list", get(free_list))
        .route("/timebank/volunteers", get(list_volunteers).post(put_volunteer))
        .route("/timebank/volunteers/{id}", get(get_volunteer))
        .route("/timebank/volunteers/{id}/redeem", post(redeem))
        .route("/timebank/records", get(list_hours).post(record_hours))
        .route("/timebank/records/{id}/{action}", post(decide_hours))
        .route("/timebank/pairings", get(pairings).post(create_pair))
}

fn region_prefix_of(user: &CurrentUser) -> Option<String> {
    user.account.region.as_ref().map(|r| r.prefix().to_string())
}

fn parse_month(field: &str, s: &str) -> ApiResult<(i32, u32)> {
    let bad = || {
        ApiError::field(FieldError::new(
            field,
            "invalid_month",
            "月份格式应为 2026-05",
            "a month is written 2026-05",
        ))
    };
    let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
    let (y, m) = (y.parse::<i32>().map_err(|_| bad())?, m.parse::<u32>().map_err(|_| bad())?);
    if !(2000..=2200).contains(&y) || !(1..=12).contains(&m) {
        return Err(bad());
    }
    Ok((y, m))
}

fn parse_date(field: &str, s: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::field(FieldError::new(
            field,
            "invalid_date",
            "日期格式应为 2026-05-12",
            "a date is written 2026-05-12",
        ))
    })
}

fn today(state: &AppState) -> NaiveDate {
    state.store.clock().today()
}

// ---------------------------------------------------------------------------------------
// Settlement

/// The rule book in force: per region prefix, the ordered funding rules.
#[utoipa::path(get, path = "/api/v1/settlement/rules", responses((status = 200, body = RuleBook)))]
pub async fn get_rules(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<RuleBook>> {
    user.require(Action::ReadStatements)?;
    Ok(Json(state.orders.rule_book().await.map_err(|e| service_error(e, "rules"))?))
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
    RuleBook { regions: vec![rules.clone()] }.validate().map_err(ApiError::Invalid)?;
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
    match v.role {
        Role::Admin => {}
        Role::Supervisor => region = region_prefix_of(&user),
        Role::StationStaff => provider = Some(v.facility_id.unwrap_or(-1)),
        Role::Family | Role::CareManager => {
            let e = q.elder_id.ok_or_else(|| missing("elder_id"))?;
            crate::routes::visible_elder(&state, &user, e).await?;
        }
        _ => return Err(ApiError::Forbidden),
    }
    let (year, month) = match q.month.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => parse_month("month", m)?,
        None => zhulao_orders::year_month(today(&state)),
    };
    let source = match q.source.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(FundingSource::parse_field("source", s).map_err(ApiError::field)?),
        None => None,
    };
    let statement = state
        .orders
        .monthly_statement(year, month, q.elder_id, provider, region)
        .await
        .map_err(|e| service_error(e, "statement"))?;
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
            let id = q.caregiver_id.ok_or_else(|| missing("caregiver_id"))?;
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
        None => zhulao_orders::year_month(today(&state)),
    };
    Ok(Json(state.orders.pay_statement(caregiver, year, month).await.map_err(|e| service_error(e, "pay"))?))
}

// ---------------------------------------------------------------------------------------
// Lists civil affairs keeps

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
    crate::routes::visible_elder(&state, &user, id).await?;
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
    crate::routes::visible_elder(&state, &user, id).await?;
    let allowed = [
        ElderCategory::GovPurchase,
        ElderCategory::CharityMeal,
        ElderCategory::Veteran,
        ElderCategory::SpecialFamily,
    ];
    let mut lists = Vec::new();
    for (i, s) in input.lists.iter().enumerate() {
        let c = ElderCategory::parse_field(&format!("lists[{i}]"), s).map_err(ApiError::field)?;
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

// ---------------------------------------------------------------------------------------
// Meals

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
        None => today(&state),
    };
    let to = match q.to.as_deref().filter(|s| !s.is_empty()) {
        Some(d) => parse_date("to", d)?,
        None => from + chrono::Duration::days(7),
    };
    Ok(Json(state.store.menus(q.canteen_id, from, to).await?))
}

/// Station staff may only write their own facility's menus and lists.
fn own_facility(user: &CurrentUser, facility: i64) -> ApiResult<()> {
    if user.account.role == Role::StationStaff && user.account.facility_id != Some(facility) {
        return Err(ApiError::Forbidden);
    }
    Ok(())
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
    Ok(Json(state.orders.put_menu(&menu, actor(&user)).await.map_err(|e| service_error(e, "menu"))?))
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
    let slot = MealSlot::parse_field("slot", &slot).map_err(ApiError::field)?;
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
    crate::routes::visible_elder(&state, &user, input.elder_id).await?;
    let req = PlaceMeal {
        elder_id: input.elder_id,
        canteen_id: input.canteen_id,
        date: parse_date("date", &input.date)?,
        slot: MealSlot::parse_field("slot", &input.slot).map_err(ApiError::field)?,
        option: MenuCode::parse("option", &input.option).map_err(ApiError::field)?,
        fulfilment: Fulfilment::parse_field("fulfilment", input.fulfilment.as_deref().unwrap_or("dine_in"))
            .map_err(ApiError::field)?,
    };
    let row = state.orders.place_meal(actor(&user), req).await.map_err(|e| service_error(e, "meal"))?;
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
    let scope = match v.role {
        // A canteen's (or station's) staff see what their facility cooks or delivers.
        Role::StationStaff => OrderScope::All,
        Role::Caregiver => return Err(ApiError::Forbidden),
        _ => order_scope(&v),
    };
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
        f.slot = Some(MealSlot::parse_field("slot", s).map_err(ApiError::field)?);
    }
    if let Some(s) = q.state.as_deref().filter(|s| !s.is_empty()) {
        f.state = Some(MealOrderState::parse_field("state", s).map_err(ApiError::field)?);
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
            let outcome = MealOrderState::parse_field("action", &action).map_err(ApiError::field)?;
            state.orders.finish_meal(id, outcome, actor(&user)).await
        }
        _ => return Err(ApiError::NotFound("route")),
    }
    .map_err(|e| service_error(e, "meal"))?;
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
        None => today(state) + chrono::Duration::days(1),
    };
    let slot =
        MealSlot::parse_field("slot", q.slot.as_deref().unwrap_or("lunch")).map_err(ApiError::field)?;
    Ok((date, slot))
}

fn kitchen_roles(user: &CurrentUser) -> ApiResult<()> {
    match user.account.role {
        Role::Admin | Role::Supervisor | Role::StationStaff => Ok(()),
        _ => Err(ApiError::Forbidden),
    }
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
    Ok(Json(
        state.orders.production_list(date, slot, q.canteen_id).await.map_err(|e| service_error(e, "meal"))?,
    ))
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
    let routes =
        state.orders.delivery_lists(date, slot, station).await.map_err(|e| service_error(e, "meal"))?;
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
        None => today(&state),
    };
    let from = match q.from.as_deref().filter(|s| !s.is_empty()) {
        Some(d) => parse_date("from", d)?,
        None => to - chrono::Duration::days(30),
    };
    let (per_canteen, total) =
        state.orders.meal_counts(from, to, q.canteen_id).await.map_err(|e| service_error(e, "meal"))?;
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
        Some(r) => {
            Some(zhulao_domain::RegionCode::parse("region", r).map_err(ApiError::field)?.prefix().to_string())
        }
        None => None,
    };
    let mine = if user.account.role == Role::Admin { None } else { region_prefix_of(&user) };
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

// ---------------------------------------------------------------------------------------
// Time bank

/// Who decides on time-bank records as the rules see an account (an administrator acts as
/// the station).
fn bank_actor(user: &CurrentUser) -> Actor {
    let a = actor(user);
    if user.account.role == Role::Admin { Actor::new(ActorRole::Station, a.id) } else { a }
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
    crate::routes::visible_elder(&state, &user, input.elder_id).await?;
    let mut skills = Vec::new();
    for (i, s) in input.skills.iter().enumerate() {
        skills.push(
            zhulao_services::SkillCode::parse(&format!("skills[{i}]"), s)
                .map_err(ApiError::field)?
                .to_string(),
        );
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
    let prefix = if user.account.role == Role::Admin { None } else { region_prefix_of(&user) };
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
    crate::routes::visible_elder(&state, &user, id).await?;
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
    crate::routes::visible_elder(&state, &user, id).await?;
    Ok(Json(
        state
            .orders
            .redeem(bank_actor(&user), id, input.minutes, input.order_id)
            .await
            .map_err(|e| service_error(e, "timebank"))?,
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
    crate::routes::visible_elder(&state, &user, input.elder_id).await?;
    let activity = ServiceCategory::parse_field("activity", input.activity.as_deref().unwrap_or("visit"))
        .map_err(ApiError::field)?;
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
        .map_err(|e| service_error(e, "timebank"))?;
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
    match v.role {
        Role::Admin => {}
        Role::StationStaff | Role::CareManager | Role::Supervisor => {
            f.region_prefix = region_prefix_of(&user)
        }
        Role::Family => {
            // The family of the elder served, who confirm the minutes.
            let e = q.elder_id.ok_or_else(|| missing("elder_id"))?;
            crate::routes::visible_elder(&state, &user, e).await?;
        }
        _ => return Err(ApiError::Forbidden),
    }
    if let Some(s) = q.state.as_deref().filter(|s| !s.is_empty()) {
        f.state =
            Some(zhulao_services::timebank::HourState::parse_field("state", s).map_err(ApiError::field)?);
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
    crate::routes::visible_elder(&state, &user, row.record.elder)
        .await
        .map_err(|_| ApiError::NotFound("hour record"))?;
    let saved = state
        .orders
        .decide_hours(id, bank_actor(&user), confirm)
        .await
        .map_err(|e| service_error(e, "timebank"))?;
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
        Some(r) => {
            Some(zhulao_domain::RegionCode::parse("region", r).map_err(ApiError::field)?.prefix().to_string())
        }
        None if user.account.role == Role::Admin => None,
        None => region_prefix_of(&user),
    };
    Ok(Json(
        state
            .orders
            .pairing_suggestions(prefix.as_deref())
            .await
            .map_err(|e| service_error(e, "timebank"))?,
    ))
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
    crate::routes::visible_elder(&state, &user, input.elder_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_pair(input.volunteer_id, input.elder_id, user.actor()).await?),
    ))
}
