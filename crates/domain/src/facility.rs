//! Facilities of the three-level service network: centres, stations, canteens, kitchens,
//! day-care, nursing homes and village happiness courtyards.

use crate::code_enum;
use crate::error::{Errors, FieldError, optional_text, required_text};
use crate::geo::GeoPoint;
use crate::phone::Phone;
use crate::region::RegionCode;

code_enum! {
    FacilityKind {
        Centre = ("centre", "综合服务中心", "district/street service centre"),
        Station = ("station", "助老服务站", "community service station"),
        DayCare = ("day_care", "日间照料中心", "day-care centre"),
        Canteen = ("canteen", "社区食堂", "community canteen"),
        MealPoint = ("meal_point", "助餐点", "meal point"),
        CentralKitchen = ("central_kitchen", "中央厨房", "central kitchen"),
        NursingHome = ("nursing_home", "养老院", "nursing home"),
        HappinessCourtyard = ("happiness_courtyard", "幸福小院", "village happiness courtyard"),
    }
}

/// The validated content of a facility.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FacilityRecord {
    pub kind: FacilityKind,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub region: RegionCode,
    pub address: String,
    pub location: GeoPoint,
    /// Free text as posted at the door, e.g. `周一至周五 8:00-17:30`.
    pub opening_hours: String,
    pub beds: Option<i32>,
    pub meals_per_day: Option<i32>,
    /// The organisation that runs it (运营机构).
    pub operator_org: String,
    /// The radius it serves; a 15-minute walk is about 1,000 m.
    pub service_radius_m: i32,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub phone: Option<Phone>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Facility {
    pub id: i64,
    #[serde(flatten)]
    pub record: FacilityRecord,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct FacilityInput {
    pub kind: String,
    pub name: String,
    pub region_code: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub opening_hours: String,
    pub beds: Option<i32>,
    pub meals_per_day: Option<i32>,
    pub operator_org: String,
    pub service_radius_m: Option<i32>,
    pub phone: String,
}

impl FacilityInput {
    pub fn validate(&self) -> Result<FacilityRecord, Vec<FieldError>> {
        let mut errs = Errors::default();
        let kind = errs.take(FacilityKind::parse_field("kind", &self.kind));
        let name = errs.take(required_text("name", &self.name, 100));
        let region = errs.take(RegionCode::parse("region_code", &self.region_code));
        let address = errs.take(required_text("address", &self.address, 200));
        let location = errs.take(match (self.lat, self.lon) {
            (Some(lat), Some(lon)) => GeoPoint::new(lat, lon),
            _ => Err(FieldError::required("location")),
        });
        let opening_hours = errs.take(optional_text("opening_hours", &self.opening_hours, 100));
        let operator_org = errs.take(optional_text("operator_org", &self.operator_org, 100));
        let phone = errs.take(
            optional_text("phone", &self.phone, 20)
                .and_then(|p| p.map(|p| Phone::parse("phone", &p)).transpose()),
        );
        let non_negative = |field: &'static str, v: Option<i32>, max: i32| match v {
            Some(n) if !(0..=max).contains(&n) => Err(FieldError::new(
                field,
                "out_of_range",
                format!("{field} 应在 0~{max} 之间"),
                format!("{field} must be between 0 and {max}"),
            )),
            _ => Ok(v),
        };
        let beds = errs.take(non_negative("beds", self.beds, 100_000));
        let meals = errs.take(non_negative("meals_per_day", self.meals_per_day, 1_000_000));
        let radius = errs.take(non_negative("service_radius_m", self.service_radius_m, 100_000));
        errs.check()?;
        Ok(FacilityRecord {
            kind: kind.expect("checked"),
            name: name.expect("checked"),
            region: region.expect("checked"),
            address: address.expect("checked"),
            location: location.expect("checked"),
            opening_hours: opening_hours.flatten().unwrap_or_default(),
            beds: beds.flatten(),
            meals_per_day: meals.flatten(),
            operator_org: operator_org.flatten().unwrap_or_default(),
            service_radius_m: radius.flatten().unwrap_or(1000),
            phone: phone.expect("checked"),
        })
    }
}
