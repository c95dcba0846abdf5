//! The PostgreSQL backend, for a province: several zhulao instances share one database.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

use crate::migrate;

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: sqlx::PgPool,
    clock: Arc<dyn crate::Clock>,
}

impl PgStore {
    /// Connects to `postgres://…` and applies the migrations (under PostgreSQL's advisory
    /// lock, so instances starting together migrate once).
    pub async fn open(url: &str, clock: Arc<dyn crate::Clock>) -> crate::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        migrate::migrator(migrate::POSTGRES).await?.run(&pool).await?;
        Ok(Self { pool, clock })
    }
}

crate::sql::sql_store!(PgStore, sqlx::Postgres, Backend::Postgres, "BEGIN");
crate::alarm_sql::alarm_store!(PgStore, sqlx::Postgres);

/// The database and store the home-care queries in `services` are compiled for.
type Db = sqlx::Postgres;
type SqlStore = PgStore;

/// The home-care side (`CatalogueStore`, `OrderStore`, …): the same source as the other
/// backend's, compiled here against this one (see `service_sql/mod.rs`).
#[path = "service_sql/backend/mod.rs"]
#[allow(clippy::duplicate_mod)] // deliberately: one source, compiled for each backend
mod services;
