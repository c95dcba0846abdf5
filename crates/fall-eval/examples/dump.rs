//! Debug: dumps candidate features as CSV (activity, name, label, counts, got up, confident only,
//! prob, features).
use clap::Parser;
use zhulao_detect::FallModel;
use zhulao_fall_eval::{TrainArgs, data, eval, train};
fn main() -> anyhow::Result<()> {
    let a = TrainArgs::parse();
    let (trials, _) = data::load(&a.sisfall, Some(&a.labels))?;
    let mut cfg = zhulao_fall_eval::config_with(FallModel::TRAINED);
    cfg.fall.report_candidates = true;
    for (i, t) in trials.iter().enumerate() {
        let run = eval::run_trial(t, &cfg);
        let mut ex = Vec::new();
        train::examples(i, t, &run, &mut ex);
        for e in ex {
            let p = FallModel::TRAINED.probability(&e.x);
            let f: Vec<String> = e.x.iter().map(|v| format!("{v:.3}")).collect();
            println!(
                "{},{},{},{},{},{},{:.3},{}",
                t.activity,
                t.name,
                e.fall as u8,
                e.counts as u8,
                e.got_up as u8,
                e.confident_only as u8,
                p,
                f.join(",")
            );
        }
    }
    Ok(())
}
