//! "Is this any good, or did it just copy my files?" After training: held-out figures, the
//! originality meter per generated clip (with the training file and bar a run came from, and both
//! to listen to), style statistics generated vs corpus, the adversarial classifier's AUC, and a
//! blind listening test with a confidence interval and an export of its results.

use super::similarity::{bar_matrix, SimilarityPicture};
use super::{corpus, AppState};
use crate::sequences::excerpt;
use crate::generate::{GenerateConfig, SamplingParams};
use crate::metrics::{self, classifier, style, Report};
use crate::midi::Note;
use crate::protocol::ToWorker;
use crate::web::{bridge, files};
use leptos::prelude::*;
use std::sync::Arc;

/// Clips generated for an evaluation, and the length of each (beats).
const CLIPS: u64 = 6;
const CLIP_BEATS: f64 = 48.0;
/// Listening-test excerpts: 40 beats, 20 seconds at 120 bpm.
const LISTEN_BEATS: f64 = 40.0;

/// What the evaluation needs from the corpus, frozen when it starts.
#[derive(Clone)]
pub struct Evaluation {
    pub train: Arc<Vec<(String, Vec<Note>, f64)>>,
    pub valid: Arc<Vec<(String, Vec<Note>, f64)>>,
    pub clips: Arc<Vec<Vec<Note>>>,
    pub report: Arc<Report>,
}

impl Evaluation {
    /// The music generated clips are set beside: the held-out files, else (none held out, or all
    /// empty) the training files.
    fn real_pool(&self) -> &Arc<Vec<(String, Vec<Note>, f64)>> {
        if self.valid.iter().any(|v| !v.1.is_empty()) { &self.valid } else { &self.train }
    }
}

fn pct(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

#[component]
pub fn Evaluate() -> impl IntoView {
    let state = expect_context::<AppState>();
    let busy = state.sampling;
    let frozen = RwSignal::new(None::<(Arc<Vec<(String, Vec<Note>, f64)>>, Arc<Vec<(String, Vec<Note>, f64)>>)>);
    let result = RwSignal::new(None::<Evaluation>);

    // `quiet`: started by the end of training, so a missing corpus is not an error to show.
    let run = move |quiet: bool| {
        if state.models.file.get_untracked().is_none() {
            return state.error.set(Some("Train or load a model first.".into()));
        }
        let (train, valid) = state.corpus.split_notes();
        if train.is_empty() {
            if !quiet {
                state.error.set(Some("Add your MIDI files first: the evaluation compares the music with them.".into()));
            }
            return;
        }
        frozen.set(Some((Arc::new(train), Arc::new(valid))));
        busy.set(true);
        let config = GenerateConfig {
            sampling: SamplingParams { temperature: 1.0, top_k: 0, top_p: 0.95, seed: 0, scale: None },
            max_tokens: 4000,
            max_beats: Some(CLIP_BEATS),
            program: 0,
            bpm: corpus::current_vocab(state).bpm(),
        };
        let Some(model) = state.models.loaded() else { return };
        bridge::send(&ToWorker::Sample { model, config, seeds: (1..=CLIPS).collect() });
    };
    let start = move |_| run(false);
    // After every training run, on the new model.
    Effect::new(move |first: Option<()>| {
        state.evaluate_now.track();
        if first.is_some() && !busy.get_untracked() {
            run(true);
        }
    });
    // The worker's clips arrive: compute everything (milliseconds for a few files).
    Effect::new(move |_| {
        let Some(clips) = state.samples.get() else { return };
        let Some((train, valid)) = frozen.get_untracked() else { return };
        let notes = |v: &[(String, Vec<Note>, f64)]| v.iter().map(|x| x.1.clone()).collect::<Vec<_>>();
        let bar_beats = corpus::current_vocab(state).bar_beats();
        let report = metrics::evaluate_in_meter(&notes(&train), &notes(&valid), &clips, bar_beats);
        result.set(Some(Evaluation { train, valid, clips, report: Arc::new(report) }));
        busy.set(false);
    });

    // Counted by the worker when the files, options or vocabulary change.
    let size = move || corpus::held_out_size(state);
    let held_out = move || {
        let summary = state.models.summary.get()?;
        let nll = summary.best_valid_nll?;
        let acc = state.training.progress.get().and_then(|p| p.valid).map(|v| v.accuracy);
        let (tokens, seconds) = size();
        let per_second = if seconds > 0.0 { format!(", {:.2} nats per second of music", metrics::nll_per_second(nll, tokens, seconds)) } else { String::new() };
        Some(format!(
            "Held-out music: {nll:.3} nats per token{per_second}, perplexity {:.2}{}.",
            nll.exp(),
            acc.map_or(String::new(), |a| format!(", next-token accuracy {}", pct(a)))
        ))
    };

    view! {
        <section class="card">
            <h2>"Is it any good?"</h2>
            <p class="detail">"After every training run, six clips are generated and compared with your files: copying, style, and whether a classifier can tell them from your held-out music."</p>
            <p data-testid="eval-heldout">{move || held_out().unwrap_or_else(|| "Held-out figures appear after training.".into())}</p>
            <div class="buttons">
                <button data-testid="evaluate" disabled=move || busy.get() || state.models.file.get().is_none() on:click=start>
                    {move || if busy.get() { "Evaluating…" } else { "Evaluate" }}
                </button>
            </div>
            {move || result.get().map(|e| view! { <ReportView e=e/> })}
            {move || result.get().map(|e| view! { <Listening e=e/> })}
        </section>
    }
}

#[component]
fn ReportView(e: Evaluation) -> impl IntoView {
    let state = expect_context::<AppState>();
    let r = e.report.clone();
    let b = r.baseline.clone();
    let baseline = if b.windows == 0 {
        "No held-out files long enough for a baseline: add more files.".to_string()
    } else {
        format!(
            "Baseline from your held-out files ({} windows of the clips' length): 95 % of real music shares runs up to {:.0} notes and covers up to {} with runs of {}+ notes. Clips above either are flagged.",
            b.windows, b.longest_p95, pct(b.copy_rate_p95), metrics::originality::MIN_RUN
        )
    };
    let rows = r.originality.iter().enumerate().map(|(i, o)| {
        let flagged = r.flagged[i];
        let clip = e.clips[i].clone();
        let (where_, listen) = match &o.longest {
            Some(f) => {
                let (name, source, _) = e.train[f.file].clone();
                let (clip_from, file_from) = (f.clip_beat, f.file_beat);
                let bar = (file_from / 4.0).floor() as usize + 1;
                let text = format!("{} note{}, from {name} bar {bar}", f.len, if f.len == 1 { "" } else { "s" });
                // Both are shown in the piano roll while they play.
                let show = move |label: String, notes: Vec<Note>| {
                    let notes = Arc::new(notes);
                    state.roll.set(Some((label, notes.clone())));
                    state.player.start(notes, 1.0);
                };
                let clip_label = format!("clip {} from beat {clip_from}", i + 1);
                let src_label = format!("{name}, bar {bar}");
                let play_clip = move |_| show(clip_label.clone(), excerpt(&clip, clip_from, 8.0));
                let play_src = move |_| show(src_label.clone(), excerpt(&source, file_from, 8.0));
                (text, view! {
                    <button on:click=play_clip>"▶ clip"</button>
                    <button data-testid="play-source" on:click=play_src>"▶ source"</button>
                }.into_any())
            }
            None => ("no shared run".into(), ().into_any()),
        };
        view! {
            <tr data-testid="originality-row" data-flagged=flagged.to_string() class:flagged=flagged>
                <td>{format!("clip {}", i + 1)}</td>
                <td>{where_}</td>
                <td>{pct(o.copy_rate)}</td>
                <td>{if flagged { "looks copied" } else { "original" }}</td>
                <td>{listen}</td>
            </tr>
        }
    }).collect_view();
    let style_rows = r.style.iter().chain(&r.shape).map(|f| view! {
        <tr><td>{f.name}</td><td>{format!("{:.2}", f.corpus)}</td><td>{format!("{:.2}", f.generated)}</td><td>{pct(f.overlap)}</td></tr>
    }).collect_view();
    let names = style::Style::vector_names();
    let auc = |s: &Option<classifier::Separability>| s.as_ref().map_or("too few excerpts".to_string(), |s| format!("{:.2} [{:.2}, {:.2}]", s.auc, s.low, s.high));
    let telling = r.real_vs_generated.as_ref().map_or(String::new(), |s| {
        format!(" Most telling: {}.", s.top_features.iter().map(|&i| names[i].clone()).collect::<Vec<_>>().join(", "))
    });
    // Structure side by side: a held-out file's opening (else a training file's) and the first
    // clip, each as long as the clips.
    let bar_beats = corpus::current_vocab(state).bar_beats();
    let (real_name, real) = e.real_pool().iter().find(|v| !v.1.is_empty()).map_or((String::new(), Vec::new()), |v| (v.0.clone(), bar_matrix(&excerpt(&v.1, 0.0, CLIP_BEATS), bar_beats)));
    let generated = bar_matrix(e.clips.first().map_or(&[][..], |c| &c[..]), bar_beats);
    let (real, generated) = (Signal::stored(real), Signal::stored(generated));
    let few = if e.valid.len() < 3 {
        format!(" With {} held-out file(s), a classifier mostly learns to tell pieces apart, so read the AUC with care.", e.valid.len())
    } else {
        String::new()
    };
    view! {
        <h3>"Originality"</h3>
        <p class="detail" data-testid="eval-baseline">{baseline}</p>
        <table class="eval" data-testid="eval-originality">
            <thead><tr><th></th><th>"longest run also in your files"</th><th>"copied share"</th><th></th><th>"listen"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        <h3>"Style: generated vs your files"</h3>
        <table class="eval" data-testid="eval-style">
            <thead><tr><th></th><th>"your files"</th><th>"generated"</th><th>"overlap"</th></tr></thead>
            <tbody>{style_rows}</tbody>
        </table>
        <h3>"Structure: what comes back"</h3>
        <p class="detail" data-testid="eval-structure-note">{format!("Left: the opening of {real_name}; right: clip 1. Bright cells off the diagonal are bars that come back.")}</p>
        <div class="structure">
            <SimilarityPicture matrix=real testid="eval-similarity-real" what="your music"/>
            <SimilarityPicture matrix=generated testid="eval-similarity-generated" what="a generated clip"/>
        </div>
        <p data-testid="eval-auc">{format!(
            "A classifier trained to tell your held-out music from generated clips reaches AUC {} (0.5 = it cannot tell them apart; your training vs held-out files: {}).{telling}{few}",
            auc(&r.real_vs_generated), auc(&r.real_vs_real)
        )}</p>
    }
}

/// One blind pair: which side is the machine, and the listener's answer.
#[derive(Clone, Debug, serde::Serialize)]
struct Trial {
    pair: usize,
    machine_is_a: bool,
    picked_a: Option<bool>,
    real_from: String,
}

#[component]
fn Listening(e: Evaluation) -> impl IntoView {
    let state = expect_context::<AppState>();
    // Pairs of equal length: a generated clip's opening and a held-out (else training) excerpt.
    let real_pool = e.real_pool().clone();
    let mut pairs: Vec<(Vec<Note>, Vec<Note>, String)> = Vec::new();
    for (i, clip) in e.clips.iter().enumerate() {
        let (name, notes, _) = &real_pool[i % real_pool.len()];
        let end = notes.iter().map(|n| n.start).fold(0.0, f64::max);
        let bars = ((end - LISTEN_BEATS).max(0.0) / 4.0).floor();
        let from = ((i as f64 * 7.0) % (bars + 1.0)).floor() * 4.0;
        let real = excerpt(notes, from, LISTEN_BEATS);
        let fake = excerpt(clip, 0.0, LISTEN_BEATS);
        if !real.is_empty() && !fake.is_empty() {
            pairs.push((real, fake, format!("{name}, bar {}", from as usize / 4 + 1)));
        }
    }
    let pairs = Arc::new(pairs);
    let trials = RwSignal::new(
        (0..pairs.len()).map(|i| Trial { pair: i, machine_is_a: js_sys::Math::random() < 0.5, picked_a: None, real_from: pairs[i].2.clone() }).collect::<Vec<_>>(),
    );
    let current = move || trials.get().iter().position(|t| t.picked_a.is_none());
    let side = {
        let pairs = pairs.clone();
        move |a: bool| {
            let Some(i) = current() else { return };
            let t = trials.get_untracked()[i].clone();
            let (real, fake, _) = &pairs[i];
            let notes = if a == t.machine_is_a { fake.clone() } else { real.clone() };
            state.player.start(Arc::new(notes), 1.0);
        }
    };
    let (play_a, play_b) = (side.clone(), side);
    let pick = move |a: bool| {
        if let Some(i) = current() {
            trials.update(|t| t[i].picked_a = Some(a));
        }
    };
    let tally = move || {
        let t = trials.get();
        let done: Vec<&Trial> = t.iter().filter(|t| t.picked_a.is_some()).collect();
        let right = done.iter().filter(|t| t.picked_a == Some(t.machine_is_a)).count();
        let (lo, hi) = classifier::wilson(right, done.len());
        if done.is_empty() {
            "No answers yet.".to_string()
        } else {
            format!("You spotted the machine {right} of {} times ({}; 95 % interval {}–{}). 50 % is guessing.", done.len(), pct(right as f64 / done.len() as f64), pct(lo), pct(hi))
        }
    };
    let export = move |_| {
        let json = serde_json::json!({ "trials": trials.get_untracked(), "excerpt_beats": LISTEN_BEATS, "summary": tally() });
        if let Err(e) = files::download(json.to_string().as_bytes(), "cantor-listening-test.json", "application/json") {
            state.error.set(Some(e));
        }
    };
    view! {
        <h3>"Blind listening test"</h3>
        <p class="detail">"Each pair holds 20 seconds of your held-out music and 20 seconds generated, in random order. Listen to both and pick the machine."</p>
        <p data-testid="listen-status">{move || match current() {
            Some(i) => format!("Pair {} of {}", i + 1, trials.get().len()),
            None => "All pairs answered.".to_string(),
        }}</p>
        <div class="buttons">
            <button data-testid="listen-play-a" disabled=move || current().is_none() on:click=move |_| play_a(true)>"▶ A"</button>
            <button data-testid="listen-play-b" disabled=move || current().is_none() on:click=move |_| play_b(false)>"▶ B"</button>
            <button data-testid="listen-pick-a" disabled=move || current().is_none() on:click=move |_| pick(true)>"A is the machine"</button>
            <button data-testid="listen-pick-b" disabled=move || current().is_none() on:click=move |_| pick(false)>"B is the machine"</button>
            <button data-testid="listen-export" on:click=export>"Export results"</button>
        </div>
        <p data-testid="listen-tally">{tally}</p>
    }
}
