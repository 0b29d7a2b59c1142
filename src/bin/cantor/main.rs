//! `cantor`: the native command line over the same core the web page uses.

mod bench;
mod corpus;
mod evaluate;
mod generate;
mod inspect;
mod quantize;
mod shared;
mod speed;
mod torch;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cantor", version, about = "Train an LSTM on MIDI files and generate new music")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read MIDI files and report what is in them (or why they cannot be read).
    Inspect(inspect::InspectArgs),
    /// Train a model on MIDI files (folders are searched recursively).
    Train(train::TrainArgs),
    /// Generate a MIDI clip with a trained model.
    Generate(generate::GenerateArgs),
    /// Train and score on a public benchmark (test NLL in nats per frame).
    Bench(bench::BenchArgs),
    /// Time training steps and generation for one model size (for BENCHMARKS.md).
    Speed(speed::SpeedArgs),
    /// Evaluate a model on its corpus: held-out NLL, originality, style and classifier AUC of
    /// generated clips (give the same files, --valid and --seed as for training).
    Evaluate(evaluate::EvaluateArgs),
    /// Write a run folder for PyTorch's distributed training (`torchrun … scripts/torch_train.py`).
    ExportTorch(torch::ExportArgs),
    /// Turn a PyTorch run's checkpoint into a Cantor model file.
    ImportTorch(torch::ImportArgs),
    /// Build a corpus on disk from a large collection of MIDI files (see `train --corpus`).
    Corpus(corpus::CorpusArgs),
    /// Write a model with 8-bit weights (a quarter of the size, for a model that must download fast).
    Quantize(quantize::QuantizeArgs),
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Train(a) => train::run(a),
        Command::Generate(a) => generate::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Speed(a) => speed::run(a),
        Command::Evaluate(a) => evaluate::run(a),
        Command::Quantize(a) => quantize::run(a),
        Command::Corpus(a) => corpus::run(a),
        Command::ExportTorch(a) => torch::export(a),
        Command::ImportTorch(a) => torch::import(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Training frees and reallocates tensors of several MB every step. glibc's malloc hands such
/// blocks back to the kernel (mmap/munmap, heap trimming), so each step faulted its pages in again,
/// zeroed: 5–10 % of a training step (BENCHMARKS.md). Keep them in the heap instead.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_MMAP_THRESHOLD: i32 = -3;
        // SAFETY: mallopt only sets malloc's tuning parameters; called before any thread starts.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 32 << 20); // glibc's largest; blocks above it are rare here
            mallopt(M_TRIM_THRESHOLD, i32::MAX);
        }
    }
}
