//! The big screen's wearer map and the console's nearest responders: who may read them,
//! what each role's scope covers, positions rounded for roles that may not see addresses,
//! and wearers turning red with an open alarm.

mod common;

use axum::http::{Method, StatusCode};
use serde_json::json;
use zhulao_domain::DeviceInput;
use zhulao_store::{Actor, DeviceState};

use common::{T0, World};

async fn wearer_map_by_role(w: &World) {
    // A third wearer, for e2 in the other street.
    let d3 = DeviceInput { serial: "ZL-P-3".into(), kind: "pendant".into(), model: "P".into() }
        .validate()
        .unwrap();
    let d3 = w.store.register_device(&d3, "h", Actor::SYSTEM).await.unwrap().id;
    w.store.bind_device(d3, w.e2, Actor::SYSTEM).await.unwrap();
    w.store
        .upsert_device_states(&[DeviceState {
            device_id: w.d1,
            last_seen_at: T0,
            online: true,
            battery_pct: Some(80),
            lat: Some(40.071234),
            lon: Some(113.301234),
            location_at: Some(T0),
            vitals: None,
            vitals_at: None,
            upright: None,
        }])
        .await
        .unwrap();
    let map = |role: &'static str| async move {
        let (s, m) = w.call(Method::GET, "/api/v1/map/wearers", Some(w.token(role)), None).await;
        (s, m)
    };
    let (s, m) = map("admin").await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["ids"], json!([w.d1, w.d2, d3]));
    assert_eq!(
        (m["total"].as_i64(), m["online"].as_i64(), m["offline"].as_i64()),
        (Some(3), Some(1), Some(2))
    );
    assert_eq!((m["state"].clone(), m["up"].clone()), (json!([0, 2, 2]), json!([1, 0, 0])));
    assert_eq!(m["precise"], true);
    // The device's fix, else the elder's home.
    assert_eq!((m["lat"][0].as_f64(), m["lon"][0].as_f64()), (Some(40.07123), Some(113.30123)));
    assert_eq!((m["lat"][1].as_f64(), m["lon"][1].as_f64()), (Some(40.07), Some(113.3)));
    // The supervisor of street A: its wearers only, on a grid of about 100 m, and no names.
    let (_, m) = map("supervisor").await;
    assert_eq!(m["ids"], json!([w.d1, w.d2]));
    assert_eq!(
        (m["precise"].as_bool(), m["lat"][0].as_f64(), m["lon"][0].as_f64()),
        (Some(false), Some(40.071), Some(113.301))
    );
    assert!(!m.to_string().contains('李'), "{m}");
    assert_eq!(map("operator").await.1["total"], 3);
    assert_eq!(map("care_manager").await.1["ids"], json!([w.d1, w.d2]));
    assert_eq!(map("station_staff").await.1["ids"], json!([w.d1, w.d2]));
    for role in ["caregiver", "family"] {
        assert_eq!(map(role).await.0, StatusCode::FORBIDDEN, "{role}");
    }
    let (s, _) = w.call(Method::GET, "/api/v1/map/wearers", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // An SOS for e1 turns both of e1's wearers red.
    let op = Some(w.token("operator"));
    let (s, a) =
        w.call(Method::POST, "/api/v1/alarms", op, Some(json!({"elder_id": w.e1, "kind": "sos"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let (_, m) = map("operator").await;
    assert_eq!((m["state"].clone(), m["alarm"].as_i64()), (json!([1, 1, 2]), Some(2)));
    assert_eq!((m["up"].clone(), m["online"].as_i64()), (json!([1, 0, 0]), Some(1)));
    assert_eq!(map("supervisor").await.1["alarm"], 2);

    // The nearest responders: the caregiver reports a position and is on the alarm's map.
    let id = a["alarm"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/alarms/{id}/responders");
    let (s, _) = w
        .call(
            Method::POST,
            "/api/v1/me/position",
            Some(w.token("caregiver")),
            Some(json!({"lat": 40.075, "lon": 113.30, "on_duty": true, "mode": "walk"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, r) = w.call(Method::GET, &path, op, None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let me = r
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["account_id"] == w.id("caregiver"))
        .expect("caregiver listed");
    assert_eq!(
        (me["role"].as_str(), me["mode"].as_str(), me["lat"].as_f64()),
        (Some("caregiver"), Some("walk"), Some(40.075))
    );
    let d = me["distance_m"].as_f64().unwrap();
    assert!((500.0..620.0).contains(&d), "{d}");
    assert!(me["eta_s"].as_u64().unwrap() > 60);
    for role in ["supervisor", "caregiver", "family", "care_manager"] {
        let (s, _) = w.call(Method::GET, &path, Some(w.token(role)), None).await;
        assert!(matches!(s, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "{role}: {s}");
    }
    // A closed alarm needs nobody.
    w.call(Method::POST, &format!("/api/v1/alarms/{id}/answer"), op, None).await;
    let (s, _) = w
        .call(
            Method::POST,
            &format!("/api/v1/alarms/{id}/close"),
            op,
            Some(json!({"outcome": "false_alarm"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(w.call(Method::GET, &path, op, None).await.1, json!([]));
    assert_eq!(map("operator").await.1["state"], json!([0, 2, 2]));
}

on_both_backends!(wearer_map_by_role);
