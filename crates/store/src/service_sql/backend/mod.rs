//! The home-care queries for one backend, one file per area. Compiled twice: `sqlite.rs` and
//! `postgres.rs` each include this directory as their module `services` (see
//! `service_sql/mod.rs`), after defining `Db` (their sqlx database) and `SqlStore` (their
//! store) and expanding `sql_store!`, whose helpers this code uses from `super`. The row
//! types are in `crate::service_sql`, the generic query shapes (`fetch_one`,
//! `save_versioned`, `due_rows`) in `crate::query`.

use sqlx::QueryBuilder;

use crate::services::OrderScope;

// What the areas use from the backend module (`sql_store!` and the backend's own types).
use super::{
    CHUNK, Db, SqlStore, Tx, active_elder, audit, fetch_account, fetch_elder, fetch_facility, not_found,
    page_bounds, paged,
};

mod catalogue;
mod complaints;
mod meals;
mod orders;
mod settlement;
mod timebank;

/// Appends an SQL condition over a table with an `elder_id` (and `region_code`) column
/// for a viewer's scope.
pub(super) fn push_order_scope(qb: &mut QueryBuilder<'_, Db>, scope: &OrderScope, caregiver_col: &str) {
    match scope {
        OrderScope::All => {
            qb.push("TRUE");
        }
        OrderScope::RegionPrefix(p) => {
            qb.push("region_code LIKE ").push_bind(format!("{p}%"));
        }
        OrderScope::Station { facility, region_prefix } => {
            qb.push("(elder_id IN (SELECT id FROM elders WHERE home_station_id = ")
                .push_bind(*facility)
                .push(")");
            if let Some(p) = region_prefix {
                qb.push(" OR region_code LIKE ").push_bind(format!("{p}%"));
            }
            qb.push(")");
        }
        OrderScope::CareManager(id) => {
            qb.push("elder_id IN (SELECT id FROM elders WHERE care_manager_id = ").push_bind(*id).push(")");
        }
        OrderScope::Family(id) => {
            qb.push("elder_id IN (SELECT elder_id FROM family_links WHERE account_id = ")
                .push_bind(*id)
                .push(")");
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
