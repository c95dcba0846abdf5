//! zhulao-store: persistence behind one async trait, [`Store`], with a SQLite backend (the
//! embedded default, WAL) and a PostgreSQL backend, each with its own embedded migrations.
//!
//! Invariants: every write and its audit-log entry commit in one transaction; rows that
//! others reference are never deleted (the schema refuses it); "row not found" is
//! [`StoreError::NotFound`], unique violations are [`StoreError::Conflict`] on the field.
//! The alarm side is [`AlarmStore`]; the home-care side is one trait per area
//! ([`CatalogueStore`], [`OrderStore`] with a conditional grab, [`ComplaintStore`],
//! [`SettlementStore`] with guarded debits, [`MealStore`], [`TimeBankStore`]). All are
//! supertraits of [`Store`], so `Arc<dyn Store>` has every method.

mod alarm_sql;
pub mod alarms;
pub mod clock;
pub mod error;
mod migrate;
mod postgres;
mod query;
mod rows;
mod service_sql;
pub mod services;
mod sql;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use zhulao_domain::{
    Account, CapabilityLevel, Device, DeviceBinding, EconomicStatus, Elder, ElderRecord, ElderScope,
    ElderStatus, Facility, FacilityKind, FacilityRecord, Hukou, LivingArrangement, MonitoringSettings,
    NewAccount, NewDevice, Region, RegionCode, RegionStats, Role,
};

pub use alarms::{AlarmFilter, AlarmStore, DeviceState, DeviceStateStore, NotificationRecord, WearerState};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Result, StoreError};
pub use postgres::PgStore;
pub use services::{
    CaregiverRow, ComplaintFilter, ComplaintRow, HourFilter, HourRow, MealOrderFilter, MealOrderRow, MenuRow,
    NewPhoto, NewSettlement, OrderEvent, OrderEventInput, OrderFilter, OrderRow, OrderScope, PairRow,
    PhotoMeta, Pool, SettlementFilter, SettlementKind, SettlementRow, TimeBalance, VolunteerRow,
};
pub use services::{CatalogueStore, ComplaintStore, MealStore, OrderStore, SettlementStore, TimeBankStore};
pub use sqlite::SqliteStore;

/// Who is writing: recorded in the audit log (defined in `zhulao-domain`, shared with the alarm
/// records).
pub use zhulao_domain::Actor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One page of results and the total count matching the filter.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
}

/// Filters for listing elders. `scope` comes from the access policy and is always applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ElderFilter {
    pub scope: ElderScope,
    pub region_prefix: Option<String>,
    pub status: Option<ElderStatus>,
    /// Born on or before this day (an age minimum).
    pub born_on_or_before: Option<NaiveDate>,
    /// Born on or after this day (an age maximum).
    pub born_on_or_after: Option<NaiveDate>,
    pub living: Option<LivingArrangement>,
    pub economic: Option<EconomicStatus>,
    pub capability: Option<CapabilityLevel>,
    pub hukou: Option<Hukou>,
    pub has_card: Option<bool>,
    pub has_device: Option<bool>,
    pub care_manager_id: Option<i64>,
    pub home_station_id: Option<i64>,
    /// A name fragment, or an exact ID number or phone.
    pub query: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

impl ElderFilter {
    pub fn scoped(scope: ElderScope) -> Self {
        ElderFilter {
            scope,
            region_prefix: None,
            status: None,
            born_on_or_before: None,
            born_on_or_after: None,
            living: None,
            economic: None,
            capability: None,
            hukou: None,
            has_card: None,
            has_device: None,
            care_manager_id: None,
            home_station_id: None,
            query: None,
            offset: 0,
            limit: 50,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FacilityFilter {
    pub region_prefix: Option<String>,
    pub kind: Option<FacilityKind>,
    pub active: Option<bool>,
    pub query: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountFilter {
    pub role: Option<Role>,
    pub region_prefix: Option<String>,
    pub facility_id: Option<i64>,
    pub active: Option<bool>,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceFilter {
    /// Devices bound to elders in this scope; `include_unbound` adds the spares.
    pub scope: ElderScope,
    pub include_unbound: bool,
    pub elder_id: Option<i64>,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub actor_id: Option<i64>,
    pub offset: i64,
    pub limit: i64,
}

/// One audit-log entry: who did what to which record, with the record before and after.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatusChange {
    pub status: ElderStatus,
    pub reason: String,
    pub at: i64,
    pub actor_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Assignment {
    pub id: i64,
    pub caregiver_id: i64,
    pub elder_id: i64,
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

/// The outcome of importing a ledger: how many records were new, changed or identical.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// The storage interface. Both backends pass the same conformance suite.
#[async_trait]
pub trait Store:
    AlarmStore
    + DeviceStateStore
    + CatalogueStore
    + OrderStore
    + ComplaintStore
    + SettlementStore
    + MealStore
    + TimeBankStore
    + Send
    + Sync
    + std::fmt::Debug
    + 'static
{
    fn backend(&self) -> Backend;
    fn clock(&self) -> &dyn Clock;
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<()>;
    /// Refreshes the query planner's statistics (`ANALYZE`) — after a bulk load, before the
    /// background maintenance of the database would get to it.
    async fn analyze(&self) -> Result<()>;

    // Regions.
    async fn upsert_regions(&self, regions: &[Region], actor: Actor) -> Result<usize>;
    async fn region(&self, code: &RegionCode) -> Result<Region>;
    /// Children of `parent`, or the top-level regions when `None`.
    async fn list_regions(&self, parent: Option<&RegionCode>) -> Result<Vec<Region>>;

    // Facilities.
    async fn create_facility(&self, rec: &FacilityRecord, actor: Actor) -> Result<Facility>;
    async fn update_facility(&self, id: i64, rec: &FacilityRecord, actor: Actor) -> Result<Facility>;
    async fn set_facility_active(&self, id: i64, active: bool, actor: Actor) -> Result<Facility>;
    async fn facility(&self, id: i64) -> Result<Facility>;
    async fn list_facilities(&self, f: &FacilityFilter) -> Result<Page<Facility>>;

    // Accounts and sessions.
    async fn create_account(&self, a: &NewAccount, password_hash: &str, actor: Actor) -> Result<Account>;
    async fn account(&self, id: i64) -> Result<Account>;
    /// The account and its password hash, for login.
    async fn credentials(&self, username: &str) -> Result<Option<(Account, String)>>;
    async fn list_accounts(&self, f: &AccountFilter) -> Result<Page<Account>>;
    async fn set_account_active(&self, id: i64, active: bool, actor: Actor) -> Result<Account>;
    async fn set_password(&self, id: i64, password_hash: &str, actor: Actor) -> Result<()>;
    async fn create_session(&self, token_hash: &str, account_id: i64, expires_at: i64) -> Result<()>;
    /// The active account behind an unexpired session.
    async fn session_account(&self, token_hash: &str) -> Result<Option<Account>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;

    // Elders.
    async fn create_elder(&self, rec: &ElderRecord, actor: Actor) -> Result<Elder>;
    /// Replaces the record; with `expected_version`, fails with [`StoreError::Stale`] if it
    /// changed meanwhile.
    async fn update_elder(
        &self,
        id: i64,
        rec: &ElderRecord,
        expected_version: Option<i64>,
        actor: Actor,
    ) -> Result<Elder>;
    async fn set_elder_status(
        &self,
        id: i64,
        status: ElderStatus,
        reason: &str,
        actor: Actor,
    ) -> Result<Elder>;
    /// Replaces the elder's monitoring settings (validated by the caller); bumps the version.
    async fn set_monitoring(
        &self,
        id: i64,
        settings: &MonitoringSettings,
        expected_version: Option<i64>,
        actor: Actor,
    ) -> Result<Elder>;
    async fn elder(&self, id: i64) -> Result<Elder>;
    async fn elder_by_id_number(&self, id_number: &str) -> Result<Option<Elder>>;
    async fn elder_status_history(&self, id: i64) -> Result<Vec<StatusChange>>;
    async fn list_elders(&self, f: &ElderFilter) -> Result<Page<Elder>>;
    /// Inserts new records and updates existing ones (matched by ID number) in one
    /// transaction: all or nothing. An existing elder's care manager and home station are
    /// kept when the imported record leaves them empty (ledgers do not carry them).
    async fn import_elders(&self, recs: &[ElderRecord], actor: Actor) -> Result<ImportSummary>;

    // Who may see an elder beyond region scope.
    async fn link_family(&self, account_id: i64, elder_id: i64, actor: Actor) -> Result<()>;
    async fn is_family_of(&self, account_id: i64, elder_id: i64) -> Result<bool>;
    async fn start_assignment(&self, caregiver_id: i64, elder_id: i64, actor: Actor) -> Result<Assignment>;
    async fn end_assignment(&self, id: i64, actor: Actor) -> Result<Assignment>;
    async fn assignment(&self, id: i64) -> Result<Assignment>;
    async fn is_serving(&self, caregiver_id: i64, elder_id: i64) -> Result<bool>;
    async fn active_assignments(&self, caregiver_id: i64) -> Result<Vec<Assignment>>;

    // Devices.
    async fn register_device(&self, d: &NewDevice, secret_hash: &str, actor: Actor) -> Result<Device>;
    async fn device(&self, id: i64) -> Result<Device>;
    /// The device and its secret hash, for device authentication.
    async fn device_by_serial(&self, serial: &str) -> Result<Option<(Device, String)>>;
    async fn list_devices(&self, f: &DeviceFilter) -> Result<Page<Device>>;
    async fn bind_device(&self, device_id: i64, elder_id: i64, actor: Actor) -> Result<Device>;
    async fn unbind_device(&self, device_id: i64, actor: Actor) -> Result<Device>;
    async fn device_bindings(&self, device_id: i64) -> Result<Vec<DeviceBinding>>;

    // Statistics and audit.
    async fn region_stats(
        &self,
        scope: &ElderScope,
        region_prefix: &str,
        today: NaiveDate,
    ) -> Result<RegionStats>;
    async fn list_audit(&self, f: &AuditFilter) -> Result<Page<AuditEntry>>;
    /// Records an action that changes something outside the database (settings pushed to a
    /// device, a command sent to a watch) in the audit log; `detail` goes in as "after".
    async fn record_action(
        &self,
        actor: Actor,
        action: &str,
        entity: &str,
        entity_id: i64,
        detail: &serde_json::Value,
    ) -> Result<()>;
}

/// Opens (creating and migrating) the store a URL names: `sqlite:PATH` / `sqlite://PATH`
/// (`sqlite::memory:` for a throwaway) or `postgres://…` / `postgresql://…`.
pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, clock).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open(url, clock).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_string()))
    }
}
