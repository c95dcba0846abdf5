//! `zhulao fall-eval` as a stand-alone example: `cargo run --release -p zhulao-fall-eval --example fall_eval -- --sisfall DIR [--labels DIR] [--json] [--cv]`.

use clap::Parser;
use zhulao_fall_eval::FallEvalArgs;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: FallEvalArgs,
}

fn main() -> anyhow::Result<()> {
    zhulao_fall_eval::run(&Cli::parse().args)
}
