//! Settlement: the rule book, funding pools, balances, the lists elders are on, and settling
//! service and meal orders — guarded debits, the settlement record and the saved order in one
//! transaction.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};
use zhulao_domain::{Fen, FieldError};
use zhulao_services::meals::MealOrder;
use zhulao_services::order::{Order, OrderState};
use zhulao_services::profile::ElderCategory;
use zhulao_services::settlement::{Balances, RegionRules, RuleBook};
use zhulao_services::{PoolCode, RegionPrefix, RuleCode};

use super::meals::SAVE_MEAL;
use super::orders::{insert_order_event, order_audit, update_order_in};
use super::{Db, SqlStore, Tx, audit, fetch_elder};
use crate::Actor;
use crate::error::{Result, StoreError};
use crate::query::{fetch_one, save_versioned};
use crate::rows::to_json;
use crate::service_sql::{
    MealDbRow, OrderDbRow, POOL_COLUMNS, PoolDbRow, SETTLEMENT_COLUMNS, SettlementDbRow, UsageDbRow, corrupt,
    date_text, stale,
};
use crate::services::{
    MealOrderRow, NewSettlement, OrderEventInput, OrderRow, Pool, SettlementFilter, SettlementRow,
    SettlementStore,
};

/// Takes a settlement's debits off the balances with guarded updates. `read` holds the
/// balances the split was computed from; any guard that fails is `Stale`.
async fn apply_debits(tx: &mut Tx, s: &NewSettlement, read: &Balances, now: i64) -> Result<()> {
    let d = &s.debits;
    // The same rule in memory first: a split that does not fit what it was computed
    // from is refused before touching anything.
    let mut after = read.clone();
    after.apply(d, s.date).map_err(|_| stale())?;
    if d.card.0 > 0 {
        let n = sqlx::query(
            "UPDATE elders SET card_balance_fen = card_balance_fen - $1, updated_at = $2, version = version + 1 \
             WHERE id = $3 AND card_balance_fen >= $1",
        )
        .bind(d.card.0)
        .bind(now)
        .bind(s.elder_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(stale());
        }
    }
    for (pool, amount) in &d.pools {
        if amount.0 <= 0 {
            continue;
        }
        let n = sqlx::query(
            "UPDATE funding_pools SET balance_fen = balance_fen - $1, updated_at = $2 \
             WHERE code = $3 AND balance_fen >= $1",
        )
        .bind(amount.0)
        .bind(now)
        .bind(pool.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(stale());
        }
    }
    let (year, month) = {
        use chrono::Datelike;
        (s.date.year(), s.date.month())
    };
    for (rule, delta) in &d.usage {
        let Some(new) = after.usage.get(rule) else { continue };
        let n = match read.usage.get(rule) {
            // This month's row: add to it, guarded by the caps (like the card), so
            // concurrent settlements only collide when a cap is reached.
            Some(old) if old.year == year && old.month == month => {
                let mut qb = QueryBuilder::<Db>::new("UPDATE rule_usage SET month_fen = month_fen + ");
                qb.push_bind(delta.fen.0)
                    .push(", year_fen = year_fen + ")
                    .push_bind(delta.fen.0)
                    .push(", month_units = month_units + ")
                    .push_bind(delta.units as i32)
                    .push(", year_units = year_units + ")
                    .push_bind(delta.units as i32)
                    .push(" WHERE elder_id = ")
                    .push_bind(s.elder_id)
                    .push(" AND rule_code = ")
                    .push_bind(rule.as_str().to_string())
                    .push(" AND year = ")
                    .push_bind(year)
                    .push(" AND month = ")
                    .push_bind(month as i32);
                let c = delta.caps;
                if let Some(cap) = c.per_month {
                    qb.push(" AND month_fen + ").push_bind(delta.fen.0).push(" <= ").push_bind(cap.0);
                }
                if let Some(cap) = c.per_year {
                    qb.push(" AND year_fen + ").push_bind(delta.fen.0).push(" <= ").push_bind(cap.0);
                }
                if let Some(cap) = c.units_per_month {
                    qb.push(" AND month_units + ").push_bind(delta.units as i32).push(" <= ").push_bind(cap as i32);
                }
                if let Some(cap) = c.units_per_year {
                    qb.push(" AND year_units + ").push_bind(delta.units as i32).push(" <= ").push_bind(cap as i32);
                }
                qb.build().execute(&mut **tx).await?.rows_affected()
            }
            // A row of an earlier month (or year): reset it, compare-and-swap.
            Some(old) => sqlx::query(
                "UPDATE rule_usage SET year = $1, month = $2, month_fen = $3, year_fen = $4, month_units = $5, \
                 year_units = $6 WHERE elder_id = $7 AND rule_code = $8 AND year = $9 AND month = $10 \
                 AND month_fen = $11 AND year_fen = $12 AND month_units = $13 AND year_units = $14",
            )
            .bind(new.year)
            .bind(new.month as i32)
            .bind(new.month_fen.0)
            .bind(new.year_fen.0)
            .bind(new.month_units as i32)
            .bind(new.year_units as i32)
            .bind(s.elder_id)
            .bind(rule.as_str())
            .bind(old.year)
            .bind(old.month as i32)
            .bind(old.month_fen.0)
            .bind(old.year_fen.0)
            .bind(old.month_units as i32)
            .bind(old.year_units as i32)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
            None => sqlx::query(
                "INSERT INTO rule_usage (elder_id, rule_code, year, month, month_fen, year_fen, month_units, \
                 year_units) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (elder_id, rule_code) DO NOTHING",
            )
            .bind(s.elder_id)
            .bind(rule.as_str())
            .bind(new.year)
            .bind(new.month as i32)
            .bind(new.month_fen.0)
            .bind(new.year_fen.0)
            .bind(new.month_units as i32)
            .bind(new.year_units as i32)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
        };
        if n == 0 {
            return Err(stale());
        }
    }
    Ok(())
}

async fn insert_settlement(tx: &mut Tx, s: &NewSettlement, now: i64, actor: Actor) -> Result<i64> {
    use chrono::Datelike;
    let existing: Option<i64> =
        sqlx::query_scalar("SELECT id FROM settlements WHERE kind = $1 AND ref_id = $2")
            .bind(s.kind.as_str())
            .bind(s.ref_id)
            .fetch_optional(&mut **tx)
            .await?;
    if existing.is_some() {
        return Err(StoreError::Conflict(FieldError::new(
            "settlement",
            "already_settled",
            "该订单已结算",
            "already settled",
        )));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO settlements (kind, ref_id, elder_id, provider_id, caregiver_id, region_code, category, \
         service_date, year, month, price_fen, split_json, trace_json, input_json, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
    )
    .bind(s.kind.as_str())
    .bind(s.ref_id)
    .bind(s.elder_id)
    .bind(s.provider_id)
    .bind(s.caregiver_id)
    .bind(&s.region_code)
    .bind(s.category.as_str())
    .bind(date_text(s.date))
    .bind(s.date.year())
    .bind(s.date.month() as i32)
    .bind(s.split.price.0)
    .bind(to_json(&s.split))
    .bind(to_json(&s.trace))
    .bind(to_json(&s.input))
    .bind(now)
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::from_db)?;
    let after = serde_json::json!({
        "kind": s.kind.as_str(),
        "ref_id": s.ref_id,
        "elder_id": s.elder_id,
        "split": s.split,
        "debits": s.debits,
    });
    audit(tx, now, actor, "settle", "settlement", id, None, Some(after.to_string())).await?;
    Ok(id)
}

#[async_trait]
impl SettlementStore for SqlStore {
    async fn rule_book(&self) -> Result<RuleBook> {
        let rows =
            sqlx::query("SELECT region_prefix, rules_json FROM settlement_rules ORDER BY region_prefix")
                .fetch_all(&self.pool)
                .await?;
        let mut book = RuleBook::default();
        for r in rows {
            let prefix: String = r.try_get("region_prefix")?;
            let rules: String = r.try_get("rules_json")?;
            book.regions.push(RegionRules {
                region_prefix: RegionPrefix::parse("region_prefix", &prefix)
                    .map_err(|e| corrupt("settlement_rules", e))?,
                rules: serde_json::from_str(&rules).map_err(|e| corrupt("settlement_rules", e))?,
            });
        }
        Ok(book)
    }

    async fn put_region_rules(&self, rules: &RegionRules, actor: Actor) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let before: Option<String> =
            sqlx::query_scalar("SELECT rules_json FROM settlement_rules WHERE region_prefix = $1")
                .bind(rules.region_prefix.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO settlement_rules (region_prefix, rules_json, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (region_prefix) DO UPDATE SET rules_json = excluded.rules_json, \
             updated_at = excluded.updated_at, version = settlement_rules.version + 1",
        )
        .bind(rules.region_prefix.as_str())
        .bind(to_json(&rules.rules))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let key = if rules.region_prefix.as_str().is_empty() { "*" } else { rules.region_prefix.as_str() };
        audit(&mut tx, now, actor, "put_rules", "settlement_rules", key, before, Some(to_json(&rules.rules)))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pools(&self) -> Result<Vec<Pool>> {
        sqlx::query_as::<_, PoolDbRow>(&format!("SELECT {POOL_COLUMNS} FROM funding_pools ORDER BY code"))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(PoolDbRow::into_pool)
            .collect()
    }

    async fn fund_pool(
        &self,
        code: &PoolCode,
        name: &str,
        region_prefix: &RegionPrefix,
        top_up_fen: i64,
        actor: Actor,
    ) -> Result<Pool> {
        if top_up_fen < 0 {
            return Err(StoreError::invalid(
                "top_up",
                "out_of_range",
                "充值金额不能为负",
                "a top-up cannot be negative",
            ));
        }
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let before: Option<i64> = sqlx::query_scalar("SELECT balance_fen FROM funding_pools WHERE code = $1")
            .bind(code.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO funding_pools (code, name, region_prefix, balance_fen, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, region_prefix = excluded.region_prefix, \
             balance_fen = funding_pools.balance_fen + excluded.balance_fen, updated_at = excluded.updated_at",
        )
        .bind(code.as_str())
        .bind(name)
        .bind(region_prefix.as_str())
        .bind(top_up_fen)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let pool = fetch_one::<PoolDbRow, _, _>(&mut *tx, code.as_str().to_string()).await?;
        audit(
            &mut tx,
            now,
            actor,
            "fund",
            "funding_pool",
            code.as_str(),
            before.map(|b| serde_json::json!({ "balance_fen": b }).to_string()),
            Some(
                serde_json::json!({ "balance_fen": pool.balance_fen, "top_up_fen": top_up_fen }).to_string(),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(pool)
    }

    async fn balances(&self, elder_id: i64, pools: &[PoolCode], rules: &[RuleCode]) -> Result<Balances> {
        let card: i64 = sqlx::query_scalar("SELECT card_balance_fen FROM elders WHERE id = $1")
            .bind(elder_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound { entity: "elder" })?;
        let mut b = Balances { card: Fen(card), ..Default::default() };
        if !pools.is_empty() {
            let mut qb =
                QueryBuilder::<Db>::new(format!("SELECT {POOL_COLUMNS} FROM funding_pools WHERE code IN ("));
            let mut sep = qb.separated(", ");
            for p in pools {
                sep.push_bind(p.as_str().to_string());
            }
            qb.push(")");
            for p in qb.build_query_as::<PoolDbRow>().fetch_all(&self.pool).await? {
                let p = p.into_pool()?;
                b.pools.insert(p.code, Fen(p.balance_fen));
            }
        }
        if !rules.is_empty() {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT rule_code, year, month, month_fen, year_fen, month_units, year_units FROM rule_usage \
                 WHERE elder_id = ",
            );
            qb.push_bind(elder_id).push(" AND rule_code IN (");
            let mut sep = qb.separated(", ");
            for r in rules {
                sep.push_bind(r.as_str().to_string());
            }
            qb.push(")");
            for u in qb.build_query_as::<UsageDbRow>().fetch_all(&self.pool).await? {
                let (rule, usage) = u.into_usage()?;
                b.usage.insert(rule, usage);
            }
        }
        Ok(b)
    }

    async fn elder_lists(&self, elder_id: i64) -> Result<Vec<ElderCategory>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT category FROM elder_lists WHERE elder_id = $1 ORDER BY category")
                .bind(elder_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|c| ElderCategory::parse_label(c).ok_or_else(|| corrupt("elder_lists", c))).collect()
    }

    async fn set_elder_lists(&self, elder_id: i64, lists: &[ElderCategory], actor: Actor) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        fetch_elder(&mut *tx, elder_id).await?;
        let before: Vec<String> =
            sqlx::query_scalar("SELECT category FROM elder_lists WHERE elder_id = $1 ORDER BY category")
                .bind(elder_id)
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM elder_lists WHERE elder_id = $1").bind(elder_id).execute(&mut *tx).await?;
        let mut after: Vec<&str> = lists.iter().map(|c| c.as_str()).collect();
        after.sort_unstable();
        after.dedup();
        for c in &after {
            sqlx::query("INSERT INTO elder_lists (elder_id, category, added_at) VALUES ($1, $2, $3)")
                .bind(elder_id)
                .bind(*c)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        audit(
            &mut tx,
            now,
            actor,
            "set_lists",
            "elder",
            elder_id,
            Some(to_json(&before)),
            Some(to_json(&after)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn elders_on_list(&self, list: ElderCategory, region_prefix: Option<&str>) -> Result<Vec<i64>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT l.elder_id FROM elder_lists l JOIN elders e ON e.id = l.elder_id WHERE l.category = ",
        );
        qb.push_bind(list.as_str());
        if let Some(p) = region_prefix {
            qb.push(" AND e.region_code LIKE ").push_bind(format!("{p}%"));
        }
        qb.push(" ORDER BY l.elder_id");
        Ok(qb.build_query_scalar::<i64>().fetch_all(&self.pool).await?)
    }

    #[allow(clippy::too_many_arguments)]
    async fn settle_order(
        &self,
        id: i64,
        expected_version: i64,
        expected_state: OrderState,
        order: &Order,
        next_due_at: Option<i64>,
        event: &OrderEventInput,
        settlement: &NewSettlement,
        read: &Balances,
    ) -> Result<OrderRow> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        // Lock order: the order, the elder's card, the pools, the usage rows.
        update_order_in(&mut tx, id, expected_version, expected_state, order, next_due_at, now).await?;
        apply_debits(&mut tx, settlement, read, now).await?;
        insert_settlement(&mut tx, settlement, now, event.actor).await?;
        let from = expected_state.as_str();
        insert_order_event(&mut tx, id, now, from, order.state.as_str(), event).await?;
        let (before, after) = order_audit(from, order, event);
        audit(&mut tx, now, event.actor, &event.action, "order", id, before, after).await?;
        let row = fetch_one::<OrderDbRow, _, _>(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn settle_meal(
        &self,
        id: i64,
        expected_version: i64,
        meal: &MealOrder,
        settlement: &NewSettlement,
        read: &Balances,
        actor: Actor,
    ) -> Result<MealOrderRow> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        // A refused save is `Stale` like a refused guard (the version is not read again).
        let json = to_json(meal);
        save_versioned::<Db>(&mut *tx, &SAVE_MEAL, id, expected_version, Some(-1), |q| {
            q.bind(meal.state.as_str()).bind(json).bind(now)
        })
        .await?;
        apply_debits(&mut tx, settlement, read, now).await?;
        insert_settlement(&mut tx, settlement, now, actor).await?;
        audit(
            &mut tx,
            now,
            actor,
            meal.state.as_str(),
            "meal_order",
            id,
            Some(serde_json::json!({ "state": "placed" }).to_string()),
            Some(serde_json::json!({ "state": meal.state, "split": settlement.split }).to_string()),
        )
        .await?;
        let row = fetch_one::<MealDbRow, _, _>(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn settlements(&self, f: &SettlementFilter) -> Result<Vec<SettlementRow>> {
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {SETTLEMENT_COLUMNS} FROM settlements WHERE TRUE"));
        if let Some(y) = f.year {
            qb.push(" AND year = ").push_bind(y);
        }
        if let Some(m) = f.month {
            qb.push(" AND month = ").push_bind(m as i32);
        }
        if let Some(e) = f.elder_id {
            qb.push(" AND elder_id = ").push_bind(e);
        }
        if let Some(p) = f.provider_id {
            qb.push(" AND provider_id = ").push_bind(p);
        }
        if let Some(p) = &f.region_prefix {
            qb.push(" AND region_code LIKE ").push_bind(format!("{p}%"));
        }
        if let Some(k) = f.kind {
            qb.push(" AND kind = ").push_bind(k.as_str());
        }
        qb.push(" ORDER BY service_date, id");
        qb.build_query_as::<SettlementDbRow>()
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(SettlementDbRow::into_row)
            .collect()
    }
}
