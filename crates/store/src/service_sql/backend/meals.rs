//! Meals: canteens' menus and elders' meal orders (one live order per elder, day and slot).

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::NaiveDate;
use sqlx::QueryBuilder;
use zhulao_domain::FieldError;
use zhulao_services::meals::{MealOrder, MealSlot, Menu};

use super::{
    Db, SqlStore, active_elder, audit, fetch_facility, not_found, page_bounds, paged, push_order_scope,
};
use crate::error::{Result, StoreError};
use crate::query::{VersionedUpdate, fetch_one, save_versioned};
use crate::rows::to_json;
use crate::service_sql::{MEAL_COLUMNS, MENU_COLUMNS, MealDbRow, MenuDbRow, date_text};
use crate::services::{MealOrderFilter, MealOrderRow, MealStore, MenuRow};
use crate::{Actor, Page};

/// A meal order's step (settling one too, in `settlement.rs`).
pub(super) static SAVE_MEAL: LazyLock<VersionedUpdate> = LazyLock::new(|| {
    VersionedUpdate::new("meal_orders", "meal order", "state = $3, order_json = $4, updated_at = $5")
});

#[async_trait]
impl MealStore for SqlStore {
    async fn put_menu(&self, menu: &Menu, actor: Actor) -> Result<MenuRow> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let canteen = fetch_facility(&mut *tx, menu.canteen).await.map_err(|_| {
            StoreError::invalid("canteen_id", "unknown_facility", "食堂不存在", "no such canteen")
        })?;
        if !canteen.active {
            return Err(StoreError::invalid(
                "canteen_id",
                "facility_inactive",
                "该食堂已停用",
                "the canteen is inactive",
            ));
        }
        let date = date_text(menu.date);
        let before: Option<String> = sqlx::query_scalar(
            "SELECT menu_json FROM canteen_menus WHERE canteen_id = $1 AND date = $2 AND slot = $3",
        )
        .bind(menu.canteen)
        .bind(&date)
        .bind(menu.slot.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO canteen_menus (canteen_id, date, slot, menu_json, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (canteen_id, date, slot) DO UPDATE SET menu_json = excluded.menu_json, \
             updated_at = excluded.updated_at, version = canteen_menus.version + 1",
        )
        .bind(menu.canteen)
        .bind(&date)
        .bind(menu.slot.as_str())
        .bind(to_json(menu))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let key = format!("{}:{date}:{}", menu.canteen, menu.slot.as_str());
        audit(&mut tx, now, actor, "put_menu", "menu", key, before, Some(to_json(menu))).await?;
        let row = sqlx::query_as::<_, MenuDbRow>(&format!(
            "SELECT {MENU_COLUMNS} FROM canteen_menus WHERE canteen_id = $1 AND date = $2 AND slot = $3"
        ))
        .bind(menu.canteen)
        .bind(&date)
        .bind(menu.slot.as_str())
        .fetch_one(&mut *tx)
        .await?
        .into_row()?;
        tx.commit().await?;
        Ok(row)
    }

    async fn menu(&self, canteen_id: i64, date: NaiveDate, slot: MealSlot) -> Result<MenuRow> {
        sqlx::query_as::<_, MenuDbRow>(&format!(
            "SELECT {MENU_COLUMNS} FROM canteen_menus WHERE canteen_id = $1 AND date = $2 AND slot = $3"
        ))
        .bind(canteen_id)
        .bind(date_text(date))
        .bind(slot.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found("menu"))?
        .into_row()
    }

    async fn menus(&self, canteen_id: Option<i64>, from: NaiveDate, to: NaiveDate) -> Result<Vec<MenuRow>> {
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {MENU_COLUMNS} FROM canteen_menus WHERE date >= "));
        qb.push_bind(date_text(from)).push(" AND date <= ").push_bind(date_text(to));
        if let Some(c) = canteen_id {
            qb.push(" AND canteen_id = ").push_bind(c);
        }
        qb.push(" ORDER BY date, canteen_id, slot");
        qb.build_query_as::<MenuDbRow>()
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(MenuDbRow::into_row)
            .collect()
    }

    async fn delete_menu(
        &self,
        canteen_id: i64,
        date: NaiveDate,
        slot: MealSlot,
        actor: Actor,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let date = date_text(date);
        let mut tx = self.begin().await?;
        let before: Option<String> = sqlx::query_scalar(
            "SELECT menu_json FROM canteen_menus WHERE canteen_id = $1 AND date = $2 AND slot = $3",
        )
        .bind(canteen_id)
        .bind(&date)
        .bind(slot.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(before) = before else { return Err(not_found("menu")) };
        let orders: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM meal_orders WHERE canteen_id = $1 AND date = $2 AND slot = $3",
        )
        .bind(canteen_id)
        .bind(&date)
        .bind(slot.as_str())
        .fetch_one(&mut *tx)
        .await?;
        if orders > 0 {
            return Err(StoreError::Conflict(FieldError::new(
                "menu",
                "menu_has_orders",
                "已有老人订了这份菜单，不能删除（可以修改菜单）",
                "elders have ordered from this menu; it cannot be deleted (it can be changed)",
            )));
        }
        sqlx::query("DELETE FROM canteen_menus WHERE canteen_id = $1 AND date = $2 AND slot = $3")
            .bind(canteen_id)
            .bind(&date)
            .bind(slot.as_str())
            .execute(&mut *tx)
            .await?;
        let key = format!("{canteen_id}:{date}:{}", slot.as_str());
        audit(&mut tx, now, actor, "delete_menu", "menu", key, Some(before), None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_meal_order(
        &self,
        meal: &MealOrder,
        region_code: &str,
        actor: Actor,
    ) -> Result<MealOrderRow> {
        let now = self.clock.now_ms();
        let date = date_text(meal.date);
        let mut tx = self.begin().await?;
        active_elder(&mut tx, meal.elder).await?;
        let taken: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM meal_orders WHERE elder_id = $1 AND date = $2 AND slot = $3 AND state <> 'cancelled'",
        )
        .bind(meal.elder)
        .bind(&date)
        .bind(meal.slot.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let duplicate = || {
            StoreError::Conflict(FieldError::new(
                "slot",
                "meal_already_ordered",
                format!("该老人{date}的{}已经订过了", meal.slot.label_zh()),
                format!("this elder already has a {} on {date}", meal.slot.as_str()),
            ))
        };
        if taken.is_some() {
            return Err(duplicate());
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO meal_orders (elder_id, canteen_id, region_code, date, slot, option_code, fulfilment, \
             station_id, state, price_fen, order_json, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        )
        .bind(meal.elder)
        .bind(meal.canteen)
        .bind(region_code)
        .bind(&date)
        .bind(meal.slot.as_str())
        .bind(meal.option.as_str())
        .bind(meal.fulfilment.as_str())
        .bind(meal.delivery.map(|d| d.station))
        .bind(meal.state.as_str())
        .bind(meal.price.0)
        .bind(to_json(meal))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match StoreError::from_db(e) {
            StoreError::Conflict(_) => duplicate(),
            other => other,
        })?;
        let after = serde_json::json!({
            "elder_id": meal.elder, "canteen_id": meal.canteen, "date": date, "slot": meal.slot,
            "option": meal.option, "fulfilment": meal.fulfilment, "price_fen": meal.price.0,
        });
        audit(&mut tx, now, actor, "order_meal", "meal_order", id, None, Some(after.to_string())).await?;
        let row = fetch_one::<MealDbRow, _, _>(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn meal_order(&self, id: i64) -> Result<MealOrderRow> {
        fetch_one::<MealDbRow, _, _>(&self.pool, id).await
    }

    async fn save_meal_order(
        &self,
        id: i64,
        expected_version: i64,
        meal: &MealOrder,
        action: &str,
        actor: Actor,
    ) -> Result<MealOrderRow> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let before = fetch_one::<MealDbRow, _, _>(&mut *tx, id).await?;
        let json = to_json(meal);
        save_versioned::<Db>(&mut *tx, &SAVE_MEAL, id, expected_version, Some(before.version), |q| {
            q.bind(meal.state.as_str()).bind(json).bind(now)
        })
        .await?;
        audit(
            &mut tx,
            now,
            actor,
            action,
            "meal_order",
            id,
            Some(serde_json::json!({ "state": before.order.state }).to_string()),
            Some(serde_json::json!({ "state": meal.state }).to_string()),
        )
        .await?;
        let row = fetch_one::<MealDbRow, _, _>(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn list_meal_orders(&self, f: &MealOrderFilter) -> Result<Page<MealOrderRow>> {
        let (offset, limit) = page_bounds(f.offset, f.limit);
        let build = |select: &str| {
            let mut qb = QueryBuilder::<Db>::new(select);
            qb.push(" FROM meal_orders WHERE (");
            push_order_scope(&mut qb, &f.scope, "");
            qb.push(")");
            if let Some(c) = f.canteen_id {
                qb.push(" AND canteen_id = ").push_bind(c);
            }
            if let Some(s) = f.station_id {
                qb.push(" AND station_id = ").push_bind(s);
            }
            if let Some(e) = f.elder_id {
                qb.push(" AND elder_id = ").push_bind(e);
            }
            if let Some(d) = f.from {
                qb.push(" AND date >= ").push_bind(date_text(d));
            }
            if let Some(d) = f.to {
                qb.push(" AND date <= ").push_bind(date_text(d));
            }
            if let Some(s) = f.slot {
                qb.push(" AND slot = ").push_bind(s.as_str());
            }
            if let Some(s) = f.state {
                qb.push(" AND state = ").push_bind(s.as_str());
            }
            qb
        };
        paged(
            &self.pool,
            build,
            MEAL_COLUMNS,
            "date, slot, canteen_id, id",
            (offset, limit),
            MealDbRow::into_row,
        )
        .await
    }
}
