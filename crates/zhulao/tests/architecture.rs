//! The architecture's invariants, checked: the crate graph in ARCHITECTURE.md is the crate graph
//! (both ways), pure crates stay pure, and only the response service writes alarms.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Crates that do I/O, which a pure crate must not depend on.
const IO_CRATES: &[&str] = &["tokio", "sqlx", "reqwest", "lettre", "rumqttc", "rumqttd", "axum", "hyper"];

/// What opens files, sockets or clocks, which a pure crate's sources must not mention.
const IO_CALLS: &[&str] =
    &["std::fs", "std::net", "SystemTime::now", "Utc::now", "Local::now", "Instant::now", "tokio::"];

/// The alarm writes of the store's `AlarmStore`: only `store` (which implements them) and
/// `response` (the one door) may call them.
const ALARM_WRITES: &[&str] = &[
    ".commit_raise(",
    ".save_alarm(",
    ".record_device_message(",
    ".record_notifications(",
    ".append_alarm_event(",
];

struct Row {
    deps: BTreeSet<String>,
    pure: bool,
}

/// The table under "crate graph" in ARCHITECTURE.md.
fn documented() -> BTreeMap<String, Row> {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let start = doc.find("<!-- crate graph").expect("the crate graph table in ARCHITECTURE.md");
    let mut rows = BTreeMap::new();
    for line in doc[start..].lines().skip(3) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 3, "a row of the crate graph: {line}");
        let name = cells[0].trim_matches('`').to_string();
        let deps = cells[1]
            .split(',')
            .map(|d| d.trim().trim_matches('`').to_string())
            .filter(|d| !d.is_empty() && d != "—")
            .collect();
        rows.insert(name, Row { deps, pure: cells[2] == "yes" });
    }
    assert!(rows.len() > 10, "the crate graph table was not found or is cut short");
    rows
}

/// Each workspace crate's normal and build dependencies, from `cargo metadata`.
fn actual() -> BTreeMap<String, (BTreeSet<String>, PathBuf)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let mut crates = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let name = p["name"].as_str().unwrap().trim_start_matches("zhulao-").to_string();
        let deps = p["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].as_str() != Some("dev"))
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect();
        let dir = Path::new(p["manifest_path"].as_str().unwrap()).parent().unwrap().to_path_buf();
        crates.insert(name, (deps, dir));
    }
    crates
}

fn ours(deps: &BTreeSet<String>) -> BTreeSet<String> {
    deps.iter().filter_map(|d| d.strip_prefix("zhulao-")).map(str::to_string).collect()
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Source lines of a crate's `src/`, with line comments dropped.
fn code_lines(dir: &Path) -> Vec<(PathBuf, usize, String)> {
    let mut files = Vec::new();
    sources(&dir.join("src"), &mut files);
    let mut out = Vec::new();
    for f in files {
        for (i, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            out.push((f.clone(), i + 1, code.to_string()));
        }
    }
    out
}

#[test]
fn the_documented_crate_graph_is_the_crate_graph() {
    let doc = documented();
    let actual = actual();
    let mut wrong = Vec::new();
    for (name, (deps, _)) in &actual {
        match doc.get(name) {
            None => wrong.push(format!("{name}: missing from the table in ARCHITECTURE.md")),
            Some(row) if row.deps != ours(deps) => wrong.push(format!(
                "{name}: ARCHITECTURE.md says {:?}, Cargo.toml has {:?}",
                row.deps,
                ours(deps)
            )),
            Some(_) => {}
        }
    }
    for name in doc.keys().filter(|n| !actual.contains_key(*n)) {
        wrong.push(format!("{name}: in ARCHITECTURE.md but not a workspace crate"));
    }
    assert!(wrong.is_empty(), "the crate graph drifted:\n{}", wrong.join("\n"));
}

#[test]
fn pure_crates_do_no_io() {
    let doc = documented();
    let actual = actual();
    let mut wrong = Vec::new();
    for name in doc.iter().filter(|(_, r)| r.pure).map(|(n, _)| n) {
        let (deps, dir) = &actual[name];
        for d in deps.iter().filter(|d| IO_CRATES.contains(&d.as_str())) {
            wrong.push(format!("{name} is pure but depends on {d}"));
        }
        for (file, line, code) in code_lines(dir) {
            if let Some(call) = IO_CALLS.iter().find(|c| code.contains(*c)) {
                wrong.push(format!("{name} is pure but {}:{line} uses {call}", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn only_the_response_service_writes_alarms() {
    let mut wrong = Vec::new();
    for (name, (_, dir)) in actual() {
        if name == "store" || name == "response" {
            continue;
        }
        for (file, line, code) in code_lines(&dir) {
            if let Some(call) = ALARM_WRITES.iter().find(|c| code.contains(*c)) {
                // The response service's own method of the same name is the door itself.
                if code.contains(&format!("response{call}")) {
                    continue;
                }
                wrong.push(format!("{}:{line} calls {call} on the store", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "alarm writes outside the response service:\n{}", wrong.join("\n"));
}

/// Public type names defined in more than one crate, each with why it may be: the same
/// meaning in a crate that must not depend on the other.
const SHARED_NAMES: &[(&str, &str)] = &[
    ("Clock", "notify depends on nothing of ours, so it declares the same injected clock as store"),
    ("SystemClock", "the same, for the system clock"),
    ("Contact", "a name and a phone: the elder's emergency contact and the watch's phone-book entry"),
];

#[test]
fn public_type_names_are_unique_across_crates() {
    let mut defined: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, (_, dir)) in actual() {
        for (_, _, code) in code_lines(&dir) {
            let t = code.trim_start();
            for kind in ["pub struct ", "pub enum ", "pub trait ", "pub type "] {
                if let Some(rest) = t.strip_prefix(kind) {
                    let ident: String =
                        rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if ident.starts_with(|c: char| c.is_ascii_uppercase()) {
                        defined.entry(ident).or_default().insert(name.clone());
                    }
                }
            }
        }
    }
    let clashes: Vec<String> = defined
        .iter()
        .filter(|(ident, crates)| crates.len() > 1 && !SHARED_NAMES.iter().any(|(n, _)| n == ident))
        .map(|(ident, crates)| format!("{ident}: {crates:?}"))
        .collect();
    assert!(clashes.is_empty(), "one name, different things, in several crates:\n{}", clashes.join("\n"));
}

#[test]
fn api_resources_do_not_import_each_other() {
    let dir = root().join("crates/api/src/resources");
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "mod.rs") {
            continue;
        }
        for (i, line) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains("crate::resources::") || code.contains("super::") {
                wrong.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "a resource imports another (shared rules go in access.rs):\n{}",
        wrong.join("\n")
    );
}
