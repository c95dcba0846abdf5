//! Meals (助餐) through the store: menus, orders until the cut-off on the service's clock, the
//! price after subsidies shown when ordering, serving with settlement, and the kitchen's and
//! stations' lists.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use zhulao_domain::{FieldError, GeoPoint};
use zhulao_services::MenuCode;
use zhulao_services::catalogue::ServiceCategory;
use zhulao_services::meals::{
    DeliveryTo, Fulfilment, MealCounts, MealOrder, MealOrderState, MealRequest, MealSlot, Menu,
    ProductionList, Route, delivery_lists, meal_counts, production_list,
};
use zhulao_services::order::OrderActor;
use zhulao_services::settlement::SettleInput;
use zhulao_store::{
    MealOrderFilter, MealOrderRow, MenuRow, NewSettlement, OrderScope, SettlementKind, StoreError,
};

use crate::error::{ServiceError, ServiceResult};
use crate::service::{Orders, RETRIES, store_actor};

fn meal_refusal(e: zhulao_services::meals::MealError) -> ServiceError {
    ServiceError::refused(&e)
}

/// What an elder (or someone for them) orders.
#[derive(Debug, Clone)]
pub struct PlaceMeal {
    pub elder_id: i64,
    pub canteen_id: i64,
    pub date: NaiveDate,
    pub slot: MealSlot,
    pub option: MenuCode,
    pub fulfilment: Fulfilment,
}

impl Orders {
    /// Creates or replaces a canteen's menu for one meal of one day.
    pub async fn put_menu(&self, menu: &Menu, by: OrderActor) -> ServiceResult<MenuRow> {
        menu.validate().map_err(ServiceError::Invalid)?;
        Ok(self.store.put_menu(menu, store_actor(&by)).await?)
    }

    /// Orders a meal, if orders for its day are still open (the cut-off, on this service's
    /// clock). The price after subsidies is computed from today's balances and kept on the
    /// order as the estimate shown.
    pub async fn place_meal(&self, by: OrderActor, req: PlaceMeal) -> ServiceResult<MealOrderRow> {
        let menu = match self.store.menu(req.canteen_id, req.date, req.slot).await {
            Ok(m) => m.menu,
            Err(StoreError::NotFound { .. }) => {
                return Err(ServiceError::refuse(
                    "meal_no_menu",
                    format!("该食堂{}的{}还没有菜单", req.date, req.slot.label_zh()),
                    format!("the canteen has no menu for {} {}", req.date, req.slot.as_str()),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let elder = self.store.elder(req.elder_id).await?;
        let delivery = match (req.fulfilment, elder.record.home_station_id, elder.record.location) {
            (Fulfilment::Delivery, Some(station), Some(position)) => Some(DeliveryTo { station, position }),
            (Fulfilment::Delivery, _, _) => {
                return Err(ServiceError::field(FieldError::new(
                    "fulfilment",
                    "meal_no_delivery_address",
                    "送餐上门需要老人的所属服务站和住址坐标",
                    "delivery needs the elder's home station and home coordinates",
                )));
            }
            _ => None,
        };
        let request = MealRequest {
            elder: elder.id,
            option: req.option.clone(),
            fulfilment: req.fulfilment,
            delivery,
            by,
        };
        let now = self.now();
        let policy = self.config.meals;
        // Refuse a late order before computing anything.
        policy.check_open(req.date, now).map_err(meal_refusal)?;
        let price = menu
            .option(&req.option)
            .map(|o| o.price)
            .ok_or_else(|| meal_refusal(zhulao_services::meals::MealError::NotOnMenu))?;
        let quote = self
            .compute(
                &elder,
                |p, b| SettleInput {
                    price,
                    service: ServiceCategory::Meals,
                    item: None,
                    elder: p,
                    date: req.date,
                    balances: b,
                },
                req.date,
            )
            .await
            .ok()
            .map(|(_, s)| s.split);
        let meal = MealOrder::place(&menu, &request, quote, now, &policy).map_err(meal_refusal)?;
        Ok(self.store.create_meal_order(&meal, elder.record.region.as_str(), store_actor(&by)).await?)
    }

    /// Cancels before the cut-off.
    pub async fn cancel_meal(&self, id: i64, by: OrderActor) -> ServiceResult<MealOrderRow> {
        for _ in 0..RETRIES {
            let row = self.store.meal_order(id).await?;
            let mut meal = row.order.clone();
            meal.cancel(by, self.now(), &self.config.meals).map_err(meal_refusal)?;
            match self.store.save_meal_order(id, row.version, &meal, "cancel", store_actor(&by)).await {
                Err(StoreError::Stale { .. }) => continue,
                r => return Ok(r?),
            }
        }
        Err(ServiceError::refuse(
            "meal_busy",
            "订餐正在被修改，请重试",
            "the meal order is being changed; retry",
        ))
    }

    /// Served at the canteen, delivered, or missed — on the day — and settled when due.
    pub async fn finish_meal(
        &self,
        id: i64,
        outcome: MealOrderState,
        by: OrderActor,
    ) -> ServiceResult<MealOrderRow> {
        let policy = self.config.meals;
        for _ in 0..RETRIES {
            let row = self.store.meal_order(id).await?;
            let mut meal = row.order.clone();
            meal.finish(outcome, self.now(), &policy).map_err(meal_refusal)?;
            if !meal.due_for_settlement(&policy) {
                match self
                    .store
                    .save_meal_order(id, row.version, &meal, outcome.as_str(), store_actor(&by))
                    .await
                {
                    Err(StoreError::Stale { .. }) => continue,
                    r => return Ok(r?),
                }
            }
            let elder = self.store.elder(meal.elder).await?;
            let (input, s) = self
                .compute(
                    &elder,
                    |p, b| SettleInput {
                        price: meal.price,
                        service: ServiceCategory::Meals,
                        item: None,
                        elder: p,
                        date: meal.date,
                        balances: b,
                    },
                    meal.date,
                )
                .await?;
            meal.record_settlement(s.split.clone(), &policy).map_err(meal_refusal)?;
            let record = NewSettlement {
                kind: SettlementKind::Meal,
                ref_id: id,
                elder_id: meal.elder,
                provider_id: meal.canteen,
                caregiver_id: None,
                region_code: row.region_code.clone(),
                category: ServiceCategory::Meals,
                date: meal.date,
                split: s.split,
                trace: s.trace,
                debits: s.debits,
                input: input.clone(),
            };
            match self
                .store
                .settle_meal(id, row.version, &meal, &record, &input.balances, store_actor(&by))
                .await
            {
                Err(StoreError::Stale { .. }) => continue,
                r => return Ok(r?),
            }
        }
        Err(ServiceError::refuse(
            "meal_busy",
            "订餐正在被修改，请重试",
            "the meal order is being changed; retry",
        ))
    }

    async fn meals_of_day(
        &self,
        date: NaiveDate,
        slot: Option<MealSlot>,
        canteen: Option<i64>,
        station: Option<i64>,
    ) -> ServiceResult<Vec<MealOrderRow>> {
        let mut f = MealOrderFilter::scoped(OrderScope::All);
        f.from = Some(date);
        f.to = Some(date);
        f.slot = slot;
        f.canteen_id = canteen;
        f.station_id = station;
        f.limit = 100_000;
        Ok(self.store.list_meal_orders(&f).await?.items)
    }

    /// The central kitchen's list for one meal: per canteen and in all, per dish.
    pub async fn production_list(
        &self,
        date: NaiveDate,
        slot: MealSlot,
        canteen: Option<i64>,
    ) -> ServiceResult<ProductionList> {
        let menus: Vec<Menu> =
            self.store.menus(canteen, date, date).await?.into_iter().map(|m| m.menu).collect();
        let orders = self.meals_of_day(date, Some(slot), canteen, None).await?;
        Ok(production_list(&menus, orders.iter().map(|r| &r.order), date, slot))
    }

    /// Each station's delivery round for one meal, in route order from the station.
    pub async fn delivery_lists(
        &self,
        date: NaiveDate,
        slot: MealSlot,
        station: Option<i64>,
    ) -> ServiceResult<BTreeMap<i64, Route>> {
        let orders = self.meals_of_day(date, Some(slot), None, station).await?;
        let mut starts: BTreeMap<i64, GeoPoint> = BTreeMap::new();
        for r in &orders {
            if let Some(d) = r.order.delivery
                && !starts.contains_key(&d.station)
                && let Ok(f) = self.store.facility(d.station).await
            {
                starts.insert(d.station, f.record.location);
            }
        }
        Ok(delivery_lists(&starts, orders.iter().map(|r| (r.id, &r.order)), date, slot))
    }

    /// Meals counted by outcome over `from..=to`, per canteen and in all.
    pub async fn meal_counts(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        canteen: Option<i64>,
    ) -> ServiceResult<(BTreeMap<i64, MealCounts>, MealCounts)> {
        let mut f = MealOrderFilter::scoped(OrderScope::All);
        f.from = Some(from);
        f.to = Some(to);
        f.canteen_id = canteen;
        f.limit = 500_000;
        let orders = self.store.list_meal_orders(&f).await?.items;
        Ok(meal_counts(orders.iter().map(|r| &r.order), from, to))
    }
}
