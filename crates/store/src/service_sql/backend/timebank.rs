//! The time bank: volunteers, hour records (recorded, then confirmed or rejected), the
//! minute ledger (postings between accounts, guarded against overdrafts) and pairs.

use std::sync::LazyLock;

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};
use zhulao_domain::FieldError;
use zhulao_services::timebank::{HourRecord, Posting, PostingKind, TimeAccount as LedgerAccount};

use super::{Db, SqlStore, Tx, active_elder, audit, fetch_elder, page_bounds, paged};
use crate::error::{Result, StoreError};
use crate::query::{VersionedUpdate, fetch_one, save_versioned};
use crate::rows::to_json;
use crate::service_sql::{
    HourDbRow, PAIR_COLUMNS, PairDbRow, VOLUNTEER_COLUMNS, VolunteerDbRow, corrupt, insufficient_minutes,
    ledger_key,
};
use crate::services::{HourFilter, HourRow, PairRow, TimeBalance, TimeBankStore, VolunteerRow};
use crate::{Actor, Page};

/// A record's decision (confirmed or rejected).
static SAVE_HOURS: LazyLock<VersionedUpdate> = LazyLock::new(|| {
    VersionedUpdate::new("timebank_records", "hour record", "state = $3, record_json = $4, updated_at = $5")
});

/// Posts minutes between two ledger accounts; a debit that would take a volunteer or pending
/// account below zero is refused (`timebank_insufficient`).
async fn post_in(tx: &mut Tx, p: &Posting) -> Result<()> {
    if p.minutes == 0 || p.debit == p.credit {
        return Err(StoreError::invalid("minutes", "timebank_bad_posting", "无效的记账", "invalid posting"));
    }
    let (debit, credit) = (ledger_key(p.debit), ledger_key(p.credit));
    for key in [&debit, &credit] {
        sqlx::query("INSERT INTO timebank_balances (account, minutes) VALUES ($1, 0) ON CONFLICT (account) DO NOTHING")
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    let m = i64::from(p.minutes);
    let n = if p.debit.must_stay_non_negative() {
        sqlx::query(
            "UPDATE timebank_balances SET minutes = minutes - $1 WHERE account = $2 AND minutes >= $1",
        )
    } else {
        sqlx::query("UPDATE timebank_balances SET minutes = minutes - $1 WHERE account = $2")
    }
    .bind(m)
    .bind(&debit)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(insufficient_minutes());
    }
    sqlx::query("UPDATE timebank_balances SET minutes = minutes + $1 WHERE account = $2")
        .bind(m)
        .bind(&credit)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO timebank_postings (at, kind, debit, credit, minutes, reference, posting_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(p.at.timestamp_millis())
    .bind(p.kind.as_str())
    .bind(&debit)
    .bind(&credit)
    .bind(p.minutes as i32)
    .bind(p.reference)
    .bind(to_json(p))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl TimeBankStore for SqlStore {
    async fn put_volunteer(&self, v: &VolunteerRow, actor: Actor) -> Result<VolunteerRow> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        active_elder(&mut tx, v.elder_id).await?;
        sqlx::query(
            "INSERT INTO timebank_volunteers (elder_id, skills, capacity, active, joined_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (elder_id) DO UPDATE SET skills = excluded.skills, capacity = excluded.capacity, \
             active = excluded.active",
        )
        .bind(v.elder_id)
        .bind(to_json(&v.skills))
        .bind(v.capacity as i32)
        .bind(v.active)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let after = serde_json::json!({ "skills": v.skills, "capacity": v.capacity, "active": v.active });
        audit(&mut tx, now, actor, "put_volunteer", "volunteer", v.elder_id, None, Some(after.to_string()))
            .await?;
        let row = fetch_one::<VolunteerDbRow, _, _>(&mut *tx, v.elder_id).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn volunteer(&self, elder_id: i64) -> Result<VolunteerRow> {
        fetch_one::<VolunteerDbRow, _, _>(&self.pool, elder_id).await
    }

    async fn volunteers(&self, region_prefix: Option<&str>) -> Result<Vec<VolunteerRow>> {
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {VOLUNTEER_COLUMNS} FROM timebank_volunteers v"));
        qb.push(" JOIN elders e ON e.id = v.elder_id WHERE v.active = TRUE");
        if let Some(p) = region_prefix {
            qb.push(" AND e.region_code LIKE ").push_bind(format!("{p}%"));
        }
        qb.push(" ORDER BY v.elder_id");
        qb.build_query_as::<VolunteerDbRow>()
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(VolunteerDbRow::into_row)
            .collect()
    }

    async fn record_hours(&self, record: &HourRecord, actor: Actor) -> Result<HourRow> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let volunteer: Option<bool> =
            sqlx::query_scalar("SELECT active FROM timebank_volunteers WHERE elder_id = $1")
                .bind(record.volunteer)
                .fetch_optional(&mut *tx)
                .await?;
        if volunteer != Some(true) {
            return Err(StoreError::invalid(
                "volunteer_id",
                "not_a_volunteer",
                "该老人不是时间银行志愿者",
                "this person is not a time-bank volunteer",
            ));
        }
        fetch_elder(&mut *tx, record.elder).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO timebank_records (volunteer_id, elder_id, minutes, state, record_json, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(record.volunteer)
        .bind(record.elder)
        .bind(record.minutes as i32)
        .bind(record.state.as_str())
        .bind(to_json(record))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let posting = Posting {
            at: record.recorded_at,
            kind: PostingKind::Record,
            debit: LedgerAccount::Issued,
            credit: LedgerAccount::Pending { id: record.volunteer },
            minutes: record.minutes,
            reference: Some(id),
        };
        post_in(&mut tx, &posting).await?;
        audit(&mut tx, now, actor, "record_hours", "hour_record", id, None, Some(to_json(record))).await?;
        let row = fetch_one::<HourDbRow, _, _>(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn hour_record(&self, id: i64) -> Result<HourRow> {
        fetch_one::<HourDbRow, _, _>(&self.pool, id).await
    }

    async fn decide_hours(
        &self,
        id: i64,
        expected_version: i64,
        record: &HourRecord,
        posting: &Posting,
        actor: Actor,
    ) -> Result<HourRow> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let before = fetch_one::<HourDbRow, _, _>(&mut *tx, id).await?;
        let json = to_json(record);
        save_versioned::<Db>(&mut *tx, &SAVE_HOURS, id, expected_version, Some(before.version), |q| {
            q.bind(record.state.as_str()).bind(json).bind(now)
        })
        .await?;
        post_in(&mut tx, posting).await?;
        audit(
            &mut tx,
            now,
            actor,
            posting.kind.as_str(),
            "hour_record",
            id,
            Some(serde_json::json!({ "state": before.record.state }).to_string()),
            Some(serde_json::json!({ "state": record.state, "posting": posting }).to_string()),
        )
        .await?;
        let row = fetch_one::<HourDbRow, _, _>(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn list_hour_records(&self, f: &HourFilter) -> Result<Page<HourRow>> {
        let (offset, limit) = page_bounds(f.offset, f.limit);
        let build = |select: &str| {
            let mut qb = QueryBuilder::<Db>::new(select);
            qb.push(" FROM timebank_records WHERE TRUE");
            if let Some(v) = f.volunteer_id {
                qb.push(" AND volunteer_id = ").push_bind(v);
            }
            if let Some(e) = f.elder_id {
                qb.push(" AND elder_id = ").push_bind(e);
            }
            if let Some(s) = f.state {
                qb.push(" AND state = ").push_bind(s.as_str());
            }
            if let Some(p) = &f.region_prefix {
                qb.push(" AND elder_id IN (SELECT id FROM elders WHERE region_code LIKE ")
                    .push_bind(format!("{p}%"))
                    .push(")");
            }
            qb
        };
        paged(&self.pool, build, "id, record_json, version", "id DESC", (offset, limit), HourDbRow::into_row)
            .await
    }

    async fn post_minutes(&self, posting: &Posting, actor: Actor) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        post_in(&mut tx, posting).await?;
        audit(
            &mut tx,
            now,
            actor,
            posting.kind.as_str(),
            "timebank",
            ledger_key(posting.debit),
            None,
            Some(to_json(posting)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn time_balance(&self, volunteer_id: i64) -> Result<TimeBalance> {
        let rows = sqlx::query("SELECT account, minutes FROM timebank_balances WHERE account IN ($1, $2)")
            .bind(format!("volunteer:{volunteer_id}"))
            .bind(format!("pending:{volunteer_id}"))
            .fetch_all(&self.pool)
            .await?;
        let mut b = TimeBalance::default();
        for r in rows {
            let account: String = r.try_get("account")?;
            let minutes: i64 = r.try_get("minutes")?;
            if account.starts_with("volunteer:") {
                b.banked_min = minutes;
            } else {
                b.pending_min = minutes;
            }
        }
        Ok(b)
    }

    async fn time_postings(&self, volunteer_id: i64) -> Result<Vec<Posting>> {
        let (v, p) = (format!("volunteer:{volunteer_id}"), format!("pending:{volunteer_id}"));
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT posting_json FROM timebank_postings WHERE debit IN ($1, $2) OR credit IN ($1, $2) ORDER BY id",
        )
        .bind(v)
        .bind(p)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|s| serde_json::from_str(s).map_err(|e| corrupt("timebank_postings", e))).collect()
    }

    async fn time_trial_balance(&self) -> Result<i64> {
        let sum: Option<i64> =
            sqlx::query_scalar("SELECT CAST(SUM(minutes) AS BIGINT) FROM timebank_balances")
                .fetch_one(&self.pool)
                .await?;
        Ok(sum.unwrap_or(0))
    }

    async fn create_pair(&self, volunteer_id: i64, elder_id: i64, actor: Actor) -> Result<PairRow> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let volunteer: Option<bool> =
            sqlx::query_scalar("SELECT active FROM timebank_volunteers WHERE elder_id = $1")
                .bind(volunteer_id)
                .fetch_optional(&mut *tx)
                .await?;
        if volunteer != Some(true) {
            return Err(StoreError::invalid(
                "volunteer_id",
                "not_a_volunteer",
                "该老人不是时间银行志愿者",
                "this person is not a time-bank volunteer",
            ));
        }
        active_elder(&mut tx, elder_id).await?;
        let existing: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM timebank_pairs WHERE volunteer_id = $1 AND elder_id = $2 AND ended_at IS NULL",
        )
        .bind(volunteer_id)
        .bind(elder_id)
        .fetch_optional(&mut *tx)
        .await?;
        if existing.is_some() {
            return Err(StoreError::Conflict(FieldError::new(
                "elder_id",
                "already_paired",
                "已经结对",
                "already paired",
            )));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO timebank_pairs (volunteer_id, elder_id, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(volunteer_id)
        .bind(elder_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let after = serde_json::json!({ "volunteer_id": volunteer_id, "elder_id": elder_id });
        audit(&mut tx, now, actor, "pair", "timebank_pair", id, None, Some(after.to_string())).await?;
        let row = fetch_one::<PairDbRow, _, _>(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn end_pair(&self, id: i64, actor: Actor) -> Result<PairRow> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let before = fetch_one::<PairDbRow, _, _>(&mut *tx, id).await?;
        sqlx::query("UPDATE timebank_pairs SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, now, actor, "unpair", "timebank_pair", id, Some(to_json(&before)), None).await?;
        let row = fetch_one::<PairDbRow, _, _>(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn pairs(&self, volunteer_id: Option<i64>) -> Result<Vec<PairRow>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {PAIR_COLUMNS} FROM timebank_pairs WHERE ended_at IS NULL"
        ));
        if let Some(v) = volunteer_id {
            qb.push(" AND volunteer_id = ").push_bind(v);
        }
        qb.push(" ORDER BY id");
        Ok(qb
            .build_query_as::<PairDbRow>()
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(PairRow::from)
            .collect())
    }
}
