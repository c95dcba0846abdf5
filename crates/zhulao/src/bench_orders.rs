//! `zhulao bench orders`: orders created per second through the HTTP API (each one offered
//! to every eligible caregiver nearby), and grab latency when hundreds of caregivers grab
//! the same orders at once. The API runs in-process (`tower::ServiceExt::oneshot`, no
//! socket), so the figures are the handler, the service layer and the database. Prints
//! figures; asserts nothing about time.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use zhulao_domain::{AccountInput, ElderInput, GeoPoint, Region, RegionCode, RegionLevel};
use zhulao_store::testing::{self, TestDb};
use zhulao_store::{Actor, Store, SystemClock};

use crate::bench::BenchArgs;

const HOME: (f64, f64) = (40.0760, 113.3000);

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn account(s: &Arc<dyn Store>, name: &str, role: &str) -> anyhow::Result<(i64, String)> {
    let (a, _) = AccountInput {
        username: name.into(),
        display_name: name.into(),
        role: role.into(),
        password: "bench-password".into(),
        region_code: "140213050".into(),
        ..Default::default()
    }
    .validate()
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let id = s.create_account(&a, "$argon2id$unused", Actor::SYSTEM).await?.id;
    let token = format!("bench-{name}");
    let expires = s.clock().now_ms() + 24 * 3_600_000;
    s.create_session(&zhulao_api::auth::token_hash(&token), id, expires).await?;
    Ok((id, token))
}

async fn call(
    app: &axum::Router,
    method: Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    let mut req =
        Request::builder().method(method).uri(path).header(header::AUTHORIZATION, format!("Bearer {token}"));
    let req = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            req.body(Body::from(b.to_string())).expect("request")
        }
        None => req.body(Body::empty()).expect("request"),
    };
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let clock = Arc::new(SystemClock);
    let db: TestDb = if args.database == "sqlite" {
        testing::sqlite(clock.clone()).await
    } else {
        testing::fresh_postgres(&args.database, clock.clone()).await
    };
    let store = db.store.clone();
    let (caregivers, per_round, rounds, create) = (args.caregivers, args.orders, args.rounds, args.create);
    println!(
        "orders benchmark on {:?}: {caregivers} caregivers, {per_round} orders per grab round, {rounds} rounds, {create} orders created",
        store.backend()
    );
    let t = Instant::now();
    let region = |c: &str, n: &str, l| {
        let code = RegionCode::parse("r", c).expect("code");
        Region { parent: code.parent(), code, name: n.into(), level: l }
    };
    store
        .upsert_regions(
            &[
                region("140213", "平城区", RegionLevel::County),
                region("140213050", "新建南路街道", RegionLevel::Township),
                region("140213050002", "柳港园社区", RegionLevel::Village),
            ],
            Actor::SYSTEM,
        )
        .await?;
    // 50 elders within a few hundred metres, 500 caregivers on duty around them.
    let mut elders = Vec::new();
    for i in 0..50u16 {
        let id = zhulao_domain::id_number::compose(
            "140213",
            chrono::NaiveDate::from_ymd_opt(1940, 1, 1).expect("date"),
            i + 1,
        )
        .ok_or_else(|| anyhow::anyhow!("ID number"))?;
        let rec = ElderInput {
            id_number: id.as_str().into(),
            name: format!("老人{i}"),
            address: format!("平城区柳港园{i}号"),
            region_code: "140213050002".into(),
            lat: Some(HOME.0 + f64::from(i % 10) * 0.0005),
            lon: Some(HOME.1 + f64::from(i / 10) * 0.0005),
            living: "独居".into(),
            ..Default::default()
        }
        .validate(store.clock().today())
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        elders.push(store.create_elder(&rec, Actor::SYSTEM).await?.id);
    }
    let mut tokens = Vec::with_capacity(caregivers);
    for i in 0..caregivers {
        let (id, token) = account(&store, &format!("cg{i}"), "caregiver").await?;
        let at = GeoPoint::new(HOME.0 + (i % 40) as f64 * 0.0003, HOME.1 - (i / 40) as f64 * 0.0003)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        store.report_caregiver(id, true, Some(at), Actor::account(id)).await?;
        tokens.push(token);
    }
    let (_, op) = account(&store, "operator", "operator").await?;
    // Statistics as the database's background maintenance would have them by now.
    store.analyze().await?;
    let state = zhulao_api::AppState::new(store.clone());
    state.orders.ensure_catalogue().await?;
    let app = zhulao_api::app(state);
    println!("  setup:                      {:>9.0} ms", t.elapsed().as_secs_f64() * 1e3);

    // Orders created per second: sequential, and from 16 clients at once.
    for clients in [1usize, 16] {
        let n = create / 2;
        let t = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let (app, op, elders) = (app.clone(), op.clone(), elders.clone());
            tasks.push(tokio::spawn(async move {
                let mut ok = 0;
                for k in (c..n).step_by(clients) {
                    let body =
                        serde_json::json!({ "elder_id": elders[k % elders.len()], "item": "companionship" });
                    let (s, _) = call(&app, Method::POST, "/api/v1/orders", &op, Some(body)).await;
                    ok += usize::from(s == StatusCode::CREATED);
                }
                ok
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += t.await?;
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "  create, {clients:>2} client(s):       {:>9.0} ms  ({:.0} orders/s, {ok} created, each offered to {caregivers} caregivers)",
            secs * 1e3,
            ok as f64 / secs
        );
    }

    // Grab rounds: every caregiver grabs one of the round's orders, all at once. Each round's
    // orders are scheduled on a later day, so last round's winners are free again.
    let mut p50s = Vec::new();
    let mut p99s = Vec::new();
    let mut walls = Vec::new();
    for round in 0..rounds {
        let tomorrow = store.clock().today() + chrono::Duration::days(round as i64 + 1);
        let start =
            tomorrow.and_hms_opt(10, 0, 0).expect("time").and_utc().timestamp_millis() - 8 * 3_600_000;
        let mut orders = Vec::with_capacity(per_round);
        for k in 0..per_round {
            let body = serde_json::json!({ "elder_id": elders[k % elders.len()], "item": "companionship", "scheduled_at": start });
            let (s, o) = call(&app, Method::POST, "/api/v1/orders", &op, Some(body)).await;
            anyhow::ensure!(s == StatusCode::CREATED, "create: {s} {o}");
            orders.push(o["id"].as_i64().unwrap_or_default());
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(tokens.len()));
        let wall = Instant::now();
        let mut tasks = Vec::with_capacity(tokens.len());
        for (i, token) in tokens.iter().enumerate() {
            let (app, token, barrier, order) =
                (app.clone(), token.clone(), barrier.clone(), orders[i % orders.len()]);
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let t = Instant::now();
                let (s, b) =
                    call(&app, Method::POST, &format!("/api/v1/orders/{order}/grab"), &token, None).await;
                (t.elapsed().as_secs_f64() * 1e3, s, b)
            }));
        }
        let mut latencies = Vec::with_capacity(tasks.len());
        let (mut won, mut lost, mut other) = (0, 0, 0);
        for t in tasks {
            let (ms, s, b) = t.await?;
            latencies.push(ms);
            match s {
                StatusCode::OK => won += 1,
                StatusCode::CONFLICT if b["code"] == "order_already_taken" => lost += 1,
                _ => {
                    other += 1;
                    if other == 1 {
                        eprintln!("    unexpected answer: {s} {b}");
                    }
                }
            }
        }
        let wall = wall.elapsed().as_secs_f64() * 1e3;
        latencies.sort_by(f64::total_cmp);
        let (p50, p99, max) =
            (percentile(&latencies, 0.5), percentile(&latencies, 0.99), percentile(&latencies, 1.0));
        println!(
            "  grab round {}: {won} won, {lost} lost (409), {other} other; latency p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms; all done in {wall:.0} ms",
            round + 1
        );
        anyhow::ensure!(won == per_round.min(tokens.len()), "expected {per_round} winners, got {won}");
        p50s.push(p50);
        p99s.push(p99);
        walls.push(wall);
    }
    println!(
        "  grab, median of {rounds} rounds: p50 {:.1} ms, p99 {:.1} ms, {} grabs done in {:.0} ms",
        median(p50s),
        median(p99s),
        tokens.len(),
        median(walls)
    );
    drop(app);
    drop(store);
    db.finish().await;
    Ok(())
}
