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
        crate::orders::list_catalogue,
        crate::orders::create_item,
        crate::orders::update_item,
        crate::orders::set_price,
        crate::orders::create_order,
        crate::orders::list_orders,
        crate::orders::nearby,
        crate::orders::get_order,
        crate::orders::order_action,
        crate::orders::check_out,
        crate::orders::upload_photo,
        crate::orders::get_photo,
        crate::orders::list_complaints,
        crate::orders::get_complaint,
        crate::orders::complaint_action,
        crate::care::get_rules,
        crate::care::put_rules,
        crate::care::list_pools,
        crate::care::fund_pool,
        crate::care::monthly_statement,
        crate::care::pay_statement,
        crate::care::get_lists,
        crate::care::put_lists,
        crate::care::list_menus,
        crate::care::put_menu,
        crate::care::delete_menu,
        crate::care::order_meal,
        crate::care::list_meals,
        crate::care::meal_action,
        crate::care::production,
        crate::care::deliveries,
        crate::care::counts,
        crate::care::free_list,
        crate::care::put_volunteer,
        crate::care::list_volunteers,
        crate::care::get_volunteer,
        crate::care::redeem,
        crate::care::record_hours,
        crate::care::list_hours,
        crate::care::decide_hours,
        crate::care::pairings,
        crate::care::create_pair,
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
