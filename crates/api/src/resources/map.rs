//! The big screen's map: one dot per wearer in the viewer's scope, coloured by state. Built
//! for 20,000 dots in one response: columns of numbers rather than an object per wearer.
//!
//! Privacy: no names, ID numbers, phones or addresses, only device ids, positions and
//! states; for roles that may not see addresses (supervisors) positions are rounded to a
//! grid of about 100 m, so a dot shows the neighbourhood, not the door.

use std::collections::HashSet;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use zhulao_alarms::AlarmKind;
use zhulao_domain::{Action, policy};
use zhulao_store::AlarmFilter;

use crate::AppState;
use crate::access::{alarm_scope, position_digits, round_to};
use crate::auth::CurrentUser;
use crate::error::ApiResult;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/map/wearers", get(wearers))
}

/// A wearer's state on the map.
pub const NORMAL: u8 = 0;
pub const ALARM: u8 = 1;
pub const OFFLINE: u8 = 2;

/// Every wearer in scope as parallel columns: `ids[i]` is at (`lat[i]`, `lon[i]`), shown in
/// state `state[i]` (0 normal, 1 open alarm, 2 offline or never connected), its device
/// connected now if `up[i]` is 1.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WearerMap {
    /// When the snapshot was taken (Unix ms).
    pub at: i64,
    /// False when positions are rounded to about 100 m (roles that may not see addresses).
    pub precise: bool,
    pub total: usize,
    pub online: usize,
    pub alarm: usize,
    pub offline: usize,
    /// Device ids.
    pub ids: Vec<i64>,
    /// WGS-84 latitude: the device's last fix, else the elder's home; `null` if neither.
    pub lat: Vec<Option<f64>>,
    pub lon: Vec<Option<f64>>,
    pub state: Vec<u8>,
    pub up: Vec<u8>,
}

/// Alarms that colour a wearer red: everything but the device's own troubles.
fn marks_wearer(kind: AlarmKind) -> bool {
    !matches!(kind, AlarmKind::Offline | AlarmKind::LowBattery | AlarmKind::DeviceConflict)
}

/// The wearer map: every bound device of an active elder in the viewer's scope, with its
/// latest position and state. Roles that read devices (admin, supervisor, operator, station
/// staff, care manager).
#[utoipa::path(get, path = "/api/v1/map/wearers", responses((status = 200, body = WearerMap), (status = 403, body = crate::error::ErrorBody)))]
pub async fn wearers(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<WearerMap>> {
    user.require(Action::ReadDevices)?;
    let v = user.viewer();
    let scope = policy::elder_scope(&v);
    let rows = state.store.wearer_states(&scope).await?;
    let mut f = AlarmFilter { open: Some(true), limit: 10_000, ..Default::default() };
    alarm_scope(&state, &v).await?.apply(&mut f);
    let open = state.store.list_alarms(&f).await?.items;
    let alarmed_devices: HashSet<i64> =
        open.iter().filter(|a| marks_wearer(a.case.kind)).filter_map(|a| a.device_id).collect();
    let alarmed_elders: HashSet<i64> =
        open.iter().filter(|a| marks_wearer(a.case.kind)).filter_map(|a| a.elder_id).collect();
    let digits = position_digits(&v);
    let n = rows.len();
    let mut m = WearerMap {
        at: state.store.clock().now_ms(),
        precise: digits > 3,
        total: n,
        online: 0,
        alarm: 0,
        offline: 0,
        ids: Vec::with_capacity(n),
        lat: Vec::with_capacity(n),
        lon: Vec::with_capacity(n),
        state: Vec::with_capacity(n),
        up: Vec::with_capacity(n),
    };
    for w in rows {
        let pos = w.fix.or(w.home);
        let online = w.online == Some(true);
        let st = if alarmed_devices.contains(&w.device_id) || alarmed_elders.contains(&w.elder_id) {
            ALARM
        } else if online {
            NORMAL
        } else {
            OFFLINE
        };
        m.online += usize::from(online);
        m.alarm += usize::from(st == ALARM);
        m.offline += usize::from(!online);
        m.ids.push(w.device_id);
        m.lat.push(pos.map(|p| round_to(p.0, digits)));
        m.lon.push(pos.map(|p| round_to(p.1, digits)));
        m.state.push(st);
        m.up.push(u8::from(online));
    }
    Ok(Json(m))
}
