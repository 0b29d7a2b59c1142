//! `cantor`: the native command line over the same core the web page uses.

use burn::prelude::Device;
use cantor::benchmark::{self, PianoRollDataset};
use cantor::encoding::corpus::{bar_corpus, event_corpus, music_corpus, style_from_path, CorpusOptions, NoteFilter};
use cantor::encoding::{BarVocab, Conditioning, EventVocab, FrameOrder, FrameVocab, Instrument, MusicVocab, Vocab};
use cantor::generate::{generate, GenerateConfig, SamplingParams, Scale};
use cantor::midi::{read_song, write_song, Song};
use cantor::model::{AwdOptions, CellKind, ModelConfig, Recurrence, ModelFile};
use cantor::settings;
use cantor::train::{block_on, evaluate_dynamic, Control, DynamicConfig, Mix, Progress, TrainConfig, Trainer};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
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
    Inspect {
        files: Vec<PathBuf>,
        /// One JSON object per file.
        #[arg(long)]
        json: bool,
    },
    /// Train a model on MIDI files (folders are searched recursively).
    Train(TrainArgs),
    /// Generate a MIDI clip with a trained model.
    Generate(GenerateArgs),
    /// Train and score on a public benchmark (test NLL in nats per frame).
    Bench(BenchArgs),
    /// Time training steps and generation for one model size (for BENCHMARKS.md).
    Speed(SpeedArgs),
    /// Evaluate a model on its corpus: held-out NLL, originality, style and classifier AUC of
    /// generated clips (give the same files, --valid and --seed as for training).
    Evaluate(EvaluateArgs),
}

#[derive(Args)]
struct EvaluateArgs {
    model: PathBuf,
    /// The MIDI files or folders the model was trained on.
    inputs: Vec<PathBuf>,
    #[arg(long, default_value_t = settings::VALID_SHARE.default)]
    valid: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Clips to generate and check.
    #[arg(long, default_value_t = 8)]
    clips: u64,
    /// Length of each clip in beats.
    #[arg(long, default_value_t = 48.0)]
    beats: f64,
    /// Generate the clips in this style (a style tag the model learned).
    #[arg(long)]
    style: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Clone)]
struct ModelArgs {
    #[arg(long, default_value_t = settings::EMBED.default_usize())]
    embed: usize,
    #[arg(long, default_value_t = settings::HIDDEN.default_usize())]
    hidden: usize,
    #[arg(long, default_value_t = settings::LAYERS.default_usize())]
    layers: usize,
    #[arg(long, default_value_t = settings::DROPOUT.default)]
    dropout: f64,
    #[arg(long, value_enum, default_value_t = Cell::Fused)]
    cell: Cell,
    /// Variational dropout: one mask per sequence, the same at every step (AWD-LSTM).
    #[arg(long)]
    variational: bool,
    /// DropConnect probability on the recurrent weights (AWD-LSTM weight dropout).
    #[arg(long, default_value_t = settings::WEIGHT_DROPOUT.default)]
    weight_dropout: f64,
    /// Tie the output layer to the embedding (through a hidden → embed projection).
    #[arg(long)]
    tied: bool,
    /// Run on burn's wgpu backend (a GPU) instead of Flex on the CPU.
    #[arg(long)]
    wgpu: bool,
    /// How the LSTM layers run their time loop: `auto` (the sequence operation: kernels on a GPU,
    /// tensor operations on Flex, 1.3× faster per step there), `steps` (the per-step graph), or
    /// `sequence`.
    #[arg(long, value_enum, default_value_t = RecurrenceArg::Auto)]
    recurrence: RecurrenceArg,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RecurrenceArg {
    Auto,
    Steps,
    Sequence,
}

impl ModelArgs {
    fn recurrence(&self) -> Recurrence {
        match self.recurrence {
            RecurrenceArg::Auto => Recurrence::Auto,
            RecurrenceArg::Steps => Recurrence::Steps,
            RecurrenceArg::Sequence => Recurrence::Sequence,
        }
    }
}

#[derive(Args, Clone)]
struct LoopArgs {
    #[arg(long, default_value_t = settings::SEQ_LEN.default_usize())]
    seq_len: usize,
    #[arg(long, default_value_t = settings::BATCH.default_usize())]
    batch: usize,
    #[arg(long, default_value_t = settings::LEARNING_RATE.default)]
    lr: f64,
    #[arg(long, default_value_t = settings::EPOCHS.default_usize())]
    epochs: usize,
    /// Steps per epoch (validation runs after each); default: one pass over the training tokens.
    #[arg(long)]
    steps_per_epoch: Option<usize>,
    /// Early stopping: epochs without a better validation loss.
    #[arg(long, default_value_t = settings::PATIENCE.default_usize())]
    patience: usize,
    /// Stop after this many minutes of training.
    #[arg(long)]
    minutes: Option<f64>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Transpose training files by every shift in ±N semitones.
    #[arg(long, default_value_t = settings::TRANSPOSE.default as u8)]
    transpose: u8,
}

#[derive(Args)]
struct TrainArgs {
    /// MIDI files or folders.
    inputs: Vec<PathBuf>,
    #[arg(long)]
    out: PathBuf,
    /// Learn the top voice only.
    #[arg(long)]
    melody: bool,
    /// Leave the drums out (by default every instrument is learned, drums included).
    #[arg(long)]
    no_drums: bool,
    /// Include percussion (the default; kept for older scripts).
    #[arg(long, hide = true)]
    drums: bool,
    /// A piano reduction: every melodic note on one piano, no drums.
    #[arg(long)]
    piano: bool,
    /// Only these tracks (zero-based track chunk numbers, as `inspect` counts them), e.g. 1,3.
    #[arg(long, value_delimiter = ',')]
    tracks: Option<Vec<u16>>,
    /// Style tag for every file (default: the name of the folder a file was found in).
    #[arg(long)]
    style: Option<String>,
    /// Token vocabulary: `bars` (bar-relative notes with instruments and drums) or `events`
    /// (the first vocabulary, one instrument).
    #[arg(long, value_enum, default_value_t = VocabKind::Bars)]
    vocab: VocabKind,
    /// Share of files held out for validation.
    #[arg(long, default_value_t = 0.1)]
    valid: f64,
    /// Continue training this model instead of starting from scratch.
    #[arg(long)]
    init: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    train: LoopArgs,
}

#[derive(Args)]
struct GenerateArgs {
    model: PathBuf,
    #[arg(long, required_unless_present = "list")]
    out: Option<PathBuf>,
    /// Start from the first bars of this MIDI file.
    #[arg(long)]
    primer: Option<PathBuf>,
    /// How many beats of the primer to use.
    #[arg(long, default_value_t = settings::PRIMER_BEATS.default)]
    primer_beats: f64,
    /// Length of the result in beats.
    #[arg(long, default_value_t = settings::BEATS.default)]
    beats: f64,
    #[arg(long, default_value_t = settings::TEMPERATURE.default as f32)]
    temperature: f32,
    #[arg(long, default_value_t = settings::TOP_K.default_usize())]
    top_k: usize,
    #[arg(long, default_value_t = settings::TOP_P.default as f32)]
    top_p: f32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stay in a key, e.g. C, F#, Am, Ebm.
    #[arg(long)]
    key: Option<String>,
    /// Instrument of an `events` model's notes (bar models play the instruments they learned).
    #[arg(long, default_value_t = 0)]
    program: u8,
    /// Tempo (default: the median tempo of the model's corpus).
    #[arg(long)]
    bpm: Option<f64>,
    /// Play in this style (a style tag the model learned; `cantor generate MODEL --list` shows them).
    #[arg(long)]
    style: Option<String>,
    /// Play exactly these instruments: General MIDI program numbers or names, and `drums`,
    /// e.g. `piano,33,drums` (default: the model chooses).
    #[arg(long, value_delimiter = ',')]
    instruments: Option<Vec<String>>,
    /// Print the model's styles and instruments, and exit.
    #[arg(long)]
    list: bool,
    #[arg(long)]
    wgpu: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum VocabKind {
    Bars,
    Events,
}

#[derive(Clone, Copy, ValueEnum)]
enum Dataset {
    Jsb,
    Nottingham,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Cell {
    Fused,
    Burn,
}

#[derive(Args)]
struct BenchArgs {
    #[arg(value_enum)]
    dataset: Dataset,
    /// The dataset JSON (default: ../shared/benchmarks/<name>.json).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Only compute the per-key baselines.
    #[arg(long)]
    baselines_only: bool,
    /// Save the trained model here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Let the model put probability on unordered frames (off: pitches within a frame ascend).
    #[arg(long)]
    no_frame_mask: bool,
    /// Within a frame, highest pitch first (the melody first) instead of lowest first.
    #[arg(long)]
    descending: bool,
    /// Train on every piece in all 12 keys (shifts −5…+6) instead of ±`--transpose`.
    #[arg(long)]
    all_keys: bool,
    /// Give each token the previous frame's pitches and the current frame's so far, in its input
    /// and its output (a held note can be copied); needs the frame mask.
    #[arg(long)]
    frame_context: bool,
    /// Score this saved benchmark model (`--out` of an earlier run) instead of training one.
    #[arg(long)]
    model_file: Option<PathBuf>,
    /// Also score with dynamic evaluation (the model takes an SGD step on each chunk after
    /// scoring it), at each of these step sizes on the validation pieces, then on the test pieces
    /// at the one validation liked best.
    #[arg(long, value_delimiter = ',')]
    dynamic_lr: Vec<f64>,
    /// Dynamic evaluation: tokens scored between updates.
    #[arg(long, default_value_t = 32)]
    dynamic_chunk: usize,
    /// Dynamic evaluation: after each update the weights move this share of the way back to the
    /// trained ones (each value is tried with each step size).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    dynamic_decay: Vec<f64>,
    /// Dynamic evaluation: the largest global L2 norm of a chunk's gradient.
    #[arg(long, default_value_t = settings::CLIP_NORM.default as f32)]
    dynamic_clip: f32,
    /// Dynamic evaluation: divide each weight's step by its RMS gradient over this many chunks of
    /// the training pieces (0: plain SGD steps).
    #[arg(long, default_value_t = 0)]
    dynamic_rms: usize,
    /// Dynamic evaluation: start each piece (each group of `--dynamic-batch`) from the trained
    /// weights, so the model adapts within a piece only.
    #[arg(long)]
    dynamic_per_piece: bool,
    /// Dynamic evaluation: pieces read side by side.
    #[arg(long, default_value_t = 1)]
    dynamic_batch: usize,
    /// Also score with a neural cache (the model's prediction mixed with the tokens that followed
    /// earlier, similar states of the same piece): each of these θ (the sharpness of the cosine
    /// similarity) is tried with each `--cache-lambda` on the validation pieces, the test pieces are
    /// scored at the pair validation liked best.
    #[arg(long, value_delimiter = ',')]
    cache_theta: Vec<f32>,
    /// Neural cache: the share of the probability the cache gets.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.2,0.3")]
    cache_lambda: Vec<f64>,
    /// Neural cache: where an earlier state of the piece is at least this alike (cosine), the cache
    /// gets `--cache-lambda-near` instead (each τ is tried with each pair of λs, and without).
    #[arg(long, value_delimiter = ',')]
    cache_near: Vec<f32>,
    /// Neural cache: the cache's share where the piece comes back to a state it has been in.
    #[arg(long, value_delimiter = ',', default_value = "0.3,0.5")]
    cache_lambda_near: Vec<f64>,
    /// Write the dataset's training and validation pieces as MIDI files into this folder (4/4,
    /// 96 bpm; JSB frames are quarter notes, Nottingham's eighths) and stop.
    #[arg(long)]
    export_midi: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    train: LoopArgs,
}

#[derive(Args)]
struct SpeedArgs {
    #[arg(long, default_value_t = 300)]
    vocab: usize,
    #[arg(long, default_value_t = 20)]
    steps: usize,
    #[arg(long, default_value_t = 200)]
    gen_tokens: usize,
    #[arg(long, default_value_t = 128)]
    seq_len: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[command(flatten)]
    model: ModelArgs,
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect { files, json } => inspect(&files, json),
        Command::Train(a) => train(a),
        Command::Generate(a) => generate_cmd(a),
        Command::Bench(a) => bench(a),
        Command::Speed(a) => speed(a),
        Command::Evaluate(a) => evaluate_cmd(a),
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

type Res = Result<ExitCode, Box<dyn std::error::Error>>;

fn device(wgpu: bool) -> Result<Device, String> {
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

fn is_midi(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "mid" | "midi" | "kar" | "rmi" | "smf"))
}

/// Files as given, plus MIDI files found (recursively, sorted) in the folders given.
fn collect_files(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut found = Vec::new();
            let mut stack = vec![p.clone()];
            while let Some(dir) = stack.pop() {
                if let Ok(entries) = std::fs::read_dir(&dir) {
                    for e in entries.flatten() {
                        let path = e.path();
                        if path.is_dir() {
                            stack.push(path);
                        } else if is_midi(&path) {
                            found.push(path);
                        }
                    }
                }
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    out
}

fn inspect(files: &[PathBuf], json: bool) -> Res {
    let mut any_error = false;
    for path in collect_files(files) {
        let name = path.display().to_string();
        let result = std::fs::read(&path).map_err(|e| e.to_string()).and_then(|b| read_song(&b).map_err(|e| e.to_string()));
        any_error |= result.is_err();
        if json {
            let value = match &result {
                Ok(s) => serde_json::json!({
                    "file": name, "ok": true, "format": s.format, "tracks": s.tracks.len(),
                    "notes": s.notes.len(), "seconds": s.seconds(), "beats": s.beats(),
                    "warnings": s.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
                    "error": null,
                }),
                Err(e) => serde_json::json!({
                    "file": name, "ok": false, "notes": 0, "seconds": 0.0, "warnings": [], "error": e,
                }),
            };
            println!("{value}");
        } else {
            match &result {
                Ok(s) => {
                    println!(
                        "{name}: format {}, {} track(s), {} notes, {:.1} s",
                        s.format,
                        s.tracks.len(),
                        s.notes.len(),
                        s.seconds()
                    );
                    for w in &s.warnings {
                        println!("  warning: {w}");
                    }
                }
                Err(e) => println!("{name}: cannot be read: {e}"),
            }
        }
    }
    Ok(if any_error { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn model_config(vocab_size: usize, m: &ModelArgs) -> ModelConfig {
    ModelConfig {
        vocab_size,
        embed: m.embed,
        hidden: m.hidden,
        layers: m.layers,
        dropout: m.dropout,
        cell: if m.cell == Cell::Burn { CellKind::Burn } else { CellKind::Fused },
        awd: AwdOptions { variational: m.variational, weight_dropout: m.weight_dropout, tied: m.tied },
        frame_context: false,
    }
}

fn train_config(t: &LoopArgs) -> TrainConfig {
    TrainConfig {
        seq_len: t.seq_len,
        batch: t.batch,
        lr: t.lr,
        max_epochs: t.epochs,
        steps_per_epoch: t.steps_per_epoch,
        patience: t.patience,
        seed: t.seed,
        time_limit_s: t.minutes.map(|m| m * 60.0),
        ..TrainConfig::default()
    }
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}").expect("valid template"),
    );
    bar
}

fn report(bar: &ProgressBar, p: &Progress) -> Control {
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

/// Readable MIDI files with notes under `inputs`: (names, songs, style tags: the folder each file
/// was found in); others are reported and skipped.
fn read_corpus(inputs: &[PathBuf]) -> (Vec<String>, Vec<Song>, Vec<Option<String>>) {
    let mut files = Vec::new();
    for input in inputs {
        let from_folder = input.is_dir();
        files.extend(collect_files(std::slice::from_ref(input)).into_iter().map(|f| (f, from_folder)));
    }
    let mut songs = Vec::new();
    let mut names = Vec::new();
    let mut styles = Vec::new();
    for (path, from_folder) in &files {
        match std::fs::read(path).map_err(|e| e.to_string()).and_then(|b| read_song(&b).map_err(|e| e.to_string())) {
            Ok(song) if !song.notes.is_empty() => {
                names.push(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
                styles.push(if *from_folder { style_from_path(&path.to_string_lossy()) } else { None });
                songs.push(song);
            }
            Ok(_) => eprintln!("skipping {}: no notes", path.display()),
            Err(e) => eprintln!("skipping {}: {e}", path.display()),
        }
    }
    (names, songs, styles)
}

/// The loop's and the model's settings, checked before any file is read.
fn check_args(t: &LoopArgs, m: &ModelArgs, vocab_size: usize) -> Result<(), settings::SettingError> {
    settings::TRANSPOSE.check(t.transpose as u64)?;
    train_config(t).validate()?; // the time limit (`--minutes`) included
    model_config(vocab_size, m).validate()
}

fn train(a: TrainArgs) -> Res {
    check_args(&a.train, &a.model, BarVocab::default().size())?;
    settings::VALID_SHARE.check(a.valid)?;
    let (names, songs, mut styles) = read_corpus(&a.inputs);
    if songs.is_empty() {
        return Err("no readable MIDI files with notes were given".into());
    }
    if let Some(style) = &a.style {
        styles = vec![Some(style.clone()); songs.len()];
    }
    let device = device(a.model.wgpu)?;
    let (vocab, config, init) = match &a.init {
        Some(path) => {
            let file = ModelFile::from_bytes(&std::fs::read(path)?)?;
            let Some(v) = file.vocab.music() else { return Err("that model scores benchmarks; it cannot learn MIDI files".into()) };
            let model = file.load(&device)?;
            (v, file.config, Some(model))
        }
        None => {
            let v = match a.vocab {
                VocabKind::Bars => MusicVocab::Bars(BarVocab::default()),
                VocabKind::Events => MusicVocab::Events(EventVocab::default()),
            };
            let config = model_config(v.size(), &a.model);
            (v, config, None)
        }
    };
    // The event vocabulary has no drum tokens: it learns drums (as pitches) only when asked.
    let drums = match vocab {
        MusicVocab::Events(_) => a.drums,
        MusicVocab::Bars(_) => !a.no_drums,
    };
    let options = CorpusOptions {
        filter: NoteFilter { drums, tracks: a.tracks.clone(), melody_only: a.melody, piano: a.piano },
        transpose: a.train.transpose,
        valid_fraction: a.valid,
        seed: a.train.seed,
        held_out: None,
    };
    let (corpus, vocab) = music_corpus(&songs, &styles, &vocab, &options);
    if corpus.train.is_empty() {
        return Err("the chosen tracks and options leave no notes to learn from".into());
    }
    if let MusicVocab::Bars(v) = &vocab {
        let instruments: Vec<&str> = v.instruments.iter().map(Instrument::name).collect();
        eprintln!(
            "learning {} at {:.0} bpm in {}/{}{}",
            instruments.join(", "),
            v.bpm,
            v.meter.0,
            v.meter.1,
            if v.styles.is_empty() { String::new() } else { format!("; styles: {}", v.styles.join(", ")) }
        );
    }
    eprintln!(
        "{} files ({} for validation), {} training tokens (with transpositions), {} validation tokens, {} parameters",
        songs.len(),
        corpus.valid_files.len(),
        corpus.train_tokens(),
        corpus.valid_tokens(),
        config.param_count()
    );
    let tc = train_config(&a.train);
    let mut trainer = match init {
        Some(m) => Trainer::with_model(m, config.clone(), tc, &corpus, &device)?,
        None => Trainer::new(config.clone(), tc, &corpus, &device)?,
    };
    trainer.model = trainer.model.clone().with_recurrence(a.model.recurrence());
    let bar = progress_bar(trainer.total_steps() as u64);
    let reason = block_on(trainer.run(|p| report(&bar, p)))?;
    bar.finish_and_clear();
    let mut summary = trainer.summary.clone();
    summary.held_out = corpus.valid_files.iter().map(|&i| names[i].clone()).collect();
    summary.files = names;
    let file = ModelFile::from_model(&trainer.best_model(), &config, &Vocab::from(vocab), summary)?;
    std::fs::write(&a.out, file.to_bytes())?;
    eprintln!(
        "stopped: {reason:?}; best validation NLL {}; saved {}",
        trainer.summary.best_valid_nll.map_or("n/a".into(), |v| format!("{v:.4} nats/token")),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn parse_key(key: &str) -> Result<Scale, String> {
    let (name, minor) = match key.strip_suffix('m') {
        Some(n) => (n, true),
        None => (key, false),
    };
    let mut chars = name.chars();
    let base = match chars.next().map(|c| c.to_ascii_uppercase()) {
        Some('C') => 0,
        Some('D') => 2,
        Some('E') => 4,
        Some('F') => 5,
        Some('G') => 7,
        Some('A') => 9,
        Some('B') => 11,
        _ => return Err(format!("unknown key {key:?}; write e.g. C, F#, Bb, Am")),
    };
    let shift: i32 = match chars.as_str() {
        "" => 0,
        "#" => 1,
        "b" => -1,
        _ => return Err(format!("unknown key {key:?}; write e.g. C, F#, Bb, Am")),
    };
    Ok(Scale { root: ((base + shift + 12) % 12) as u8, minor })
}

/// An instrument named on the command line: `drums`, a program number, or a General MIDI name
/// (or the start of one, e.g. `piano`, `fretless`).
fn parse_instrument(name: &str) -> Result<Instrument, String> {
    let n = name.trim().to_ascii_lowercase();
    if n == "drums" || n == "drum" || n == "kit" {
        return Ok(Instrument::Drums);
    }
    if let Ok(p) = n.parse::<u8>() {
        return if p < 128 { Ok(Instrument::Program(p)) } else { Err(format!("program {p} is out of range (0–127)")) };
    }
    (0..128u8)
        .find(|&p| cantor::midi::program_name(p).to_ascii_lowercase().starts_with(&n))
        .or_else(|| (0..128u8).find(|&p| cantor::midi::program_name(p).to_ascii_lowercase().contains(&n)))
        .map(Instrument::Program)
        .ok_or_else(|| format!("no General MIDI instrument is called {name:?}"))
}

fn generate_cmd(a: GenerateArgs) -> Res {
    let file = ModelFile::from_bytes(&std::fs::read(&a.model)?)?;
    let Some(vocab) = file.vocab.music() else { return Err("that model scores benchmarks; it cannot write MIDI".into()) };
    if a.list {
        match &vocab {
            MusicVocab::Bars(v) => {
                println!("styles: {}", if v.styles.is_empty() { "none".into() } else { v.styles.join(", ") });
                let list: Vec<String> = v.instruments.iter().map(|i| match i {
                    Instrument::Drums => "drums".to_string(),
                    Instrument::Program(p) => format!("{p} {}", i.name()),
                }).collect();
                println!("instruments: {}", list.join(", "));
                println!("tempo: {:.0} bpm; meter {}/{}", v.bpm, v.meter.0, v.meter.1);
            }
            MusicVocab::Events(_) => println!("an events model: one instrument (--program), no styles"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let conditioning = Conditioning {
        style: a.style.clone(),
        instruments: a.instruments.as_ref().map(|l| l.iter().map(|n| parse_instrument(n)).collect::<Result<Vec<_>, _>>()).transpose()?,
    };
    if let (MusicVocab::Bars(v), Some(style)) = (&vocab, &conditioning.style) {
        if v.style_slot(style).is_none() {
            return Err(format!("this model knows no style {style:?} (it knows: {})", if v.styles.is_empty() { "none".into() } else { v.styles.join(", ") }).into());
        }
    }
    let device = device(a.wgpu)?;
    let model = file.load(&device)?;
    let primer = match &a.primer {
        Some(p) => {
            let song = read_song(&std::fs::read(p)?)?;
            vocab.primer(&NoteFilter::default().select(&song), &song.time_signatures, a.primer_beats)
        }
        None => vocab.prompt(&conditioning),
    };
    let bpm = a.bpm.unwrap_or(vocab.bpm_for(conditioning.style.as_deref()));
    settings::BPM.check(bpm)?;
    settings::PRIMER_BEATS.check(a.primer_beats)?;
    let config = GenerateConfig {
        sampling: SamplingParams {
            temperature: a.temperature,
            top_k: a.top_k,
            top_p: a.top_p,
            seed: a.seed,
            scale: a.key.as_deref().map(parse_key).transpose()?,
        },
        max_tokens: 100_000,
        max_beats: Some(a.beats),
        program: a.program,
        bpm,
    };
    let bar = ProgressBar::new_spinner();
    let out = block_on(generate(&model, &vocab, &primer, &config, &device, |n| {
        if n % 50 == 0 {
            bar.set_message(format!("{n} tokens"))
        }
    }))?;
    bar.finish_and_clear();
    let time_signatures = vocab.time_signatures(&out.tokens);
    let mut song = Song::new(out.notes);
    song.tempo = cantor::midi::TempoMap::constant(bpm);
    song.time_signatures = time_signatures;
    song.retime();
    let out_path = a.out.as_ref().ok_or("--out is missing")?;
    std::fs::write(out_path, write_song(&song))?;
    let mut instruments: Vec<Instrument> = song.notes.iter().map(Instrument::of).collect();
    instruments.sort();
    instruments.dedup();
    eprintln!(
        "wrote {} notes, {:.1} s at {bpm:.0} bpm ({}), to {} (seed {})",
        song.notes.len(),
        song.seconds(),
        instruments.iter().map(Instrument::name).collect::<Vec<_>>().join(", "),
        out_path.display(),
        a.seed
    );
    Ok(ExitCode::SUCCESS)
}

fn bench(a: BenchArgs) -> Res {
    let name = match a.dataset {
        Dataset::Jsb => "jsb_chorales",
        Dataset::Nottingham => "nottingham",
    };
    let path = a.data.clone().unwrap_or_else(|| PathBuf::from(format!("../shared/benchmarks/{name}.json")));
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {} ({e}); pass --data", path.display()))?;
    let data = PianoRollDataset::from_json(&bytes)?;
    println!(
        "{name}: {} / {} / {} pieces, {} test frames",
        data.train.len(),
        data.valid.len(),
        data.test.len(),
        PianoRollDataset::frames(&data.test)
    );
    if let Some(dir) = &a.export_midi {
        let beats_per_frame = if matches!(a.dataset, Dataset::Jsb) { 1.0 } else { 0.5 };
        std::fs::create_dir_all(dir)?;
        for (split, pieces) in [("train", &data.train), ("valid", &data.valid)] {
            for (i, piece) in pieces.iter().enumerate() {
                let mut song = Song::new(benchmark::piece_notes(piece, beats_per_frame));
                song.tempo = cantor::midi::TempoMap::constant(96.0);
                song.time_signatures = vec![cantor::midi::TimeSignature { beat: 0.0, numerator: 4, denominator: 4 }];
                song.retime();
                std::fs::write(dir.join(format!("{name}-{split}-{:03}.mid", i + 1)), write_song(&song))?;
            }
        }
        println!("wrote {} MIDI files to {}", data.train.len() + data.valid.len(), dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!("baseline per-key marginal: {:.2} nats/frame", benchmark::marginal_baseline(&data));
    println!("baseline per-key Markov:   {:.2} nats/frame", benchmark::markov_baseline(&data));
    if a.baselines_only {
        return Ok(ExitCode::SUCCESS);
    }
    let order = if a.descending { FrameOrder::Descending } else { FrameOrder::Ascending };
    let saved = match &a.model_file {
        Some(path) => {
            let file = ModelFile::from_bytes(&std::fs::read(path)?)?;
            let Vocab::Frames(vocab) = file.vocab else { return Err("that model was not trained on a piano-roll benchmark".into()) };
            Some((file, vocab))
        }
        None => None,
    };
    let vocab = saved.as_ref().map_or_else(|| FrameVocab::default().with_order(order), |(_, v)| *v);
    check_args(&a.train, &a.model, FrameVocab::default().size())?;
    let t = a.train.transpose as i32;
    let shifts: Vec<i32> = if a.all_keys { (-5..=6).collect() } else { (-t..=t).collect() };
    let device = device(a.model.wgpu)?;
    let masked = !a.no_frame_mask;
    if a.frame_context && !masked {
        return Err("--frame-context needs the frame mask: leave out --no-frame-mask".into());
    }
    let (model, config, summary) = if let Some((file, _)) = &saved {
        let (corpus, test) = benchmark::frame_corpus(&data, &vocab, &[0]);
        let model = file.load(&device)?.with_recurrence(a.model.recurrence());
        println!("scoring the saved model {} ({} parameters)", a.model_file.as_ref().map_or(String::new(), |p| p.display().to_string()), file.config.param_count());
        (model, file.config.clone(), (file.summary.clone(), corpus, test))
    } else {
        let (corpus, test) = benchmark::frame_corpus(&data, &vocab, &shifts);
        let config = ModelConfig { frame_context: a.frame_context, ..model_config(vocab.size(), &a.model) };
        println!("training {} parameters on {} tokens per epoch", config.param_count(), corpus.train_tokens());
        let tc = TrainConfig { frame_mask: masked.then_some(vocab), ..train_config(&a.train) };
        let mut trainer = Trainer::new(config.clone(), tc, &corpus, &device)?;
        trainer.model = trainer.model.clone().with_recurrence(a.model.recurrence());
        let bar = progress_bar(trainer.total_steps() as u64);
        let reason = block_on(trainer.run(|p| report(&bar, p)))?;
        bar.finish_and_clear();
        println!(
            "stopped: {reason:?} after {} epochs, {} steps, {:.1} min",
            trainer.epoch,
            trainer.step,
            trainer.elapsed_s() / 60.0
        );
        (trainer.best_model(), config, (trainer.summary.clone(), corpus, test))
    };
    let (summary, corpus, test) = summary;
    let valid = block_on(benchmark::test_nll(&model, &corpus.valid, &vocab, masked, &device))?;
    let score = block_on(benchmark::test_nll(&model, &test, &vocab, masked, &device))?;
    println!("valid NLL: {:.3} nats/frame", valid.nll_per_frame);
    println!("TEST NLL: {:.3} nats/frame over {} frames ({:.4} nats/token)", score.nll_per_frame, score.frames, score.nll_per_token);
    if !a.dynamic_lr.is_empty() {
        let rms = block_on(cantor::train::gradient_rms(&model, &corpus.train, a.dynamic_chunk, a.dynamic_rms, masked.then_some(&vocab), &device))?;
        let dynamic = |(lr, decay): (f64, f64), pieces: &[Vec<u16>]| -> Result<benchmark::FrameScore, cantor::train::TrainError> {
            let config = DynamicConfig { lr, chunk: a.dynamic_chunk, batch: a.dynamic_batch, clip_norm: a.dynamic_clip, decay, per_piece: a.dynamic_per_piece };
            let eval = block_on(evaluate_dynamic(&model, pieces, config, masked.then_some(&vocab), rms.as_ref(), &device))?;
            Ok(benchmark::score(&eval, pieces, &vocab))
        };
        let mut best = (f64::INFINITY, (0.0, 0.0));
        for &lr in &a.dynamic_lr {
            for &decay in &a.dynamic_decay {
                let t0 = std::time::Instant::now();
                let v = dynamic((lr, decay), &corpus.valid)?;
                println!("dynamic evaluation, step {lr}, decay {decay}: valid NLL {:.3} nats/frame ({:.0} s)", v.nll_per_frame, t0.elapsed().as_secs_f64());
                if v.nll_per_frame < best.0 {
                    best = (v.nll_per_frame, (lr, decay));
                }
            }
        }
        let s = dynamic(best.1, &test)?;
        println!(
            "TEST NLL with dynamic evaluation (step {}, decay {}, chosen on validation): {:.3} nats/frame over {} frames ({:.4} nats/token)",
            best.1 .0, best.1 .1, s.nll_per_frame, s.frames, s.nll_per_token
        );
    }
    if !a.cache_theta.is_empty() {
        let shares = a.cache_lambda.iter().chain(&a.cache_lambda_near);
        if a.cache_theta.iter().any(|t| !(0.0..=1000.0).contains(t)) || shares.clone().any(|l| !(0.0..1.0).contains(l)) || a.cache_near.iter().any(|t| !(-1.0..=1.0).contains(t)) {
            return Err("--cache-theta takes values from 0 to 1000, --cache-lambda and --cache-lambda-near values from 0 up to (not including) 1, --cache-near cosines from -1 to 1".into());
        }
        // The model alone (λ = 0) is always a candidate: validation may prefer no cache.
        let lambdas: Vec<f64> = std::iter::once(0.0).chain(a.cache_lambda.iter().copied().filter(|&l| l > 0.0)).collect();
        let mut mixes: Vec<Mix> = lambdas.iter().map(|&l| Mix::plain(l)).collect();
        for &tau in &a.cache_near {
            for &lambda in &lambdas {
                mixes.extend(a.cache_lambda_near.iter().map(|&near| Mix { lambda, near: Some((tau, near)) }));
            }
        }
        let name = |m: &Mix| match m.near {
            None => format!("λ {}", m.lambda),
            Some((tau, near)) => format!("λ {}, {near} from cos {tau}", m.lambda),
        };
        let t0 = std::time::Instant::now();
        let read = |pieces: &[Vec<u16>]| block_on(cantor::train::read_for_cache(&model, pieces, 256, 16, masked.then_some(&vocab), &device));
        let (valid_read, test_read) = (read(&corpus.valid)?, read(&test)?);
        let mut best = (f64::INFINITY, (0.0f32, Mix::plain(0.0)));
        for &theta in &a.cache_theta {
            for (eval, mix) in valid_read.evaluate(theta, &mixes).iter().zip(&mixes) {
                let v = benchmark::score(eval, &corpus.valid, &vocab);
                println!("neural cache, θ {theta}, {}: valid NLL {:.3} nats/frame", name(mix), v.nll_per_frame);
                if v.nll_per_frame < best.0 {
                    best = (v.nll_per_frame, (theta, *mix));
                }
            }
        }
        let (theta, mix) = best.1;
        let s = benchmark::score(&test_read.evaluate(theta, &[mix])[0], &test, &vocab);
        println!(
            "TEST NLL with the neural cache (θ {theta}, {}, chosen on validation): {:.3} nats/frame over {} frames ({:.4} nats/token; {:.0} s)",
            name(&mix),
            s.nll_per_frame,
            s.frames,
            s.nll_per_token,
            t0.elapsed().as_secs_f64()
        );
    }
    if let Some(out) = a.out {
        let file = ModelFile::from_model(&model, &config, &Vocab::Frames(vocab), summary)?;
        std::fs::write(out, file.to_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn speed(a: SpeedArgs) -> Res {
    let device = device(a.model.wgpu)?;
    let config = model_config(a.vocab, &a.model);
    // Random tokens are enough to time the arithmetic.
    let seqs: Vec<Vec<u16>> = (0..64)
        .map(|i| (0..2048u32).map(|k| ((k * 7919 + i * 104_729) % a.vocab as u32) as u16).collect())
        .collect();
    let corpus = cantor::encoding::corpus::TokenCorpus { train: seqs, valid: vec![], train_files: vec![], valid_files: vec![], ..Default::default() };
    let tc = TrainConfig { seq_len: a.seq_len, batch: a.batch, ..TrainConfig::default() };
    let mut trainer = Trainer::new(config.clone(), tc, &corpus, &device)?;
    trainer.model = trainer.model.clone().with_recurrence(a.model.recurrence());
    block_on(trainer.train_step())?; // warm-up
    block_on(trainer.train_step())?;
    let t0 = std::time::Instant::now();
    for _ in 0..a.steps {
        block_on(trainer.train_step())?;
    }
    let step_s = t0.elapsed().as_secs_f64() / a.steps as f64;
    let model = trainer.best_model();
    let vocab = EventVocab::default();
    let gen_model = if config.vocab_size == vocab.size() { model } else { model_config(vocab.size(), &a.model).init(&device) };
    let gcfg = GenerateConfig { max_tokens: a.gen_tokens, max_beats: None, ..GenerateConfig::default() };
    block_on(generate(&gen_model, &vocab, &[], &GenerateConfig { max_tokens: 10, ..gcfg.clone() }, &device, |_| {}))?;
    let t0 = std::time::Instant::now();
    let g = block_on(generate(&gen_model, &vocab, &[], &gcfg, &device, |_| {}))?;
    let gen_s = t0.elapsed().as_secs_f64();
    let new_tokens = g.tokens.len() - g.primer_len;
    println!(
        "{}",
        serde_json::json!({
            "impl": "cantor-burn", "backend": if a.model.wgpu { "wgpu" } else { "flex" },
            "cell": if a.model.cell == Cell::Burn { "burn" } else { "fused" },
            "recurrence": if trainer.model.uses_sequence_op(&device) { "sequence" } else { "steps" },
            "params": config.param_count(), "step_ms": step_s * 1e3,
            "train_tokens_per_s": (a.batch * a.seq_len) as f64 / step_s,
            "gen_tokens_per_s": new_tokens as f64 / gen_s,
        })
    );
    Ok(ExitCode::SUCCESS)
}

/// The files of `names` a model's summary says were held out (matched by path or file name), or
/// `None` when it records none or none of them is among `names`.
fn held_out_of(summary: &cantor::model::TrainingSummary, names: &[String]) -> Option<Vec<usize>> {
    let base = |s: &str| s.rsplit(['/', '\\']).next().unwrap_or(s).to_string();
    let idx: Vec<usize> = (0..names.len())
        .filter(|&i| summary.held_out.iter().any(|h| names[i] == *h || names[i].ends_with(&format!("/{h}")) || base(&names[i]) == base(h)))
        .collect();
    (!idx.is_empty()).then_some(idx)
}

fn evaluate_cmd(a: EvaluateArgs) -> Res {
    use cantor::metrics;
    let file = ModelFile::from_bytes(&std::fs::read(&a.model)?)?;
    let Some(vocab) = file.vocab.music() else { return Err("that model scores benchmarks; it cannot write MIDI".into()) };
    let (names, songs, styles) = read_corpus(&a.inputs);
    if songs.is_empty() {
        return Err("no readable MIDI files with notes were given".into());
    }
    let filter = match vocab {
        MusicVocab::Events(_) => NoteFilter { drums: false, ..NoteFilter::default() },
        MusicVocab::Bars(_) => NoteFilter::default(),
    };
    // The split the model recorded (the page's or `cantor train`'s), where its files are given.
    let held_out = held_out_of(&file.summary, &names);
    if held_out.is_some() {
        eprintln!("holding out the files this model was validated on: {}", file.summary.held_out.join(", "));
    }
    let options = CorpusOptions { filter: filter.clone(), transpose: 0, valid_fraction: a.valid, seed: a.seed, held_out };
    let corpus = match &vocab {
        MusicVocab::Events(v) => event_corpus(&songs, v, &options),
        MusicVocab::Bars(v) => bar_corpus(&songs, &styles, v, &options),
    };
    let device = Device::flex();
    let model = file.load(&device)?;
    let valid = block_on(cantor::train::evaluate(&model, &corpus.valid, 128, 8, None, &device))?.metrics();
    let seconds: f64 = corpus.valid_files.iter().map(|&i| songs[i].seconds()).sum();
    // The clips are compared with the music as the user has it, every instrument and the drums.
    let notes = |idx: &[usize], f: &NoteFilter| idx.iter().map(|&i| f.select(&songs[i])).collect::<Vec<_>>();
    let (train_notes, valid_notes) = (notes(&corpus.train_files, &NoteFilter::default()), notes(&corpus.valid_files, &NoteFilter::default()));
    let learned_valid_notes = notes(&corpus.valid_files, &filter);
    let mut clips = Vec::new();
    for seed in 1..=a.clips {
        let config = GenerateConfig {
            sampling: SamplingParams { seed, ..SamplingParams::default() },
            max_tokens: 6000,
            max_beats: Some(a.beats),
            bpm: vocab.bpm_for(a.style.as_deref()),
            ..GenerateConfig::default()
        };
        let prompt = vocab.prompt(&Conditioning { style: a.style.clone(), instruments: None });
        clips.push(block_on(generate(&model, &vocab, &prompt, &config, &device, |_| {}))?.notes);
    }
    let bar_beats = vocab.bar_beats_for(a.style.as_deref());
    let r = metrics::evaluate_in_meter(&train_notes, &valid_notes, &clips, bar_beats);
    let note_count: usize = learned_valid_notes.iter().map(Vec::len).sum();
    let valid_names: Vec<&String> = corpus.valid_files.iter().map(|&i| &names[i]).collect();
    let per_second = metrics::nll_per_second(valid.nll, valid.tokens, seconds);
    let sep = |s: &Option<metrics::classifier::Separability>| s.as_ref().map(|s| serde_json::json!({"auc": s.auc, "low": s.low, "high": s.high}));
    let out = serde_json::json!({
        "held_out_files": valid_names,
        "valid_nll_per_token": valid.nll, "valid_nll_per_second": per_second,
        "valid_nll_per_note": valid.nll * valid.tokens as f64 / note_count.max(1) as f64,
        "shape": r.shape.iter().map(|f| serde_json::json!({"feature": f.name, "corpus": f.corpus, "generated": f.generated, "overlap": f.overlap})).collect::<Vec<_>>(),
        "perplexity": valid.perplexity, "accuracy": valid.accuracy,
        "clips": r.originality.iter().zip(&r.flagged).map(|(o, f)| serde_json::json!({
            "notes": o.notes, "longest_run": o.longest_len(), "copy_rate": o.copy_rate, "flagged": f,
            "from": o.longest.as_ref().map(|l| format!("{} beat {}", names[corpus.train_files[l.file]], l.file_beat)),
        })).collect::<Vec<_>>(),
        "baseline": {"windows": r.baseline.windows, "longest_p95": r.baseline.longest_p95, "copy_rate_p95": r.baseline.copy_rate_p95},
        "style": r.style.iter().map(|f| serde_json::json!({"feature": f.name, "corpus": f.corpus, "generated": f.generated, "overlap": f.overlap})).collect::<Vec<_>>(),
        "auc_real_vs_generated": sep(&r.real_vs_generated),
        "auc_real_vs_real": sep(&r.real_vs_real),
    });
    if a.json {
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("held-out files: {}", valid_names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "));
    println!("validation: {:.3} nats/note,", valid.nll * valid.tokens as f64 / note_count.max(1) as f64);
    println!("validation: {:.3} nats/token, {per_second:.3} nats/second, perplexity {:.2}, accuracy {:.1} %", valid.nll, valid.perplexity, valid.accuracy * 100.0);
    println!("baseline (held-out vs training, {} windows): longest run p95 {:.1} notes, copy rate p95 {:.1} %", r.baseline.windows, r.baseline.longest_p95, r.baseline.copy_rate_p95 * 100.0);
    for (i, (o, f)) in r.originality.iter().zip(&r.flagged).enumerate() {
        println!("clip {}: {} notes, longest run {}, copy rate {:.1} %{}", i + 1, o.notes, o.longest_len(), o.copy_rate * 100.0, if *f { "  FLAGGED" } else { "" });
    }
    for f in &r.style {
        println!("{:<45} corpus {:>7.3}  generated {:>7.3}  overlap {:>5.1} %", f.name, f.corpus, f.generated, f.overlap * 100.0);
    }
    for f in &r.shape {
        println!("{:<45} corpus {:>7.3}  generated {:>7.3}  overlap {:>5.1} %", f.name, f.corpus, f.generated, f.overlap * 100.0);
    }
    let show = |s: &Option<metrics::classifier::Separability>| s.as_ref().map_or("n/a".into(), |s| format!("{:.3} [{:.3}, {:.3}]", s.auc, s.low, s.high));
    println!("classifier AUC real vs generated {}; real vs real {}", show(&r.real_vs_generated), show(&r.real_vs_real));
    Ok(ExitCode::SUCCESS)
}
