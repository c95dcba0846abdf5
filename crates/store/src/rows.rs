//! Row shapes shared by both backends, and their conversion into domain values. Stored
//! values are re-validated on the way out: a row edited behind zhulao's back becomes
//! [`StoreError::Corrupt`], never a panic.

use chrono::NaiveDate;
use zhulao_domain::{
    Account, CapabilityLevel, Device, DeviceBinding, DeviceKind, EconomicStatus, Elder, ElderRecord,
    ElderStatus, Facility, FacilityKind, FacilityRecord, Fen, GeoPoint, Hukou, IdNumber, LivingArrangement,
    Phone, Region, RegionCode, RegionLevel, Role, Sex,
};

use crate::error::{Result, StoreError};
use crate::{Assignment, AuditEntry, StatusChange};

fn corrupt(table: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { table, detail: detail.to_string() }
}

fn parse<T>(table: &'static str, r: std::result::Result<T, zhulao_domain::FieldError>) -> Result<T> {
    r.map_err(|e| corrupt(table, e))
}

fn phone(table: &'static str, p: Option<String>) -> Result<Option<Phone>> {
    p.map(|p| parse(table, Phone::parse("phone", &p))).transpose()
}

fn region(table: &'static str, c: &str) -> Result<RegionCode> {
    parse(table, RegionCode::parse("region_code", c))
}

fn json<T: serde::de::DeserializeOwned>(table: &'static str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| corrupt(table, e))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain values always serialise")
}

#[derive(sqlx::FromRow)]
pub(crate) struct RegionRow {
    code: String,
    name: String,
    level: i16,
    parent_code: Option<String>,
}

impl RegionRow {
    pub(crate) fn into_domain(self) -> Result<Region> {
        Ok(Region {
            code: region("regions", &self.code)?,
            name: self.name,
            level: RegionLevel::from_i16(self.level).ok_or_else(|| corrupt("regions", "level"))?,
            parent: self.parent_code.as_deref().map(|c| region("regions", c)).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct FacilityRow {
    id: i64,
    kind: String,
    name: String,
    region_code: String,
    address: String,
    lat: f64,
    lon: f64,
    opening_hours: String,
    beds: Option<i32>,
    meals_per_day: Option<i32>,
    operator_org: String,
    service_radius_m: i32,
    phone: Option<String>,
    active: bool,
    created_at: i64,
    updated_at: i64,
}

impl FacilityRow {
    pub(crate) fn into_domain(self) -> Result<Facility> {
        const T: &str = "facilities";
        Ok(Facility {
            id: self.id,
            record: FacilityRecord {
                kind: FacilityKind::parse_label(&self.kind).ok_or_else(|| corrupt(T, "kind"))?,
                name: self.name,
                region: region(T, &self.region_code)?,
                address: self.address,
                location: parse(T, GeoPoint::new(self.lat, self.lon))?,
                opening_hours: self.opening_hours,
                beds: self.beds,
                meals_per_day: self.meals_per_day,
                operator_org: self.operator_org,
                service_radius_m: self.service_radius_m,
                phone: phone(T, self.phone)?,
            },
            active: self.active,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    phone: Option<String>,
    region_code: Option<String>,
    facility_id: Option<i64>,
    skills: String,
    certificates: String,
    active: bool,
    created_at: i64,
}

impl AccountRow {
    pub(crate) fn into_domain(self) -> Result<Account> {
        const T: &str = "accounts";
        Ok(Account {
            id: self.id,
            username: self.username,
            display_name: self.display_name,
            role: Role::parse_label(&self.role).ok_or_else(|| corrupt(T, "role"))?,
            phone: phone(T, self.phone)?,
            region: self.region_code.as_deref().map(|c| region(T, c)).transpose()?,
            facility_id: self.facility_id,
            skills: json(T, &self.skills)?,
            certificates: json(T, &self.certificates)?,
            active: self.active,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ElderRow {
    id: i64,
    id_number: String,
    name: String,
    birth_date: String,
    phone: Option<String>,
    address: String,
    lat: Option<f64>,
    lon: Option<f64>,
    region_code: String,
    hukou: String,
    living: String,
    economic: String,
    capability: i16,
    health: String,
    contacts: String,
    care_manager_id: Option<i64>,
    home_station_id: Option<i64>,
    card_no: Option<String>,
    card_balance_fen: i64,
    status: String,
    monitoring: String,
    created_at: i64,
    updated_at: i64,
    version: i64,
}

impl ElderRow {
    pub(crate) fn into_domain(self) -> Result<Elder> {
        const T: &str = "elders";
        let id_number = parse(T, IdNumber::parse_stored(&self.id_number))?;
        let birth_date: NaiveDate = self.birth_date.parse().map_err(|e| corrupt(T, e))?;
        let location = match (self.lat, self.lon) {
            (Some(lat), Some(lon)) => Some(parse(T, GeoPoint::new(lat, lon))?),
            _ => None,
        };
        Ok(Elder {
            id: self.id,
            record: ElderRecord {
                sex: id_number.sex(),
                id_number,
                name: self.name,
                birth_date,
                phone: phone(T, self.phone)?,
                address: self.address,
                location,
                region: region(T, &self.region_code)?,
                hukou: Hukou::parse_label(&self.hukou).ok_or_else(|| corrupt(T, "hukou"))?,
                living: LivingArrangement::parse_label(&self.living).ok_or_else(|| corrupt(T, "living"))?,
                economic: EconomicStatus::parse_label(&self.economic)
                    .ok_or_else(|| corrupt(T, "economic"))?,
                capability: CapabilityLevel::from_i16(self.capability)
                    .ok_or_else(|| corrupt(T, "capability"))?,
                health: json(T, &self.health)?,
                contacts: json(T, &self.contacts)?,
                care_manager_id: self.care_manager_id,
                home_station_id: self.home_station_id,
                card_no: self.card_no,
                card_balance: Fen(self.card_balance_fen),
            },
            status: ElderStatus::parse_label(&self.status).ok_or_else(|| corrupt(T, "status"))?,
            monitoring: json(T, &self.monitoring)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        })
    }
}

/// The columns an elder write binds, in `ELDER_COLUMNS` order (after `id`).
pub(crate) struct ElderValues {
    pub id_number: String,
    pub name: String,
    pub sex: &'static str,
    pub birth_date: String,
    pub phone: Option<String>,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub region_code: String,
    pub hukou: &'static str,
    pub living: &'static str,
    pub economic: &'static str,
    pub capability: i16,
    pub health: String,
    pub contacts: String,
    pub care_manager_id: Option<i64>,
    pub home_station_id: Option<i64>,
    pub card_no: Option<String>,
    pub card_balance_fen: i64,
}

impl ElderValues {
    pub(crate) fn of(r: &ElderRecord) -> Self {
        ElderValues {
            id_number: r.id_number.as_str().to_string(),
            name: r.name.clone(),
            sex: match r.sex {
                Sex::Male => "male",
                Sex::Female => "female",
            },
            birth_date: r.birth_date.format("%Y-%m-%d").to_string(),
            phone: r.phone.as_ref().map(|p| p.as_str().to_string()),
            address: r.address.clone(),
            lat: r.location.map(|l| l.lat),
            lon: r.location.map(|l| l.lon),
            region_code: r.region.as_str().to_string(),
            hukou: r.hukou.as_str(),
            living: r.living.as_str(),
            economic: r.economic.as_str(),
            capability: r.capability.as_i16(),
            health: to_json(&r.health),
            contacts: to_json(&r.contacts),
            care_manager_id: r.care_manager_id,
            home_station_id: r.home_station_id,
            card_no: r.card_no.clone(),
            card_balance_fen: r.card_balance.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeviceRow {
    id: i64,
    serial: String,
    kind: String,
    model: String,
    elder_id: Option<i64>,
    active: bool,
    created_at: i64,
    #[sqlx(default)]
    secret_hash: Option<String>,
}

impl DeviceRow {
    pub(crate) fn into_domain(self) -> Result<Device> {
        self.into_with_secret().map(|(d, _)| d)
    }

    pub(crate) fn into_with_secret(self) -> Result<(Device, String)> {
        Ok((
            Device {
                id: self.id,
                serial: self.serial,
                kind: DeviceKind::parse_label(&self.kind).ok_or_else(|| corrupt("devices", "kind"))?,
                model: self.model,
                elder_id: self.elder_id,
                active: self.active,
                created_at: self.created_at,
            },
            self.secret_hash.unwrap_or_default(),
        ))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct BindingRow {
    device_id: i64,
    elder_id: i64,
    bound_at: i64,
    unbound_at: Option<i64>,
    bound_by: i64,
}

impl From<BindingRow> for DeviceBinding {
    fn from(r: BindingRow) -> Self {
        DeviceBinding {
            device_id: r.device_id,
            elder_id: r.elder_id,
            bound_at: r.bound_at,
            unbound_at: r.unbound_at,
            bound_by: r.bound_by,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: i64,
    at: i64,
    actor_id: Option<i64>,
    action: String,
    entity: String,
    entity_id: String,
    before: Option<String>,
    after: Option<String>,
}

impl AuditRow {
    pub(crate) fn into_domain(self) -> Result<AuditEntry> {
        let j = |s: Option<String>| s.map(|s| json::<serde_json::Value>("audit_log", &s)).transpose();
        Ok(AuditEntry {
            id: self.id,
            at: self.at,
            actor_id: self.actor_id,
            action: self.action,
            entity: self.entity,
            entity_id: self.entity_id,
            before: j(self.before)?,
            after: j(self.after)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct StatusRow {
    status: String,
    reason: String,
    at: i64,
    actor_id: Option<i64>,
}

impl StatusRow {
    pub(crate) fn into_domain(self) -> Result<StatusChange> {
        Ok(StatusChange {
            status: ElderStatus::parse_label(&self.status)
                .ok_or_else(|| corrupt("elder_status_history", "status"))?,
            reason: self.reason,
            at: self.at,
            actor_id: self.actor_id,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AssignmentRow {
    id: i64,
    caregiver_id: i64,
    elder_id: i64,
    started_at: i64,
    ended_at: Option<i64>,
}

impl From<AssignmentRow> for Assignment {
    fn from(r: AssignmentRow) -> Self {
        Assignment {
            id: r.id,
            caregiver_id: r.caregiver_id,
            elder_id: r.elder_id,
            started_at: r.started_at,
            ended_at: r.ended_at,
        }
    }
}

pub(crate) const ELDER_COLUMNS: &str = "id, id_number, name, sex, birth_date, phone, address, lat, lon, region_code, \
     hukou, living, economic, capability, health, contacts, care_manager_id, home_station_id, card_no, \
     card_balance_fen, status, monitoring, created_at, updated_at, version";
pub(crate) const FACILITY_COLUMNS: &str = "id, kind, name, region_code, address, lat, lon, opening_hours, beds, \
     meals_per_day, operator_org, service_radius_m, phone, active, created_at, updated_at";
pub(crate) const ACCOUNT_COLUMNS: &str = "id, username, display_name, role, phone, region_code, facility_id, skills, certificates, active, created_at";
pub(crate) const DEVICE_COLUMNS: &str = "id, serial, kind, model, elder_id, active, created_at";

impl crate::query::ByKey for ElderRow {
    type Out = Elder;
    const ENTITY: &'static str = "elder";
    const TABLE: &'static str = "elders";
    const COLUMNS: &'static str = ELDER_COLUMNS;
    fn into_out(self) -> Result<Elder> {
        self.into_domain()
    }
}

impl crate::query::ByKey for FacilityRow {
    type Out = Facility;
    const ENTITY: &'static str = "facility";
    const TABLE: &'static str = "facilities";
    const COLUMNS: &'static str = FACILITY_COLUMNS;
    fn into_out(self) -> Result<Facility> {
        self.into_domain()
    }
}

impl crate::query::ByKey for AccountRow {
    type Out = Account;
    const ENTITY: &'static str = "account";
    const TABLE: &'static str = "accounts";
    const COLUMNS: &'static str = ACCOUNT_COLUMNS;
    fn into_out(self) -> Result<Account> {
        self.into_domain()
    }
}

impl crate::query::ByKey for DeviceRow {
    type Out = Device;
    const ENTITY: &'static str = "device";
    const TABLE: &'static str = "devices";
    const COLUMNS: &'static str = DEVICE_COLUMNS;
    fn into_out(self) -> Result<Device> {
        self.into_domain()
    }
}
