//! The `/api/v1` handlers, one file per resource. Each handler authorises first (the role
//! via `CurrentUser::require`, the record's scope via [`crate::access`]), then reads or
//! writes through the store or a service. Each file exposes its handlers and a `routes()`
//! that [`v1`] merges; a resource file imports from `access`, `auth`, `error`, `extract`,
//! `views` and the state, never from another resource file.

use axum::Router;

use crate::AppState;

pub(crate) mod accounts;
pub(crate) mod alarms;
pub(crate) mod audit;
pub(crate) mod catalogue;
pub(crate) mod complaints;
pub(crate) mod devices;
pub(crate) mod elders;
pub(crate) mod facilities;
pub(crate) mod health;
pub(crate) mod ledger;
pub(crate) mod live;
pub(crate) mod map;
pub(crate) mod meals;
pub(crate) mod monitoring;
pub(crate) mod orders;
pub(crate) mod photos;
pub(crate) mod regions;
pub(crate) mod settlement;
pub(crate) mod statements;
pub(crate) mod stats;
pub(crate) mod timebank;

/// Every `/api/v1` route (without the body limit, which [`crate::app`] adds).
pub(crate) fn v1() -> Router<AppState> {
    Router::new()
        .merge(accounts::routes())
        .merge(regions::routes())
        .merge(facilities::routes())
        .merge(elders::routes())
        .merge(monitoring::routes())
        .merge(devices::routes())
        .merge(ledger::routes())
        .merge(stats::routes())
        .merge(audit::routes())
        .merge(alarms::routes())
        .merge(live::routes())
        .merge(map::routes())
        .merge(catalogue::routes())
        .merge(orders::routes())
        .merge(photos::routes())
        .merge(complaints::routes())
        .merge(settlement::routes())
        .merge(statements::routes())
        .merge(meals::routes())
        .merge(timebank::routes())
}
