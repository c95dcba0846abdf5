//! Bad input gets a clear error (Chinese first) and writes nothing; sessions and the login
//! limiter behave.

mod common;

use axum::http::{Method, StatusCode};
use common::{PASSWORD, World, elder_input};
use serde_json::json;

/// Posts an elder body and checks the error code and field, and that nothing was written.
async fn rejects(w: &World, body: serde_json::Value, status: StatusCode, code: &str, field: Option<&str>) {
    let (elders, audit) = (w.elder_count().await, w.audit_count().await);
    let (got, v) = w.call(Method::POST, "/api/v1/elders", Some(w.token("admin")), Some(body)).await;
    assert_eq!(got, status, "{v}");
    assert_eq!(v["code"], code, "{v}");
    if let Some(f) = field {
        assert_eq!(v["field"], f, "{v}");
    }
    assert!(
        v["message"].as_str().is_some_and(|m| m.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))),
        "Chinese message: {v}"
    );
    assert!(v["message_en"].is_string());
    assert_eq!(w.elder_count().await, elders, "nothing written");
    assert_eq!(w.audit_count().await, audit, "nothing audited");
}

fn body(f: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
    let mut v = serde_json::to_value(elder_input(300, "140213050001")).unwrap();
    f(&mut v);
    v
}

async fn elder_input_errors(w: &World) {
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    rejects(
        w,
        body(|v| v["id_number"] = json!("11010519491231002X".replace('X', "1"))),
        unprocessable,
        "id_number_checksum",
        Some("id_number"),
    )
    .await;
    rejects(
        w,
        body(|v| v["id_number"] = json!("110105194902300028")),
        unprocessable,
        "id_number_birth_date",
        Some("id_number"),
    )
    .await;
    rejects(
        w,
        body(|v| v["id_number"] = json!("1101051949")),
        unprocessable,
        "id_number_length",
        Some("id_number"),
    )
    .await;
    rejects(w, body(|v| v["name"] = json!("")), unprocessable, "required", Some("name")).await;
    rejects(w, body(|v| v["address"] = json!("长".repeat(201))), unprocessable, "too_long", Some("address"))
        .await;
    rejects(w, body(|v| v["living"] = json!("露宿")), unprocessable, "unknown_value", Some("living")).await;
    rejects(w, body(|v| v["phone"] = json!("12345")), unprocessable, "phone_format", Some("phone")).await;
    rejects(w, body(|v| v["lat"] = json!(95.0)), unprocessable, "coordinates", Some("location")).await;
    rejects(
        w,
        body(|v| v["card_balance_yuan"] = json!("12.345")),
        unprocessable,
        "money_format",
        Some("card_balance_yuan"),
    )
    .await;
    rejects(
        w,
        body(|v| v["region_code"] = json!("140213050099")),
        unprocessable,
        "unknown_region",
        Some("region_code"),
    )
    .await;
    rejects(w, body(|v| v["unexpected"] = json!(1)), StatusCode::BAD_REQUEST, "invalid_json", None).await;
    // Several bad fields: all reported.
    let (_, v) = w
        .call(
            Method::POST,
            "/api/v1/elders",
            Some(w.token("admin")),
            Some(body(|v| {
                v["name"] = json!("");
                v["living"] = json!("?");
            })),
        )
        .await;
    assert_eq!(v["errors"].as_array().unwrap().len(), 2, "{v}");
    // Malformed JSON.
    let (status, raw) = w
        .raw(
            Method::POST,
            "/api/v1/elders",
            Some(w.token("admin")),
            Some(b"{\"name\":".to_vec()),
            "application/json",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&raw).contains("invalid_json"));
    // A duplicate ID number conflicts.
    let existing = w.store.elder(w.e1).await.unwrap();
    rejects(
        w,
        body(|v| v["id_number"] = json!(existing.record.id_number.as_str())),
        StatusCode::CONFLICT,
        "duplicate",
        Some("id_number"),
    )
    .await;
    // Bad query parameters.
    let (status, v) = w.call(Method::GET, "/api/v1/elders?age_min=abc", Some(w.token("admin")), None).await;
    assert_eq!((status, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")));
    let (status, v) = w.call(Method::GET, "/api/v1/elders?region=12", Some(w.token("admin")), None).await;
    assert_eq!((status, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("region_code_format")));
    // Unknown records and routes.
    let (status, v) = w.call(Method::GET, "/api/v1/elders/999999", Some(w.token("admin")), None).await;
    assert_eq!((status, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, v) = w.call(Method::GET, "/api/v1/elders/abc", Some(w.token("admin")), None).await;
    assert_eq!((status, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_path")), "{v}");
    let (status, _) = w.call(Method::GET, "/api/v1/nothing", Some(w.token("admin")), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn optimistic_updates(w: &World) {
    let e1 = w.store.elder(w.e1).await.unwrap();
    let mut v = serde_json::to_value(elder_input(1, "140213050001")).unwrap();
    v["care_manager_id"] = json!(w.id("care_manager"));
    v["home_station_id"] = json!(w.station_a);
    let put = |version: i64, v: serde_json::Value| async move {
        let req = axum::http::Request::builder()
            .method(Method::PUT)
            .uri(format!("/api/v1/elders/{}", w.e1))
            .header("authorization", format!("Bearer {}", w.token("admin")))
            .header("content-type", "application/json")
            .header("if-match", version.to_string())
            .body(axum::body::Body::from(v.to_string()))
            .unwrap();
        tower::ServiceExt::oneshot(w.app.clone(), req).await.unwrap().status()
    };
    assert_eq!(put(e1.version, v.clone()).await, StatusCode::OK);
    assert_eq!(put(e1.version, v).await, StatusCode::PRECONDITION_FAILED, "a stale version is refused");
}

async fn ledger_uploads(w: &World) {
    let import = |bytes: Vec<u8>, name: &str, dry: bool| {
        let path = format!("/api/v1/ledger/import?filename={name}&dry_run={dry}");
        async move { w.call_bytes(&path, bytes).await }
    };
    let csv = "身份证号,姓名,联系电话,住址,居住状况,经济状况,所属社区\n\
               11010519491231002X,王秀英,13812345678,平城区柳港园1号,独居,低保,柳港园社区\n\
               140213194005060902,张建国,,平城区建华2号,空巢,一般,建华社区\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(csv);
    // A dry run validates and writes nothing.
    let (status, v) = import(gbk.to_vec(), "ledger.csv", true).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((v["valid_rows"].as_i64(), v["inserted"].as_i64()), (Some(2), Some(0)));
    let before = w.elder_count().await;
    // GBK as Chinese Excel writes it.
    let (status, v) = import(gbk.to_vec(), "ledger.csv", false).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["inserted"], 2, "{v}");
    assert_eq!(w.elder_count().await, before + 2);
    // The same ledger in UTF-8 again: updates nothing, duplicates nothing.
    let (_, v) = import(csv.as_bytes().to_vec(), "ledger.csv", false).await;
    assert_eq!((v["inserted"].as_i64(), v["unchanged"].as_i64()), (Some(0), Some(2)), "{v}");
    assert_eq!(w.elder_count().await, before + 2);
    // Row errors are reported by row and column; valid rows are still stored.
    let bad = "身份证号,姓名,住址,居住状况,所属社区\n\
               110105194912310021,坏校验,平城区1号,独居,柳港园社区\n\
               14021319400506003X,新人,平城区3号,独居,柳港园社区\n\
               14021319400506003X,重复,平城区3号,独居,柳港园社区\n\
               140213194005060048,无社区,平城区4号,独居,不存在社区\n";
    let (status, v) = import(bad.as_bytes().to_vec(), "bad.csv", false).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let errors: Vec<(i64, String)> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_i64().unwrap(), e["column"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(errors, [(2, "身份证号".into()), (4, "身份证号".into()), (5, "所属社区".into())], "{v}");
    assert!(!v.to_string().contains("110105194912310021"), "ID numbers are masked in the report");
    assert_eq!(v["inserted"], 1);
    // A well-formed but unknown region code is one row's error, not the whole file's.
    let coded = "身份证号,姓名,住址,居住状况,区划代码\n14021319400506003X,新人,平城区3号,独居,140213050099\n";
    let (status, v) = import(coded.as_bytes().to_vec(), "coded.csv", false).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (v["errors"][0]["column"].as_str(), v["errors"][0]["code"].as_str()),
        (Some("区划代码"), Some("unknown_region")),
        "{v}"
    );
    // Whole-file errors: nothing written.
    let n = w.elder_count().await;
    let xlsx = zhulao_ledger::template_xlsx();
    for (bytes, name, code) in [
        (xlsx[..xlsx.len() / 2].to_vec(), "cut.xlsx", "xlsx"),
        (vec![0xff, 0xfe, 0x00, 0x41, 0x00, 0x42], "utf16.csv", "utf16"),
        (b"name,address\n".to_vec(), "missing.csv", "missing_column"),
        (Vec::new(), "empty.csv", "empty_upload"),
    ] {
        let (status, v) = import(bytes, name, false).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {v}");
        assert!(v["code"].as_str().unwrap().contains(code), "{name}: {v}");
    }
    let (status, v) = import(vec![b'a'; zhulao_ledger::MAX_BYTES + 1], "huge.csv", false).await;
    assert_eq!((status, v["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")), "{v}");
    assert_eq!(w.elder_count().await, n);
    // Export re-imports as unchanged.
    let (status, exported) =
        w.raw(Method::GET, "/api/v1/ledger/export", Some(w.token("admin")), None, "").await;
    assert_eq!(status, StatusCode::OK);
    let (_, v) = import(exported, "export.xlsx", false).await;
    assert_eq!(v["unchanged"].as_i64(), Some(n), "{v}");
}

async fn sessions_and_login_limits(w: &World) {
    let login = |user: &'static str, password: &'static str| async move {
        w.call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": user, "password": password})),
        )
        .await
    };
    let (status, v) = login("operator", "wrong password").await;
    assert_eq!((status, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    assert_eq!(login("nobody", "whatever").await.0, StatusCode::UNAUTHORIZED, "unknown users look the same");
    for _ in 0..4 {
        login("operator", "wrong password").await;
    }
    let (status, v) = login("operator", PASSWORD).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts")),
        "{v}"
    );
    assert_eq!(login("admin", PASSWORD).await.0, StatusCode::OK, "other accounts are unaffected");
    w.clock.advance_ms(15 * 60 * 1000);
    assert_eq!(login("operator", PASSWORD).await.0, StatusCode::OK, "the lock expires");
    // Logout ends the session.
    let (_, v) = login("family", PASSWORD).await;
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(
        w.call(Method::POST, "/api/v1/auth/logout", Some(&token), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(w.call(Method::GET, "/api/v1/me", Some(&token), None).await.0, StatusCode::UNAUTHORIZED);
    // A password change ends other sessions; a weak new password is refused.
    let (status, v) = w
        .call(
            Method::POST,
            "/api/v1/me/password",
            Some(w.token("station_staff")),
            Some(json!({"old_password": PASSWORD, "new_password": "12345678"})),
        )
        .await;
    assert_eq!((status, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password")));
    let (status, _) = w
        .call(
            Method::POST,
            "/api/v1/me/password",
            Some(w.token("station_staff")),
            Some(json!({"old_password": PASSWORD, "new_password": "a new long one"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        w.call(Method::GET, "/api/v1/me", Some(w.token("station_staff")), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login("station_staff", "a new long one").await.0, StatusCode::OK);
    // Sessions expire after 12 hours.
    let (_, v) = login("supervisor", PASSWORD).await;
    let token = v["token"].as_str().unwrap().to_string();
    w.clock.advance_ms(12 * 3600 * 1000);
    assert_eq!(w.call(Method::GET, "/api/v1/me", Some(&token), None).await.0, StatusCode::UNAUTHORIZED);
}

async fn health_and_openapi(w: &World) {
    assert_eq!(w.raw(Method::GET, "/healthz", None, None, "").await.0, StatusCode::OK);
    assert_eq!(w.raw(Method::GET, "/readyz", None, None, "").await.0, StatusCode::OK);
    let (status, doc) = w.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/elders",
        "/api/v1/elders/{id}",
        "/api/v1/ledger/import",
        "/api/v1/stats",
        "/api/v1/auth/login",
        "/api/v1/orders",
        "/api/v1/orders/nearby",
        "/api/v1/orders/{id}/{action}",
        "/api/v1/orders/{id}/check-out",
        "/api/v1/catalogue",
        "/api/v1/complaints/{id}/{action}",
        "/api/v1/statements/monthly",
        "/api/v1/statements/pay",
        "/api/v1/meals/orders",
        "/api/v1/meals/production",
        "/api/v1/timebank/records",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc["components"]["schemas"]["ElderView"].is_object());
    assert!(doc["components"]["schemas"]["OrderView"].is_object());
}

/// Sign-in takes a small body (an unknown username still costs a password hash): a large one
/// is refused before it is read. Every response carries the security headers.
async fn small_sign_in_bodies_and_security_headers(w: &World) {
    let big = format!(r#"{{"username":"admin","password":"{}"}}"#, "x".repeat(100_000)).into_bytes();
    let (status, _) =
        w.raw(Method::POST, "/api/v1/auth/login", None, Some(big.clone()), "application/json").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let token = w.token("admin").to_string();
    let (status, _) =
        w.raw(Method::POST, "/api/v1/me/password", Some(&token), Some(big), "application/json").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // A normal sign-in still works.
    let (status, _) = w
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "admin", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for (path, auth) in
        [("/healthz", None), ("/api/v1/elders", Some(token.as_str())), ("/api/v1/nowhere", None)]
    {
        let headers = w.headers(Method::GET, path, auth).await;
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
    }
}

/// A masked ID number or phone cannot be recovered by searching for it: exact searches are for
/// roles that see the field in full, and each is recorded.
async fn exact_searches_only_for_those_who_see_the_field(w: &World) {
    let (_, e1) =
        w.call(Method::GET, &format!("/api/v1/elders/{}", w.e1), Some(w.token("admin")), None).await;
    let (id_number, phone) =
        (e1["id_number"].as_str().unwrap().to_string(), e1["phone"].as_str().unwrap().to_string());
    let search = |role: &'static str, q: String| async move {
        let (s, body) =
            w.call(Method::GET, &format!("/api/v1/elders?q={q}"), Some(w.token(role)), None).await;
        (s, body["total"].as_i64())
    };
    // The supervisor sees the ID number masked, with the age: no guessing the birth date.
    assert_eq!(search("supervisor", id_number.clone()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(search("supervisor", phone.clone()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(search("family", id_number.clone()).await.0, StatusCode::FORBIDDEN);
    // A name fragment is still a search anyone may make.
    assert_eq!(search("supervisor", "测".into()).await.0, StatusCode::OK);
    // Those who see the full value may search by it; the search is recorded.
    let before = w.audit_count().await;
    assert_eq!(search("care_manager", id_number).await, (StatusCode::OK, Some(1)));
    assert_eq!(search("operator", phone).await.0, StatusCode::OK);
    assert_eq!(w.audit_count().await, before + 2, "each exact search is in the audit log");
}

on_both_backends!(
    exact_searches_only_for_those_who_see_the_field,
    small_sign_in_bodies_and_security_headers,
    elder_input_errors,
    optimistic_updates,
    ledger_uploads,
    sessions_and_login_limits,
    health_and_openapi
);
