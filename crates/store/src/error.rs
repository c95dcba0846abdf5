//! The store's error type: domain-meaningful cases first, the database's own errors last.

use zhulao_domain::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist (never a 500).
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    /// A unique value is already taken (ID number, card number, username, serial).
    #[error("conflict: {0}")]
    Conflict(FieldError),
    /// The write refers to something that does not exist or is not allowed (unknown region,
    /// a care manager who is not one, …).
    #[error("invalid: {0}")]
    Invalid(FieldError),
    /// Optimistic concurrency: the record changed since the caller read it.
    #[error("the record was changed by someone else (version {current})")]
    Stale { current: i64 },
    /// A stored value failed re-validation: the database was edited behind zhulao's back.
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use sqlite:PATH or postgres://…")]
    UnsupportedUrl(String),
}

impl StoreError {
    pub fn invalid(field: &str, code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        StoreError::Invalid(FieldError::new(field, code, zh, en))
    }

    /// Maps a unique-constraint violation to a [`StoreError::Conflict`] on the right field.
    pub(crate) fn from_db(e: sqlx::Error) -> Self {
        if let Some(db) = e.as_database_error()
            && db.is_unique_violation()
        {
            let text = format!("{} {}", db.message(), db.constraint().unwrap_or_default());
            for (col, zh) in [
                ("id_number", "该身份证号码已登记"),
                ("card_no", "该服务卡号已被使用"),
                ("username", "该用户名已存在"),
                ("serial", "该设备编号已登记"),
            ] {
                if text.contains(col) {
                    return StoreError::Conflict(FieldError::new(
                        col,
                        "duplicate",
                        zh,
                        format!("{col} already exists"),
                    ));
                }
            }
            return StoreError::Conflict(FieldError::new("", "duplicate", "记录重复", "duplicate record"));
        }
        StoreError::Database(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
