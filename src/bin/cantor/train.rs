//! `cantor train`: train a model on MIDI files.

use crate::shared::{check_args, device, load_for_corpus, model_config, progress_bar, read_corpus, report, train_config, LoopArgs, ModelArgs, Res};
use cantor::encoding::corpus::{music_corpus, CorpusOptions, NoteFilter};
use cantor::encoding::split::SplitRule;
use cantor::encoding::{BarVocab, EventVocab, Instrument, MusicVocab, Vocab};
use burn::module::Module;
use cantor::model::{ModelConfig, ModelFile, TrainingSummary};
use cantor::settings;
use cantor::train::{block_on, learning_minimum, Trainer};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct TrainArgs {
    /// MIDI files or folders.
    inputs: Vec<PathBuf>,
    /// Train on a corpus built by `cantor corpus build` instead (memory-mapped: memory stays flat
    /// however large it is; its vocabulary and held-out files are the corpus's).
    #[arg(long, conflicts_with = "inputs")]
    corpus: Option<PathBuf>,
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
    /// A new bar-vocabulary model without `REPEAT` tokens (every bar written out, as models made
    /// before them), to compare the two.
    #[arg(long)]
    no_repeats: bool,
    /// A new bar-vocabulary model that also reads what is sounding after each token (which parts
    /// hold a note, their pitches, where their notes end), what the bar before played and the
    /// transposition of the copy it reads: a better held-out NLL and clips in the corpus's keys,
    /// but longer copied runs on a tiny band corpus (BENCHMARKS.md); each step ~9 % slower.
    #[arg(long)]
    sounding: bool,
    /// Share held out for validation: of the files, or of each file's bars (see --split).
    #[arg(long, default_value_t = 0.1)]
    valid: f64,
    /// What is held out: `auto` (each file's last bars below 20 files, whole files from 20),
    /// `files` or `ends`.
    #[arg(long, value_enum, default_value_t = SplitArg::Auto)]
    split: SplitArg,
    /// Also save the model as training left it (its last weights, not the best on the held-out
    /// music) to this file, to compare the two.
    #[arg(long)]
    last_out: Option<PathBuf>,
    /// Continue training this model instead of starting from scratch.
    #[arg(long)]
    init: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    train: LoopArgs,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum SplitArg {
    Auto,
    Files,
    Ends,
}

impl From<SplitArg> for SplitRule {
    fn from(a: SplitArg) -> SplitRule {
        match a {
            SplitArg::Auto => SplitRule::Auto,
            SplitArg::Files => SplitRule::Files,
            SplitArg::Ends => SplitRule::Ends,
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum VocabKind {
    Bars,
    Events,
}

pub(crate) fn run(a: TrainArgs) -> Res {
    if let Some(dir) = &a.corpus {
        return run_streamed(&a, dir);
    }
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
                // A model that reads what is sounding is also told each training copy's transposition.
                VocabKind::Bars => MusicVocab::Bars(BarVocab {
                    repeats: if a.no_repeats { 0 } else { BarVocab::default().repeats },
                    shifts: if a.sounding { cantor::encoding::bars::SHIFTS } else { 0 },
                    ..BarVocab::default()
                }),
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
        split: a.split.into(),
    };
    let (corpus, vocab) = music_corpus(&songs, &styles, &vocab, &options);
    let mut config = config;
    if let (None, MusicVocab::Bars(v), true) = (&init, &vocab, a.sounding) {
        config.sounding = Some(v.layout());
    }
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
    if let Some(split) = &corpus.split {
        eprintln!("{}", split.why(songs.len()));
    }
    eprintln!(
        "{} training tokens (with transpositions), {} validation tokens, {} parameters",
        corpus.train_tokens(),
        corpus.valid_tokens(),
        config.param_count()
    );
    let mut tc = train_config(&a.train);
    tc.min_steps = a.train.min_steps.unwrap_or_else(|| learning_minimum(&corpus, tc.batch, tc.seq_len));
    let mut trainer = match init {
        Some(m) => Trainer::with_model(m, config.clone(), tc, &corpus, &device)?,
        None => Trainer::new(config.clone(), tc, &corpus, &device)?,
    };
    train_and_save(&a, &mut trainer, &config, &Vocab::from(vocab), |summary| {
        summary.held_out_share = corpus.split.as_ref().and_then(|s| s.ends_share());
        if summary.held_out_share.is_none() {
            summary.held_out = corpus.valid_files.iter().map(|&i| names[i].clone()).collect();
        }
        summary.files = names;
    })
}

/// Trains `trainer` with the run's recurrence and threads (a progress bar meanwhile), then writes
/// the model kept (and with `--last-out` the last one) with the summary `describe` completes.
fn train_and_save(a: &TrainArgs, trainer: &mut Trainer, config: &ModelConfig, vocab: &Vocab, describe: impl FnOnce(&mut TrainingSummary)) -> Res {
    trainer.model = trainer.model.clone().with_recurrence(a.model.recurrence());
    trainer.set_threads(a.model.threads());
    let bar = progress_bar(trainer.total_steps() as u64);
    let reason = block_on(trainer.run(|p| report(&bar, p)))?;
    bar.finish_and_clear();
    let mut summary = trainer.summary.clone();
    describe(&mut summary);
    summary.stopped = Some(trainer.stop_sentence(reason));
    if let Some(path) = &a.last_out {
        std::fs::write(path, ModelFile::from_model(&trainer.model.valid(), config, vocab, summary.clone())?.to_bytes())?;
    }
    let file = ModelFile::from_model(&trainer.best_model(), config, vocab, summary)?;
    std::fs::write(&a.out, file.to_bytes())?;
    eprintln!("{} Saved {}.", trainer.stop_sentence(reason), a.out.display());
    Ok(ExitCode::SUCCESS)
}

/// Validation tokens read from a corpus on disk (the rest of its held-out files are not scored).
const VALID_TOKENS: usize = 200_000;

/// `cantor train --corpus DIR`: windows read from the memory-mapped shards.
fn run_streamed(a: &TrainArgs, dir: &std::path::Path) -> Res {
    let corpus = cantor::shards::ShardCorpus::open(dir, false)?;
    let vocab = corpus.manifest.vocab.clone();
    check_args(&a.train, &a.model, vocab.size())?;
    let device = device(a.model.wgpu)?;
    let (config, init) = match &a.init {
        Some(path) => {
            let (config, model) = load_for_corpus(path, &vocab, &device)?;
            (config, Some(model))
        }
        None => {
            let mut config = model_config(vocab.size(), &a.model);
            if let (Vocab::Bars(v), true) = (&vocab, a.sounding) {
                config.sounding = Some(v.layout());
            }
            (config, None)
        }
    };
    let valid = corpus.valid(VALID_TOKENS);
    eprintln!(
        "{} training pieces, {} held out ({} tokens of them scored), {} parameters",
        corpus.train_pieces(),
        corpus.valid_pieces(),
        valid.iter().map(Vec::len).sum::<usize>(),
        config.param_count()
    );
    let tc = train_config(&a.train);
    let anchor = corpus.manifest.anchor;
    let mut trainer = Trainer::streamed(init, config.clone(), tc, Box::new(corpus), anchor, a.train.transpose, valid, &device)?;
    train_and_save(a, &mut trainer, &config, &vocab, |_| {})
}
