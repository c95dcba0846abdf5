//! Home-care orders: placing, listing, the caregiver's `nearby` list, the candidates for
//! an assignment, and every step (publish, grab, assign, release, start-trip, check-in,
//! check-out with photos, confirm, rate, complain, cancel, no-show).
//!
//! Scope (see `access`): a family account sees only its elders' orders, a care manager
//! those of their elders, station staff their station's, supervisors and operators their
//! region's, a caregiver only the orders on offer to them and those they hold or held. A
//! caregiver sees the elder's address and phone only while holding the order.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use zhulao_domain::{Action, FieldError, GeoPoint, Role};
use zhulao_orders::CreateOrder;
use zhulao_services::Refusal;
use zhulao_services::ServiceCode;
use zhulao_services::dispatch::{distance_m, qualified_and_free};
use zhulao_services::order::{
    CancelReason, NoShowParty, OrderChannel, OrderCommand, OrderState, PhotoRef, Schedule,
};
use zhulao_services::quality::{ComplaintKind, RatingTag};
use zhulao_store::OrderFilter;

use crate::AppState;
use crate::access::{actor, list_region, order_scope, visible_elder, visible_order};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, WithField};
use crate::extract::{ApiJson, ApiPath, ApiQuery, MAX_PHOTO_BYTES, MAX_UPLOAD, check_photo, optional_json};
use crate::views::{OrderView, PageView, order_view};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders", get(list_orders).post(create_order))
        .route("/orders/nearby", get(nearby))
        .route("/orders/{id}", get(get_order))
        .route("/orders/{id}/candidates", get(candidates))
        .route("/orders/{id}/check-out", post(check_out))
        .route("/orders/{id}/{action}", post(order_action))
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
    let elder = visible_elder(&state, &user, input.elder_id).await?;
    let item = ServiceCode::parse("item", &input.item)?;
    let channel = match input.channel.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => OrderChannel::parse_field("channel", c)?,
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
    let row = state.orders.create(actor(&user), req).await.with_field("order")?;
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
            f.states.push(OrderState::parse_field("state", s.trim())?);
        }
    }
    f.elder_id = q.elder_id;
    f.caregiver_id = q.caregiver_id;
    if let Some(r) = q.region.as_deref().filter(|s| !s.is_empty()) {
        f.region_prefix = Some(zhulao_domain::RegionCode::parse("region", r)?.prefix().to_string());
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
    let offered = state.orders.nearby(user.account.id).await.with_field("order")?;
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

/// A caregiver as the one assigning an order sees them: whether the rules let them take it
/// (skills and a free agenda; an assignment overrides duty and distance), and how far away
/// their last reported position is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CandidateView {
    pub id: i64,
    pub name: String,
    pub region_code: Option<String>,
    pub on_duty: bool,
    /// From the last fresh position to the elder's home; absent without one.
    pub distance_m: Option<u32>,
    pub quality_milli: u32,
    /// May be assigned (qualified and free).
    pub qualified: bool,
    /// Why not: the refusal's code and messages.
    pub why: Option<String>,
    pub why_zh: Option<String>,
    pub why_en: Option<String>,
}

/// The caregivers an order may be assigned to, for those who assign (operators, station
/// staff, admin): the active caregivers of the viewer's region (all for an administrator),
/// qualified first, then on duty, then nearest. No personal data beyond the name.
#[utoipa::path(get, path = "/api/v1/orders/{id}/candidates", responses((status = 200, body = Vec<CandidateView>)))]
pub async fn candidates(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<CandidateView>>> {
    user.require(Action::DispatchOrders)?;
    let row = visible_order(&state, &user, id).await?;
    let region_prefix = list_region(&user);
    let accounts = state
        .store
        .list_accounts(&zhulao_store::AccountFilter {
            role: Some(Role::Caregiver),
            region_prefix,
            facility_id: None,
            active: Some(true),
            offset: 0,
            limit: 500,
        })
        .await?;
    let now = chrono::DateTime::from_timestamp_millis(state.store.clock().now_ms()).unwrap_or_default();
    let mut out = Vec::with_capacity(accounts.items.len());
    for a in accounts.items {
        let cg = state.orders.caregiver(a.id).await.with_field("caregiver")?;
        let check = qualified_and_free(&row.order, &cg, now);
        out.push(CandidateView {
            id: a.id,
            name: a.display_name.clone(),
            region_code: a.region.as_ref().map(|r| r.as_str().to_string()),
            on_duty: cg.on_duty,
            distance_m: cg.position.map(|p| distance_m(row.order.home, p)),
            quality_milli: cg.quality_milli,
            qualified: check.is_ok(),
            why: check.as_ref().err().map(|e| e.code().to_string()),
            why_zh: check.as_ref().err().map(|e| e.zh()),
            why_en: check.as_ref().err().map(|e| e.en()),
        });
    }
    out.sort_by_key(|c| (!c.qualified, !c.on_duty, c.distance_m.unwrap_or(u32::MAX), c.id));
    Ok(Json(out))
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
    let b: OrderActionBody = optional_json(&body)?;
    let me = actor(&user);
    let cg = user.account.id;
    if action == "grab" {
        user.require(Action::ServeOrders)?;
        // Visibility for a grab is eligibility itself: the pure rule refuses anyone else,
        // and a missing order is 404.
        let row = state.orders.grab(id, cg).await.with_field("order")?;
        return Ok(Json(order_view(&state, &user.viewer(), &row).await?));
    }
    visible_order(&state, &user, id).await?;
    let serve = || user.require(Action::ServeOrders);
    let cmd = match action.as_str() {
        "publish" => {
            user.require(Action::PlaceOrders)?;
            OrderCommand::Publish { by: me }
        }
        "assign" => {
            user.require(Action::DispatchOrders)?;
            let to = b.caregiver_id.ok_or_else(|| ApiError::missing("caregiver_id"))?;
            let row = state.orders.assign(id, to, me).await.with_field("order")?;
            return Ok(Json(order_view(&state, &user.viewer(), &row).await?));
        }
        "release" => {
            serve()?;
            OrderCommand::Release { caregiver: cg, reason: b.reason.unwrap_or_default() }
        }
        "start-trip" => {
            serve()?;
            OrderCommand::StartTrip { caregiver: cg }
        }
        "check-in" => {
            serve()?;
            OrderCommand::CheckIn { caregiver: cg, position: point(b.lat, b.lon)? }
        }
        "check-out" => {
            serve()?;
            OrderCommand::CheckOut {
                caregiver: cg,
                position: point(b.lat, b.lon)?,
                notes: b.notes.unwrap_or_default(),
                photos: stored_photos(&state, id, b.photos.unwrap_or_default()).await?,
            }
        }
        "confirm" => OrderCommand::Confirm { by: me },
        "rate" => {
            let mut tags = Vec::new();
            for t in b.tags.unwrap_or_default() {
                tags.push(RatingTag::parse_field("tags", &t)?);
            }
            OrderCommand::Rate {
                by: me,
                stars: b.stars.ok_or_else(|| ApiError::missing("stars"))?,
                tags,
                text: b.text.unwrap_or_default(),
            }
        }
        "complain" => OrderCommand::Complain {
            by: me,
            kind: ComplaintKind::parse_field("kind", b.kind.as_deref().unwrap_or("other"))?,
            text: b.text.unwrap_or_default(),
        },
        "cancel" => OrderCommand::Cancel {
            by: me,
            reason: CancelReason::parse_field(
                "reason",
                b.reason.as_deref().ok_or_else(|| ApiError::missing("reason"))?,
            )?,
            text: b.text.unwrap_or_default(),
        },
        "no-show" => {
            let party = NoShowParty::parse_field(
                "party",
                b.party.as_deref().ok_or_else(|| ApiError::missing("party"))?,
            )?;
            let position = match (b.lat, b.lon) {
                (None, None) => None,
                (lat, lon) => Some(point(lat, lon)?),
            };
            OrderCommand::NoShow { by: me, party, position }
        }
        _ => return Err(ApiError::NotFound("route")),
    };
    let row = state.orders.act(id, me, cmd).await.with_field("order")?;
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
            .map_err(|_| ApiError::TooLarge { max_bytes: MAX_UPLOAD })?;
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
    let cmd = OrderCommand::CheckOut {
        caregiver: user.account.id,
        position: point(lat, lon)?,
        notes,
        photos: photos.iter().map(|p| PhotoRef(p.reference.clone())).collect(),
    };
    let row = state.orders.act_with(id, actor(&user), cmd, photos).await.with_field("order")?;
    Ok(Json(order_view(&state, &user.viewer(), &row).await?))
}
