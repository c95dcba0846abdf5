//! What `zhulao serve` shows the network and its logs: HTTPS with the configured certificate
//! (plain HTTP refused on that port), plain text on a non-loopback address only with
//! `--allow-plaintext` (and a warning), and the external broker's password in no output.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `zhulao serve`; every line it prints (stdout and stderr) comes over `lines`.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str], dir: &std::path::Path) -> Server {
    let db = format!("sqlite://{}", dir.join("z.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_zhulao"))
        .arg("serve")
        .args(["--database-url", &db])
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        BufReader::new(out).lines().map_while(Result::ok).for_each(|l| drop(tx.send(l)))
    });
    std::thread::spawn(move || {
        BufReader::new(err).lines().map_while(Result::ok).for_each(|l| drop(tx2.send(l)))
    });
    Server { child, lines, seen: Vec::new() }
}

impl Server {
    /// Waits up to 30 s for a line containing `needle`; returns it.
    fn wait_for(&mut self, needle: &str) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!("no line with {needle:?}; printed:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Stops the server and returns everything it printed.
    fn finish(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(l);
        }
        self.seen.join("\n")
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zhulao-exposure-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_broker_password_reaches_no_output() {
    let dir = temp_dir("secret");
    let mqtt = std::env::var("ZHULAO_TEST_MQTT").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    let hostport = mqtt.trim_start_matches("mqtt://").to_string();
    let url = format!("mqtt://zhulao-gw:hunter2-broker-pass@{hostport}");
    let mut s = serve(&["--listen", "127.0.0.1:0", "--mqtt-url", &url, "--instance", "exposure-test"], &dir);
    s.wait_for("serving on");
    s.wait_for("device gateway starting");
    let printed = s.finish();
    assert!(!printed.contains("hunter2-broker-pass"), "the broker password was printed:\n{printed}");
    assert!(printed.contains("zhulao-gw:***@"), "{printed}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plain_text_on_the_network_needs_the_flag_and_warns() {
    let dir = temp_dir("plain");
    let out = Command::new(env!("CARGO_BIN_EXE_zhulao"))
        .args(["serve", "--no-mqtt", "--listen", "0.0.0.0:0"])
        .args(["--database-url", &format!("sqlite://{}", dir.join("z.db").display())])
        .output()
        .unwrap();
    assert!(!out.status.success(), "plain HTTP on 0.0.0.0 started without --allow-plaintext");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--allow-plaintext") && err.contains("--listen 0.0.0.0:0"), "{err}");
    assert!(err.contains("未加密"), "the message is in Chinese first: {err}");

    let mut s = serve(&["--no-mqtt", "--listen", "0.0.0.0:0", "--allow-plaintext"], &dir);
    s.wait_for("serving on");
    let printed = s.finish();
    assert!(printed.contains("plain-text listeners on the network"), "{printed}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_the_configured_certificate() {
    let dir = temp_dir("https");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();

    let mut s = serve(
        &[
            "--no-mqtt",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
        &dir,
    );
    let line = s.wait_for("serving on https://");
    let addr = line.split("https://").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = client.get(format!("https://{addr}/healthz")).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // Plain HTTP on the HTTPS port is not served.
    let plain = reqwest::Client::new().get(format!("http://{addr}/healthz")).send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    // A client that does not trust the certificate is refused.
    assert!(reqwest::Client::new().get(format!("https://{addr}/healthz")).send().await.is_err());
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
