//! The page: compute backend, corpus, training, generation and playback. State lives in
//! [`AppState`] (signals only, shared through context); components read and write it.

mod corpus;
mod chart;
mod clips;
mod evaluate;
mod fields;
mod generate;
mod models;
mod piano_roll;
pub mod player;
mod share;
mod similarity;
mod train;
mod training;
pub use training::TrainStatus;

use super::{bridge, share_clip, storage};
use crate::midi::{Note, Song};
use crate::protocol::{FromWorker, RequestKind, ToWorker};
use crate::share::Recipe;
use leptos::prelude::*;
use std::sync::Arc;

/// One file the user gave us: what it holds or why it cannot be used.
#[derive(Clone, Debug)]
pub struct CorpusFile {
    pub id: usize,
    pub name: String,
    pub song: Result<Arc<Song>, String>,
    /// The file itself, kept so it can be stored and restored after a reload.
    pub bytes: Arc<Vec<u8>>,
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

impl CorpusFile {
    /// The file as the worker reads it.
    pub fn bytes_for_worker(&self) -> crate::protocol::FileBytes {
        crate::protocol::FileBytes { id: self.id as u32, name: self.name.clone(), bytes: self.bytes.to_vec() }
    }

    pub fn stored(&self) -> storage::StoredFile {
        storage::StoredFile {
            id: self.id as u32,
            name: self.name.clone(),
            bytes: self.bytes.to_vec(),
            included: self.included,
            excluded_tracks: self.excluded_tracks.clone(),
        }
    }
}

/// Where the clip on show came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClipOrigin {
    Generated,
    /// Opened from a share link (or the list of saved clips).
    Link,
}

/// The clip on show: notes, tempo and the recipe that made it (when known).
#[derive(Clone, Debug)]
pub struct Clip {
    pub notes: Arc<Vec<Note>>,
    pub bpm: f64,
    /// The meters of its bars (written into the .mid; a shared clip is in 4/4).
    pub meters: Arc<Vec<crate::midi::TimeSignature>>,
    pub recipe: Option<Recipe>,
    pub origin: ClipOrigin,
    /// Generation time and new tokens (generated clips).
    pub millis: f64,
    pub tokens: usize,
    /// Where the sections of an asked-for form begin (lettered on the piano roll).
    pub sections: Arc<Vec<crate::generate::Section>>,
}

impl Clip {
    pub fn seed(&self) -> Option<u64> {
        self.recipe.as_ref().map(|r| r.config.sampling.seed)
    }
    pub fn shareable(&self) -> crate::share::Clip {
        share_clip(self.notes.to_vec(), self.bpm, self.recipe.clone()).with_sections(self.sections.to_vec())
    }
}

/// A generation request in flight: its recipe and, for "regenerate", the notes it should give back.
#[derive(Clone, Debug)]
pub struct Request {
    pub recipe: Recipe,
    pub expect: Option<Arc<Vec<Note>>>,
}

/// What the backend line says before the worker is needed.
const NOT_STARTED: &str = "chosen on first use";

#[derive(Clone, Copy)]
pub struct AppState {
    pub backend: RwSignal<String>,
    pub backend_reason: RwSignal<String>,
    pub backend_gpu: RwSignal<bool>,
    /// The files, the note-selection options and what the worker counted in them.
    pub corpus: corpus::CorpusState,
    /// The training run: status, reports, curves, samples per epoch.
    pub training: training::TrainingState,
    /// The clip on show, a link's clip, the generation in flight, the WAV export.
    pub clips: clips::ClipsState,
    /// The current model (file, fingerprint, summary, vocabulary) and the models kept here.
    pub models: models::ModelsState,
    /// Clips kept in this browser, newest first.
    pub saved_clips: RwSignal<Vec<storage::StoredClip>>,
    pub error: RwSignal<Option<String>>,
    /// Why a share link could not be opened.
    pub share_error: RwSignal<Option<String>>,
    /// Bumped when training ends: the evaluation panel then runs on the new model.
    pub evaluate_now: RwSignal<u32>,
    /// Clips generated for the evaluation panel.
    pub samples: RwSignal<Option<Arc<Vec<Vec<Note>>>>>,
    /// Notes shown in the piano roll: the clip, or a corpus file being previewed.
    pub roll: RwSignal<Option<(String, Arc<Vec<Note>>)>>,
    /// Playback of one clip at a time (start, pause, seek, stop, playhead).
    pub player: player::Player,
    /// The evaluation panel's clips are being generated.
    pub sampling: RwSignal<bool>,
}

impl AppState {
    fn new() -> Self {
        let error = RwSignal::new(None);
        AppState {
            player: player::Player::new(error),
            backend: RwSignal::new(NOT_STARTED.into()),
            backend_reason: RwSignal::new("The background worker (training, generation, sound) loads when it is first needed.".into()),
            backend_gpu: RwSignal::new(false),
            corpus: corpus::CorpusState::new(),
            training: training::TrainingState::new(),
            clips: clips::ClipsState::new(),
            models: models::ModelsState::new(),
            saved_clips: RwSignal::new(Vec::new()),
            error,
            share_error: RwSignal::new(None),
            samples: RwSignal::new(None),
            evaluate_now: RwSignal::new(0),
            roll: RwSignal::new(None),
            sampling: RwSignal::new(false),
        }
    }

    /// An answer from the worker; `kind` is the kind of request it answers (`None`: no request).
    fn on_message(self, kind: Option<RequestKind>, msg: FromWorker) {
        // A training run's helper workers end with it (finished, failed, or its worker replaced).
        if kind == Some(RequestKind::Train) && RequestKind::Train.ends_with(&msg) {
            crate::web::helpers::end();
        }
        match msg {
            FromWorker::Ready => {}
            FromWorker::Backend { name, gpu, reason } => {
                self.backend.set(name);
                self.backend_gpu.set(gpu);
                self.backend_reason.set(reason);
            }
            FromWorker::FilesRead { files, memory_bytes } => {
                self.corpus.worker_memory.update(|m| *m = (*m).max(memory_bytes));
                self.corpus.on_read(files)
            }
            FromWorker::Tokenised(report) => self.corpus.counted(Some(report)),
            FromWorker::Progress(p) => self.training.on_progress(p),
            FromWorker::EpochSample { epoch, notes } => self.training.on_epoch_sample(epoch, notes),
            FromWorker::Paused { model_file, summary } => {
                self.training.on_paused();
                models::adopt(self, model_file, summary, true);
            }
            FromWorker::Trained { model_file, summary, .. } => {
                self.training.on_trained(summary.stopped.clone());
                models::adopt(self, model_file, summary, true);
                self.evaluate_now.update(|n| *n += 1);
            }
            FromWorker::GenerateProgress { tokens } => self.clips.generating.set(Some(tokens)),
            FromWorker::Opening { notes, pcm, sample_rate } => self.clips.on_opening(self, notes, &pcm, sample_rate),
            FromWorker::Generated { notes, tokens, primer_len, millis, sections } => self.clips.on_generated(self, notes, &tokens, primer_len, millis, sections),
            FromWorker::Samples { clips } => self.samples.set(Some(Arc::new(clips))),
            FromWorker::Speeds(s) => crate::web::storage::remember_speeds(s),
            FromWorker::RenderProgress { fraction } => self.clips.wav_progress.set(Some(fraction)),
            FromWorker::Wav { bytes } => {
                self.clips.wav_progress.set(None);
                let name = self.clips.clip.get_untracked().and_then(|c| c.seed()).map_or("cantor.wav".into(), |s| format!("cantor-seed{s}.wav"));
                if let Err(e) = super::files::download(&bytes, &name, "audio/wav") {
                    self.error.set(Some(e));
                }
            }
            FromWorker::Rendered { pcm, sample_rate, at, last } => {
                if last {
                    super::files::keep_for_offline(crate::web::SOUNDFONT_URL);
                    super::files::keep_for_offline(crate::web::PIANO_SOUNDFONT_URL);
                }
                self.player.on_rendered(&pcm, sample_rate, at, last);
            }
            // The bridge turns a crash into one `Failed` per request in flight (and restarts the
            // worker), so `Crashed` never reaches the page.
            FromWorker::Loaded { .. } | FromWorker::Crashed { .. } => {}
            FromWorker::Failed { message } => {
                // Only the action that failed is reset; the rest carries on.
                match kind {
                    Some(RequestKind::Read) => self.corpus.reading_failed(&message),
                    Some(RequestKind::Tokenise) => self.corpus.counted(None),
                    Some(RequestKind::Generate) => self.clips.on_failed(),
                    Some(RequestKind::Wav) => self.clips.wav_progress.set(None),
                    Some(RequestKind::Sample) => self.sampling.set(false),
                    Some(RequestKind::Load) => bridge::forget_loaded(),
                    // No SoundFont sound: the player uses its oscillators instead.
                    Some(RequestKind::Play) => self.player.on_render_failed(),
                    Some(RequestKind::Train) => self.training.on_failed(),
                    // Only a dying worker fails an Init, and the fresh one says which backend it has.
                    Some(RequestKind::Init) => {}
                    Some(RequestKind::Control) | None => {}
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
    // The worker starts on first use (training, generating, playing, or choosing a backend).
    bridge::start(move |kind, msg| state.on_message(kind, msg));
    // A share link opens its clip at once; saved work comes back from storage meanwhile.
    share::open_from_address(state);
    leptos::task::spawn_local(restore(state));
    // One click to sound: the audio starts on this gesture, the clip is generated (the worker,
    // the starter model and the SoundFont load on the way) and plays when it arrives.
    let hear = move |_| {
        if let Err(e) = super::audio::unlock() {
            return state.error.set(Some(format!("sound could not start: {}", super::files::js_error(&e))));
        }
        state.clips.hear();
        // The SoundFont loads in the worker while the starter model arrives and the clip is made.
        bridge::send(&ToWorker::PrepareSound);
    };
    view! {
        <main>
            <header>
                <h1>"Cantor"</h1>
                <p class="tagline">"Train a music model on your own MIDI files, in this page, on your own machine. Nothing is uploaded."</p>
            </header>
            <section class="card hero" aria-label="Listen first">
                <p class="lead">"Cantor learns from your MIDI files and writes new music like them, trained in this page on your own machine."</p>
                <button class="big" data-testid="hear-starter" on:click=hear disabled=move || state.clips.generating.get().is_some()>
                    "▶ Hear what it writes"
                </button>
                <p class="detail">"That clip comes from the starter model (public-domain ragtime and piano). Then make it yours: drop your MIDI files below."</p>
            </section>
            // The way through, music → train → generate → share; each step is ticked once done.
            <nav class="steps" aria-label="Steps">
                <a href="#music" data-testid="step-music" class:done=move || state.corpus.report.get().is_some()>"1 · Your music"</a>
                <a href="#train" data-testid="step-train" class:done=move || state.training.status.get() == TrainStatus::Done>"2 · Train"</a>
                <a href="#listen" data-testid="step-listen" class:done=move || state.clips.clip.get().is_some()>"3 · Generate and listen"</a>
                <a href="#share" data-testid="step-share">"4 · Share"</a>
            </nav>
            <Show when=move || state.error.get().is_some()>
                <p class="error" data-testid="error" on:click=move |_| state.error.set(None)>
                    {move || state.error.get().unwrap_or_default()}
                </p>
            </Show>
            <share::SharedBanner/>
            <corpus::Corpus/>
            <train::Train/>
            <models::Models/>
            <generate::Generate/>
            <evaluate::Evaluate/>
            <share::SavedClips/>
        </main>
    }
}

/// Brings back what was kept in this browser: the corpus files, the models (the newest becomes
/// the current one) and the recent clips.
async fn restore(state: AppState) {
    let mut problems = Vec::new();
    match storage::files().await {
        Ok(files) => state.corpus.restore(files),
        Err(e) => problems.push(e),
    }
    match storage::models().await {
        Ok(models) => {
            if let Some(newest) = models.first() {
                if state.models.file.get_untracked().is_none() {
                    models::make_current(state, newest);
                }
            }
            state.models.kept.set(models);
        }
        Err(e) => problems.push(e),
    }
    match storage::clips().await {
        Ok(clips) => state.saved_clips.set(clips),
        Err(e) => problems.push(e),
    }
    if let Some(first) = problems.into_iter().next() {
        state.error.set(Some(first));
    }
}
