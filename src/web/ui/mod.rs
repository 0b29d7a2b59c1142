//! The page: compute backend, corpus, training, generation and playback. State lives in
//! [`AppState`] (signals only, shared through context); components read and write it.

mod corpus;
mod chart;
mod generate;
mod piano_roll;
mod train;

use super::bridge;
use crate::midi::{Note, Song};
use crate::model::TrainingSummary;
use crate::protocol::{BackendChoice, FromWorker, ToWorker};
use crate::train::Progress;
use leptos::prelude::*;
use std::sync::Arc;

/// One file the user gave us: what it holds or why it cannot be used.
#[derive(Clone, Debug)]
pub struct CorpusFile {
    pub id: usize,
    pub name: String,
    pub song: Result<Arc<Song>, String>,
    pub included: bool,
    /// Track indices left out of training (drum tracks start out excluded unless drums are on).
    pub excluded_tracks: Vec<u16>,
}

impl CorpusFile {
    pub fn status(&self) -> &'static str {
        match &self.song {
            Err(_) => "error",
            Ok(s) if !s.warnings.is_empty() => "warning",
            Ok(_) => "ok",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainStatus {
    Idle,
    Training,
    Paused,
    Done,
}

/// A generated clip and the recipe that made it.
#[derive(Clone, Debug)]
pub struct Clip {
    pub notes: Arc<Vec<Note>>,
    pub seed: u64,
    pub millis: f64,
    pub tokens: usize,
}

#[derive(Clone, Copy)]
pub struct AppState {
    pub backend: RwSignal<String>,
    pub backend_reason: RwSignal<String>,
    pub backend_gpu: RwSignal<bool>,
    pub files: RwSignal<Vec<CorpusFile>>,
    pub drums: RwSignal<bool>,
    pub melody: RwSignal<bool>,
    pub status: RwSignal<TrainStatus>,
    pub progress: RwSignal<Option<Progress>>,
    pub train_curve: RwSignal<Vec<(usize, f64)>>,
    pub valid_curve: RwSignal<Vec<(usize, f64)>>,
    pub model: RwSignal<Option<Arc<Vec<u8>>>>,
    pub summary: RwSignal<Option<TrainingSummary>>,
    pub error: RwSignal<Option<String>>,
    pub generating: RwSignal<Option<usize>>,
    /// Seed of the generation request in flight.
    pub request_seed: RwSignal<u64>,
    pub clip: RwSignal<Option<Clip>>,
    /// Notes shown in the piano roll: the clip, or a corpus file being previewed.
    pub roll: RwSignal<Option<(String, Arc<Vec<Note>>)>>,
    /// Notes waiting for the worker's rendering, with the playback speed.
    pub pending_play: RwSignal<Option<(Arc<Vec<Note>>, f64)>>,
    /// Notes scheduled on the audio clock by the last Play.
    pub scheduled: RwSignal<usize>,
    /// What made the sound of the last Play: "soundfont" or "oscillators" (the fallback).
    pub sound: RwSignal<&'static str>,
    /// Seconds into the clip while playing.
    pub playhead: RwSignal<Option<f64>>,
}

impl AppState {
    fn new() -> Self {
        AppState {
            backend: RwSignal::new("checking…".into()),
            backend_reason: RwSignal::new(String::new()),
            backend_gpu: RwSignal::new(false),
            files: RwSignal::new(Vec::new()),
            drums: RwSignal::new(false),
            melody: RwSignal::new(false),
            status: RwSignal::new(TrainStatus::Idle),
            progress: RwSignal::new(None),
            train_curve: RwSignal::new(Vec::new()),
            valid_curve: RwSignal::new(Vec::new()),
            model: RwSignal::new(None),
            summary: RwSignal::new(None),
            error: RwSignal::new(None),
            generating: RwSignal::new(None),
            request_seed: RwSignal::new(0),
            clip: RwSignal::new(None),
            roll: RwSignal::new(None),
            pending_play: RwSignal::new(None),
            scheduled: RwSignal::new(0),
            sound: RwSignal::new(""),
            playhead: RwSignal::new(None),
        }
    }

    fn on_message(self, msg: FromWorker) {
        match msg {
            FromWorker::Ready => {}
            FromWorker::Backend { name, gpu, reason } => {
                self.backend.set(name);
                self.backend_gpu.set(gpu);
                self.backend_reason.set(reason);
            }
            FromWorker::Progress(p) => {
                if p.loss.is_finite() {
                    self.train_curve.update(|c| c.push((p.step, p.loss)));
                }
                if let Some(v) = p.valid {
                    self.valid_curve.update(|c| c.push((p.step, v.nll)));
                }
                if self.status.get_untracked() == TrainStatus::Paused {
                    self.status.set(TrainStatus::Training);
                }
                self.progress.set(Some(p));
            }
            FromWorker::Paused => self.status.set(TrainStatus::Paused),
            FromWorker::Trained { model_file, summary, .. } => {
                self.model.set(Some(Arc::new(model_file)));
                self.summary.set(Some(summary));
                self.status.set(TrainStatus::Done);
            }
            FromWorker::GenerateProgress { tokens } => self.generating.set(Some(tokens)),
            FromWorker::Generated { notes, tokens, primer_len, millis } => {
                let notes = Arc::new(notes);
                self.generating.set(None);
                self.roll.set(Some(("Generated clip".into(), notes.clone())));
                let seed = self.request_seed.get_untracked();
                self.clip.set(Some(Clip { notes, seed, millis, tokens: tokens.len() - primer_len }));
            }
            FromWorker::Rendered { pcm, sample_rate } => {
                if let Some((notes, speed)) = self.pending_play.get_untracked() {
                    self.pending_play.set(None);
                    generate::start_playback(self, &notes, speed, Some((&pcm, sample_rate)));
                }
            }
            FromWorker::Failed { message } => {
                self.generating.set(None);
                if let Some((notes, speed)) = self.pending_play.get_untracked() {
                    // No SoundFont sound: play with the built-in oscillators instead.
                    self.pending_play.set(None);
                    generate::start_playback(self, &notes, speed, None);
                }
                if matches!(self.status.get_untracked(), TrainStatus::Training | TrainStatus::Paused) {
                    self.status.set(TrainStatus::Idle);
                }
                self.error.set(Some(message));
            }
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    if let Err(e) = bridge::start(move |msg| state.on_message(msg)) {
        state.error.set(Some(format!("the training worker could not start: {e}")));
    }
    bridge::send(&ToWorker::Init { choice: BackendChoice::Auto });
    let choose = move |ev| {
        let choice = match event_target_value(&ev).as_str() {
            "gpu" => BackendChoice::WebGpu,
            "cpu" => BackendChoice::Cpu,
            _ => BackendChoice::Auto,
        };
        state.backend.set("checking…".into());
        bridge::send(&ToWorker::Init { choice });
    };
    view! {
        <main>
            <header>
                <h1>"Cantor"</h1>
                <p class="tagline">"Train a music model on your own MIDI files, in this page, on your own machine. Nothing is uploaded."</p>
            </header>
            <section class="card compute">
                <span>"Compute: "</span>
                <strong data-testid="backend">{move || state.backend.get()}</strong>
                <select on:change=choose aria-label="Backend">
                    <option value="auto">"automatic"</option>
                    <option value="gpu">"WebGPU"</option>
                    <option value="cpu">"CPU"</option>
                </select>
                <p class="detail" data-testid="backend-reason">{move || state.backend_reason.get()}</p>
            </section>
            <Show when=move || state.error.get().is_some()>
                <p class="error" data-testid="error" on:click=move |_| state.error.set(None)>
                    {move || state.error.get().unwrap_or_default()}
                </p>
            </Show>
            <corpus::Corpus/>
            <train::Train/>
            <generate::Generate/>
        </main>
    }
}
