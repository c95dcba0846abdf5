//! Meals (助餐): menus per canteen and day, ordering until the cut-off (18:00 the day before
//! by default, in local time), dine-in or delivery, the price after subsidies, cancellation,
//! the central kitchen's production list, each station's delivery round in route order, and
//! meals-served counts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use zhulao_domain::error::{Errors, required_text};
use zhulao_domain::{Fen, FieldError, GeoPoint, code_enum};

use crate::catalogue::ServiceCategory;
use crate::codes::MenuCode;
use crate::dispatch::days;
use crate::error::{Refusal, refusal_display};
use crate::order::{ActorRole, OrderActor};
use crate::profile::ElderProfile;
use crate::settlement::{Balances, FundingSource, RuleBook, SettleInput, Settlement, SettlementError, Split};

code_enum! {
    /// Dietary tags on a dish.
    DishTag {
        LowSalt = ("low_salt", "低盐", "Low salt"),
        LowSugar = ("low_sugar", "低糖", "Low sugar"),
        LowFat = ("low_fat", "低脂", "Low fat"),
        Soft = ("soft", "软烂易嚼", "Soft"),
        Minced = ("minced", "细碎易吞咽", "Minced"),
        Halal = ("halal", "清真", "Halal"),
        Vegetarian = ("vegetarian", "素食", "Vegetarian"),
    }
}

code_enum! {
    MealSlot {
        Breakfast = ("breakfast", "早餐", "Breakfast"),
        Lunch = ("lunch", "午餐", "Lunch"),
        Dinner = ("dinner", "晚餐", "Dinner"),
    }
}

code_enum! {
    /// How the elder gets the meal.
    Fulfilment {
        DineIn = ("dine_in", "堂食", "Dine in"),
        Delivery = ("delivery", "送餐上门", "Delivered"),
    }
}

code_enum! {
    MealOrderState {
        Placed = ("placed", "已预订", "Placed"),
        Cancelled = ("cancelled", "已取消", "Cancelled"),
        Served = ("served", "已就餐", "Served"),
        Delivered = ("delivered", "已送达", "Delivered"),
        /// Not collected or nobody at the door.
        Missed = ("missed", "未取餐", "Missed"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dish {
    pub code: MenuCode,
    pub name_zh: String,
    #[serde(default)]
    pub tags: Vec<DishTag>,
}

/// One choice on a day's menu: a set meal (套餐) of dishes at one price.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MenuOption {
    pub code: MenuCode,
    pub name_zh: String,
    pub dishes: Vec<Dish>,
    /// Before subsidies.
    pub price: Fen,
}

impl MenuOption {
    /// The tags every dish of the set carries (a set is low-salt only if every dish is).
    pub fn tags(&self) -> BTreeSet<DishTag> {
        let mut it = self.dishes.iter().map(|d| d.tags.iter().copied().collect::<BTreeSet<_>>());
        let first = it.next().unwrap_or_default();
        it.fold(first, |acc, t| acc.intersection(&t).copied().collect())
    }
}

/// A canteen's menu for one meal of one day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Menu {
    pub canteen: i64,
    pub date: NaiveDate,
    pub slot: MealSlot,
    pub options: Vec<MenuOption>,
}

impl Menu {
    /// At least one option; option codes unique; every option with a name, dishes and a
    /// price between 0 and 1,000 yuan; a dish code means the same dish everywhere on the menu.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errs = Errors::default();
        if self.options.is_empty() {
            errs.push(FieldError::required("options"));
        }
        let mut codes = BTreeSet::new();
        let mut dishes: BTreeMap<&MenuCode, &Dish> = BTreeMap::new();
        for (i, o) in self.options.iter().enumerate() {
            let f = |n: &str| format!("options[{i}].{n}");
            if !codes.insert(&o.code) {
                errs.push(FieldError::new(f("code"), "duplicate", "套餐代码重复", "duplicate option code"));
            }
            errs.take(required_text(&f("name_zh"), &o.name_zh, 40));
            if o.dishes.is_empty() {
                errs.push(FieldError::required(&f("dishes")));
            }
            if o.price < Fen::ZERO || o.price > Fen(100_000) {
                errs.push(FieldError::new(
                    f("price"),
                    "out_of_range",
                    "价格应在0至1000元之间",
                    "price must be 0 to 1000 yuan",
                ));
            }
            for d in &o.dishes {
                if let Some(prev) = dishes.insert(&d.code, d)
                    && prev != d
                {
                    errs.push(FieldError::new(
                        f("dishes"),
                        "conflict",
                        "同一菜品代码对应不同菜品",
                        "one dish code, two dishes",
                    ));
                }
            }
        }
        errs.check()
    }

    pub fn option(&self, code: &MenuCode) -> Option<&MenuOption> {
        self.options.iter().find(|o| &o.code == code)
    }
}

/// Ordering rules; configurable per canteen or region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct MealPolicy {
    /// Orders for a day close at this local time …
    pub cutoff: NaiveTime,
    /// … this many days before (1: "by 18:00 for tomorrow").
    pub days_before: u32,
    /// Local time's offset from UTC in minutes (China: +480).
    pub utc_offset_min: i32,
    /// How many days ahead orders are taken.
    pub max_days_ahead: u32,
    /// Whether a meal not collected is still paid for (it was cooked).
    pub charge_missed: bool,
}

impl Default for MealPolicy {
    fn default() -> Self {
        MealPolicy {
            cutoff: NaiveTime::from_hms_opt(18, 0, 0).unwrap_or(NaiveTime::MIN),
            days_before: 1,
            utc_offset_min: 8 * 60,
            max_days_ahead: 7,
            charge_missed: true,
        }
    }
}

impl MealPolicy {
    /// The offset is within ±18 hours, orders close at most 30 days ahead of the meal and are
    /// taken at most 60 days ahead.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errs = Errors::default();
        if self.utc_offset_min.abs() > 18 * 60 {
            errs.push(FieldError::new(
                "utc_offset_min",
                "out_of_range",
                "时区偏移应在±18小时以内",
                "the UTC offset must be within ±18 hours",
            ));
        }
        if self.days_before > 30 {
            errs.push(FieldError::new(
                "days_before",
                "out_of_range",
                "截止天数最多30天",
                "at most 30 days before",
            ));
        }
        if self.max_days_ahead > 60 || self.max_days_ahead < self.days_before {
            errs.push(FieldError::new(
                "max_days_ahead",
                "out_of_range",
                "可提前订餐天数应在截止天数与60天之间",
                "the look-ahead must be between the days before the cut-off and 60",
            ));
        }
        errs.check()
    }

    /// Local time's offset; an offset outside ±18 hours (refused by [`Self::validate`])
    /// counts as UTC.
    fn offset(&self) -> FixedOffset {
        self.utc_offset_min
            .checked_mul(60)
            .and_then(FixedOffset::east_opt)
            .unwrap_or(FixedOffset::east_opt(0).expect("zero offset"))
    }

    /// The local date at `now`.
    pub fn local_date(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.offset()).date_naive()
    }

    /// The cut-off for `date` in local time.
    pub fn local_cutoff_for(&self, date: NaiveDate) -> NaiveDateTime {
        (date - days(self.days_before)).and_time(self.cutoff)
    }

    /// Orders for `date` are open strictly before this instant.
    pub fn cutoff_for(&self, date: NaiveDate) -> DateTime<Utc> {
        let local = self.local_cutoff_for(date);
        // A fixed offset maps every local time to exactly one instant.
        self.offset()
            .from_local_datetime(&local)
            .single()
            .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
    }

    /// Whether orders for `date` are open at `now`: strictly before the cut-off, and not more
    /// than `max_days_ahead` days ahead.
    pub fn check_open(&self, date: NaiveDate, now: DateTime<Utc>) -> Result<(), MealError> {
        let cutoff = self.cutoff_for(date);
        if now >= cutoff {
            return Err(MealError::TooLate { date, cutoff, local: self.local_cutoff_for(date) });
        }
        let today = self.local_date(now);
        if date > today + days(self.max_days_ahead) {
            return Err(MealError::TooFarAhead { max_days: self.max_days_ahead });
        }
        Ok(())
    }
}

/// Where a delivered meal goes.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryTo {
    /// The station or meal point whose round delivers it.
    pub station: i64,
    pub position: GeoPoint,
}

/// One elder's meal for one slot of one day.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MealOrder {
    pub elder: i64,
    pub canteen: i64,
    pub date: NaiveDate,
    pub slot: MealSlot,
    pub option: MenuCode,
    /// The menu price, before subsidies.
    pub price: Fen,
    pub fulfilment: Fulfilment,
    pub delivery: Option<DeliveryTo>,
    pub state: MealOrderState,
    pub placed_by: OrderActor,
    pub placed_at: DateTime<Utc>,
    /// The estimate shown when ordering ([`quote`]): what the elder will pay.
    pub quote: Option<Split>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
    /// The settlement, once served, delivered (or missed, when missed meals are charged).
    pub settlement: Option<Split>,
}

/// What an elder (or someone for them) asks for.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MealRequest {
    pub elder: i64,
    pub option: MenuCode,
    pub fulfilment: Fulfilment,
    pub delivery: Option<DeliveryTo>,
    pub by: OrderActor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MealError {
    /// Orders for `date` closed at `cutoff` (`local`: the same instant in local time).
    TooLate {
        date: NaiveDate,
        cutoff: DateTime<Utc>,
        local: NaiveDateTime,
    },
    TooFarAhead {
        max_days: u32,
    },
    NotOnMenu,
    NoDeliveryAddress,
    NotPermitted {
        role: ActorRole,
    },
    WrongState {
        state: MealOrderState,
    },
    /// Served, delivered or missed only on the day of the meal.
    NotToday,
    /// Served is for dine-in, delivered for delivery.
    WrongFulfilment,
    SplitMismatch,
    Settlement(SettlementError),
}

impl Refusal for MealError {
    fn code(&self) -> &'static str {
        match self {
            MealError::TooLate { .. } => "meal_too_late",
            MealError::TooFarAhead { .. } => "meal_too_far_ahead",
            MealError::NotOnMenu => "meal_not_on_menu",
            MealError::NoDeliveryAddress => "meal_no_delivery_address",
            MealError::NotPermitted { .. } => "meal_not_permitted",
            MealError::WrongState { .. } => "meal_wrong_state",
            MealError::NotToday => "meal_not_today",
            MealError::WrongFulfilment => "meal_wrong_fulfilment",
            MealError::SplitMismatch => "meal_split_mismatch",
            MealError::Settlement(e) => e.code(),
        }
    }
    fn zh(&self) -> String {
        match self {
            MealError::TooLate { date, local, .. } => {
                format!("{date}的订餐已于{}截止", local.format("%-m月%-d日 %H:%M"))
            }
            MealError::TooFarAhead { max_days } => format!("最多可提前{max_days}天订餐"),
            MealError::NotOnMenu => "当天菜单上没有这个套餐".into(),
            MealError::NoDeliveryAddress => "送餐上门需要送餐站点和地址".into(),
            MealError::NotPermitted { role } => format!("{}不能为老人订餐", role.label_zh()),
            MealError::WrongState { state } => format!("订餐当前为“{}”，不能执行此操作", state.label_zh()),
            MealError::NotToday => "只能在就餐当天操作".into(),
            MealError::WrongFulfilment => "就餐方式不符".into(),
            MealError::SplitMismatch => "结算金额与餐费不符".into(),
            MealError::Settlement(e) => e.zh(),
        }
    }
    fn en(&self) -> String {
        match self {
            MealError::TooLate { date, local, .. } => {
                format!("orders for {date} closed at {} local time", local.format("%Y-%m-%d %H:%M"))
            }
            MealError::TooFarAhead { max_days } => {
                format!("meals can be ordered at most {max_days} days ahead")
            }
            MealError::NotOnMenu => "that option is not on the day's menu".into(),
            MealError::NoDeliveryAddress => "delivery needs a station and a position".into(),
            MealError::NotPermitted { role } => {
                format!("a {} may not order meals for an elder", role.label_en())
            }
            MealError::WrongState { state } => {
                format!("not possible on a meal order that is {}", state.as_str())
            }
            MealError::NotToday => "only on the day of the meal".into(),
            MealError::WrongFulfilment => "wrong way of serving for this order".into(),
            MealError::SplitMismatch => "the split does not match the meal's price".into(),
            MealError::Settlement(e) => e.en(),
        }
    }
}

refusal_display!(MealError);

/// What a meal costs `elder` after subsidies, donations and the card, with the region's
/// rules (see [`crate::settlement`]): the charity list eats free where a donation rule
/// covers it.
pub fn quote(
    rules: &RuleBook,
    elder: &ElderProfile,
    price: Fen,
    date: NaiveDate,
    balances: &Balances,
) -> Result<Settlement, SettlementError> {
    rules.settle(&SettleInput {
        price,
        service: ServiceCategory::Meals,
        item: None,
        elder: elder.clone(),
        date,
        balances: balances.clone(),
    })
}

impl MealOrder {
    /// Places an order on `menu` at `now`, if orders for the menu's day are still open.
    /// `quote` is the estimate to show ([`quote`]).
    pub fn place(
        menu: &Menu,
        req: &MealRequest,
        quote: Option<Split>,
        now: DateTime<Utc>,
        policy: &MealPolicy,
    ) -> Result<MealOrder, MealError> {
        if !(req.by.role.is_elder_side() || matches!(req.by.role, ActorRole::Operator | ActorRole::Station)) {
            return Err(MealError::NotPermitted { role: req.by.role });
        }
        policy.check_open(menu.date, now)?;
        let option = menu.option(&req.option).ok_or(MealError::NotOnMenu)?;
        if req.fulfilment == Fulfilment::Delivery && req.delivery.is_none() {
            return Err(MealError::NoDeliveryAddress);
        }
        Ok(MealOrder {
            elder: req.elder,
            canteen: menu.canteen,
            date: menu.date,
            slot: menu.slot,
            option: option.code.clone(),
            price: option.price,
            fulfilment: req.fulfilment,
            delivery: if req.fulfilment == Fulfilment::Delivery { req.delivery } else { None },
            state: MealOrderState::Placed,
            placed_by: req.by,
            placed_at: now,
            quote,
            cancelled_at: None,
            done_at: None,
            settlement: None,
        })
    }

    /// Cancels before the cut-off (after it, the meal is being cooked).
    pub fn cancel(
        &mut self,
        by: OrderActor,
        now: DateTime<Utc>,
        policy: &MealPolicy,
    ) -> Result<(), MealError> {
        if !(by.role.is_elder_side() || by.role.is_staff()) {
            return Err(MealError::NotPermitted { role: by.role });
        }
        if self.state != MealOrderState::Placed {
            return Err(MealError::WrongState { state: self.state });
        }
        policy.check_open(self.date, now).or_else(|e| match e {
            // The look-ahead limit does not apply to cancelling.
            MealError::TooFarAhead { .. } => Ok(()),
            e => Err(e),
        })?;
        self.state = MealOrderState::Cancelled;
        self.cancelled_at = Some(now);
        Ok(())
    }

    /// The elder ate at the canteen, was handed the meal, or did not turn up — on the day.
    pub fn finish(
        &mut self,
        outcome: MealOrderState,
        now: DateTime<Utc>,
        policy: &MealPolicy,
    ) -> Result<(), MealError> {
        if self.state != MealOrderState::Placed {
            return Err(MealError::WrongState { state: self.state });
        }
        if policy.local_date(now) != self.date {
            return Err(MealError::NotToday);
        }
        match (outcome, self.fulfilment) {
            (MealOrderState::Served, Fulfilment::DineIn)
            | (MealOrderState::Delivered, Fulfilment::Delivery)
            | (MealOrderState::Missed, _) => {}
            (MealOrderState::Served | MealOrderState::Delivered, _) => {
                return Err(MealError::WrongFulfilment);
            }
            _ => return Err(MealError::WrongState { state: self.state }),
        }
        self.state = outcome;
        self.done_at = Some(now);
        Ok(())
    }

    /// Whether the meal is to be settled: served, delivered, or missed when missed meals are
    /// charged; and not settled yet.
    pub fn due_for_settlement(&self, policy: &MealPolicy) -> bool {
        self.settlement.is_none()
            && match self.state {
                MealOrderState::Served | MealOrderState::Delivered => true,
                MealOrderState::Missed => policy.charge_missed,
                _ => false,
            }
    }

    /// Records the settlement (computed with [`quote`] and applied to the balances).
    pub fn record_settlement(&mut self, split: Split, policy: &MealPolicy) -> Result<(), MealError> {
        if !self.due_for_settlement(policy) {
            return Err(MealError::WrongState { state: self.state });
        }
        if split.price != self.price || split.total() != self.price {
            return Err(MealError::SplitMismatch);
        }
        self.settlement = Some(split);
        Ok(())
    }
}

/// How many portions of one dish.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DishCount {
    pub name_zh: String,
    pub tags: Vec<DishTag>,
    pub portions: u32,
}

/// What one canteen must have ready.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CanteenProduction {
    pub meals: u32,
    pub dine_in: u32,
    pub delivery: u32,
    pub by_option: BTreeMap<MenuCode, u32>,
    pub by_dish: BTreeMap<MenuCode, DishCount>,
    /// Orders whose option is not (any longer) on the menu: to be sorted out by hand.
    pub unmatched: u32,
}

/// The central kitchen's production list for one meal of one day: per canteen, and the
/// kitchen's total per dish.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductionList {
    pub date: NaiveDate,
    pub slot: Option<MealSlot>,
    pub canteens: BTreeMap<i64, CanteenProduction>,
    pub total_by_dish: BTreeMap<MenuCode, u32>,
    pub total_meals: u32,
}

/// Aggregates the placed (not cancelled) orders for `date` and `slot` against the menus.
pub fn production_list<'a>(
    menus: &[Menu],
    orders: impl IntoIterator<Item = &'a MealOrder>,
    date: NaiveDate,
    slot: MealSlot,
) -> ProductionList {
    let mut list = ProductionList { date, slot: Some(slot), ..ProductionList::default() };
    let live = |o: &&MealOrder| o.date == date && o.slot == slot && o.state != MealOrderState::Cancelled;
    for o in orders.into_iter().filter(live) {
        let c = list.canteens.entry(o.canteen).or_default();
        let menu = menus.iter().find(|m| m.canteen == o.canteen && m.date == date && m.slot == slot);
        let Some(option) = menu.and_then(|m| m.option(&o.option)) else {
            c.unmatched += 1;
            continue;
        };
        c.meals += 1;
        list.total_meals += 1;
        match o.fulfilment {
            Fulfilment::DineIn => c.dine_in += 1,
            Fulfilment::Delivery => c.delivery += 1,
        }
        *c.by_option.entry(option.code.clone()).or_default() += 1;
        for d in &option.dishes {
            c.by_dish
                .entry(d.code.clone())
                .or_insert_with(|| DishCount {
                    name_zh: d.name_zh.clone(),
                    tags: d.tags.clone(),
                    portions: 0,
                })
                .portions += 1;
            *list.total_by_dish.entry(d.code.clone()).or_default() += 1;
        }
    }
    list
}

/// One door on a delivery round.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stop {
    /// The meal order's id.
    pub order: i64,
    pub elder: i64,
    pub position: GeoPoint,
}

/// A delivery round from a station, in visiting order.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Route {
    pub stops: Vec<Stop>,
    /// Straight-line length from the start through every stop, in metres.
    pub distance_m: u32,
}

/// Improves an open path (its first point fixed) by 2-opt moves, in bounded passes.
fn two_opt(path: &mut [usize], d: &impl Fn(usize, usize) -> f64) {
    const EPS: f64 = 1e-6;
    let n = path.len() - 1;
    for _ in 0..100 {
        let mut improved = false;
        for i in 1..n {
            for j in i + 1..=n {
                let before = d(path[i - 1], path[i]) + if j < n { d(path[j], path[j + 1]) } else { 0.0 };
                let after = d(path[i - 1], path[j]) + if j < n { d(path[i], path[j + 1]) } else { 0.0 };
                if after + EPS < before {
                    path[i..=j].reverse();
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
}

/// Orders `stops` into a round from `start`: nearest neighbour first (ties to the lower order
/// id), then 2-opt (reverse a stretch while that shortens the round; the round ends at its
/// last door); 2-opt from the doors' own order too, and the shorter wins, so a round is never
/// longer than taking the doors in order. Deterministic: the same stops in any input order give the same round.
pub fn plan_route(start: GeoPoint, mut stops: Vec<Stop>) -> Route {
    stops.sort_by_key(|s| (s.order, s.elder));
    let n = stops.len();
    // points[0] is the start, points[i + 1] is stops[i].
    let points: Vec<GeoPoint> = std::iter::once(start).chain(stops.iter().map(|s| s.position)).collect();
    let d = |a: usize, b: usize| points[a].distance_m(points[b]);
    let mut path = vec![0usize];
    let mut left: Vec<usize> = (1..=n).collect();
    while !left.is_empty() {
        let here = *path.last().expect("path starts with the start");
        let (k, _) = left
            .iter()
            .enumerate()
            .map(|(k, p)| (k, d(here, *p)))
            .fold((0, f64::INFINITY), |best, (k, dist)| if dist < best.1 { (k, dist) } else { best });
        path.push(left.remove(k));
    }
    // 2-opt on the open path from the nearest-neighbour tour and from the doors' own order;
    // the shorter wins (so a route is never longer than taking the doors in order).
    let mut in_order: Vec<usize> = (0..=n).collect();
    two_opt(&mut path, &d);
    two_opt(&mut in_order, &d);
    let len = |p: &[usize]| p.windows(2).map(|w| d(w[0], w[1])).sum::<f64>();
    if len(&in_order) + 1e-6 < len(&path) {
        path = in_order;
    }
    let length: f64 = path.windows(2).map(|w| d(w[0], w[1])).sum();
    Route {
        stops: path[1..].iter().map(|p| stops[p - 1]).collect(),
        distance_m: length.round().clamp(0.0, u32::MAX as f64) as u32,
    }
}

/// Each station's delivery round for `date` and `slot`: the placed delivery orders (with
/// their ids) grouped by station, routed from the station's position. Stations missing from
/// `stations` route from their first stop.
pub fn delivery_lists<'a>(
    stations: &BTreeMap<i64, GeoPoint>,
    orders: impl IntoIterator<Item = (i64, &'a MealOrder)>,
    date: NaiveDate,
    slot: MealSlot,
) -> BTreeMap<i64, Route> {
    let mut by_station: BTreeMap<i64, Vec<Stop>> = BTreeMap::new();
    for (id, o) in orders {
        if o.date != date || o.slot != slot || o.state == MealOrderState::Cancelled {
            continue;
        }
        if let (Fulfilment::Delivery, Some(to)) = (o.fulfilment, o.delivery) {
            by_station.entry(to.station).or_default().push(Stop {
                order: id,
                elder: o.elder,
                position: to.position,
            });
        }
    }
    by_station
        .into_iter()
        .map(|(station, stops)| {
            let start = stations
                .get(&station)
                .copied()
                .or_else(|| stops.iter().min_by_key(|s| s.order).map(|s| s.position));
            (station, start.map_or_else(Route::default, |s| plan_route(s, stops)))
        })
        .collect()
}

/// Meals counted by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MealCounts {
    /// Every order not cancelled.
    pub ordered: u32,
    pub cancelled: u32,
    pub served: u32,
    pub delivered: u32,
    pub missed: u32,
    /// Served or delivered meals the elder paid nothing for (card included): the charity list.
    pub free: u32,
}

impl MealCounts {
    /// Meals that reached an elder.
    pub fn eaten(&self) -> u32 {
        self.served + self.delivered
    }
}

/// Counts per canteen over `from..=to`, and in all.
pub fn meal_counts<'a>(
    orders: impl IntoIterator<Item = &'a MealOrder>,
    from: NaiveDate,
    to: NaiveDate,
) -> (BTreeMap<i64, MealCounts>, MealCounts) {
    let mut per: BTreeMap<i64, MealCounts> = BTreeMap::new();
    let mut all = MealCounts::default();
    for o in orders.into_iter().filter(|o| o.date >= from && o.date <= to) {
        for c in [per.entry(o.canteen).or_default(), &mut all] {
            match o.state {
                MealOrderState::Cancelled => c.cancelled += 1,
                s => {
                    c.ordered += 1;
                    match s {
                        MealOrderState::Served => c.served += 1,
                        MealOrderState::Delivered => c.delivered += 1,
                        MealOrderState::Missed => c.missed += 1,
                        _ => {}
                    }
                    let eaten = matches!(s, MealOrderState::Served | MealOrderState::Delivered);
                    let elder_paid = o.settlement.as_ref().map(|sp| {
                        sp.amount(FundingSource::OwnPayment).0 + sp.amount(FundingSource::ServiceCard).0
                    });
                    if eaten && elder_paid == Some(0) {
                        c.free += 1;
                    }
                }
            }
        }
    }
    (per, all)
}
