//! Every endpoint × every role: allowed, denied (403), or out of scope (404); and what each
//! role sees of an elder's personal data.

mod common;

use axum::http::{Method, StatusCode};
use common::{ROLES, World, elder_input, facility_input};
use serde_json::json;

/// Expected status per role, in `ROLES` order:
/// admin, supervisor, operator, caregiver, care_manager, station_staff, family.
type Expect = [u16; 7];

const ALL_OK: Expect = [200; 7];
const ADMIN_ONLY: Expect = [201, 403, 403, 403, 403, 403, 403];
const ADMIN_ONLY_200: Expect = [200, 403, 403, 403, 403, 403, 403];
const ADMIN_STATION: Expect = [200, 403, 403, 403, 403, 200, 403];
const DEVICE_READERS: Expect = [200, 200, 200, 403, 200, 200, 403];

struct Case {
    name: &'static str,
    method: Method,
    /// The path for the role at this index (some writes need a fresh target per role).
    path: Box<dyn Fn(usize) -> String>,
    body: Box<dyn Fn(usize) -> Option<serde_json::Value>>,
    expect: Expect,
}

fn case(name: &'static str, method: Method, path: impl Into<String>, expect: Expect) -> Case {
    let path = path.into();
    Case { name, method, path: Box::new(move |_| path.clone()), body: Box::new(|_| None), expect }
}

fn with_body(mut c: Case, body: impl Fn(usize) -> serde_json::Value + 'static) -> Case {
    c.body = Box::new(move |i| Some(body(i)));
    c
}

async fn cases(w: &World) -> Vec<Case> {
    let (e1, e2, d1, d2) = (w.e1, w.e2, w.d1, w.d2);
    let e1_input = |name: &str| {
        let mut v = serde_json::to_value(elder_input(1, "140213050001")).unwrap();
        v["name"] = json!(name);
        v["care_manager_id"] = json!(w.id("care_manager"));
        v["home_station_id"] = json!(w.station_a);
        v
    };
    let e1_body = e1_input("李一改");
    let e2_body = serde_json::to_value(elder_input(2, "140213051001")).unwrap();
    // One extra assignment per role to end (on e1, which the caregiver serves anyway, so
    // ending them changes no one's visibility).
    let mut assignments = Vec::new();
    for _ in ROLES {
        let a = w.store.start_assignment(w.id("caregiver"), e1, zhulao_store::Actor::SYSTEM).await.unwrap();
        assignments.push(a.id);
    }
    let station_b = w.station_b;
    let caregiver = w.id("caregiver");
    let family = w.id("family");
    vec![
        case("me", Method::GET, "/api/v1/me", ALL_OK),
        case("my assignments", Method::GET, "/api/v1/me/assignments", ALL_OK),
        case("regions", Method::GET, "/api/v1/regions?parent=140213", ALL_OK),
        case("region", Method::GET, "/api/v1/regions/140213050", ALL_OK),
        with_body(
            case("upsert regions", Method::POST, "/api/v1/regions", ADMIN_ONLY_200),
            |_| json!([{"code": "140213052", "name": "测试街道"}]),
        ),
        case("facilities", Method::GET, "/api/v1/facilities?kind=station", ALL_OK),
        case("facility", Method::GET, format!("/api/v1/facilities/{station_b}"), ALL_OK),
        with_body(case("create facility", Method::POST, "/api/v1/facilities", ADMIN_ONLY), |i| {
            serde_json::to_value(facility_input(&format!("新站{i}"), "140213050001")).unwrap()
        }),
        with_body(
            case("update facility", Method::PUT, format!("/api/v1/facilities/{station_b}"), ADMIN_ONLY_200),
            |_| serde_json::to_value(facility_input("建华助老服务站（新）", "140213051001")).unwrap(),
        ),
        with_body(
            case(
                "facility active",
                Method::POST,
                format!("/api/v1/facilities/{station_b}/active"),
                ADMIN_ONLY_200,
            ),
            |_| json!({"active": true}),
        ),
        case("elders", Method::GET, "/api/v1/elders?living=独居&age_min=60", ALL_OK),
        case("elder in scope", Method::GET, format!("/api/v1/elders/{e1}"), ALL_OK),
        case(
            "elder out of scope",
            Method::GET,
            format!("/api/v1/elders/{e2}"),
            [200, 404, 200, 404, 404, 404, 404],
        ),
        with_body(
            case("create elder", Method::POST, "/api/v1/elders", [201, 403, 403, 403, 201, 201, 403]),
            |i| serde_json::to_value(elder_input(100 + i as u16, "140213050001")).unwrap(),
        ),
        with_body(
            case(
                "update elder in scope",
                Method::PUT,
                format!("/api/v1/elders/{e1}"),
                [200, 403, 403, 403, 200, 200, 403],
            ),
            move |_| e1_body.clone(),
        ),
        with_body(
            case(
                "update elder out of scope",
                Method::PUT,
                format!("/api/v1/elders/{e2}"),
                [200, 403, 403, 403, 404, 404, 403],
            ),
            move |_| e2_body.clone(),
        ),
        case(
            "elder monitoring",
            Method::GET,
            format!("/api/v1/elders/{e1}/monitoring"),
            [200, 403, 200, 200, 200, 200, 200],
        ),
        with_body(
            case(
                "set monitoring in scope",
                Method::PUT,
                format!("/api/v1/elders/{e1}/monitoring"),
                [200, 403, 403, 403, 200, 200, 403],
            ),
            |_| json!({"vital_limits": [{"kind": "spo2", "low": 92, "high": 100}], "inactivity_min": 180}),
        ),
        with_body(
            case(
                "set monitoring out of scope",
                Method::PUT,
                format!("/api/v1/elders/{e2}/monitoring"),
                [200, 403, 403, 403, 404, 404, 403],
            ),
            |_| json!({}),
        ),
        with_body(
            case("elder status", Method::POST, format!("/api/v1/elders/{e1}/status"), ADMIN_STATION),
            |_| json!({"status": "active", "reason": "核实在册"}),
        ),
        case("elder history", Method::GET, format!("/api/v1/elders/{e1}/history"), ALL_OK),
        with_body(
            case(
                "link family",
                Method::POST,
                format!("/api/v1/elders/{e1}/family"),
                [204, 403, 403, 403, 403, 204, 403],
            ),
            move |_| json!({"account_id": family}),
        ),
        with_body(
            case(
                "start assignment",
                Method::POST,
                format!("/api/v1/elders/{e1}/assignments"),
                [201, 403, 201, 403, 403, 201, 403],
            ),
            move |_| json!({"caregiver_id": caregiver}),
        ),
        Case {
            name: "end assignment",
            method: Method::POST,
            path: Box::new(move |i| format!("/api/v1/assignments/{}/end", assignments[i])),
            body: Box::new(|_| None),
            expect: [200, 403, 200, 403, 403, 200, 403],
        },
        case("elder devices", Method::GET, format!("/api/v1/elders/{e1}/devices"), DEVICE_READERS),
        case("accounts", Method::GET, "/api/v1/accounts", [200, 200, 403, 403, 403, 200, 403]),
        with_body(
            case("create account", Method::POST, "/api/v1/accounts", ADMIN_ONLY),
            |i| json!({"username": format!("new{i}"), "display_name": "新人", "role": "caregiver", "password": "a long password"}),
        ),
        with_body(
            case(
                "account active",
                Method::POST,
                format!("/api/v1/accounts/{}/active", w.id("caregiver")),
                ADMIN_ONLY_200,
            ),
            |_| json!({"active": true}),
        ),
        case("devices", Method::GET, "/api/v1/devices", DEVICE_READERS),
        with_body(
            case("register device", Method::POST, "/api/v1/devices", [201, 403, 403, 403, 403, 201, 403]),
            |i| json!({"serial": format!("ZL-W-{i}"), "kind": "watch", "model": "W1"}),
        ),
        case("device", Method::GET, format!("/api/v1/devices/{d1}"), DEVICE_READERS),
        with_body(
            case("bind device", Method::POST, format!("/api/v1/devices/{d1}/bind"), ADMIN_STATION),
            move |_| json!({"elder_id": e1}),
        ),
        case("unbind device", Method::POST, format!("/api/v1/devices/{d2}/unbind"), ADMIN_STATION),
        case("device bindings", Method::GET, format!("/api/v1/devices/{d1}/bindings"), DEVICE_READERS),
        case("ledger export", Method::GET, "/api/v1/ledger/export", [200, 200, 403, 403, 403, 200, 403]),
        case("ledger template", Method::GET, "/api/v1/ledger/template", ADMIN_STATION),
        case("stats", Method::GET, "/api/v1/stats", [200, 200, 403, 403, 200, 200, 403]),
        case("audit", Method::GET, "/api/v1/audit?entity=elder", [200, 200, 403, 403, 403, 403, 403]),
        // Home-care services.
        case("catalogue", Method::GET, "/api/v1/catalogue", ALL_OK),
        with_body(
            case("create item", Method::POST, "/api/v1/catalogue", ADMIN_ONLY),
            |i| json!({"code": format!("x_item_{i}"), "category": "助乐", "name_zh": "宠物照看", "duration_min": 60, "price_yuan": "25"}),
        ),
        case("orders", Method::GET, "/api/v1/orders", ALL_OK),
        case("nearby orders", Method::GET, "/api/v1/orders/nearby", [403, 403, 403, 200, 403, 403, 403]),
        case("complaints", Method::GET, "/api/v1/complaints", ALL_OK),
        case("rules", Method::GET, "/api/v1/settlement/rules", [200, 200, 403, 403, 403, 200, 403]),
        with_body(
            case("put rules", Method::PUT, "/api/v1/settlement/rules", ADMIN_ONLY_200),
            |_| json!({"region_prefix": "140213", "rules": [{"code": "service_card", "name_zh": "服务卡", "source": "service_card", "share": {"kind": "full"}}]}),
        ),
        case("pools", Method::GET, "/api/v1/settlement/pools", [200, 200, 403, 403, 403, 200, 403]),
        case(
            "pay statement",
            Method::GET,
            format!("/api/v1/statements/pay?caregiver_id={caregiver}"),
            [200, 200, 403, 200, 403, 200, 403],
        ),
        case("elder lists", Method::GET, format!("/api/v1/elders/{e1}/lists"), ALL_OK),
        case("menus", Method::GET, "/api/v1/meals/menus", ALL_OK),
        case("meal orders", Method::GET, "/api/v1/meals/orders", [200, 200, 200, 403, 200, 200, 200]),
        case("production list", Method::GET, "/api/v1/meals/production", [200, 200, 403, 403, 403, 200, 403]),
        case("delivery rounds", Method::GET, "/api/v1/meals/deliveries", [200, 200, 403, 403, 403, 200, 403]),
        case("meal counts", Method::GET, "/api/v1/meals/counts", [200, 200, 403, 403, 403, 200, 403]),
        case("free-meal list", Method::GET, "/api/v1/meals/free-list", [200, 200, 403, 403, 403, 200, 403]),
        case("volunteers", Method::GET, "/api/v1/timebank/volunteers", [200, 403, 403, 403, 200, 200, 403]),
    ]
}

async fn every_endpoint_for_every_role(w: &World) {
    let mut failures = Vec::new();
    for c in cases(w).await {
        for (i, role) in ROLES.iter().enumerate() {
            let (status, body) =
                w.call(c.method.clone(), &(c.path)(i), Some(&w.tokens[i]), (c.body)(i)).await;
            if status.as_u16() != c.expect[i] {
                failures.push(format!("{} as {role}: expected {}, got {status} {body}", c.name, c.expect[i]));
            }
            if status == StatusCode::FORBIDDEN {
                assert_eq!(body["code"], "forbidden");
                assert_eq!(body["message"], "无权执行此操作");
            }
        }
        // Without a token, every endpoint asks for a sign-in.
        let (status, body) = w.call(c.method.clone(), &(c.path)(0), None, (c.body)(0)).await;
        if status != StatusCode::UNAUTHORIZED {
            failures.push(format!("{} unauthenticated: got {status} {body}", c.name));
        }
    }
    let (status, _) = w.call(Method::GET, "/api/v1/me", Some("not-a-token"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// The import endpoint: allowed for admin and station staff only (dry run, so nothing is written).
async fn ledger_import_by_role(w: &World) {
    let csv =
        "身份证号,姓名,住址,居住状况,所属社区\n11010519491231002X,王秀英,平城区柳港园1号,独居,柳港园社区\n";
    for (i, role) in ROLES.iter().enumerate() {
        let (status, _) = w
            .raw(
                Method::POST,
                "/api/v1/ledger/import?filename=a.csv&dry_run=true",
                Some(&w.tokens[i]),
                Some(csv.as_bytes().to_vec()),
                "text/csv",
            )
            .await;
        let expected = if matches!(*role, "admin" | "station_staff") { 200 } else { 403 };
        assert_eq!(status.as_u16(), expected, "{role}");
    }
}

async fn personal_data_is_masked_by_role(w: &World) {
    let e1 = w.store.elder(w.e1).await.unwrap();
    let full_id = e1.record.id_number.as_str().to_string();
    let full_phone = e1.record.phone.as_ref().unwrap().as_str().to_string();
    // (role, id full, phone full, address full, contacts shown, health shown)
    let expected = [
        ("admin", true, true, true, true, true),
        ("supervisor", false, false, false, false, false),
        ("operator", false, true, true, true, true),
        ("caregiver", false, true, true, false, true),
        ("care_manager", true, true, true, true, true),
        ("station_staff", true, true, true, true, true),
        ("family", false, true, true, true, true),
    ];
    for (role, id, phone, address, contacts, health) in expected {
        let (status, v) =
            w.call(Method::GET, &format!("/api/v1/elders/{}", w.e1), Some(w.token(role)), None).await;
        assert_eq!(status, StatusCode::OK, "{role}");
        assert_eq!(v["id_number"] == full_id.as_str(), id, "{role} id_number {}", v["id_number"]);
        assert_eq!(v["phone"] == full_phone.as_str(), phone, "{role} phone {}", v["phone"]);
        assert_eq!(v["address"] == e1.record.address.as_str(), address, "{role} address {}", v["address"]);
        assert_eq!(!v["contacts"].is_null(), contacts, "{role} contacts");
        assert_eq!(!v["health"].is_null(), health, "{role} health");
        if !id {
            assert_eq!(v["id_number"], e1.record.id_number.masked());
            assert!(v["birth_date"].is_null(), "{role}: a birth date would reveal the masked ID number");
            let text = v.to_string();
            assert!(!text.contains(&full_id), "{role} sees the full ID number somewhere");
        }
        if !phone {
            assert_eq!(v["phone"], "139****0001");
        }
        if !address {
            assert_eq!(v["address"], "平城区新建南路街道***");
            assert!(v["location"].is_null());
        }
        // Lists show the same masks as the detail.
        let (_, list) = w.call(Method::GET, "/api/v1/elders", Some(w.token(role)), None).await;
        let listed = list["items"].as_array().unwrap().iter().find(|e| e["id"] == w.e1).unwrap().clone();
        assert_eq!(listed["id_number"], v["id_number"], "{role}");
        assert_eq!(listed["phone"], v["phone"], "{role}");
    }
    // Scoped lists: family and caregiver see only e1, the supervisor only street A.
    for (role, total) in [
        ("family", 1),
        ("caregiver", 1),
        ("supervisor", 1),
        ("operator", 2),
        ("admin", 2),
        ("care_manager", 1),
    ] {
        let (_, list) = w.call(Method::GET, "/api/v1/elders", Some(w.token(role)), None).await;
        assert_eq!(list["total"], total, "{role}");
    }
    // The caregiver sees the elder only while serving.
    let served = w.store.active_assignments(w.id("caregiver")).await.unwrap();
    for a in served {
        w.store.end_assignment(a.id, zhulao_store::Actor::SYSTEM).await.unwrap();
    }
    let (status, _) =
        w.call(Method::GET, &format!("/api/v1/elders/{}", w.e1), Some(w.token("caregiver")), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = w.call(Method::GET, "/api/v1/elders", Some(w.token("caregiver")), None).await;
    assert_eq!(list["total"], 0);
    // Safe zones are places the elder goes: personal, like the address.
    let zone = json!({"safe_zones": [{"name": "女儿家", "shape": "circle",
        "center": {"lat": 40.0123, "lon": 113.0456}, "radius_m": 400}]});
    let (status, _) = w
        .call(Method::PUT, &format!("/api/v1/elders/{}/monitoring", w.e1), Some(w.token("admin")), Some(zone))
        .await;
    assert_eq!(status, StatusCode::OK);
    // The supervisor's audit view has personal values scrubbed; the admin's does not.
    let (_, audit) =
        w.call(Method::GET, "/api/v1/audit?entity=elder", Some(w.token("supervisor")), None).await;
    assert!(!audit.to_string().contains(&full_id));
    assert!(!audit.to_string().contains("40.0123"), "{audit}");
    let (_, audit) = w.call(Method::GET, "/api/v1/audit?entity=elder", Some(w.token("admin")), None).await;
    assert!(audit.to_string().contains(&full_id));
    assert!(audit.to_string().contains("40.0123"));
    // The supervisor's export is masked too.
    let (status, xlsx) =
        w.raw(Method::GET, "/api/v1/ledger/export", Some(w.token("supervisor")), None, "").await;
    assert_eq!(status, StatusCode::OK);
    let parsed =
        zhulao_ledger::parse_ledger(&xlsx, zhulao_ledger::Format::Xlsx, common::today(), &|_| None).unwrap();
    assert_eq!(parsed.total_rows, 1);
    assert!(parsed.errors.iter().any(|e| e.column == "身份证号"), "a masked ID number does not re-import");
}

on_both_backends!(every_endpoint_for_every_role, ledger_import_by_role, personal_data_is_masked_by_role);
