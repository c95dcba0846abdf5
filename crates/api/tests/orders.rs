//! Home-care orders over HTTP: 500 caregivers grabbing 100 orders at once (exactly one
//! winner per order, every loser a clear 409 in Chinese), and one order's whole life by
//! role — masked contacts until the caregiver holds it, door checks, photos that are checked
//! before anything is written, confirmation and settlement, rating, a complaint, pay — with
//! every state change in the audit log. On SQLite and on PostgreSQL.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use zhulao_api::auth;
use zhulao_domain::{AccountInput, GeoPoint};
use zhulao_store::{Actor, AuditFilter, Store};

use common::{T0, World};

on_both_backends!(five_hundred_caregivers_grab_one_hundred_orders, an_order_from_request_to_pay);

/// The demo elders live at (40.07, 113.30).
const HOME: (f64, f64) = (40.07, 113.30);

async fn seed_catalogue(w: &World) {
    let orders = zhulao_orders::Orders::new(
        w.store.clone(),
        zhulao_orders::ServicesConfig::default(),
        zhulao_response::LiveHub::default(),
    );
    orders.ensure_catalogue().await.unwrap();
}

/// A caregiver with `skills`, on duty `north_m` metres north of the home, and a session.
async fn caregiver(s: &Arc<dyn Store>, name: &str, skills: &[&str], north_m: f64) -> (i64, String) {
    let (a, _) = AccountInput {
        username: name.into(),
        display_name: format!("助老员{name}"),
        role: "caregiver".into(),
        password: common::PASSWORD.into(),
        region_code: "140213050".into(),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
    .validate()
    .unwrap();
    let id = s.create_account(&a, "$argon2id$not-used", Actor::SYSTEM).await.unwrap().id;
    let at = GeoPoint::new(HOME.0 + north_m / 111_200.0, HOME.1).unwrap();
    s.report_caregiver(id, true, Some(at), Actor::account(id)).await.unwrap();
    let token = format!("test-token-{name}");
    s.create_session(&auth::token_hash(&token), id, T0 + 24 * 3_600_000).await.unwrap();
    (id, token)
}

async fn call(
    w: &World,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    w.call(method, path, Some(token), body).await
}

async fn audit_actions(w: &World, order: i64) -> Vec<String> {
    let mut a: Vec<String> = w
        .store
        .list_audit(&AuditFilter {
            entity: Some("order".into()),
            entity_id: Some(order.to_string()),
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect();
    a.reverse();
    a
}

async fn five_hundred_caregivers_grab_one_hundred_orders(w: &World) {
    seed_catalogue(w).await;
    let mut caregivers = Vec::new();
    for i in 0..500 {
        caregivers.push(caregiver(&w.store, &format!("cg{i}"), &[], (i % 50) as f64 * 20.0).await);
    }
    let op = w.token("operator").to_string();
    let mut orders = Vec::new();
    for _ in 0..100 {
        let (s, o) = call(
            w,
            Method::POST,
            "/api/v1/orders",
            &op,
            Some(json!({"elder_id": w.e1, "item": "companionship"})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        assert_eq!(o["state"], "published");
        orders.push(o["id"].as_i64().unwrap());
    }
    // Everyone at once: caregiver i grabs order i mod 100, five per order.
    let start = Arc::new(tokio::sync::Barrier::new(caregivers.len()));
    let mut tasks = Vec::new();
    for (i, (id, token)) in caregivers.iter().cloned().enumerate() {
        let (app, start, order) = (w.app.clone(), start.clone(), orders[i % orders.len()]);
        tasks.push(tokio::spawn(async move {
            let req = Request::builder()
                .method(Method::POST)
                .uri(format!("/api/v1/orders/{order}/grab"))
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            start.wait().await;
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status();
            let body: Value =
                serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
            (id, order, status, body)
        }));
    }
    let mut winners = std::collections::BTreeMap::new();
    let mut losers = 0;
    for t in tasks {
        let (caregiver, order, status, body) = t.await.unwrap();
        match status {
            StatusCode::OK => {
                assert_eq!(body["caregiver_id"].as_i64(), Some(caregiver));
                assert!(winners.insert(order, caregiver).is_none(), "order {order} won twice");
            }
            StatusCode::CONFLICT => {
                assert_eq!(body["code"], "order_already_taken", "{body}");
                assert!(body["message"].as_str().unwrap().contains("手慢了"), "{body}");
                assert!(!body["message_en"].as_str().unwrap().is_empty());
                losers += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((winners.len(), losers), (100, 400), "exactly 100 winners");
    // The database agrees: each order held once, by the caregiver told it won.
    for (order, caregiver) in &winners {
        let row = w.store.order(*order).await.unwrap();
        assert_eq!(row.order.caregiver, Some(*caregiver));
        assert_eq!(row.order.state.as_str(), "taken");
        let grabs = w.store.order_events(*order).await.unwrap().iter().filter(|e| e.action == "grab").count();
        assert_eq!(grabs, 1);
        assert_eq!(audit_actions(w, *order).await, ["create", "publish", "grab"]);
    }
    let held: std::collections::BTreeSet<i64> = winners.values().copied().collect();
    assert_eq!(held.len(), 100, "no caregiver holds two");
}

fn png() -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    v.extend_from_slice(b"\0\0\0\rIHDR fake image body");
    v
}

fn multipart(fields: &[(&str, Option<&str>, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = "zhulaoBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, content_type, data) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match content_type {
            Some(ct) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{name}.bin\"\r\nContent-Type: {ct}\r\n\r\n")
                    .as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn check_out(w: &World, order: i64, token: &str, photo: (&str, Vec<u8>)) -> (StatusCode, Value) {
    let (ct, body) = multipart(&[
        ("lat", None, HOME.0.to_string().into_bytes()),
        ("lon", None, HOME.1.to_string().into_bytes()),
        ("notes", None, "协助洗澡，老人状态良好".as_bytes().to_vec()),
        ("photos", Some(photo.0), photo.1),
    ]);
    let (status, raw) =
        w.raw(Method::POST, &format!("/api/v1/orders/{order}/check-out"), Some(token), Some(body), &ct).await;
    (status, serde_json::from_slice(&raw).unwrap_or(Value::Null))
}

async fn an_order_from_request_to_pay(w: &World) {
    seed_catalogue(w).await;
    let (cg, cg_token) = caregiver(&w.store, "near", &["bathing", "personal_care"], 300.0).await;
    let (_far, far_token) = caregiver(&w.store, "far", &["bathing", "personal_care"], 30_000.0).await;
    let (_unskilled, unskilled_token) = caregiver(&w.store, "unskilled", &[], 100.0).await;
    let family = w.token("family").to_string();
    // The family orders a bath for their elder; not for someone else's.
    let (s, b) =
        call(w, Method::POST, "/api/v1/orders", &family, Some(json!({"elder_id": w.e2, "item": "bathing"})))
            .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    let (s, b) = call(
        w,
        Method::POST,
        "/api/v1/orders",
        w.token("caregiver"),
        Some(json!({"elder_id": w.e1, "item": "bathing"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (s, o) = call(
        w,
        Method::POST,
        "/api/v1/orders",
        &family,
        Some(json!({"elder_id": w.e1, "item": "bathing", "note": "请带浴凳"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let id = o["id"].as_i64().unwrap();
    assert_eq!((o["state"].as_str(), o["price_fen"].as_i64()), (Some("published"), Some(6000)));
    assert_eq!(o["elder"]["phone"], "13900000001", "the family sees the phone");
    // The caregiver nearby sees it on offer, masked; the one 30 km away and the one without
    // the skills do not.
    let (s, list) = call(w, Method::GET, "/api/v1/orders/nearby", &cg_token, None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1);
    let offered = &list[0]["order"];
    assert_eq!(offered["id"].as_i64(), Some(id));
    assert_eq!(offered["elder"]["phone"], "139****0001");
    assert!(offered["elder"]["address"].as_str().unwrap().ends_with("***"));
    assert!(offered["elder"]["location"].is_null());
    assert!((250..=350).contains(&list[0]["distance_m"].as_i64().unwrap()));
    for t in [&far_token, &unskilled_token] {
        let (_, l) = call(w, Method::GET, "/api/v1/orders/nearby", t, None).await;
        assert_eq!(l.as_array().unwrap().len(), 0);
    }
    let (s, b) = call(w, Method::POST, &format!("/api/v1/orders/{id}/grab"), &far_token, None).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("dispatch_out_of_range")), "{b}");
    assert!(b["message"].as_str().unwrap().contains("超出当前派单范围"));
    let (s, b) = call(w, Method::POST, &format!("/api/v1/orders/{id}/grab"), &unskilled_token, None).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("dispatch_missing_skills")), "{b}");
    let (s, b) = call(w, Method::GET, &format!("/api/v1/orders/{id}"), &far_token, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not on offer to them: {b}");
    // The supervisor of the street sees it masked; the family in full.
    let (_, sup) = call(w, Method::GET, &format!("/api/v1/orders/{id}"), w.token("supervisor"), None).await;
    assert_eq!(sup["elder"]["phone"], "139****0001");
    // Grab: now the caregiver sees the address and phone.
    let (s, o) = call(w, Method::POST, &format!("/api/v1/orders/{id}/grab"), &cg_token, None).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!((o["state"].as_str(), o["caregiver_id"].as_i64()), (Some("taken"), Some(cg)));
    assert_eq!(o["elder"]["phone"], "13900000001");
    assert!(o["elder"]["location"].is_object());
    let (s, b) = call(w, Method::POST, &format!("/api/v1/orders/{id}/grab"), &cg_token, None).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("order_already_taken")));
    // Scopes: the family sees one order, the other caregiver none.
    let (_, page) = call(w, Method::GET, "/api/v1/orders", &family, None).await;
    assert_eq!(page["total"], 1);
    let (_, page) = call(w, Method::GET, "/api/v1/orders", w.token("caregiver"), None).await;
    assert_eq!(page["total"], 0);
    let (_, page) = call(w, Method::GET, "/api/v1/orders?state=taken", w.token("station_staff"), None).await;
    assert_eq!(page["total"], 1);
    // At the door: 1 km away is refused, at the door works.
    let step = |action: &'static str, body: Option<Value>| {
        let t = cg_token.clone();
        async move { call(w, Method::POST, &format!("/api/v1/orders/{id}/{action}"), &t, body).await }
    };
    let (s, _) = step("start-trip", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = step("check-in", Some(json!({"lat": HOME.0 + 0.01, "lon": HOME.1}))).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("order_too_far_from_home")), "{b}");
    assert!(b["message"].as_str().unwrap().contains("米"));
    let (s, b) = step("check-in", Some(json!({"lat": HOME.0, "lon": HOME.1}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    w.clock.advance_ms(55 * 60_000);
    // Photos are checked before anything is written: a text file, an oversized image.
    let (s, b) = check_out(w, id, &cg_token, ("image/png", b"not an image at all".to_vec())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("photo_type")), "{b}");
    assert!(b["message"].as_str().unwrap().contains("照片格式"));
    let mut huge = vec![0xFF, 0xD8, 0xFF, 0xE0];
    huge.resize(6 * 1024 * 1024, 0);
    let (s, b) = check_out(w, id, &cg_token, ("image/jpeg", huge)).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")), "{b}");
    assert!(b["message"].as_str().unwrap().contains("上传文件过大"));
    let row = w.store.order(id).await.unwrap();
    assert_eq!(row.order.state.as_str(), "checked_in", "nothing written");
    assert!(w.store.order_photos(id).await.unwrap().is_empty());
    let (s, o) = check_out(w, id, &cg_token, ("image/png", png())).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(
        (o["state"].as_str(), o["served_min"].as_i64(), o["short_service"].as_bool()),
        (Some("completed"), Some(55), Some(false))
    );
    let photo = o["photos"][0].as_str().unwrap().to_string();
    assert_eq!(o["elder"]["phone"], "139****0001", "masked again once the service is over");
    let (s, raw) =
        w.raw(Method::GET, &format!("/api/v1/orders/{id}/photos/{photo}"), Some(&family), None, "").await;
    assert_eq!((s, raw), (StatusCode::OK, png()));
    // The family confirms: settled at once (the elder is 86: 5 yuan high-age subsidy, no card).
    let (s, o) = call(w, Method::POST, &format!("/api/v1/orders/{id}/confirm"), &family, None).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let row = w.store.order(id).await.unwrap();
    assert_eq!(row.order.state.as_str(), "settled");
    let split = row.order.settlement.clone().unwrap();
    assert_eq!(split.total().0, 6000);
    assert_eq!(split.amount(zhulao_services::FundingSource::Subsidy).0, 500);
    assert_eq!(split.own_payment().0, 5500);
    let (s, b) = call(w, Method::POST, &format!("/api/v1/orders/{id}/confirm"), &family, None).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("order_already_confirmed")));
    // Rating and a complaint, handled by the station.
    let (s, _) = call(
        w,
        Method::POST,
        &format!("/api/v1/orders/{id}/rate"),
        &family,
        Some(json!({"stars": 5, "tags": ["punctual", "耐心周到"]})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = call(
        w,
        Method::POST,
        &format!("/api/v1/orders/{id}/complain"),
        &family,
        Some(json!({"kind": "billing", "text": "助老员另外收了10元"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, cases) = call(w, Method::GET, "/api/v1/complaints", w.token("station_staff"), None).await;
    assert_eq!(cases["total"], 1, "{cases}");
    let case = cases["items"][0]["id"].as_i64().unwrap();
    assert_eq!(cases["items"][0]["state"], "open");
    let (s, _) = call(
        w,
        Method::POST,
        &format!("/api/v1/complaints/{case}/resolve"),
        &family,
        Some(json!({"upheld": true, "resolution": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, c) = call(
        w,
        Method::POST,
        &format!("/api/v1/complaints/{case}/resolve"),
        w.token("station_staff"),
        Some(json!({"upheld": true, "resolution": "已退还并约谈助老员"})),
    )
    .await;
    assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("resolved")), "{c}");
    // Pay: base 10 + 55 min at 25/h + the five-star bonus 5 − the upheld complaint 20.
    let (s, pay) = call(w, Method::GET, "/api/v1/statements/pay", &cg_token, None).await;
    assert_eq!(s, StatusCode::OK, "{pay}");
    assert_eq!(
        (pay["orders"].as_i64(), pay["bonus"].as_i64(), pay["penalties"].as_i64()),
        (Some(1), Some(500), Some(2000))
    );
    assert_eq!(pay["gross"].as_i64(), Some(1000 + 2291 + 500 - 2000));
    let (s, _) = call(
        w,
        Method::GET,
        &format!("/api/v1/statements/pay?caregiver_id={}", w.id("caregiver")),
        &cg_token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, st) =
        call(w, Method::GET, "/api/v1/statements/monthly?month=2026-11", w.token("admin"), None).await;
    assert_eq!(s, StatusCode::OK, "{st}");
    assert_eq!((st["total"]["orders"].as_i64(), st["total"]["total"].as_i64()), (Some(1), Some(6000)));
    let (_, st) = call(
        w,
        Method::GET,
        "/api/v1/statements/monthly?month=2026-11&source=subsidy",
        w.token("supervisor"),
        None,
    )
    .await;
    assert_eq!(st["source_total_fen"].as_i64(), Some(500), "{st}");
    // The quality score follows the rating and the complaint.
    let score = w.store.caregiver(cg).await.unwrap().quality_milli;
    assert!(score < 4000, "one five-star rating and an upheld complaint: {score}");
    // Every state change is in the audit log, in order.
    let actions = audit_actions(w, id).await;
    assert_eq!(
        actions,
        [
            "create",
            "publish",
            "grab",
            "start_trip",
            "check_in",
            "check_out",
            "confirm",
            "settle",
            "rate",
            "complain"
        ],
    );
    let (_, detail) = call(w, Method::GET, &format!("/api/v1/orders/{id}"), &family, None).await;
    assert_eq!(detail["events"].as_array().unwrap().len(), 10);
    assert_eq!(detail["photo_files"][0]["content_type"], "image/png");
}
