//! The home-care endpoints for orders: the catalogue and its prices, orders and their steps
//! (publish, grab, assign, release, start-trip, check-in, check-out with photos, confirm,
//! rate, complain, cancel, no-show), the caregiver's `nearby` list, photos, and complaints.
//!
//! Scope: a family account sees only its elders' orders, a care manager those of their
//! elders, station staff their station's, supervisors and operators their region's, a
//! caregiver only the orders on offer to them and those they hold or held. A caregiver sees
//! the elder's address and phone only while holding the order.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zhulao_domain::policy::{self, mask_address};
use zhulao_domain::{Action, Elder, FieldError, GeoPoint, Role, Viewer};
use zhulao_orders::{CreateOrder, ServiceError};
use zhulao_services::dispatch::eligible;
use zhulao_services::order::{
    Actor, ActorRole, CancelReason, Command, NoShowParty, OrderChannel, OrderState, PhotoRef, Schedule,
};
use zhulao_services::quality::{ComplaintCommand, ComplaintKind, ComplaintState, RatingTag};
use zhulao_services::{RegionPrefix, RegionPrice, ServiceCode, ServiceItem, ServiceItemInput};
use zhulao_store::{ComplaintFilter, ComplaintRow, NewPhoto, OrderFilter, OrderRow, OrderScope};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::views::PageView;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/catalogue", get(list_catalogue).post(create_item))
        .route("/catalogue/{code}", axum::routing::patch(update_item))
        .route("/catalogue/{code}/prices", axum::routing::put(set_price))
        .route("/orders", get(list_orders).post(create_order))
        .route("/orders/nearby", get(nearby))
        .route("/orders/{id}", get(get_order))
        .route("/orders/{id}/check-out", post(check_out))
        .route("/orders/{id}/photos", post(upload_photo))
        .route("/orders/{id}/photos/{reference}", get(get_photo))
        .route("/orders/{id}/{action}", post(order_action))
        .route("/complaints", get(list_complaints))
        .route("/complaints/{id}", get(get_complaint))
        .route("/complaints/{id}/{action}", post(complaint_action))
}

// ---------------------------------------------------------------------------------------
// Shared

/// The service layer's error in the API's shape; refusals are 409 with `field` = `what`.
pub(crate) fn service_error(e: ServiceError, what: &str) -> ApiError {
    match e {
        ServiceError::NotFound(entity) => ApiError::NotFound(entity),
        ServiceError::Invalid(errors) => ApiError::Invalid(errors),
        ServiceError::Refused { code, zh, en } => ApiError::Conflict(FieldError::new(what, code, zh, en)),
        ServiceError::Store(e) => e.into(),
    }
}

/// Who acts, as the order rules see an account. An administrator acts with the call
/// centre's rights.
pub(crate) fn actor(user: &CurrentUser) -> Actor {
    let role = match user.account.role {
        Role::Admin | Role::Operator => ActorRole::Operator,
        Role::Supervisor => ActorRole::Supervisor,
        Role::Caregiver => ActorRole::Caregiver,
        Role::CareManager => ActorRole::CareManager,
        Role::StationStaff => ActorRole::Station,
        Role::Family => ActorRole::Family,
    };
    Actor::new(role, user.account.id)
}

/// Which orders (complaints, meal orders) a viewer may list.
pub(crate) fn order_scope(v: &Viewer) -> OrderScope {
    let region = || v.region.as_ref().map(|r| r.prefix().to_string());
    match v.role {
        Role::Admin => OrderScope::All,
        Role::Supervisor | Role::Operator => region().map_or(OrderScope::All, OrderScope::RegionPrefix),
        Role::StationStaff => {
            OrderScope::Station { facility: v.facility_id.unwrap_or(-1), region_prefix: region() }
        }
        Role::CareManager => OrderScope::CareManager(v.account_id),
        Role::Family => OrderScope::Family(v.account_id),
        Role::Caregiver => OrderScope::Caregiver(v.account_id),
    }
}

/// Whether the viewer's scope covers an elder's record (for single records).
pub(crate) async fn covers_elder(state: &AppState, v: &Viewer, elder: &Elder) -> ApiResult<bool> {
    let region = elder.record.region.as_str();
    Ok(match order_scope(v) {
        OrderScope::All => true,
        OrderScope::RegionPrefix(p) => region.starts_with(&p),
        OrderScope::Station { facility, region_prefix } => {
            elder.record.home_station_id == Some(facility)
                || region_prefix.is_some_and(|p| region.starts_with(&p))
        }
        OrderScope::CareManager(id) => elder.record.care_manager_id == Some(id),
        OrderScope::Family(id) => state.store.is_family_of(id, elder.id).await?,
        OrderScope::Caregiver(_) => false,
    })
}

fn parse_body<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        code: "invalid_json",
        zh: format!("请求内容不是有效的 JSON：{e}"),
        en: format!("the body is not valid JSON: {e}"),
    })
}

pub(crate) fn missing(field: &str) -> ApiError {
    ApiError::field(FieldError::new(
        field,
        "required",
        format!("缺少 {field}"),
        format!("{field} is required"),
    ))
}

fn point(lat: Option<f64>, lon: Option<f64>) -> ApiResult<GeoPoint> {
    match (lat, lon) {
        (Some(lat), Some(lon)) => GeoPoint::new(lat, lon).map_err(ApiError::field),
        _ => Err(ApiError::field(FieldError::new(
            "lat",
            "position_required",
            "请提供当前位置（lat、lon）",
            "your position (lat, lon) is required",
        ))),
    }
}

// ---------------------------------------------------------------------------------------
// Catalogue

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
        Some(r) => Some(zhulao_domain::RegionCode::parse("region", r).map_err(ApiError::field)?),
        None => user.account.region.clone(),
    };
    let c = state.orders.catalogue().await.map_err(|e| service_error(e, "catalogue"))?;
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
    let item = input.validate().map_err(ApiError::Invalid)?;
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
    let code = ServiceCode::parse("code", &code).map_err(ApiError::field)?;
    let c = state.orders.catalogue().await.map_err(|e| service_error(e, "catalogue"))?;
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
    let mut item = input.validate().map_err(ApiError::Invalid)?;
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

// ---------------------------------------------------------------------------------------
// Orders: views

/// The elder as an order shows them: the name, and the phone and address only to those who
/// need them (masked otherwise; the coordinates withheld with a masked address).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderElderView {
    pub id: i64,
    pub name: String,
    pub phone: Option<String>,
    pub address: String,
    pub location: Option<GeoPoint>,
    pub masked: Vec<&'static str>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    pub id: i64,
    pub version: i64,
    pub state: OrderState,
    pub state_zh: &'static str,
    pub item: ServiceCode,
    pub category: zhulao_services::ServiceCategory,
    pub category_zh: &'static str,
    pub price_fen: i64,
    pub duration_min: u32,
    /// The scheduled start (Unix ms); absent for "as soon as possible".
    pub scheduled_at: Option<i64>,
    pub channel: OrderChannel,
    pub note: String,
    pub region_code: String,
    pub elder: OrderElderView,
    pub home_station_id: Option<i64>,
    pub caregiver_id: Option<i64>,
    /// Who placed it (role and id).
    pub placed_by: Actor,
    /// Who assigned the caregiver; absent when grabbed.
    pub assigned_by: Option<Actor>,
    pub created_at: i64,
    pub published_at: Option<i64>,
    pub taken_at: Option<i64>,
    pub trip_started_at: Option<i64>,
    pub checked_in_at: Option<i64>,
    pub checked_out_at: Option<i64>,
    pub served_min: Option<u32>,
    pub short_service: bool,
    pub service_notes: String,
    pub photos: Vec<String>,
    pub confirmed_at: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub rating: Option<zhulao_services::quality::Rating>,
    pub complaints: usize,
    #[schema(value_type = Option<Object>)]
    pub settlement: Option<zhulao_services::Split>,
    #[schema(value_type = Option<Object>)]
    pub cancellation: Option<zhulao_services::order::Cancellation>,
    #[schema(value_type = Option<Object>)]
    pub no_show: Option<zhulao_services::order::NoShowRecord>,
    pub ended_at: Option<i64>,
    /// While on offer: the current offer radius in metres.
    pub offer_radius_m: Option<u32>,
    pub escalated: bool,
    pub next_due_at: Option<i64>,
}

fn ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

/// The elder's part of an order, masked for `v`.
fn elder_part(elder: &Elder, v: &Viewer, row: &OrderRow) -> OrderElderView {
    let (phone, address) = if v.role == Role::Caregiver {
        let holds = row.order.may_see_contact(v.account_id);
        (holds, holds)
    } else {
        let pd = policy::personal_data(v);
        (pd.phone, pd.address)
    };
    let r = &elder.record;
    let mut masked = Vec::new();
    if !phone {
        masked.push("phone");
    }
    if !address {
        masked.push("address");
    }
    OrderElderView {
        id: elder.id,
        name: r.name.clone(),
        phone: r.phone.as_ref().map(|p| if phone { p.as_str().to_string() } else { p.masked() }),
        address: if address { r.address.clone() } else { mask_address(&r.address) },
        location: if address { r.location } else { None },
        masked,
    }
}

pub(crate) async fn order_view(state: &AppState, v: &Viewer, row: &OrderRow) -> ApiResult<OrderView> {
    let elder = state.store.elder(row.order.elder).await?;
    let o = &row.order;
    let now = chrono::DateTime::from_timestamp_millis(state.store.clock().now_ms()).unwrap_or_default();
    Ok(OrderView {
        id: row.id,
        version: row.version,
        state: o.state,
        state_zh: o.state.label_zh(),
        item: o.item.clone(),
        category: o.category,
        category_zh: o.category.label_zh(),
        price_fen: o.price.0,
        duration_min: o.duration_min,
        scheduled_at: match o.schedule {
            Schedule::Asap => None,
            Schedule::At { start } => Some(ms(start)),
        },
        channel: o.channel,
        note: o.note.clone(),
        region_code: o.region.as_str().to_string(),
        elder: elder_part(&elder, v, row),
        home_station_id: row.home_station_id,
        caregiver_id: o.caregiver,
        placed_by: o.placed_by,
        assigned_by: o.assigned_by,
        created_at: ms(o.created_at),
        published_at: o.published_at.map(ms),
        taken_at: o.taken_at.map(ms),
        trip_started_at: o.trip_started_at.map(ms),
        checked_in_at: o.check_in.map(|c| ms(c.at)),
        checked_out_at: o.checked_out_at.map(ms),
        served_min: o.served_min,
        short_service: o.short_service,
        service_notes: o.service_notes.clone(),
        photos: o.photos.iter().map(|p| p.0.clone()).collect(),
        confirmed_at: o.confirmed_at.map(ms),
        rating: o.rating.clone(),
        complaints: o.complaints.len(),
        settlement: o.settlement.clone(),
        cancellation: o.cancellation.clone(),
        no_show: o.no_show.clone(),
        ended_at: o.ended_at.map(ms),
        offer_radius_m: (o.state == OrderState::Published).then(|| o.offer_radius(now)),
        escalated: o.dispatch.escalated,
        next_due_at: row.next_due_at,
    })
}

/// Loads an order the viewer may see (404 otherwise, as if it did not exist). A caregiver
/// sees the orders they hold or held, and those on offer to them now.
pub(crate) async fn visible_order(state: &AppState, user: &CurrentUser, id: i64) -> ApiResult<OrderRow> {
    user.require(Action::ReadOrders)?;
    let row = state.store.order(id).await?;
    let v = user.viewer();
    let ok = match v.role {
        Role::Caregiver => {
            row.order.caregiver == Some(v.account_id)
                || row
                    .order
                    .history
                    .iter()
                    .any(|h| h.by.is_some_and(|b| b.role == ActorRole::Caregiver && b.id == v.account_id))
                || (row.order.state == OrderState::Published && {
                    let cg =
                        state.orders.caregiver(v.account_id).await.map_err(|e| service_error(e, "order"))?;
                    let now = chrono::DateTime::from_timestamp_millis(state.store.clock().now_ms())
                        .unwrap_or_default();
                    eligible(&row.order, &cg, now).is_ok()
                })
        }
        _ => {
            let elder = state.store.elder(row.order.elder).await?;
            covers_elder(state, &v, &elder).await?
        }
    };
    if ok { Ok(row) } else { Err(ApiError::NotFound("order")) }
}

// ---------------------------------------------------------------------------------------
// Orders: endpoints

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderInput {
    pub elder_id: i64,
    /// A catalogue item code, e.g. `bathing`, `home_cleaning`.
    pub item: String,
    /// A scheduled start (Unix ms); absent for "as soon as possible".
    #[serde(default)]
    pub scheduled_at: Option<i64>,
    /// device_button, phone, app, counter (default: phone for the call centre, app otherwise).
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub note: String,
    /// Put it on offer at once (default true).
    #[serde(default)]
    pub publish: Option<bool>,
}

/// Places an order for an elder in the viewer's scope (family, care manager, operator,
/// station staff, admin). Published at once unless `publish` is false.
#[utoipa::path(post, path = "/api/v1/orders", request_body = CreateOrderInput,
    responses((status = 201, body = OrderView), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_order(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<CreateOrderInput>,
) -> ApiResult<(StatusCode, Json<OrderView>)> {
    user.require(Action::PlaceOrders)?;
    let elder = crate::routes::visible_elder(&state, &user, input.elder_id).await?;
    let item = ServiceCode::parse("item", &input.item).map_err(ApiError::field)?;
    let channel = match input.channel.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => OrderChannel::parse_field("channel", c).map_err(ApiError::field)?,
        None if user.account.role == Role::Operator => OrderChannel::Phone,
        None if user.account.role == Role::StationStaff => OrderChannel::Counter,
        None => OrderChannel::App,
    };
    let schedule = match input.scheduled_at {
        Some(ms) => Schedule::At {
            start: chrono::DateTime::from_timestamp_millis(ms).ok_or_else(|| {
                ApiError::field(FieldError::new(
                    "scheduled_at",
                    "invalid",
                    "预约时间无效",
                    "invalid scheduled time",
                ))
            })?,
        },
        None => Schedule::Asap,
    };
    let req = CreateOrder {
        elder_id: elder.id,
        item,
        schedule,
        channel,
        note: input.note,
        publish: input.publish.unwrap_or(true),
    };
    let row = state.orders.create(actor(&user), req).await.map_err(|e| service_error(e, "order"))?;
    Ok((StatusCode::CREATED, Json(order_view(&state, &user.viewer(), &row).await?)))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct OrderQuery {
    /// One state or several separated by commas: created, published, taken, on_the_way,
    /// checked_in, completed, rated, settled, cancelled, no_show, expired.
    pub state: Option<String>,
    pub elder_id: Option<i64>,
    pub caregiver_id: Option<i64>,
    /// A region code: orders of elders there.
    pub region: Option<String>,
    /// Created at or after / before (Unix ms).
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Orders in the viewer's scope, newest first.
#[utoipa::path(get, path = "/api/v1/orders", params(OrderQuery), responses((status = 200, body = PageView<OrderView>)))]
pub async fn list_orders(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<OrderQuery>,
) -> ApiResult<Json<PageView<OrderView>>> {
    user.require(Action::ReadOrders)?;
    let v = user.viewer();
    let per_page = q.per_page.unwrap_or(20).clamp(1, 200);
    let page = q.page.unwrap_or(1).max(1);
    let mut f = OrderFilter::scoped(order_scope(&v));
    if let Some(states) = q.state.as_deref().filter(|s| !s.is_empty()) {
        for s in states.split(',') {
            f.states.push(OrderState::parse_field("state", s.trim()).map_err(ApiError::field)?);
        }
    }
    f.elder_id = q.elder_id;
    f.caregiver_id = q.caregiver_id;
    if let Some(r) = q.region.as_deref().filter(|s| !s.is_empty()) {
        f.region_prefix = Some(
            zhulao_domain::RegionCode::parse("region", r).map_err(ApiError::field)?.prefix().to_string(),
        );
    }
    f.since = q.since;
    f.until = q.until;
    f.offset = (page - 1).saturating_mul(per_page);
    f.limit = per_page;
    let rows = state.store.list_orders(&f).await?;
    let mut items = Vec::with_capacity(rows.items.len());
    for r in &rows.items {
        items.push(order_view(&state, &v, r).await?);
    }
    Ok(Json(PageView { items, total: rows.total, page, per_page }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NearbyView {
    pub order: OrderView,
    /// From the caregiver's last reported position to the home.
    pub distance_m: u32,
    pub radius_m: u32,
}

/// The orders on offer to this caregiver now — on duty, qualified, free, within the current
/// radius — nearest first. The elder's phone and address are masked until the order is
/// theirs. Report a position first (`POST /api/v1/me/position`).
#[utoipa::path(get, path = "/api/v1/orders/nearby", responses((status = 200, body = Vec<NearbyView>)))]
pub async fn nearby(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<Vec<NearbyView>>> {
    user.require(Action::ServeOrders)?;
    let v = user.viewer();
    let offered = state.orders.nearby(user.account.id).await.map_err(|e| service_error(e, "order"))?;
    let mut out = Vec::with_capacity(offered.len());
    for o in offered {
        out.push(NearbyView {
            order: order_view(&state, &v, &o.row).await?,
            distance_m: o.distance_m,
            radius_m: o.radius_m,
        });
    }
    Ok(Json(out))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: OrderView,
    /// Every step: who (role and account), what, from which state to which, and its effects.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<zhulao_store::OrderEvent>,
    #[schema(value_type = Vec<Object>)]
    pub photo_files: Vec<zhulao_store::PhotoMeta>,
}

#[utoipa::path(get, path = "/api/v1/orders/{id}", responses((status = 200, body = OrderDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_order(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<OrderDetail>> {
    let row = visible_order(&state, &user, id).await?;
    Ok(Json(OrderDetail {
        order: order_view(&state, &user.viewer(), &row).await?,
        events: state.store.order_events(id).await?,
        photo_files: state.store.order_photos(id).await?,
    }))
}

/// A step's parameters; which are needed depends on the step.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OrderActionBody {
    /// assign: the caregiver's account id.
    pub caregiver_id: Option<i64>,
    /// release: why (free text); cancel: not_needed, rescheduled, hospitalised,
    /// family_arranged, duplicate, no_caregiver, caregiver_unavailable, other.
    pub reason: Option<String>,
    /// cancel (required with `other`), complain, rate: free text.
    pub text: Option<String>,
    /// check-in, check-out, no-show by the caregiver: the phone's position (WGS-84).
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// check-out: what was done.
    pub notes: Option<String>,
    /// check-out: references of photos uploaded with `POST /orders/{id}/photos`.
    pub photos: Option<Vec<String>>,
    /// rate: 1–5.
    pub stars: Option<u8>,
    /// rate: punctual, skilled, friendly, patient, tidy, late, hasty, rude, incomplete, overcharged.
    pub tags: Option<Vec<String>>,
    /// complain: attitude, quality, lateness, billing, safety, conduct, other.
    pub kind: Option<String>,
    /// no-show: elder (not at home; the caregiver at the door) or caregiver (did not come).
    pub party: Option<String>,
}

/// One step on an order. Elder side and staff: `publish`, `cancel`, `confirm`, `rate`,
/// `complain`, `no-show` (party caregiver); staff: `assign`; the caregiver: `grab`,
/// `release`, `start-trip`, `check-in`, `check-out` (also as multipart with photos),
/// `no-show` (party elder). A refused step is 409 with a Chinese and an English message;
/// a grab that lost the race is `order_already_taken`.
#[utoipa::path(post, path = "/api/v1/orders/{id}/{action}", request_body = OrderActionBody,
    responses((status = 200, body = OrderView), (status = 409, body = crate::error::ErrorBody)))]
pub async fn order_action(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, action)): ApiPath<(i64, String)>,
    body: Bytes,
) -> ApiResult<Json<OrderView>> {
    let b: OrderActionBody = parse_body(&body)?;
    let me = actor(&user);
    let cg = user.account.id;
    if action == "grab" {
        user.require(Action::ServeOrders)?;
        // Visibility for a grab is eligibility itself: the pure rule refuses anyone else,
        // and a missing order is 404.
        let row = state.orders.grab(id, cg).await.map_err(|e| service_error(e, "order"))?;
        return Ok(Json(order_view(&state, &user.viewer(), &row).await?));
    }
    visible_order(&state, &user, id).await?;
    let serve = || user.require(Action::ServeOrders);
    let cmd = match action.as_str() {
        "publish" => {
            user.require(Action::PlaceOrders)?;
            Command::Publish { by: me }
        }
        "assign" => {
            user.require(Action::DispatchOrders)?;
            let to = b.caregiver_id.ok_or_else(|| missing("caregiver_id"))?;
            let row = state.orders.assign(id, to, me).await.map_err(|e| service_error(e, "order"))?;
            return Ok(Json(order_view(&state, &user.viewer(), &row).await?));
        }
        "release" => {
            serve()?;
            Command::Release { caregiver: cg, reason: b.reason.unwrap_or_default() }
        }
        "start-trip" => {
            serve()?;
            Command::StartTrip { caregiver: cg }
        }
        "check-in" => {
            serve()?;
            Command::CheckIn { caregiver: cg, position: point(b.lat, b.lon)? }
        }
        "check-out" => {
            serve()?;
            Command::CheckOut {
                caregiver: cg,
                position: point(b.lat, b.lon)?,
                notes: b.notes.unwrap_or_default(),
                photos: stored_photos(&state, id, b.photos.unwrap_or_default()).await?,
            }
        }
        "confirm" => Command::Confirm { by: me },
        "rate" => {
            let mut tags = Vec::new();
            for t in b.tags.unwrap_or_default() {
                tags.push(RatingTag::parse_field("tags", &t).map_err(ApiError::field)?);
            }
            Command::Rate {
                by: me,
                stars: b.stars.ok_or_else(|| missing("stars"))?,
                tags,
                text: b.text.unwrap_or_default(),
            }
        }
        "complain" => Command::Complain {
            by: me,
            kind: ComplaintKind::parse_field("kind", b.kind.as_deref().unwrap_or("other"))
                .map_err(ApiError::field)?,
            text: b.text.unwrap_or_default(),
        },
        "cancel" => Command::Cancel {
            by: me,
            reason: CancelReason::parse_field(
                "reason",
                b.reason.as_deref().ok_or_else(|| missing("reason"))?,
            )
            .map_err(ApiError::field)?,
            text: b.text.unwrap_or_default(),
        },
        "no-show" => {
            let party =
                NoShowParty::parse_field("party", b.party.as_deref().ok_or_else(|| missing("party"))?)
                    .map_err(ApiError::field)?;
            let position = match (b.lat, b.lon) {
                (None, None) => None,
                (lat, lon) => Some(point(lat, lon)?),
            };
            Command::NoShow { by: me, party, position }
        }
        _ => return Err(ApiError::NotFound("route")),
    };
    let row = state.orders.act(id, me, cmd).await.map_err(|e| service_error(e, "order"))?;
    Ok(Json(order_view(&state, &user.viewer(), &row).await?))
}

/// Photo references must name photos stored for this order.
async fn stored_photos(state: &AppState, id: i64, refs: Vec<String>) -> ApiResult<Vec<PhotoRef>> {
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let stored = state.store.order_photos(id).await?;
    refs.into_iter()
        .enumerate()
        .map(|(i, r)| {
            if stored.iter().any(|p| p.reference == r) {
                Ok(PhotoRef(r))
            } else {
                Err(ApiError::field(FieldError::new(
                    format!("photos[{i}]"),
                    "unknown_photo",
                    "照片未上传或不属于该订单",
                    "no such photo for this order",
                )))
            }
        })
        .collect()
}

/// The largest photo accepted.
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;

/// Checks a photo's type (declared and by its first bytes) and size.
fn check_photo(declared: Option<&str>, bytes: &[u8], field: &str) -> ApiResult<NewPhoto> {
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(ApiError::TooLarge { max_bytes: MAX_PHOTO_BYTES });
    }
    let sniffed = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    };
    let declared = declared.map(|d| d.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let ok = match (sniffed, declared.as_deref()) {
        (Some(s), Some(d)) => s == d || (s == "image/jpeg" && d == "image/jpg"),
        (Some(_), None) => true,
        (None, _) => false,
    };
    if bytes.is_empty() || !ok {
        return Err(ApiError::field(FieldError::new(
            field,
            "photo_type",
            "照片格式应为 JPEG、PNG 或 WebP（文件内容与类型须一致）",
            "a photo must be JPEG, PNG or WebP (and its content must match its type)",
        )));
    }
    let digest = Sha256::digest(bytes);
    let reference: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    Ok(NewPhoto { reference, content_type: sniffed.unwrap_or_default().to_string(), bytes: bytes.to_vec() })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhotoUploaded {
    /// Pass it in `photos` when checking out.
    pub reference: String,
    pub content_type: String,
    pub size_bytes: i64,
}

/// Uploads one photo of the service (the raw image as the body, `Content-Type` image/jpeg,
/// image/png or image/webp, at most 5 MB), by the caregiver who holds the order.
#[utoipa::path(post, path = "/api/v1/orders/{id}/photos", request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 201, body = PhotoUploaded), (status = 413, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn upload_photo(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<PhotoUploaded>)> {
    user.require(Action::ServeOrders)?;
    let row = visible_order(&state, &user, id).await?;
    if !row.order.may_see_contact(user.account.id) {
        return Err(ApiError::Conflict(FieldError::new(
            "order",
            "order_not_holder",
            "您不是该订单的服务人员",
            "you do not hold this order",
        )));
    }
    let declared = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let photo = check_photo(declared, &body, "photo")?;
    let meta = state.store.add_order_photo(id, &photo, user.actor()).await?;
    Ok((
        StatusCode::CREATED,
        Json(PhotoUploaded {
            reference: meta.reference,
            content_type: meta.content_type,
            size_bytes: meta.size_bytes,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/orders/{id}/photos/{reference}", responses((status = 200, content_type = "image/jpeg")))]
pub async fn get_photo(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, reference)): ApiPath<(i64, String)>,
) -> ApiResult<Response> {
    visible_order(&state, &user, id).await?;
    let (meta, bytes) = state.store.order_photo(id, &reference).await?;
    Ok((
        [(header::CONTENT_TYPE, meta.content_type), (header::CACHE_CONTROL, "private, max-age=86400".into())],
        bytes,
    )
        .into_response())
}

/// Check-out: JSON (`lat`, `lon`, `notes`, `photos` as references of uploaded photos) or
/// `multipart/form-data` with the fields `lat`, `lon`, `notes` and up to 9 files named
/// `photos`. With multipart every photo is checked first (type, size) and stored in the same
/// transaction as the check-out: a bad photo writes nothing.
#[utoipa::path(post, path = "/api/v1/orders/{id}/check-out", request_body = OrderActionBody,
    responses((status = 200, body = OrderView), (status = 409, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody)))]
pub async fn check_out(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    req: Request,
) -> ApiResult<Json<OrderView>> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let body = Bytes::from_request(req, &state)
            .await
            .map_err(|_| ApiError::TooLarge { max_bytes: crate::routes::MAX_UPLOAD })?;
        return order_action(State(state), user, ApiPath((id, "check-out".to_string())), body).await;
    }
    user.require(Action::ServeOrders)?;
    visible_order(&state, &user, id).await?;
    let mut form = axum::extract::Multipart::from_request(req, &state).await.map_err(|e| {
        ApiError::bad_request("invalid_multipart", format!("表单格式错误：{e}"), e.body_text())
    })?;
    let (mut lat, mut lon, mut notes, mut photos) = (None, None, String::new(), Vec::new());
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::TooLarge { max_bytes: MAX_PHOTO_BYTES });
            }
            Err(e) => {
                return Err(ApiError::bad_request(
                    "invalid_multipart",
                    format!("表单格式错误：{e}"),
                    e.body_text(),
                ));
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        let declared = field.content_type().map(str::to_string);
        let data = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge { max_bytes: MAX_PHOTO_BYTES }
            } else {
                ApiError::bad_request("invalid_multipart", format!("表单格式错误：{e}"), e.body_text())
            }
        })?;
        let text = || String::from_utf8_lossy(&data).trim().to_string();
        let number = |field: &str| {
            text().parse::<f64>().map_err(|_| {
                ApiError::field(FieldError::new(
                    field,
                    "not_a_number",
                    format!("{field} 应为数字"),
                    format!("{field} must be a number"),
                ))
            })
        };
        match name.as_str() {
            "lat" => lat = Some(number("lat")?),
            "lon" => lon = Some(number("lon")?),
            "notes" => notes = text(),
            "photos" | "photo" => {
                if photos.len() >= zhulao_services::order::MAX_PHOTOS {
                    return Err(ApiError::field(FieldError::new(
                        "photos",
                        "too_many",
                        format!("最多上传{}张照片", zhulao_services::order::MAX_PHOTOS),
                        format!("at most {} photos", zhulao_services::order::MAX_PHOTOS),
                    )));
                }
                let field = format!("photos[{}]", photos.len());
                photos.push(check_photo(declared.as_deref(), &data, &field)?);
            }
            _ => {}
        }
    }
    let cmd = Command::CheckOut {
        caregiver: user.account.id,
        position: point(lat, lon)?,
        notes,
        photos: photos.iter().map(|p| PhotoRef(p.reference.clone())).collect(),
    };
    let row =
        state.orders.act_with(id, actor(&user), cmd, photos).await.map_err(|e| service_error(e, "order"))?;
    Ok(Json(order_view(&state, &user.viewer(), &row).await?))
}

// ---------------------------------------------------------------------------------------
// Complaints

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ComplaintView {
    pub id: i64,
    pub version: i64,
    pub state: ComplaintState,
    pub state_zh: &'static str,
    pub kind: ComplaintKind,
    pub kind_zh: &'static str,
    pub order_id: Option<i64>,
    pub elder_id: i64,
    pub caregiver_id: Option<i64>,
    pub region_code: String,
    pub text: String,
    pub complainant: Actor,
    pub opened_at: i64,
    /// When it must be resolved by (Unix ms).
    pub deadline: i64,
    pub overdue: bool,
    pub handler: Option<Actor>,
    pub upheld: Option<bool>,
    pub resolution: String,
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<zhulao_services::quality::ComplaintEntry>,
}

fn complaint_view(r: &ComplaintRow, now_ms: i64) -> ComplaintView {
    let c = &r.case;
    ComplaintView {
        id: r.id,
        version: r.version,
        state: c.state,
        state_zh: c.state.label_zh(),
        kind: c.kind,
        kind_zh: c.kind.label_zh(),
        order_id: c.order,
        elder_id: c.elder,
        caregiver_id: c.caregiver,
        region_code: r.region_code.clone(),
        text: c.text.clone(),
        complainant: c.complainant,
        opened_at: ms(c.opened_at),
        deadline: ms(c.deadline),
        overdue: matches!(c.state, ComplaintState::Open | ComplaintState::Handling)
            && ms(c.deadline) < now_ms,
        handler: c.handler,
        upheld: c.upheld,
        resolution: c.resolution.clone(),
        history: c.history.clone(),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct ComplaintQuery {
    /// open, handling, resolved, closed.
    pub state: Option<String>,
    pub caregiver_id: Option<i64>,
    pub order_id: Option<i64>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Complaint cases in the viewer's scope: open ones first, nearest deadline first.
#[utoipa::path(get, path = "/api/v1/complaints", params(ComplaintQuery), responses((status = 200, body = PageView<ComplaintView>)))]
pub async fn list_complaints(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ComplaintQuery>,
) -> ApiResult<Json<PageView<ComplaintView>>> {
    user.require(Action::ReadOrders)?;
    let per_page = q.per_page.unwrap_or(20).clamp(1, 200);
    let page = q.page.unwrap_or(1).max(1);
    let state_filter = match q.state.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(ComplaintState::parse_field("state", s).map_err(ApiError::field)?),
        None => None,
    };
    let rows = state
        .store
        .list_complaints(&ComplaintFilter {
            scope: order_scope(&user.viewer()),
            state: state_filter,
            caregiver_id: q.caregiver_id,
            order_id: q.order_id,
            offset: (page - 1).saturating_mul(per_page),
            limit: per_page,
        })
        .await?;
    let now = state.store.clock().now_ms();
    Ok(Json(PageView {
        items: rows.items.iter().map(|r| complaint_view(r, now)).collect(),
        total: rows.total,
        page,
        per_page,
    }))
}

async fn visible_complaint(state: &AppState, user: &CurrentUser, id: i64) -> ApiResult<ComplaintRow> {
    user.require(Action::ReadOrders)?;
    let row = state.store.complaint(id).await?;
    let v = user.viewer();
    let ok = match v.role {
        Role::Caregiver => row.case.caregiver == Some(v.account_id),
        _ => covers_elder(state, &v, &state.store.elder(row.case.elder).await?).await?,
    };
    if ok { Ok(row) } else { Err(ApiError::NotFound("complaint")) }
}

#[utoipa::path(get, path = "/api/v1/complaints/{id}", responses((status = 200, body = ComplaintView)))]
pub async fn get_complaint(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ComplaintView>> {
    let row = visible_complaint(&state, &user, id).await?;
    Ok(Json(complaint_view(&row, state.store.clock().now_ms())))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ComplaintActionBody {
    /// resolve: whether the complaint was justified (counts against the caregiver).
    pub upheld: Option<bool>,
    /// resolve: what was done.
    pub resolution: Option<String>,
    /// reopen: why the complainant is not satisfied.
    pub reason: Option<String>,
}

/// A step on a complaint: staff `accept` and `resolve`; the complainant's side `reopen`,
/// `close` and `withdraw` (staff may also `close` a resolved case).
#[utoipa::path(post, path = "/api/v1/complaints/{id}/{action}", request_body = ComplaintActionBody,
    responses((status = 200, body = ComplaintView), (status = 409, body = crate::error::ErrorBody)))]
pub async fn complaint_action(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, action)): ApiPath<(i64, String)>,
    body: Bytes,
) -> ApiResult<Json<ComplaintView>> {
    let b: ComplaintActionBody = parse_body(&body)?;
    visible_complaint(&state, &user, id).await?;
    let by = actor(&user);
    let cmd = match action.as_str() {
        "accept" | "resolve" => {
            user.require(Action::HandleComplaints)?;
            if action == "accept" {
                ComplaintCommand::Accept { by }
            } else {
                ComplaintCommand::Resolve {
                    by,
                    upheld: b.upheld.ok_or_else(|| missing("upheld"))?,
                    resolution: b.resolution.unwrap_or_default(),
                }
            }
        }
        "reopen" => ComplaintCommand::Reopen { by, reason: b.reason.unwrap_or_default() },
        "close" => ComplaintCommand::Close { by },
        "withdraw" => ComplaintCommand::Withdraw { by },
        _ => return Err(ApiError::NotFound("route")),
    };
    let row = state.orders.complaint_step(id, cmd).await.map_err(|e| service_error(e, "complaint"))?;
    Ok(Json(complaint_view(&row, state.store.clock().now_ms())))
}
