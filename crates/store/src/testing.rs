//! Throwaway databases for tests: a temporary SQLite file, or a fresh PostgreSQL database
//! on the server named by `ZHULAO_TEST_PG` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`).
//! When `CI` or `ZHULAO_REQUIRE_PG` is set, a missing or unreachable PostgreSQL fails the
//! test instead of skipping it. [`on_both_backends!`](crate::on_both_backends) runs a story
//! on both.
//!
//! Behind the cargo feature `testing`: crates enable it in their `[dev-dependencies]` (the
//! `zhulao` binary in its normal ones, for `zhulao bench`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

use crate::{Backend, Clock, Store};

pub use crate::on_both_backends;

/// Runs each named story on a fresh SQLite database and on a fresh PostgreSQL one (skipped,
/// with a note, when [`postgres`] gives none), as `mod sqlite { #[tokio::test] async fn
/// story() }` and `mod postgres { … }` (the calling crate needs `tokio` with `macros`).
///
/// - `on_both_backends!(start = T0; story, …)`: each story is
///   `async fn story(store: Arc<dyn Store>, clock: ManualClock)`, on a [`crate::ManualClock`]
///   starting at `T0` (Unix ms) that the store reads too.
/// - `on_both_backends!(setup = |backend| SETUP, finish = |fixture| FINISH; story, …)`: `SETUP`
///   (which may `.await`) gives an `Option` of a fixture for `backend` (a [`crate::Backend`];
///   `None` skips the story), each story is `async fn story(fixture: &F)`, and `FINISH` cleans
///   up after a story that passed. Both are written inside the generated modules: name things
///   by absolute paths (`$crate::…`, `zhulao_store::…`) or through `super::`.
#[macro_export]
macro_rules! on_both_backends {
    (start = $t0:expr; $($name:ident),+ $(,)?) => {
        const ON_BOTH_BACKENDS_T0: i64 = $t0;
        $crate::on_both_backends!(@tests [$($name),+] |backend, story| {
            let clock = $crate::ManualClock::new(super::ON_BOTH_BACKENDS_T0);
            let Some(db) = $crate::testing::open(backend, ::std::sync::Arc::new(clock.clone())).await else {
                return;
            };
            story(db.store.clone(), clock).await;
            db.finish().await;
        });
    };
    (setup = |$backend:ident| $setup:expr, finish = |$fixture:ident| $finish:expr; $($name:ident),+ $(,)?) => {
        $crate::on_both_backends!(@tests [$($name),+] |$backend, story| {
            let Some($fixture) = $setup else { return };
            story(&$fixture).await;
            $finish;
        });
    };
    (@tests [$($name:ident),+] |$backend:ident, $story:ident| $body:block) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let $backend = $crate::Backend::Sqlite;
                let $story = super::$name;
                $body
            })+
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let $backend = $crate::Backend::Postgres;
                let $story = super::$name;
                $body
            })+
        }
    };
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    pub store: Arc<dyn Store>,
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    File(PathBuf),
    Postgres { admin_url: String, name: String },
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A fresh SQLite database in a temporary file.
pub async fn sqlite(clock: Arc<dyn Clock>) -> TestDb {
    let path = std::env::temp_dir().join(format!("{}.db", unique("zhulao_test")));
    let url = format!("sqlite://{}", path.display());
    let store = crate::open(&url, clock).await.expect("open a temporary SQLite store");
    TestDb { store, url, cleanup: Cleanup::File(path) }
}

/// A fresh database on `backend`: always one for SQLite; for PostgreSQL as [`postgres`].
pub async fn open(backend: Backend, clock: Arc<dyn Clock>) -> Option<TestDb> {
    match backend {
        Backend::Sqlite => Some(sqlite(clock).await),
        Backend::Postgres => postgres(clock).await,
    }
}

/// Whether PostgreSQL tests must run (CI) rather than skip.
pub fn postgres_required() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
        || std::env::var_os("ZHULAO_REQUIRE_PG").is_some()
}

/// A fresh PostgreSQL database, or `None` (with a note on stderr) when `ZHULAO_TEST_PG` is
/// unset outside CI. In CI this panics instead: the PostgreSQL run must happen.
pub async fn postgres(clock: Arc<dyn Clock>) -> Option<TestDb> {
    let Ok(admin_url) = std::env::var("ZHULAO_TEST_PG") else {
        assert!(
            !postgres_required(),
            "ZHULAO_TEST_PG is not set but PostgreSQL tests are required (CI/ZHULAO_REQUIRE_PG): \
             point it at a server, e.g. postgres://postgres@127.0.0.1:5432/postgres"
        );
        eprintln!("note: ZHULAO_TEST_PG unset; skipping the PostgreSQL half of this test");
        return None;
    };
    Some(fresh_postgres(&admin_url, clock).await)
}

/// A fresh database on the PostgreSQL server `admin_url` points at (for tests and benchmarks).
pub async fn fresh_postgres(admin_url: &str, clock: Arc<dyn Clock>) -> TestDb {
    let admin_url = admin_url.to_string();
    let name = unique("zhulao_t");
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at ZHULAO_TEST_PG: {e}"));
    drop_stale(&mut admin).await;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create test database");
    admin.close().await.ok();
    let url = with_database(&admin_url, &name);
    let store = crate::open(&url, clock).await.expect("open the PostgreSQL store");
    TestDb { store, url, cleanup: Cleanup::Postgres { admin_url, name } }
}

/// Replaces the database name in a PostgreSQL URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// Drops test databases left behind by test processes that no longer run.
async fn drop_stale(admin: &mut sqlx::PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'zhulao\\_t\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut *admin)
                .await;
        }
    }
}

impl TestDb {
    /// Removes the database. Call at the end of a passing test; a failing one leaves it for
    /// inspection (stale ones are dropped by later runs).
    pub async fn finish(self) {
        let TestDb { store, cleanup, .. } = self;
        drop(store);
        match cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            }
        }
    }
}
