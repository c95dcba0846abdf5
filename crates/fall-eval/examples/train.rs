//! Trains the fall model on a SisFall-layout directory and writes `crates/detect/src/trained_model.rs`:
//! `cargo run --release -p zhulao-fall-eval --example train -- --sisfall DIR --labels DIR`.

use clap::Parser;
use zhulao_detect::FallFeatures;
use zhulao_fall_eval::TrainArgs;

fn main() -> anyhow::Result<()> {
    let args = TrainArgs::parse();
    let model = zhulao_fall_eval::train_and_write(&args)?;
    println!("{} trees over {}", model.trees.len(), FallFeatures::NAMES.join(", "));
    println!("threshold {:.4}; written to {}", model.threshold, args.out.display());
    Ok(())
}
