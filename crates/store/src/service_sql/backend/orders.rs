//! Service orders: creation, the conditional step (`save_order`), lists, the offer near a
//! point, timers, events and photos. `update_order_in`, `insert_order_event` and
//! `order_audit` are shared with settlement, which saves an order the same way.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};
use zhulao_domain::GeoPoint;
use zhulao_services::order::{Order, OrderState};

use super::{Db, SqlStore, Tx, active_elder, audit, not_found, page_bounds, paged, push_order_scope};
use crate::error::{Result, StoreError};
use crate::query::{VersionedUpdate, due_rows, fetch_one, next_due, save_versioned};
use crate::service_sql::{
    HELD, ItemDbRow, ORDER_COLUMNS, OrderColumns, OrderDbRow, OrderEventDbRow, PHOTO_COLUMNS, PhotoDbRow,
    bbox, caregiver_busy,
};
use crate::services::{NewPhoto, OrderEvent, OrderEventInput, OrderFilter, OrderRow, OrderStore, PhotoMeta};
use crate::{Actor, Page};

pub(super) async fn insert_order_event(
    tx: &mut Tx,
    order_id: i64,
    at: i64,
    from: &str,
    to: &str,
    e: &OrderEventInput,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO order_events (order_id, at, actor_id, actor_role, action, from_state, to_state, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(order_id)
    .bind(at)
    .bind(e.actor.account_id)
    .bind(&e.actor_role)
    .bind(&e.action)
    .bind(from)
    .bind(to)
    .bind(e.detail.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An order's step: conditional on its version and its state.
static SAVE_ORDER: LazyLock<VersionedUpdate> = LazyLock::new(|| {
    VersionedUpdate::new(
        "service_orders",
        "order",
        "state = $3, caregiver_id = $4, window_start = $5, window_end = $6, rating_stars = $7, \
         caregiver_no_show = $8, ended_at = $9, next_due_at = $10, order_json = $11, updated_at = $12",
    )
    .and("state = $13")
});

/// The conditional update of one order: `Stale` unless version and state match.
pub(super) async fn update_order_in(
    tx: &mut Tx,
    id: i64,
    expected_version: i64,
    expected_state: OrderState,
    order: &Order,
    next_due_at: Option<i64>,
    now: i64,
) -> Result<()> {
    let c = OrderColumns::of(order);
    save_versioned::<Db>(&mut **tx, &SAVE_ORDER, id, expected_version, None, |q| {
        q.bind(c.state)
            .bind(c.caregiver_id)
            .bind(c.window.map(|w| w.0))
            .bind(c.window.map(|w| w.1))
            .bind(c.rating_stars)
            .bind(c.caregiver_no_show)
            .bind(c.ended_at)
            .bind(next_due_at)
            .bind(&c.json)
            .bind(now)
            .bind(expected_state.as_str())
    })
    .await?;
    if let (true, Some(caregiver), Some((start, end))) = (order.state.is_held(), c.caregiver_id, c.window) {
        // Lock the caregiver's row so two of their grabs cannot both pass the check.
        sqlx::query(
            "INSERT INTO caregiver_status (account_id, updated_at) VALUES ($1, $2) \
             ON CONFLICT (account_id) DO UPDATE SET updated_at = excluded.updated_at",
        )
        .bind(caregiver)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        let overlapping: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM service_orders WHERE caregiver_id = $1 AND id <> $2 AND state IN {HELD} \
             AND window_start < $3 AND window_end > $4"
        ))
        .bind(caregiver)
        .bind(id)
        .bind(end)
        .bind(start)
        .fetch_one(&mut **tx)
        .await?;
        if overlapping > 0 {
            return Err(caregiver_busy());
        }
    }
    Ok(())
}

pub(super) fn order_audit(
    from: &str,
    order: &Order,
    e: &OrderEventInput,
) -> (Option<String>, Option<String>) {
    (
        Some(serde_json::json!({ "state": from }).to_string()),
        Some(
            serde_json::json!({
                "state": order.state,
                "caregiver": order.caregiver,
                "role": e.actor_role,
                "detail": e.detail,
            })
            .to_string(),
        ),
    )
}

async fn insert_photo(
    tx: &mut Tx,
    order_id: i64,
    p: &NewPhoto,
    caregiver: Option<i64>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO order_photos (order_id, ref, caregiver_id, content_type, size_bytes, bytes, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (order_id, ref) DO NOTHING",
    )
    .bind(order_id)
    .bind(&p.reference)
    .bind(caregiver)
    .bind(&p.content_type)
    .bind(p.bytes.len() as i64)
    .bind(&p.bytes)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl OrderStore for SqlStore {
    async fn create_order(
        &self,
        order: &Order,
        next_due_at: Option<i64>,
        events: &[OrderEventInput],
    ) -> Result<OrderRow> {
        let now = self.clock.now_ms();
        let c = OrderColumns::of(order);
        let mut tx = self.begin().await?;
        let elder = active_elder(&mut tx, c.elder_id).await?;
        fetch_one::<ItemDbRow, _, _>(&mut *tx, c.item_code.clone()).await.map_err(|_| {
            StoreError::invalid(
                "item",
                "unknown_item",
                format!("没有服务项目“{}”", c.item_code),
                format!("there is no service item '{}'", c.item_code),
            )
        })?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO service_orders (elder_id, region_code, home_station_id, item_code, category, state, \
             caregiver_id, placed_by, price_fen, scheduled_at, home_lat, home_lon, window_start, window_end, \
             rating_stars, caregiver_no_show, ended_at, next_due_at, order_json, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20) \
             RETURNING id",
        )
        .bind(c.elder_id)
        .bind(&c.region_code)
        .bind(elder.record.home_station_id)
        .bind(&c.item_code)
        .bind(c.category)
        .bind(c.state)
        .bind(c.caregiver_id)
        .bind(c.placed_by)
        .bind(c.price_fen)
        .bind(c.scheduled_at)
        .bind(c.home_lat)
        .bind(c.home_lon)
        .bind(c.window.map(|w| w.0))
        .bind(c.window.map(|w| w.1))
        .bind(c.rating_stars)
        .bind(c.caregiver_no_show)
        .bind(c.ended_at)
        .bind(next_due_at)
        .bind(&c.json)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from_db)?;
        for (i, e) in events.iter().enumerate() {
            let (from, to) = if i == 0 { ("created", "created") } else { ("created", c.state) };
            insert_order_event(&mut tx, id, now, from, to, e).await?;
            let after = serde_json::json!({
                "state": to,
                "elder_id": c.elder_id,
                "item": c.item_code,
                "price_fen": c.price_fen,
                "role": e.actor_role,
                "detail": e.detail,
            });
            audit(&mut tx, now, e.actor, &e.action, "order", id, None, Some(after.to_string())).await?;
        }
        let row = fetch_one::<OrderDbRow, _, _>(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn order(&self, id: i64) -> Result<OrderRow> {
        fetch_one::<OrderDbRow, _, _>(&self.pool, id).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn save_order(
        &self,
        id: i64,
        expected_version: i64,
        expected_state: OrderState,
        order: &Order,
        next_due_at: Option<i64>,
        event: &OrderEventInput,
        photos: &[NewPhoto],
    ) -> Result<OrderRow> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        update_order_in(&mut tx, id, expected_version, expected_state, order, next_due_at, now).await?;
        let from = expected_state.as_str();
        insert_order_event(&mut tx, id, now, from, order.state.as_str(), event).await?;
        for p in photos {
            insert_photo(&mut tx, id, p, event.actor.account_id, now).await?;
        }
        let (before, after) = order_audit(from, order, event);
        audit(&mut tx, now, event.actor, &event.action, "order", id, before, after).await?;
        let row = fetch_one::<OrderDbRow, _, _>(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn list_orders(&self, f: &OrderFilter) -> Result<Page<OrderRow>> {
        let (offset, limit) = page_bounds(f.offset, f.limit);
        let build = |select: &str| {
            let mut qb = QueryBuilder::<Db>::new(select);
            qb.push(" FROM service_orders WHERE (");
            push_order_scope(&mut qb, &f.scope, "caregiver_id");
            qb.push(")");
            if !f.states.is_empty() {
                qb.push(" AND state IN (");
                let mut sep = qb.separated(", ");
                for s in &f.states {
                    sep.push_bind(s.as_str());
                }
                qb.push(")");
            }
            if let Some(e) = f.elder_id {
                qb.push(" AND elder_id = ").push_bind(e);
            }
            if let Some(c) = f.caregiver_id {
                qb.push(" AND caregiver_id = ").push_bind(c);
            }
            if let Some(p) = &f.region_prefix {
                qb.push(" AND region_code LIKE ").push_bind(format!("{p}%"));
            }
            if let Some(s) = f.since {
                qb.push(" AND created_at >= ").push_bind(s);
            }
            if let Some(u) = f.until {
                qb.push(" AND created_at < ").push_bind(u);
            }
            qb
        };
        paged(
            &self.pool,
            build,
            ORDER_COLUMNS,
            "created_at DESC, id DESC",
            (offset, limit),
            OrderDbRow::into_row,
        )
        .await
    }

    async fn orders_on_offer_near(
        &self,
        center: GeoPoint,
        radius_m: u32,
        limit: i64,
    ) -> Result<Vec<OrderRow>> {
        let (lat0, lat1, lon0, lon1) = bbox(center, radius_m);
        sqlx::query_as::<_, OrderDbRow>(&format!(
            "SELECT {ORDER_COLUMNS} FROM service_orders WHERE state = 'published' \
             AND home_lat BETWEEN $1 AND $2 AND home_lon BETWEEN $3 AND $4 ORDER BY created_at, id LIMIT $5"
        ))
        .bind(lat0)
        .bind(lat1)
        .bind(lon0)
        .bind(lon1)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(OrderDbRow::into_row)
        .collect()
    }

    async fn due_orders(&self, now: i64, limit: i64) -> Result<Vec<OrderRow>> {
        due_rows::<OrderDbRow, _>(&self.pool, now, limit).await
    }

    async fn next_order_due(&self) -> Result<Option<i64>> {
        next_due::<OrderDbRow, _>(&self.pool).await
    }

    async fn defer_order(&self, id: i64, next_due_at: Option<i64>, reason: &str) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE service_orders SET next_due_at = $1 WHERE id = $2")
            .bind(next_due_at)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(not_found("order"));
        }
        let after = serde_json::json!({ "next_due_at": next_due_at, "reason": reason });
        audit(&mut tx, now, Actor::SYSTEM, "defer", "order", id, None, Some(after.to_string())).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn order_events(&self, order_id: i64) -> Result<Vec<OrderEvent>> {
        sqlx::query_as::<_, OrderEventDbRow>(
            "SELECT id, order_id, at, actor_id, actor_role, action, from_state, to_state, detail \
             FROM order_events WHERE order_id = $1 ORDER BY id",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(OrderEventDbRow::into_event)
        .collect()
    }

    async fn add_order_photo(&self, order_id: i64, photo: &NewPhoto, actor: Actor) -> Result<PhotoMeta> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        fetch_one::<OrderDbRow, _, _>(&mut *tx, order_id).await?;
        insert_photo(&mut tx, order_id, photo, actor.account_id, now).await?;
        let after = serde_json::json!({
            "ref": photo.reference,
            "content_type": photo.content_type,
            "size_bytes": photo.bytes.len(),
        });
        audit(&mut tx, now, actor, "photo", "order", order_id, None, Some(after.to_string())).await?;
        let meta = sqlx::query_as::<_, PhotoDbRow>(&format!(
            "SELECT {PHOTO_COLUMNS} FROM order_photos WHERE order_id = $1 AND ref = $2"
        ))
        .bind(order_id)
        .bind(&photo.reference)
        .fetch_one(&mut *tx)
        .await?
        .into_meta();
        tx.commit().await?;
        Ok(meta)
    }

    async fn order_photo(&self, order_id: i64, reference: &str) -> Result<(PhotoMeta, Vec<u8>)> {
        let row = sqlx::query(
            "SELECT order_id, ref, caregiver_id, content_type, size_bytes, created_at, bytes FROM order_photos \
             WHERE order_id = $1 AND ref = $2",
        )
        .bind(order_id)
        .bind(reference)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found("photo"))?;
        let bytes: Vec<u8> = row.try_get("bytes")?;
        let meta = PhotoMeta {
            order_id: row.try_get("order_id")?,
            reference: row.try_get("ref")?,
            caregiver_id: row.try_get("caregiver_id")?,
            content_type: row.try_get("content_type")?,
            size_bytes: row.try_get("size_bytes")?,
            created_at: row.try_get("created_at")?,
        };
        Ok((meta, bytes))
    }

    async fn order_photos(&self, order_id: i64) -> Result<Vec<PhotoMeta>> {
        Ok(sqlx::query_as::<_, PhotoDbRow>(&format!(
            "SELECT {PHOTO_COLUMNS} FROM order_photos WHERE order_id = $1 ORDER BY id"
        ))
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(PhotoDbRow::into_meta)
        .collect())
    }

    async fn caregiver_orders_ended(
        &self,
        caregiver_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(OrderRow, u32)>> {
        let rows = sqlx::query_as::<_, OrderDbRow>(&format!(
            "SELECT {ORDER_COLUMNS} FROM service_orders WHERE caregiver_id = $1 AND ended_at >= $2 AND ended_at < $3 \
             AND (state IN ('completed', 'rated', 'settled') OR caregiver_no_show = TRUE) ORDER BY ended_at, id"
        ))
        .bind(caregiver_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(OrderDbRow::into_row)
        .collect::<Result<Vec<_>>>()?;
        let upheld = sqlx::query(
            "SELECT order_id, COUNT(*) AS n FROM complaints WHERE caregiver_id = $1 AND upheld = TRUE \
             AND order_id IS NOT NULL GROUP BY order_id",
        )
        .bind(caregiver_id)
        .fetch_all(&self.pool)
        .await?;
        let mut counts = HashMap::new();
        for r in upheld {
            let id: i64 = r.try_get("order_id")?;
            let n: i64 = r.try_get("n")?;
            counts.insert(id, u32::try_from(n).unwrap_or(u32::MAX));
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let n = counts.get(&r.id).copied().unwrap_or(0);
                (r, n)
            })
            .collect())
    }
}
