//! The service layer's configuration: the order policy (with dispatch radii per region),
//! meals, pay, quality and complaint rules, and how old a caregiver's position may be.
//! Every part has defaults, so an empty configuration is a working one.

use zhulao_domain::RegionCode;
use zhulao_services::dispatch::DispatchPolicies;
use zhulao_services::meals::MealPolicy;
use zhulao_services::order::OrderPolicy;
use zhulao_services::pay::PayPolicy;
use zhulao_services::quality::{ComplaintPolicy, QualityPolicy};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ServicesConfig {
    /// The rules an order lives by (its `dispatch` part is replaced per region by
    /// `dispatch`). Snapshotted into each order when it is created.
    pub order: OrderPolicy,
    /// Offer radii, escalation and auto-assignment per region prefix.
    pub dispatch: DispatchPolicies,
    pub meals: MealPolicy,
    pub pay: PayPolicy,
    pub quality: QualityPolicy,
    pub complaints: ComplaintPolicy,
    /// A caregiver's phone position older than this is not used for dispatch.
    pub position_ttl_min: u32,
    /// The quality score looks back this many days.
    pub quality_window_days: u32,
    /// Local time for service dates, statements and pay months (China: +480).
    pub utc_offset_min: i32,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            order: OrderPolicy::default(),
            dispatch: DispatchPolicies::default(),
            meals: MealPolicy::default(),
            pay: PayPolicy::default(),
            quality: QualityPolicy::default(),
            complaints: ComplaintPolicy::default(),
            position_ttl_min: 120,
            quality_window_days: 180,
            utc_offset_min: 8 * 60,
        }
    }
}

impl ServicesConfig {
    /// The policy a new order in `region` gets.
    pub fn order_policy(&self, region: &RegionCode) -> OrderPolicy {
        OrderPolicy { dispatch: self.dispatch.for_region(region).clone(), ..self.order.clone() }
    }

    /// The widest offer radius any region uses: how far `nearby` looks.
    pub fn max_radius_m(&self) -> u32 {
        self.dispatch
            .regions
            .iter()
            .map(|r| r.policy.max_radius_m())
            .chain([self.dispatch.default.max_radius_m()])
            .max()
            .unwrap_or(10_000)
    }
}
