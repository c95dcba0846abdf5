//! The SQL implementation of [`crate::AlarmStore`], instantiated per backend by `alarm_store!`
//! next to `sql_store!` (whose helpers — `Tx`, `audit`, `paged` — it uses).

use zhulao_alarms::{AlarmCase, AlarmKind, AlarmSource};

use crate::alarms::{AlarmEvent, AlarmLocation, AlarmRow, DeviceState, LocationSource, NotificationRecord};
use crate::error::{Result, StoreError};

pub(crate) const ALARM_COLUMNS: &str = "id, elder_id, device_id, serial, region_code, lat, lon, location_source, \
     location_at, source, impact_ms, detail, case_json, next_due_at, version, updated_at";

fn corrupt(detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { table: "alarms", detail: detail.to_string() }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AlarmDbRow {
    id: i64,
    elder_id: Option<i64>,
    device_id: Option<i64>,
    serial: Option<String>,
    region_code: String,
    lat: Option<f64>,
    lon: Option<f64>,
    location_source: String,
    location_at: Option<i64>,
    source: String,
    impact_ms: Option<i64>,
    detail: String,
    case_json: String,
    next_due_at: Option<i64>,
    version: i64,
    updated_at: i64,
}

impl AlarmDbRow {
    pub(crate) fn into_row(self) -> Result<AlarmRow> {
        let source =
            LocationSource::parse(&self.location_source).ok_or_else(|| corrupt("location_source"))?;
        let location = match (self.lat, self.lon) {
            (Some(lat), Some(lon)) => Some(AlarmLocation { lat, lon, source, at: self.location_at }),
            _ => None,
        };
        Ok(AlarmRow {
            id: self.id,
            elder_id: self.elder_id,
            device_id: self.device_id,
            serial: self.serial,
            region_code: self.region_code,
            location,
            source: AlarmSource::parse_label(&self.source).ok_or_else(|| corrupt("source"))?,
            impact_ms: self.impact_ms,
            detail: serde_json::from_str(&self.detail).map_err(corrupt)?,
            case: serde_json::from_str(&self.case_json).map_err(corrupt)?,
            next_due_at: self.next_due_at,
            version: self.version,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AlarmEventDbRow {
    id: i64,
    alarm_id: i64,
    at: i64,
    actor_id: Option<i64>,
    actor: String,
    kind: String,
    detail: String,
}

impl AlarmEventDbRow {
    pub(crate) fn into_event(self) -> Result<AlarmEvent> {
        Ok(AlarmEvent {
            id: self.id,
            alarm_id: self.alarm_id,
            at: self.at,
            actor_id: self.actor_id,
            actor: self.actor,
            kind: self.kind,
            detail: serde_json::from_str(&self.detail).map_err(corrupt)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct NotificationDbRow {
    at: i64,
    channel: String,
    target: String,
    purpose: String,
    attempt: i32,
    duration_ms: i64,
    outcome: String,
    status: Option<i32>,
    detail: String,
}

impl NotificationDbRow {
    pub(crate) fn into_record(self) -> NotificationRecord {
        NotificationRecord {
            at: self.at,
            channel: self.channel,
            target: self.target,
            purpose: self.purpose,
            attempt: self.attempt,
            duration_ms: self.duration_ms,
            outcome: self.outcome,
            status: self.status,
            detail: self.detail,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeviceStateDbRow {
    device_id: i64,
    last_seen_at: i64,
    online: bool,
    battery_pct: Option<i16>,
    lat: Option<f64>,
    lon: Option<f64>,
    location_at: Option<i64>,
    vitals: Option<String>,
    vitals_at: Option<i64>,
    upright: Option<String>,
}

impl DeviceStateDbRow {
    pub(crate) fn into_state(self) -> DeviceState {
        DeviceState {
            device_id: self.device_id,
            last_seen_at: self.last_seen_at,
            online: self.online,
            battery_pct: self.battery_pct,
            lat: self.lat,
            lon: self.lon,
            location_at: self.location_at,
            // Vitals are ours; an unreadable value is dropped rather than failing the read.
            vitals: self.vitals.and_then(|v| serde_json::from_str(&v).ok()),
            vitals_at: self.vitals_at,
            upright: self.upright.and_then(|v| serde_json::from_str(&v).ok()),
        }
    }
}

/// The key that makes "one open alarm per subject and kind" a unique constraint.
pub(crate) fn open_key(elder_id: Option<i64>, device_id: Option<i64>, kind: AlarmKind) -> String {
    match (elder_id, device_id) {
        (Some(e), _) => format!("elder:{e}:{}", kind.as_str()),
        (None, Some(d)) => format!("device:{d}:{}", kind.as_str()),
        (None, None) => format!("none:{}", kind.as_str()),
    }
}

/// The current responder (the latest offer nobody declined), for the indexed column.
pub(crate) fn responder_of(case: &AlarmCase) -> Option<i64> {
    case.current_offer().map(|o| o.responder)
}

macro_rules! alarm_store {
    ($store:ident, $db:ty) => {
        use zhulao_alarms::{AlarmCase as Case, AlarmKind as Kind, RaiseDecision};

        use $crate::alarm_sql::{
            ALARM_COLUMNS, AlarmDbRow, AlarmEventDbRow, DeviceStateDbRow, NotificationDbRow, open_key,
            responder_of,
        };
        use $crate::alarms::{
            AlarmEvent, AlarmFilter, AlarmRow, AlarmStore, DeviceState, DeviceStateStore, NewAlarm, NewAlarmEvent,
            NotificationRecord, Raised, WearerState,
        };

        async fn fetch_alarm<'e>(e: impl sqlx::Executor<'e, Database = $db>, id: i64) -> Result<AlarmRow> {
            sqlx::query_as::<_, AlarmDbRow>(&format!("SELECT {ALARM_COLUMNS} FROM alarms WHERE id = $1"))
                .bind(id)
                .fetch_optional(e)
                .await?
                .ok_or_else(|| not_found("alarm"))?
                .into_row()
        }

        async fn insert_alarm_event(
            tx: &mut Tx,
            alarm_id: i64,
            at: i64,
            actor: Actor,
            actor_kind: &str,
            kind: &str,
            detail: &serde_json::Value,
        ) -> Result<()> {
            sqlx::query(
                "INSERT INTO alarm_events (alarm_id, at, actor_id, actor, kind, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(alarm_id)
            .bind(at)
            .bind(actor.account_id)
            .bind(actor_kind)
            .bind(kind)
            .bind(detail.to_string())
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Writes the case's columns; `version` must match. Returns rows affected.
        async fn update_case(
            tx: &mut Tx,
            id: i64,
            expected_version: i64,
            case: &Case,
            next_due_at: Option<i64>,
            now: i64,
        ) -> Result<u64> {
            let done = sqlx::query(
                "UPDATE alarms SET stage = $1, answered_at = $2, on_site_at = $3, closed_at = $4, \
                 responder_id = $5, next_due_at = $6, case_json = $7, updated_at = $8, \
                 version = version + 1, open_key = CASE WHEN $4 IS NULL THEN open_key ELSE NULL END \
                 WHERE id = $9 AND version = $10",
            )
            .bind(case.stage.as_str())
            .bind(case.answered_at)
            .bind(case.on_site_at)
            .bind(case.closed_at)
            .bind(responder_of(case))
            .bind(next_due_at)
            .bind($crate::rows::to_json(case))
            .bind(now)
            .bind(id)
            .bind(expected_version)
            .execute(&mut **tx)
            .await?;
            Ok(done.rows_affected())
        }

        async fn insert_event_and_audit(
            tx: &mut Tx,
            alarm_id: i64,
            now: i64,
            audit_action: &str,
            event: &NewAlarmEvent,
        ) -> Result<()> {
            insert_alarm_event(tx, alarm_id, now, event.actor, &event.actor_kind, &event.kind, &event.detail)
                .await?;
            let after = event.audit.as_ref().unwrap_or(&event.detail).to_string();
            audit(tx, now, event.actor, audit_action, "alarm", alarm_id, None, Some(after)).await
        }

        #[async_trait]
        impl AlarmStore for $store {
            async fn open_alarm(
                &self,
                elder_id: Option<i64>,
                device_id: Option<i64>,
                kind: Kind,
            ) -> Result<Option<AlarmRow>> {
                sqlx::query_as::<_, AlarmDbRow>(&format!("SELECT {ALARM_COLUMNS} FROM alarms WHERE open_key = $1"))
                    .bind(open_key(elder_id, device_id, kind))
                    .fetch_optional(&self.pool)
                    .await?
                    .map(AlarmDbRow::into_row)
                    .transpose()
            }

            async fn commit_raise(&self, a: &NewAlarm, decision: &RaiseDecision, event: &NewAlarmEvent) -> Result<Raised> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                if let (Some(device), Some(msg)) = (a.device_id, a.msg_id.as_deref()) {
                    let fresh = sqlx::query(
                        "INSERT INTO device_messages (device_id, msg_id, received_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (device_id, msg_id) DO NOTHING",
                    )
                    .bind(device)
                    .bind(msg)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if fresh == 0 {
                        let alarm_id: Option<i64> = sqlx::query_scalar(
                            "SELECT alarm_id FROM device_messages WHERE device_id = $1 AND msg_id = $2",
                        )
                        .bind(device)
                        .bind(msg)
                        .fetch_one(&mut *tx)
                        .await?;
                        tx.rollback().await?;
                        return Ok(Raised::Duplicate { alarm_id });
                    }
                }
                let raised = match decision {
                    RaiseDecision::Repeat { id, expected_version, case, next_due_at } => {
                        if update_case(&mut tx, *id, *expected_version, case, *next_due_at, now).await? == 0 {
                            return Err(StoreError::Stale { current: -1 });
                        }
                        insert_event_and_audit(&mut tx, *id, now, "repeat", event).await?;
                        Raised::Merged(fetch_alarm(&mut *tx, *id).await?)
                    }
                    RaiseDecision::New { case, next_due_at } => {
                        let (lat, lon, source, at) = match a.location {
                            Some(l) => (Some(l.lat), Some(l.lon), l.source.as_str(), l.at),
                            None => (None, None, "none", None),
                        };
                        // A unique violation on `open_key` (an open alarm appeared since the
                        // decision) is `Conflict`: the caller decides again.
                        let id: i64 = sqlx::query_scalar(
                            "INSERT INTO alarms (kind, priority, stage, elder_id, device_id, serial, region_code, \
                             raised_at, next_due_at, open_key, lat, lon, location_source, location_at, source, \
                             impact_ms, detail, case_json, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                             $18, $8, $8) RETURNING id",
                        )
                        .bind(case.kind.as_str())
                        .bind(case.priority as i16)
                        .bind(case.stage.as_str())
                        .bind(a.elder_id)
                        .bind(a.device_id)
                        .bind(a.serial.as_deref())
                        .bind(&a.region_code)
                        .bind(case.raised_at)
                        .bind(*next_due_at)
                        .bind(open_key(a.elder_id, a.device_id, case.kind))
                        .bind(lat)
                        .bind(lon)
                        .bind(source)
                        .bind(at)
                        .bind(a.source.as_str())
                        .bind(a.impact_ms)
                        .bind(a.detail.to_string())
                        .bind($crate::rows::to_json(case))
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(StoreError::from_db)?;
                        insert_event_and_audit(&mut tx, id, now, "raise", event).await?;
                        Raised::New(fetch_alarm(&mut *tx, id).await?)
                    }
                };
                if let (Some(device), Some(msg)) = (a.device_id, a.msg_id.as_deref()) {
                    sqlx::query("UPDATE device_messages SET alarm_id = $1 WHERE device_id = $2 AND msg_id = $3")
                        .bind(raised.alarm_id())
                        .bind(device)
                        .bind(msg)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(raised)
            }

            async fn device_message_seen(&self, device_id: i64, msg_id: &str) -> Result<bool> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM device_messages WHERE device_id = $1 AND msg_id = $2",
                )
                .bind(device_id)
                .bind(msg_id)
                .fetch_one(&self.pool)
                .await?;
                Ok(n > 0)
            }

            async fn record_device_message(&self, device_id: i64, msg_id: &str) -> Result<bool> {
                let n = sqlx::query(
                    "INSERT INTO device_messages (device_id, msg_id, received_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (device_id, msg_id) DO NOTHING",
                )
                .bind(device_id)
                .bind(msg_id)
                .bind(self.clock.now_ms())
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn alarm(&self, id: i64) -> Result<AlarmRow> {
                fetch_alarm(&self.pool, id).await
            }

            async fn save_alarm(
                &self,
                id: i64,
                expected_version: i64,
                case: &Case,
                next_due_at: Option<i64>,
                event: &NewAlarmEvent,
            ) -> Result<AlarmRow> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                if update_case(&mut tx, id, expected_version, case, next_due_at, now).await? == 0 {
                    let current = fetch_alarm(&mut *tx, id).await?;
                    return Err(StoreError::Stale { current: current.version });
                }
                insert_event_and_audit(&mut tx, id, now, &event.kind, event).await?;
                let row = fetch_alarm(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn list_alarms(&self, f: &AlarmFilter) -> Result<Page<AlarmRow>> {
                let build = |select: &str| {
                    let mut qb = QueryBuilder::<$db>::new(select);
                    qb.push(" FROM alarms WHERE 1 = 1");
                    if let Some(p) = &f.region_prefix {
                        qb.push(" AND region_code LIKE ").push_bind(format!("{p}%"));
                    }
                    if let Some(ids) = &f.elder_ids {
                        qb.push(" AND elder_id IN (");
                        let mut sep = qb.separated(", ");
                        sep.push_bind(-1i64);
                        for id in ids {
                            sep.push_bind(*id);
                        }
                        qb.push(")");
                    }
                    if let Some(r) = f.responder_id {
                        qb.push(" AND responder_id = ").push_bind(r);
                    }
                    match f.open {
                        Some(true) => {
                            qb.push(" AND closed_at IS NULL");
                        }
                        Some(false) => {
                            qb.push(" AND closed_at IS NOT NULL");
                        }
                        None => {}
                    }
                    if let Some(k) = f.kind {
                        qb.push(" AND kind = ").push_bind(k.as_str());
                    }
                    if let Some(e) = f.elder_id {
                        qb.push(" AND elder_id = ").push_bind(e);
                    }
                    if let Some(s) = f.since {
                        qb.push(" AND raised_at >= ").push_bind(s);
                    }
                    if let Some(u) = f.until {
                        qb.push(" AND raised_at < ").push_bind(u);
                    }
                    qb
                };
                // Open alarms first, most urgent and oldest first; then closed, newest first.
                let order = "CASE WHEN closed_at IS NULL THEN 0 ELSE 1 END, \
                     CASE WHEN closed_at IS NULL THEN priority ELSE 0 END, \
                     CASE WHEN closed_at IS NULL THEN raised_at ELSE -raised_at END, id";
                paged(&self.pool, build, ALARM_COLUMNS, order, (f.offset, f.limit), AlarmDbRow::into_row).await
            }

            async fn due_alarms(&self, now: i64, limit: i64) -> Result<Vec<AlarmRow>> {
                sqlx::query_as::<_, AlarmDbRow>(&format!(
                    "SELECT {ALARM_COLUMNS} FROM alarms WHERE next_due_at IS NOT NULL AND next_due_at <= $1 \
                     ORDER BY next_due_at, id LIMIT $2"
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(AlarmDbRow::into_row)
                .collect()
            }

            async fn next_alarm_due(&self) -> Result<Option<i64>> {
                Ok(sqlx::query_scalar("SELECT MIN(next_due_at) FROM alarms WHERE next_due_at IS NOT NULL")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn alarm_events(&self, alarm_id: i64) -> Result<Vec<AlarmEvent>> {
                sqlx::query_as::<_, AlarmEventDbRow>(
                    "SELECT id, alarm_id, at, actor_id, actor, kind, detail FROM alarm_events \
                     WHERE alarm_id = $1 ORDER BY id",
                )
                .bind(alarm_id)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(AlarmEventDbRow::into_event)
                .collect()
            }

            async fn record_notifications(&self, alarm_id: i64, attempts: &[NotificationRecord]) -> Result<()> {
                if attempts.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin().await?;
                for n in attempts {
                    sqlx::query(
                        "INSERT INTO alarm_notifications (alarm_id, at, channel, target, purpose, attempt, \
                         duration_ms, outcome, status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(alarm_id)
                    .bind(n.at)
                    .bind(&n.channel)
                    .bind(&n.target)
                    .bind(&n.purpose)
                    .bind(n.attempt)
                    .bind(n.duration_ms)
                    .bind(&n.outcome)
                    .bind(n.status)
                    .bind(&n.detail)
                    .execute(&mut *tx)
                    .await?;
                }
                let now = self.clock.now_ms();
                let after = serde_json::json!({ "attempts": attempts.len(), "channel": attempts[0].channel });
                audit(&mut tx, now, Actor::SYSTEM, "notify", "alarm", alarm_id, None, Some(after.to_string())).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn alarm_notifications(&self, alarm_id: i64) -> Result<Vec<NotificationRecord>> {
                Ok(sqlx::query_as::<_, NotificationDbRow>(
                    "SELECT at, channel, target, purpose, attempt, duration_ms, outcome, status, detail \
                     FROM alarm_notifications WHERE alarm_id = $1 ORDER BY id",
                )
                .bind(alarm_id)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(NotificationDbRow::into_record)
                .collect())
            }

        }

        #[async_trait]
        impl DeviceStateStore for $store {
            async fn upsert_device_states(&self, states: &[DeviceState]) -> Result<()> {
                if states.is_empty() {
                    return Ok(());
                }
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                for chunk in states.chunks(CHUNK / 2) {
                    let mut qb = QueryBuilder::<$db>::new(
                        "INSERT INTO device_state (device_id, last_seen_at, online, battery_pct, lat, lon, \
                         location_at, vitals, vitals_at, upright, updated_at) ",
                    );
                    qb.push_values(chunk, |mut b, s| {
                        b.push_bind(s.device_id)
                            .push_bind(s.last_seen_at)
                            .push_bind(s.online)
                            .push_bind(s.battery_pct)
                            .push_bind(s.lat)
                            .push_bind(s.lon)
                            .push_bind(s.location_at)
                            .push_bind(s.vitals.as_ref().map(|v| v.to_string()))
                            .push_bind(s.vitals_at)
                            .push_bind(s.upright.map(|u| serde_json::json!(u).to_string()))
                            .push_bind(now);
                    });
                    qb.push(
                        " ON CONFLICT (device_id) DO UPDATE SET \
                         last_seen_at = CASE WHEN excluded.last_seen_at > device_state.last_seen_at \
                             THEN excluded.last_seen_at ELSE device_state.last_seen_at END, \
                         online = excluded.online, \
                         battery_pct = COALESCE(excluded.battery_pct, device_state.battery_pct), \
                         lat = COALESCE(excluded.lat, device_state.lat), \
                         lon = COALESCE(excluded.lon, device_state.lon), \
                         location_at = COALESCE(excluded.location_at, device_state.location_at), \
                         vitals = COALESCE(excluded.vitals, device_state.vitals), \
                         vitals_at = COALESCE(excluded.vitals_at, device_state.vitals_at), \
                         upright = COALESCE(excluded.upright, device_state.upright), \
                         updated_at = excluded.updated_at",
                    );
                    qb.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn learnt_uprights(&self) -> Result<Vec<(i64, [f32; 3])>> {
                let rows: Vec<(i64, String)> =
                    sqlx::query_as("SELECT device_id, upright FROM device_state WHERE upright IS NOT NULL")
                        .fetch_all(&self.pool)
                        .await?;
                // Ours; an unreadable value is relearnt from walking rather than failing the start.
                Ok(rows.into_iter().filter_map(|(id, u)| Some((id, serde_json::from_str(&u).ok()?))).collect())
            }

            async fn queue_device_config(&self, device_id: i64, payload: &str) -> Result<()> {
                // `queued_at` is the version `clear_device_config` checks: it always moves on,
                // even for two pushes within one millisecond.
                sqlx::query(
                    "INSERT INTO device_pending_config (device_id, payload, queued_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (device_id) DO UPDATE SET payload = excluded.payload, \
                     queued_at = CASE WHEN excluded.queued_at > device_pending_config.queued_at \
                     THEN excluded.queued_at ELSE device_pending_config.queued_at + 1 END",
                )
                .bind(device_id)
                .bind(payload)
                .bind(self.clock.now_ms())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn pending_device_config(&self, device_id: i64) -> Result<Option<(String, i64)>> {
                Ok(sqlx::query_as("SELECT payload, queued_at FROM device_pending_config WHERE device_id = $1")
                    .bind(device_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn clear_device_config(&self, device_id: i64, queued_at: i64) -> Result<bool> {
                let done = sqlx::query("DELETE FROM device_pending_config WHERE device_id = $1 AND queued_at = $2")
                    .bind(device_id)
                    .bind(queued_at)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn device_state(&self, device_id: i64) -> Result<Option<DeviceState>> {
                Ok(sqlx::query_as::<_, DeviceStateDbRow>(
                    "SELECT device_id, last_seen_at, online, battery_pct, lat, lon, location_at, vitals, vitals_at, upright \
                     FROM device_state WHERE device_id = $1",
                )
                .bind(device_id)
                .fetch_optional(&self.pool)
                .await?
                .map(DeviceStateDbRow::into_state))
            }

            async fn wearer_states(&self, scope: &ElderScope) -> Result<Vec<WearerState>> {
                // The scope is an expression over `elders`, so it filters a subquery of its own.
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT d.id, e.id, e.region_code, s.online, s.last_seen_at, s.lat, s.lon, e.lat, e.lon \
                     FROM devices d \
                     JOIN (SELECT id, region_code, lat, lon FROM elders WHERE status = 'active' AND (",
                );
                push_scope(&mut qb, scope);
                qb.push(
                    ")) e ON e.id = d.elder_id \
                     LEFT JOIN device_state s ON s.device_id = d.id \
                     WHERE d.active ORDER BY d.id",
                );
                type Row =
                    (i64, i64, String, Option<bool>, Option<i64>, Option<f64>, Option<f64>, Option<f64>, Option<f64>);
                let rows: Vec<Row> = qb.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows
                    .into_iter()
                    .map(|(device_id, elder_id, region_code, online, last_seen_at, lat, lon, hlat, hlon)| {
                        WearerState {
                            device_id,
                            elder_id,
                            region_code,
                            online,
                            last_seen_at,
                            fix: lat.zip(lon),
                            home: hlat.zip(hlon),
                        }
                    })
                    .collect())
            }
        }
    };
}

pub(crate) use alarm_store;
