//! The SQL behind the home-care traits ([`crate::CatalogueStore`], [`crate::OrderStore`],
//! [`crate::ComplaintStore`], [`crate::SettlementStore`], [`crate::MealStore`],
//! [`crate::TimeBankStore`]). Same dialect rules as `sql.rs`: `$N` placeholders, `RETURNING`,
//! `ON CONFLICT`, `TRUE`/`FALSE`, nothing else.
//!
//! Layout:
//! - this module and [`rows`]: what does not depend on the backend — the row types and their
//!   conversions, column lists, the columns an order's case decides, error constructors;
//! - `backend/`: the queries, one file per area (`catalogue`, `orders`, `complaints`,
//!   `settlement`, `meals`, `timebank`) plus the helpers they share (`backend/mod.rs`). It is
//!   plain Rust over one concrete database type `Db`, compiled once per backend: `sqlite.rs`
//!   and `postgres.rs` each include it as their child module `services` with
//!   `#[path = "service_sql/backend/mod.rs"]`, after defining `Db` and `SqlStore` (their sqlx
//!   database and store) and expanding `sql_store!`, whose helpers (`Tx`, `audit`, `paged`,
//!   `fetch_elder`, …) it uses. It is therefore not declared here. Unlike a macro body,
//!   rustfmt formats it and the IDE sees into it;
//! - the generic query shapes (a row by its key, a versioned save, due timers) are in
//!   `crate::query`.

use chrono::{DateTime, NaiveDate, Utc};
use zhulao_domain::{FieldError, GeoPoint};
use zhulao_services::order::Order;
use zhulao_services::timebank::TimeAccount as LedgerAccount;

use crate::error::{Result, StoreError};

mod rows;

pub(crate) use rows::*;

/// The order states in which a caregiver holds an order.
pub(crate) const HELD: &str = "('taken', 'on_the_way', 'checked_in')";

pub(crate) fn corrupt(table: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { table, detail: detail.to_string() }
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(table: &'static str, s: &str) -> Result<T> {
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
