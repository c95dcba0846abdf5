//! What the API shows: wire types with personal data masked or withheld according to the
//! access policy (`zhulao_domain::policy::personal_data`).

use chrono::NaiveDate;
use zhulao_domain::policy::{PersonalData, mask_address};
use zhulao_domain::{
    CapabilityLevel, EconomicStatus, Elder, ElderStatus, GeoPoint, HealthRecord, Hukou, LivingArrangement,
    Sex,
};

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
