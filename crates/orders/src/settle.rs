//! Settlement of service orders and meals with the region's rule book, applied to the
//! balances with guarded updates (a refused guard means: read again, settle again), and the
//! statements folded from what was settled: monthly per elder, provider and funding source,
//! and each caregiver's pay.

use chrono::{Datelike, FixedOffset, NaiveDate, TimeZone};
use zhulao_domain::Elder;
use zhulao_services::order::{ActorRole, OrderAction, OrderCommand, OrderState};
use zhulao_services::pay::{PayRecord, PayStatement, pay_statement};
use zhulao_services::profile::ElderProfile;
use zhulao_services::settlement::{
    Balances, MonthlyStatement, Rule, RuleBook, SettleInput, SettledOrder, Settlement, default_rules,
    monthly_statement, settle,
};
use zhulao_services::{PoolCode, RuleCode};
use zhulao_store::{NewSettlement, OrderEventInput, OrderRow, SettlementFilter, SettlementKind, StoreError};

use crate::error::{ServiceError, ServiceResult};
use crate::service::{Orders, due_at};

/// Settlements retried from fresh balances before giving up (the timer loop tries again
/// later): many orders of one elder settling at once each move the card.
const SETTLE_RETRIES: usize = 25;

/// The pools and rule codes a rule list reads.
pub(crate) fn reads(rules: &[Rule]) -> (Vec<PoolCode>, Vec<RuleCode>) {
    let mut pools: Vec<PoolCode> = rules.iter().filter_map(|r| r.draws_on().cloned()).collect();
    pools.sort();
    pools.dedup();
    let mut codes: Vec<RuleCode> = rules.iter().map(|r| r.code.clone()).collect();
    codes.sort();
    codes.dedup();
    (pools, codes)
}

impl Orders {
    /// The rule book in force: the stored one, or the built-in defaults when none is stored.
    pub async fn rule_book(&self) -> ServiceResult<RuleBook> {
        let book = self.store.rule_book().await?;
        Ok(if book.regions.is_empty() { default_rules() } else { book })
    }

    pub(crate) fn offset(&self) -> FixedOffset {
        FixedOffset::east_opt(self.config.utc_offset_min.clamp(-18 * 60, 18 * 60) * 60)
            .unwrap_or(FixedOffset::east_opt(0).expect("zero"))
    }

    /// The elder as the funding rules see them on `day`.
    pub(crate) async fn profile(&self, elder: &Elder, day: NaiveDate) -> ServiceResult<ElderProfile> {
        let lists = self.store.elder_lists(elder.id).await?;
        Ok(ElderProfile::from_record(elder.id, &elder.record, day, lists))
    }

    /// Computes a settlement for `elder` from fresh balances.
    pub(crate) async fn compute(
        &self,
        elder: &Elder,
        make_input: impl Fn(ElderProfile, Balances) -> SettleInput,
        day: NaiveDate,
    ) -> ServiceResult<(SettleInput, Settlement)> {
        let book = self.rule_book().await?;
        let rules = book.rules_for(&elder.record.region);
        let (pools, codes) = reads(rules);
        let balances = self.store.balances(elder.id, &pools, &codes).await?;
        let profile = self.profile(elder, day).await?;
        let input = make_input(profile, balances);
        let s = settle(rules, &input).map_err(|e| ServiceError::refused(&e))?;
        Ok((input, s))
    }

    /// Settles a confirmed order: the split by the rules, the debits taken with guarded
    /// updates, the settlement recorded and the order moved to `settled`, in one
    /// transaction; retried from fresh balances when a guard refuses. Settling an order that
    /// is already settled returns it unchanged.
    pub async fn settle_order(&self, id: i64) -> ServiceResult<OrderRow> {
        for attempt in 0..SETTLE_RETRIES {
            if attempt > 0 {
                // Others are settling from the same balances: let them finish.
                tokio::time::sleep(std::time::Duration::from_millis(2 * attempt as u64)).await;
            }
            let row = self.store.order(id).await?;
            let o = &row.order;
            if o.state == OrderState::Settled || o.confirmed_at.is_none() {
                return Ok(row);
            }
            let elder = self.store.elder(o.elder).await?;
            let offset = self.config.utc_offset_min;
            let day = o.checked_out_at.unwrap_or(o.created_at).with_timezone(&self.offset()).date_naive();
            let (input, s) =
                self.compute(&elder, |p, b| SettleInput::for_order(o, p, offset, b), day).await?;
            let mut order = o.clone();
            let fx = order
                .apply(&OrderCommand::Settle { split: s.split.clone() }, self.now())
                .map_err(|e| ServiceError::refused(&e))?;
            let provider = match o.caregiver {
                Some(c) => self.store.account(c).await.ok().and_then(|a| a.facility_id),
                None => None,
            }
            .or(row.home_station_id)
            .unwrap_or(0);
            let record = NewSettlement {
                kind: SettlementKind::Service,
                ref_id: id,
                elder_id: o.elder,
                provider_id: provider,
                caregiver_id: o.caregiver,
                region_code: o.region.as_str().to_string(),
                category: o.category,
                date: input.date,
                split: s.split.clone(),
                trace: s.trace.clone(),
                debits: s.debits.clone(),
                input: input.clone(),
            };
            let event = OrderEventInput {
                actor: zhulao_store::Actor::SYSTEM,
                actor_role: ActorRole::System.as_str().into(),
                action: OrderAction::Settle.as_str().into(),
                detail: serde_json::json!({ "split": s.split, "effects": fx }),
            };
            match self
                .store
                .settle_order(
                    id,
                    row.version,
                    o.state,
                    &order,
                    due_at(&order),
                    &event,
                    &record,
                    &input.balances,
                )
                .await
            {
                Ok(saved) => {
                    self.publish(&saved, "settled");
                    self.run_effects(&saved, fx).await;
                    return Ok(saved);
                }
                Err(StoreError::Stale { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::refuse(
            "settlement_busy",
            "余额正在变动，结算稍后自动重试",
            "balances kept moving; the settlement will be retried",
        ))
    }

    /// A month's settled services and meals, optionally for one elder or provider, within a
    /// region.
    pub async fn monthly_statement(
        &self,
        year: i32,
        month: u32,
        elder_id: Option<i64>,
        provider_id: Option<i64>,
        region_prefix: Option<String>,
    ) -> ServiceResult<MonthlyStatement> {
        let rows = self
            .store
            .settlements(&SettlementFilter {
                year: Some(year),
                month: Some(month),
                elder_id,
                provider_id,
                region_prefix,
                kind: None,
            })
            .await?;
        let records: Vec<SettledOrder> = rows
            .into_iter()
            .map(|r| SettledOrder {
                order: r.ref_id,
                elder: r.elder_id,
                provider: r.provider_id,
                service: r.category,
                date: r.date,
                split: r.split,
            })
            .collect();
        Ok(monthly_statement(&records, year, month))
    }

    /// A caregiver's pay for a month: every order they completed (or missed) that month, by
    /// local date, with its rating and upheld complaints.
    pub async fn pay_statement(&self, caregiver: i64, year: i32, month: u32) -> ServiceResult<PayStatement> {
        let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(|| {
            ServiceError::field(zhulao_domain::FieldError::new(
                "month",
                "invalid_month",
                "月份无效",
                "invalid month",
            ))
        })?;
        let next = first.checked_add_months(chrono::Months::new(1)).unwrap_or(first);
        let at = |d: NaiveDate| {
            self.offset()
                .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
                .single()
                .map_or(0, |t| t.timestamp_millis())
        };
        let rows = self.store.caregiver_orders_ended(caregiver, at(first), at(next)).await?;
        let records: Vec<PayRecord> = rows
            .iter()
            .filter_map(|(row, upheld)| {
                let ended = row.order.ended_at?;
                let date = ended.with_timezone(&self.offset()).date_naive();
                PayRecord::from_order(row.id, &row.order, date, *upheld)
            })
            .collect();
        Ok(pay_statement(caregiver, &records, year, month, &self.config.pay))
    }
}

/// The local calendar month `(year, month)` of a date.
pub fn year_month(d: NaiveDate) -> (i32, u32) {
    (d.year(), d.month())
}
