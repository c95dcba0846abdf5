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
    let (http, watch) = (free_port(), free_port());
    let watch_addr = format!("127.0.0.1:{watch}");
    let _server = Killed(
        Command::new(bin)
            .args(["serve", "--database-url", &db, "--listen", &format!("127.0.0.1:{http}"), "--no-mqtt"])
            .args(["--watch-3g-listen", &watch_addr])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{http}/api/v1");
    let web = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let token = loop {
        let r = web
            .post(format!("{base}/auth/login"))
            .json(&serde_json::json!({"username": "admin", "password": "watch-test-2026"}))
            .send()
            .await;
        if let Ok(r) = r
            && r.status().is_success()
        {
            break r.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "zhulao did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let device: serde_json::Value = web
        .post(format!("{base}/devices"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"serial": "8800000015", "kind": "watch", "model": "SeTracker Q50"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = device["device"]["id"].as_i64().unwrap();
    let command = |body: serde_json::Value| {
        web.post(format!("{base}/devices/{id}/commands")).bearer_auth(&token).json(&body).send()
    };

    // Not connected yet: a clear refusal.
    let r = command(serde_json::json!({"command": "find_device"})).await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("手表当前未连接"));

    let mut s = TcpStream::connect(&watch_addr).await.unwrap();
    s.write_all(b"[3G*8800000015*000A*LK,0,0,95]").await.unwrap();
    assert_eq!(read_frame(&mut s).await, "[3G*8800000015*0002*LK]");

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
