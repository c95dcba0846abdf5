//! Query shapes the store repeats, written once and generic over the sqlx database (so both
//! backends and both the `Store` and the home-care SQL use them): a row read by its key
//! ([`fetch_one`]), a versioned save ([`VersionedUpdate`], [`save_versioned`]) and the rows
//! whose timer is due ([`due_rows`], [`next_due`]). Same dialect as the rest: `$N`
//! placeholders, which SQLite reads as numbered parameters.

use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};

use crate::error::{Result, StoreError};

/// A row type read by its key with [`fetch_one`]: where it is stored, what a missing one is
/// reported as, and what the store returns for it.
pub(crate) trait ByKey: Sized {
    /// What the store returns for the row.
    type Out;
    /// A missing row is `NotFound { entity }`.
    const ENTITY: &'static str;
    /// The table (with an alias when [`Self::COLUMNS`] uses one).
    const TABLE: &'static str;
    const COLUMNS: &'static str;
    /// The key column.
    const KEY: &'static str = "id";
    fn into_out(self) -> Result<Self::Out>;
}

/// The row of `R`'s table whose key is `key`, converted; `NotFound` when there is none.
/// (`fetch_one::<OrderDbRow, _, _>(&mut *tx, id)`: the database follows from the executor.)
pub(crate) async fn fetch_one<'c, R, DB, K>(e: impl Executor<'c, Database = DB>, key: K) -> Result<R::Out>
where
    DB: Database,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    R: ByKey + for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    K: for<'q> Encode<'q, DB> + Type<DB> + Send,
{
    let sql = format!("SELECT {} FROM {} WHERE {} = $1", R::COLUMNS, R::TABLE, R::KEY);
    sqlx::query_as::<DB, R>(&sql)
        .bind(key)
        .fetch_optional(e)
        .await?
        .ok_or(StoreError::NotFound { entity: R::ENTITY })?
        .into_out()
}

/// The rows of `R`'s table whose timer is due at `now` (`next_due_at <= now`), oldest due
/// first, at most `limit`.
pub(crate) async fn due_rows<'c, R, DB>(
    e: impl Executor<'c, Database = DB>,
    now: i64,
    limit: i64,
) -> Result<Vec<R::Out>>
where
    DB: Database,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    R: ByKey + for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
{
    let sql = format!(
        "SELECT {} FROM {} WHERE next_due_at IS NOT NULL AND next_due_at <= $1 ORDER BY next_due_at, id LIMIT $2",
        R::COLUMNS,
        R::TABLE
    );
    sqlx::query_as::<DB, R>(&sql)
        .bind(now)
        .bind(limit)
        .fetch_all(e)
        .await?
        .into_iter()
        .map(R::into_out)
        .collect()
}

/// When the next timer of `R`'s table is due, if any.
pub(crate) async fn next_due<'c, R, DB>(e: impl Executor<'c, Database = DB>) -> Result<Option<i64>>
where
    DB: Database,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    R: ByKey,
    (Option<i64>,): for<'r> FromRow<'r, DB::Row>,
{
    let sql = format!("SELECT MIN(next_due_at) FROM {} WHERE next_due_at IS NOT NULL", R::TABLE);
    Ok(sqlx::query_scalar::<DB, Option<i64>>(&sql).fetch_one(e).await?)
}

/// The statement of a versioned save: `UPDATE {table} SET {sets}, version = version + 1
/// WHERE id = $1 AND version = $2`, plus any further conditions. `$1` and `$2` are the id and
/// the expected version; `sets` and the conditions number their placeholders from `$3`.
#[derive(Debug)]
pub(crate) struct VersionedUpdate {
    table: &'static str,
    entity: &'static str,
    sql: String,
}

impl VersionedUpdate {
    /// `entity` names the row when it is missing (`NotFound`).
    pub(crate) fn new(table: &'static str, entity: &'static str, sets: &str) -> Self {
        let sql = format!("UPDATE {table} SET {sets}, version = version + 1 WHERE id = $1 AND version = $2");
        VersionedUpdate { table, entity, sql }
    }

    /// Adds a condition (`AND {condition}`) the row must also meet.
    pub(crate) fn and(mut self, condition: &str) -> Self {
        self.sql.push_str(" AND ");
        self.sql.push_str(condition);
        self
    }

    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }
}

/// How many rows a statement changed (sqlx has no trait for it).
pub(crate) trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// The query type [`save_versioned`] hands to its `bind` argument.
pub(crate) type Query<'q, DB> = sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>;

/// Runs a versioned save on `conn`: binds `id` and `expected` as `$1` and `$2`, then `bind`
/// binds the rest. When no row was at that version it is `Stale { current }`, `current` being
/// the version the caller read (`Some`, reported as is) or, with `None`, the row's version read
/// again now — `NotFound` when there is no such row at all. The database does not follow from
/// the connection: `save_versioned::<Db>(&mut **tx, …)`.
pub(crate) async fn save_versioned<'q, DB>(
    conn: &mut DB::Connection,
    update: &'q VersionedUpdate,
    id: i64,
    expected: i64,
    current: Option<i64>,
    bind: impl FnOnce(Query<'q, DB>) -> Query<'q, DB>,
) -> Result<()>
where
    DB: Database,
    DB::QueryResult: RowsAffected,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> <DB as Database>::Arguments<'a>: IntoArguments<'a, DB>,
    i64: for<'a> Encode<'a, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    let query = bind(sqlx::query::<DB>(update.sql()).bind(id).bind(expected));
    if query.execute(&mut *conn).await?.rows_affected() > 0 {
        return Ok(());
    }
    let current = match current {
        Some(v) => v,
        None => sqlx::query_scalar::<DB, i64>(&format!("SELECT version FROM {} WHERE id = $1", update.table))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound { entity: update.entity })?,
    };
    Err(StoreError::Stale { current })
}

#[cfg(test)]
mod tests {
    use super::VersionedUpdate;

    #[test]
    fn a_versioned_update_is_conditional_on_id_and_version() {
        let u =
            VersionedUpdate::new("complaints", "complaint", "state = $3, updated_at = $4").and("state = $5");
        assert_eq!(
            u.sql(),
            "UPDATE complaints SET state = $3, updated_at = $4, version = version + 1 \
             WHERE id = $1 AND version = $2 AND state = $5"
        );
    }
}
