//! Migrations embedded in the binary, one set per backend.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// `(version, description, sql)` for each migration, in order.
type Embedded = &'static [(i64, &'static str, &'static str)];

pub(crate) const SQLITE: Embedded = &[
    (1, "foundation", include_str!("../migrations/sqlite/0001_foundation.sql")),
    (2, "alarms", include_str!("../migrations/sqlite/0002_alarms.sql")),
    (3, "services", include_str!("../migrations/sqlite/0003_services.sql")),
    (
        4,
        "monitoring, learnt upright, queued device settings",
        include_str!("../migrations/sqlite/0004_monitoring.sql"),
    ),
    (10, "alarm serial and impact time", include_str!("../migrations/sqlite/0010_alarm_fields.sql")),
];
pub(crate) const POSTGRES: Embedded = &[
    (1, "foundation", include_str!("../migrations/postgres/0001_foundation.sql")),
    (2, "region prefix index", include_str!("../migrations/postgres/0002_region_prefix_index.sql")),
    (3, "alarms", include_str!("../migrations/postgres/0003_alarms.sql")),
    (4, "services", include_str!("../migrations/postgres/0004_services.sql")),
    (
        5,
        "monitoring, learnt upright, queued device settings",
        include_str!("../migrations/postgres/0005_monitoring.sql"),
    ),
    (10, "alarm serial and impact time", include_str!("../migrations/postgres/0010_alarm_fields.sql")),
];

#[derive(Debug)]
struct Source(Embedded);

impl<'s> MigrationSource<'s> for Source {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(v, d, sql)| {
                    Migration::new(*v, Cow::Borrowed(*d), MigrationType::Simple, Cow::Borrowed(*sql), false)
                })
                .collect())
        })
    }
}

pub(crate) async fn migrator(set: Embedded) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Source(set)).await
}
