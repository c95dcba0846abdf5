//! zhulao-domain: the platform's pure rules and types — resident ID numbers, phones, money in
//! fen, coordinates, regions, elders, facilities, accounts, devices and the access policy.
//!
//! Invariant: no I/O and no clock. Every value type validates on construction, so an invalid
//! ID number, phone, region code or amount cannot exist past the edge. Functions that need
//! "today" take it as an argument.

pub mod account;
pub mod actor;
pub mod codes;
pub mod device;
pub mod elder;
pub mod error;
pub mod facility;
pub mod geo;
pub mod id_number;
pub mod money;
pub mod monitoring;
pub mod phone;
pub mod policy;
pub mod region;
pub mod secret;
pub mod stats;

pub use account::{Account, AccountInput, NewAccount, Role};
pub use actor::Actor;
pub use device::{Device, DeviceBinding, DeviceInput, DeviceKind, NewDevice};
pub use elder::{
    CapabilityLevel, Contact, EconomicStatus, Elder, ElderInput, ElderRecord, ElderStatus, HealthRecord,
    Hukou, LivingArrangement,
};
pub use error::{Coded, FieldError};
pub use facility::{Facility, FacilityInput, FacilityKind, FacilityRecord};
pub use geo::GeoPoint;
pub use id_number::{IdNumber, Sex};
pub use money::Fen;
pub use monitoring::{MonitoringSettings, SafeZone, VitalLimit, VitalSign, ZoneShape};
pub use phone::Phone;
pub use policy::{Action, ElderScope, Viewer};
pub use region::{Region, RegionCode, RegionLevel};
pub use secret::{Secret, redact_url};
pub use stats::{Count, RegionStats};
