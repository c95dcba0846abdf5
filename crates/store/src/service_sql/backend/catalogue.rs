//! The catalogue (service items, regional prices) and caregivers (duty, position, quality).

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};
use zhulao_domain::{Account, FieldError, GeoPoint, Role};
use zhulao_services::catalogue::{Catalogue, RegionPrice, ServiceItem};
use zhulao_services::quality::{QualityInputs, QualityScore};

use super::{CHUNK, Db, SqlStore, Tx, audit, fetch_account};
use crate::Actor;
use crate::error::{Result, StoreError};
use crate::query::fetch_one;
use crate::rows::to_json;
use crate::service_sql::{
    ACCOUNT_COLUMNS_A, HELD, ITEM_COLUMNS, ItemDbRow, NearDbRow, PriceDbRow, StatusDbRow, bbox, corrupt,
};
use crate::services::{CaregiverRow, CatalogueStore};

/// The windows of the orders each of `ids` holds.
/// Inserts a catalogue item unless its code exists; the rows inserted (0 or 1).
async fn insert_item(tx: &mut Tx, item: &ServiceItem, now: i64) -> Result<u64> {
    Ok(sqlx::query(
        "INSERT INTO service_items (code, category, name_zh, name_en, duration_min, skills, \
         base_price_fen, builtin, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (code) DO NOTHING",
    )
    .bind(item.code.as_str())
    .bind(item.category.as_str())
    .bind(&item.name_zh)
    .bind(&item.name_en)
    .bind(item.duration_min as i32)
    .bind(to_json(&item.skills))
    .bind(item.base_price.0)
    .bind(item.builtin)
    .bind(item.active)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

async fn commitments(pool: &sqlx::Pool<Db>, ids: &[i64]) -> Result<HashMap<i64, Vec<(i64, i64)>>> {
    let mut out: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT caregiver_id, window_start, window_end FROM service_orders WHERE state IN {HELD} \
             AND window_start IS NOT NULL AND caregiver_id IN ("
        ));
        let mut sep = qb.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        qb.push(")");
        for row in qb.build().fetch_all(pool).await? {
            let c: i64 = row.try_get(0)?;
            let (s, e): (i64, i64) = (row.try_get(1)?, row.try_get(2)?);
            out.entry(c).or_default().push((s, e));
        }
    }
    Ok(out)
}

fn status_or_default(s: Option<StatusDbRow>) -> StatusDbRow {
    s.unwrap_or(StatusDbRow {
        on_duty: false,
        lat: None,
        lon: None,
        position_at: None,
        quality_milli: 4000,
        ratings: 0,
    })
}

fn caregiver_row(account: Account, s: StatusDbRow, commitments: Vec<(i64, i64)>) -> CaregiverRow {
    CaregiverRow {
        position: s.position(),
        account,
        on_duty: s.on_duty,
        position_at: s.position_at,
        quality_milli: u32::try_from(s.quality_milli).unwrap_or(4000),
        ratings: u32::try_from(s.ratings).unwrap_or(0),
        commitments,
    }
}

#[async_trait]
impl CatalogueStore for SqlStore {
    async fn catalogue(&self) -> Result<Catalogue> {
        let items = sqlx::query_as::<_, ItemDbRow>(&format!(
            "SELECT {ITEM_COLUMNS} FROM service_items ORDER BY code"
        ))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(ItemDbRow::into_item)
        .collect::<Result<Vec<_>>>()?;
        let prices = sqlx::query_as::<_, PriceDbRow>(
            "SELECT region_prefix, item_code, price_fen FROM service_prices ORDER BY item_code, region_prefix",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(PriceDbRow::into_price)
        .collect::<Result<Vec<_>>>()?;
        Catalogue::from_parts(items, prices).map_err(|e| {
            corrupt("service_items", e.iter().map(|e| e.en.clone()).collect::<Vec<_>>().join("; "))
        })
    }

    async fn seed_service_items(&self, items: &[ServiceItem], actor: Actor) -> Result<usize> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let mut added = 0;
        for item in items {
            let n = insert_item(&mut tx, item, now).await?;
            if n == 1 {
                added += 1;
                audit(
                    &mut tx,
                    now,
                    actor,
                    "create",
                    "service_item",
                    item.code.as_str(),
                    None,
                    Some(to_json(item)),
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(added)
    }

    async fn create_service_item(&self, item: &ServiceItem, actor: Actor) -> Result<ServiceItem> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let n = insert_item(&mut tx, item, now).await?;
        if n == 0 {
            return Err(StoreError::Conflict(FieldError::new(
                "code",
                "duplicate",
                format!("服务项目代码“{}”已存在", item.code),
                format!("the service item code '{}' already exists", item.code),
            )));
        }
        audit(&mut tx, now, actor, "create", "service_item", item.code.as_str(), None, Some(to_json(item)))
            .await?;
        let stored = fetch_one::<ItemDbRow, _, _>(&mut *tx, item.code.as_str().to_string()).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn update_service_item(&self, item: &ServiceItem, actor: Actor) -> Result<ServiceItem> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let before = fetch_one::<ItemDbRow, _, _>(&mut *tx, item.code.as_str().to_string()).await?;
        sqlx::query(
            "UPDATE service_items SET category = $1, name_zh = $2, name_en = $3, duration_min = $4, skills = $5, \
             base_price_fen = $6, active = $7, updated_at = $8 WHERE code = $9",
        )
        .bind(item.category.as_str())
        .bind(&item.name_zh)
        .bind(&item.name_en)
        .bind(item.duration_min as i32)
        .bind(to_json(&item.skills))
        .bind(item.base_price.0)
        .bind(item.active)
        .bind(now)
        .bind(item.code.as_str())
        .execute(&mut *tx)
        .await?;
        let after = fetch_one::<ItemDbRow, _, _>(&mut *tx, item.code.as_str().to_string()).await?;
        audit(
            &mut tx,
            now,
            actor,
            "update",
            "service_item",
            item.code.as_str(),
            Some(to_json(&before)),
            Some(to_json(&after)),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn set_service_price(&self, p: &RegionPrice, actor: Actor) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        fetch_one::<ItemDbRow, _, _>(&mut *tx, p.item.as_str().to_string()).await.map_err(|_| {
            StoreError::invalid(
                "item",
                "unknown_item",
                format!("没有服务项目“{}”", p.item),
                format!("there is no service item '{}'", p.item),
            )
        })?;
        let before: Option<i64> = sqlx::query_scalar(
            "SELECT price_fen FROM service_prices WHERE region_prefix = $1 AND item_code = $2",
        )
        .bind(p.region_prefix.as_str())
        .bind(p.item.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO service_prices (region_prefix, item_code, price_fen, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (region_prefix, item_code) DO UPDATE SET price_fen = excluded.price_fen, updated_at = excluded.updated_at",
        )
        .bind(p.region_prefix.as_str())
        .bind(p.item.as_str())
        .bind(p.price.0)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let key = format!("{}@{}", p.item, p.region_prefix.as_str());
        audit(
            &mut tx,
            now,
            actor,
            "set_price",
            "service_price",
            key,
            before.map(|f| serde_json::json!({ "price_fen": f }).to_string()),
            Some(to_json(p)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn report_caregiver(
        &self,
        account_id: i64,
        on_duty: bool,
        position: Option<GeoPoint>,
        actor: Actor,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let account = fetch_account(&mut *tx, account_id).await?;
        if account.role != Role::Caregiver {
            return Err(StoreError::invalid(
                "account_id",
                "not_a_caregiver",
                "该账号不是助老员",
                "the account is not a caregiver",
            ));
        }
        let was: Option<bool> =
            sqlx::query_scalar("SELECT on_duty FROM caregiver_status WHERE account_id = $1")
                .bind(account_id)
                .fetch_optional(&mut *tx)
                .await?;
        let (lat, lon, at) = match position {
            Some(p) => (Some(p.lat), Some(p.lon), Some(now)),
            None => (None, None, None),
        };
        sqlx::query(
            "INSERT INTO caregiver_status (account_id, on_duty, lat, lon, position_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id) DO UPDATE SET on_duty = excluded.on_duty, \
             lat = COALESCE(excluded.lat, caregiver_status.lat), lon = COALESCE(excluded.lon, caregiver_status.lon), \
             position_at = COALESCE(excluded.position_at, caregiver_status.position_at), updated_at = excluded.updated_at",
        )
        .bind(account_id)
        .bind(on_duty)
        .bind(lat)
        .bind(lon)
        .bind(at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if was != Some(on_duty) {
            let action = if on_duty { "on_duty" } else { "off_duty" };
            audit(
                &mut tx,
                now,
                actor,
                action,
                "caregiver",
                account_id,
                was.map(|w| serde_json::json!({ "on_duty": w }).to_string()),
                Some(serde_json::json!({ "on_duty": on_duty }).to_string()),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn caregiver(&self, account_id: i64) -> Result<CaregiverRow> {
        let account = fetch_account(&self.pool, account_id).await?;
        let status = sqlx::query_as::<_, StatusDbRow>(
            "SELECT on_duty, lat, lon, position_at, quality_milli, ratings FROM caregiver_status WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        let mut c = commitments(&self.pool, &[account_id]).await?;
        Ok(caregiver_row(account, status_or_default(status), c.remove(&account_id).unwrap_or_default()))
    }

    async fn caregivers_near(
        &self,
        center: GeoPoint,
        radius_m: u32,
        fresh_since: i64,
        limit: i64,
    ) -> Result<Vec<CaregiverRow>> {
        let (lat0, lat1, lon0, lon1) = bbox(center, radius_m);
        // Two statements of fixed text (cached by the driver): the caregivers with
        // their accounts, then the windows of what they hold.
        const WHERE: &str = "s.on_duty = TRUE AND s.lat BETWEEN $1 AND $2 AND s.lon BETWEEN $3 AND $4 \
             AND s.position_at >= $5";
        let rows = sqlx::query_as::<_, NearDbRow>(&format!(
            "SELECT {}, s.on_duty, s.lat, s.lon, s.position_at, s.quality_milli, s.ratings \
             FROM caregiver_status s JOIN accounts a ON a.id = s.account_id \
             WHERE {WHERE} AND a.active = TRUE AND a.role = 'caregiver' ORDER BY s.account_id LIMIT $6",
            ACCOUNT_COLUMNS_A
        ))
        .bind(lat0)
        .bind(lat1)
        .bind(lon0)
        .bind(lon1)
        .bind(fresh_since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut windows: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
        let held = sqlx::query(&format!(
            "SELECT o.caregiver_id, o.window_start, o.window_end FROM service_orders o \
             JOIN caregiver_status s ON s.account_id = o.caregiver_id \
             WHERE {WHERE} AND o.state IN {HELD} AND o.window_start IS NOT NULL"
        ))
        .bind(lat0)
        .bind(lat1)
        .bind(lon0)
        .bind(lon1)
        .bind(fresh_since)
        .fetch_all(&self.pool)
        .await?;
        for r in held {
            let c: i64 = r.try_get(0)?;
            windows.entry(c).or_default().push((r.try_get(1)?, r.try_get(2)?));
        }
        rows.into_iter()
            .map(|r| {
                let account = r.account.into_domain()?;
                let w = windows.remove(&account.id).unwrap_or_default();
                Ok(caregiver_row(account, r.status, w))
            })
            .collect()
    }

    async fn quality_inputs(&self, caregiver_id: i64, since: i64) -> Result<QualityInputs> {
        let mut q = QualityInputs::default();
        let rows = sqlx::query(
            "SELECT rating_stars, COUNT(*) AS n FROM service_orders WHERE caregiver_id = $1 \
             AND rating_stars IS NOT NULL AND ended_at >= $2 GROUP BY rating_stars",
        )
        .bind(caregiver_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let stars: i16 = r.try_get("rating_stars")?;
            let n: i64 = r.try_get("n")?;
            if (1..=5).contains(&stars) {
                q.stars[(stars - 1) as usize] = u32::try_from(n).unwrap_or(u32::MAX);
            }
        }
        let complaints: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM complaints WHERE caregiver_id = $1 AND upheld = TRUE AND created_at >= $2",
        )
        .bind(caregiver_id)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        let no_shows: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM service_orders WHERE caregiver_id = $1 AND caregiver_no_show = TRUE AND ended_at >= $2",
        )
        .bind(caregiver_id)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        q.upheld_complaints = u32::try_from(complaints).unwrap_or(u32::MAX);
        q.no_shows = u32::try_from(no_shows).unwrap_or(u32::MAX);
        Ok(q)
    }

    async fn set_caregiver_quality(
        &self,
        caregiver_id: i64,
        score: QualityScore,
        actor: Actor,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let before: Option<i32> =
            sqlx::query_scalar("SELECT quality_milli FROM caregiver_status WHERE account_id = $1")
                .bind(caregiver_id)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO caregiver_status (account_id, quality_milli, ratings, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id) DO UPDATE SET quality_milli = excluded.quality_milli, \
             ratings = excluded.ratings, updated_at = excluded.updated_at",
        )
        .bind(caregiver_id)
        .bind(score.milli as i32)
        .bind(score.ratings as i32)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            now,
            actor,
            "rescore",
            "caregiver",
            caregiver_id,
            before.map(|b| serde_json::json!({ "quality_milli": b }).to_string()),
            Some(serde_json::json!({ "quality_milli": score.milli, "ratings": score.ratings }).to_string()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
