//! The home-care row types as stored, their column lists and their conversions to what the
//! store returns — shared by both backends.

use chrono::NaiveDate;
use zhulao_domain::{Fen, GeoPoint};
use zhulao_services::catalogue::{ServiceCategory, ServiceItem};
use zhulao_services::codes::{PoolCode, RuleCode, ServiceCode, SkillCode};
use zhulao_services::settlement::Usage;
use zhulao_services::{RegionPrefix, RegionPrice};

use super::{corrupt, json};
use crate::error::Result;
use crate::query::ByKey;
use crate::services::{
    ComplaintRow, HourRow, MealOrderRow, MenuRow, OrderEvent, OrderRow, PairRow, PhotoMeta, Pool,
    SettlementRow, VolunteerRow,
};

pub(crate) const ORDER_COLUMNS: &str =
    "id, home_station_id, next_due_at, order_json, version, created_at, updated_at";
pub(crate) const COMPLAINT_COLUMNS: &str =
    "id, region_code, next_due_at, case_json, version, created_at, updated_at";
pub(crate) const MEAL_COLUMNS: &str = "id, region_code, order_json, version, created_at, updated_at";
pub(crate) const SETTLEMENT_COLUMNS: &str = "id, kind, ref_id, elder_id, provider_id, caregiver_id, region_code, \
     category, service_date, split_json, trace_json, created_at";
pub(crate) const ITEM_COLUMNS: &str =
    "code, category, name_zh, name_en, duration_min, skills, base_price_fen, builtin, active";
pub(crate) const POOL_COLUMNS: &str = "code, name, region_prefix, balance_fen, updated_at";
pub(crate) const MENU_COLUMNS: &str = "menu_json, version, updated_at";
pub(crate) const PHOTO_COLUMNS: &str = "order_id, ref, caregiver_id, content_type, size_bytes, created_at";
pub(crate) const HOUR_COLUMNS: &str = "id, record_json, version";
pub(crate) const PAIR_COLUMNS: &str = "id, volunteer_id, elder_id, created_at, ended_at";
/// A volunteer's columns over `timebank_volunteers v`, with the number of live pairs.
pub(crate) const VOLUNTEER_COLUMNS: &str = "v.elder_id, v.skills, v.capacity, v.active, v.joined_at, \
     (SELECT COUNT(*) FROM timebank_pairs p WHERE p.volunteer_id = v.elder_id AND p.ended_at IS NULL) AS paired";

#[derive(sqlx::FromRow)]
pub(crate) struct ItemDbRow {
    code: String,
    category: String,
    name_zh: String,
    name_en: String,
    duration_min: i32,
    skills: String,
    base_price_fen: i64,
    builtin: bool,
    active: bool,
}

impl ItemDbRow {
    pub(crate) fn into_item(self) -> Result<ServiceItem> {
        const T: &str = "service_items";
        let skills: Vec<String> = json(T, &self.skills)?;
        Ok(ServiceItem {
            code: ServiceCode::parse("code", &self.code).map_err(|e| corrupt(T, e))?,
            category: ServiceCategory::parse_label(&self.category).ok_or_else(|| corrupt(T, "category"))?,
            name_zh: self.name_zh,
            name_en: self.name_en,
            duration_min: u32::try_from(self.duration_min).map_err(|e| corrupt(T, e))?,
            skills: skills
                .iter()
                .map(|s| SkillCode::parse("skills", s).map_err(|e| corrupt(T, e)))
                .collect::<Result<_>>()?,
            base_price: Fen(self.base_price_fen),
            builtin: self.builtin,
            active: self.active,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PriceDbRow {
    region_prefix: String,
    item_code: String,
    price_fen: i64,
}

impl PriceDbRow {
    pub(crate) fn into_price(self) -> Result<RegionPrice> {
        const T: &str = "service_prices";
        Ok(RegionPrice {
            region_prefix: RegionPrefix::parse("region_prefix", &self.region_prefix)
                .map_err(|e| corrupt(T, e))?,
            item: ServiceCode::parse("item", &self.item_code).map_err(|e| corrupt(T, e))?,
            price: Fen(self.price_fen),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct StatusDbRow {
    pub on_duty: bool,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub position_at: Option<i64>,
    pub quality_milli: i32,
    pub ratings: i32,
}

impl StatusDbRow {
    pub(crate) fn position(&self) -> Option<GeoPoint> {
        match (self.lat, self.lon) {
            (Some(lat), Some(lon)) => GeoPoint::new(lat, lon).ok(),
            _ => None,
        }
    }
}

/// The account columns, qualified with `a.` for joins.
pub(crate) const ACCOUNT_COLUMNS_A: &str = "a.id, a.username, a.display_name, a.role, a.phone, a.region_code, \
     a.facility_id, a.skills, a.certificates, a.active, a.created_at";

/// A caregiver near a point: the account and the duty row, from one join.
#[derive(sqlx::FromRow)]
pub(crate) struct NearDbRow {
    #[sqlx(flatten)]
    pub account: crate::rows::AccountRow,
    #[sqlx(flatten)]
    pub status: StatusDbRow,
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrderDbRow {
    id: i64,
    home_station_id: Option<i64>,
    next_due_at: Option<i64>,
    order_json: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl OrderDbRow {
    pub(crate) fn into_row(self) -> Result<OrderRow> {
        Ok(OrderRow {
            id: self.id,
            order: json("service_orders", &self.order_json)?,
            home_station_id: self.home_station_id,
            next_due_at: self.next_due_at,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrderEventDbRow {
    id: i64,
    order_id: i64,
    at: i64,
    actor_id: Option<i64>,
    actor_role: String,
    action: String,
    from_state: String,
    to_state: String,
    detail: String,
}

impl OrderEventDbRow {
    pub(crate) fn into_event(self) -> Result<OrderEvent> {
        Ok(OrderEvent {
            id: self.id,
            order_id: self.order_id,
            at: self.at,
            actor_id: self.actor_id,
            actor_role: self.actor_role,
            action: self.action,
            from_state: self.from_state,
            to_state: self.to_state,
            detail: json("order_events", &self.detail)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PhotoDbRow {
    order_id: i64,
    #[sqlx(rename = "ref")]
    reference: String,
    caregiver_id: Option<i64>,
    content_type: String,
    size_bytes: i64,
    created_at: i64,
}

impl PhotoDbRow {
    pub(crate) fn into_meta(self) -> PhotoMeta {
        PhotoMeta {
            order_id: self.order_id,
            reference: self.reference,
            caregiver_id: self.caregiver_id,
            content_type: self.content_type,
            size_bytes: self.size_bytes,
            created_at: self.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ComplaintDbRow {
    id: i64,
    region_code: String,
    next_due_at: Option<i64>,
    case_json: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl ComplaintDbRow {
    pub(crate) fn into_row(self) -> Result<ComplaintRow> {
        Ok(ComplaintRow {
            id: self.id,
            case: json("complaints", &self.case_json)?,
            region_code: self.region_code,
            next_due_at: self.next_due_at,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PoolDbRow {
    code: String,
    name: String,
    region_prefix: String,
    balance_fen: i64,
    updated_at: i64,
}

impl PoolDbRow {
    pub(crate) fn into_pool(self) -> Result<Pool> {
        const T: &str = "funding_pools";
        Ok(Pool {
            code: PoolCode::parse("code", &self.code).map_err(|e| corrupt(T, e))?,
            name: self.name,
            region_prefix: RegionPrefix::parse("region_prefix", &self.region_prefix)
                .map_err(|e| corrupt(T, e))?,
            balance_fen: self.balance_fen,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UsageDbRow {
    rule_code: String,
    year: i32,
    month: i32,
    month_fen: i64,
    year_fen: i64,
    month_units: i32,
    year_units: i32,
}

impl UsageDbRow {
    pub(crate) fn into_usage(self) -> Result<(RuleCode, Usage)> {
        const T: &str = "rule_usage";
        let n = |v: i32| u32::try_from(v).map_err(|e| corrupt(T, e));
        Ok((
            RuleCode::parse("rule_code", &self.rule_code).map_err(|e| corrupt(T, e))?,
            Usage {
                year: self.year,
                month: n(self.month)?,
                month_fen: Fen(self.month_fen),
                year_fen: Fen(self.year_fen),
                month_units: n(self.month_units)?,
                year_units: n(self.year_units)?,
            },
        ))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SettlementDbRow {
    id: i64,
    kind: String,
    ref_id: i64,
    elder_id: i64,
    provider_id: i64,
    caregiver_id: Option<i64>,
    region_code: String,
    category: String,
    service_date: String,
    split_json: String,
    trace_json: String,
    created_at: i64,
}

impl SettlementDbRow {
    pub(crate) fn into_row(self) -> Result<SettlementRow> {
        const T: &str = "settlements";
        Ok(SettlementRow {
            id: self.id,
            kind: self.kind,
            ref_id: self.ref_id,
            elder_id: self.elder_id,
            provider_id: self.provider_id,
            caregiver_id: self.caregiver_id,
            region_code: self.region_code,
            category: ServiceCategory::parse_label(&self.category).ok_or_else(|| corrupt(T, "category"))?,
            date: NaiveDate::parse_from_str(&self.service_date, "%Y-%m-%d").map_err(|e| corrupt(T, e))?,
            split: json(T, &self.split_json)?,
            trace: json(T, &self.trace_json)?,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MenuDbRow {
    menu_json: String,
    version: i64,
    updated_at: i64,
}

impl MenuDbRow {
    pub(crate) fn into_row(self) -> Result<MenuRow> {
        Ok(MenuRow {
            menu: json("canteen_menus", &self.menu_json)?,
            version: self.version,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MealDbRow {
    id: i64,
    region_code: String,
    order_json: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl MealDbRow {
    pub(crate) fn into_row(self) -> Result<MealOrderRow> {
        Ok(MealOrderRow {
            id: self.id,
            order: json("meal_orders", &self.order_json)?,
            region_code: self.region_code,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct VolunteerDbRow {
    elder_id: i64,
    skills: String,
    capacity: i32,
    active: bool,
    joined_at: i64,
    paired: i64,
}

impl VolunteerDbRow {
    pub(crate) fn into_row(self) -> Result<VolunteerRow> {
        const T: &str = "timebank_volunteers";
        Ok(VolunteerRow {
            elder_id: self.elder_id,
            skills: json(T, &self.skills)?,
            capacity: u32::try_from(self.capacity).map_err(|e| corrupt(T, e))?,
            active: self.active,
            joined_at: self.joined_at,
            paired: u32::try_from(self.paired).map_err(|e| corrupt(T, e))?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct HourDbRow {
    id: i64,
    record_json: String,
    version: i64,
}

impl HourDbRow {
    pub(crate) fn into_row(self) -> Result<HourRow> {
        Ok(HourRow {
            id: self.id,
            record: json("timebank_records", &self.record_json)?,
            version: self.version,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PairDbRow {
    id: i64,
    volunteer_id: i64,
    elder_id: i64,
    created_at: i64,
    ended_at: Option<i64>,
}

impl From<PairDbRow> for PairRow {
    fn from(r: PairDbRow) -> Self {
        PairRow {
            id: r.id,
            volunteer_id: r.volunteer_id,
            elder_id: r.elder_id,
            created_at: r.created_at,
            ended_at: r.ended_at,
        }
    }
}

/// `impl ByKey`: the row type, what it converts to (with which function), its table, columns,
/// key column and the entity a missing one is reported as.
macro_rules! by_key {
    ($row:ty => $out:ty, $convert:expr, $table:literal, $columns:expr, $key:literal, $entity:literal) => {
        impl ByKey for $row {
            type Out = $out;
            const ENTITY: &'static str = $entity;
            const TABLE: &'static str = $table;
            const COLUMNS: &'static str = $columns;
            const KEY: &'static str = $key;
            fn into_out(self) -> Result<$out> {
                $convert(self)
            }
        }
    };
}

by_key!(ItemDbRow => ServiceItem, ItemDbRow::into_item, "service_items", ITEM_COLUMNS, "code", "service item");
by_key!(OrderDbRow => OrderRow, OrderDbRow::into_row, "service_orders", ORDER_COLUMNS, "id", "order");
by_key!(ComplaintDbRow => ComplaintRow, ComplaintDbRow::into_row, "complaints", COMPLAINT_COLUMNS, "id", "complaint");
by_key!(PoolDbRow => Pool, PoolDbRow::into_pool, "funding_pools", POOL_COLUMNS, "code", "pool");
by_key!(MealDbRow => MealOrderRow, MealDbRow::into_row, "meal_orders", MEAL_COLUMNS, "id", "meal order");
by_key!(HourDbRow => HourRow, HourDbRow::into_row, "timebank_records", HOUR_COLUMNS, "id", "hour record");
by_key!(PairDbRow => PairRow, |r: PairDbRow| Ok(r.into()), "timebank_pairs", PAIR_COLUMNS, "id", "pair");
by_key!(
    VolunteerDbRow => VolunteerRow,
    VolunteerDbRow::into_row,
    "timebank_volunteers v",
    VOLUNTEER_COLUMNS,
    "v.elder_id",
    "volunteer"
);
