//! zhulao-demo: the demo district — Datong's Pingcheng district (平城区), the pilot in the
//! seeds — generated deterministically from a seed.
//!
//! Invariant: pure. No I/O, no clock, no global state: the real outline and division list
//! are compiled in with `include_str!`, "today" is an argument, and the same `(seed, today,
//! size)` always gives the same district, byte for byte.
//!
//! Everything is returned as the domain's *input* types (the shapes a form or ledger row
//! arrives in), so the loader runs them through the same validation as real data. Links
//! between records are **indices** into the district's own vectors (an elder's care manager
//! is `accounts[elder.care_manager]`); the loader inserts in order and maps indices to ids,
//! with [`ElderSpec::resolve`] and [`AccountSpec::resolve`] to fill the id fields.
//!
//! Organisations, people, phone numbers and ID numbers are invented; the outline, the 18
//! streets and 202 communities are real (see `data/SOURCES.md`).

pub mod boundary;
pub mod divisions;
mod elders;
mod facilities;
mod names;
mod places;
pub mod services;
mod staff;
mod summary;

use chrono::NaiveDate;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use zhulao_domain::elder::ElderInput;
use zhulao_domain::{AccountInput, DeviceInput, FacilityInput, Region};

pub use boundary::{BOUNDARY_GEOJSON, Boundary};
pub use divisions::{DIVISIONS_CSV, Divisions};
pub use services::{DemoServices, HoursSpec, MealSpec, MenuSpec, OrderOutcome, OrderSpec};
pub use summary::DemoSummary;

/// The one password of every demo account.
pub const DEMO_PASSWORD: &str = "zhulao-demo-2026";

/// The secret of a demo device (its MQTT password), so the simulator can authenticate as it.
pub fn device_secret(serial: &str) -> String {
    format!("demo-{serial}")
}

/// How big a district to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DemoSize {
    /// Elders in the registry (default 2,000; the benchmarks use 100,000). Care managers
    /// (one per 20), caregivers (3 per 100), family accounts (5%) and devices scale with it;
    /// regions and facilities do not.
    pub elders: usize,
}

impl Default for DemoSize {
    fn default() -> Self {
        DemoSize { elders: 2_000 }
    }
}

/// An elder with the links the loader resolves. `input.care_manager_id` and
/// `input.home_station_id` are left `None`.
#[derive(Debug, Clone)]
pub struct ElderSpec {
    pub input: ElderInput,
    /// Index into [`DemoDistrict::accounts`] (a `care_manager` account).
    pub care_manager: usize,
    /// Index into [`DemoDistrict::facilities`]: the nearest community station (`station`).
    pub home_station: usize,
}

impl ElderSpec {
    /// The input with its id links filled from the loader's index → id maps.
    pub fn resolve(&self, account_ids: &[i64], facility_ids: &[i64]) -> ElderInput {
        ElderInput {
            care_manager_id: account_ids.get(self.care_manager).copied(),
            home_station_id: facility_ids.get(self.home_station).copied(),
            ..self.input.clone()
        }
    }
}

/// An account with the links the loader resolves. `input.facility_id` is left `None` (so a
/// station-staff input validates only after [`AccountSpec::resolve`]).
#[derive(Debug, Clone)]
pub struct AccountSpec {
    pub input: AccountInput,
    /// Station staff: index into [`DemoDistrict::facilities`].
    pub facility: Option<usize>,
    /// Family: index into [`DemoDistrict::elders`] of the elder they look after. The
    /// account's name and phone are that elder's first emergency contact's.
    pub elder: Option<usize>,
}

impl AccountSpec {
    /// The input with `facility_id` filled from the loader's facility index → id map.
    pub fn resolve(&self, facility_ids: &[i64]) -> AccountInput {
        AccountInput {
            facility_id: self.facility.and_then(|f| facility_ids.get(f).copied()),
            ..self.input.clone()
        }
    }
}

/// A device, bound to an elder (index into [`DemoDistrict::elders`]) or a spare in stock.
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    pub input: DeviceInput,
    pub elder: Option<usize>,
}

/// The generated district.
#[derive(Debug, Clone)]
pub struct DemoDistrict {
    pub seed: u64,
    /// The day the district was generated for: ages, ID numbers and card eligibility use it.
    pub today: NaiveDate,
    /// County, then each street followed by its communities (221 regions).
    pub regions: Vec<Region>,
    /// The real outline (GeoJSON FeatureCollection with one Polygon), for map framing.
    pub boundary_geojson: &'static str,
    /// District centre first, then the 18 street centres (in street order), the 40
    /// community stations, canteens and meal points, the central kitchen, the day-care
    /// centre, nursing homes and happiness courtyards.
    pub facilities: Vec<FacilityInput>,
    /// In this order, with predictable usernames: `admin`, `supervisor`, `operator1`…,
    /// `caregiver1`…, `manager1`…, `station1`… (one per facility below the street level,
    /// in facility order), `family1`…; all with [`DEMO_PASSWORD`].
    pub accounts: Vec<AccountSpec>,
    /// Grouped by community, in division order.
    pub elders: Vec<ElderSpec>,
    /// Bound devices in elder order, then spares.
    pub devices: Vec<DeviceSpec>,
    /// Home-care services: caregivers' positions, prices, funding rules and pools, lists,
    /// menus, a few days of orders and meals, time-bank volunteers.
    pub services: DemoServices,
}

impl DemoDistrict {
    /// Counts and distributions, for tests, logs and the README.
    pub fn summary(&self) -> DemoSummary {
        summary::summarise(self)
    }
}

/// Independent random streams, so that (for example) changing the number of elders does
/// not move the facilities.
#[derive(Clone, Copy)]
enum Stream {
    Places = 1,
    Facilities = 2,
    Elders = 3,
    Staff = 4,
    Devices = 5,
    Services = 6,
}

fn rng_for(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}

/// Generates the demo district. Deterministic in `(seed, today, size)`; no I/O, no clock.
pub fn generate(seed: u64, today: NaiveDate, size: DemoSize) -> DemoDistrict {
    let boundary = Boundary::pingcheng();
    let divisions = Divisions::pingcheng();
    let places = places::Places::generate(&mut rng_for(seed, Stream::Places), &boundary, &divisions);
    let mut namer = names::Namer::new();
    let facilities = facilities::generate(
        &mut rng_for(seed, Stream::Facilities),
        &boundary,
        &divisions,
        &places,
        &mut namer,
    );
    let elders = elders::generate(
        &mut rng_for(seed, Stream::Elders),
        today,
        size.elders,
        &boundary,
        &divisions,
        &places,
        &facilities,
        &mut namer,
    );
    let staff =
        staff::generate(&mut rng_for(seed, Stream::Staff), &divisions, &facilities, &elders, &mut namer);
    let devices = elders::devices(&mut rng_for(seed, Stream::Devices), &elders);
    let services = services::generate(
        &mut rng_for(seed, Stream::Services),
        &boundary,
        &divisions,
        &places,
        &facilities.inputs,
        &staff.accounts,
        &elders,
    );
    let mut elders = elders.elders;
    for (e, m) in elders.iter_mut().zip(staff.managers_of_elders) {
        e.care_manager = m;
    }
    DemoDistrict {
        seed,
        today,
        regions: divisions.regions,
        boundary_geojson: BOUNDARY_GEOJSON,
        facilities: facilities.inputs,
        accounts: staff.accounts,
        elders,
        devices,
        services,
    }
}
