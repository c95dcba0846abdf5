//! Who may see and do what: every scope rule the handlers apply to records (elders,
//! devices, orders, complaints, alarms, live events, meals) and to lists (accounts,
//! statements, hours, meals, figures: [`Reach`]), how an account acts under the service
//! rules, and how precisely positions are shown. Records outside a viewer's scope are
//! reported as not found, so their existence is not revealed.

use std::collections::HashSet;

use zhulao_alarms::AlarmRow;
use zhulao_domain::policy::{self, ElderFacts};
use zhulao_domain::{Action, Device, Elder, ElderRecord, ElderScope, Role, Viewer};
use zhulao_response::LiveEvent;
use zhulao_services::dispatch::eligible;
use zhulao_services::order::{ActorRole, OrderActor, OrderState};
use zhulao_store::{AlarmFilter, ComplaintRow, DeviceFilter, ElderFilter, OrderRow, OrderScope};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, WithField};

// ---------------------------------------------------------------------------------------
// Elders and devices

/// Loads an elder the viewer may see; records outside the viewer's scope are reported as
/// not found, so their existence is not revealed.
pub(crate) async fn visible_elder(state: &AppState, user: &CurrentUser, id: i64) -> ApiResult<Elder> {
    let elder = state.store.elder(id).await?;
    let v = user.viewer();
    let facts = ElderFacts {
        region: &elder.record.region,
        care_manager_id: elder.record.care_manager_id,
        home_station_id: elder.record.home_station_id,
        family_linked: v.role == Role::Family && state.store.is_family_of(v.account_id, id).await?,
        served_by_viewer: v.role == Role::Caregiver && state.store.is_serving(v.account_id, id).await?,
    };
    if policy::can_see_elder(&v, &facts) { Ok(elder) } else { Err(ApiError::NotFound("elder")) }
}

/// Applies what a role may set on a record it writes: station staff keep elders at their
/// station, care managers keep them on their own list, and both stay inside their region.
pub(crate) fn constrain_elder(v: &Viewer, rec: &mut ElderRecord) -> ApiResult<()> {
    match v.role {
        Role::StationStaff => match rec.home_station_id {
            None => rec.home_station_id = v.facility_id,
            Some(id) if Some(id) == v.facility_id => {}
            Some(_) => return Err(ApiError::Forbidden),
        },
        Role::CareManager => match rec.care_manager_id {
            None => rec.care_manager_id = Some(v.account_id),
            Some(id) if id == v.account_id => {}
            Some(_) => return Err(ApiError::Forbidden),
        },
        _ => {}
    }
    // Station staff are scoped by their station (above), others by their region.
    if !matches!(v.role, Role::Admin | Role::StationStaff)
        && v.region.is_some()
        && !policy::covers_region(v, &rec.region)
    {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

/// The devices a viewer may list: those of elders in scope, and unbound ones for
/// administrators and station staff.
pub(crate) fn device_filter(v: &Viewer) -> DeviceFilter {
    DeviceFilter {
        scope: policy::elder_scope(v),
        include_unbound: matches!(v.role, Role::Admin | Role::StationStaff),
        elder_id: None,
        offset: 0,
        limit: 20,
    }
}

/// Loads a device the viewer may see: a bound device with its elder, an unbound one as
/// [`device_filter`] allows (404 otherwise).
pub(crate) async fn visible_device(state: &AppState, user: &CurrentUser, id: i64) -> ApiResult<Device> {
    let d = state.store.device(id).await?;
    match d.elder_id {
        Some(elder) => visible_elder(state, user, elder).await.map(|_| d),
        None if device_filter(&user.viewer()).include_unbound => Ok(d),
        None => Err(ApiError::NotFound("device")),
    }
}

// ---------------------------------------------------------------------------------------
// Orders, complaints, meals and the time bank

/// Who acts, as the order rules see an account. An administrator acts with the call
/// centre's rights.
pub(crate) fn actor(user: &CurrentUser) -> OrderActor {
    let role = match user.account.role {
        Role::Admin | Role::Operator => ActorRole::Operator,
        Role::Supervisor => ActorRole::Supervisor,
        Role::Caregiver => ActorRole::Caregiver,
        Role::CareManager => ActorRole::CareManager,
        Role::StationStaff => ActorRole::Station,
        Role::Family => ActorRole::Family,
    };
    OrderActor::new(role, user.account.id)
}

/// Who decides on time-bank records as the rules see an account (an administrator acts as
/// the station).
pub(crate) fn bank_actor(user: &CurrentUser) -> OrderActor {
    let a = actor(user);
    if user.account.role == Role::Admin { OrderActor::new(ActorRole::Station, a.id) } else { a }
}

/// Which orders (complaints, meal orders) a viewer may list.
pub(crate) fn order_scope(v: &Viewer) -> OrderScope {
    let region = || v.region.as_ref().map(|r| r.prefix().to_string());
    match v.role {
        Role::Admin => OrderScope::All,
        Role::Supervisor | Role::Operator => region().map_or(OrderScope::All, OrderScope::RegionPrefix),
        Role::StationStaff => {
            OrderScope::Station { facility: v.facility_id.unwrap_or(-1), region_prefix: region() }
        }
        Role::CareManager => OrderScope::CareManager(v.account_id),
        Role::Family => OrderScope::Family(v.account_id),
        Role::Caregiver => OrderScope::Caregiver(v.account_id),
    }
}

/// Whether the viewer's scope covers an elder's record (for single records).
pub(crate) async fn covers_elder(state: &AppState, v: &Viewer, elder: &Elder) -> ApiResult<bool> {
    let region = elder.record.region.as_str();
    Ok(match order_scope(v) {
        OrderScope::All => true,
        OrderScope::RegionPrefix(p) => region.starts_with(&p),
        OrderScope::Station { facility, region_prefix } => {
            elder.record.home_station_id == Some(facility)
                || region_prefix.is_some_and(|p| region.starts_with(&p))
        }
        OrderScope::CareManager(id) => elder.record.care_manager_id == Some(id),
        OrderScope::Family(id) => state.store.is_family_of(id, elder.id).await?,
        OrderScope::Caregiver(_) => false,
    })
}

/// Loads an order the viewer may see (404 otherwise, as if it did not exist). A caregiver
/// sees the orders they hold or held, and those on offer to them now.
pub(crate) async fn visible_order(state: &AppState, user: &CurrentUser, id: i64) -> ApiResult<OrderRow> {
    user.require(Action::ReadOrders)?;
    let row = state.store.order(id).await?;
    let v = user.viewer();
    let ok = match v.role {
        Role::Caregiver => {
            row.order.caregiver == Some(v.account_id)
                || row
                    .order
                    .history
                    .iter()
                    .any(|h| h.by.is_some_and(|b| b.role == ActorRole::Caregiver && b.id == v.account_id))
                || (row.order.state == OrderState::Published && {
                    let cg = state.orders.caregiver(v.account_id).await.with_field("order")?;
                    let now = chrono::DateTime::from_timestamp_millis(state.store.clock().now_ms())
                        .unwrap_or_default();
                    eligible(&row.order, &cg, now).is_ok()
                })
        }
        _ => {
            let elder = state.store.elder(row.order.elder).await?;
            covers_elder(state, &v, &elder).await?
        }
    };
    if ok { Ok(row) } else { Err(ApiError::NotFound("order")) }
}

/// Loads a complaint the viewer may see: a caregiver those against them, others those of
/// elders their scope covers (404 otherwise).
pub(crate) async fn visible_complaint(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> ApiResult<ComplaintRow> {
    user.require(Action::ReadOrders)?;
    let row = state.store.complaint(id).await?;
    let v = user.viewer();
    let ok = match v.role {
        Role::Caregiver => row.case.caregiver == Some(v.account_id),
        _ => covers_elder(state, &v, &state.store.elder(row.case.elder).await?).await?,
    };
    if ok { Ok(row) } else { Err(ApiError::NotFound("complaint")) }
}

/// The account's own region as a code prefix (none: everywhere).
pub(crate) fn region_prefix_of(user: &CurrentUser) -> Option<String> {
    user.account.region.as_ref().map(|r| r.prefix().to_string())
}

/// Station staff may only write their own facility's menus and lists.
pub(crate) fn own_facility(user: &CurrentUser, facility: i64) -> ApiResult<()> {
    if user.account.role == Role::StationStaff && user.account.facility_id != Some(facility) {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

/// The kitchen's and delivery rounds' figures: administrators, supervisors, station staff.
pub(crate) fn kitchen_roles(user: &CurrentUser) -> ApiResult<()> {
    match user.account.role {
        Role::Admin | Role::Supervisor | Role::StationStaff => Ok(()),
        _ => Err(ApiError::Forbidden),
    }
}

// ---------------------------------------------------------------------------------------
// Alarms and the live feed

/// Who sees which alarms: the call centre and supervisors by region, care managers and
/// family their elders, responders what they are dispatched to.
#[derive(Debug, Clone)]
pub(crate) enum AlarmScope {
    All,
    Region(String),
    Elders(HashSet<i64>),
    Responder(i64),
}

/// The viewer's alarm scope (care managers and family: their elders, loaded once).
pub(crate) async fn alarm_scope(state: &AppState, v: &Viewer) -> ApiResult<AlarmScope> {
    Ok(match v.role {
        Role::Admin => AlarmScope::All,
        Role::Supervisor | Role::Operator => match &v.region {
            Some(r) => AlarmScope::Region(r.prefix().to_string()),
            None => AlarmScope::All,
        },
        Role::CareManager | Role::Family => {
            let scope = if v.role == Role::Family {
                ElderScope::Family(v.account_id)
            } else {
                ElderScope::CareManager(v.account_id)
            };
            let mut f = ElderFilter::scoped(scope);
            f.limit = 5000;
            let elders = state.store.list_elders(&f).await?;
            AlarmScope::Elders(elders.items.into_iter().map(|e| e.id).collect())
        }
        Role::Caregiver | Role::StationStaff => AlarmScope::Responder(v.account_id),
    })
}

impl AlarmScope {
    pub(crate) fn apply(&self, f: &mut AlarmFilter) {
        match self {
            AlarmScope::All => {}
            AlarmScope::Region(p) => f.region_prefix = Some(p.clone()),
            AlarmScope::Elders(ids) => f.elder_ids = Some(ids.iter().copied().collect()),
            AlarmScope::Responder(id) => f.responder_id = Some(*id),
        }
    }

    fn covers(&self, region: &str, elder: Option<i64>, responder: Option<i64>) -> bool {
        match self {
            AlarmScope::All => true,
            AlarmScope::Region(p) => region.starts_with(p.as_str()),
            AlarmScope::Elders(ids) => elder.is_some_and(|e| ids.contains(&e)),
            AlarmScope::Responder(id) => responder == Some(*id),
        }
    }

    fn covers_row(&self, a: &AlarmRow) -> bool {
        // A responder keeps seeing an alarm they were once sent to.
        if let AlarmScope::Responder(id) = self
            && a.case.offers.iter().any(|o| o.responder == *id)
        {
            return true;
        }
        self.covers(&a.region_code, a.elder_id, a.case.current_offer().map(|o| o.responder))
    }
}

/// Loads an alarm in the viewer's scope (404 otherwise).
pub(crate) async fn visible_alarm(state: &AppState, user: &CurrentUser, id: i64) -> ApiResult<AlarmRow> {
    user.require(Action::ReadAlarms)?;
    let a = state.store.alarm(id).await?;
    if alarm_scope(state, &user.viewer()).await?.covers_row(&a) {
        Ok(a)
    } else {
        Err(ApiError::NotFound("alarm"))
    }
}

/// Whether a live-feed event goes to a viewer with this scope.
pub(crate) fn visible_live(scope: &AlarmScope, e: &LiveEvent) -> bool {
    match scope {
        // An order on offer goes to the caregiver it is offered to, and nobody else.
        _ if e.topic == "order_offer" => {
            matches!(scope, AlarmScope::Responder(id) if e.responder_id == Some(*id))
        }
        // Device dots are for the region's screens, not for a responder's phone.
        AlarmScope::Responder(_) if e.topic == "device" => false,
        _ => scope.covers(&e.region_code, e.elder_id, e.responder_id),
    }
}

// ---------------------------------------------------------------------------------------
// Positions

/// Rounds a coordinate to `digits` decimals (3 ≈ 110 m of latitude).
pub(crate) fn round_to(x: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (x * k).round() / k
}

/// The digits a viewer's positions keep: 5 (about 1 m) for roles that may see addresses, 3
/// (about 100 m) for the rest.
pub(crate) fn position_digits(v: &Viewer) -> i32 {
    if policy::personal_data(v).address { 5 } else { 3 }
}

// ---------------------------------------------------------------------------------------
// Lists

/// How far a list reaches for the viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Everything (administrators).
    All,
    /// Records under this region prefix (`None`: an account without a region).
    Region(Option<String>),
    /// One facility's records (station staff: their own).
    Facility(i64),
    /// One elder's records, that elder being one the viewer may see (family, care managers):
    /// the caller names the elder and checks it with [`visible_elder`].
    OneElder,
}

/// The region a region-wide list or figure covers: all for administrators, else the viewer's
/// own region.
pub(crate) fn list_region(user: &CurrentUser) -> Option<String> {
    if user.account.role == Role::Admin { None } else { region_prefix_of(user) }
}

/// Accounts: administrators all, station staff their facility's, others their region's.
pub(crate) fn account_reach(v: &Viewer) -> Reach {
    match v.role {
        Role::Admin => Reach::All,
        Role::StationStaff => Reach::Facility(v.facility_id.unwrap_or(-1)),
        _ => Reach::Region(v.region.as_ref().map(|r| r.prefix().to_string())),
    }
}

/// A month's statement: administrators all, supervisors their region, station staff their
/// facility as provider, family and care managers one elder of theirs.
pub(crate) fn statement_reach(v: &Viewer) -> ApiResult<Reach> {
    match v.role {
        Role::Admin => Ok(Reach::All),
        Role::Supervisor => Ok(Reach::Region(v.region.as_ref().map(|r| r.prefix().to_string()))),
        Role::StationStaff => Ok(Reach::Facility(v.facility_id.unwrap_or(-1))),
        Role::Family | Role::CareManager => Ok(Reach::OneElder),
        _ => Err(ApiError::Forbidden),
    }
}

/// Volunteers' hours: administrators all, station staff, care managers and supervisors their
/// region, the family of the elder served (who confirm the minutes) that elder's.
pub(crate) fn hours_reach(v: &Viewer) -> ApiResult<Reach> {
    match v.role {
        Role::Admin => Ok(Reach::All),
        Role::StationStaff | Role::CareManager | Role::Supervisor => {
            Ok(Reach::Region(v.region.as_ref().map(|r| r.prefix().to_string())))
        }
        Role::Family => Ok(Reach::OneElder),
        _ => Err(ApiError::Forbidden),
    }
}

/// Meal orders: a canteen's (or station's) staff see what their facility cooks or delivers
/// (narrowed to it by the caller), caregivers none, others as for service orders.
pub(crate) fn meal_scope(v: &Viewer) -> ApiResult<OrderScope> {
    match v.role {
        Role::StationStaff => Ok(OrderScope::All),
        Role::Caregiver => Err(ApiError::Forbidden),
        _ => Ok(order_scope(v)),
    }
}

/// Region-wide figures (alarm statistics, today's services): administrators, supervisors and
/// the call centre.
pub(crate) fn sees_figures(v: &Viewer) -> ApiResult<()> {
    if matches!(v.role, Role::Admin | Role::Supervisor | Role::Operator) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// A device as the viewer may see it: the serial in full only for roles that manage devices.
pub(crate) fn device_for(v: &Viewer, mut d: zhulao_domain::Device) -> zhulao_domain::Device {
    if !zhulao_domain::policy::sees_device_identity(v) {
        d.serial = zhulao_domain::policy::mask_serial(&d.serial);
    }
    d
}

/// An alarm's JSON (summary, detail or live event) as the viewer may see it: without the
/// device's serial unless the viewer manages devices, and its position as precise as the
/// viewer's positions are on the map ([`position_digits`]).
pub(crate) fn alarm_json_for(v: &Viewer, data: &mut serde_json::Value) {
    let Some(o) = data.as_object_mut() else { return };
    if !zhulao_domain::policy::sees_device_identity(v) {
        o.remove("serial");
    }
    let digits = position_digits(v);
    if let Some(loc) = o.get_mut("location").and_then(serde_json::Value::as_object_mut) {
        for key in ["lat", "lon"] {
            if let Some(x) = loc.get(key).and_then(serde_json::Value::as_f64) {
                loc.insert(key.into(), round_to(x, digits).into());
            }
        }
    }
}
