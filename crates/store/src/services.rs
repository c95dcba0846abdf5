//! The home-care side of the store (issue 5): the catalogue and regional prices, caregivers'
//! duty and positions, service orders with their append-only events and photos, complaints,
//! settlement (rule books, funding pools, rule usage, settlements), meals and the time bank.
//! One trait per area — [`CatalogueStore`], [`OrderStore`], [`ComplaintStore`],
//! [`SettlementStore`], [`MealStore`], [`TimeBankStore`] — all supertraits of [`crate::Store`],
//! so an `Arc<dyn Store>` has every method; the SQL behind them is in `service_sql/`.
//!
//! Invariants: an order is saved only if its version *and* state are what the caller read
//! (`save_order` is one conditional `UPDATE … WHERE id = ? AND version = ? AND state = ?`), so
//! of any number of concurrent grabs exactly one wins; a caregiver never holds two orders
//! whose windows overlap (checked inside the winning transaction, under a lock on the
//! caregiver's row); a settlement's debits are guarded updates (`card >= debit`,
//! `pool >= debit`, `used + delta <= cap`) in the same transaction as the settlement record
//! and the order, so concurrent settlements can never overdraw a card, a pool or a cap — a
//! refused guard is [`crate::StoreError::Stale`] and the caller settles again from fresh
//! balances; every write and its audit entry commit together; orders, complaints, meal orders,
//! catalogue items and hour records are never deleted, and events, photos, settlements and
//! time-bank postings are append-only (triggers).

use async_trait::async_trait;
use chrono::NaiveDate;
use zhulao_domain::{Account, GeoPoint};
use zhulao_services::catalogue::{Catalogue, RegionPrice, ServiceCategory, ServiceItem};
use zhulao_services::meals::{MealOrder, MealOrderState, MealSlot, Menu};
use zhulao_services::order::{Order, OrderState};
use zhulao_services::profile::ElderCategory;
use zhulao_services::quality::{ComplaintCase, ComplaintState, QualityInputs, QualityScore};
use zhulao_services::settlement::{Balances, Debits, RegionRules, RuleBook, RuleTrace, SettleInput, Split};
use zhulao_services::timebank::{HourRecord, HourState, Posting};
use zhulao_services::{PoolCode, RegionPrefix, RuleCode};

use crate::{Actor, Page, Result};

/// A caregiver as dispatch sees them: the account (skills), duty, last position, quality
/// score and the windows of the orders they hold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaregiverRow {
    pub account: Account,
    pub on_duty: bool,
    pub position: Option<GeoPoint>,
    /// When the position was reported (Unix ms).
    pub position_at: Option<i64>,
    pub quality_milli: u32,
    pub ratings: u32,
    /// `[start, end)` in Unix ms of every order the caregiver holds.
    pub commitments: Vec<(i64, i64)>,
}

/// A stored service order: the indexed columns and the whole case.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OrderRow {
    pub id: i64,
    pub order: Order,
    pub home_station_id: Option<i64>,
    pub next_due_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One entry of an order's history, to write: who (the account, or the system), in which
/// role, the action, and what it caused (`detail`, e.g. the effects).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderEventInput {
    pub actor: Actor,
    pub actor_role: String,
    pub action: String,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OrderEvent {
    pub id: i64,
    pub order_id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_role: String,
    pub action: String,
    pub from_state: String,
    pub to_state: String,
    pub detail: serde_json::Value,
}

/// Which orders a viewer may list (from the access policy), turned into SQL by the store.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderScope {
    All,
    /// Orders of elders whose region code starts with this prefix.
    RegionPrefix(String),
    /// Orders of elders whose home station is this facility, or in this region.
    Station {
        facility: i64,
        region_prefix: Option<String>,
    },
    /// Orders of the elders this care manager looks after.
    CareManager(i64),
    /// Orders of the elders linked to this family account.
    Family(i64),
    /// Orders this caregiver holds or held.
    Caregiver(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderFilter {
    pub scope: OrderScope,
    pub states: Vec<OrderState>,
    pub elder_id: Option<i64>,
    pub caregiver_id: Option<i64>,
    pub region_prefix: Option<String>,
    /// Created at or after / before (Unix ms).
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub offset: i64,
    pub limit: i64,
}

impl OrderFilter {
    pub fn scoped(scope: OrderScope) -> Self {
        OrderFilter {
            scope,
            states: Vec::new(),
            elder_id: None,
            caregiver_id: None,
            region_prefix: None,
            since: None,
            until: None,
            offset: 0,
            limit: 50,
        }
    }
}

/// A photo to store with an order (validated by the caller: type and size).
#[derive(Debug, Clone, PartialEq)]
pub struct NewPhoto {
    /// The content hash the order refers to it by.
    pub reference: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PhotoMeta {
    pub order_id: i64,
    pub reference: String,
    pub caregiver_id: Option<i64>,
    pub content_type: String,
    pub size_bytes: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ComplaintRow {
    pub id: i64,
    pub case: ComplaintCase,
    pub region_code: String,
    pub next_due_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComplaintFilter {
    pub scope: OrderScope,
    pub state: Option<ComplaintState>,
    pub caregiver_id: Option<i64>,
    pub order_id: Option<i64>,
    pub offset: i64,
    pub limit: i64,
}

/// A funding pool (a budget, a charity fund, a village fund).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Pool {
    pub code: PoolCode,
    pub name: String,
    pub region_prefix: RegionPrefix,
    pub balance_fen: i64,
    pub updated_at: i64,
}

/// Service orders and meals are settled alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettlementKind {
    Service,
    Meal,
}

impl SettlementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SettlementKind::Service => "service",
            SettlementKind::Meal => "meal",
        }
    }
}

/// A settlement to record: what was settled, the split and its inputs (so anyone can
/// recompute it), and the balances it was computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSettlement {
    pub kind: SettlementKind,
    /// The service order's or meal order's id.
    pub ref_id: i64,
    pub elder_id: i64,
    /// The station (or canteen) that provided it; 0 when none.
    pub provider_id: i64,
    pub caregiver_id: Option<i64>,
    pub region_code: String,
    pub category: ServiceCategory,
    pub date: NaiveDate,
    pub split: Split,
    pub trace: Vec<RuleTrace>,
    pub input: SettleInput,
    pub debits: Debits,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SettlementRow {
    pub id: i64,
    pub kind: String,
    pub ref_id: i64,
    pub elder_id: i64,
    pub provider_id: i64,
    pub caregiver_id: Option<i64>,
    pub region_code: String,
    pub category: ServiceCategory,
    pub date: NaiveDate,
    pub split: Split,
    pub trace: Vec<RuleTrace>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettlementFilter {
    pub year: Option<i32>,
    pub month: Option<u32>,
    pub elder_id: Option<i64>,
    pub provider_id: Option<i64>,
    pub region_prefix: Option<String>,
    pub kind: Option<SettlementKind>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MenuRow {
    pub menu: Menu,
    pub version: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MealOrderRow {
    pub id: i64,
    pub order: MealOrder,
    pub region_code: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MealOrderFilter {
    pub scope: OrderScope,
    pub canteen_id: Option<i64>,
    pub station_id: Option<i64>,
    pub elder_id: Option<i64>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub slot: Option<MealSlot>,
    pub state: Option<MealOrderState>,
    pub offset: i64,
    pub limit: i64,
}

impl MealOrderFilter {
    pub fn scoped(scope: OrderScope) -> Self {
        MealOrderFilter {
            scope,
            canteen_id: None,
            station_id: None,
            elder_id: None,
            from: None,
            to: None,
            slot: None,
            state: None,
            offset: 0,
            limit: 50,
        }
    }
}

/// A time-bank volunteer: an elder (often a younger one) who serves others.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VolunteerRow {
    pub elder_id: i64,
    pub skills: Vec<String>,
    pub capacity: u32,
    pub active: bool,
    pub joined_at: i64,
    /// Elders currently paired with this volunteer.
    pub paired: u32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HourRow {
    pub id: i64,
    pub record: HourRecord,
    pub version: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct HourFilter {
    pub volunteer_id: Option<i64>,
    pub elder_id: Option<i64>,
    pub state: Option<HourState>,
    /// Only records of elders whose region starts with this prefix.
    pub region_prefix: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// A volunteer's minutes: banked (confirmed, not spent) and pending confirmation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TimeBalance {
    pub banked_min: i64,
    pub pending_min: i64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PairRow {
    pub id: i64,
    pub volunteer_id: i64,
    pub elder_id: i64,
    pub created_at: i64,
    pub ended_at: Option<i64>,
}

/// The catalogue and who serves from it: service items (deactivated, never deleted), regional
/// prices, and caregivers' duty, last position and quality score.
#[async_trait]
pub trait CatalogueStore: Send + Sync {
    /// Every item (inactive ones too) and every regional price.
    async fn catalogue(&self) -> Result<Catalogue>;
    /// Inserts the items whose codes are not stored yet (the built-in catalogue at start-up);
    /// returns how many were new.
    async fn seed_service_items(&self, items: &[ServiceItem], actor: Actor) -> Result<usize>;
    /// A new item; a code already taken is a `Conflict` on `code`.
    async fn create_service_item(&self, item: &ServiceItem, actor: Actor) -> Result<ServiceItem>;
    /// Replaces an item's names, duration, skills, base price and active flag (items are
    /// deactivated, never deleted).
    async fn update_service_item(&self, item: &ServiceItem, actor: Actor) -> Result<ServiceItem>;
    /// Sets (or replaces) a regional price.
    async fn set_service_price(&self, price: &RegionPrice, actor: Actor) -> Result<()>;

    // Caregivers.
    /// Duty and position from the caregiver's phone. Positions are telemetry (not audited);
    /// going on or off duty is audited.
    async fn report_caregiver(
        &self,
        account_id: i64,
        on_duty: bool,
        position: Option<GeoPoint>,
        actor: Actor,
    ) -> Result<()>;
    async fn caregiver(&self, account_id: i64) -> Result<CaregiverRow>;
    /// Active caregivers on duty whose last position lies within `radius_m` of `center`
    /// (a bounding box; the caller checks the exact distance), reported at or after
    /// `fresh_since` (Unix ms).
    async fn caregivers_near(
        &self,
        center: GeoPoint,
        radius_m: u32,
        fresh_since: i64,
        limit: i64,
    ) -> Result<Vec<CaregiverRow>>;
    /// What a caregiver's quality score is computed from, over orders that ended since
    /// `since` (Unix ms): ratings, upheld complaints, caregiver no-shows.
    async fn quality_inputs(&self, caregiver_id: i64, since: i64) -> Result<QualityInputs>;
    async fn set_caregiver_quality(&self, caregiver_id: i64, score: QualityScore, actor: Actor)
    -> Result<()>;
}

/// Service orders: each saved only from the version and state the caller read, with its
/// append-only events, its photos and its timers.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Stores a new order with its first events (`create`, and `publish` when it was
    /// published at once) and their audit entries.
    async fn create_order(
        &self,
        order: &Order,
        next_due_at: Option<i64>,
        events: &[OrderEventInput],
    ) -> Result<OrderRow>;
    async fn order(&self, id: i64) -> Result<OrderRow>;
    /// Saves the order after one step, only if its version is `expected_version` and its
    /// state `expected_state` (one conditional update; `Stale` otherwise), with its event, its
    /// audit entry and any `photos`. When the step gives the order to a caregiver, the
    /// caregiver's other held orders are checked for overlap in the same transaction
    /// (`Conflict` on `caregiver_id`, code `caregiver_busy`).
    #[allow(clippy::too_many_arguments)]
    async fn save_order(
        &self,
        id: i64,
        expected_version: i64,
        expected_state: OrderState,
        order: &Order,
        next_due_at: Option<i64>,
        event: &OrderEventInput,
        photos: &[NewPhoto],
    ) -> Result<OrderRow>;
    async fn list_orders(&self, f: &OrderFilter) -> Result<Page<OrderRow>>;
    /// Published orders whose home lies within `radius_m` of `center` (a bounding box).
    async fn orders_on_offer_near(
        &self,
        center: GeoPoint,
        radius_m: u32,
        limit: i64,
    ) -> Result<Vec<OrderRow>>;
    /// Orders with a timer (or a settlement) due at `now`, oldest due first.
    async fn due_orders(&self, now: i64, limit: i64) -> Result<Vec<OrderRow>>;
    async fn next_order_due(&self) -> Result<Option<i64>>;
    /// Moves an order's next due time without a step (a failed settlement retried later).
    async fn defer_order(&self, id: i64, next_due_at: Option<i64>, reason: &str) -> Result<()>;
    async fn order_events(&self, order_id: i64) -> Result<Vec<OrderEvent>>;
    /// Stores a photo for an order (idempotent per content hash).
    async fn add_order_photo(&self, order_id: i64, photo: &NewPhoto, actor: Actor) -> Result<PhotoMeta>;
    async fn order_photo(&self, order_id: i64, reference: &str) -> Result<(PhotoMeta, Vec<u8>)>;
    async fn order_photos(&self, order_id: i64) -> Result<Vec<PhotoMeta>>;
    /// Orders this caregiver held that ended (completed or no-show) in `[from, to)` Unix ms,
    /// with the number of upheld complaints about each.
    async fn caregiver_orders_ended(
        &self,
        caregiver_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(OrderRow, u32)>>;
}

/// Complaints about orders and caregivers, versioned, with their deadlines as timers.
#[async_trait]
pub trait ComplaintStore: Send + Sync {
    async fn create_complaint(
        &self,
        case: &ComplaintCase,
        region_code: &str,
        next_due_at: Option<i64>,
        actor: Actor,
    ) -> Result<ComplaintRow>;
    async fn complaint(&self, id: i64) -> Result<ComplaintRow>;
    async fn save_complaint(
        &self,
        id: i64,
        expected_version: i64,
        case: &ComplaintCase,
        next_due_at: Option<i64>,
        action: &str,
        actor: Actor,
    ) -> Result<ComplaintRow>;
    async fn list_complaints(&self, f: &ComplaintFilter) -> Result<Page<ComplaintRow>>;
    async fn due_complaints(&self, now: i64, limit: i64) -> Result<Vec<ComplaintRow>>;
}

/// Settlement: the rule book, funding pools, the balances a split is computed from, the lists
/// elders are on, and settling service and meal orders with guarded debits.
#[async_trait]
pub trait SettlementStore: Send + Sync {
    /// Every region's rules (empty when none are stored).
    async fn rule_book(&self) -> Result<RuleBook>;
    /// Replaces one region's rule list (validated by the caller).
    async fn put_region_rules(&self, rules: &RegionRules, actor: Actor) -> Result<()>;
    async fn pools(&self) -> Result<Vec<Pool>>;
    /// Creates a pool or renames it, and adds `top_up_fen` (≥ 0) to its balance.
    async fn fund_pool(
        &self,
        code: &PoolCode,
        name: &str,
        region_prefix: &RegionPrefix,
        top_up_fen: i64,
        actor: Actor,
    ) -> Result<Pool>;
    /// The balances a settlement for this elder reads: the card, the named pools, the
    /// elder's usage of the named rules.
    async fn balances(&self, elder_id: i64, pools: &[PoolCode], rules: &[RuleCode]) -> Result<Balances>;
    async fn elder_lists(&self, elder_id: i64) -> Result<Vec<ElderCategory>>;
    /// Replaces the lists an elder is on.
    async fn set_elder_lists(&self, elder_id: i64, lists: &[ElderCategory], actor: Actor) -> Result<()>;
    /// Elders on a list, optionally within a region prefix.
    async fn elders_on_list(&self, list: ElderCategory, region_prefix: Option<&str>) -> Result<Vec<i64>>;
    /// Settles a service order: applies the debits with guarded updates against `read` (the
    /// balances the split was computed from), records the settlement and saves the order
    /// (conditional on version and state), all in one transaction. A refused guard is
    /// `Stale`: read the balances again and settle again.
    #[allow(clippy::too_many_arguments)]
    async fn settle_order(
        &self,
        id: i64,
        expected_version: i64,
        expected_state: OrderState,
        order: &Order,
        next_due_at: Option<i64>,
        event: &OrderEventInput,
        settlement: &NewSettlement,
        read: &Balances,
    ) -> Result<OrderRow>;
    /// Settles a meal order the same way.
    async fn settle_meal(
        &self,
        id: i64,
        expected_version: i64,
        meal: &MealOrder,
        settlement: &NewSettlement,
        read: &Balances,
        actor: Actor,
    ) -> Result<MealOrderRow>;
    async fn settlements(&self, f: &SettlementFilter) -> Result<Vec<SettlementRow>>;
}

/// Meals: canteens' menus and elders' meal orders.
#[async_trait]
pub trait MealStore: Send + Sync {
    /// Creates or replaces a canteen's menu for one meal of one day.
    async fn put_menu(&self, menu: &Menu, actor: Actor) -> Result<MenuRow>;
    async fn menu(&self, canteen_id: i64, date: NaiveDate, slot: MealSlot) -> Result<MenuRow>;
    async fn menus(&self, canteen_id: Option<i64>, from: NaiveDate, to: NaiveDate) -> Result<Vec<MenuRow>>;
    /// Removes a menu nobody has ordered from (`Conflict` otherwise).
    async fn delete_menu(&self, canteen_id: i64, date: NaiveDate, slot: MealSlot, actor: Actor)
    -> Result<()>;
    /// A new meal order; a second live order for the same elder, day and slot is a
    /// `Conflict` on `slot`.
    async fn create_meal_order(
        &self,
        meal: &MealOrder,
        region_code: &str,
        actor: Actor,
    ) -> Result<MealOrderRow>;
    async fn meal_order(&self, id: i64) -> Result<MealOrderRow>;
    async fn save_meal_order(
        &self,
        id: i64,
        expected_version: i64,
        meal: &MealOrder,
        action: &str,
        actor: Actor,
    ) -> Result<MealOrderRow>;
    async fn list_meal_orders(&self, f: &MealOrderFilter) -> Result<Page<MealOrderRow>>;
}

/// The time bank: volunteers, hour records, the minute ledger and pairs.
#[async_trait]
pub trait TimeBankStore: Send + Sync {
    async fn put_volunteer(&self, v: &VolunteerRow, actor: Actor) -> Result<VolunteerRow>;
    async fn volunteer(&self, elder_id: i64) -> Result<VolunteerRow>;
    async fn volunteers(&self, region_prefix: Option<&str>) -> Result<Vec<VolunteerRow>>;
    /// Stores a record and its `record` posting (issued → pending) with the record's id.
    async fn record_hours(&self, record: &HourRecord, actor: Actor) -> Result<HourRow>;
    async fn hour_record(&self, id: i64) -> Result<HourRow>;
    /// Saves a confirmed or rejected record with its posting (guarded: the pending account
    /// must hold the minutes).
    async fn decide_hours(
        &self,
        id: i64,
        expected_version: i64,
        record: &HourRecord,
        posting: &Posting,
        actor: Actor,
    ) -> Result<HourRow>;
    async fn list_hour_records(&self, f: &HourFilter) -> Result<Page<HourRow>>;
    /// Posts a redemption or transfer; a debit the account cannot cover is a `Conflict`
    /// (code `timebank_insufficient`) and writes nothing.
    async fn post_minutes(&self, posting: &Posting, actor: Actor) -> Result<()>;
    async fn time_balance(&self, volunteer_id: i64) -> Result<TimeBalance>;
    /// Every posting touching this volunteer's accounts, oldest first.
    async fn time_postings(&self, volunteer_id: i64) -> Result<Vec<Posting>>;
    /// The sum of every account's balance (zero when the ledger balances).
    async fn time_trial_balance(&self) -> Result<i64>;
    async fn create_pair(&self, volunteer_id: i64, elder_id: i64, actor: Actor) -> Result<PairRow>;
    async fn end_pair(&self, id: i64, actor: Actor) -> Result<PairRow>;
    async fn pairs(&self, volunteer_id: Option<i64>) -> Result<Vec<PairRow>>;
}
