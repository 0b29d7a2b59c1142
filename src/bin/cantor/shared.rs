//! What several subcommands share: model and training-loop flags, the device, MIDI files and corpora, the progress bar.

use burn::prelude::Device;
use cantor::midi::{read_song, Song};
use cantor::model::{AwdOptions, CellKind, ModelConfig, Recurrence};
use cantor::settings;
use cantor::train::{Control, Progress, TrainConfig};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Clone)]
pub(crate) struct ModelArgs {
    #[arg(long, default_value_t = settings::EMBED.default_usize())]
    pub(crate) embed: usize,
    #[arg(long, default_value_t = settings::HIDDEN.default_usize())]
    pub(crate) hidden: usize,
    #[arg(long, default_value_t = settings::LAYERS.default_usize())]
    pub(crate) layers: usize,
    #[arg(long, default_value_t = settings::DROPOUT.default)]
    pub(crate) dropout: f64,
    #[arg(long, value_enum, default_value_t = Cell::Fused)]
    pub(crate) cell: Cell,
    /// Variational dropout: one mask per sequence, the same at every step (AWD-LSTM).
    #[arg(long)]
    pub(crate) variational: bool,
    /// DropConnect probability on the recurrent weights (AWD-LSTM weight dropout).
    #[arg(long, default_value_t = settings::WEIGHT_DROPOUT.default)]
    pub(crate) weight_dropout: f64,
    /// Tie the output layer to the embedding (through a hidden → embed projection).
    #[arg(long)]
    pub(crate) tied: bool,
    /// Run on burn's wgpu backend (a GPU) instead of Flex on the CPU.
    #[arg(long)]
    pub(crate) wgpu: bool,
    /// How the LSTM layers run their time loop: `auto` (the sequence operation: kernels on a GPU,
    /// tensor operations on Flex, 1.3× faster per step there), `steps` (the per-step graph), or
    /// `sequence`.
    #[arg(long, value_enum, default_value_t = RecurrenceArg::Auto)]
    pub(crate) recurrence: RecurrenceArg,
    /// Threads a training step's batch is split over on the CPU (data parallel: the same step,
    /// computed in row blocks at once; 1.8× the tokens/s with 2 on 2 cores). 0: one per core.
    /// With dropout, runs of more than one thread draw their masks in no fixed order, so they are
    /// not repeatable bit for bit; `--threads 1` is.
    #[arg(long, default_value_t = 0)]
    pub(crate) threads: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RecurrenceArg {
    Auto,
    Steps,
    Sequence,
}

impl ModelArgs {
    /// The training threads asked for (0: the machine's cores).
    pub(crate) fn threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    pub(crate) fn recurrence(&self) -> Recurrence {
        match self.recurrence {
            RecurrenceArg::Auto => Recurrence::Auto,
            RecurrenceArg::Steps => Recurrence::Steps,
            RecurrenceArg::Sequence => Recurrence::Sequence,
        }
    }
}

#[derive(Args, Clone)]
pub(crate) struct LoopArgs {
    #[arg(long, default_value_t = settings::SEQ_LEN.default_usize())]
    pub(crate) seq_len: usize,
    #[arg(long, default_value_t = settings::BATCH.default_usize())]
    pub(crate) batch: usize,
    #[arg(long, default_value_t = settings::LEARNING_RATE.default)]
    pub(crate) lr: f64,
    #[arg(long, default_value_t = settings::EPOCHS.default_usize())]
    pub(crate) epochs: usize,
    /// Steps per epoch (validation runs after each); default: one pass over the training tokens.
    #[arg(long)]
    pub(crate) steps_per_epoch: Option<usize>,
    /// Early stopping: epochs without a better validation loss.
    #[arg(long, default_value_t = settings::PATIENCE.default_usize())]
    pub(crate) patience: usize,
    /// Early stopping waits at least this many steps (train's default: eight passes over the
    /// corpus's training windows, 400 to 4,000 steps; bench's: none).
    #[arg(long)]
    pub(crate) min_steps: Option<usize>,
    /// Stop after this many minutes of training.
    #[arg(long)]
    pub(crate) minutes: Option<f64>,
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Transpose training files by every shift in ±N semitones.
    #[arg(long, default_value_t = settings::TRANSPOSE.default as u8)]
    pub(crate) transpose: u8,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub(crate) enum Cell {
    Fused,
    Burn,
}

pub(crate) type Res = Result<ExitCode, Box<dyn std::error::Error>>;

pub(crate) fn device(wgpu: bool) -> Result<Device, String> {
    if !wgpu {
        return Ok(Device::flex());
    }
    #[cfg(feature = "wgpu")]
    {
        Ok(Device::wgpu(Default::default()))
    }
    #[cfg(not(feature = "wgpu"))]
    Err("this cantor was built without the GPU backend; rebuild with `--features wgpu`".into())
}

pub(crate) fn model_config(vocab_size: usize, m: &ModelArgs) -> ModelConfig {
    ModelConfig {
        vocab_size,
        embed: m.embed,
        hidden: m.hidden,
        layers: m.layers,
        dropout: m.dropout,
        cell: if m.cell == Cell::Burn { CellKind::Burn } else { CellKind::Fused },
        awd: AwdOptions { variational: m.variational, weight_dropout: m.weight_dropout, tied: m.tied },
        frame_context: false,
        sounding: None,
    }
}

pub(crate) fn train_config(t: &LoopArgs) -> TrainConfig {
    TrainConfig {
        seq_len: t.seq_len,
        batch: t.batch,
        lr: t.lr,
        max_epochs: t.epochs,
        steps_per_epoch: t.steps_per_epoch,
        patience: t.patience,
        min_steps: t.min_steps.unwrap_or(0),
        seed: t.seed,
        time_limit_s: t.minutes.map(|m| m * 60.0),
        ..TrainConfig::default()
    }
}

pub(crate) fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}").expect("valid template"),
    );
    bar
}

pub(crate) fn report(bar: &ProgressBar, p: &Progress) -> Control {
    bar.set_length(p.total_steps as u64);
    bar.set_position(p.step as u64);
    let mut msg = format!(
        "epoch {} loss {:.3} {:.0} tok/s eta {:.0}s",
        p.epoch + 1,
        p.loss,
        p.tokens_per_s,
        p.eta_s
    );
    if let Some(v) = p.valid {
        msg = format!(
            "epoch {} done: step {} train loss {:.3} valid nll {:.4} ppl {:.2} acc {:.1}% ({:.0} tok/s, {:.1} min)",
            p.epoch,
            p.step,
            p.loss,
            v.nll,
            v.perplexity,
            v.accuracy * 100.0,
            p.tokens_per_s,
            p.elapsed_s / 60.0
        );
        if bar.is_hidden() {
            eprintln!("{msg}"); // not a terminal (logs, CI): plain lines instead of a bar
        } else {
            bar.println(&msg);
        }
    }
    bar.set_message(msg);
    Control::Continue
}

/// The model file at `path`, loaded on `device`, to train on a corpus on disk whose vocabulary is
/// `vocab` (a model of another vocabulary is refused in words).
pub(crate) fn load_for_corpus(path: &std::path::Path, vocab: &cantor::encoding::Vocab, device: &Device) -> Result<(ModelConfig, cantor::model::LstmLm), Box<dyn std::error::Error>> {
    let file = cantor::model::ModelFile::from_bytes(&std::fs::read(path)?)?;
    if &file.vocab != vocab {
        return Err("that model's vocabulary is not the corpus's: build the corpus for it, or train a new model".into());
    }
    let model = file.load(device)?;
    Ok((file.config, model))
}

/// Readable MIDI files with notes under `inputs`: (names, songs, style tags: the folder each file
/// was found in); others are reported and skipped.
pub(crate) fn read_corpus(inputs: &[PathBuf]) -> (Vec<String>, Vec<Song>, Vec<Option<String>>) {
    let files = cantor::shards::list_files(inputs);
    let mut songs = Vec::new();
    let mut names = Vec::new();
    let mut styles = Vec::new();
    for (path, style) in &files {
        match std::fs::read(path).map_err(|e| e.to_string()).and_then(|b| read_song(&b).map_err(|e| e.to_string())) {
            Ok(song) if !song.notes.is_empty() => {
                names.push(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
                styles.push(style.clone());
                songs.push(song);
            }
            Ok(_) => eprintln!("skipping {}: no notes", path.display()),
            Err(e) => eprintln!("skipping {}: {e}", path.display()),
        }
    }
    (names, songs, styles)
}

/// The loop's and the model's settings, checked before any file is read.
pub(crate) fn check_args(t: &LoopArgs, m: &ModelArgs, vocab_size: usize) -> Result<(), settings::SettingError> {
    settings::TRANSPOSE.check(t.transpose as u64)?;
    train_config(t).validate()?; // the time limit (`--minutes`) included
    model_config(vocab_size, m).validate()
}
