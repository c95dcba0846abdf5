//! The alarm API: the call centre's steps over HTTP, scopes per role (a family sees only its
//! elder's alarms, a caregiver only what it is sent to), refused steps, the live feed scoped
//! per viewer, statistics and metrics.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use common::World;

/// Opens the live feed as `role` and returns a reader of its events.
async fn live(w: &World, role: &str) -> axum::body::Body {
    live_with(w, w.token(role)).await
}

/// Opens the live feed with a session token.
async fn live_with(w: &World, token: &str) -> axum::body::Body {
    let req = Request::builder()
        .uri("/api/v1/live")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let resp = w.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    resp.into_body()
}

/// The next `event:` block within `wait`, as (event, data JSON).
async fn next_event(body: &mut Body, wait: Duration) -> Option<(String, serde_json::Value)> {
    let mut buf = String::new();
    loop {
        let frame = tokio::time::timeout(wait, body.frame()).await.ok()??.ok()?;
        if let Some(d) = frame.data_ref() {
            buf.push_str(&String::from_utf8_lossy(d));
        }
        if let Some(end) = buf.find("\n\n") {
            let block = buf[..end].to_string();
            let event = block.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("").to_string();
            let data = block.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("null");
            if !event.is_empty() {
                return Some((event, serde_json::from_str(data).unwrap()));
            }
            buf.drain(..end + 2);
        }
    }
}

async fn the_call_centre_works_an_alarm_through(w: &World) {
    let mut operator_feed = live(w, "operator").await;
    let mut family_feed = live(w, "family").await;
    let op = Some(w.token("operator"));
    // A phone call: the operator raises an SOS for e1; the family's elder.
    let (s, a) =
        w.call(Method::POST, "/api/v1/alarms", op, Some(json!({"elder_id": w.e1, "kind": "sos"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let id = a["alarm"]["id"].as_i64().unwrap();
    assert_eq!(a["alarm"]["stage"], "queued");
    assert!(a["elder_name"].is_string());
    let (event, data) =
        next_event(&mut operator_feed, Duration::from_secs(5)).await.expect("operator sees it live");
    assert_eq!((event.as_str(), data["data"]["id"].as_i64()), ("alarm", Some(id)));
    let (_, data) =
        next_event(&mut family_feed, Duration::from_secs(5)).await.expect("family sees its elder's alarm");
    assert_eq!(data["data"]["id"].as_i64(), Some(id));
    // An alarm for e2 (another street) is not the family's business.
    let (s, other) =
        w.call(Method::POST, "/api/v1/alarms", op, Some(json!({"elder_id": w.e2, "kind": "fall"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let other = other["alarm"]["id"].as_i64().unwrap();
    assert!(next_event(&mut family_feed, Duration::from_millis(300)).await.is_none());
    // Scopes: the family and the supervisor of street A see e1's alarm; only the operator and
    // admin see e2's; the caregiver sees nothing until dispatched.
    let count = |role: &'static str| async move {
        let (s, page) = w.call(Method::GET, "/api/v1/alarms", Some(w.token(role)), None).await;
        assert_eq!(s, StatusCode::OK, "{role}: {page}");
        page["total"].as_i64().unwrap()
    };
    assert_eq!((count("admin").await, count("operator").await, count("family").await), (2, 2, 1));
    assert_eq!((count("supervisor").await, count("caregiver").await), (1, 0));
    let (s, _) = w.call(Method::GET, &format!("/api/v1/alarms/{other}"), Some(w.token("family")), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Steps: only the call centre answers; a second answer is a conflict, in Chinese.
    let step = |path: String, role: &'static str, body: Option<serde_json::Value>| async move {
        w.call(Method::POST, &path, Some(w.token(role)), body).await
    };
    let (s, _) = step(format!("/api/v1/alarms/{id}/answer"), "caregiver", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a caregiver not sent cannot even see it");
    let (s, _) = step(format!("/api/v1/alarms/{id}/answer"), "family", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) =
        step(format!("/api/v1/alarms/{id}/close"), "operator", Some(json!({"outcome": "false_alarm"}))).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("alarm_not_answered")), "{b}");
    assert_eq!(b["message"], "请先接警");
    let (s, b) = step(format!("/api/v1/alarms/{id}/answer"), "operator", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["alarm"]["stage"], "answered");
    let (s, b) = step(format!("/api/v1/alarms/{id}/answer"), "operator", None).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("alarm_already_answered")));
    let (s, b) =
        step(format!("/api/v1/alarms/{id}/assess"), "operator", Some(json!({"assessment": "maybe"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _) =
        step(format!("/api/v1/alarms/{id}/assess"), "operator", Some(json!({"assessment": "phone_advice"})))
            .await;
    assert_eq!(s, StatusCode::OK);
    // Dispatch the caregiver by hand; they accept, arrive; the operator calls 120 and closes.
    let cg = w.id("caregiver");
    let (s, b) = step(
        format!("/api/v1/alarms/{id}/dispatch"),
        "operator",
        Some(json!({"responder_id": w.id("family")})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _) =
        step(format!("/api/v1/alarms/{id}/dispatch"), "operator", Some(json!({"responder_id": cg}))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(count("caregiver").await, 1);
    let (s, _) = step(format!("/api/v1/alarms/{id}/accept"), "caregiver", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = step(format!("/api/v1/alarms/{id}/on-site"), "caregiver", None).await;
    assert_eq!((s, b["alarm"]["stage"].as_str()), (StatusCode::OK, Some("on_site")));
    let (s, _) = step(format!("/api/v1/alarms/{id}/called-120"), "operator", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = step(
        format!("/api/v1/alarms/{id}/close"),
        "operator",
        Some(json!({"outcome": "resolved_on_site", "notes": "血压偏高，已陪同就医"})),
    )
    .await;
    assert_eq!((s, b["alarm"]["stage"].as_str()), (StatusCode::OK, Some("closed")), "{b}");
    let (s, _) = step(format!("/api/v1/alarms/{id}/nonsense"), "operator", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The detail: timeline in order, elder masked for the operator (no ID number).
    let (s, d) = w.call(Method::GET, &format!("/api/v1/alarms/{id}"), op, None).await;
    assert_eq!(s, StatusCode::OK);
    let steps: Vec<&str> =
        d["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(steps, ["raised", "answer", "assess", "dispatch", "accept", "on_site", "called_120", "close"]);
    assert!(d["elder"]["id_number"].as_str().unwrap().contains('*'));
    assert_eq!(d["detail"]["raised_by"].as_i64(), Some(w.id("operator")));
    // The supervisor may not see health data: what decided the alarm is withheld.
    let (s, d) =
        w.call(Method::GET, &format!("/api/v1/alarms/{id}"), Some(w.token("supervisor")), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(d["detail"].get("raised_by").is_none(), "{d}");
    // Statistics: one answered alarm, answered at once.
    let (s, st) = w.call(Method::GET, "/api/v1/alarms/stats", op, None).await;
    assert_eq!(s, StatusCode::OK, "{st}");
    assert_eq!((st["alarms"].as_i64(), st["open"].as_i64()), (Some(2), Some(1)));
    assert_eq!(st["steps"][0]["count"], 1);
    let (s, _) = w.call(Method::GET, "/api/v1/alarms/stats", Some(w.token("family")), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Positions: responders only, validated.
    let (s, _) = w
        .call(
            Method::POST,
            "/api/v1/me/position",
            Some(w.token("caregiver")),
            Some(json!({"lat": 40.07, "lon": 113.3, "on_duty": true})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = w
        .call(
            Method::POST,
            "/api/v1/me/position",
            Some(w.token("caregiver")),
            Some(json!({"lat": 95.0, "lon": 113.3, "on_duty": true})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = w
        .call(
            Method::POST,
            "/api/v1/me/position",
            op,
            Some(json!({"lat": 40.0, "lon": 113.3, "on_duty": true})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Settings for a device: staff who manage devices, validated by the device protocol.
    let cfg = |role: &'static str, body: serde_json::Value| async move {
        w.call(Method::POST, &format!("/api/v1/devices/{}/config", w.d1), Some(w.token(role)), Some(body))
            .await
    };
    let (s, b) = cfg("station_staff", json!({"report_interval_s": 300, "hr_low": 45, "hr_high": 120})).await;
    assert_eq!((s, b["queued"].as_bool()), (StatusCode::ACCEPTED, Some(true)), "{b}");
    let (s, b) = cfg("station_staff", json!({"hr_low": 300})).await;
    assert_eq!((s, b["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("hr_low")), "{b}");
    let (s, _) = cfg("family", json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // No live feed without a session; metrics are plain text.
    let (s, _) = w.call(Method::GET, "/api/v1/live", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = w.raw(Method::GET, "/metrics", None, None, "text/plain").await;
    assert_eq!(s, StatusCode::OK);
}

/// A device's serial (a watch's ID is its login on the watch protocols) is shown in full only
/// to the roles that manage devices: alarms, their detail and the live feed carry it for them
/// alone; device lists show others its last four characters.
async fn serials_only_for_device_managers(w: &World) {
    let mut feeds = Vec::new();
    for role in ["admin", "operator", "family", "supervisor"] {
        feeds.push((role, live(w, role).await));
    }
    let raised = w
        .response
        .raise(&zhulao_alarms::NewAlarm {
            kind: zhulao_alarms::AlarmKind::Sos,
            elder_id: Some(w.e1),
            device_id: Some(w.d1),
            serial: Some("ZL-P-1".into()),
            region_code: "140213050001".into(),
            location: Some(zhulao_alarms::AlarmLocation {
                lat: 40.076_912,
                lon: 113.300_134,
                source: zhulao_alarms::LocationSource::Fix,
                at: None,
            }),
            source: zhulao_alarms::AlarmSource::DeviceEvent,
            impact_ms: None,
            detail: json!({"type": "sos"}),
            contacts: 0,
            msg_id: None,
        })
        .await
        .unwrap();
    let zhulao_alarms::Raised::New(row) = raised else { panic!("a new alarm") };
    let id = row.id;
    for (role, feed) in &mut feeds {
        let managed = *role == "admin";
        let Some((event, data)) = next_event(feed, Duration::from_secs(5)).await else {
            panic!("{role}: no live event")
        };
        assert_eq!((event.as_str(), data["data"]["id"].as_i64()), ("alarm", Some(id)), "{role}");
        assert_eq!(data["data"].get("serial").is_some(), managed, "{role} live: {data}");
        let (s, page) = w.call(Method::GET, "/api/v1/alarms", Some(w.token(role)), None).await;
        assert_eq!(s, StatusCode::OK);
        let text = page.to_string();
        assert_eq!(text.contains("ZL-P-1"), managed, "{role} list: {text}");
        let (s, detail) =
            w.call(Method::GET, &format!("/api/v1/alarms/{id}"), Some(w.token(role)), None).await;
        assert_eq!(s, StatusCode::OK, "{role}: {detail}");
        assert_eq!(detail.to_string().contains("ZL-P-1"), managed, "{role} detail: {detail}");
        // Positions as precise as the role's map: about 100 m for the supervisor, whatever the view.
        let precise = *role != "supervisor";
        let item = page["items"].as_array().unwrap().iter().find(|i| i["alarm"]["id"] == id).unwrap().clone();
        for (what, lat) in [
            ("live", &data["data"]["location"]["lat"]),
            ("list", &item["alarm"]["location"]["lat"]),
            ("list gcj02", &item["location_gcj02"][0]),
            ("detail", &detail["alarm"]["location"]["lat"]),
        ] {
            let lat = lat.as_f64().unwrap_or_else(|| panic!("{role} {what}: no position"));
            let rounded = (lat * 1000.0).round() / 1000.0 == lat;
            assert_eq!(rounded, !precise, "{role} {what}: {lat}");
        }
    }
    for role in ["admin", "station_staff", "operator", "supervisor", "care_manager"] {
        let managed = matches!(role, "admin" | "station_staff");
        let (s, devices) =
            w.call(Method::GET, &format!("/api/v1/elders/{}/devices", w.e1), Some(w.token(role)), None).await;
        assert_eq!(s, StatusCode::OK, "{role}: {devices}");
        let serials: Vec<&str> =
            devices.as_array().unwrap().iter().map(|d| d["serial"].as_str().unwrap()).collect();
        assert_eq!(serials.contains(&"ZL-P-1"), managed, "{role}: {serials:?}");
        if !managed {
            assert!(serials.contains(&"…-P-1"), "{role}: {serials:?}");
        }
        let (_, one) =
            w.call(Method::GET, &format!("/api/v1/devices/{}", w.d1), Some(w.token(role)), None).await;
        assert_eq!(one["serial"] == "ZL-P-1", managed, "{role}: {one}");
    }
    // Keeping one connection of a watch in conflict is the call centre's to do as well; other
    // device commands are not.
    let command = |role: &'static str, body: serde_json::Value| async move {
        w.call(Method::POST, &format!("/api/v1/devices/{}/commands", w.d1), Some(w.token(role)), Some(body))
            .await
            .0
    };
    let confirm = json!({"command": "confirm_session", "connection": 1});
    assert_ne!(command("operator", confirm.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(command("family", confirm).await, StatusCode::FORBIDDEN);
    assert_eq!(command("operator", json!({"command": "find_device"})).await, StatusCode::FORBIDDEN);
}

/// A live feed lasts as long as its session: after sign-out the alarms stop and the stream
/// ends within seconds.
async fn a_live_feed_ends_with_its_session(w: &World) {
    let (s, login) = w
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "family", "password": common::PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let token = login["token"].as_str().unwrap().to_string();
    let mut feed = live_with(w, &token).await;
    let op = Some(w.token("operator"));
    let (s, _) =
        w.call(Method::POST, "/api/v1/alarms", op, Some(json!({"elder_id": w.e1, "kind": "sos"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(
        next_event(&mut feed, Duration::from_secs(5)).await.is_some(),
        "the family sees its elder's alarm"
    );
    let (s, _) = w.call(Method::POST, "/api/v1/auth/logout", Some(&token), None).await;
    assert!(s.is_success(), "{s}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, _) =
        w.call(Method::POST, "/api/v1/alarms", op, Some(json!({"elder_id": w.e1, "kind": "fall"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    // No more events; the stream ends (keep-alive comments aside).
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match feed.frame().await {
                None | Some(Err(_)) => return true,
                Some(Ok(f)) => {
                    if f.data_ref().is_some_and(|d| String::from_utf8_lossy(d).contains("event:")) {
                        return false;
                    }
                }
            }
        }
    })
    .await;
    assert_eq!(ended, Ok(true), "after sign-out the feed sent an event or stayed open");
}

/// One account may keep only a few live feeds open: a stolen session cannot open hundreds.
async fn live_feeds_per_account_are_bounded(w: &World) {
    let mut feeds = Vec::new();
    for _ in 0..8 {
        feeds.push(live(w, "family").await);
    }
    let (status, body) = w.raw(Method::GET, "/api/v1/live", Some(w.token("family")), None, "").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("实时连接过多"));
    // Other accounts are not affected; a closed feed frees its place.
    drop(live(w, "operator").await);
    drop(feeds.pop());
    tokio::time::sleep(Duration::from_millis(50)).await;
    feeds.push(live(w, "family").await);
}

on_both_backends!(
    live_feeds_per_account_are_bounded,
    the_call_centre_works_an_alarm_through,
    serials_only_for_device_managers,
    a_live_feed_ends_with_its_session
);
