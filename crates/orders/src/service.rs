//! `Orders`: every order step is load → pure transition (`Order::apply`) → conditional save
//! (version and state) → effects, retried on a concurrent change; timers and unfinished
//! settlements are picked up from `next_due_at` by `tick`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use zhulao_domain::{FieldError, GeoPoint};
use zhulao_response::{LiveEvent, LiveHub};
use zhulao_services::dispatch::{Caregiver, Window, best_candidate, distance_m, eligible};
use zhulao_services::order::{
    ActorRole, NewOrder, Notice, NoticeRecipient, Order, OrderAction, OrderActor, OrderChannel, OrderCommand,
    OrderEffect, OrderError, OrderState, Schedule,
};
use zhulao_services::quality::{ComplaintCase, ComplaintCommand, ComplaintKind, quality_score};
use zhulao_services::{Catalogue, ServiceCode, SkillCode};
use zhulao_store::{
    CaregiverRow, Clock, ComplaintRow, NewPhoto, OrderEventInput, OrderRow, Store, StoreError,
};

use crate::config::ServicesConfig;
use crate::error::{ServiceError, ServiceResult};

/// Concurrent-change retries for one step.
pub(crate) const RETRIES: usize = 8;
/// A settlement that failed is tried again this much later.
const SETTLE_RETRY_MS: i64 = 10 * 60 * 1000;

pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The service layer for home-care services: orders, dispatch, complaints, settlement, meals
/// and the time bank, over the store, with a live feed for consoles and phones.
pub struct Orders {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: ServicesConfig,
    pub(crate) hub: LiveHub,
}

impl std::fmt::Debug for Orders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orders").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The store's own clock, shared.
#[derive(Debug)]
struct StoreClock(Arc<dyn Store>);

impl Clock for StoreClock {
    fn now_ms(&self) -> i64 {
        self.0.clock().now_ms()
    }
}

/// What to create.
#[derive(Debug, Clone)]
pub struct CreateOrder {
    pub elder_id: i64,
    pub item: ServiceCode,
    pub schedule: Schedule,
    pub channel: OrderChannel,
    pub note: String,
    /// Put it on offer at once (the usual case).
    pub publish: bool,
}

/// An order on offer to a caregiver, and how far it is.
#[derive(Debug, Clone)]
pub struct Offered {
    pub row: OrderRow,
    pub distance_m: u32,
    pub radius_m: u32,
}

pub(crate) fn to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub(crate) fn store_actor(a: &OrderActor) -> zhulao_store::Actor {
    match a.role {
        ActorRole::System | ActorRole::Elder => zhulao_store::Actor::SYSTEM,
        _ => zhulao_store::Actor::account(a.id),
    }
}

/// When the order next needs the timer loop: its next timer, or — confirmed and not yet
/// settled — at once (so a settlement interrupted by a crash is finished after a restart).
pub fn due_at(o: &Order) -> Option<i64> {
    let timer = o.next_due().map(|(t, _)| t.timestamp_millis());
    let settle = (matches!(o.state, OrderState::Completed | OrderState::Rated) && o.settlement.is_none())
        .then_some(o.confirmed_at)
        .flatten()
        .map(|t| t.timestamp_millis());
    match (timer, settle) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A refused order step, with the grab that came too late made plain.
fn order_refusal(e: OrderError) -> ServiceError {
    match e {
        OrderError::Invalid(f) => ServiceError::field(f),
        OrderError::WrongState { action: OrderAction::Grab, state } if state != OrderState::Created => {
            ServiceError::refuse(
                "order_already_taken",
                format!("手慢了，该订单已被其他助老员接单或已不再派单（当前状态：{}）", state.label_zh()),
                format!("too late: the order is no longer on offer (it is {})", state.as_str()),
            )
        }
        e => ServiceError::refused(&e),
    }
}

impl Orders {
    pub fn new(store: Arc<dyn Store>, config: ServicesConfig, hub: LiveHub) -> Arc<Self> {
        let clock = Arc::new(StoreClock(store.clone()));
        Self::with_clock(store, clock, config, hub)
    }

    /// With its own clock (the demo loader plays a day back in time; tests share the store's
    /// manual clock).
    pub fn with_clock(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: ServicesConfig,
        hub: LiveHub,
    ) -> Arc<Self> {
        Arc::new(Orders { store, clock, config, hub })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn config(&self) -> &ServicesConfig {
        &self.config
    }

    pub fn hub(&self) -> &LiveHub {
        &self.hub
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        to_time(self.now_ms())
    }

    /// Stores the built-in catalogue items that are not stored yet (at start-up).
    pub async fn ensure_catalogue(&self) -> ServiceResult<usize> {
        let items = zhulao_services::catalogue::default_items();
        Ok(self.store.seed_service_items(&items, zhulao_store::Actor::SYSTEM).await?)
    }

    pub async fn catalogue(&self) -> ServiceResult<Catalogue> {
        Ok(self.store.catalogue().await?)
    }

    /// Creates an order for an elder (and publishes it, usually). `by` is who places it.
    pub async fn create(&self, by: OrderActor, req: CreateOrder) -> ServiceResult<OrderRow> {
        let elder = self.store.elder(req.elder_id).await?;
        let home = elder.record.location.ok_or_else(|| {
            ServiceError::field(FieldError::new(
                "elder_id",
                "no_home_location",
                "老人住址没有经纬度，无法派单，请先补充住址坐标",
                "the elder's home has no coordinates; add them before ordering",
            ))
        })?;
        if elder.status != zhulao_domain::ElderStatus::Active {
            return Err(ServiceError::field(FieldError::new(
                "elder_id",
                "elder_inactive",
                "该老人已迁出或已故",
                "the elder has moved away or died",
            )));
        }
        let catalogue = self.store.catalogue().await?;
        let quote = catalogue.quote(&req.item, &elder.record.region).ok_or_else(|| {
            ServiceError::field(FieldError::new(
                "item",
                "unknown_item",
                format!("没有可预订的服务项目“{}”", req.item),
                format!("there is no active service item '{}'", req.item),
            ))
        })?;
        let now = self.now();
        let input = NewOrder::from_quote(
            &quote,
            elder.id,
            elder.record.region.clone(),
            home,
            by,
            req.channel,
            req.schedule,
            &req.note,
        );
        let policy = self.config.order_policy(&elder.record.region);
        let mut order = Order::new(input, policy, now).map_err(order_refusal)?;
        let actor = store_actor(&by);
        let mut events = vec![OrderEventInput {
            actor,
            actor_role: by.role.as_str().into(),
            action: OrderAction::Create.as_str().into(),
            detail: serde_json::json!({ "channel": req.channel, "schedule": req.schedule }),
        }];
        let mut fx = Vec::new();
        if req.publish {
            fx = order.apply(&OrderCommand::Publish { by }, now).map_err(order_refusal)?;
            events.push(OrderEventInput {
                actor,
                actor_role: by.role.as_str().into(),
                action: OrderAction::Publish.as_str().into(),
                detail: serde_json::json!({ "effects": fx }),
            });
        }
        let row = self.store.create_order(&order, due_at(&order), &events).await?;
        self.publish(&row, "created");
        self.run_effects(&row, fx).await;
        Ok(row)
    }

    pub async fn order(&self, id: i64) -> ServiceResult<OrderRow> {
        Ok(self.store.order(id).await?)
    }

    /// Applies one step by `by`, retried against fresh state on a concurrent change, and
    /// runs its effects once it is committed.
    pub async fn act(&self, id: i64, by: OrderActor, cmd: OrderCommand) -> ServiceResult<OrderRow> {
        self.act_with(id, by, cmd, Vec::new()).await
    }

    /// [`Self::act`] with photos stored in the same transaction (check-out).
    pub async fn act_with(
        &self,
        id: i64,
        by: OrderActor,
        cmd: OrderCommand,
        photos: Vec<NewPhoto>,
    ) -> ServiceResult<OrderRow> {
        for _ in 0..RETRIES {
            let row = self.store.order(id).await?;
            let now = self.now();
            let mut order = row.order.clone();
            let fx = order.apply(&cmd, now).map_err(order_refusal)?;
            let event = OrderEventInput {
                actor: store_actor(&by),
                actor_role: by.role.as_str().into(),
                action: cmd.action().as_str().into(),
                detail: serde_json::json!({
                    "effects": fx,
                    "note": order.history.last().map(|h| h.note.clone()).unwrap_or_default(),
                }),
            };
            match self
                .store
                .save_order(id, row.version, row.order.state, &order, due_at(&order), &event, &photos)
                .await
            {
                Ok(saved) => {
                    self.publish(&saved, cmd.action().as_str());
                    self.run_effects(&saved, fx).await;
                    return Ok(saved);
                }
                Err(StoreError::Stale { .. }) => continue,
                Err(StoreError::Conflict(f)) => {
                    return Err(ServiceError::Refused { code: f.code, zh: f.zh, en: f.en });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::refuse(
            "order_busy",
            "订单正在被其他人同时修改，请稍后重试",
            "the order is being changed by someone else; try again",
        ))
    }

    /// A caregiver as dispatch sees them now: skills from the account, duty and a position
    /// no older than the configured limit, the windows of what they hold, their score.
    pub async fn caregiver(&self, account_id: i64) -> ServiceResult<Caregiver> {
        let row = self.store.caregiver(account_id).await?;
        if row.account.role != zhulao_domain::Role::Caregiver {
            return Err(ServiceError::field(FieldError::new(
                "caregiver_id",
                "not_a_caregiver",
                "该账号不是助老员",
                "the account is not a caregiver",
            )));
        }
        Ok(self.to_caregiver(&row))
    }

    pub(crate) fn to_caregiver(&self, c: &CaregiverRow) -> Caregiver {
        let now = self.now_ms();
        let ttl = i64::from(self.config.position_ttl_min) * 60_000;
        Caregiver {
            id: c.account.id,
            skills: c.account.skills.iter().filter_map(|s| SkillCode::parse("skills", s).ok()).collect(),
            on_duty: c.on_duty && c.account.active,
            position: c.position.filter(|_| c.position_at.is_some_and(|t| now - t <= ttl)),
            commitments: c
                .commitments
                .iter()
                .map(|(s, e)| Window { start: to_time(*s), end: to_time(*e) })
                .collect(),
            quality_milli: c.quality_milli,
        }
    }

    /// A caregiver grabs an order on offer (抢单). Of any number of concurrent grabs exactly
    /// one wins; the others get `order_already_taken`.
    pub async fn grab(&self, id: i64, caregiver_id: i64) -> ServiceResult<OrderRow> {
        let caregiver = self.caregiver(caregiver_id).await?;
        self.act(id, OrderActor::new(ActorRole::Caregiver, caregiver_id), OrderCommand::Grab { caregiver })
            .await
    }

    /// Staff (or the system) assign a caregiver.
    pub async fn assign(&self, id: i64, caregiver_id: i64, by: OrderActor) -> ServiceResult<OrderRow> {
        let caregiver = self.caregiver(caregiver_id).await?;
        self.act(id, by, OrderCommand::Assign { caregiver, by }).await
    }

    /// The orders on offer to this caregiver now (eligible: on duty, qualified, free, inside
    /// the current radius), nearest first.
    pub async fn nearby(&self, caregiver_id: i64) -> ServiceResult<Vec<Offered>> {
        let cg = self.caregiver(caregiver_id).await?;
        let Some(at) = cg.position else { return Ok(Vec::new()) };
        let now = self.now();
        let rows = self.store.orders_on_offer_near(at, self.config.max_radius_m(), 500).await?;
        let mut out: Vec<Offered> = rows
            .into_iter()
            .filter(|r| eligible(&r.order, &cg, now).is_ok())
            .map(|r| Offered {
                distance_m: distance_m(r.order.home, at),
                radius_m: r.order.offer_radius(now),
                row: r,
            })
            .collect();
        out.sort_by_key(|o| (o.distance_m, o.row.id));
        Ok(out)
    }

    /// A caregiver's phone: on or off duty, and where they are.
    pub async fn report_caregiver(
        &self,
        account_id: i64,
        on_duty: bool,
        position: Option<GeoPoint>,
    ) -> ServiceResult<()> {
        Ok(self
            .store
            .report_caregiver(account_id, on_duty, position, zhulao_store::Actor::account(account_id))
            .await?)
    }

    // -------------------------------------------------------------------------------------
    // Live feed

    pub(crate) fn publish(&self, row: &OrderRow, change: &str) {
        let o = &row.order;
        self.hub.publish(LiveEvent {
            topic: "order",
            region_code: o.region.as_str().to_string(),
            elder_id: Some(o.elder),
            responder_id: o.caregiver,
            at: row.updated_at,
            data: order_summary(row, change),
        });
    }

    fn notify(&self, row: &OrderRow, to: NoticeRecipient, notice: Notice) {
        let o = &row.order;
        let (elder_id, responder_id, region) = match to {
            NoticeRecipient::Caregiver { id } => (None, Some(id), String::new()),
            NoticeRecipient::Requester => (Some(o.elder), None, String::new()),
            NoticeRecipient::Station | NoticeRecipient::Operators => {
                (None, None, o.region.as_str().to_string())
            }
        };
        self.hub.publish(LiveEvent {
            topic: "order_notice",
            region_code: region,
            elder_id,
            responder_id,
            at: self.now_ms(),
            data: serde_json::json!({
                "order_id": row.id,
                "to": to,
                "notice": notice,
                "message": notice.label_zh(),
                "message_en": notice.label_en(),
            }),
        });
    }

    // -------------------------------------------------------------------------------------
    // Effects

    /// Carries out what a committed step asks for. Failures are logged: the step stands.
    pub(crate) fn run_effects<'a>(&'a self, row: &'a OrderRow, fx: Vec<OrderEffect>) -> BoxFut<'a, ()> {
        Box::pin(async move {
            for e in fx {
                let result: ServiceResult<()> = match e {
                    OrderEffect::Offer { radius_m, exclude } => self.offer(row, radius_m, &exclude).await,
                    OrderEffect::Withdraw => {
                        self.publish(row, "withdrawn");
                        Ok(())
                    }
                    OrderEffect::Notify { to, notice } => {
                        self.notify(row, to, notice);
                        Ok(())
                    }
                    // Contact visibility follows the order's state (`Order::may_see_contact`).
                    OrderEffect::GrantContact { .. } | OrderEffect::RevokeContact { .. } => Ok(()),
                    OrderEffect::AutoAssign { radius_m, exclude } => {
                        self.auto_assign(row, radius_m, &exclude).await
                    }
                    OrderEffect::OpenComplaint { kind, caregiver } => {
                        self.open_complaint(row, kind, caregiver).await
                    }
                    OrderEffect::ReadyToSettle => self.settle_order(row.id).await.map(|_| ()),
                    OrderEffect::RescoreCaregiver { caregiver } => self.rescore(caregiver).await,
                };
                if let Err(err) = result {
                    tracing::warn!(order = row.id, error = %err, "order effect failed");
                }
            }
        })
    }

    async fn candidates(
        &self,
        row: &OrderRow,
        radius_m: u32,
        exclude: &[i64],
    ) -> ServiceResult<Vec<Caregiver>> {
        let fresh = self.now_ms() - i64::from(self.config.position_ttl_min) * 60_000;
        let rows = self.store.caregivers_near(row.order.home, radius_m, fresh, 2000).await?;
        Ok(rows.iter().filter(|c| !exclude.contains(&c.account.id)).map(|c| self.to_caregiver(c)).collect())
    }

    /// Shows the order to every eligible caregiver within the radius (their phones' feed).
    async fn offer(&self, row: &OrderRow, radius_m: u32, exclude: &[i64]) -> ServiceResult<()> {
        let now = self.now();
        let o = &row.order;
        for c in self.candidates(row, radius_m, exclude).await? {
            if eligible(o, &c, now).is_err() {
                continue;
            }
            let distance = c.position.map(|p| distance_m(o.home, p));
            self.hub.publish(LiveEvent {
                topic: "order_offer",
                region_code: o.region.as_str().to_string(),
                elder_id: None,
                responder_id: Some(c.id),
                at: self.now_ms(),
                data: serde_json::json!({
                    "order_id": row.id,
                    "item": o.item,
                    "category": o.category,
                    "price_fen": o.price.0,
                    "schedule": o.schedule,
                    "distance_m": distance,
                    "radius_m": radius_m,
                }),
            });
        }
        Ok(())
    }

    async fn auto_assign(&self, row: &OrderRow, radius_m: u32, exclude: &[i64]) -> ServiceResult<()> {
        let candidates = self.candidates(row, radius_m, exclude).await?;
        let now = self.now();
        match best_candidate(&row.order, &candidates, now) {
            Some(id) => {
                let caregiver = candidates.into_iter().find(|c| c.id == id).expect("ranked from these");
                let system = OrderActor::system();
                self.act(row.id, system, OrderCommand::Assign { caregiver, by: system }).await.map(|_| ())
            }
            None => {
                self.notify(row, NoticeRecipient::Operators, Notice::Unanswered);
                Ok(())
            }
        }
    }

    async fn open_complaint(
        &self,
        row: &OrderRow,
        kind: ComplaintKind,
        caregiver: Option<i64>,
    ) -> ServiceResult<()> {
        let note = row.order.complaints.last().ok_or(ServiceError::NotFound("complaint"))?;
        let (case, _) = ComplaintCase::open(
            Some(row.id),
            row.order.elder,
            caregiver,
            kind,
            &note.text,
            note.by,
            self.config.complaints,
            self.now(),
        )
        .map_err(|e| ServiceError::refused(&e))?;
        let due = case.next_due().map(|(t, _)| t.timestamp_millis());
        let saved =
            self.store.create_complaint(&case, row.order.region.as_str(), due, store_actor(&note.by)).await?;
        self.publish_complaint(&saved, "opened");
        Ok(())
    }

    /// Recomputes a caregiver's quality score from the last `quality_window_days`.
    pub async fn rescore(&self, caregiver: i64) -> ServiceResult<()> {
        let since = self.now_ms() - i64::from(self.config.quality_window_days) * 86_400_000;
        let inputs = self.store.quality_inputs(caregiver, since).await?;
        let score = quality_score(&inputs, &self.config.quality);
        self.store.set_caregiver_quality(caregiver, score, zhulao_store::Actor::SYSTEM).await?;
        Ok(())
    }

    // -------------------------------------------------------------------------------------
    // Complaints

    pub(crate) fn publish_complaint(&self, row: &ComplaintRow, change: &str) {
        self.hub.publish(LiveEvent {
            topic: "complaint",
            region_code: row.region_code.clone(),
            elder_id: Some(row.case.elder),
            responder_id: None,
            at: row.updated_at,
            data: serde_json::json!({
                "id": row.id,
                "order_id": row.case.order,
                "state": row.case.state,
                "kind": row.case.kind,
                "deadline": row.case.deadline,
                "change": change,
            }),
        });
    }

    /// One step on a complaint case, versioned like an order step.
    pub async fn complaint_step(&self, id: i64, cmd: ComplaintCommand) -> ServiceResult<ComplaintRow> {
        let (by, action) = match &cmd {
            ComplaintCommand::Accept { by } => (*by, "accept"),
            ComplaintCommand::Resolve { by, .. } => (*by, "resolve"),
            ComplaintCommand::Reopen { by, .. } => (*by, "reopen"),
            ComplaintCommand::Close { by } => (*by, "close"),
            ComplaintCommand::Withdraw { by } => (*by, "withdraw"),
        };
        for _ in 0..RETRIES {
            let row = self.store.complaint(id).await?;
            let mut case = row.case.clone();
            let fx = case.apply(&cmd, self.now()).map_err(|e| match e {
                zhulao_services::quality::ComplaintError::Invalid(f) => ServiceError::field(f),
                e => ServiceError::refused(&e),
            })?;
            let due = case.next_due().map(|(t, _)| t.timestamp_millis());
            match self.store.save_complaint(id, row.version, &case, due, action, store_actor(&by)).await {
                Ok(saved) => {
                    self.publish_complaint(&saved, action);
                    for e in fx {
                        if let zhulao_services::quality::ComplaintEffect::RescoreCaregiver { caregiver } = e
                            && let Err(err) = self.rescore(caregiver).await
                        {
                            tracing::warn!(complaint = id, error = %err, "rescore failed");
                        }
                    }
                    return Ok(saved);
                }
                Err(StoreError::Stale { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::refuse(
            "complaint_busy",
            "投诉正在被他人处理，请重试",
            "the complaint is being changed; retry",
        ))
    }

    // -------------------------------------------------------------------------------------
    // Timers

    /// Fires every order and complaint timer due now and finishes settlements a crash
    /// interrupted. Returns how many records were advanced. Another instance firing the same
    /// timer first is not an error: its version wins and this one skips.
    pub async fn tick(&self) -> ServiceResult<usize> {
        let now_ms = self.now_ms();
        let now = to_time(now_ms);
        let mut advanced = 0;
        for row in self.store.due_orders(now_ms, 200).await? {
            let o = &row.order;
            let settle_due = matches!(o.state, OrderState::Completed | OrderState::Rated)
                && o.settlement.is_none()
                && o.confirmed_at.is_some_and(|t| t <= now);
            let mut order = o.clone();
            let fired = order.fire_due(now);
            if fired.is_empty() {
                if settle_due {
                    match self.settle_order(row.id).await {
                        Ok(_) => advanced += 1,
                        Err(e) => {
                            tracing::warn!(order = row.id, error = %e, "settlement failed; retrying later");
                            self.store
                                .defer_order(row.id, Some(now_ms + SETTLE_RETRY_MS), "settlement_failed")
                                .await?;
                        }
                    }
                } else if row.next_due_at != due_at(o) {
                    // A stale due time: put the right one (or none) back.
                    self.store.defer_order(row.id, due_at(o), "recomputed").await?;
                }
                continue;
            }
            let timers: Vec<_> = fired.iter().map(|(t, _)| *t).collect();
            let fx: Vec<OrderEffect> = fired.into_iter().flat_map(|(_, fx)| fx).collect();
            let event = OrderEventInput {
                actor: zhulao_store::Actor::SYSTEM,
                actor_role: ActorRole::System.as_str().into(),
                action: "timer".into(),
                detail: serde_json::json!({ "timers": timers, "effects": fx }),
            };
            match self
                .store
                .save_order(row.id, row.version, o.state, &order, due_at(&order), &event, &[])
                .await
            {
                Ok(saved) => {
                    advanced += 1;
                    self.publish(&saved, "timer");
                    self.run_effects(&saved, fx).await;
                }
                Err(StoreError::Stale { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        for row in self.store.due_complaints(now_ms, 200).await? {
            let mut case = row.case.clone();
            let fired = case.fire_due(now);
            let due = case.next_due().map(|(t, _)| t.timestamp_millis());
            if fired.is_empty() {
                continue;
            }
            match self
                .store
                .save_complaint(row.id, row.version, &case, due, "timer", zhulao_store::Actor::SYSTEM)
                .await
            {
                Ok(saved) => {
                    advanced += 1;
                    self.publish_complaint(&saved, "timer");
                }
                Err(StoreError::Stale { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(advanced)
    }

    /// Runs [`Self::tick`] until `shutdown` resolves: every `period`, sooner when an order
    /// is due sooner.
    pub async fn run_timers(self: Arc<Self>, period: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "order timers: tick failed");
            }
            let wait = match self.store.next_order_due().await {
                Ok(Some(due)) => {
                    Duration::from_millis((due - self.now_ms()).clamp(10, period.as_millis() as i64) as u64)
                }
                _ => period,
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// What a console needs about an order: no names, phones or addresses.
pub fn order_summary(row: &OrderRow, change: &str) -> serde_json::Value {
    let o = &row.order;
    serde_json::json!({
        "id": row.id,
        "state": o.state,
        "state_zh": o.state.label_zh(),
        "item": o.item,
        "category": o.category,
        "elder_id": o.elder,
        "region_code": o.region.as_str(),
        "caregiver_id": o.caregiver,
        "price_fen": o.price.0,
        "schedule": o.schedule,
        "escalated": o.dispatch.escalated,
        "version": row.version,
        "change": change,
    })
}
