//! The SQLite backend: the embedded default. WAL journal, a busy timeout, foreign keys on,
//! and write transactions opened with `BEGIN IMMEDIATE` so concurrent writers queue instead
//! of failing on a lock upgrade.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::migrate;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
    clock: Arc<dyn crate::Clock>,
}

impl SqliteStore {
    /// Opens `sqlite:PATH` (created if missing) and applies the migrations.
    pub async fn open(url: &str, clock: Arc<dyn crate::Clock>) -> crate::Result<Self> {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .journal_mode(if memory { SqliteJournalMode::Memory } else { SqliteJournalMode::Wal })
            // With WAL, NORMAL is durable across application crashes; FULL adds power-loss
            // durability of the last transaction at a large cost per commit.
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            // An in-memory database is private to its connection: keep exactly one.
            .max_connections(if memory { 1 } else { 8 })
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(if memory { None } else { Some(Duration::from_secs(600)) })
            .max_lifetime(if memory { None } else { Some(Duration::from_secs(3600)) })
            .connect_with(opts)
            .await?;
        migrate::migrator(migrate::SQLITE).await?.run(&pool).await?;
        Ok(Self { pool, clock })
    }
}

crate::sql::sql_store!(SqliteStore, sqlx::Sqlite, Backend::Sqlite, "BEGIN IMMEDIATE");
crate::alarm_sql::alarm_store!(SqliteStore, sqlx::Sqlite);

/// The database and store the home-care queries in `services` are compiled for.
type Db = sqlx::Sqlite;
type SqlStore = SqliteStore;

/// The home-care side (`CatalogueStore`, `OrderStore`, …): the same source as the other
/// backend's, compiled here against this one (see `service_sql/mod.rs`).
#[path = "service_sql/backend/mod.rs"]
#[allow(clippy::duplicate_mod)] // deliberately: one source, compiled for each backend
mod services;
