//! Test support: an app on a fresh database (SQLite or PostgreSQL) with a small district and
//! one signed-in account per role.

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::NaiveDate;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use zhulao_api::{AppState, app, auth};
use zhulao_domain::elder::ContactInput;
use zhulao_domain::id_number::compose;
use zhulao_domain::{AccountInput, DeviceInput, ElderInput, FacilityInput, Region, RegionCode, RegionLevel};
use zhulao_store::testing::{self, TestDb};
use zhulao_store::{Actor, ManualClock, Store};

/// 2026-11-23 00:00 UTC.
pub const T0: i64 = 1_795_392_000_000;
pub const PASSWORD: &str = "correct horse battery";
pub const ROLES: [&str; 7] =
    ["admin", "supervisor", "operator", "caregiver", "care_manager", "station_staff", "family"];

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

pub struct World {
    pub db: TestDb,
    pub store: Arc<dyn Store>,
    pub clock: ManualClock,
    pub app: Router,
    /// The app's response service (raises alarms as the gateway would).
    pub response: Arc<zhulao_response::Response>,
    /// Bearer tokens in `ROLES` order.
    pub tokens: Vec<String>,
    /// Account ids in `ROLES` order.
    pub ids: Vec<i64>,
    pub station_a: i64,
    pub station_b: i64,
    /// In street A, village A1: managed by the care manager, station A, family-linked,
    /// served by the caregiver.
    pub e1: i64,
    /// In street B: nobody's but the admin's and the operator's.
    pub e2: i64,
    pub d1: i64,
    pub d2: i64,
}

pub enum Backend {
    Sqlite,
    Postgres,
}

fn region(c: &str, name: &str, level: RegionLevel) -> Region {
    let code = RegionCode::parse("r", c).unwrap();
    Region { parent: code.parent(), code, name: name.into(), level }
}

pub fn elder_input(seq: u16, village: &str) -> ElderInput {
    let id = compose("140213", NaiveDate::from_ymd_opt(1940, 5, 6).unwrap(), seq).unwrap();
    ElderInput {
        id_number: id.as_str().into(),
        name: format!("李{seq}"),
        phone: format!("1390000{seq:04}"),
        address: format!("平城区新建南路街道柳港园社区{seq}号楼"),
        lat: Some(40.07),
        lon: Some(113.30),
        region_code: village.into(),
        living: "独居".into(),
        contacts: vec![ContactInput {
            name: "李明".into(),
            relation: "儿子".into(),
            phone: "13800000001".into(),
        }],
        health: zhulao_domain::HealthRecord {
            chronic_conditions: vec!["高血压".into()],
            ..Default::default()
        },
        ..Default::default()
    }
}

pub fn facility_input(name: &str, village: &str) -> FacilityInput {
    FacilityInput {
        kind: "station".into(),
        name: name.into(),
        region_code: village.into(),
        address: format!("{name}地址"),
        lat: Some(40.07),
        lon: Some(113.30),
        ..Default::default()
    }
}

pub async fn world(backend: Backend) -> Option<World> {
    let clock = ManualClock::new(T0);
    let db = match backend {
        Backend::Sqlite => testing::sqlite(Arc::new(clock.clone())).await,
        Backend::Postgres => testing::postgres(Arc::new(clock.clone())).await?,
    };
    let s = db.store.clone();
    let sys = Actor::SYSTEM;
    s.upsert_regions(
        &[
            region("140213", "平城区", RegionLevel::County),
            region("140213050", "新建南路街道", RegionLevel::Township),
            region("140213050001", "柳港园社区居民委员会", RegionLevel::Village),
            region("140213051", "新建北路街道", RegionLevel::Township),
            region("140213051001", "建华社区居民委员会", RegionLevel::Village),
        ],
        sys,
    )
    .await
    .unwrap();
    let station_a = s
        .create_facility(&facility_input("柳港园助老服务站", "140213050001").validate().unwrap(), sys)
        .await
        .unwrap()
        .id;
    let station_b = s
        .create_facility(&facility_input("建华助老服务站", "140213051001").validate().unwrap(), sys)
        .await
        .unwrap()
        .id;

    let hash = auth::hash_password(PASSWORD);
    let mut ids = Vec::new();
    for role in ROLES {
        let region = match role {
            "supervisor" | "care_manager" | "caregiver" => "140213050",
            "operator" => "140213",
            _ => "",
        };
        let (a, _) = AccountInput {
            username: role.into(),
            display_name: format!("测试{role}"),
            role: role.into(),
            password: PASSWORD.into(),
            region_code: region.into(),
            facility_id: (role == "station_staff").then_some(station_a),
            ..Default::default()
        }
        .validate()
        .unwrap();
        ids.push(s.create_account(&a, &hash, sys).await.unwrap().id);
    }
    let mut e1 = elder_input(1, "140213050001").validate(today()).unwrap();
    e1.care_manager_id = Some(ids[4]);
    e1.home_station_id = Some(station_a);
    let e1 = s.create_elder(&e1, sys).await.unwrap().id;
    let mut e2 = elder_input(2, "140213051001").validate(today()).unwrap();
    e2.home_station_id = Some(station_b);
    let e2 = s.create_elder(&e2, sys).await.unwrap().id;
    s.link_family(ids[6], e1, sys).await.unwrap();
    s.start_assignment(ids[3], e1, sys).await.unwrap();
    let mut devices = Vec::new();
    for serial in ["ZL-P-1", "ZL-P-2"] {
        let d = DeviceInput { serial: serial.into(), kind: "pendant".into(), model: "P".into() }
            .validate()
            .unwrap();
        let d = s.register_device(&d, "h", sys).await.unwrap();
        s.bind_device(d.id, e1, sys).await.unwrap();
        devices.push(d.id);
    }

    let state = AppState::new(s.clone());
    let response = state.response.clone();
    let app = app(state);
    let mut w = World {
        db,
        store: s,
        clock,
        app,
        response,
        tokens: Vec::new(),
        ids,
        station_a,
        station_b,
        e1,
        e2,
        d1: devices[0],
        d2: devices[1],
    };
    for role in ROLES {
        let (status, body) = w
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": role, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{role} login: {body}");
        w.tokens.push(body["token"].as_str().unwrap().to_string());
    }
    Some(w)
}

impl World {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes());
        let (status, raw) = self.raw(method, path, token, bytes, "application/json").await;
        let value = serde_json::from_slice(&raw)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into()));
        (status, value)
    }

    /// The response headers of a request without a body.
    pub async fn headers(&self, method: Method, path: &str, token: Option<&str>) -> axum::http::HeaderMap {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let resp = self.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        resp.headers().clone()
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        content_type: &str,
    ) -> (StatusCode, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req.header(header::CONTENT_TYPE, content_type).body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, bytes)
    }

    /// Uploads bytes to `path` as the admin.
    pub async fn call_bytes(&self, path: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let (status, raw) = self
            .raw(Method::POST, path, Some(self.token("admin")), Some(bytes), "application/octet-stream")
            .await;
        (status, serde_json::from_slice(&raw).unwrap_or(Value::Null))
    }

    pub fn token(&self, role: &str) -> &str {
        &self.tokens[ROLES.iter().position(|r| *r == role).unwrap()]
    }

    pub fn id(&self, role: &str) -> i64 {
        self.ids[ROLES.iter().position(|r| *r == role).unwrap()]
    }

    pub async fn elder_count(&self) -> i64 {
        self.store
            .list_elders(&zhulao_store::ElderFilter::scoped(zhulao_domain::ElderScope::All))
            .await
            .unwrap()
            .total
    }

    pub async fn audit_count(&self) -> i64 {
        self.store
            .list_audit(&zhulao_store::AuditFilter { limit: 1, ..Default::default() })
            .await
            .unwrap()
            .total
    }
}

/// Runs each named async test function on SQLite and on PostgreSQL, each on its own world
/// (`zhulao_store::on_both_backends!` with this crate's fixture).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        zhulao_store::on_both_backends!(
            setup = |backend| $crate::common::world(match backend {
                zhulao_store::Backend::Sqlite => $crate::common::Backend::Sqlite,
                zhulao_store::Backend::Postgres => $crate::common::Backend::Postgres,
            })
            .await,
            finish = |w| w.db.finish().await;
            $($name),+
        );
    };
}
