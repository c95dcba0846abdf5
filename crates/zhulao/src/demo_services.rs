//! Plays the demo district's home-care services through the ordinary service calls: prices,
//! the rule book and pools, the civil-affairs lists, caregivers on duty, menus, four days of
//! orders (each step at its own time on a clock that runs from the past up to now, so the
//! history reads like a real one), meal orders before their cut-offs, and the time bank.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{NaiveDate, NaiveTime};
use zhulao_demo::{DemoDistrict, OrderOutcome};
use zhulao_domain::{Fen, GeoPoint, Role};
use zhulao_orders::{CreateOrder, Orders, PlaceMeal, ServicesConfig};
use zhulao_response::LiveHub;
use zhulao_services::meals::{Dish, DishTag, Fulfilment, MealOrderState, MealSlot, Menu, MenuOption};
use zhulao_services::order::{
    ActorRole, CancelReason, NoShowParty, OrderActor, OrderChannel, OrderCommand, Schedule,
};
use zhulao_services::quality::{ComplaintKind, RatingTag};
use zhulao_services::settlement::RuleBook;
use zhulao_services::{ElderCategory, MenuCode, PoolCode, RegionPrefix, RegionPrice, ServiceCode};
use zhulao_store::{ManualClock, Store, VolunteerRow};

use crate::demo::LoadReport;

const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;

#[derive(Debug, Default)]
pub struct ServicesReport {
    pub orders: usize,
    pub skipped_orders: usize,
    pub menus: usize,
    pub meals: usize,
    pub volunteers: usize,
    pub seconds: f64,
}

/// Unix ms of a local (UTC+8) wall-clock time.
fn local_ms(date: NaiveDate, h: u32, m: u32) -> i64 {
    let t = date.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default());
    t.and_utc().timestamp_millis() - 8 * 3_600_000
}

/// Positions of the demo's caregivers, by account index.
fn caregiver_points(d: &DemoDistrict) -> Vec<(usize, GeoPoint)> {
    d.services
        .caregiver_positions
        .iter()
        .filter_map(|(i, lat, lon)| GeoPoint::new(*lat, *lon).ok().map(|p| (*i, p)))
        .collect()
}

/// Puts every demo caregiver on duty at their usual place (their phones, in a real
/// district), so they are offered orders. Run at start and every so often while serving.
pub async fn refresh_caregivers(store: &Arc<dyn Store>, d: &DemoDistrict) -> anyhow::Result<usize> {
    let mut n = 0;
    for (i, at) in caregiver_points(d) {
        let username = &d.accounts[i].input.username;
        if let Some((account, _)) = store.credentials(username).await? {
            store
                .report_caregiver(account.id, true, Some(at), zhulao_store::Actor::account(account.id))
                .await?;
            n += 1;
        }
    }
    Ok(n)
}

pub async fn load(
    store: &Arc<dyn Store>,
    d: &DemoDistrict,
    ids: &LoadReport,
) -> anyhow::Result<ServicesReport> {
    let started = Instant::now();
    let sys = zhulao_store::Actor::SYSTEM;
    let s = &d.services;
    let now = store.clock().now_ms();
    let today = store.clock().today();
    let clock = ManualClock::new(now - 5 * DAY);
    let orders = Orders::with_clock(
        store.clone(),
        Arc::new(clock.clone()),
        ServicesConfig::default(),
        LiveHub::new(16),
    );
    orders.ensure_catalogue().await?;
    let mut report = ServicesReport::default();

    for (item, prefix, yuan) in &s.prices {
        let p = RegionPrice {
            region_prefix: RegionPrefix::parse("region_prefix", prefix)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            item: ServiceCode::parse("item", item).map_err(|e| anyhow::anyhow!("{e}"))?,
            price: Fen(yuan * 100),
        };
        store.set_service_price(&p, sys).await?;
    }
    let book: RuleBook = serde_json::from_str(zhulao_demo::services::RULES_JSON).context("demo rule book")?;
    book.validate().map_err(|e| anyhow::anyhow!("demo rule book: {e:?}"))?;
    for r in &book.regions {
        store.put_region_rules(r, sys).await?;
    }
    for (code, name, prefix, yuan) in &s.pools {
        let code = PoolCode::parse("code", code).map_err(|e| anyhow::anyhow!("{e}"))?;
        let prefix = RegionPrefix::parse("region_prefix", prefix).map_err(|e| anyhow::anyhow!("{e}"))?;
        store.fund_pool(&code, name, &prefix, yuan * 100, sys).await?;
    }
    let mut lists: BTreeMap<usize, Vec<ElderCategory>> = BTreeMap::new();
    for (i, l) in &s.lists {
        if let Some(c) = ElderCategory::parse_label(l) {
            lists.entry(*i).or_default().push(c);
        }
    }
    for (i, cats) in &lists {
        store.set_elder_lists(ids.elder_ids[*i], cats, sys).await?;
    }
    refresh_caregivers(store, d).await?;

    let role_id = |role: Role| {
        d.accounts
            .iter()
            .zip(&ids.account_ids)
            .find(|(a, _)| a.input.role == role.as_str())
            .map(|(_, id)| *id)
    };
    let operator = OrderActor::new(ActorRole::Operator, role_id(Role::Operator).unwrap_or(0));
    let station = OrderActor::new(ActorRole::Station, role_id(Role::StationStaff).unwrap_or(0));

    // Menus, yesterday to a week ahead.
    for m in &s.menus {
        let menu = Menu {
            canteen: ids.facility_ids[m.canteen],
            date: today + chrono::Duration::days(m.day),
            slot: MealSlot::parse_label(m.slot).unwrap_or(MealSlot::Lunch),
            options: m
                .options
                .iter()
                .map(|o| MenuOption {
                    code: MenuCode::lit_or(o.code),
                    name_zh: o.name_zh.into(),
                    dishes: o
                        .dishes
                        .iter()
                        .map(|(code, name, tags)| Dish {
                            code: MenuCode::lit_or(code),
                            name_zh: (*name).into(),
                            tags: tags.iter().filter_map(|t| DishTag::parse_label(t)).collect(),
                        })
                        .collect(),
                    price: Fen(o.price_fen),
                })
                .collect(),
        };
        orders.put_menu(&menu, station).await?;
        report.menus += 1;
    }

    // Meal orders: placed at 10:00 the day before (or just now), served at noon on the day.
    for m in &s.meals {
        let date = today + chrono::Duration::days(m.day);
        clock.set_ms(local_ms(date - chrono::Duration::days(1), 10, 0).min(now - MIN));
        let req = PlaceMeal {
            elder_id: ids.elder_ids[m.elder],
            canteen_id: ids.facility_ids[m.canteen],
            date,
            slot: MealSlot::Lunch,
            option: MenuCode::lit_or(m.option),
            fulfilment: if m.delivery { Fulfilment::Delivery } else { Fulfilment::DineIn },
        };
        let Ok(row) = orders.place_meal(operator, req).await else { continue };
        report.meals += 1;
        if m.cancelled {
            orders.cancel_meal(row.id, operator).await.ok();
            continue;
        }
        let noon = local_ms(date, 12, 0);
        if noon < now {
            clock.set_ms(noon);
            let outcome = match (m.missed, m.delivery) {
                (true, _) => MealOrderState::Missed,
                (false, true) => MealOrderState::Delivered,
                (false, false) => MealOrderState::Served,
            };
            orders.finish_meal(row.id, outcome, station).await.ok();
        }
    }

    // Service orders, oldest first, each step at its own time.
    let caregivers = caregiver_points(d);
    let catalogue = store.catalogue().await?;
    for spec in &s.orders {
        let elder_id = ids.elder_ids[spec.elder];
        let elder = store.elder(elder_id).await?;
        let Some(home) = elder.record.location else { continue };
        let t0 = now - i64::from(spec.minutes_ago) * MIN;
        let at = |offset_min: i64| (t0 + offset_min * MIN).min(now - MIN / 2);
        clock.set_ms(t0);
        let schedule = match spec.scheduled_hour_tomorrow {
            Some(h) => Schedule::At {
                start: chrono::DateTime::from_timestamp_millis(local_ms(
                    today + chrono::Duration::days(1),
                    h,
                    0,
                ))
                .unwrap_or_default(),
            },
            None => Schedule::Asap,
        };
        let req = CreateOrder {
            elder_id,
            item: ServiceCode::lit_or(spec.item),
            schedule,
            channel: if spec.minutes_ago % 3 == 0 { OrderChannel::App } else { OrderChannel::Phone },
            note: String::new(),
            publish: true,
        };
        let Ok(row) = orders.create(operator, req).await else {
            report.skipped_orders += 1;
            continue;
        };
        report.orders += 1;
        let id = row.id;
        if spec.outcome == OrderOutcome::Published {
            continue;
        }
        if spec.outcome == OrderOutcome::Cancelled && spec.minutes_ago % 2 == 0 {
            clock.set_ms(at(3));
            orders
                .act(
                    id,
                    operator,
                    OrderCommand::Cancel {
                        by: operator,
                        reason: CancelReason::FamilyArranged,
                        text: String::new(),
                    },
                )
                .await
                .ok();
            continue;
        }
        // The nearest qualified caregiver grabs it; failing that, the operator assigns one.
        clock.set_ms(at(2));
        let skills: Vec<String> = catalogue
            .get(&row.order.item)
            .map(|i| i.skills.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default();
        let mut by_distance: Vec<(u32, i64)> = caregivers
            .iter()
            .filter(|(i, _)| skills.iter().all(|s| d.accounts[*i].input.skills.contains(s)))
            .map(|(i, p)| (zhulao_services::dispatch::distance_m(home, *p), ids.account_ids[*i]))
            .collect();
        by_distance.sort_unstable();
        let mut holder = None;
        for (_, cg) in by_distance.iter().take(12) {
            if orders.grab(id, *cg).await.is_ok() || orders.assign(id, *cg, operator).await.is_ok() {
                holder = Some(*cg);
                break;
            }
        }
        let Some(cg) = holder else { continue };
        let me = OrderActor::new(ActorRole::Caregiver, cg);
        let duration = i64::from(row.order.duration_min);
        let step = |cmd: OrderCommand, by: OrderActor, minute: i64| {
            let (orders, clock) = (orders.clone(), clock.clone());
            async move {
                clock.set_ms(at(minute));
                orders.act(id, by, cmd).await
            }
        };
        match spec.outcome {
            OrderOutcome::Taken | OrderOutcome::Published => continue,
            OrderOutcome::Cancelled => {
                let cancel = OrderCommand::Cancel {
                    by: operator,
                    reason: CancelReason::Hospitalised,
                    text: String::new(),
                };
                step(cancel, operator, 4).await.ok();
                continue;
            }
            _ => {}
        }
        if step(OrderCommand::StartTrip { caregiver: cg }, me, 5).await.is_err()
            || spec.outcome == OrderOutcome::OnTheWay
        {
            continue;
        }
        if spec.outcome == OrderOutcome::NoShow {
            let no_show = OrderCommand::NoShow { by: me, party: NoShowParty::Elder, position: Some(home) };
            step(no_show, me, 25).await.ok();
            continue;
        }
        if step(OrderCommand::CheckIn { caregiver: cg, position: home }, me, 20).await.is_err()
            || spec.outcome == OrderOutcome::CheckedIn
        {
            continue;
        }
        let out = OrderCommand::CheckOut {
            caregiver: cg,
            position: home,
            notes: "服务完成，老人状态良好".into(),
            photos: vec![],
        };
        if step(out, me, 20 + duration).await.is_err() || spec.outcome == OrderOutcome::Completed {
            continue;
        }
        // The family (or the call centre's return call) confirms and rates; settled at once.
        let stars = spec.stars.unwrap_or(5);
        let tags: Vec<RatingTag> = spec.tags.iter().filter_map(|t| RatingTag::parse_label(t)).collect();
        let rate = OrderCommand::Rate { by: operator, stars, tags, text: spec.text.into() };
        if step(rate, operator, 50 + duration).await.is_err() {
            continue;
        }
        if spec.outcome == OrderOutcome::Complained {
            let complain = OrderCommand::Complain {
                by: operator,
                kind: ComplaintKind::Quality,
                text: "家属反映打扫不干净，要求返工".into(),
            };
            step(complain, operator, 90 + duration).await.ok();
        }
    }

    // The time bank: volunteers, their hours (most confirmed), pairs.
    for (i, skills, capacity) in &s.volunteers {
        let v = VolunteerRow {
            elder_id: ids.elder_ids[*i],
            skills: skills.iter().map(|s| s.to_string()).collect(),
            capacity: *capacity,
            active: true,
            joined_at: 0,
            paired: 0,
        };
        store.put_volunteer(&v, sys).await?;
        report.volunteers += 1;
    }
    for h in &s.hours {
        let served = now - i64::from(h.days_ago) * DAY;
        clock.set_ms(served + 2 * 3_600_000);
        let activity = zhulao_services::ServiceCategory::parse_label(h.activity)
            .unwrap_or(zhulao_services::ServiceCategory::Visit);
        let served_at = chrono::DateTime::from_timestamp_millis(served).unwrap_or_default();
        let (v, e) = (ids.elder_ids[h.volunteer], ids.elder_ids[h.elder]);
        let Ok(row) =
            orders.record_hours(station, v, e, h.minutes, served_at, activity, "陪伴聊天、帮忙买菜").await
        else {
            continue;
        };
        if h.confirmed {
            clock.set_ms((served + DAY).min(now - MIN));
            orders.decide_hours(row.id, station, true).await.ok();
        }
    }
    let suggested = orders.pairing_suggestions(Some("140213")).await?;
    for p in suggested.pairs.iter().take(10) {
        store.create_pair(p.volunteer, p.elder, sys).await.ok();
    }
    clock.set_ms(now);
    store.analyze().await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Codes written in the demo's own data are valid; an invalid one becomes a placeholder the
/// validation downstream reports.
trait LitOr: Sized {
    fn lit_or(s: &str) -> Self;
}

impl LitOr for MenuCode {
    fn lit_or(s: &str) -> Self {
        MenuCode::parse("code", s).unwrap_or_else(|_| MenuCode::parse("code", "invalid").expect("valid"))
    }
}

impl LitOr for ServiceCode {
    fn lit_or(s: &str) -> Self {
        ServiceCode::parse("code", s)
            .unwrap_or_else(|_| ServiceCode::parse("code", "invalid").expect("valid"))
    }
}
