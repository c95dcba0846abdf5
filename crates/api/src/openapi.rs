//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::OpenApi;

use crate::routes::*;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "zhulao API",
        description = "助老 smart home & community elderly-care platform. \
        Errors: `{code, message (中文), message_en, field?, errors?}`. Authenticate with \
        `Authorization: Bearer <token>` from /api/v1/auth/login."
    ),
    paths(
        crate::alarms::list_alarms,
        crate::alarms::get_alarm,
        crate::alarms::alarm_step,
        crate::alarms::raise_alarm,
        crate::alarms::alarm_stats,
        crate::alarms::report_position,
        crate::alarms::device_config,
        crate::alarms::device_command,
        crate::alarms::alarm_responders,
        crate::map::wearers,
        login,
        logout,
        me,
        change_password,
        my_assignments,
        list_regions,
        get_region,
        upsert_regions,
        list_facilities,
        get_facility,
        create_facility,
        update_facility,
        set_facility_active,
        list_elders,
        get_elder,
        create_elder,
        update_elder,
        set_elder_status,
        elder_history,
        link_family,
        start_assignment,
        end_assignment,
        elder_devices,
        list_accounts,
        create_account,
        set_account_active,
        list_devices,
        get_device,
        register_device,
        bind_device,
        unbind_device,
        device_bindings,
        import_ledger,
        export_ledger,
        ledger_template,
        stats,
        list_audit,
    )
)]
struct ApiDoc;

/// The document as JSON text.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serialises")
}
