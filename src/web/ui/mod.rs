//! The page: compute backend, corpus, training, generation and playback. State lives in
//! [`AppState`] (signals only, shared through context); components read and write it.

mod corpus;
mod chart;
mod evaluate;
mod fields;
mod generate;
mod models;
mod piano_roll;
pub mod player;
mod share;
mod train;

use super::{bridge, storage};
use crate::midi::{Note, Song};
use crate::model::TrainingSummary;
use crate::protocol::{BackendChoice, FromWorker, RequestKind, ToWorker};
use crate::share::Recipe;
use crate::train::Progress;
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainStatus {
    Idle,
    Training,
    Paused,
    Done,
}

impl CorpusFile {
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
}

impl Clip {
    pub fn seed(&self) -> Option<u64> {
        self.recipe.as_ref().map(|r| r.config.sampling.seed)
    }
    pub fn shareable(&self) -> crate::share::Clip {
        share_clip(self.notes.to_vec(), self.bpm, self.recipe.clone())
    }
}

/// A clip on the event vocabulary's grid, notes in canonical order (as a link carries them).
fn share_clip(notes: Vec<Note>, bpm: f64, recipe: Option<Recipe>) -> crate::share::Clip {
    crate::share::Clip::new(notes, bpm, crate::encoding::EventVocab::default().steps_per_beat, recipe)
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
    /// The current model's vocabulary (what its music can hold: styles, instruments, tempo).
    pub vocab: RwSignal<Option<crate::encoding::MusicVocab>>,
    pub status: RwSignal<TrainStatus>,
    pub progress: RwSignal<Option<Progress>>,
    pub train_curve: RwSignal<Vec<(usize, f64)>>,
    pub valid_curve: RwSignal<Vec<(usize, f64)>>,
    /// A few bars from the model after each epoch of the current run: (epoch, notes).
    pub epoch_samples: RwSignal<Vec<(usize, Arc<Vec<Note>>)>>,
    pub model: RwSignal<Option<Arc<Vec<u8>>>>,
    /// Fingerprint of `model`.
    pub model_id: RwSignal<Option<String>>,
    pub summary: RwSignal<Option<TrainingSummary>>,
    /// Models kept in this browser, newest first.
    pub models: RwSignal<Vec<storage::StoredModel>>,
    /// Clips kept in this browser, newest first.
    pub saved_clips: RwSignal<Vec<storage::StoredClip>>,
    pub error: RwSignal<Option<String>>,
    /// Why a share link could not be opened.
    pub share_error: RwSignal<Option<String>>,
    pub generating: RwSignal<Option<usize>>,
    /// The generation request in flight.
    pub request: RwSignal<Option<Request>>,
    /// After "regenerate": whether the model gave back exactly the linked clip.
    pub regenerated: RwSignal<Option<bool>>,
    pub clip: RwSignal<Option<Clip>>,
    /// The clip opened from a share link (stays shown while regenerating or varying it).
    pub shared: RwSignal<Option<Clip>>,
    /// Bumped when training ends: the evaluation panel then runs on the new model.
    pub evaluate_now: RwSignal<u32>,
    /// Clips generated for the evaluation panel.
    pub samples: RwSignal<Option<Arc<Vec<Vec<Note>>>>>,
    /// WAV export in progress (share done, 0–1).
    pub wav_progress: RwSignal<Option<f64>>,
    /// Notes shown in the piano roll: the clip, or a corpus file being previewed.
    pub roll: RwSignal<Option<(String, Arc<Vec<Note>>)>>,
    /// Playback of one clip at a time (start, pause, seek, stop, playhead).
    pub player: player::Player,
    /// The evaluation panel's clips are being generated.
    pub sampling: RwSignal<bool>,
    /// Bumped to generate a clip with the generate panel's settings (the first screen's button).
    pub generate_now: RwSignal<u32>,
    /// Play the next generated clip as soon as it arrives.
    pub autoplay: RwSignal<bool>,
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
            vocab: RwSignal::new(None),
            status: RwSignal::new(TrainStatus::Idle),
            progress: RwSignal::new(None),
            train_curve: RwSignal::new(Vec::new()),
            valid_curve: RwSignal::new(Vec::new()),
            epoch_samples: RwSignal::new(Vec::new()),
            model: RwSignal::new(None),
            model_id: RwSignal::new(None),
            summary: RwSignal::new(None),
            models: RwSignal::new(Vec::new()),
            saved_clips: RwSignal::new(Vec::new()),
            error,
            share_error: RwSignal::new(None),
            generating: RwSignal::new(None),
            request: RwSignal::new(None),
            regenerated: RwSignal::new(None),
            clip: RwSignal::new(None),
            shared: RwSignal::new(None),
            wav_progress: RwSignal::new(None),
            samples: RwSignal::new(None),
            evaluate_now: RwSignal::new(0),
            roll: RwSignal::new(None),
            sampling: RwSignal::new(false),
            generate_now: RwSignal::new(0),
            autoplay: RwSignal::new(false),
        }
    }

    /// The current model as the worker knows it (its file is sent once per worker): its fingerprint.
    pub fn loaded_model(self) -> Option<String> {
        let (id, file) = (self.model_id.get_untracked()?, self.model.get_untracked()?);
        Some(bridge::ensure_loaded(&id, &file))
    }

    /// An answer from the worker; `kind` is the kind of request it answers (`None`: no request).
    fn on_message(self, kind: Option<RequestKind>, msg: FromWorker) {
        match msg {
            FromWorker::Ready => {}
            FromWorker::Backend { name, gpu, reason } => {
                self.backend.set(name);
                self.backend_gpu.set(gpu);
                self.backend_reason.set(reason);
            }
            FromWorker::FilesRead { files } => self.corpus.on_read(self, files),
            FromWorker::Tokenised(report) => self.corpus.counted(Some(report)),
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
            FromWorker::EpochSample { epoch, notes } => self.epoch_samples.update(|s| s.push((epoch, Arc::new(notes)))),
            FromWorker::Paused { model_file, summary } => {
                self.status.set(TrainStatus::Paused);
                models::adopt(self, model_file, summary, true);
            }
            FromWorker::Trained { model_file, summary, .. } => {
                self.status.set(TrainStatus::Done);
                models::adopt(self, model_file, summary, true);
                self.evaluate_now.update(|n| *n += 1);
            }
            FromWorker::GenerateProgress { tokens } => self.generating.set(Some(tokens)),
            FromWorker::Generated { notes, tokens, primer_len, millis } => {
                self.generating.set(None);
                let Some(request) = self.request.get_untracked() else { return };
                let bpm = request.recipe.config.bpm;
                let made = share_clip(notes, bpm, Some(request.recipe));
                if let Some(expect) = &request.expect {
                    // A long clip's link holds its opening: the regenerated clip must begin with it.
                    self.regenerated.set(Some(made.notes.len() >= expect.len() && made.prefix(expect.len()).notes == **expect));
                }
                let notes = Arc::new(made.notes);
                self.roll.set(Some(("Generated clip".into(), notes.clone())));
                let meters = self.vocab.get_untracked().map_or_else(Vec::new, |v| v.time_signatures(&tokens));
                let clip = Clip { notes, bpm, meters: Arc::new(meters), recipe: made.recipe, origin: ClipOrigin::Generated, millis, tokens: tokens.len() - primer_len };
                share::keep(self, &clip);
                if self.autoplay.get_untracked() {
                    self.autoplay.set(false);
                    self.player.start(clip.notes.clone(), 1.0);
                }
                self.clip.set(Some(clip));
            }
            FromWorker::Samples { clips } => self.samples.set(Some(Arc::new(clips))),
            FromWorker::Speeds(s) => crate::web::storage::remember_speeds(s),
            FromWorker::RenderProgress { fraction } => self.wav_progress.set(Some(fraction)),
            FromWorker::Wav { bytes } => {
                self.wav_progress.set(None);
                let name = self.clip.get_untracked().and_then(|c| c.seed()).map_or("cantor.wav".into(), |s| format!("cantor-seed{s}.wav"));
                if let Err(e) = super::files::download(&bytes, &name, "audio/wav") {
                    self.error.set(Some(e));
                }
            }
            FromWorker::Rendered { pcm, sample_rate } => {
                super::files::keep_for_offline(crate::web::SOUNDFONT_URL);
                self.player.on_rendered(&pcm, sample_rate);
            }
            // The bridge turns a crash into one `Failed` per request in flight (and restarts the
            // worker), so `Crashed` never reaches the page.
            FromWorker::Loaded { .. } | FromWorker::Crashed { .. } => {}
            FromWorker::Failed { message } => {
                // Only the action that failed is reset; the rest carries on.
                match kind {
                    Some(RequestKind::Read) => self.corpus.reading_failed(&message),
                    Some(RequestKind::Tokenise) => self.corpus.counted(None),
                    Some(RequestKind::Generate) => self.generating.set(None),
                    Some(RequestKind::Wav) => self.wav_progress.set(None),
                    Some(RequestKind::Sample) => self.sampling.set(false),
                    Some(RequestKind::Load) => bridge::forget_loaded(),
                    // No SoundFont sound: the player uses its oscillators instead.
                    Some(RequestKind::Play) => self.player.on_render_failed(),
                    Some(RequestKind::Train) => {
                        if matches!(self.status.get_untracked(), TrainStatus::Training | TrainStatus::Paused) {
                            self.status.set(TrainStatus::Idle);
                        }
                    }
                    Some(RequestKind::Init) => self.backend.set("CPU (Flex)".into()),
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
    let choose = move |ev| {
        let choice = match event_target_value(&ev).as_str() {
            "gpu" => BackendChoice::WebGpu,
            "cpu" => BackendChoice::Cpu,
            _ => BackendChoice::Auto,
        };
        state.backend.set("checking…".into());
        bridge::send(&ToWorker::Init { choice });
    };
    // One click to sound: the audio starts on this gesture, the clip is generated (the worker,
    // the starter model and the SoundFont load on the way) and plays when it arrives.
    let hear = move |_| {
        if let Err(e) = super::audio::unlock() {
            return state.error.set(Some(format!("sound could not start: {}", super::files::js_error(&e))));
        }
        state.autoplay.set(true);
        state.generate_now.update(|n| *n += 1);
    };
    view! {
        <main>
            <header>
                <h1>"Cantor"</h1>
                <p class="tagline">"Train a music model on your own MIDI files, in this page, on your own machine. Nothing is uploaded."</p>
            </header>
            // The way through, music → train → generate → share; each step is ticked once done.
            <nav class="steps" aria-label="Steps">
                <a href="#music" data-testid="step-music" class:done=move || state.corpus.report.get().is_some()>"1 · Your music"</a>
                <a href="#train" data-testid="step-train" class:done=move || state.status.get() == TrainStatus::Done>"2 · Train"</a>
                <a href="#listen" data-testid="step-listen" class:done=move || state.clip.get().is_some()>"3 · Generate and listen"</a>
                <a href="#share" data-testid="step-share">"4 · Share"</a>
            </nav>
            <section class="card compute">
                <span>"Compute: "</span>
                <strong data-testid="backend">{move || state.backend.get()}</strong>
                <select on:change=choose aria-label="Backend" data-testid="backend-choice">
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
            <section class="card hero">
                <p class="lead">"Cantor learns from your MIDI files and writes new music like them, trained in this page on your own machine."</p>
                <button class="big" data-testid="hear-starter" on:click=hear disabled=move || state.generating.get().is_some()>
                    "▶ Hear what it writes"
                </button>
                <p class="detail">"That clip comes from the starter model (public-domain ragtime and piano). Then make it yours: drop your MIDI files below."</p>
            </section>
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
                if state.model.get_untracked().is_none() {
                    models::make_current(state, newest);
                }
            }
            state.models.set(models);
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
