//! Settlement: an order's price in integer fen split among funding sources by rules that are
//! data — government-purchased service quotas, subsidies, the village collective, donations,
//! the service card, the family and, always last, the elder's own payment — and the monthly
//! statements folded from settled orders.
//!
//! # The rules
//!
//! A [`RuleBook`] holds one ordered list of [`Rule`]s per region prefix; an elder's region
//! picks the list with the longest matching prefix (the lists do not inherit from each other,
//! so what applies is exactly what is written). The rules run in order over what is still
//! unpaid. Each rule that is in force on the service date, covers the service and fits the
//! elder's categories and age takes its [`Share`] (everything left, a percentage, or a fixed
//! amount), cut down by its [`Caps`] (per order, per elder per month and per year, in fen and
//! in units), by the balance of its funding pool, or by the service card's balance.
//!
//! # Rounding
//!
//! Percentages are in basis points and rounded **down to the fen**; whatever the rules leave
//! unpaid — including those rounding crumbs — is the elder's own payment. Nothing is ever
//! rounded up, so no funding source pays a fraction of a fen more than its rule says.
//!
//! # Invariants (property-tested)
//!
//! - the lines add up exactly to the price, and every line is positive;
//! - no balance goes negative: the card is never overdrawn, no pool pays more than it holds,
//!   no cap is exceeded ([`Balances::apply`] refuses debits computed from stale balances);
//! - the same input gives the same split, line for line (no clock, no hashing order, no
//!   floating point).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, FixedOffset, NaiveDate};
use zhulao_domain::error::Errors;
use zhulao_domain::{Fen, FieldError, RegionCode, code_enum};

use crate::catalogue::ServiceCategory;
use crate::codes::{PoolCode, RuleCode, ServiceCode};
use crate::error::{Refusal, refusal_display};
use crate::order::Order;
use crate::profile::{ElderCategory, ElderProfile};
use crate::region::{RegionPrefix, most_specific};

code_enum! {
    /// Who pays a line of a split.
    FundingSource {
        /// Services the government buys for listed elders (政府购买服务).
        GovPurchase = ("gov_purchase", "政府购买服务", "Government-purchased services"),
        /// Subsidies: hardship, disability, high age, meals (补贴).
        Subsidy = ("subsidy", "政府补贴", "Government subsidy"),
        /// The village collective (集体).
        Collective = ("collective", "集体", "Village collective"),
        /// Donations and charity funds (社会捐助).
        Donation = ("donation", "社会捐助", "Donations"),
        /// The elder's stored-value service card (服务卡).
        ServiceCard = ("service_card", "服务卡", "Service card"),
        /// The elder's children, billed separately (家庭).
        Family = ("family", "家庭", "Family"),
        /// What is left: the elder pays (个人自付).
        OwnPayment = ("own_payment", "个人自付", "Own payment"),
    }
}

/// How much of the order a rule wants to cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Share {
    /// Everything still unpaid.
    Full,
    /// A percentage in basis points (8000 = 80 %) of the price or of what is still unpaid,
    /// rounded down to the fen.
    Percent {
        basis_points: u32,
        #[serde(default)]
        of: Basis,
    },
    /// A fixed amount per order.
    Fixed { fen: Fen },
}

/// What a percentage is taken of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The order's price (so "30 % government, 20 % collective" means what it says).
    #[default]
    Price,
    /// What the earlier rules left unpaid.
    Remaining,
}

/// Limits on a rule, per elder where it says so; usage counts per rule code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Caps {
    pub per_order: Option<Fen>,
    /// Per elder per calendar month.
    pub per_month: Option<Fen>,
    /// Per elder per calendar year.
    pub per_year: Option<Fen>,
    /// Orders per elder per calendar month that this rule may pay towards.
    pub units_per_month: Option<u32>,
    /// Orders per elder per calendar year (a government quota of service units).
    pub units_per_year: Option<u32>,
}

/// Which elders and services a rule applies to. Empty lists put no condition.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Applies {
    /// The elder must be in every one of these categories …
    pub all_of: Vec<ElderCategory>,
    /// … and in at least one of these …
    pub any_of: Vec<ElderCategory>,
    /// … and in none of these.
    pub none_of: Vec<ElderCategory>,
    pub min_age: Option<u8>,
    pub max_age: Option<u8>,
    /// Service categories covered (empty: all).
    pub services: Vec<ServiceCategory>,
    /// Catalogue items covered (empty: all items of the covered categories).
    pub items: Vec<ServiceCode>,
}

impl Applies {
    pub fn covers_elder(&self, e: &ElderProfile) -> bool {
        self.all_of.iter().all(|c| e.has(*c))
            && (self.any_of.is_empty() || self.any_of.iter().any(|c| e.has(*c)))
            && !self.none_of.iter().any(|c| e.has(*c))
            && self.min_age.is_none_or(|a| e.age >= a)
            && self.max_age.is_none_or(|a| e.age <= a)
    }

    pub fn covers_service(&self, service: ServiceCategory, item: Option<&ServiceCode>) -> bool {
        (self.services.is_empty() || self.services.contains(&service))
            && (self.items.is_empty() || item.is_some_and(|i| self.items.contains(i)))
    }
}

/// One funding rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rule {
    /// Unique within its list; usage caps are counted per code.
    pub code: RuleCode,
    pub name_zh: String,
    #[serde(default)]
    pub name_en: String,
    pub source: FundingSource,
    #[serde(default)]
    pub applies: Applies,
    pub share: Share,
    #[serde(default)]
    pub caps: Caps,
    /// The pool this rule draws on (a budget, a charity fund); `None` when the source is
    /// billed rather than drawn from a balance (the family, a subsidy paid per claim). The
    /// service card always draws on the elder's card.
    #[serde(default)]
    pub pool: Option<PoolCode>,
    /// First day in force (inclusive).
    #[serde(default)]
    pub valid_from: Option<NaiveDate>,
    /// Last day in force (inclusive).
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
}

impl Rule {
    pub fn in_force(&self, date: NaiveDate) -> bool {
        self.valid_from.is_none_or(|d| date >= d) && self.valid_until.is_none_or(|d| date <= d)
    }

    /// The pool this rule draws on, if any (never for the service card).
    pub fn draws_on(&self) -> Option<&PoolCode> {
        if self.source == FundingSource::ServiceCard { None } else { self.pool.as_ref() }
    }
}

/// The rules of one region.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegionRules {
    pub region_prefix: RegionPrefix,
    pub rules: Vec<Rule>,
}

/// Every region's rules. Loaded from configuration (JSON or TOML) and checked with
/// [`RuleBook::validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleBook {
    pub regions: Vec<RegionRules>,
}

impl RuleBook {
    /// The rules for an elder in `region`: the list with the longest matching prefix; none
    /// (everything is the elder's own payment) when no prefix matches.
    pub fn rules_for(&self, region: &RegionCode) -> &[Rule] {
        most_specific(self.regions.iter().map(|r| (&r.region_prefix, r.rules.as_slice())), region)
            .unwrap_or(&[])
    }

    /// Settles with the rules of the elder's region.
    pub fn settle(&self, input: &SettleInput) -> Result<Settlement, SettlementError> {
        settle(self.rules_for(&input.elder.region), input)
    }

    /// Checks the whole book and reports every problem: prefixes unique, codes unique per
    /// list, percentages at most 100 %, amounts and caps not negative, periods in order, no
    /// rule for the own payment (it is the remainder), no pool on the service card.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errs = Errors::default();
        let mut prefixes = BTreeSet::new();
        for (ri, region) in self.regions.iter().enumerate() {
            if !prefixes.insert(region.region_prefix.as_str()) {
                errs.push(rule_error(
                    &format!("regions[{ri}].region_prefix"),
                    "重复的地区",
                    "duplicate region",
                ));
            }
            let mut codes = BTreeSet::new();
            for (i, rule) in region.rules.iter().enumerate() {
                let f = |name: &str| format!("regions[{ri}].rules[{i}].{name}");
                if rule.code.as_str() == FundingSource::OwnPayment.as_str() {
                    errs.push(rule_error(
                        &f("code"),
                        "该代码保留给个人自付",
                        "this code is reserved for the own payment",
                    ));
                }
                if !codes.insert(rule.code.as_str()) {
                    errs.push(rule_error(&f("code"), "规则代码重复", "duplicate rule code"));
                }
                if rule.name_zh.trim().is_empty() {
                    errs.push(FieldError::required(&f("name_zh")));
                }
                if rule.source == FundingSource::OwnPayment {
                    errs.push(rule_error(
                        &f("source"),
                        "个人自付是剩余部分，不能设为规则",
                        "the own payment is the remainder, not a rule",
                    ));
                }
                if rule.source == FundingSource::ServiceCard && rule.pool.is_some() {
                    errs.push(rule_error(
                        &f("pool"),
                        "服务卡规则不能指定资金池",
                        "a service-card rule draws on the card, not a pool",
                    ));
                }
                match rule.share {
                    Share::Percent { basis_points, .. } if basis_points == 0 || basis_points > 10_000 => errs
                        .push(rule_error(
                            &f("share"),
                            "比例应在0.01%至100%之间",
                            "a percentage is 1 to 10000 basis points",
                        )),
                    Share::Fixed { fen } if fen <= Fen::ZERO => errs.push(rule_error(
                        &f("share"),
                        "固定金额应大于0",
                        "a fixed amount must be positive",
                    )),
                    _ => {}
                }
                let c = rule.caps;
                if [c.per_order, c.per_month, c.per_year].iter().flatten().any(|v| *v < Fen::ZERO) {
                    errs.push(rule_error(&f("caps"), "限额不能为负", "caps cannot be negative"));
                }
                if let (Some(a), Some(b)) = (rule.valid_from, rule.valid_until)
                    && a > b
                {
                    errs.push(rule_error(
                        &f("valid_until"),
                        "结束日期早于开始日期",
                        "the period ends before it starts",
                    ));
                }
                if let (Some(a), Some(b)) = (rule.applies.min_age, rule.applies.max_age)
                    && a > b
                {
                    errs.push(rule_error(&f("applies"), "年龄范围无效", "invalid age range"));
                }
            }
        }
        errs.check()
    }
}

fn rule_error(field: &str, zh: &str, en: &str) -> FieldError {
    FieldError::new(field, "invalid_rule", zh, en)
}

/// One elder's use of one rule in a calendar month and year. Counters for another period
/// than the service date's are treated as zero, so a new month or year starts afresh even if
/// the store has not reset anything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    pub year: i32,
    pub month: u32,
    pub month_fen: Fen,
    pub year_fen: Fen,
    pub month_units: u32,
    pub year_units: u32,
}

impl Usage {
    /// Counts a settlement's use of the rule (saturating: stored counters near the limits
    /// of the integers must not panic).
    fn add(&mut self, d: &UsageDelta) {
        self.month_fen.0 = self.month_fen.0.saturating_add(d.fen.0);
        self.year_fen.0 = self.year_fen.0.saturating_add(d.fen.0);
        self.month_units = self.month_units.saturating_add(d.units);
        self.year_units = self.year_units.saturating_add(d.units);
    }

    /// The counters as they stand for `date`'s month and year.
    pub fn for_date(&self, date: NaiveDate) -> Usage {
        let (year, month) = (date.year(), date.month());
        if self.year != year {
            Usage { year, month, ..Usage::default() }
        } else if self.month != month {
            Usage { year, month, month_fen: Fen::ZERO, month_units: 0, ..*self }
        } else {
            *self
        }
    }
}

/// The balances a settlement reads: the elder's card, the pools, the elder's usage per rule.
/// Negative balances (which the store never holds) count as zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Balances {
    pub card: Fen,
    pub pools: BTreeMap<PoolCode, Fen>,
    pub usage: BTreeMap<RuleCode, Usage>,
}

/// What to add to one rule's usage, with the caps it must stay within.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageDelta {
    pub fen: Fen,
    pub units: u32,
    pub caps: Caps,
}

/// What a settlement takes from the balances. The store applies it in one transaction with
/// guarded updates (`card >= debit`, `pool >= debit`, `used + delta <= cap`); a guard that
/// fails means the balances moved since they were read: read them again and settle again.
/// [`Balances::apply`] is the same rule in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Debits {
    pub card: Fen,
    pub pools: BTreeMap<PoolCode, Fen>,
    pub usage: BTreeMap<RuleCode, UsageDelta>,
}

code_enum! {
    /// What cut a rule's share down.
    Limit {
        Remaining = ("remaining", "待付金额", "What was left to pay"),
        PerOrder = ("per_order", "单笔限额", "Per-order cap"),
        PerMonth = ("per_month", "月度限额", "Monthly cap"),
        PerYear = ("per_year", "年度限额", "Yearly cap"),
        UnitsPerMonth = ("units_per_month", "月度次数", "Monthly number of services"),
        UnitsPerYear = ("units_per_year", "年度次数", "Yearly number of services"),
        Pool = ("pool", "资金池余额", "Pool balance"),
        Card = ("card", "服务卡余额", "Card balance"),
    }
}

code_enum! {
    /// Why a rule did not apply.
    SkipReason {
        NotInForce = ("not_in_force", "规则不在有效期内", "Not in force on the service date"),
        ServiceNotCovered = ("service_not_covered", "服务不在规则范围内", "Service not covered"),
        NotEligible = ("not_eligible", "老人不符合条件", "Elder not eligible"),
        NothingLeft = ("nothing_left", "已无待付金额", "Nothing left to pay"),
    }
}

/// What one rule did, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RuleOutcome {
    /// The rule applied: it wanted `wanted` and paid `amount` (possibly zero), cut down by
    /// `limited_by`.
    Paid {
        wanted: Fen,
        amount: Fen,
        limited_by: Option<Limit>,
    },
    Skipped {
        reason: SkipReason,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleTrace {
    pub rule: RuleCode,
    pub outcome: RuleOutcome,
}

/// One line of a split.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SplitLine {
    pub source: FundingSource,
    /// The rule that paid it; `None` for the own payment.
    pub rule: Option<RuleCode>,
    pub pool: Option<PoolCode>,
    pub amount: Fen,
}

/// Who pays what of one price.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Split {
    pub price: Fen,
    pub lines: Vec<SplitLine>,
}

impl Split {
    pub fn total(&self) -> Fen {
        Fen(self.lines.iter().map(|l| l.amount.0).sum())
    }

    /// The amount per funding source.
    pub fn by_source(&self) -> BTreeMap<FundingSource, Fen> {
        let mut m = BTreeMap::new();
        for l in &self.lines {
            let e = m.entry(l.source).or_insert(Fen::ZERO);
            e.0 += l.amount.0;
        }
        m
    }

    pub fn amount(&self, source: FundingSource) -> Fen {
        Fen(self.lines.iter().filter(|l| l.source == source).map(|l| l.amount.0).sum())
    }

    /// What the elder pays out of pocket (the own payment; the card is counted separately).
    pub fn own_payment(&self) -> Fen {
        self.amount(FundingSource::OwnPayment)
    }
}

/// Everything a settlement depends on besides the rules. Stored with the result, it lets
/// anyone recompute the split.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SettleInput {
    pub price: Fen,
    pub service: ServiceCategory,
    pub item: Option<ServiceCode>,
    pub elder: ElderProfile,
    /// The local date of the service: rules' periods and usage months count by it.
    pub date: NaiveDate,
    pub balances: Balances,
}

impl SettleInput {
    /// The input for a completed order: its price, category and item, the service date being
    /// the local date (at `utc_offset_min`, China +480) of check-out — of creation if there
    /// was none.
    pub fn for_order(
        order: &Order,
        elder: ElderProfile,
        utc_offset_min: i32,
        balances: Balances,
    ) -> SettleInput {
        let at = order.checked_out_at.unwrap_or(order.created_at);
        let offset = utc_offset_min
            .checked_mul(60)
            .and_then(FixedOffset::east_opt)
            .unwrap_or(FixedOffset::east_opt(0).expect("zero offset"));
        SettleInput {
            price: order.price,
            service: order.category,
            item: Some(order.item.clone()),
            elder,
            date: at.with_timezone(&offset).date_naive(),
            balances,
        }
    }
}

/// A settlement: the split, what it takes from the balances, and what every rule did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Settlement {
    pub split: Split,
    pub debits: Debits,
    pub trace: Vec<RuleTrace>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettlementError {
    NegativePrice,
    /// Applying debits would overdraw a balance or exceed a cap: the balances changed since
    /// the split was computed.
    Overdrawn {
        what: String,
    },
}

impl Refusal for SettlementError {
    fn code(&self) -> &'static str {
        match self {
            SettlementError::NegativePrice => "settlement_negative_price",
            SettlementError::Overdrawn { .. } => "settlement_overdrawn",
        }
    }
    fn zh(&self) -> String {
        match self {
            SettlementError::NegativePrice => "订单价格不能为负".into(),
            SettlementError::Overdrawn { what } => format!("余额或额度不足（{what}），请按最新余额重新结算"),
        }
    }
    fn en(&self) -> String {
        match self {
            SettlementError::NegativePrice => "the price cannot be negative".into(),
            SettlementError::Overdrawn { what } => {
                format!("insufficient balance or cap ({what}); settle again with fresh balances")
            }
        }
    }
}

refusal_display!(SettlementError);

/// Splits `input.price` by `rules`, in order (see the module documentation for the rules,
/// the rounding and the invariants).
pub fn settle(rules: &[Rule], input: &SettleInput) -> Result<Settlement, SettlementError> {
    if input.price < Fen::ZERO {
        return Err(SettlementError::NegativePrice);
    }
    let price = input.price.0;
    let mut remaining = price;
    let mut lines = Vec::new();
    let mut trace = Vec::with_capacity(rules.len());
    let mut debits = Debits::default();
    for rule in rules {
        let outcome = if !rule.in_force(input.date) {
            RuleOutcome::Skipped { reason: SkipReason::NotInForce }
        } else if !rule.applies.covers_service(input.service, input.item.as_ref()) {
            RuleOutcome::Skipped { reason: SkipReason::ServiceNotCovered }
        } else if !rule.applies.covers_elder(&input.elder) {
            RuleOutcome::Skipped { reason: SkipReason::NotEligible }
        } else if remaining == 0 {
            RuleOutcome::Skipped { reason: SkipReason::NothingLeft }
        } else {
            let (wanted, amount, limited_by) = rule_amount(rule, price, remaining, input, &debits);
            if amount > 0 {
                remaining -= amount;
                lines.push(SplitLine {
                    source: rule.source,
                    rule: Some(rule.code.clone()),
                    pool: rule.draws_on().cloned(),
                    amount: Fen(amount),
                });
                if rule.source == FundingSource::ServiceCard {
                    debits.card.0 += amount;
                } else if let Some(pool) = rule.draws_on() {
                    debits.pools.entry(pool.clone()).or_insert(Fen::ZERO).0 += amount;
                }
                let d = debits.usage.entry(rule.code.clone()).or_insert(UsageDelta {
                    fen: Fen::ZERO,
                    units: 0,
                    caps: rule.caps,
                });
                d.fen.0 += amount;
                d.units += 1;
            }
            RuleOutcome::Paid { wanted: Fen(wanted), amount: Fen(amount), limited_by }
        };
        trace.push(RuleTrace { rule: rule.code.clone(), outcome });
    }
    if remaining > 0 {
        lines.push(SplitLine {
            source: FundingSource::OwnPayment,
            rule: None,
            pool: None,
            amount: Fen(remaining),
        });
    }
    Ok(Settlement { split: Split { price: input.price, lines }, debits, trace })
}

/// `(wanted, amount, limited_by)` for one applicable rule.
fn rule_amount(
    rule: &Rule,
    price: i64,
    remaining: i64,
    input: &SettleInput,
    taken: &Debits,
) -> (i64, i64, Option<Limit>) {
    let wanted = match rule.share {
        Share::Full => remaining,
        Share::Percent { basis_points, of } => {
            let base = match of {
                Basis::Price => price,
                Basis::Remaining => remaining,
            };
            // Rounded down to the fen (floor; both factors are non-negative).
            (i128::from(base) * i128::from(basis_points.min(10_000)) / 10_000) as i64
        }
        Share::Fixed { fen } => fen.0.max(0),
    };
    let mut amount = wanted;
    let mut limited_by = None;
    let mut cap = |available: i64, limit: Limit| {
        if available < amount {
            amount = available.max(0);
            limited_by = Some(limit);
        }
    };
    cap(remaining, Limit::Remaining);
    let c = &rule.caps;
    if let Some(v) = c.per_order {
        cap(v.0, Limit::PerOrder);
    }
    let mut used = input.balances.usage.get(&rule.code).map(|u| u.for_date(input.date)).unwrap_or_default();
    if let Some(d) = taken.usage.get(&rule.code) {
        // The same code twice in one list (refused by validation): count the first.
        used.add(d);
    }
    if let Some(v) = c.per_month {
        cap(v.0.saturating_sub(used.month_fen.0), Limit::PerMonth);
    }
    if let Some(v) = c.per_year {
        cap(v.0.saturating_sub(used.year_fen.0), Limit::PerYear);
    }
    if c.units_per_month.is_some_and(|n| used.month_units >= n) {
        cap(0, Limit::UnitsPerMonth);
    }
    if c.units_per_year.is_some_and(|n| used.year_units >= n) {
        cap(0, Limit::UnitsPerYear);
    }
    if rule.source == FundingSource::ServiceCard {
        cap(input.balances.card.0.max(0) - taken.card.0, Limit::Card);
    } else if let Some(pool) = rule.draws_on() {
        let held = input.balances.pools.get(pool).map_or(0, |f| f.0.max(0));
        let already = taken.pools.get(pool).map_or(0, |f| f.0);
        cap(held - already, Limit::Pool);
    }
    (wanted, amount, limited_by)
}

impl Balances {
    /// Takes `debits` off the balances for a service on `date`, or refuses — changing
    /// nothing — if the card or a pool would go negative or a cap would be exceeded (the
    /// debits were computed from balances that have moved since).
    pub fn apply(&mut self, debits: &Debits, date: NaiveDate) -> Result<(), SettlementError> {
        let over = |what: String| Err(SettlementError::Overdrawn { what });
        let negative = debits.card < Fen::ZERO
            || debits.pools.values().any(|d| *d < Fen::ZERO)
            || debits.usage.values().any(|d| d.fen < Fen::ZERO);
        if negative {
            return over("negative debit".into());
        }
        if debits.card.0 > 0 && debits.card.0 > self.card.0 {
            return over("service_card".into());
        }
        for (pool, d) in &debits.pools {
            if d.0 > 0 && d.0 > self.pools.get(pool).map_or(0, |f| f.0) {
                return over(format!("pool {pool}"));
            }
        }
        let mut usage = Vec::with_capacity(debits.usage.len());
        for (rule, d) in &debits.usage {
            let mut u = self
                .usage
                .get(rule)
                .map(|u| u.for_date(date))
                .unwrap_or_else(|| Usage::default().for_date(date));
            u.add(d);
            let c = d.caps;
            let exceeded = c.per_month.is_some_and(|v| u.month_fen > v)
                || c.per_year.is_some_and(|v| u.year_fen > v)
                || c.units_per_month.is_some_and(|n| u.month_units > n)
                || c.units_per_year.is_some_and(|n| u.year_units > n);
            if exceeded {
                return over(format!("rule {rule}"));
            }
            usage.push((rule.clone(), u));
        }
        self.card.0 -= debits.card.0;
        for (pool, d) in &debits.pools {
            if let Some(b) = self.pools.get_mut(pool) {
                b.0 -= d.0;
            }
        }
        self.usage.extend(usage);
        Ok(())
    }
}

/// A settled order, as the statements read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SettledOrder {
    pub order: i64,
    pub elder: i64,
    /// The organisation or station that provided the service.
    pub provider: i64,
    pub service: ServiceCategory,
    /// The local date of the service; statements count by it.
    pub date: NaiveDate,
    pub split: Split,
}

/// Orders and amounts per funding source.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Totals {
    pub orders: u32,
    pub total: Fen,
    pub by_source: BTreeMap<FundingSource, Fen>,
}

impl Totals {
    fn add(&mut self, split: &Split) {
        self.orders += 1;
        for l in &split.lines {
            self.total.0 += l.amount.0;
            self.by_source.entry(l.source).or_insert(Fen::ZERO).0 += l.amount.0;
        }
    }
}

/// A month's settled services: in all, per elder, per provider, per service category and
/// per rule (the own payment under `own_payment`). Every breakdown adds up to the total.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonthlyStatement {
    pub year: i32,
    pub month: u32,
    pub total: Totals,
    pub per_elder: BTreeMap<i64, Totals>,
    pub per_provider: BTreeMap<i64, Totals>,
    pub per_service: BTreeMap<ServiceCategory, Totals>,
    pub per_rule: BTreeMap<String, Fen>,
}

/// Folds the settled orders of `year`-`month` (others are ignored) into a statement.
pub fn monthly_statement<'a>(
    records: impl IntoIterator<Item = &'a SettledOrder>,
    year: i32,
    month: u32,
) -> MonthlyStatement {
    let mut s = MonthlyStatement { year, month, ..MonthlyStatement::default() };
    for r in records.into_iter().filter(|r| r.date.year() == year && r.date.month() == month) {
        s.total.add(&r.split);
        s.per_elder.entry(r.elder).or_default().add(&r.split);
        s.per_provider.entry(r.provider).or_default().add(&r.split);
        s.per_service.entry(r.service).or_default().add(&r.split);
        for l in &r.split.lines {
            let key = l.rule.as_ref().map_or(FundingSource::OwnPayment.as_str(), RuleCode::as_str);
            s.per_rule.entry(key.to_string()).or_insert(Fen::ZERO).0 += l.amount.0;
        }
    }
    s
}

/// The rules that apply where no region has its own: high-age allowance (80+: 5 yuan off
/// each order), hardship with disability (80 % up to 200 yuan a month), then the service
/// card. Regions write their own lists (see `rules/example.json` in this crate).
pub fn default_rules() -> RuleBook {
    RuleBook {
        regions: vec![RegionRules {
            region_prefix: RegionPrefix::everywhere(),
            rules: vec![
                Rule {
                    code: RuleCode::lit("hardship_disabled"),
                    name_zh: "经济困难失能老人服务补贴".into(),
                    name_en: "Subsidy for impaired elders in hardship".into(),
                    source: FundingSource::Subsidy,
                    applies: Applies {
                        all_of: vec![ElderCategory::Hardship, ElderCategory::Disabled],
                        ..Applies::default()
                    },
                    share: Share::Percent { basis_points: 8_000, of: Basis::Price },
                    caps: Caps { per_month: Some(Fen(20_000)), ..Caps::default() },
                    pool: None,
                    valid_from: None,
                    valid_until: None,
                },
                Rule {
                    code: RuleCode::lit("high_age"),
                    name_zh: "高龄老人服务补贴".into(),
                    name_en: "High-age service allowance".into(),
                    source: FundingSource::Subsidy,
                    applies: Applies { min_age: Some(80), ..Applies::default() },
                    share: Share::Fixed { fen: Fen(500) },
                    caps: Caps::default(),
                    pool: None,
                    valid_from: None,
                    valid_until: None,
                },
                Rule {
                    code: RuleCode::lit("service_card"),
                    name_zh: "服务卡支付".into(),
                    name_en: "Service card".into(),
                    source: FundingSource::ServiceCard,
                    applies: Applies::default(),
                    share: Share::Full,
                    caps: Caps::default(),
                    pool: None,
                    valid_from: None,
                    valid_until: None,
                },
            ],
        }],
    }
}
