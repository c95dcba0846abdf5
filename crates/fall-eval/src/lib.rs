//! zhulao-fall-eval: scores `zhulao-detect`'s fall detector on a SisFall-layout directory
//! (Sucerquia et al., "SisFall: A Fall and Movement Dataset", Sensors 2017, 17(1):198), and
//! trains its model.
//!
//! The binary wires [`FallEvalArgs`] into `zhulao fall-eval` and calls [`run`]; training is
//! `cargo run --release -p zhulao-fall-eval --example train -- --sisfall … --labels …`.

pub mod data;
pub mod eval;
pub mod train;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use zhulao_detect::{DetectorConfig, FallModel};

use data::Trial;
use eval::{Report, TrialOutcome, run_trial, score};

/// `zhulao fall-eval`: run the fall detector over every trial of a SisFall-layout directory.
#[derive(Clone, Debug, clap::Args)]
pub struct FallEvalArgs {
    /// Raw SisFall directory: `<SUBJECT>/<ACTIVITY>_<SUBJECT>_R<NN>.txt`.
    #[arg(long, value_name = "RAW_DIR")]
    pub sisfall: PathBuf,
    /// Per-sample labels (same layout): the fall window starts at the first row labelled 1 or 2.
    #[arg(long, value_name = "LABELS_DIR")]
    pub labels: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Leave-one-subject-out cross-validation: each subject is scored by a model (trees and
    /// threshold, the latter from a nested leave-one-subject-out inside the training subjects)
    /// trained on the others only (needs --labels; a few minutes). Without it the shipped
    /// model is scored.
    #[arg(long)]
    pub cv: bool,
}

/// `--example train`: fit the model on every trial and write it into `zhulao-detect`.
#[derive(Clone, Debug, clap::Parser)]
pub struct TrainArgs {
    #[arg(long, value_name = "RAW_DIR")]
    pub sisfall: PathBuf,
    #[arg(long, value_name = "LABELS_DIR")]
    pub labels: PathBuf,
    /// Where to write the model source.
    #[arg(long, default_value = "crates/detect/src/trained_model.rs")]
    pub out: PathBuf,
}

/// SisFall's documented mounting: worn at the waist, Y about −1 g when standing. A device in
/// service learns its wearer's upright direction from walking; a 12–100 s trial is too short
/// for that, so the evaluation starts each fresh detector from the mounting (as the gateway
/// does from the device model's mounting). The learnt direction replaces it at the first
/// walking second.
pub const SISFALL_UPRIGHT: [f32; 3] = [0.0, -1.0, 0.0];

/// The detector configuration used for evaluation: production defaults, SisFall's mounting, `model`.
pub fn config_with(model: FallModel) -> DetectorConfig {
    let mut c = DetectorConfig::default();
    c.fall.upright_hint = Some(SISFALL_UPRIGHT);
    c.fall.model = model;
    c
}

fn load(raw: &std::path::Path, labels: Option<&std::path::Path>) -> Result<(Vec<Trial>, Vec<String>)> {
    let (trials, skipped) = data::load(raw, labels)?;
    let skipped = skipped.into_iter().map(|s| format!("{}: {}", s.path.display(), s.reason)).collect();
    Ok((trials, skipped))
}

/// Runs every trial with report_candidates on, collecting training examples.
///
/// The model never alarms here (threshold above 1), so no alarm's refractory period hides a
/// candidate: the examples do not depend on any trained model, in particular not on the
/// shipped one (which has seen every subject).
fn collect_examples(trials: &[Trial]) -> Vec<train::Example> {
    let mut cfg = config_with(FallModel::TRAINED);
    cfg.fall.model.threshold = f32::INFINITY;
    cfg.fall.report_candidates = true;
    let mut out = Vec::new();
    for (i, t) in trials.iter().enumerate() {
        let run = run_trial(t, &cfg);
        train::examples(i, t, &run, &mut out);
    }
    out
}

/// Scores `trials` (by index) with `model`, accumulating samples and time.
fn score_all(
    trials: &[Trial],
    idx: impl Iterator<Item = usize>,
    model: FallModel,
    acc: &mut (u64, Duration),
) -> Vec<TrialOutcome> {
    let cfg = config_with(model);
    idx.map(|i| {
        let run = run_trial(&trials[i], &cfg);
        acc.0 += run.ticks;
        acc.1 += run.elapsed;
        score(&trials[i], &run)
    })
    .collect()
}

/// Leave-one-subject-out cross-validation: outcomes of every trial, each scored by a model
/// that never saw its subject.
pub fn cross_validate(trials: &[Trial]) -> (Vec<TrialOutcome>, u64, Duration) {
    let examples = collect_examples(trials);
    let mut subjects: Vec<&str> = trials.iter().map(|t| t.subject.as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    let mut acc = (0u64, Duration::ZERO);
    let mut outcomes = Vec::new();
    for s in subjects {
        let model = train::fit(&examples, trials, |i| trials[i].subject != s);
        let held = (0..trials.len()).filter(|&i| trials[i].subject == s);
        outcomes.extend(score_all(trials, held, model, &mut acc));
    }
    (outcomes, acc.0, acc.1)
}

/// Builds the report for `args` (see [`run`]).
pub fn evaluate(args: &FallEvalArgs) -> Result<Report> {
    let (trials, skipped) = load(&args.sisfall, args.labels.as_deref())?;
    if args.cv {
        if args.labels.is_none() {
            bail!("--cv trains on the labelled fall windows: give --labels");
        }
        let n = {
            let mut s: Vec<&str> = trials.iter().map(|t| t.subject.as_str()).collect();
            s.sort_unstable();
            s.dedup();
            s.len()
        };
        let (outcomes, samples, elapsed) = cross_validate(&trials);
        let protocol = format!(
            "leave-one-subject-out cross-validation over {n} subjects; every trial scored by a model not trained on its subject"
        );
        Ok(eval::report(&protocol, &outcomes, samples, elapsed, skipped))
    } else {
        let mut acc = (0u64, Duration::ZERO);
        let outcomes = score_all(&trials, 0..trials.len(), FallModel::TRAINED, &mut acc);
        let protocol = "shipped model (trained on the SisFall development subjects: scores on those subjects are in-sample)";
        Ok(eval::report(protocol, &outcomes, acc.0, acc.1, skipped))
    }
}

/// `zhulao fall-eval`: evaluates and prints the report (text, or one JSON object with `--json`).
pub fn run(args: &FallEvalArgs) -> Result<()> {
    use std::io::Write;
    let report = evaluate(args)?;
    let text = if args.json {
        serde_json::to_string_pretty(&report).context("serialising the report")? + "\n"
    } else {
        report.to_string()
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing the report"),
        _ => Ok(()),
    }
}

/// Fits the model on every trial under `args.sisfall` and writes it to `args.out`.
pub fn train_and_write(args: &TrainArgs) -> Result<FallModel> {
    let (trials, skipped) = load(&args.sisfall, Some(&args.labels))?;
    for s in &skipped {
        eprintln!("skipped: {s}");
    }
    let examples = collect_examples(&trials);
    let model = train::fit(&examples, &trials, |_| true);
    let mut subjects: Vec<&str> = trials.iter().map(|t| t.subject.as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    let provenance = format!(
        "`cargo run --release -p zhulao-fall-eval --example train` on {} trials of {} SisFall subjects ({}–{}), {} candidates",
        trials.len(),
        subjects.len(),
        subjects.first().copied().unwrap_or(""),
        subjects.last().copied().unwrap_or(""),
        examples.len()
    );
    std::fs::write(&args.out, train::model_source(&model, &provenance))
        .with_context(|| format!("writing {}", args.out.display()))?;
    Ok(model)
}
