//! A 3G watch against the real binary, as a district would run it: `zhulao serve` with the
//! TCP watch gateway on; the watch is registered through the API, logs in, is found with a
//! command from the API, and its SOS shows in the alarm queue. A second server on the same
//! watch port stops with a message naming the option to change it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn read_frame(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while b[0] != b']' {
        let n =
            tokio::time::timeout(Duration::from_secs(10), s.read(&mut b)).await.expect("a frame").unwrap();
        assert!(n > 0, "connection closed after {:?}", String::from_utf8_lossy(&out));
        out.push(b[0]);
    }
    String::from_utf8(out).unwrap()
}

/// `zhulao serve` on `db` with the 3G watch gateway on `watch_addr`, no MQTT; its API base URL.
fn serve(db: &str, watch_addr: &str) -> (Killed, String) {
    let http = free_port();
    let server = Killed(
        Command::new(env!("CARGO_BIN_EXE_zhulao"))
            .args(["serve", "--database-url", db, "--listen", &format!("127.0.0.1:{http}"), "--no-mqtt"])
            .args(["--watch-3g-listen", watch_addr])
            // Sessions settle after 1 s here (60 s by default); logins within 2 s.
            .args(["--watch-settle-time", "1", "--watch-login-timeout", "2"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    (server, format!("http://127.0.0.1:{http}/api/v1"))
}

/// Signs in, waiting up to 30 s for the server to come up; the session token.
async fn login(web: &reqwest::Client, base: &str, username: &str, password: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = web
            .post(format!("{base}/auth/login"))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await;
        if let Ok(r) = r
            && r.status().is_success()
        {
            return r.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "zhulao did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Registers a 3G watch through the API; its id.
async fn register_watch(web: &reqwest::Client, base: &str, token: &str, serial: &str) -> i64 {
    let device: serde_json::Value = web
        .post(format!("{base}/devices"))
        .bearer_auth(token)
        .json(&serde_json::json!({"serial": serial, "kind": "watch", "model": "SeTracker Q50"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    device["device"]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_watch_logs_in_is_found_and_raises_an_sos() {
    let dir = std::env::temp_dir().join(format!("zhulao-watch-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}", dir.join("z.db").display());
    let bin = env!("CARGO_BIN_EXE_zhulao");
    let ok = Command::new(bin)
        .args(["create-admin", "--database-url", &db])
        .env("ZHULAO_ADMIN_PASSWORD", "watch-test-2026")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let watch_addr = format!("127.0.0.1:{}", free_port());
    let (_server, base) = serve(&db, &watch_addr);
    let web = reqwest::Client::new();
    let token = login(&web, &base, "admin", "watch-test-2026").await;
    let id = register_watch(&web, &base, &token, "8800000015").await;
    let command = |body: serde_json::Value| {
        web.post(format!("{base}/devices/{id}/commands")).bearer_auth(&token).json(&body).send()
    };

    // Not connected yet: a clear refusal.
    let r = command(serde_json::json!({"command": "find_device"})).await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("手表当前未连接"));
    // Settings pushed before this process has ever seen the watch are kept in the database
    // and sent when it logs in.
    let r = web
        .post(format!("{base}/devices/{id}/config"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"report_interval_s": 600}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);

    // A connection that never logs in is closed after the login timeout.
    let mut idle = TcpStream::connect(&watch_addr).await.unwrap();
    let mut b = [0u8; 8];
    let n =
        tokio::time::timeout(Duration::from_secs(5), idle.read(&mut b)).await.expect("closed").unwrap_or(0);
    assert_eq!(n, 0, "an idle unauthenticated connection is closed");

    let mut s = TcpStream::connect(&watch_addr).await.unwrap();
    s.write_all(b"[3G*8800000015*000A*LK,0,0,95]").await.unwrap();
    assert_eq!(read_frame(&mut s).await, "[3G*8800000015*0002*LK]");
    // The settings once the session has settled.
    let upload = read_frame(&mut s).await;
    assert!(upload.starts_with("[3G*8800000015*") && upload.ends_with("*UPLOAD,600]"), "{upload}");
    // The watch confirms them: they leave the queue, and the next login gets none.
    s.write_all(b"[3G*8800000015*0006*UPLOAD]").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(s);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut s = TcpStream::connect(&watch_addr).await.unwrap();
    s.write_all(b"[3G*8800000015*000A*LK,0,0,95]").await.unwrap();
    assert_eq!(read_frame(&mut s).await, "[3G*8800000015*0002*LK]");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let r = command(serde_json::json!({"command": "find_device"})).await.unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(read_frame(&mut s).await, "[3G*8800000015*0004*FIND]");
    let r = command(serde_json::json!({"command": "heart_rate_interval", "minutes": 2})).await.unwrap();
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body.to_string().contains("command"), "{body}");

    s.write_all(
        b"[3G*8800000015*0080*AL,231126,083011,A,40.076900,N,113.300100,E,0.00,0.0,0.0,8,100,95,0,0,00010000,0,0]",
    )
    .await
    .unwrap();
    assert_eq!(read_frame(&mut s).await, "[3G*8800000015*0002*AL]");
    // Every command sent (or refused) is in the audit log, by name only.
    let audit: serde_json::Value = web
        .get(format!("{base}/audit?entity=device&entity_id={id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let commands: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "command")
        .map(|a| a["after"]["command"].as_str().unwrap())
        .collect();
    assert_eq!(commands, ["heart_rate_interval", "find_device", "find_device"], "{audit}");
    let alarms: serde_json::Value =
        web.get(format!("{base}/alarms")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let items = alarms["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{alarms}");
    assert_eq!(items[0]["alarm"]["kind"], "sos", "{alarms}");
    assert_eq!(items[0]["alarm"]["device_id"], id, "{alarms}");
    assert_eq!(items[0]["alarm"]["location"]["source"], "fix", "{alarms}");

    // The watch port is taken: a second server says which option to change.
    let out = Command::new(bin)
        .args([
            "serve",
            "--database-url",
            &db,
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--no-mqtt",
        ])
        .args(["--watch-3g-listen", &watch_addr])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--watch-3g-listen"), "{err}");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A 3G frame with its content length.
fn frame(id: &str, content: &str) -> String {
    format!("[3G*{id}*{:04X}*{content}]", content.len())
}

/// A watch's position report (`UD`) at `at`, UTC.
fn position(id: &str, at: chrono::DateTime<chrono::Utc>, lat: f64, lon: f64) -> String {
    frame(
        id,
        &format!(
            "UD,{},A,{lat:.6},N,{lon:.6},E,0.00,0.0,0.0,8,100,90,0,0,00000000,0,0",
            at.format("%d%m%y,%H%M%S")
        ),
    )
}

/// A watch connects unbound, is bound to a demo elder while connected, and a safe zone is drawn
/// for the elder: the watch's next fixes from outside raise one geofence alarm for that elder.
#[tokio::test]
async fn a_safe_zone_drawn_through_the_api_reaches_the_watch_detector() {
    let dir = std::env::temp_dir().join(format!("zhulao-zone-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}", dir.join("z.db").display());
    let bin = env!("CARGO_BIN_EXE_zhulao");
    let ok = Command::new(bin)
        .args(["demo", "--no-serve", "--elders", "30", "--database-url", &db])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let watch_addr = format!("127.0.0.1:{}", free_port());
    let (_server, base) = serve(&db, &watch_addr);
    let web = reqwest::Client::new();
    let admin = login(&web, &base, "admin", "zhulao-demo-2026").await;
    let get = |path: String, token: String| {
        let web = web.clone();
        let base = base.clone();
        async move {
            let r = web.get(format!("{base}{path}")).bearer_auth(token).send().await.unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let (_, elders) = get("/elders?limit=50".into(), admin.clone()).await;
    let elder = elders["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["location"].is_object())
        .expect("a demo elder with a home position")
        .clone();
    let elder_id = elder["id"].as_i64().unwrap();
    let home = (elder["location"]["lat"].as_f64().unwrap(), elder["location"]["lon"].as_f64().unwrap());
    let device_id = register_watch(&web, &base, &admin, "8800000077").await;

    // Nothing set: the defaults show, and there is no geofence.
    let (status, m) = get(format!("/elders/{elder_id}/monitoring"), admin.clone()).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["settings"]["safe_zones"], serde_json::json!([]));
    assert_eq!(m["defaults"]["inactivity_min"], 120);
    // The defaults can be sent back as they are (a form's untouched fields).
    let defaults = m["defaults"]["vital_limits"].as_array().unwrap();
    assert!(defaults.iter().any(|l| l["kind"] == "temperature" && l["high"] == 37.8), "{m}");
    let r = web
        .put(format!("{base}/elders/{elder_id}/monitoring"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "vital_limits": defaults }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let id = "8800000077";
    let mut s = TcpStream::connect(&watch_addr).await.unwrap();
    s.write_all(frame(id, "LK,0,0,95").as_bytes()).await.unwrap();
    assert_eq!(read_frame(&mut s).await, format!("[3G*{id}*0002*LK]"));
    let away = (home.0 + 0.01, home.1);
    let t0 = chrono::Utc::now() - chrono::Duration::minutes(10);
    for i in 0..4 {
        let at = t0 + chrono::Duration::seconds(30 * i);
        s.write_all(position(id, at, away.0, away.1).as_bytes()).await.unwrap();
    }
    // Bound only now, while connected: its next message is the elder's.
    let r = web
        .post(format!("{base}/devices/{device_id}/bind"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"elder_id": elder_id}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    // A bad setting is refused whole, in Chinese.
    let put = |body: serde_json::Value| {
        web.put(format!("{base}/elders/{elder_id}/monitoring")).bearer_auth(&admin).json(&body).send()
    };
    let r = put(serde_json::json!({"safe_zones": [{"name": "家", "shape": "circle",
        "center": {"lat": home.0, "lon": home.1}, "radius_m": 5}]}))
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("安全区半径"));
    let r = put(serde_json::json!({
        "safe_zones": [{"name": "家附近", "shape": "circle", "center": {"lat": home.0, "lon": home.1}, "radius_m": 300}],
        "vital_limits": [{"kind": "heart_rate", "low": 50, "high": 110}]
    }))
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let saved: serde_json::Value = r.json().await.unwrap();
    assert_eq!(saved["settings"]["safe_zones"][0]["radius_m"], 300.0);

    // The watch goes on reporting from 1 km away: the next fixes confirm an exit.
    for i in 4..8 {
        let at = t0 + chrono::Duration::seconds(30 * i);
        s.write_all(position(id, at, away.0, away.1).as_bytes()).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, alarms) = get("/alarms".into(), admin.clone()).await;
        let kinds: Vec<String> = alarms["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["alarm"]["device_id"] == device_id && a["alarm"]["elder_id"] == elder_id)
            .map(|a| a["alarm"]["kind"].as_str().unwrap().to_string())
            .collect();
        if kinds.iter().any(|k| k == "geofence_exit") {
            assert_eq!(kinds, ["geofence_exit"], "one alarm, raised only once the zone existed");
            break;
        }
        assert!(Instant::now() < deadline, "no geofence alarm: {alarms}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The change is in the audit log.
    let (_, audit) = get(format!("/audit?entity=elder&entity_id={elder_id}"), admin.clone()).await;
    assert!(audit.to_string().contains("\"monitoring\""), "{audit}");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
