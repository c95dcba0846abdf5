//! The SQL implementation of [`crate::ServiceStore`], instantiated per backend by
//! `service_store!` next to `sql_store!` (whose helpers — `Tx`, `audit`, `paged`,
//! `fetch_account` — it uses). Same dialect rules as `sql.rs`: `$N` placeholders,
//! `RETURNING`, `ON CONFLICT`, `TRUE`/`FALSE`, nothing else.

use chrono::{DateTime, NaiveDate, Utc};
use zhulao_domain::{Fen, FieldError, GeoPoint};
use zhulao_services::catalogue::{ServiceCategory, ServiceItem};
use zhulao_services::codes::{PoolCode, RuleCode, ServiceCode, SkillCode};
use zhulao_services::order::Order;
use zhulao_services::settlement::Usage;
use zhulao_services::timebank::Account as LedgerAccount;
use zhulao_services::{RegionPrefix, RegionPrice};

use crate::error::{Result, StoreError};
use crate::services::{
    ComplaintRow, HourRow, MealOrderRow, MenuRow, OrderEvent, OrderRow, PairRow, PhotoMeta, Pool,
    SettlementRow, VolunteerRow,
};

pub(crate) const HELD: &str = "('taken', 'on_the_way', 'checked_in')";
pub(crate) const ORDER_COLUMNS: &str =
    "id, home_station_id, next_due_at, order_json, version, created_at, updated_at";
pub(crate) const COMPLAINT_COLUMNS: &str =
    "id, region_code, next_due_at, case_json, version, created_at, updated_at";
pub(crate) const MEAL_COLUMNS: &str = "id, region_code, order_json, version, created_at, updated_at";
pub(crate) const SETTLEMENT_COLUMNS: &str = "id, kind, ref_id, elder_id, provider_id, caregiver_id, region_code, \
     category, service_date, split_json, trace_json, created_at";

pub(crate) fn corrupt(table: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { table, detail: detail.to_string() }
}

fn json<T: serde::de::DeserializeOwned>(table: &'static str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| corrupt(table, e))
}

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A guard that refused: the balances (or the record) moved since they were read.
pub(crate) fn stale() -> StoreError {
    StoreError::Stale { current: -1 }
}

pub(crate) fn caregiver_busy() -> StoreError {
    StoreError::Conflict(FieldError::new(
        "caregiver_id",
        "caregiver_busy",
        "该助老员在这段时间已有其他订单",
        "the caregiver already holds an order at that time",
    ))
}

pub(crate) fn insufficient_minutes() -> StoreError {
    StoreError::Conflict(FieldError::new(
        "minutes",
        "timebank_insufficient",
        "时间余额不足",
        "not enough time banked",
    ))
}

/// The columns an order's case decides, besides the JSON itself.
pub(crate) struct OrderColumns {
    pub elder_id: i64,
    pub region_code: String,
    pub item_code: String,
    pub category: &'static str,
    pub state: &'static str,
    pub caregiver_id: Option<i64>,
    pub placed_by: Option<i64>,
    pub price_fen: i64,
    pub scheduled_at: Option<i64>,
    pub home_lat: f64,
    pub home_lon: f64,
    pub window: Option<(i64, i64)>,
    pub rating_stars: Option<i16>,
    pub caregiver_no_show: bool,
    pub ended_at: Option<i64>,
    pub json: String,
}

impl OrderColumns {
    pub(crate) fn of(o: &Order) -> Self {
        use zhulao_services::order::{ActorRole, NoShowParty, Schedule};
        let window = o.state.is_held().then(|| {
            let w = o.window(o.taken_at.unwrap_or(o.created_at));
            (ms(w.start), ms(w.end))
        });
        OrderColumns {
            elder_id: o.elder,
            region_code: o.region.as_str().to_string(),
            item_code: o.item.as_str().to_string(),
            category: o.category.as_str(),
            state: o.state.as_str(),
            caregiver_id: o.caregiver,
            placed_by: (!matches!(o.placed_by.role, ActorRole::Elder | ActorRole::System))
                .then_some(o.placed_by.id),
            price_fen: o.price.0,
            scheduled_at: match o.schedule {
                Schedule::Asap => None,
                Schedule::At { start } => Some(ms(start)),
            },
            home_lat: o.home.lat,
            home_lon: o.home.lon,
            window,
            rating_stars: o.rating.as_ref().map(|r| i16::from(r.stars)),
            caregiver_no_show: o.no_show.as_ref().is_some_and(|n| n.party == NoShowParty::Caregiver),
            ended_at: o.ended_at.map(ms),
            json: crate::rows::to_json(o),
        }
    }
}

/// A ledger account's key in `timebank_balances`.
pub(crate) fn ledger_key(a: LedgerAccount) -> String {
    match a {
        LedgerAccount::Volunteer { id } => format!("volunteer:{id}"),
        LedgerAccount::Pending { id } => format!("pending:{id}"),
        LedgerAccount::Issued => "issued".into(),
        LedgerAccount::Redeemed => "redeemed".into(),
    }
}

/// A bounding box around `center` that contains the circle of `radius_m`.
pub(crate) fn bbox(center: GeoPoint, radius_m: u32) -> (f64, f64, f64, f64) {
    let dlat = f64::from(radius_m) / 111_000.0;
    let cos = center.lat.to_radians().cos().abs().max(0.01);
    let dlon = f64::from(radius_m) / (111_000.0 * cos);
    (center.lat - dlat, center.lat + dlat, center.lon - dlon, center.lon + dlon)
}

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

macro_rules! service_store {
    ($store:ident, $db:ty) => {
        use zhulao_services::catalogue::{
            Catalogue as SvcCatalogue, RegionPrice as SvcRegionPrice, ServiceItem as SvcItem,
        };
        use zhulao_services::meals::{MealOrder as SvcMealOrder, MealSlot as SvcMealSlot, Menu as SvcMenu};
        use zhulao_services::order::{Order as SvcOrder, OrderState as SvcOrderState};
        use zhulao_services::profile::ElderCategory as SvcElderCategory;
        use zhulao_services::quality::{
            ComplaintCase as SvcComplaintCase, QualityInputs as SvcQualityInputs,
            QualityScore as SvcQualityScore,
        };
        use zhulao_services::settlement::{
            Balances as SvcBalances, RegionRules as SvcRegionRules, RuleBook as SvcRuleBook,
        };
        use zhulao_services::timebank::{HourRecord as SvcHourRecord, Posting as SvcPosting};

        use $crate::service_sql::{
            COMPLAINT_COLUMNS, ComplaintDbRow, HELD, HourDbRow, ItemDbRow, MEAL_COLUMNS, MealDbRow, MenuDbRow,
            NearDbRow, ORDER_COLUMNS, OrderColumns, OrderDbRow, OrderEventDbRow, PairDbRow, PhotoDbRow, PoolDbRow,
            PriceDbRow, SETTLEMENT_COLUMNS, SettlementDbRow, StatusDbRow, UsageDbRow, VolunteerDbRow, bbox,
            caregiver_busy, date_text, insufficient_minutes, ledger_key, stale,
        };
        use $crate::services::{
            CaregiverRow, ComplaintFilter, ComplaintRow, HourFilter, HourRow, MealOrderFilter, MealOrderRow,
            MenuRow, NewPhoto, NewSettlement, OrderEvent, OrderEventInput, OrderFilter, OrderRow, OrderScope,
            PairRow, PhotoMeta, Pool, ServiceStore, SettlementFilter, SettlementRow, TimeBalance,
            VolunteerRow,
        };

        async fn fetch_order<'e>(e: impl sqlx::Executor<'e, Database = $db>, id: i64) -> Result<OrderRow> {
            sqlx::query_as::<_, OrderDbRow>(&format!("SELECT {ORDER_COLUMNS} FROM service_orders WHERE id = $1"))
                .bind(id)
                .fetch_optional(e)
                .await?
                .ok_or_else(|| not_found("order"))?
                .into_row()
        }

        async fn fetch_item<'e>(e: impl sqlx::Executor<'e, Database = $db>, code: &str) -> Result<SvcItem> {
            sqlx::query_as::<_, ItemDbRow>(
                "SELECT code, category, name_zh, name_en, duration_min, skills, base_price_fen, builtin, active \
                 FROM service_items WHERE code = $1",
            )
            .bind(code)
            .fetch_optional(e)
            .await?
            .ok_or_else(|| not_found("service item"))?
            .into_item()
        }

        async fn fetch_complaint<'e>(e: impl sqlx::Executor<'e, Database = $db>, id: i64) -> Result<ComplaintRow> {
            sqlx::query_as::<_, ComplaintDbRow>(&format!("SELECT {COMPLAINT_COLUMNS} FROM complaints WHERE id = $1"))
                .bind(id)
                .fetch_optional(e)
                .await?
                .ok_or_else(|| not_found("complaint"))?
                .into_row()
        }

        async fn fetch_meal<'e>(e: impl sqlx::Executor<'e, Database = $db>, id: i64) -> Result<MealOrderRow> {
            sqlx::query_as::<_, MealDbRow>(&format!("SELECT {MEAL_COLUMNS} FROM meal_orders WHERE id = $1"))
                .bind(id)
                .fetch_optional(e)
                .await?
                .ok_or_else(|| not_found("meal order"))?
                .into_row()
        }

        async fn fetch_hours<'e>(e: impl sqlx::Executor<'e, Database = $db>, id: i64) -> Result<HourRow> {
            sqlx::query_as::<_, HourDbRow>("SELECT id, record_json, version FROM timebank_records WHERE id = $1")
                .bind(id)
                .fetch_optional(e)
                .await?
                .ok_or_else(|| not_found("hour record"))?
                .into_row()
        }

        async fn fetch_pair<'e>(e: impl sqlx::Executor<'e, Database = $db>, id: i64) -> Result<PairRow> {
            Ok(sqlx::query_as::<_, PairDbRow>(
                "SELECT id, volunteer_id, elder_id, created_at, ended_at FROM timebank_pairs WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(e)
            .await?
            .ok_or_else(|| not_found("pair"))?
            .into())
        }

        const VOLUNTEER_SELECT: &str = "SELECT v.elder_id, v.skills, v.capacity, v.active, v.joined_at, \
             (SELECT COUNT(*) FROM timebank_pairs p WHERE p.volunteer_id = v.elder_id AND p.ended_at IS NULL) AS paired \
             FROM timebank_volunteers v";

        /// The windows of the orders each of `ids` holds.
        async fn commitments(pool: &sqlx::Pool<$db>, ids: &[i64]) -> Result<std::collections::HashMap<i64, Vec<(i64, i64)>>> {
            let mut out: std::collections::HashMap<i64, Vec<(i64, i64)>> = std::collections::HashMap::new();
            for chunk in ids.chunks(CHUNK) {
                let mut qb = QueryBuilder::<$db>::new(format!(
                    "SELECT caregiver_id, window_start, window_end FROM service_orders WHERE state IN {HELD} \
                     AND window_start IS NOT NULL AND caregiver_id IN ("
                ));
                let mut sep = qb.separated(", ");
                for id in chunk {
                    sep.push_bind(*id);
                }
                qb.push(")");
                for row in qb.build().fetch_all(pool).await? {
                    let c: i64 = row.try_get(0)?;
                    let (s, e): (i64, i64) = (row.try_get(1)?, row.try_get(2)?);
                    out.entry(c).or_default().push((s, e));
                }
            }
            Ok(out)
        }

        fn status_or_default(s: Option<StatusDbRow>) -> StatusDbRow {
            s.unwrap_or(StatusDbRow {
                on_duty: false,
                lat: None,
                lon: None,
                position_at: None,
                quality_milli: 4000,
                ratings: 0,
            })
        }

        fn caregiver_row(account: Account, s: StatusDbRow, commitments: Vec<(i64, i64)>) -> CaregiverRow {
            CaregiverRow {
                position: s.position(),
                account,
                on_duty: s.on_duty,
                position_at: s.position_at,
                quality_milli: u32::try_from(s.quality_milli).unwrap_or(4000),
                ratings: u32::try_from(s.ratings).unwrap_or(0),
                commitments,
            }
        }

        /// Appends an SQL condition over a table with an `elder_id` (and `region_code`) column
        /// for a viewer's scope.
        fn push_order_scope(qb: &mut QueryBuilder<'_, $db>, scope: &OrderScope, caregiver_col: &str) {
            match scope {
                OrderScope::All => {
                    qb.push("TRUE");
                }
                OrderScope::RegionPrefix(p) => {
                    qb.push("region_code LIKE ").push_bind(format!("{p}%"));
                }
                OrderScope::Station { facility, region_prefix } => {
                    qb.push("(elder_id IN (SELECT id FROM elders WHERE home_station_id = ").push_bind(*facility).push(")");
                    if let Some(p) = region_prefix {
                        qb.push(" OR region_code LIKE ").push_bind(format!("{p}%"));
                    }
                    qb.push(")");
                }
                OrderScope::CareManager(id) => {
                    qb.push("elder_id IN (SELECT id FROM elders WHERE care_manager_id = ").push_bind(*id).push(")");
                }
                OrderScope::Family(id) => {
                    qb.push("elder_id IN (SELECT elder_id FROM family_links WHERE account_id = ").push_bind(*id).push(")");
                }
                OrderScope::Caregiver(id) => {
                    if caregiver_col.is_empty() {
                        qb.push("FALSE");
                    } else {
                        qb.push(format!("{caregiver_col} = ")).push_bind(*id);
                    }
                }
            }
        }

        async fn insert_order_event(
            tx: &mut Tx,
            order_id: i64,
            at: i64,
            from: &str,
            to: &str,
            e: &OrderEventInput,
        ) -> Result<()> {
            sqlx::query(
                "INSERT INTO order_events (order_id, at, actor_id, actor_role, action, from_state, to_state, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(order_id)
            .bind(at)
            .bind(e.actor.account_id)
            .bind(&e.actor_role)
            .bind(&e.action)
            .bind(from)
            .bind(to)
            .bind(e.detail.to_string())
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// The conditional update of one order: `Stale` unless version and state match.
        async fn update_order_in(
            tx: &mut Tx,
            id: i64,
            expected_version: i64,
            expected_state: SvcOrderState,
            order: &SvcOrder,
            next_due_at: Option<i64>,
            now: i64,
        ) -> Result<()> {
            let c = OrderColumns::of(order);
            let done = sqlx::query(
                "UPDATE service_orders SET state = $1, caregiver_id = $2, window_start = $3, window_end = $4, \
                 rating_stars = $5, caregiver_no_show = $6, ended_at = $7, next_due_at = $8, order_json = $9, \
                 updated_at = $10, version = version + 1 \
                 WHERE id = $11 AND version = $12 AND state = $13",
            )
            .bind(c.state)
            .bind(c.caregiver_id)
            .bind(c.window.map(|w| w.0))
            .bind(c.window.map(|w| w.1))
            .bind(c.rating_stars)
            .bind(c.caregiver_no_show)
            .bind(c.ended_at)
            .bind(next_due_at)
            .bind(&c.json)
            .bind(now)
            .bind(id)
            .bind(expected_version)
            .bind(expected_state.as_str())
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if done == 0 {
                let current = fetch_order(&mut **tx, id).await?;
                return Err(StoreError::Stale { current: current.version });
            }
            if let (true, Some(caregiver), Some((start, end))) = (order.state.is_held(), c.caregiver_id, c.window) {
                // Lock the caregiver's row so two of their grabs cannot both pass the check.
                sqlx::query(
                    "INSERT INTO caregiver_status (account_id, updated_at) VALUES ($1, $2) \
                     ON CONFLICT (account_id) DO UPDATE SET updated_at = excluded.updated_at",
                )
                .bind(caregiver)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                let overlapping: i64 = sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM service_orders WHERE caregiver_id = $1 AND id <> $2 AND state IN {HELD} \
                     AND window_start < $3 AND window_end > $4"
                ))
                .bind(caregiver)
                .bind(id)
                .bind(end)
                .bind(start)
                .fetch_one(&mut **tx)
                .await?;
                if overlapping > 0 {
                    return Err(caregiver_busy());
                }
            }
            Ok(())
        }

        fn order_audit(from: &str, order: &SvcOrder, e: &OrderEventInput) -> (Option<String>, Option<String>) {
            (
                Some(serde_json::json!({ "state": from }).to_string()),
                Some(
                    serde_json::json!({
                        "state": order.state,
                        "caregiver": order.caregiver,
                        "role": e.actor_role,
                        "detail": e.detail,
                    })
                    .to_string(),
                ),
            )
        }

        async fn insert_photo(tx: &mut Tx, order_id: i64, p: &NewPhoto, caregiver: Option<i64>, now: i64) -> Result<()> {
            sqlx::query(
                "INSERT INTO order_photos (order_id, ref, caregiver_id, content_type, size_bytes, bytes, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (order_id, ref) DO NOTHING",
            )
            .bind(order_id)
            .bind(&p.reference)
            .bind(caregiver)
            .bind(&p.content_type)
            .bind(p.bytes.len() as i64)
            .bind(&p.bytes)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Takes a settlement's debits off the balances with guarded updates. `read` holds the
        /// balances the split was computed from; any guard that fails is `Stale`.
        async fn apply_debits(
            tx: &mut Tx,
            s: &NewSettlement,
            read: &SvcBalances,
            now: i64,
        ) -> Result<()> {
            let d = &s.debits;
            // The same rule in memory first: a split that does not fit what it was computed
            // from is refused before touching anything.
            let mut after = read.clone();
            after.apply(d, s.date).map_err(|_| stale())?;
            if d.card.0 > 0 {
                let n = sqlx::query(
                    "UPDATE elders SET card_balance_fen = card_balance_fen - $1, updated_at = $2, version = version + 1 \
                     WHERE id = $3 AND card_balance_fen >= $1",
                )
                .bind(d.card.0)
                .bind(now)
                .bind(s.elder_id)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Err(stale());
                }
            }
            for (pool, amount) in &d.pools {
                if amount.0 <= 0 {
                    continue;
                }
                let n = sqlx::query(
                    "UPDATE funding_pools SET balance_fen = balance_fen - $1, updated_at = $2 \
                     WHERE code = $3 AND balance_fen >= $1",
                )
                .bind(amount.0)
                .bind(now)
                .bind(pool.as_str())
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Err(stale());
                }
            }
            let (year, month) = {
                use chrono::Datelike;
                (s.date.year(), s.date.month())
            };
            for (rule, delta) in &d.usage {
                let Some(new) = after.usage.get(rule) else { continue };
                let n = match read.usage.get(rule) {
                    // This month's row: add to it, guarded by the caps (like the card), so
                    // concurrent settlements only collide when a cap is reached.
                    Some(old) if old.year == year && old.month == month => {
                        let mut qb = QueryBuilder::<$db>::new("UPDATE rule_usage SET month_fen = month_fen + ");
                        qb.push_bind(delta.fen.0)
                            .push(", year_fen = year_fen + ")
                            .push_bind(delta.fen.0)
                            .push(", month_units = month_units + ")
                            .push_bind(delta.units as i32)
                            .push(", year_units = year_units + ")
                            .push_bind(delta.units as i32)
                            .push(" WHERE elder_id = ")
                            .push_bind(s.elder_id)
                            .push(" AND rule_code = ")
                            .push_bind(rule.as_str().to_string())
                            .push(" AND year = ")
                            .push_bind(year)
                            .push(" AND month = ")
                            .push_bind(month as i32);
                        let c = delta.caps;
                        if let Some(cap) = c.per_month {
                            qb.push(" AND month_fen + ").push_bind(delta.fen.0).push(" <= ").push_bind(cap.0);
                        }
                        if let Some(cap) = c.per_year {
                            qb.push(" AND year_fen + ").push_bind(delta.fen.0).push(" <= ").push_bind(cap.0);
                        }
                        if let Some(cap) = c.units_per_month {
                            qb.push(" AND month_units + ").push_bind(delta.units as i32).push(" <= ").push_bind(cap as i32);
                        }
                        if let Some(cap) = c.units_per_year {
                            qb.push(" AND year_units + ").push_bind(delta.units as i32).push(" <= ").push_bind(cap as i32);
                        }
                        qb.build().execute(&mut **tx).await?.rows_affected()
                    }
                    // A row of an earlier month (or year): reset it, compare-and-swap.
                    Some(old) => sqlx::query(
                        "UPDATE rule_usage SET year = $1, month = $2, month_fen = $3, year_fen = $4, month_units = $5, \
                         year_units = $6 WHERE elder_id = $7 AND rule_code = $8 AND year = $9 AND month = $10 \
                         AND month_fen = $11 AND year_fen = $12 AND month_units = $13 AND year_units = $14",
                    )
                    .bind(new.year)
                    .bind(new.month as i32)
                    .bind(new.month_fen.0)
                    .bind(new.year_fen.0)
                    .bind(new.month_units as i32)
                    .bind(new.year_units as i32)
                    .bind(s.elder_id)
                    .bind(rule.as_str())
                    .bind(old.year)
                    .bind(old.month as i32)
                    .bind(old.month_fen.0)
                    .bind(old.year_fen.0)
                    .bind(old.month_units as i32)
                    .bind(old.year_units as i32)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected(),
                    None => sqlx::query(
                        "INSERT INTO rule_usage (elder_id, rule_code, year, month, month_fen, year_fen, month_units, \
                         year_units) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (elder_id, rule_code) DO NOTHING",
                    )
                    .bind(s.elder_id)
                    .bind(rule.as_str())
                    .bind(new.year)
                    .bind(new.month as i32)
                    .bind(new.month_fen.0)
                    .bind(new.year_fen.0)
                    .bind(new.month_units as i32)
                    .bind(new.year_units as i32)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected(),
                };
                if n == 0 {
                    return Err(stale());
                }
            }
            Ok(())
        }

        async fn insert_settlement(tx: &mut Tx, s: &NewSettlement, now: i64, actor: Actor) -> Result<i64> {
            use chrono::Datelike;
            let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM settlements WHERE kind = $1 AND ref_id = $2")
                .bind(s.kind.as_str())
                .bind(s.ref_id)
                .fetch_optional(&mut **tx)
                .await?;
            if existing.is_some() {
                return Err(StoreError::Conflict(zhulao_domain::FieldError::new(
                    "settlement",
                    "already_settled",
                    "该订单已结算",
                    "already settled",
                )));
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO settlements (kind, ref_id, elder_id, provider_id, caregiver_id, region_code, category, \
                 service_date, year, month, price_fen, split_json, trace_json, input_json, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
            )
            .bind(s.kind.as_str())
            .bind(s.ref_id)
            .bind(s.elder_id)
            .bind(s.provider_id)
            .bind(s.caregiver_id)
            .bind(&s.region_code)
            .bind(s.category.as_str())
            .bind(date_text(s.date))
            .bind(s.date.year())
            .bind(s.date.month() as i32)
            .bind(s.split.price.0)
            .bind(to_json(&s.split))
            .bind(to_json(&s.trace))
            .bind(to_json(&s.input))
            .bind(now)
            .fetch_one(&mut **tx)
            .await
            .map_err(StoreError::from_db)?;
            let after = serde_json::json!({
                "kind": s.kind.as_str(),
                "ref_id": s.ref_id,
                "elder_id": s.elder_id,
                "split": s.split,
                "debits": s.debits,
            });
            audit(tx, now, actor, "settle", "settlement", id, None, Some(after.to_string())).await?;
            Ok(id)
        }

        /// Posts minutes between two ledger accounts; a debit that would take a volunteer or
        /// pending account below zero is refused (`timebank_insufficient`).
        /// `UPDATE <table> SET state, <json_column>, updated_at` (and the version) if the row is
        /// still at version `expected`; whether it was.
        #[allow(clippy::too_many_arguments)]
        async fn update_versioned(
            tx: &mut Tx,
            table: &str,
            json_column: &str,
            state: &str,
            json: String,
            now: i64,
            id: i64,
            expected: i64,
        ) -> Result<bool> {
            let sql = format!(
                "UPDATE {table} SET state = $1, {json_column} = $2, updated_at = $3, version = version + 1 \
                 WHERE id = $4 AND version = $5"
            );
            let n = sqlx::query(&sql)
                .bind(state)
                .bind(json)
                .bind(now)
                .bind(id)
                .bind(expected)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            Ok(n > 0)
        }

        async fn post_in(tx: &mut Tx, p: &SvcPosting) -> Result<()> {
            if p.minutes == 0 || p.debit == p.credit {
                return Err(StoreError::invalid("minutes", "timebank_bad_posting", "无效的记账", "invalid posting"));
            }
            let (debit, credit) = (ledger_key(p.debit), ledger_key(p.credit));
            for key in [&debit, &credit] {
                sqlx::query("INSERT INTO timebank_balances (account, minutes) VALUES ($1, 0) ON CONFLICT (account) DO NOTHING")
                    .bind(key)
                    .execute(&mut **tx)
                    .await?;
            }
            let m = i64::from(p.minutes);
            let n = if p.debit.must_stay_non_negative() {
                sqlx::query("UPDATE timebank_balances SET minutes = minutes - $1 WHERE account = $2 AND minutes >= $1")
            } else {
                sqlx::query("UPDATE timebank_balances SET minutes = minutes - $1 WHERE account = $2")
            }
            .bind(m)
            .bind(&debit)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(insufficient_minutes());
            }
            sqlx::query("UPDATE timebank_balances SET minutes = minutes + $1 WHERE account = $2")
                .bind(m)
                .bind(&credit)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT INTO timebank_postings (at, kind, debit, credit, minutes, reference, posting_json) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(p.at.timestamp_millis())
            .bind(p.kind.as_str())
            .bind(&debit)
            .bind(&credit)
            .bind(p.minutes as i32)
            .bind(p.reference)
            .bind(to_json(p))
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        #[async_trait]
        impl ServiceStore for $store {
            async fn analyze(&self) -> Result<()> {
                sqlx::query("ANALYZE").execute(&self.pool).await?;
                Ok(())
            }

            async fn catalogue(&self) -> Result<SvcCatalogue> {
                let items = sqlx::query_as::<_, ItemDbRow>(
                    "SELECT code, category, name_zh, name_en, duration_min, skills, base_price_fen, builtin, active \
                     FROM service_items ORDER BY code",
                )
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(ItemDbRow::into_item)
                .collect::<Result<Vec<_>>>()?;
                let prices = sqlx::query_as::<_, PriceDbRow>(
                    "SELECT region_prefix, item_code, price_fen FROM service_prices ORDER BY item_code, region_prefix",
                )
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(PriceDbRow::into_price)
                .collect::<Result<Vec<_>>>()?;
                SvcCatalogue::from_parts(items, prices).map_err(|e| {
                    $crate::service_sql::corrupt("service_items", e.iter().map(|e| e.en.clone()).collect::<Vec<_>>().join("; "))
                })
            }

            async fn seed_service_items(&self, items: &[SvcItem], actor: Actor) -> Result<usize> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let mut added = 0;
                for item in items {
                    let n = sqlx::query(
                        "INSERT INTO service_items (code, category, name_zh, name_en, duration_min, skills, \
                         base_price_fen, builtin, active, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (code) DO NOTHING",
                    )
                    .bind(item.code.as_str())
                    .bind(item.category.as_str())
                    .bind(&item.name_zh)
                    .bind(&item.name_en)
                    .bind(item.duration_min as i32)
                    .bind(to_json(&item.skills))
                    .bind(item.base_price.0)
                    .bind(item.builtin)
                    .bind(item.active)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n == 1 {
                        added += 1;
                        audit(&mut tx, now, actor, "create", "service_item", item.code.as_str(), None, Some(to_json(item))).await?;
                    }
                }
                tx.commit().await?;
                Ok(added)
            }

            async fn create_service_item(&self, item: &SvcItem, actor: Actor) -> Result<SvcItem> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let n = sqlx::query(
                    "INSERT INTO service_items (code, category, name_zh, name_en, duration_min, skills, \
                     base_price_fen, builtin, active, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (code) DO NOTHING",
                )
                .bind(item.code.as_str())
                .bind(item.category.as_str())
                .bind(&item.name_zh)
                .bind(&item.name_en)
                .bind(item.duration_min as i32)
                .bind(to_json(&item.skills))
                .bind(item.base_price.0)
                .bind(item.builtin)
                .bind(item.active)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Err(StoreError::Conflict(zhulao_domain::FieldError::new(
                        "code",
                        "duplicate",
                        format!("服务项目代码“{}”已存在", item.code),
                        format!("the service item code '{}' already exists", item.code),
                    )));
                }
                audit(&mut tx, now, actor, "create", "service_item", item.code.as_str(), None, Some(to_json(item))).await?;
                let stored = fetch_item(&mut *tx, item.code.as_str()).await?;
                tx.commit().await?;
                Ok(stored)
            }

            async fn update_service_item(&self, item: &SvcItem, actor: Actor) -> Result<SvcItem> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before = fetch_item(&mut *tx, item.code.as_str()).await?;
                sqlx::query(
                    "UPDATE service_items SET category = $1, name_zh = $2, name_en = $3, duration_min = $4, skills = $5, \
                     base_price_fen = $6, active = $7, updated_at = $8 WHERE code = $9",
                )
                .bind(item.category.as_str())
                .bind(&item.name_zh)
                .bind(&item.name_en)
                .bind(item.duration_min as i32)
                .bind(to_json(&item.skills))
                .bind(item.base_price.0)
                .bind(item.active)
                .bind(now)
                .bind(item.code.as_str())
                .execute(&mut *tx)
                .await?;
                let after = fetch_item(&mut *tx, item.code.as_str()).await?;
                audit(&mut tx, now, actor, "update", "service_item", item.code.as_str(), Some(to_json(&before)), Some(to_json(&after)))
                    .await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn set_service_price(&self, p: &SvcRegionPrice, actor: Actor) -> Result<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                fetch_item(&mut *tx, p.item.as_str()).await.map_err(|_| {
                    StoreError::invalid("item", "unknown_item", format!("没有服务项目“{}”", p.item), format!("there is no service item '{}'", p.item))
                })?;
                let before: Option<i64> = sqlx::query_scalar(
                    "SELECT price_fen FROM service_prices WHERE region_prefix = $1 AND item_code = $2",
                )
                .bind(p.region_prefix.as_str())
                .bind(p.item.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO service_prices (region_prefix, item_code, price_fen, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (region_prefix, item_code) DO UPDATE SET price_fen = excluded.price_fen, updated_at = excluded.updated_at",
                )
                .bind(p.region_prefix.as_str())
                .bind(p.item.as_str())
                .bind(p.price.0)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let key = format!("{}@{}", p.item, p.region_prefix.as_str());
                audit(
                    &mut tx,
                    now,
                    actor,
                    "set_price",
                    "service_price",
                    key,
                    before.map(|f| serde_json::json!({ "price_fen": f }).to_string()),
                    Some(to_json(p)),
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn report_caregiver(
                &self,
                account_id: i64,
                on_duty: bool,
                position: Option<zhulao_domain::GeoPoint>,
                actor: Actor,
            ) -> Result<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let account = fetch_account(&mut *tx, account_id).await?;
                if account.role != Role::Caregiver {
                    return Err(StoreError::invalid(
                        "account_id",
                        "not_a_caregiver",
                        "该账号不是助老员",
                        "the account is not a caregiver",
                    ));
                }
                let was: Option<bool> = sqlx::query_scalar("SELECT on_duty FROM caregiver_status WHERE account_id = $1")
                    .bind(account_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let (lat, lon, at) = match position {
                    Some(p) => (Some(p.lat), Some(p.lon), Some(now)),
                    None => (None, None, None),
                };
                sqlx::query(
                    "INSERT INTO caregiver_status (account_id, on_duty, lat, lon, position_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id) DO UPDATE SET on_duty = excluded.on_duty, \
                     lat = COALESCE(excluded.lat, caregiver_status.lat), lon = COALESCE(excluded.lon, caregiver_status.lon), \
                     position_at = COALESCE(excluded.position_at, caregiver_status.position_at), updated_at = excluded.updated_at",
                )
                .bind(account_id)
                .bind(on_duty)
                .bind(lat)
                .bind(lon)
                .bind(at)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if was != Some(on_duty) {
                    let action = if on_duty { "on_duty" } else { "off_duty" };
                    audit(
                        &mut tx,
                        now,
                        actor,
                        action,
                        "caregiver",
                        account_id,
                        was.map(|w| serde_json::json!({ "on_duty": w }).to_string()),
                        Some(serde_json::json!({ "on_duty": on_duty }).to_string()),
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn caregiver(&self, account_id: i64) -> Result<CaregiverRow> {
                let account = fetch_account(&self.pool, account_id).await?;
                let status = sqlx::query_as::<_, StatusDbRow>(
                    "SELECT on_duty, lat, lon, position_at, quality_milli, ratings FROM caregiver_status WHERE account_id = $1",
                )
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
                let mut c = commitments(&self.pool, &[account_id]).await?;
                Ok(caregiver_row(account, status_or_default(status), c.remove(&account_id).unwrap_or_default()))
            }

            async fn caregivers_near(
                &self,
                center: zhulao_domain::GeoPoint,
                radius_m: u32,
                fresh_since: i64,
                limit: i64,
            ) -> Result<Vec<CaregiverRow>> {
                let (lat0, lat1, lon0, lon1) = bbox(center, radius_m);
                // Two statements of fixed text (cached by the driver): the caregivers with
                // their accounts, then the windows of what they hold.
                const WHERE: &str = "s.on_duty = TRUE AND s.lat BETWEEN $1 AND $2 AND s.lon BETWEEN $3 AND $4 \
                     AND s.position_at >= $5";
                let rows = sqlx::query_as::<_, NearDbRow>(&format!(
                    "SELECT {}, s.on_duty, s.lat, s.lon, s.position_at, s.quality_milli, s.ratings \
                     FROM caregiver_status s JOIN accounts a ON a.id = s.account_id \
                     WHERE {WHERE} AND a.active = TRUE AND a.role = 'caregiver' ORDER BY s.account_id LIMIT $6",
                    $crate::service_sql::ACCOUNT_COLUMNS_A
                ))
                .bind(lat0)
                .bind(lat1)
                .bind(lon0)
                .bind(lon1)
                .bind(fresh_since)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let mut windows: std::collections::HashMap<i64, Vec<(i64, i64)>> = std::collections::HashMap::new();
                let held = sqlx::query(&format!(
                    "SELECT o.caregiver_id, o.window_start, o.window_end FROM service_orders o \
                     JOIN caregiver_status s ON s.account_id = o.caregiver_id \
                     WHERE {WHERE} AND o.state IN {HELD} AND o.window_start IS NOT NULL"
                ))
                .bind(lat0)
                .bind(lat1)
                .bind(lon0)
                .bind(lon1)
                .bind(fresh_since)
                .fetch_all(&self.pool)
                .await?;
                for r in held {
                    let c: i64 = r.try_get(0)?;
                    windows.entry(c).or_default().push((r.try_get(1)?, r.try_get(2)?));
                }
                rows.into_iter()
                    .map(|r| {
                        let account = r.account.into_domain()?;
                        let w = windows.remove(&account.id).unwrap_or_default();
                        Ok(caregiver_row(account, r.status, w))
                    })
                    .collect()
            }

            async fn quality_inputs(&self, caregiver_id: i64, since: i64) -> Result<SvcQualityInputs> {
                let mut q = SvcQualityInputs::default();
                let rows = sqlx::query(
                    "SELECT rating_stars, COUNT(*) AS n FROM service_orders WHERE caregiver_id = $1 \
                     AND rating_stars IS NOT NULL AND ended_at >= $2 GROUP BY rating_stars",
                )
                .bind(caregiver_id)
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
                for r in rows {
                    let stars: i16 = r.try_get("rating_stars")?;
                    let n: i64 = r.try_get("n")?;
                    if (1..=5).contains(&stars) {
                        q.stars[(stars - 1) as usize] = u32::try_from(n).unwrap_or(u32::MAX);
                    }
                }
                let complaints: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM complaints WHERE caregiver_id = $1 AND upheld = TRUE AND created_at >= $2",
                )
                .bind(caregiver_id)
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
                let no_shows: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM service_orders WHERE caregiver_id = $1 AND caregiver_no_show = TRUE AND ended_at >= $2",
                )
                .bind(caregiver_id)
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
                q.upheld_complaints = u32::try_from(complaints).unwrap_or(u32::MAX);
                q.no_shows = u32::try_from(no_shows).unwrap_or(u32::MAX);
                Ok(q)
            }

            async fn set_caregiver_quality(&self, caregiver_id: i64, score: SvcQualityScore, actor: Actor) -> Result<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before: Option<i32> = sqlx::query_scalar("SELECT quality_milli FROM caregiver_status WHERE account_id = $1")
                    .bind(caregiver_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO caregiver_status (account_id, quality_milli, ratings, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (account_id) DO UPDATE SET quality_milli = excluded.quality_milli, \
                     ratings = excluded.ratings, updated_at = excluded.updated_at",
                )
                .bind(caregiver_id)
                .bind(score.milli as i32)
                .bind(score.ratings as i32)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                audit(
                    &mut tx,
                    now,
                    actor,
                    "rescore",
                    "caregiver",
                    caregiver_id,
                    before.map(|b| serde_json::json!({ "quality_milli": b }).to_string()),
                    Some(serde_json::json!({ "quality_milli": score.milli, "ratings": score.ratings }).to_string()),
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_order(
                &self,
                order: &SvcOrder,
                next_due_at: Option<i64>,
                events: &[OrderEventInput],
            ) -> Result<OrderRow> {
                let now = self.clock.now_ms();
                let c = OrderColumns::of(order);
                let mut tx = self.begin().await?;
                let elder = active_elder(&mut tx, c.elder_id).await?;
                fetch_item(&mut *tx, &c.item_code).await.map_err(|_| {
                    StoreError::invalid("item", "unknown_item", format!("没有服务项目“{}”", c.item_code), format!("there is no service item '{}'", c.item_code))
                })?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO service_orders (elder_id, region_code, home_station_id, item_code, category, state, \
                     caregiver_id, placed_by, price_fen, scheduled_at, home_lat, home_lon, window_start, window_end, \
                     rating_stars, caregiver_no_show, ended_at, next_due_at, order_json, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20) \
                     RETURNING id",
                )
                .bind(c.elder_id)
                .bind(&c.region_code)
                .bind(elder.record.home_station_id)
                .bind(&c.item_code)
                .bind(c.category)
                .bind(c.state)
                .bind(c.caregiver_id)
                .bind(c.placed_by)
                .bind(c.price_fen)
                .bind(c.scheduled_at)
                .bind(c.home_lat)
                .bind(c.home_lon)
                .bind(c.window.map(|w| w.0))
                .bind(c.window.map(|w| w.1))
                .bind(c.rating_stars)
                .bind(c.caregiver_no_show)
                .bind(c.ended_at)
                .bind(next_due_at)
                .bind(&c.json)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from_db)?;
                for (i, e) in events.iter().enumerate() {
                    let (from, to) = if i == 0 { ("created", "created") } else { ("created", c.state) };
                    insert_order_event(&mut tx, id, now, from, to, e).await?;
                    let after = serde_json::json!({
                        "state": to,
                        "elder_id": c.elder_id,
                        "item": c.item_code,
                        "price_fen": c.price_fen,
                        "role": e.actor_role,
                        "detail": e.detail,
                    });
                    audit(&mut tx, now, e.actor, &e.action, "order", id, None, Some(after.to_string())).await?;
                }
                let row = fetch_order(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn order(&self, id: i64) -> Result<OrderRow> {
                fetch_order(&self.pool, id).await
            }

            #[allow(clippy::too_many_arguments)]
            async fn save_order(
                &self,
                id: i64,
                expected_version: i64,
                expected_state: SvcOrderState,
                order: &SvcOrder,
                next_due_at: Option<i64>,
                event: &OrderEventInput,
                photos: &[NewPhoto],
            ) -> Result<OrderRow> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                update_order_in(&mut tx, id, expected_version, expected_state, order, next_due_at, now).await?;
                let from = expected_state.as_str();
                insert_order_event(&mut tx, id, now, from, order.state.as_str(), event).await?;
                for p in photos {
                    insert_photo(&mut tx, id, p, event.actor.account_id, now).await?;
                }
                let (before, after) = order_audit(from, order, event);
                audit(&mut tx, now, event.actor, &event.action, "order", id, before, after).await?;
                let row = fetch_order(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn list_orders(&self, f: &OrderFilter) -> Result<Page<OrderRow>> {
                let (offset, limit) = page_bounds(f.offset, f.limit);
                let build = |select: &str| {
                    let mut qb = QueryBuilder::<$db>::new(select);
                    qb.push(" FROM service_orders WHERE (");
                    push_order_scope(&mut qb, &f.scope, "caregiver_id");
                    qb.push(")");
                    if !f.states.is_empty() {
                        qb.push(" AND state IN (");
                        let mut sep = qb.separated(", ");
                        for s in &f.states {
                            sep.push_bind(s.as_str());
                        }
                        qb.push(")");
                    }
                    if let Some(e) = f.elder_id {
                        qb.push(" AND elder_id = ").push_bind(e);
                    }
                    if let Some(c) = f.caregiver_id {
                        qb.push(" AND caregiver_id = ").push_bind(c);
                    }
                    if let Some(p) = &f.region_prefix {
                        qb.push(" AND region_code LIKE ").push_bind(format!("{p}%"));
                    }
                    if let Some(s) = f.since {
                        qb.push(" AND created_at >= ").push_bind(s);
                    }
                    if let Some(u) = f.until {
                        qb.push(" AND created_at < ").push_bind(u);
                    }
                    qb
                };
                paged(&self.pool, build, ORDER_COLUMNS, "created_at DESC, id DESC", (offset, limit), OrderDbRow::into_row).await
            }

            async fn orders_on_offer_near(
                &self,
                center: zhulao_domain::GeoPoint,
                radius_m: u32,
                limit: i64,
            ) -> Result<Vec<OrderRow>> {
                let (lat0, lat1, lon0, lon1) = bbox(center, radius_m);
                sqlx::query_as::<_, OrderDbRow>(&format!(
                    "SELECT {ORDER_COLUMNS} FROM service_orders WHERE state = 'published' \
                     AND home_lat BETWEEN $1 AND $2 AND home_lon BETWEEN $3 AND $4 ORDER BY created_at, id LIMIT $5"
                ))
                .bind(lat0)
                .bind(lat1)
                .bind(lon0)
                .bind(lon1)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(OrderDbRow::into_row)
                .collect()
            }

            async fn due_orders(&self, now: i64, limit: i64) -> Result<Vec<OrderRow>> {
                sqlx::query_as::<_, OrderDbRow>(&format!(
                    "SELECT {ORDER_COLUMNS} FROM service_orders WHERE next_due_at IS NOT NULL AND next_due_at <= $1 \
                     ORDER BY next_due_at, id LIMIT $2"
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(OrderDbRow::into_row)
                .collect()
            }

            async fn next_order_due(&self) -> Result<Option<i64>> {
                Ok(sqlx::query_scalar("SELECT MIN(next_due_at) FROM service_orders WHERE next_due_at IS NOT NULL")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn defer_order(&self, id: i64, next_due_at: Option<i64>, reason: &str) -> Result<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let n = sqlx::query("UPDATE service_orders SET next_due_at = $1 WHERE id = $2")
                    .bind(next_due_at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(not_found("order"));
                }
                let after = serde_json::json!({ "next_due_at": next_due_at, "reason": reason });
                audit(&mut tx, now, Actor::SYSTEM, "defer", "order", id, None, Some(after.to_string())).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn order_events(&self, order_id: i64) -> Result<Vec<OrderEvent>> {
                sqlx::query_as::<_, OrderEventDbRow>(
                    "SELECT id, order_id, at, actor_id, actor_role, action, from_state, to_state, detail \
                     FROM order_events WHERE order_id = $1 ORDER BY id",
                )
                .bind(order_id)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(OrderEventDbRow::into_event)
                .collect()
            }

            async fn add_order_photo(&self, order_id: i64, photo: &NewPhoto, actor: Actor) -> Result<PhotoMeta> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                fetch_order(&mut *tx, order_id).await?;
                insert_photo(&mut tx, order_id, photo, actor.account_id, now).await?;
                let after = serde_json::json!({
                    "ref": photo.reference,
                    "content_type": photo.content_type,
                    "size_bytes": photo.bytes.len(),
                });
                audit(&mut tx, now, actor, "photo", "order", order_id, None, Some(after.to_string())).await?;
                let meta = sqlx::query_as::<_, PhotoDbRow>(
                    "SELECT order_id, ref, caregiver_id, content_type, size_bytes, created_at FROM order_photos \
                     WHERE order_id = $1 AND ref = $2",
                )
                .bind(order_id)
                .bind(&photo.reference)
                .fetch_one(&mut *tx)
                .await?
                .into_meta();
                tx.commit().await?;
                Ok(meta)
            }

            async fn order_photo(&self, order_id: i64, reference: &str) -> Result<(PhotoMeta, Vec<u8>)> {
                let row = sqlx::query(
                    "SELECT order_id, ref, caregiver_id, content_type, size_bytes, created_at, bytes FROM order_photos \
                     WHERE order_id = $1 AND ref = $2",
                )
                .bind(order_id)
                .bind(reference)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| not_found("photo"))?;
                let bytes: Vec<u8> = row.try_get("bytes")?;
                let meta = PhotoMeta {
                    order_id: row.try_get("order_id")?,
                    reference: row.try_get("ref")?,
                    caregiver_id: row.try_get("caregiver_id")?,
                    content_type: row.try_get("content_type")?,
                    size_bytes: row.try_get("size_bytes")?,
                    created_at: row.try_get("created_at")?,
                };
                Ok((meta, bytes))
            }

            async fn order_photos(&self, order_id: i64) -> Result<Vec<PhotoMeta>> {
                Ok(sqlx::query_as::<_, PhotoDbRow>(
                    "SELECT order_id, ref, caregiver_id, content_type, size_bytes, created_at FROM order_photos \
                     WHERE order_id = $1 ORDER BY id",
                )
                .bind(order_id)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(PhotoDbRow::into_meta)
                .collect())
            }

            async fn caregiver_orders_ended(&self, caregiver_id: i64, from: i64, to: i64) -> Result<Vec<(OrderRow, u32)>> {
                let rows = sqlx::query_as::<_, OrderDbRow>(&format!(
                    "SELECT {ORDER_COLUMNS} FROM service_orders WHERE caregiver_id = $1 AND ended_at >= $2 AND ended_at < $3 \
                     AND (state IN ('completed', 'rated', 'settled') OR caregiver_no_show = TRUE) ORDER BY ended_at, id"
                ))
                .bind(caregiver_id)
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(OrderDbRow::into_row)
                .collect::<Result<Vec<_>>>()?;
                let upheld = sqlx::query(
                    "SELECT order_id, COUNT(*) AS n FROM complaints WHERE caregiver_id = $1 AND upheld = TRUE \
                     AND order_id IS NOT NULL GROUP BY order_id",
                )
                .bind(caregiver_id)
                .fetch_all(&self.pool)
                .await?;
                let mut counts = std::collections::HashMap::new();
                for r in upheld {
                    let id: i64 = r.try_get("order_id")?;
                    let n: i64 = r.try_get("n")?;
                    counts.insert(id, u32::try_from(n).unwrap_or(u32::MAX));
                }
                Ok(rows.into_iter().map(|r| {
                    let n = counts.get(&r.id).copied().unwrap_or(0);
                    (r, n)
                }).collect())
            }

            async fn create_complaint(
                &self,
                case: &SvcComplaintCase,
                region_code: &str,
                next_due_at: Option<i64>,
                actor: Actor,
            ) -> Result<ComplaintRow> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                fetch_elder(&mut *tx, case.elder).await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO complaints (order_id, elder_id, caregiver_id, region_code, state, upheld, deadline, \
                     next_due_at, case_json, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
                     RETURNING id",
                )
                .bind(case.order)
                .bind(case.elder)
                .bind(case.caregiver)
                .bind(region_code)
                .bind(case.state.as_str())
                .bind(case.upheld)
                .bind(case.deadline.timestamp_millis())
                .bind(next_due_at)
                .bind(to_json(case))
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from_db)?;
                let after = serde_json::json!({
                    "state": case.state, "order": case.order, "kind": case.kind, "deadline": case.deadline,
                });
                audit(&mut tx, now, actor, "open", "complaint", id, None, Some(after.to_string())).await?;
                let row = fetch_complaint(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn complaint(&self, id: i64) -> Result<ComplaintRow> {
                fetch_complaint(&self.pool, id).await
            }

            async fn save_complaint(
                &self,
                id: i64,
                expected_version: i64,
                case: &SvcComplaintCase,
                next_due_at: Option<i64>,
                action: &str,
                actor: Actor,
            ) -> Result<ComplaintRow> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before = fetch_complaint(&mut *tx, id).await?;
                let n = sqlx::query(
                    "UPDATE complaints SET state = $1, upheld = $2, deadline = $3, next_due_at = $4, case_json = $5, \
                     updated_at = $6, version = version + 1 WHERE id = $7 AND version = $8",
                )
                .bind(case.state.as_str())
                .bind(case.upheld)
                .bind(case.deadline.timestamp_millis())
                .bind(next_due_at)
                .bind(to_json(case))
                .bind(now)
                .bind(id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Err(StoreError::Stale { current: before.version });
                }
                audit(
                    &mut tx,
                    now,
                    actor,
                    action,
                    "complaint",
                    id,
                    Some(serde_json::json!({ "state": before.case.state, "upheld": before.case.upheld }).to_string()),
                    Some(serde_json::json!({ "state": case.state, "upheld": case.upheld, "resolution": case.resolution }).to_string()),
                )
                .await?;
                let row = fetch_complaint(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn list_complaints(&self, f: &ComplaintFilter) -> Result<Page<ComplaintRow>> {
                let (offset, limit) = page_bounds(f.offset, f.limit);
                let build = |select: &str| {
                    let mut qb = QueryBuilder::<$db>::new(select);
                    qb.push(" FROM complaints WHERE (");
                    push_order_scope(&mut qb, &f.scope, "caregiver_id");
                    qb.push(")");
                    if let Some(s) = f.state {
                        qb.push(" AND state = ").push_bind(s.as_str());
                    }
                    if let Some(c) = f.caregiver_id {
                        qb.push(" AND caregiver_id = ").push_bind(c);
                    }
                    if let Some(o) = f.order_id {
                        qb.push(" AND order_id = ").push_bind(o);
                    }
                    qb
                };
                // Open cases first, nearest deadline first.
                let order = "CASE WHEN state IN ('open', 'handling') THEN 0 ELSE 1 END, deadline, id";
                paged(&self.pool, build, COMPLAINT_COLUMNS, order, (offset, limit), ComplaintDbRow::into_row).await
            }

            async fn due_complaints(&self, now: i64, limit: i64) -> Result<Vec<ComplaintRow>> {
                sqlx::query_as::<_, ComplaintDbRow>(&format!(
                    "SELECT {COMPLAINT_COLUMNS} FROM complaints WHERE next_due_at IS NOT NULL AND next_due_at <= $1 \
                     ORDER BY next_due_at, id LIMIT $2"
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(ComplaintDbRow::into_row)
                .collect()
            }

            async fn rule_book(&self) -> Result<SvcRuleBook> {
                let rows = sqlx::query("SELECT region_prefix, rules_json FROM settlement_rules ORDER BY region_prefix")
                    .fetch_all(&self.pool)
                    .await?;
                let mut book = SvcRuleBook::default();
                for r in rows {
                    let prefix: String = r.try_get("region_prefix")?;
                    let rules: String = r.try_get("rules_json")?;
                    book.regions.push(SvcRegionRules {
                        region_prefix: zhulao_services::RegionPrefix::parse("region_prefix", &prefix)
                            .map_err(|e| $crate::service_sql::corrupt("settlement_rules", e))?,
                        rules: serde_json::from_str(&rules)
                            .map_err(|e| $crate::service_sql::corrupt("settlement_rules", e))?,
                    });
                }
                Ok(book)
            }

            async fn put_region_rules(&self, rules: &SvcRegionRules, actor: Actor) -> Result<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before: Option<String> = sqlx::query_scalar("SELECT rules_json FROM settlement_rules WHERE region_prefix = $1")
                    .bind(rules.region_prefix.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO settlement_rules (region_prefix, rules_json, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (region_prefix) DO UPDATE SET rules_json = excluded.rules_json, \
                     updated_at = excluded.updated_at, version = settlement_rules.version + 1",
                )
                .bind(rules.region_prefix.as_str())
                .bind(to_json(&rules.rules))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let key = if rules.region_prefix.as_str().is_empty() { "*" } else { rules.region_prefix.as_str() };
                audit(&mut tx, now, actor, "put_rules", "settlement_rules", key, before, Some(to_json(&rules.rules))).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn pools(&self) -> Result<Vec<Pool>> {
                sqlx::query_as::<_, PoolDbRow>("SELECT code, name, region_prefix, balance_fen, updated_at FROM funding_pools ORDER BY code")
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(PoolDbRow::into_pool)
                    .collect()
            }

            async fn fund_pool(
                &self,
                code: &zhulao_services::PoolCode,
                name: &str,
                region_prefix: &zhulao_services::RegionPrefix,
                top_up_fen: i64,
                actor: Actor,
            ) -> Result<Pool> {
                if top_up_fen < 0 {
                    return Err(StoreError::invalid("top_up", "out_of_range", "充值金额不能为负", "a top-up cannot be negative"));
                }
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before: Option<i64> = sqlx::query_scalar("SELECT balance_fen FROM funding_pools WHERE code = $1")
                    .bind(code.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO funding_pools (code, name, region_prefix, balance_fen, updated_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, region_prefix = excluded.region_prefix, \
                     balance_fen = funding_pools.balance_fen + excluded.balance_fen, updated_at = excluded.updated_at",
                )
                .bind(code.as_str())
                .bind(name)
                .bind(region_prefix.as_str())
                .bind(top_up_fen)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let pool = sqlx::query_as::<_, PoolDbRow>(
                    "SELECT code, name, region_prefix, balance_fen, updated_at FROM funding_pools WHERE code = $1",
                )
                .bind(code.as_str())
                .fetch_one(&mut *tx)
                .await?
                .into_pool()?;
                audit(
                    &mut tx,
                    now,
                    actor,
                    "fund",
                    "funding_pool",
                    code.as_str(),
                    before.map(|b| serde_json::json!({ "balance_fen": b }).to_string()),
                    Some(serde_json::json!({ "balance_fen": pool.balance_fen, "top_up_fen": top_up_fen }).to_string()),
                )
                .await?;
                tx.commit().await?;
                Ok(pool)
            }

            async fn balances(
                &self,
                elder_id: i64,
                pools: &[zhulao_services::PoolCode],
                rules: &[zhulao_services::RuleCode],
            ) -> Result<SvcBalances> {
                let card: i64 = sqlx::query_scalar("SELECT card_balance_fen FROM elders WHERE id = $1")
                    .bind(elder_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| not_found("elder"))?;
                let mut b = SvcBalances { card: zhulao_domain::Fen(card), ..Default::default() };
                if !pools.is_empty() {
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT code, name, region_prefix, balance_fen, updated_at FROM funding_pools WHERE code IN (",
                    );
                    let mut sep = qb.separated(", ");
                    for p in pools {
                        sep.push_bind(p.as_str().to_string());
                    }
                    qb.push(")");
                    for p in qb.build_query_as::<PoolDbRow>().fetch_all(&self.pool).await? {
                        let p = p.into_pool()?;
                        b.pools.insert(p.code, zhulao_domain::Fen(p.balance_fen));
                    }
                }
                if !rules.is_empty() {
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT rule_code, year, month, month_fen, year_fen, month_units, year_units FROM rule_usage \
                         WHERE elder_id = ",
                    );
                    qb.push_bind(elder_id).push(" AND rule_code IN (");
                    let mut sep = qb.separated(", ");
                    for r in rules {
                        sep.push_bind(r.as_str().to_string());
                    }
                    qb.push(")");
                    for u in qb.build_query_as::<UsageDbRow>().fetch_all(&self.pool).await? {
                        let (rule, usage) = u.into_usage()?;
                        b.usage.insert(rule, usage);
                    }
                }
                Ok(b)
            }

            async fn elder_lists(&self, elder_id: i64) -> Result<Vec<SvcElderCategory>> {
                let rows: Vec<String> = sqlx::query_scalar("SELECT category FROM elder_lists WHERE elder_id = $1 ORDER BY category")
                    .bind(elder_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|c| SvcElderCategory::parse_label(c).ok_or_else(|| $crate::service_sql::corrupt("elder_lists", c)))
                    .collect()
            }

            async fn set_elder_lists(&self, elder_id: i64, lists: &[SvcElderCategory], actor: Actor) -> Result<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                fetch_elder(&mut *tx, elder_id).await?;
                let before: Vec<String> = sqlx::query_scalar("SELECT category FROM elder_lists WHERE elder_id = $1 ORDER BY category")
                    .bind(elder_id)
                    .fetch_all(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM elder_lists WHERE elder_id = $1").bind(elder_id).execute(&mut *tx).await?;
                let mut after: Vec<&str> = lists.iter().map(|c| c.as_str()).collect();
                after.sort_unstable();
                after.dedup();
                for c in &after {
                    sqlx::query("INSERT INTO elder_lists (elder_id, category, added_at) VALUES ($1, $2, $3)")
                        .bind(elder_id)
                        .bind(*c)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                audit(&mut tx, now, actor, "set_lists", "elder", elder_id, Some(to_json(&before)), Some(to_json(&after))).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn elders_on_list(&self, list: SvcElderCategory, region_prefix: Option<&str>) -> Result<Vec<i64>> {
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT l.elder_id FROM elder_lists l JOIN elders e ON e.id = l.elder_id WHERE l.category = ",
                );
                qb.push_bind(list.as_str());
                if let Some(p) = region_prefix {
                    qb.push(" AND e.region_code LIKE ").push_bind(format!("{p}%"));
                }
                qb.push(" ORDER BY l.elder_id");
                Ok(qb.build_query_scalar::<i64>().fetch_all(&self.pool).await?)
            }

            #[allow(clippy::too_many_arguments)]
            async fn settle_order(
                &self,
                id: i64,
                expected_version: i64,
                expected_state: SvcOrderState,
                order: &SvcOrder,
                next_due_at: Option<i64>,
                event: &OrderEventInput,
                settlement: &NewSettlement,
                read: &SvcBalances,
            ) -> Result<OrderRow> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                // Lock order: the order, the elder's card, the pools, the usage rows.
                update_order_in(&mut tx, id, expected_version, expected_state, order, next_due_at, now).await?;
                apply_debits(&mut tx, settlement, read, now).await?;
                insert_settlement(&mut tx, settlement, now, event.actor).await?;
                let from = expected_state.as_str();
                insert_order_event(&mut tx, id, now, from, order.state.as_str(), event).await?;
                let (before, after) = order_audit(from, order, event);
                audit(&mut tx, now, event.actor, &event.action, "order", id, before, after).await?;
                let row = fetch_order(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn settle_meal(
                &self,
                id: i64,
                expected_version: i64,
                meal: &SvcMealOrder,
                settlement: &NewSettlement,
                read: &SvcBalances,
                actor: Actor,
            ) -> Result<MealOrderRow> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let updated = update_versioned(
                    &mut tx,
                    "meal_orders",
                    "order_json",
                    meal.state.as_str(),
                    to_json(meal),
                    now,
                    id,
                    expected_version,
                )
                .await?;
                if !updated {
                    return Err(stale());
                }
                apply_debits(&mut tx, settlement, read, now).await?;
                insert_settlement(&mut tx, settlement, now, actor).await?;
                audit(
                    &mut tx,
                    now,
                    actor,
                    meal.state.as_str(),
                    "meal_order",
                    id,
                    Some(serde_json::json!({ "state": "placed" }).to_string()),
                    Some(serde_json::json!({ "state": meal.state, "split": settlement.split }).to_string()),
                )
                .await?;
                let row = fetch_meal(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn settlements(&self, f: &SettlementFilter) -> Result<Vec<SettlementRow>> {
                let mut qb = QueryBuilder::<$db>::new(format!("SELECT {SETTLEMENT_COLUMNS} FROM settlements WHERE TRUE"));
                if let Some(y) = f.year {
                    qb.push(" AND year = ").push_bind(y);
                }
                if let Some(m) = f.month {
                    qb.push(" AND month = ").push_bind(m as i32);
                }
                if let Some(e) = f.elder_id {
                    qb.push(" AND elder_id = ").push_bind(e);
                }
                if let Some(p) = f.provider_id {
                    qb.push(" AND provider_id = ").push_bind(p);
                }
                if let Some(p) = &f.region_prefix {
                    qb.push(" AND region_code LIKE ").push_bind(format!("{p}%"));
                }
                if let Some(k) = f.kind {
                    qb.push(" AND kind = ").push_bind(k.as_str());
                }
                qb.push(" ORDER BY service_date, id");
                qb.build_query_as::<SettlementDbRow>()
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(SettlementDbRow::into_row)
                    .collect()
            }

            async fn put_menu(&self, menu: &SvcMenu, actor: Actor) -> Result<MenuRow> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let canteen = fetch_facility(&mut *tx, menu.canteen).await.map_err(|_| {
                    StoreError::invalid("canteen_id", "unknown_facility", "食堂不存在", "no such canteen")
                })?;
                if !canteen.active {
                    return Err(StoreError::invalid("canteen_id", "facility_inactive", "该食堂已停用", "the canteen is inactive"));
                }
                let date = date_text(menu.date);
                let before: Option<String> = sqlx::query_scalar(
                    "SELECT menu_json FROM canteen_menus WHERE canteen_id = $1 AND date = $2 AND slot = $3",
                )
                .bind(menu.canteen)
                .bind(&date)
                .bind(menu.slot.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO canteen_menus (canteen_id, date, slot, menu_json, updated_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (canteen_id, date, slot) DO UPDATE SET menu_json = excluded.menu_json, \
                     updated_at = excluded.updated_at, version = canteen_menus.version + 1",
                )
                .bind(menu.canteen)
                .bind(&date)
                .bind(menu.slot.as_str())
                .bind(to_json(menu))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let key = format!("{}:{date}:{}", menu.canteen, menu.slot.as_str());
                audit(&mut tx, now, actor, "put_menu", "menu", key, before, Some(to_json(menu))).await?;
                let row = sqlx::query_as::<_, MenuDbRow>(
                    "SELECT menu_json, version, updated_at FROM canteen_menus WHERE canteen_id = $1 AND date = $2 AND slot = $3",
                )
                .bind(menu.canteen)
                .bind(&date)
                .bind(menu.slot.as_str())
                .fetch_one(&mut *tx)
                .await?
                .into_row()?;
                tx.commit().await?;
                Ok(row)
            }

            async fn menu(&self, canteen_id: i64, date: NaiveDate, slot: SvcMealSlot) -> Result<MenuRow> {
                sqlx::query_as::<_, MenuDbRow>(
                    "SELECT menu_json, version, updated_at FROM canteen_menus WHERE canteen_id = $1 AND date = $2 AND slot = $3",
                )
                .bind(canteen_id)
                .bind(date_text(date))
                .bind(slot.as_str())
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| not_found("menu"))?
                .into_row()
            }

            async fn menus(&self, canteen_id: Option<i64>, from: NaiveDate, to: NaiveDate) -> Result<Vec<MenuRow>> {
                let mut qb = QueryBuilder::<$db>::new("SELECT menu_json, version, updated_at FROM canteen_menus WHERE date >= ");
                qb.push_bind(date_text(from)).push(" AND date <= ").push_bind(date_text(to));
                if let Some(c) = canteen_id {
                    qb.push(" AND canteen_id = ").push_bind(c);
                }
                qb.push(" ORDER BY date, canteen_id, slot");
                qb.build_query_as::<MenuDbRow>().fetch_all(&self.pool).await?.into_iter().map(MenuDbRow::into_row).collect()
            }

            async fn delete_menu(&self, canteen_id: i64, date: NaiveDate, slot: SvcMealSlot, actor: Actor) -> Result<()> {
                let now = self.clock.now_ms();
                let date = date_text(date);
                let mut tx = self.begin().await?;
                let before: Option<String> = sqlx::query_scalar(
                    "SELECT menu_json FROM canteen_menus WHERE canteen_id = $1 AND date = $2 AND slot = $3",
                )
                .bind(canteen_id)
                .bind(&date)
                .bind(slot.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(before) = before else { return Err(not_found("menu")) };
                let orders: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM meal_orders WHERE canteen_id = $1 AND date = $2 AND slot = $3",
                )
                .bind(canteen_id)
                .bind(&date)
                .bind(slot.as_str())
                .fetch_one(&mut *tx)
                .await?;
                if orders > 0 {
                    return Err(StoreError::Conflict(zhulao_domain::FieldError::new(
                        "menu",
                        "menu_has_orders",
                        "已有老人订了这份菜单，不能删除（可以修改菜单）",
                        "elders have ordered from this menu; it cannot be deleted (it can be changed)",
                    )));
                }
                sqlx::query("DELETE FROM canteen_menus WHERE canteen_id = $1 AND date = $2 AND slot = $3")
                    .bind(canteen_id)
                    .bind(&date)
                    .bind(slot.as_str())
                    .execute(&mut *tx)
                    .await?;
                let key = format!("{canteen_id}:{date}:{}", slot.as_str());
                audit(&mut tx, now, actor, "delete_menu", "menu", key, Some(before), None).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_meal_order(&self, meal: &SvcMealOrder, region_code: &str, actor: Actor) -> Result<MealOrderRow> {
                let now = self.clock.now_ms();
                let date = date_text(meal.date);
                let mut tx = self.begin().await?;
                active_elder(&mut tx, meal.elder).await?;
                let taken: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM meal_orders WHERE elder_id = $1 AND date = $2 AND slot = $3 AND state <> 'cancelled'",
                )
                .bind(meal.elder)
                .bind(&date)
                .bind(meal.slot.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let duplicate = || {
                    StoreError::Conflict(zhulao_domain::FieldError::new(
                        "slot",
                        "meal_already_ordered",
                        format!("该老人{date}的{}已经订过了", meal.slot.label_zh()),
                        format!("this elder already has a {} on {date}", meal.slot.as_str()),
                    ))
                };
                if taken.is_some() {
                    return Err(duplicate());
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO meal_orders (elder_id, canteen_id, region_code, date, slot, option_code, fulfilment, \
                     station_id, state, price_fen, order_json, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
                )
                .bind(meal.elder)
                .bind(meal.canteen)
                .bind(region_code)
                .bind(&date)
                .bind(meal.slot.as_str())
                .bind(meal.option.as_str())
                .bind(meal.fulfilment.as_str())
                .bind(meal.delivery.map(|d| d.station))
                .bind(meal.state.as_str())
                .bind(meal.price.0)
                .bind(to_json(meal))
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| match StoreError::from_db(e) {
                    StoreError::Conflict(_) => duplicate(),
                    other => other,
                })?;
                let after = serde_json::json!({
                    "elder_id": meal.elder, "canteen_id": meal.canteen, "date": date, "slot": meal.slot,
                    "option": meal.option, "fulfilment": meal.fulfilment, "price_fen": meal.price.0,
                });
                audit(&mut tx, now, actor, "order_meal", "meal_order", id, None, Some(after.to_string())).await?;
                let row = fetch_meal(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn meal_order(&self, id: i64) -> Result<MealOrderRow> {
                fetch_meal(&self.pool, id).await
            }

            async fn save_meal_order(
                &self,
                id: i64,
                expected_version: i64,
                meal: &SvcMealOrder,
                action: &str,
                actor: Actor,
            ) -> Result<MealOrderRow> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before = fetch_meal(&mut *tx, id).await?;
                let updated = update_versioned(
                    &mut tx,
                    "meal_orders",
                    "order_json",
                    meal.state.as_str(),
                    to_json(meal),
                    now,
                    id,
                    expected_version,
                )
                .await?;
                if !updated {
                    return Err(StoreError::Stale { current: before.version });
                }
                audit(
                    &mut tx,
                    now,
                    actor,
                    action,
                    "meal_order",
                    id,
                    Some(serde_json::json!({ "state": before.order.state }).to_string()),
                    Some(serde_json::json!({ "state": meal.state }).to_string()),
                )
                .await?;
                let row = fetch_meal(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn list_meal_orders(&self, f: &MealOrderFilter) -> Result<Page<MealOrderRow>> {
                let (offset, limit) = page_bounds(f.offset, f.limit);
                let build = |select: &str| {
                    let mut qb = QueryBuilder::<$db>::new(select);
                    qb.push(" FROM meal_orders WHERE (");
                    push_order_scope(&mut qb, &f.scope, "");
                    qb.push(")");
                    if let Some(c) = f.canteen_id {
                        qb.push(" AND canteen_id = ").push_bind(c);
                    }
                    if let Some(s) = f.station_id {
                        qb.push(" AND station_id = ").push_bind(s);
                    }
                    if let Some(e) = f.elder_id {
                        qb.push(" AND elder_id = ").push_bind(e);
                    }
                    if let Some(d) = f.from {
                        qb.push(" AND date >= ").push_bind(date_text(d));
                    }
                    if let Some(d) = f.to {
                        qb.push(" AND date <= ").push_bind(date_text(d));
                    }
                    if let Some(s) = f.slot {
                        qb.push(" AND slot = ").push_bind(s.as_str());
                    }
                    if let Some(s) = f.state {
                        qb.push(" AND state = ").push_bind(s.as_str());
                    }
                    qb
                };
                paged(&self.pool, build, MEAL_COLUMNS, "date, slot, canteen_id, id", (offset, limit), MealDbRow::into_row).await
            }

            async fn put_volunteer(&self, v: &VolunteerRow, actor: Actor) -> Result<VolunteerRow> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                active_elder(&mut tx, v.elder_id).await?;
                sqlx::query(
                    "INSERT INTO timebank_volunteers (elder_id, skills, capacity, active, joined_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (elder_id) DO UPDATE SET skills = excluded.skills, capacity = excluded.capacity, \
                     active = excluded.active",
                )
                .bind(v.elder_id)
                .bind(to_json(&v.skills))
                .bind(v.capacity as i32)
                .bind(v.active)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let after = serde_json::json!({ "skills": v.skills, "capacity": v.capacity, "active": v.active });
                audit(&mut tx, now, actor, "put_volunteer", "volunteer", v.elder_id, None, Some(after.to_string())).await?;
                let row = sqlx::query_as::<_, VolunteerDbRow>(&format!("{VOLUNTEER_SELECT} WHERE v.elder_id = $1"))
                    .bind(v.elder_id)
                    .fetch_one(&mut *tx)
                    .await?
                    .into_row()?;
                tx.commit().await?;
                Ok(row)
            }

            async fn volunteer(&self, elder_id: i64) -> Result<VolunteerRow> {
                sqlx::query_as::<_, VolunteerDbRow>(&format!("{VOLUNTEER_SELECT} WHERE v.elder_id = $1"))
                    .bind(elder_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| not_found("volunteer"))?
                    .into_row()
            }

            async fn volunteers(&self, region_prefix: Option<&str>) -> Result<Vec<VolunteerRow>> {
                let mut qb = QueryBuilder::<$db>::new(VOLUNTEER_SELECT);
                qb.push(" JOIN elders e ON e.id = v.elder_id WHERE v.active = TRUE");
                if let Some(p) = region_prefix {
                    qb.push(" AND e.region_code LIKE ").push_bind(format!("{p}%"));
                }
                qb.push(" ORDER BY v.elder_id");
                qb.build_query_as::<VolunteerDbRow>()
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(VolunteerDbRow::into_row)
                    .collect()
            }

            async fn record_hours(&self, record: &SvcHourRecord, actor: Actor) -> Result<HourRow> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let volunteer: Option<bool> = sqlx::query_scalar("SELECT active FROM timebank_volunteers WHERE elder_id = $1")
                    .bind(record.volunteer)
                    .fetch_optional(&mut *tx)
                    .await?;
                if volunteer != Some(true) {
                    return Err(StoreError::invalid(
                        "volunteer_id",
                        "not_a_volunteer",
                        "该老人不是时间银行志愿者",
                        "this person is not a time-bank volunteer",
                    ));
                }
                fetch_elder(&mut *tx, record.elder).await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO timebank_records (volunteer_id, elder_id, minutes, state, record_json, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                )
                .bind(record.volunteer)
                .bind(record.elder)
                .bind(record.minutes as i32)
                .bind(record.state.as_str())
                .bind(to_json(record))
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let posting = SvcPosting {
                    at: record.recorded_at,
                    kind: zhulao_services::timebank::PostingKind::Record,
                    debit: zhulao_services::timebank::Account::Issued,
                    credit: zhulao_services::timebank::Account::Pending { id: record.volunteer },
                    minutes: record.minutes,
                    reference: Some(id),
                };
                post_in(&mut tx, &posting).await?;
                audit(&mut tx, now, actor, "record_hours", "hour_record", id, None, Some(to_json(record))).await?;
                let row = fetch_hours(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn hour_record(&self, id: i64) -> Result<HourRow> {
                fetch_hours(&self.pool, id).await
            }

            async fn decide_hours(
                &self,
                id: i64,
                expected_version: i64,
                record: &SvcHourRecord,
                posting: &SvcPosting,
                actor: Actor,
            ) -> Result<HourRow> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before = fetch_hours(&mut *tx, id).await?;
                let updated = update_versioned(
                    &mut tx,
                    "timebank_records",
                    "record_json",
                    record.state.as_str(),
                    to_json(record),
                    now,
                    id,
                    expected_version,
                )
                .await?;
                if !updated {
                    return Err(StoreError::Stale { current: before.version });
                }
                post_in(&mut tx, posting).await?;
                audit(
                    &mut tx,
                    now,
                    actor,
                    posting.kind.as_str(),
                    "hour_record",
                    id,
                    Some(serde_json::json!({ "state": before.record.state }).to_string()),
                    Some(serde_json::json!({ "state": record.state, "posting": posting }).to_string()),
                )
                .await?;
                let row = fetch_hours(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn list_hour_records(&self, f: &HourFilter) -> Result<Page<HourRow>> {
                let (offset, limit) = page_bounds(f.offset, f.limit);
                let build = |select: &str| {
                    let mut qb = QueryBuilder::<$db>::new(select);
                    qb.push(" FROM timebank_records WHERE TRUE");
                    if let Some(v) = f.volunteer_id {
                        qb.push(" AND volunteer_id = ").push_bind(v);
                    }
                    if let Some(e) = f.elder_id {
                        qb.push(" AND elder_id = ").push_bind(e);
                    }
                    if let Some(s) = f.state {
                        qb.push(" AND state = ").push_bind(s.as_str());
                    }
                    if let Some(p) = &f.region_prefix {
                        qb.push(" AND elder_id IN (SELECT id FROM elders WHERE region_code LIKE ")
                            .push_bind(format!("{p}%"))
                            .push(")");
                    }
                    qb
                };
                paged(&self.pool, build, "id, record_json, version", "id DESC", (offset, limit), HourDbRow::into_row).await
            }

            async fn post_minutes(&self, posting: &SvcPosting, actor: Actor) -> Result<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                post_in(&mut tx, posting).await?;
                audit(&mut tx, now, actor, posting.kind.as_str(), "timebank", ledger_key(posting.debit), None, Some(to_json(posting)))
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn time_balance(&self, volunteer_id: i64) -> Result<TimeBalance> {
                let rows = sqlx::query("SELECT account, minutes FROM timebank_balances WHERE account IN ($1, $2)")
                    .bind(format!("volunteer:{volunteer_id}"))
                    .bind(format!("pending:{volunteer_id}"))
                    .fetch_all(&self.pool)
                    .await?;
                let mut b = TimeBalance::default();
                for r in rows {
                    let account: String = r.try_get("account")?;
                    let minutes: i64 = r.try_get("minutes")?;
                    if account.starts_with("volunteer:") {
                        b.banked_min = minutes;
                    } else {
                        b.pending_min = minutes;
                    }
                }
                Ok(b)
            }

            async fn time_postings(&self, volunteer_id: i64) -> Result<Vec<SvcPosting>> {
                let (v, p) = (format!("volunteer:{volunteer_id}"), format!("pending:{volunteer_id}"));
                let rows: Vec<String> = sqlx::query_scalar(
                    "SELECT posting_json FROM timebank_postings WHERE debit IN ($1, $2) OR credit IN ($1, $2) ORDER BY id",
                )
                .bind(v)
                .bind(p)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|s| serde_json::from_str(s).map_err(|e| $crate::service_sql::corrupt("timebank_postings", e)))
                    .collect()
            }

            async fn time_trial_balance(&self) -> Result<i64> {
                let sum: Option<i64> = sqlx::query_scalar("SELECT CAST(SUM(minutes) AS BIGINT) FROM timebank_balances")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(sum.unwrap_or(0))
            }

            async fn create_pair(&self, volunteer_id: i64, elder_id: i64, actor: Actor) -> Result<PairRow> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let volunteer: Option<bool> = sqlx::query_scalar("SELECT active FROM timebank_volunteers WHERE elder_id = $1")
                    .bind(volunteer_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if volunteer != Some(true) {
                    return Err(StoreError::invalid(
                        "volunteer_id",
                        "not_a_volunteer",
                        "该老人不是时间银行志愿者",
                        "this person is not a time-bank volunteer",
                    ));
                }
                active_elder(&mut tx, elder_id).await?;
                let existing: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM timebank_pairs WHERE volunteer_id = $1 AND elder_id = $2 AND ended_at IS NULL",
                )
                .bind(volunteer_id)
                .bind(elder_id)
                .fetch_optional(&mut *tx)
                .await?;
                if existing.is_some() {
                    return Err(StoreError::Conflict(zhulao_domain::FieldError::new(
                        "elder_id",
                        "already_paired",
                        "已经结对",
                        "already paired",
                    )));
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO timebank_pairs (volunteer_id, elder_id, created_at) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(volunteer_id)
                .bind(elder_id)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let after = serde_json::json!({ "volunteer_id": volunteer_id, "elder_id": elder_id });
                audit(&mut tx, now, actor, "pair", "timebank_pair", id, None, Some(after.to_string())).await?;
                let row = fetch_pair(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn end_pair(&self, id: i64, actor: Actor) -> Result<PairRow> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before = fetch_pair(&mut *tx, id).await?;
                sqlx::query("UPDATE timebank_pairs SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                audit(&mut tx, now, actor, "unpair", "timebank_pair", id, Some(to_json(&before)), None).await?;
                let row = fetch_pair(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn pairs(&self, volunteer_id: Option<i64>) -> Result<Vec<PairRow>> {
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT id, volunteer_id, elder_id, created_at, ended_at FROM timebank_pairs WHERE ended_at IS NULL",
                );
                if let Some(v) = volunteer_id {
                    qb.push(" AND volunteer_id = ").push_bind(v);
                }
                qb.push(" ORDER BY id");
                Ok(qb.build_query_as::<PairDbRow>().fetch_all(&self.pool).await?.into_iter().map(PairRow::from).collect())
            }
        }
    };
}

pub(crate) use service_store;
