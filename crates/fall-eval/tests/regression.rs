//! Data-driven regression tests over real SisFall trials (see `tests/data/README.md`).

use std::path::{Path, PathBuf};

use std::borrow::Cow;

use zhulao_detect::{FallCandidate, FallModel, TREE_LEAVES, TREE_SPLITS, Tree};
use zhulao_fall_eval::{FallEvalArgs, config_with, data, eval};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// (trial, alarm expected)
const EXPECTED: &[(&str, bool)] = &[
    ("F01_SA03_R01", true),
    ("F05_SA07_R02", true),
    ("F13_SA02_R01", true),
    ("D10_SA04_R02", false),
    ("D18_SA03_R02", false),
    ("D19_SA07_R01", false),
    // False alarms of the cross-validated model before the monotone constraints.
    ("D13_SA05_R04", false),
    ("D14_SE07_R04", false),
    // Cross-validated false alarms of the model alone, stopped by the rules beside it.
    ("D13_SA05_R01", false),
    ("D18_SA11_R01", false),
];

const MAX_LATENCY_MS: i64 = 1_000;

#[test]
fn each_trial_is_detected_or_not_within_the_latency_bound() {
    let dir = data_dir();
    let (trials, skipped) = data::load(&dir.join("raw"), Some(&dir.join("labels"))).expect("load");
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(trials.len(), EXPECTED.len());
    let cfg = config_with(FallModel::TRAINED);
    for &(name, expect_alarm) in EXPECTED {
        let t = trials.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("{name} missing"));
        assert!(t.labels.is_some(), "{name}: labels");
        let run = eval::run_trial(t, &cfg);
        let o = eval::score(t, &run);
        assert_eq!(o.alarmed, expect_alarm, "{name}: alarms {:?}", run.alarms);
        if expect_alarm {
            let latency = o.latency_ms.expect("latency");
            assert!((0..=MAX_LATENCY_MS).contains(&latency), "{name}: latency {latency} ms");
        } else {
            assert!(run.alarms.is_empty(), "{name}: {:?}", run.alarms);
        }
    }
}

#[test]
fn the_report_over_the_directory() {
    let dir = data_dir();
    let args =
        FallEvalArgs { sisfall: dir.join("raw"), labels: Some(dir.join("labels")), json: true, cv: false };
    let r = zhulao_fall_eval::evaluate(&args).expect("evaluate");
    assert_eq!((r.falls, r.adls, r.detected, r.false_positive_trials), (3, 7, 3, 0));
    assert_eq!((r.sensitivity, r.specificity, r.false_alarms_per_hour), (1.0, 1.0, 0.0));
    assert!(r.latency_ms.p95 <= MAX_LATENCY_MS && r.samples > 0 && r.samples_per_second > 0.0);
    assert_eq!(r.per_activity.len(), 8);
    let json = serde_json::to_value(&r).expect("json");
    for key in [
        "falls",
        "adls",
        "sensitivity",
        "specificity",
        "false_alarms_per_hour",
        "latency_ms",
        "samples_per_second",
        "per_activity",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    for key in ["p50", "p95", "max"] {
        assert!(json["latency_ms"].get(key).is_some(), "{key}");
    }
    // Without labels the impact is the trial's peak: the falls are still found in time.
    let args = FallEvalArgs { labels: None, ..args };
    let r = zhulao_fall_eval::evaluate(&args).expect("evaluate");
    assert_eq!((r.detected, r.false_positive_trials), (3, 0));
}

#[test]
fn bad_files_are_reported_and_skipped() {
    let root = std::env::temp_dir().join(format!("zhulao-fall-eval-bad-{}", std::process::id()));
    let subject = root.join("SA01");
    std::fs::create_dir_all(&subject).expect("mkdir");
    std::fs::copy(data_dir().join("raw/SA03/D18_SA03_R02.txt"), subject.join("D18_SA01_R01.txt"))
        .expect("copy");
    std::fs::write(subject.join("D01_SA01_R01.txt"), "1,2,3,4,5,6,7,8,9;\n1,2,x,4,5,6,7,8,9;\n")
        .expect("write");
    std::fs::write(subject.join("D02_SA01_R01.txt"), "1,2,3,4,5,6,7,8,9;\n1,2,3;\n").expect("write");
    std::fs::write(subject.join("notes.txt"), "hello").expect("write");
    let args = FallEvalArgs { sisfall: root.clone(), labels: None, json: false, cv: false };
    let r = zhulao_fall_eval::evaluate(&args);
    std::fs::remove_dir_all(&root).ok();
    let r = r.expect("evaluate");
    assert_eq!(r.adls, 1);
    assert_eq!(r.skipped_files.len(), 3, "{:?}", r.skipped_files);
    let all = r.skipped_files.join("\n");
    assert!(all.contains("D01_SA01_R01.txt: line 2: non-numeric column 3"), "{all}");
    assert!(all.contains("D02_SA01_R01.txt: line 2: short row"), "{all}");
    assert!(r.to_string().contains("skipped:"));
}

#[test]
fn a_missing_directory_is_an_error_not_a_panic() {
    let args =
        FallEvalArgs { sisfall: PathBuf::from("/nonexistent/sisfall"), labels: None, json: false, cv: false };
    assert!(zhulao_fall_eval::evaluate(&args).is_err());
}

/// Every candidate of `name` with the rules' verdicts; the model never alarms, so no
/// refractory period hides a candidate.
fn judged_by_the_rules(name: &str) -> Vec<FallCandidate> {
    let dir = data_dir();
    let (trials, _) = data::load(&dir.join("raw"), Some(&dir.join("labels"))).expect("load");
    let t = trials.iter().find(|t| t.name == name).expect("trial");
    let mut cfg = config_with(FallModel::TRAINED);
    cfg.fall.model.threshold = f32::INFINITY;
    cfg.fall.report_candidates = true;
    eval::run_trial(t, &cfg).candidates
}

fn hardest(c: &[FallCandidate]) -> FallCandidate {
    *c.iter().max_by(|a, b| a.alarm.features.peak_g.total_cmp(&b.alarm.features.peak_g)).expect("a candidate")
}

#[test]
fn the_rules_beside_the_model_on_real_trials() {
    // A hard stumble (3.8 g) walked on from: the late look sees the wearer back in the
    // posture held before and moving.
    let c = judged_by_the_rules("D18_SA11_R01");
    let stumble = hardest(&c);
    assert!(stumble.alarm.features.peak_g > 3.5, "{stumble:?}");
    assert_eq!((stumble.walked_on, stumble.got_up), (Some(true), false));
    // Lying down on a bed, then sitting up hard (5.2 g): the sit-up is getting up.
    let c = judged_by_the_rules("D13_SA05_R01");
    let sit_up = hardest(&c);
    assert!(sit_up.alarm.features.peak_g > 5.0 && sit_up.got_up, "{sit_up:?}");
    // A real fall passes both: the wearer lies where the fall ended.
    let fall = hardest(&judged_by_the_rules("F01_SA03_R01"));
    assert_eq!((fall.walked_on, fall.got_up), (Some(false), false));
}

/// `name` run with `model` (SisFall's mounting as the reference): its alarms.
fn alarms_with(name: &str, model: FallModel) -> Vec<zhulao_detect::FallAlarm> {
    let dir = data_dir();
    let (trials, _) = data::load(&dir.join("raw"), Some(&dir.join("labels"))).expect("load");
    let t = trials.iter().find(|t| t.name == name).expect("trial");
    eval::run_trial(t, &config_with(model)).alarms
}

/// A one-tree model: every impact above `peak_g` is a fall, with log-odds 10.
fn above(peak_g: f32, confirm: f32) -> FallModel {
    let mut t = Tree {
        feature: [0; TREE_SPLITS],
        threshold: [f32::INFINITY; TREE_SPLITS],
        leaf: [-10.0; TREE_LEAVES],
    };
    t.threshold[0] = peak_g; // feature 0 is peak_g: right to node 2, then left twice to leaf 4
    t.leaf[4] = 10.0;
    FallModel { trees: Cow::Owned(vec![t]), base: 0.0, threshold: 0.5, confirm }
}

#[test]
fn the_rules_stop_what_the_model_would_alarm_on() {
    // Every impact above 1.6 g a doubtful fall: the stumble is stopped by the late look alone
    // (it is the trial's only candidate).
    assert!(alarms_with("D18_SA11_R01", above(1.6, 1.0)).is_empty());
    // Above 4 g a sure fall: the 5.2 g sit-up from the bed is stopped by the got-up rule alone.
    assert!(alarms_with("D13_SA05_R01", above(4.0, 0.5)).is_empty());
    // The same models raise the real fall.
    assert!(!alarms_with("F01_SA03_R01", above(1.6, 1.0)).is_empty());
    assert!(!alarms_with("F01_SA03_R01", above(4.0, 0.5)).is_empty());
}

#[test]
fn a_doubtful_fall_is_raised_at_the_late_look() {
    // A model that calls every impact a fall it is not sure of: the real fall still alarms,
    // 2.5 s after its peak, and only once.
    let dir = data_dir();
    let (trials, _) = data::load(&dir.join("raw"), Some(&dir.join("labels"))).expect("load");
    let t = trials.iter().find(|t| t.name == "F01_SA03_R01").expect("trial");
    let always = Tree {
        feature: [0; TREE_SPLITS],
        threshold: [f32::INFINITY; TREE_SPLITS],
        leaf: [10.0; TREE_LEAVES],
    };
    let cfg =
        config_with(FallModel { trees: Cow::Owned(vec![always]), base: 0.0, threshold: 0.5, confirm: 1.0 });
    let run = eval::run_trial(t, &cfg);
    let o = eval::score(t, &run);
    assert!(o.alarmed && o.late, "{:?}", run.alarms);
    let a = run.alarms.iter().find(|a| a.decision_ms - a.impact_ms == 2_500).expect("a late alarm");
    assert!(a.features.peak_g > 3.0);
    assert!(run.alarms.iter().all(|b| std::ptr::eq(a, b) || (b.impact_ms - a.impact_ms).abs() >= 10_000));
}
