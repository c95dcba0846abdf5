//! Devices: registration (the secret is shown once), binding to elders, the binding
//! history, an elder's devices, and what is sent down to a device (settings, commands).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use zhulao_domain::{Action, Coded, Device, DeviceBinding, DeviceInput, FieldError};
use zhulao_store::DeviceFilter;

use crate::AppState;
use crate::access::{device_filter, device_for, visible_device, visible_elder};
use crate::auth::{self, CurrentUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Paging};
use crate::views::PageView;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/devices", get(list_devices).post(register_device))
        .route("/devices/{id}", get(get_device))
        .route("/devices/{id}/bind", post(bind_device))
        .route("/devices/{id}/unbind", post(unbind_device))
        .route("/devices/{id}/bindings", get(device_bindings))
        .route("/elders/{id}/devices", get(elder_devices))
        .route("/devices/{id}/config", post(device_config))
        .route("/devices/{id}/commands", post(device_command))
}

#[utoipa::path(get, path = "/api/v1/devices", params(Paging), responses((status = 200, body = PageView<Device>)))]
pub async fn list_devices(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(p): ApiQuery<Paging>,
) -> ApiResult<Json<PageView<Device>>> {
    user.require(Action::ReadDevices)?;
    let (offset, limit) = p.bounds();
    let f = DeviceFilter { offset, limit, ..device_filter(&user.viewer()) };
    let v = user.viewer();
    Ok(Json(PageView::from_store(state.store.list_devices(&f).await?, |d| device_for(&v, d))))
}

#[utoipa::path(get, path = "/api/v1/devices/{id}", responses((status = 200, body = Device)))]
pub async fn get_device(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Device>> {
    user.require(Action::ReadDevices)?;
    Ok(Json(device_for(&user.viewer(), visible_device(&state, &user, id).await?)))
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RegisteredDevice {
    pub device: Device,
    /// The device's secret for authenticating to the gateway. Shown once; only its hash is kept.
    pub secret: String,
}

#[utoipa::path(post, path = "/api/v1/devices", request_body = DeviceInput, responses((status = 201, body = RegisteredDevice)))]
pub async fn register_device(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<DeviceInput>,
) -> ApiResult<(StatusCode, Json<RegisteredDevice>)> {
    user.require(Action::ManageDevices)?;
    let d = input.validate()?;
    // A device secret is random and long, so a fast hash is enough (and a gateway can check
    // thousands of reconnecting devices a second).
    let (secret, secret_hash) = auth::new_token();
    let device = state.store.register_device(&d, &secret_hash, user.actor()).await?;
    Ok((StatusCode::CREATED, Json(RegisteredDevice { device, secret })))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ElderRef {
    pub elder_id: i64,
}

#[utoipa::path(post, path = "/api/v1/devices/{id}/bind", request_body = ElderRef, responses((status = 200, body = Device)))]
pub async fn bind_device(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<ElderRef>,
) -> ApiResult<Json<Device>> {
    user.require(Action::ManageDevices)?;
    visible_device(&state, &user, id).await?;
    visible_elder(&state, &user, req.elder_id).await?;
    let device = state.store.bind_device(id, req.elder_id, user.actor()).await?;
    // The gateway attributes the device's next message to its new wearer.
    state.response.device_changed(id);
    Ok(Json(device))
}

#[utoipa::path(post, path = "/api/v1/devices/{id}/unbind", responses((status = 200, body = Device)))]
pub async fn unbind_device(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Device>> {
    user.require(Action::ManageDevices)?;
    visible_device(&state, &user, id).await?;
    let device = state.store.unbind_device(id, user.actor()).await?;
    state.response.device_changed(id);
    Ok(Json(device))
}

#[utoipa::path(get, path = "/api/v1/devices/{id}/bindings", responses((status = 200, body = Vec<DeviceBinding>)))]
pub async fn device_bindings(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<DeviceBinding>>> {
    user.require(Action::ReadDevices)?;
    visible_device(&state, &user, id).await?;
    Ok(Json(state.store.device_bindings(id).await?))
}

#[utoipa::path(get, path = "/api/v1/elders/{id}/devices", responses((status = 200, body = Vec<Device>)))]
pub async fn elder_devices(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Device>>> {
    user.require(Action::ReadDevices)?;
    visible_elder(&state, &user, id).await?;
    let f = DeviceFilter {
        scope: zhulao_domain::ElderScope::All,
        include_unbound: false,
        elder_id: Some(id),
        offset: 0,
        limit: 100,
    };
    let v = user.viewer();
    Ok(Json(state.store.list_devices(&f).await?.items.into_iter().map(|d| device_for(&v, d)).collect()))
}

/// Settings to push to a device; the SOS contacts come from the bound elder's record.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceConfigInput {
    /// Seconds between vital-sign, position and battery reports (10–86400).
    pub report_interval_s: Option<u32>,
    /// Heart-rate alarm thresholds on the device, bpm (20–250).
    pub hr_low: Option<u16>,
    pub hr_high: Option<u16>,
    /// low, normal, high.
    pub fall_sensitivity: Option<String>,
}

/// Pushes settings to a device over its downlink (`down/config`, retained by the broker so a
/// device that is offline gets them when it connects). The elder's emergency contacts go along
/// as the device's SOS numbers.
#[utoipa::path(post, path = "/api/v1/devices/{id}/config", request_body = DeviceConfigInput,
    responses((status = 202, body = Object), (status = 422, body = crate::error::ErrorBody)))]
pub async fn device_config(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<DeviceConfigInput>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    user.require(Action::ManageDevices)?;
    let device = visible_device(&state, &user, id).await?;
    let contacts = match device.elder_id {
        Some(e) => {
            let elder = state.store.elder(e).await?;
            let list: Vec<zhulao_proto::ConfigContact> = elder
                .record
                .contacts
                .iter()
                .map(|c| zhulao_proto::ConfigContact {
                    name: c.name.clone(),
                    phone: c.phone.as_str().to_string(),
                })
                .collect();
            Some(list)
        }
        None => None,
    };
    let fall_sensitivity = match input.fall_sensitivity.as_deref() {
        None => None,
        Some(s) => Some(zhulao_proto::FallSensitivity::parse(s).ok_or_else(|| {
            ApiError::field(FieldError::new(
                "fall_sensitivity",
                "unknown_value",
                "跌倒灵敏度应为 low、normal 或 high",
                "fall_sensitivity must be low, normal or high",
            ))
        })?),
    };
    let msg = zhulao_proto::DeviceConfigMsg {
        report_interval_s: input.report_interval_s,
        contacts,
        hr_low: input.hr_low,
        hr_high: input.hr_high,
        fall_sensitivity,
        silent: None,
    };
    let msg_contacts = msg.contacts.as_ref().map(Vec::len);
    // The device protocol's own rules decide what the device accepts.
    let config = msg.validate().map_err(|e| ApiError::field(e.to_field_error("config")))?;
    // Audited before it leaves: the contacts' phones are the elder record's, so not repeated.
    let detail = serde_json::json!({
        "report_interval_s": input.report_interval_s,
        "hr_low": input.hr_low,
        "hr_high": input.hr_high,
        "fall_sensitivity": input.fall_sensitivity,
        "contacts": msg_contacts,
    });
    state.store.record_action(user.actor(), "config", "device", device.id, &detail).await?;
    // Kept until a TCP watch logs in (MQTT devices get them retained by the broker).
    let payload = zhulao_proto::Downlink::Config(config.clone()).encode();
    state.store.queue_device_config(device.id, &String::from_utf8_lossy(&payload)).await?;
    state.response.send_to_device(
        device.id,
        zhulao_response::DeviceMessage::Config { serial: device.serial.clone(), config },
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "device_id": device.id, "serial": device.serial, "queued": true })),
    ))
}

/// Sends a command to a watch connected over TCP (3G or IW protocol): `{"command":
/// "find_device"}`, `"locate_now"`, `"measure_heart_rate"`, `"reboot"`, `{"command":
/// "report_interval", "seconds": 300}`, `{"command": "heart_rate_interval", "minutes": 30}`,
/// `{"command": "silent_hours", "periods": [["22:00", "06:30"]]}`, `{"command":
/// "sos_numbers", "numbers": ["138…"]}`, `{"command": "phonebook", "contacts": [{"name",
/// "phone"}]}`, `{"command": "message", "text": "…"}`. The watch must be connected to this
/// instance now (409 otherwise); MQTT devices take `/config` instead (422).
#[utoipa::path(post, path = "/api/v1/devices/{id}/commands", request_body = Object,
    responses((status = 202, body = Object), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn device_command(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<serde_json::Value>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let name = input.get("command").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
    // Keeping one connection of a watch in conflict is part of handling its conflict alarm:
    // the call centre may do it; every other command is for those who manage devices.
    if name != "confirm_session" || user.require(Action::HandleAlarms).is_err() {
        user.require(Action::ManageDevices)?;
    }
    let device = visible_device(&state, &user, id).await?;
    // Audited before it is sent; the arguments may hold phone numbers: only their names go in.
    let args: Vec<&String> =
        input.as_object().map(|o| o.keys().filter(|k| *k != "command").collect()).unwrap_or_default();
    let detail = serde_json::json!({ "command": name, "arguments": args });
    state.store.record_action(user.actor(), "command", "device", device.id, &detail).await?;
    state.response.device_command(device.id, &input)?;
    // The command's arguments may hold phone numbers: only its name is logged.
    tracing::info!(device = device.id, command = %name, "device command sent");
    Ok((
        StatusCode::ACCEPTED,
        Json(
            serde_json::json!({ "device_id": device.id, "serial": device.serial, "command": name, "sent": true }),
        ),
    ))
}
