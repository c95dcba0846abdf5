//! What the API shows: wire types with personal data masked or withheld according to the
//! access policy (`zhulao_domain::policy::personal_data`) — pages, elders, orders — and the
//! small wire types several resources share.

use chrono::NaiveDate;
use serde::Serialize;
use zhulao_domain::policy::{self, PersonalData, mask_address};
use zhulao_domain::{
    CapabilityLevel, EconomicStatus, Elder, ElderStatus, GeoPoint, HealthRecord, Hukou, LivingArrangement,
    Role, Sex, Viewer,
};
use zhulao_services::ServiceCode;
use zhulao_services::order::{OrderActor, OrderChannel, OrderState, Schedule};
use zhulao_store::OrderRow;

use crate::AppState;
use crate::error::ApiResult;

/// One page of a list.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PageView<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

impl<T> PageView<T> {
    pub fn from_store<S>(p: zhulao_store::Page<S>, f: impl FnMut(S) -> T) -> Self {
        PageView {
            items: p.items.into_iter().map(f).collect(),
            total: p.total,
            page: p.offset / p.limit.max(1) + 1,
            per_page: p.limit,
        }
    }
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ContactView {
    pub name: String,
    pub relation: String,
    pub phone: String,
}

/// An elder as the viewer may see it. Fields listed in `masked` are shown masked
/// (`140213********0012`, `138****5678`, `平城区新建南路街道***`) or withheld (`null`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ElderView {
    pub id: i64,
    pub id_number: String,
    pub name: String,
    pub sex: Sex,
    pub age: i32,
    /// Withheld when the ID number is masked (it would reveal it).
    pub birth_date: Option<NaiveDate>,
    pub phone: Option<String>,
    pub address: String,
    /// Withheld when the address is masked.
    pub location: Option<GeoPoint>,
    pub region_code: String,
    pub hukou: Hukou,
    pub living: LivingArrangement,
    pub economic: EconomicStatus,
    pub capability: CapabilityLevel,
    pub health: Option<HealthRecord>,
    pub contacts: Option<Vec<ContactView>>,
    pub care_manager_id: Option<i64>,
    pub home_station_id: Option<i64>,
    pub card_no: Option<String>,
    pub card_balance_fen: i64,
    pub status: ElderStatus,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Which fields are masked or withheld for this viewer.
    pub masked: Vec<&'static str>,
}

impl ElderView {
    pub fn new(e: Elder, access: PersonalData, today: NaiveDate) -> Self {
        let r = e.record;
        let mut masked = Vec::new();
        let mut note = |ok: bool, field: &'static str| {
            if !ok {
                masked.push(field);
            }
            ok
        };
        let full_id = note(access.id_number, "id_number");
        let full_phone = note(access.phone, "phone");
        let full_address = note(access.address, "address");
        let contacts = note(access.contacts, "contacts");
        let health = note(access.health, "health");
        ElderView {
            id: e.id,
            id_number: if full_id { r.id_number.as_str().to_string() } else { r.id_number.masked() },
            age: zhulao_domain::elder::age_on(r.birth_date, today),
            birth_date: full_id.then_some(r.birth_date),
            name: r.name,
            sex: r.sex,
            phone: r.phone.map(|p| if full_phone { p.as_str().to_string() } else { p.masked() }),
            address: if full_address { r.address } else { mask_address(&r.address) },
            location: if full_address { r.location } else { None },
            region_code: r.region.as_str().to_string(),
            hukou: r.hukou,
            living: r.living,
            economic: r.economic,
            capability: r.capability,
            health: health.then_some(r.health),
            contacts: contacts.then(|| {
                r.contacts
                    .into_iter()
                    .map(|c| ContactView {
                        name: c.name,
                        relation: c.relation,
                        phone: c.phone.as_str().to_string(),
                    })
                    .collect()
            }),
            care_manager_id: r.care_manager_id,
            home_station_id: r.home_station_id,
            card_no: r.card_no,
            card_balance_fen: r.card_balance.0,
            status: e.status,
            version: e.version,
            created_at: e.created_at,
            updated_at: e.updated_at,
            masked,
        }
    }
}

/// Removes personal values from an audit record for viewers who may not see them.
pub fn scrub_personal(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                match k.as_str() {
                    "id_number" | "phone" | "address" | "location" | "contacts" | "health" | "birth_date"
                    | "monitoring" | "safe_zones" | "vital_limits" => {
                        *val = serde_json::Value::String("***".into());
                    }
                    _ => scrub_personal(val),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(scrub_personal),
        _ => {}
    }
}

// Switches a record (an account, a facility) on or off. (No doc comment: it would change
// the schema in the OpenAPI document.)
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActiveFlag {
    pub active: bool,
}

/// A time as Unix milliseconds.
pub(crate) fn ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

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
    pub placed_by: OrderActor,
    /// Who assigned the caregiver; absent when grabbed.
    pub assigned_by: Option<OrderActor>,
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
