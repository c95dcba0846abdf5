//! Who may do what, and who may see which personal data: least privilege by role, region,
//! facility, family link and active service. Pure functions over the viewer and the facts.

use crate::account::Role;
use crate::region::RegionCode;

/// The signed-in person, as far as authorisation is concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct Viewer {
    pub account_id: i64,
    pub role: Role,
    /// Region scope; `None` means the whole platform (for roles that have one).
    pub region: Option<RegionCode>,
    pub facility_id: Option<i64>,
}

/// Actions guarded by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ReadRegions,
    ManageRegions,
    ReadFacilities,
    ManageFacilities,
    ReadElders,
    WriteElders,
    ChangeElderStatus,
    ImportLedger,
    ExportLedger,
    ReadAccounts,
    ManageAccounts,
    ReadDevices,
    ManageDevices,
    ManageAssignments,
    LinkFamily,
    ReadStats,
    ReadAudit,
    /// See alarms (scope by role: region, own elders, or dispatched to).
    ReadAlarms,
    /// Answer, assess, dispatch, call 120 and the family, close: the call centre.
    HandleAlarms,
    /// Accept a dispatch, decline it, report on site; and report one's position.
    RespondAlarms,
    /// See home-care orders (scope by role: region, station, own elders, own orders).
    ReadOrders,
    /// Place a service order for an elder in scope.
    PlaceOrders,
    /// Assign caregivers and handle orders as staff: the call centre and stations.
    DispatchOrders,
    /// Grab, release, set off, check in and out: caregivers.
    ServeOrders,
    /// The service catalogue and its prices.
    ManageCatalogue,
    /// Take up and resolve complaints.
    HandleComplaints,
    /// Monthly statements, pay statements, rule books and pools (read).
    ReadStatements,
    /// Rule books and funding pools.
    ManageSettlement,
    /// Menus, serving, the kitchen's and stations' lists.
    ManageMeals,
    /// Order meals for an elder in scope.
    OrderMeals,
    /// Time-bank volunteers, hours and pairs.
    ManageTimeBank,
}

/// The role matrix. Scope (region, facility, link) is checked separately, per record.
pub fn allows(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match action {
        ReadRegions | ReadFacilities | ReadElders => true,
        ManageRegions | ManageFacilities | ManageAccounts => role == Admin,
        WriteElders => matches!(role, Admin | StationStaff | CareManager),
        ChangeElderStatus | ImportLedger | LinkFamily => matches!(role, Admin | StationStaff),
        ExportLedger => matches!(role, Admin | Supervisor | StationStaff),
        ReadAccounts => matches!(role, Admin | Supervisor | StationStaff),
        ReadDevices => matches!(role, Admin | Supervisor | Operator | StationStaff | CareManager),
        ManageDevices => matches!(role, Admin | StationStaff),
        ManageAssignments => matches!(role, Admin | StationStaff | Operator),
        ReadStats => matches!(role, Admin | Supervisor | StationStaff | CareManager),
        ReadAudit => matches!(role, Admin | Supervisor),
        ReadAlarms => true,
        HandleAlarms => matches!(role, Admin | Operator),
        RespondAlarms => matches!(role, Caregiver | StationStaff),
        ReadOrders => true,
        PlaceOrders | OrderMeals => matches!(role, Admin | Operator | CareManager | StationStaff | Family),
        DispatchOrders => matches!(role, Admin | Operator | StationStaff),
        ServeOrders => role == Caregiver,
        ManageCatalogue | ManageSettlement => role == Admin,
        HandleComplaints => matches!(role, Admin | Supervisor | Operator | StationStaff),
        ReadStatements => matches!(role, Admin | Supervisor | StationStaff),
        ManageMeals => matches!(role, Admin | StationStaff),
        ManageTimeBank => matches!(role, Admin | StationStaff | CareManager),
    }
}

/// Which elders a viewer may list: turned into a query filter by the store.
#[derive(Debug, Clone, PartialEq)]
pub enum ElderScope {
    All,
    /// Elders whose region code starts with this prefix.
    RegionPrefix(String),
    /// Elders whose care manager is this account.
    CareManager(i64),
    /// Elders whose home station is this facility.
    Station(i64),
    /// Elders linked to this family account.
    Family(i64),
    /// Elders this caregiver is currently serving.
    Serving(i64),
}

pub fn elder_scope(v: &Viewer) -> ElderScope {
    let region =
        || v.region.as_ref().map_or(ElderScope::All, |r| ElderScope::RegionPrefix(r.prefix().to_string()));
    match v.role {
        Role::Admin => ElderScope::All,
        Role::Supervisor | Role::Operator => region(),
        Role::CareManager => ElderScope::CareManager(v.account_id),
        // A station account without a facility sees nothing rather than everything.
        Role::StationStaff => ElderScope::Station(v.facility_id.unwrap_or(-1)),
        Role::Family => ElderScope::Family(v.account_id),
        Role::Caregiver => ElderScope::Serving(v.account_id),
    }
}

/// What the store knows about one elder that decides access.
#[derive(Debug, Clone, PartialEq)]
pub struct ElderFacts<'a> {
    pub region: &'a RegionCode,
    pub care_manager_id: Option<i64>,
    pub home_station_id: Option<i64>,
    pub family_linked: bool,
    pub served_by_viewer: bool,
}

/// Whether the viewer may see this elder at all.
pub fn can_see_elder(v: &Viewer, f: &ElderFacts<'_>) -> bool {
    match elder_scope(v) {
        ElderScope::All => true,
        ElderScope::RegionPrefix(p) => f.region.as_str().starts_with(&p),
        ElderScope::CareManager(id) => f.care_manager_id == Some(id),
        ElderScope::Station(id) => f.home_station_id == Some(id),
        ElderScope::Family(_) => f.family_linked,
        ElderScope::Serving(_) => f.served_by_viewer,
    }
}

/// Which personal fields are shown in full (the rest are masked or withheld).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonalData {
    pub id_number: bool,
    pub phone: bool,
    pub address: bool,
    pub contacts: bool,
    pub health: bool,
}

/// Field-level access for a viewer who may see the elder. ID numbers are for the staff who
/// keep the ledger; phones and addresses for those who call or go to the door.
pub fn personal_data(v: &Viewer) -> PersonalData {
    use Role::*;
    let r = v.role;
    PersonalData {
        id_number: matches!(r, Admin | StationStaff | CareManager),
        phone: matches!(r, Admin | Operator | StationStaff | CareManager | Family | Caregiver),
        address: matches!(r, Admin | Operator | StationStaff | CareManager | Family | Caregiver),
        contacts: matches!(r, Admin | Operator | StationStaff | CareManager | Family),
        health: matches!(r, Admin | Operator | StationStaff | CareManager | Family | Caregiver),
    }
}

/// Whether a viewer sees devices' serials and IMEIs in full: only the roles that manage
/// devices. A watch's ID is its login on the watch protocols, so others see its last four
/// characters ([`mask_serial`]) and alarms without it.
pub fn sees_device_identity(v: &Viewer) -> bool {
    allows(v.role, Action::ManageDevices)
}

/// A serial or IMEI down to its last four characters: `…1740`.
pub fn mask_serial(serial: &str) -> String {
    let n = serial.chars().count();
    let tail: String = serial.chars().skip(n.saturating_sub(4)).collect();
    format!("…{tail}")
}

/// Whether a viewer may write an elder it can see (create checks the target scope too).
pub fn can_write_elder(v: &Viewer, f: &ElderFacts<'_>) -> bool {
    allows(v.role, Action::WriteElders) && can_see_elder(v, f)
}

/// Whether a viewer's scope covers a region (for creating records there, facilities lists,
/// statistics).
pub fn covers_region(v: &Viewer, region: &RegionCode) -> bool {
    match (&v.role, &v.region) {
        (Role::Admin, _) => true,
        (_, Some(scope)) => scope.contains(region),
        (_, None) => matches!(v.role, Role::Supervisor | Role::Operator),
    }
}

/// Masks a street address down to its region: `平城区新建南路街道***`.
pub fn mask_address(address: &str) -> String {
    // Keep up to and including the last administrative suffix in the first 12 characters.
    let head: String = address.chars().take(12).collect();
    let cut = ["社区", "街道", "镇", "乡", "村", "区", "县"]
        .iter()
        .filter_map(|s| head.rfind(s).map(|i| i + s.len()))
        .max()
        .unwrap_or(0);
    format!("{}***", &head[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(role: Role, region: Option<&str>) -> Viewer {
        Viewer {
            account_id: 7,
            role,
            region: region.map(|r| RegionCode::parse("r", r).unwrap()),
            facility_id: Some(3),
        }
    }

    #[test]
    fn region_scope_and_masks() {
        let home = RegionCode::parse("r", "140213050001").unwrap();
        let elsewhere = RegionCode::parse("r", "140214001001").unwrap();
        let facts = |region| ElderFacts {
            region,
            care_manager_id: Some(7),
            home_station_id: None,
            family_linked: false,
            served_by_viewer: false,
        };
        let sup = viewer(Role::Supervisor, Some("140213"));
        assert!(can_see_elder(&sup, &facts(&home)));
        assert!(!can_see_elder(&sup, &facts(&elsewhere)));
        assert!(!personal_data(&sup).phone);
        let fam = viewer(Role::Family, None);
        assert!(!can_see_elder(&fam, &facts(&home)));
        assert!(can_see_elder(&viewer(Role::CareManager, None), &facts(&elsewhere)));
        assert!(!can_see_elder(&viewer(Role::StationStaff, None), &facts(&home)));
    }

    #[test]
    fn address_masking() {
        assert_eq!(mask_address("平城区新建南路街道柳港园社区3号楼2单元"), "平城区新建南路街道***");
        assert_eq!(mask_address("某处"), "***");
    }
}
