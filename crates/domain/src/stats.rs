//! Region statistics the seeds quote: card and device coverage, elders per care manager,
//! and counts by category.

/// Figures for one region, computed by the store over active elders.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegionStats {
    pub region_code: String,
    pub elders: i64,
    pub aged_70_plus: i64,
    pub aged_80_plus: i64,
    /// Residents aged 70+ holding a service card (大同: 92.88%).
    pub card_holders_70_plus: i64,
    /// Card holders with an active device bound (大同: 71.23%).
    pub card_holders_with_device: i64,
    pub care_managers: i64,
    pub by_living: Vec<Count>,
    pub by_economic: Vec<Count>,
    pub by_capability: Vec<Count>,
    pub by_status: Vec<Count>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Count {
    pub key: String,
    pub label_zh: String,
    pub count: i64,
}

impl RegionStats {
    /// Share (0..=1) of residents aged 70+ with a service card.
    pub fn card_coverage(&self) -> Option<f64> {
        ratio(self.card_holders_70_plus, self.aged_70_plus)
    }
    /// Share (0..=1) of card holders with a device.
    pub fn device_coverage(&self) -> Option<f64> {
        ratio(self.card_holders_with_device, self.card_holders_70_plus)
    }
    /// Active elders per care manager (二七: 20).
    pub fn elders_per_care_manager(&self) -> Option<f64> {
        ratio(self.elders, self.care_managers)
    }
}

fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}
