//! `cantor evaluate`: held-out NLL, originality, style and classifier AUC of a model's clips.

use crate::shared::{read_corpus, Res};
use burn::prelude::Device;
use cantor::encoding::corpus::{bar_corpus, event_corpus, CorpusOptions, NoteFilter};
use cantor::encoding::split::SplitRule;
use cantor::midi::{Note, Song};
use cantor::sequences::split_songs;
use cantor::encoding::{Conditioning, MusicVocab};
use cantor::generate::{generate, generate_form, Form, GenerateConfig, Returns, SamplingParams};
use cantor::model::ModelFile;
use cantor::settings;
use cantor::train::block_on;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct EvaluateArgs {
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
    /// Generate the clips in this form (e.g. AABA; see `generate --form`) instead of freely.
    #[arg(long)]
    form: Option<String>,
    #[arg(long, default_value_t = settings::SECTION_BARS.default_usize())]
    section_bars: usize,
    /// With --form: returns come back `exact` or `varied`.
    #[arg(long)]
    varied: bool,
    #[arg(long)]
    json: bool,
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

pub(crate) fn run(a: EvaluateArgs) -> Res {
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
    let (split, valid_fraction) = match file.summary.held_out_share {
        Some(share) if held_out.is_none() => (SplitRule::Ends, share),
        _ => (SplitRule::Auto, a.valid),
    };
    let options = CorpusOptions { filter: filter.clone(), transpose: 0, valid_fraction, seed: a.seed, held_out, split };
    let corpus = match &vocab {
        MusicVocab::Events(v) => event_corpus(&songs, v, &options),
        MusicVocab::Bars(v) => bar_corpus(&songs, &styles, v, &options),
    };
    let plan = corpus.split.clone().unwrap_or_else(|| options.plan(&songs));
    let device = Device::flex();
    let model = file.load(&device)?;
    let valid = block_on(cantor::train::evaluate(&model, &corpus.valid, 128, 8, None, &device))?.metrics();
    // The clips are compared with the music as the user has it, every instrument and the drums.
    let named: Vec<(String, Song)> = names.iter().cloned().zip(songs.iter().cloned()).collect();
    let (train_part, valid_part) = split_songs(&named, &plan);
    let seconds: f64 = valid_part.iter().map(|(_, _, s)| s).sum();
    let train_names: Vec<String> = train_part.iter().map(|(name, _, _)| name.clone()).collect();
    let (train_notes, valid_notes): (Vec<Vec<Note>>, Vec<Vec<Note>>) =
        (train_part.into_iter().map(|(_, n, _)| n).collect(), valid_part.into_iter().map(|(_, n, _)| n).collect());
    let learned_valid_notes: Vec<Vec<Note>> =
        plan.valid_files.iter().map(|&i| plan.held_out_part(i, &filter.select(&songs[i]), &songs[i].time_signatures).0).collect();
    let mut clips = Vec::new();
    let form = a.form.as_deref().map(|f| Form::new(f, a.section_bars, if a.varied { Returns::Varied } else { Returns::Exact })).transpose()?;
    for seed in 1..=a.clips {
        let config = GenerateConfig {
            sampling: SamplingParams { seed, ..SamplingParams::default() },
            max_tokens: 6000,
            max_beats: Some(a.beats),
            bpm: vocab.bpm_for(a.style.as_deref()),
            ..GenerateConfig::default()
        };
        let prompt = vocab.prompt(&Conditioning { style: a.style.clone(), instruments: None });
        let notes = match (&form, &vocab) {
            (Some(form), MusicVocab::Bars(v)) => block_on(generate_form(&model, v, &prompt, &config, form, &device))?.0.notes,
            (Some(_), MusicVocab::Events(_)) => return Err("a form needs a model with the bar vocabulary".into()),
            (None, _) => block_on(generate(&model, &vocab, &prompt, &config, &device, |_| {}))?.notes,
        };
        clips.push(notes);
    }
    let bar_beats = vocab.bar_beats_for(a.style.as_deref());
    let r = metrics::evaluate_in_meter(&train_notes, &valid_notes, &clips, bar_beats);
    let note_count: usize = learned_valid_notes.iter().map(Vec::len).sum();
    let valid_names: Vec<&String> = corpus.valid_files.iter().map(|&i| &names[i]).collect();
    let per_second = metrics::nll_per_second(valid.nll, valid.tokens, seconds);
    let sep = |s: &Option<metrics::classifier::Separability>| s.as_ref().map(|s| serde_json::json!({"auc": s.auc, "low": s.low, "high": s.high}));
    let out = serde_json::json!({
        "held_out_files": valid_names,
        "split": plan.why(songs.len()),
        "valid_nll_per_token": valid.nll, "valid_nll_per_second": per_second,
        "valid_nll_per_note": valid.nll * valid.tokens as f64 / note_count.max(1) as f64,
        "shape": r.shape.iter().map(|f| serde_json::json!({"feature": f.name, "corpus": f.corpus, "generated": f.generated, "overlap": f.overlap})).collect::<Vec<_>>(),
        "perplexity": valid.perplexity, "accuracy": valid.accuracy,
        "clips": r.originality.iter().zip(&r.flagged).map(|(o, f)| serde_json::json!({
            "notes": o.notes, "longest_run": o.longest_len(), "copy_rate": o.copy_rate, "flagged": f,
            "from": o.longest.as_ref().map(|l| format!("{} beat {}", train_names[l.file], l.file_beat)),
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
    println!("{}", plan.why(songs.len()));
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
