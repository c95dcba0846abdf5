//! Caregiver pay: a base per order, time at an hourly rate, a bonus for good ratings and
//! penalties for low ratings, upheld complaints and no-shows — the seeds' "the caregiver's
//! bonus is set by the ratings" — and the monthly pay statement. Integer fen throughout.

use chrono::{Datelike, NaiveDate};
use zhulao_domain::Fen;

use crate::order::{NoShowParty, Order, OrderState};

/// Pay rates; configurable per provider or region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct PayPolicy {
    /// Per completed order.
    pub base_per_order: Fen,
    /// Per hour at the door, prorated by the minute and rounded down to the fen.
    pub per_hour: Fen,
    /// Paid time is capped at this share (percent) of the item's standard duration.
    pub max_paid_pct: u32,
    pub five_star_bonus: Fen,
    pub four_star_bonus: Fen,
    /// For a rating of one or two stars.
    pub low_rating_penalty: Fen,
    /// Per upheld complaint about the order.
    pub complaint_penalty: Fen,
    /// For not turning up.
    pub no_show_penalty: Fen,
}

impl Default for PayPolicy {
    fn default() -> Self {
        PayPolicy {
            base_per_order: Fen(1_000),
            per_hour: Fen(2_500),
            max_paid_pct: 150,
            five_star_bonus: Fen(500),
            four_star_bonus: Fen(200),
            low_rating_penalty: Fen(500),
            complaint_penalty: Fen(2_000),
            no_show_penalty: Fen(3_000),
        }
    }
}

/// One of the caregiver's orders, as pay reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PayRecord {
    pub order: i64,
    pub caregiver: i64,
    /// The local date of the service.
    pub date: NaiveDate,
    /// Minutes between check-in and check-out (0 for a no-show).
    pub served_min: u32,
    /// The item's standard duration.
    pub standard_min: u32,
    pub stars: Option<u8>,
    pub upheld_complaints: u32,
    /// The caregiver did not turn up.
    pub no_show: bool,
}

impl PayRecord {
    /// The pay record of a completed or missed order (`None` if nobody held it, or it is
    /// still in progress or was cancelled). `date` is the local service date;
    /// `upheld_complaints` comes from the order's complaint cases.
    pub fn from_order(id: i64, order: &Order, date: NaiveDate, upheld_complaints: u32) -> Option<PayRecord> {
        let caregiver = order.caregiver?;
        let no_show = order.no_show.as_ref().is_some_and(|n| n.party == NoShowParty::Caregiver);
        let served = matches!(order.state, OrderState::Completed | OrderState::Rated | OrderState::Settled);
        if !served && !no_show {
            return None;
        }
        Some(PayRecord {
            order: id,
            caregiver,
            date,
            served_min: order.served_min.unwrap_or(0),
            standard_min: order.duration_min,
            stars: order.rating.as_ref().map(|r| r.stars),
            upheld_complaints,
            no_show,
        })
    }
}

/// Pay for one order. `total` may be negative (penalties larger than the pay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PayLine {
    pub order: i64,
    pub date: NaiveDate,
    pub paid_min: u32,
    pub base: Fen,
    pub time: Fen,
    pub bonus: Fen,
    pub penalty: Fen,
    pub total: Fen,
}

/// The pay for one order.
pub fn pay_line(r: &PayRecord, p: &PayPolicy) -> PayLine {
    let (base, paid_min, time, bonus) = if r.no_show {
        (0, 0, 0, 0)
    } else {
        let cap = u64::from(r.standard_min) * u64::from(p.max_paid_pct) / 100;
        let paid_min = u64::from(r.served_min).min(cap);
        // Rounded down to the fen.
        let time = (i128::from(paid_min as i64) * i128::from(p.per_hour.0.max(0)) / 60) as i64;
        let bonus = match r.stars {
            Some(5) => p.five_star_bonus.0,
            Some(4) => p.four_star_bonus.0,
            _ => 0,
        };
        (p.base_per_order.0, paid_min as u32, time, bonus)
    };
    let mut penalty = i64::from(r.upheld_complaints).saturating_mul(p.complaint_penalty.0);
    if matches!(r.stars, Some(1 | 2)) {
        penalty = penalty.saturating_add(p.low_rating_penalty.0);
    }
    if r.no_show {
        penalty = penalty.saturating_add(p.no_show_penalty.0);
    }
    PayLine {
        order: r.order,
        date: r.date,
        paid_min,
        base: Fen(base),
        time: Fen(time),
        bonus: Fen(bonus),
        penalty: Fen(penalty),
        total: Fen(base.saturating_add(time).saturating_add(bonus).saturating_sub(penalty)),
    }
}

/// A caregiver's month.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PayStatement {
    pub caregiver: i64,
    pub year: i32,
    pub month: u32,
    /// In date order, then order id.
    pub lines: Vec<PayLine>,
    pub orders: u32,
    pub paid_min: u64,
    pub base: Fen,
    pub time: Fen,
    pub bonus: Fen,
    pub penalties: Fen,
    /// base + time + bonus − penalties.
    pub gross: Fen,
    /// The gross, but never below zero: penalties do not make a caregiver owe money.
    pub payable: Fen,
}

/// Folds the caregiver's records of `year`-`month` (others, and other caregivers', are
/// ignored) into the month's statement.
pub fn pay_statement<'a>(
    caregiver: i64,
    records: impl IntoIterator<Item = &'a PayRecord>,
    year: i32,
    month: u32,
    policy: &PayPolicy,
) -> PayStatement {
    let mut s = PayStatement { caregiver, year, month, ..PayStatement::default() };
    let mut lines: Vec<PayLine> = records
        .into_iter()
        .filter(|r| r.caregiver == caregiver && r.date.year() == year && r.date.month() == month)
        .map(|r| pay_line(r, policy))
        .collect();
    lines.sort_by_key(|l| (l.date, l.order));
    for l in &lines {
        if l.base.0 > 0 || l.time.0 > 0 {
            s.orders += 1;
        }
        s.paid_min += u64::from(l.paid_min);
        s.base.0 += l.base.0;
        s.time.0 += l.time.0;
        s.bonus.0 += l.bonus.0;
        s.penalties.0 += l.penalty.0;
        s.gross.0 += l.total.0;
    }
    s.payable = Fen(s.gross.0.max(0));
    s.lines = lines;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, d).unwrap()
    }
    fn rec(order: i64, d: u32, served: u32, stars: Option<u8>) -> PayRecord {
        PayRecord {
            order,
            caregiver: 7,
            date: day(d),
            served_min: served,
            standard_min: 60,
            stars,
            upheld_complaints: 0,
            no_show: false,
        }
    }

    #[test]
    fn a_line_pays_base_time_and_the_rating_bonus() {
        let p = PayPolicy::default();
        let l = pay_line(&rec(1, 1, 61, Some(5)), &p);
        // 61 minutes at 25 yuan an hour = 25.416… → 2541 fen (rounded down).
        assert_eq!(
            (l.base, l.time, l.bonus, l.penalty, l.total),
            (Fen(1000), Fen(2541), Fen(500), Fen(0), Fen(4041))
        );
        // Time is capped at 150 % of the standard duration.
        assert_eq!(pay_line(&rec(2, 1, 300, None), &p).paid_min, 90);
        let low = pay_line(&PayRecord { upheld_complaints: 1, ..rec(3, 1, 60, Some(1)) }, &p);
        assert_eq!((low.penalty, low.total), (Fen(2500), Fen(1000 + 2500 - 2500)));
        let missed = pay_line(&PayRecord { no_show: true, ..rec(4, 1, 0, None) }, &p);
        assert_eq!((missed.base, missed.time, missed.total), (Fen(0), Fen(0), Fen(-3000)));
    }

    #[test]
    fn the_month_adds_up_and_is_never_negative() {
        let p = PayPolicy::default();
        let records = vec![
            rec(3, 20, 60, Some(4)),
            rec(1, 2, 60, Some(5)),
            rec(9, 2, 60, None),
            PayRecord { caregiver: 8, ..rec(5, 3, 60, Some(5)) },
            PayRecord { date: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(), ..rec(6, 1, 60, Some(5)) },
        ];
        let s = pay_statement(7, &records, 2026, 5, &p);
        assert_eq!(s.lines.iter().map(|l| l.order).collect::<Vec<_>>(), vec![1, 9, 3]);
        assert_eq!(s.orders, 3);
        assert_eq!(s.base, Fen(3000));
        assert_eq!(s.time, Fen(7500));
        assert_eq!(s.bonus, Fen(700));
        assert_eq!(s.gross, Fen(11_200));
        assert_eq!(s.gross.0, s.lines.iter().map(|l| l.total.0).sum::<i64>());
        let bad = vec![PayRecord { no_show: true, ..rec(1, 1, 0, None) }];
        let s = pay_statement(7, &bad, 2026, 5, &p);
        assert_eq!((s.gross, s.payable, s.orders), (Fen(-3000), Fen(0), 0));
    }
}
