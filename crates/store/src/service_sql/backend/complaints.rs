//! Complaints: opened, saved from the version the caller read, listed by scope, and their
//! deadlines as timers.

use std::sync::LazyLock;

use async_trait::async_trait;
use sqlx::QueryBuilder;
use zhulao_services::quality::ComplaintCase;

use super::{Db, SqlStore, audit, fetch_elder, page_bounds, paged, push_order_scope};
use crate::error::{Result, StoreError};
use crate::query::{VersionedUpdate, due_rows, fetch_one, save_versioned};
use crate::rows::to_json;
use crate::service_sql::{COMPLAINT_COLUMNS, ComplaintDbRow};
use crate::services::{ComplaintFilter, ComplaintRow, ComplaintStore};
use crate::{Actor, Page};

static SAVE_COMPLAINT: LazyLock<VersionedUpdate> = LazyLock::new(|| {
    VersionedUpdate::new(
        "complaints",
        "complaint",
        "state = $3, upheld = $4, deadline = $5, next_due_at = $6, case_json = $7, updated_at = $8",
    )
});

#[async_trait]
impl ComplaintStore for SqlStore {
    async fn create_complaint(
        &self,
        case: &ComplaintCase,
        region_code: &str,
        next_due_at: Option<i64>,
        actor: Actor,
    ) -> Result<ComplaintRow> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        fetch_elder(&mut *tx, case.elder).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO complaints (order_id, elder_id, caregiver_id, region_code, state, upheld, deadline, \
             next_due_at, case_json, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             RETURNING id",
        )
        .bind(case.order)
        .bind(case.elder)
        .bind(case.caregiver)
        .bind(region_code)
        .bind(case.state.as_str())
        .bind(case.upheld)
        .bind(case.deadline.timestamp_millis())
        .bind(next_due_at)
        .bind(to_json(case))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from_db)?;
        let after = serde_json::json!({
            "state": case.state, "order": case.order, "kind": case.kind, "deadline": case.deadline,
        });
        audit(&mut tx, now, actor, "open", "complaint", id, None, Some(after.to_string())).await?;
        let row = fetch_one::<ComplaintDbRow, _, _>(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn complaint(&self, id: i64) -> Result<ComplaintRow> {
        fetch_one::<ComplaintDbRow, _, _>(&self.pool, id).await
    }

    async fn save_complaint(
        &self,
        id: i64,
        expected_version: i64,
        case: &ComplaintCase,
        next_due_at: Option<i64>,
        action: &str,
        actor: Actor,
    ) -> Result<ComplaintRow> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let before = fetch_one::<ComplaintDbRow, _, _>(&mut *tx, id).await?;
        save_versioned::<Db>(&mut *tx, &SAVE_COMPLAINT, id, expected_version, Some(before.version), |q| {
            q.bind(case.state.as_str())
                .bind(case.upheld)
                .bind(case.deadline.timestamp_millis())
                .bind(next_due_at)
                .bind(to_json(case))
                .bind(now)
        })
        .await?;
        audit(
            &mut tx,
            now,
            actor,
            action,
            "complaint",
            id,
            Some(serde_json::json!({ "state": before.case.state, "upheld": before.case.upheld }).to_string()),
            Some(serde_json::json!({ "state": case.state, "upheld": case.upheld, "resolution": case.resolution }).to_string()),
        )
        .await?;
        let row = fetch_one::<ComplaintDbRow, _, _>(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn list_complaints(&self, f: &ComplaintFilter) -> Result<Page<ComplaintRow>> {
        let (offset, limit) = page_bounds(f.offset, f.limit);
        let build = |select: &str| {
            let mut qb = QueryBuilder::<Db>::new(select);
            qb.push(" FROM complaints WHERE (");
            push_order_scope(&mut qb, &f.scope, "caregiver_id");
            qb.push(")");
            if let Some(s) = f.state {
                qb.push(" AND state = ").push_bind(s.as_str());
            }
            if let Some(c) = f.caregiver_id {
                qb.push(" AND caregiver_id = ").push_bind(c);
            }
            if let Some(o) = f.order_id {
                qb.push(" AND order_id = ").push_bind(o);
            }
            qb
        };
        // Open cases first, nearest deadline first.
        let order = "CASE WHEN state IN ('open', 'handling') THEN 0 ELSE 1 END, deadline, id";
        paged(&self.pool, build, COMPLAINT_COLUMNS, order, (offset, limit), ComplaintDbRow::into_row).await
    }

    async fn due_complaints(&self, now: i64, limit: i64) -> Result<Vec<ComplaintRow>> {
        due_rows::<ComplaintDbRow, _>(&self.pool, now, limit).await
    }
}
