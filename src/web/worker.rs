// The first clips' worker (no `wgpu`) leaves training to the training worker: its code is unused there.
#![cfg_attr(not(feature = "wgpu"), allow(dead_code, unused_imports))]
//! The worker: reads and tokenises the user's files, owns the compute device, the model being
//! trained and its optimizer. The page talks to it only through [`ToWorker`] / [`FromWorker`]
//! messages, so neither a large corpus nor training blocks the UI.

use super::{gpu, sleep, PIANO_PROGRAMS, PIANO_SOUNDFONT_URL, SOUNDFONT_URL};
use crate::encoding::{BarVocab, Conditioning, MusicVocab, Vocab};
use crate::midi::{read_notes, Song};
use crate::sequences::{self, Prepared, Selection};
use crate::generate::{generate, generate_form, generate_with_opening, Form};
use crate::model::{copy_to_device, LstmLm, ModelConfig, ModelFile};
use crate::protocol::{Answer, FileRead, FromWorker, Request, ToWorker};
use crate::synth::Renderer;
use crate::train::{Control, Progress, StopReason, TrainConfig, TrainError, TrainHooks, Trainer};
use std::collections::{BTreeMap, HashMap};
use burn::prelude::Device;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

#[derive(Default)]
struct State {
    device: RefCell<Option<Device>>,
    /// Automatic choice with a usable GPU: `(device, adapter name)`, decided per model at Train.
    either: RefCell<Option<(Device, String)>>,
    /// The files read so far that hold a song, by the page's id: (name, song).
    files: RefCell<BTreeMap<u32, (String, Song)>>,
    /// The latest trained model, as a model file.
    model: RefCell<Option<Vec<u8>>>,
    /// Models loaded for generation (on Flex), by fingerprint: the page sends a file once.
    loaded: RefCell<HashMap<String, Rc<(LstmLm, MusicVocab)>>>,
    /// Why a model file that passed its header checks still could not be loaded, by fingerprint.
    broken: RefCell<HashMap<String, String>>,
    training: Cell<bool>,
    /// The SoundFont renderers, each loaded on first need: the whole General MIDI font, and the
    /// piano bank that plays a first piano clip before the whole font is here.
    sound: [SoundSlot; 2],
    paused: Cell<bool>,
    stop: Cell<bool>,
    /// The training worker's ends of its helpers' channels, for the next training run.
    team_ports: RefCell<Vec<web_sys::MessagePort>>,
}

/// One sound bank's renderer, whether it is being loaded, and who waits for that load.
#[derive(Default)]
struct SoundSlot {
    renderer: RefCell<Option<Rc<Renderer>>>,
    loading: Cell<bool>,
    waiting: RefCell<Vec<std::task::Waker>>,
}

impl SoundSlot {
    /// Resolves when no load of this bank is in flight (the one that was has ended, either way).
    async fn idle(&self) {
        std::future::poll_fn(|cx| {
            if self.loading.get() {
                self.waiting.borrow_mut().push(cx.waker().clone());
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await
    }
}

/// The sound banks, as indexes of `State::sound`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bank {
    Full = 0,
    Piano = 1,
}

/// Loaded models kept at once (a model of the largest preset is about 25 MB).
const MAX_LOADED: usize = 8;

/// This worker's wasm memory: its heap's peak so far (wasm memory never shrinks).
fn memory_bytes() -> u64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    memory.buffer().unchecked_into::<js_sys::ArrayBuffer>().byte_length() as u64
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(id: u64, body: FromWorker) {
    let bytes = js_sys::Uint8Array::from(&crate::protocol::to_bytes(&Answer { id, body })[..]);
    let _ = scope().post_message(&bytes);
}

fn fail(id: u64, message: impl Into<String>) {
    post(id, FromWorker::Failed { message: message.into() });
}

/// A named moment on the worker's timeline (`performance.mark`): where the first clip's time goes
/// shows in the browser's profiler and in `arrival.test.mjs`.
fn mark(name: &str) {
    if let Ok(performance) = js_sys::Reflect::get(&scope(), &"performance".into()) {
        let performance: web_sys::Performance = performance.unchecked_into();
        let _ = performance.mark(name);
    }
}

pub fn start() {
    // A panic is a bug: tell the page (which starts a fresh worker, keeping files and models)
    // before the wasm instance stops; the console keeps the details.
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let what = info.payload().downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| info.payload().downcast_ref::<String>().cloned());
        let message = match what {
            Some(w) => format!("the worker stopped on an internal error ({w})"),
            None => "the worker stopped on an internal error".to_string(),
        };
        post(0, FromWorker::Crashed { message });
    }));
    let state = Rc::new(State::default());
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let data = e.data();
        // A helper's channel (see `team.rs`): the training worker keeps its end, a helper serves it.
        let port = |key: &str| js_sys::Reflect::get(&data, &key.into()).ok().and_then(|p| p.dyn_into::<web_sys::MessagePort>().ok());
        if !data.is_instance_of::<js_sys::Uint8Array>() {
            if let Some(p) = port(super::team::TEAM_PORT) {
                return state.team_ports.borrow_mut().push(p);
            }
            if let Some(p) = port(super::team::HELPER_PORT) {
                return super::team::serve_helper(p);
            }
        }
        match crate::protocol::from_bytes::<Request>(&js_sys::Uint8Array::new(&data).to_vec()) {
            Ok(Request { id, body }) => handle(state.clone(), id, body),
            Err(err) => fail(0, format!("the page sent a message the worker cannot read: {err}")),
        }
    });
    scope().set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    mark("cantor: worker ready");
    post(0, FromWorker::Ready);
}

fn handle(state: Rc<State>, id: u64, msg: ToWorker) {
    match msg {
        // The first clips' worker has no GPU stack: it says so, and the page brings the training
        // worker when training starts or WebGPU is chosen.
        #[cfg(not(feature = "wgpu"))]
        ToWorker::Init { choice: _ } => {
            *state.device.borrow_mut() = Some(Device::flex());
            let reason = "clips are written on the CPU; whether WebGPU trains faster is checked when training starts".to_string();
            post(id, FromWorker::Backend { name: "CPU (Flex)".into(), gpu: false, reason });
        }
        #[cfg(feature = "wgpu")]
        ToWorker::Init { choice } => wasm_bindgen_futures::spawn_local(async move {
            *state.either.borrow_mut() = None;
            let (device, name, gpu, reason) = match gpu::choose(choice).await {
                gpu::Choice::Cpu { reason } => (Device::flex(), "CPU (Flex)".to_string(), false, reason),
                gpu::Choice::Gpu { device, name, reason } => (device, format!("WebGPU ({name})"), true, reason),
                gpu::Choice::Either { device, name } => {
                    *state.either.borrow_mut() = Some((device, name.clone()));
                    let reason = format!("WebGPU ({name}) is ready: when training starts, a step of your model is timed on WebGPU and on the CPU, and the faster one trains");
                    (Device::flex(), "automatic (WebGPU or CPU)".to_string(), false, reason)
                }
            };
            *state.device.borrow_mut() = Some(device);
            post(id, FromWorker::Backend { name, gpu, reason });
        }),
        ToWorker::ReadFiles { files } => {
            let read = files
                .into_iter()
                .map(|f| {
                    let song = read_notes(&f.bytes).map_err(|e| e.to_string());
                    if let Ok(s) = &song {
                        state.files.borrow_mut().insert(f.id, (f.name, s.clone()));
                    }
                    FileRead { id: f.id, song }
                })
                .collect();
            post(id, FromWorker::FilesRead { files: read, memory_bytes: memory_bytes() });
        }
        ToWorker::ForgetFiles { ids } => {
            let mut files = state.files.borrow_mut();
            for i in ids {
                files.remove(&i);
            }
        }
        ToWorker::Tokenise { selection, base } => {
            let songs = selected_songs(&state, &selection);
            post(id, FromWorker::Tokenised(sequences::report(&songs, &selection, &base)));
        }
        // The first clips' worker leaves training to the training worker (the page swaps workers
        // before it sends Train), so none of the training stack is in its download.
        #[cfg(not(feature = "wgpu"))]
        ToWorker::Train { .. } => fail(id, "this worker only writes clips; training runs in the training worker".to_string()),
        #[cfg(feature = "wgpu")]
        ToWorker::Train { selection, model, config, init_model, known_speeds } => {
            // The helpers' ports sent for this request are this request's, whatever happens next
            // (a refusal below closes them; the page ends their workers when it hears it).
            let ports = std::mem::take(&mut *state.team_ports.borrow_mut());
            let refuse = |message: String| {
                ports.iter().for_each(|p| p.close());
                fail(id, message)
            };
            if state.training.get() {
                return refuse("training is already running".into());
            }
            // A model file to fine-tune is read once: its vocabulary tokenises the corpus, its
            // weights start the training.
            let init = match init_model.as_deref().map(ModelFile::from_bytes).transpose() {
                Ok(file) => file,
                Err(e) => return refuse(e.to_string()),
            };
            let prepared = match prepare(&state, &selection, init.as_ref()) {
                Ok(p) => p,
                Err(e) => return refuse(e),
            };
            state.training.set(true);
            state.paused.set(false);
            state.stop.set(false);
            wasm_bindgen_futures::spawn_local(async move {
                let result = train(&state, id, prepared, model, config, init, &known_speeds, ports).await;
                state.training.set(false);
                if let Err(e) = result {
                    fail(id, e);
                }
            });
        }
        ToWorker::Pause => state.paused.set(true),
        ToWorker::Resume => state.paused.set(false),
        ToWorker::Stop => {
            state.stop.set(true);
            state.paused.set(false);
        }
        ToWorker::Render { notes, speed, wav, from_frame } => wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = render(&state, id, &notes, speed, wav, from_frame as usize).await {
                fail(id, format!("the sound could not be rendered: {e}"));
            }
        }),
        // The first screen's click: the piano bank for its clip (the whole font follows that clip).
        ToWorker::PrepareSound => wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = renderer(&state, Bank::Piano).await {
                web_sys::console::warn_1(&format!("the piano sound bank could not be loaded ahead: {e}").into()); // Render will say why
            }
        }),
        ToWorker::Load { model_file } => match load(&state, &model_file) {
            Ok(fingerprint) => {
                mark("cantor: model loaded");
                post(id, FromWorker::Loaded { fingerprint })
            }
            Err(e) => fail(id, format!("the model could not be loaded: {e}")),
        },
        ToWorker::Generate { model, primer, config, opening, form } => wasm_bindgen_futures::spawn_local(async move {
            // The opening sounds only if a sound bank is here when it is written: the piano bank
            // (small, already on its way since the first click) is waited for.
            if opening && renderer(&state, Bank::Piano).await.is_err() {
                web_sys::console::warn_1(&"the piano sound bank could not be loaded: the clip sounds once it is whole".into());
            }
            let latest = state.model.borrow().clone();
            let loaded = match (model, latest) {
                (Some(fingerprint), _) => loaded(&state, &fingerprint),
                (None, Some(bytes)) => load(&state, &bytes).and_then(|f| loaded(&state, &f)),
                (None, None) => Err("there is no trained model yet".to_string()),
            };
            let result = match loaded {
                Ok(m) => generate_clip(&state, id, &m, &primer, &config, opening, form.as_ref()).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                fail(id, e);
            }
        }),
        ToWorker::Sample { model, config, seeds } => wasm_bindgen_futures::spawn_local(async move {
            let result = match loaded(&state, &model) {
                Ok(m) => sample(&m.0, &m.1, &config, &seeds).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(clips) => post(id, FromWorker::Samples { clips }),
                Err(e) => fail(id, format!("the evaluation clips could not be generated: {e}")),
            }
        }),
    }
}

/// The selected files among those read, with their left-out tracks removed.
fn selected_songs(state: &State, selection: &Selection) -> Vec<(String, Song)> {
    let files = state.files.borrow();
    selection.songs(|id| files.get(&id).map(|(name, song)| (name.as_str(), song)))
}

/// The training data of `selection`, in the vocabulary of the model being fine-tuned (which
/// learns this corpus's tempo, meter, instruments and styles on top) or a new bar vocabulary.
fn prepare(state: &State, selection: &Selection, init: Option<&ModelFile>) -> Result<Prepared, String> {
    let songs = selected_songs(state, selection);
    if songs.is_empty() {
        return Err("Add at least one MIDI file with notes before training.".into());
    }
    let base = match init {
        Some(file) => file.vocab.music().ok_or_else(|| "that model scores benchmarks; it cannot be fine-tuned on music".to_string())?,
        None => MusicVocab::Bars(BarVocab::default()),
    };
    let prepared = sequences::prepare(&songs, selection, &base);
    if prepared.corpus.train.is_empty() {
        return Err("The chosen files, tracks and options leave no notes to learn from.".into());
    }
    Ok(prepared)
}

fn device(state: &State) -> Device {
    state.device.borrow().clone().unwrap_or_else(Device::flex)
}

/// Checks a model file (every size is bounded before anything is built from it), loads it on
/// Flex for generation and keeps it by fingerprint. Generation runs on the CPU: one token at a
/// time is latency-bound, and Flex needs no GPU round trip.
fn load(state: &State, bytes: &[u8]) -> Result<String, String> {
    let file = ModelFile::from_bytes(bytes).map_err(|e| e.to_string())?;
    let fingerprint = file.fingerprint();
    if state.loaded.borrow().contains_key(&fingerprint) {
        return Ok(fingerprint);
    }
    let Some(vocab) = file.vocab.music() else { return Err("this model scores benchmarks; it cannot write music".into()) };
    let model = file.load(&Device::flex()).map_err(|e| {
        state.broken.borrow_mut().insert(fingerprint.clone(), e.to_string());
        e.to_string()
    })?;
    let mut loaded = state.loaded.borrow_mut();
    if loaded.len() >= MAX_LOADED {
        loaded.clear();
    }
    loaded.insert(fingerprint.clone(), Rc::new((model, vocab)));
    Ok(fingerprint)
}

/// A model loaded earlier (by [`load`]), or why it is not there.
fn loaded(state: &State, fingerprint: &str) -> Result<Rc<(LstmLm, MusicVocab)>, String> {
    if let Some(m) = state.loaded.borrow().get(fingerprint) {
        return Ok(m.clone());
    }
    Err(state.broken.borrow().get(fingerprint).map_or("that model is not loaded in the worker".to_string(), |why| format!("the model could not be loaded: {why}")))
}

/// The worker's side of the training loop: reports, pause (with a snapshot the page keeps),
/// stop, a snapshot at each epoch's end, and a yield to the event loop after every step so
/// Pause and Stop arrive.
struct WorkerHooks<'a> {
    state: &'a State,
    id: u64,
    vocab: &'a MusicVocab,
    /// Helper workers sharing each CPU step (none on WebGPU, or with one worker).
    team: Option<super::team::PortTeam>,
}

impl TrainHooks for WorkerHooks<'_> {
    async fn step(&mut self, trainer: &mut Trainer) -> Result<f64, TrainError> {
        let Some(team) = self.team.as_mut() else { return trainer.train_step().await };
        let t0 = web_time::Instant::now();
        let loss = trainer.train_step_team(team).await;
        team.step_took(t0.elapsed().as_secs_f64() * 1000.0);
        loss
    }

    async fn between_steps(&mut self, trainer: &Trainer, report: Option<&Progress>) -> Control {
        // The steps taken, where a test that counts this worker's GPU dispatches can read it.
        let _ = js_sys::Reflect::set(&scope(), &"cantorStep".into(), &(trainer.step as f64).into());
        if let Some(p) = report {
            post(self.id, FromWorker::Progress(p.clone()));
        }
        sleep(0).await;
        if self.state.paused.get() && !self.state.stop.get() {
            // What was learned so far stays usable (generation, saving) while paused.
            match save(self.state, trainer, self.vocab).await {
                Ok(model_file) => post(self.id, FromWorker::Paused { model_file, summary: trainer.summary.clone() }),
                Err(e) => fail(self.id, e),
            }
            while self.state.paused.get() && !self.state.stop.get() {
                sleep(100).await;
            }
        }
        if self.state.stop.get() { Control::Stop } else { Control::Continue }
    }

    async fn epoch_end(&mut self, trainer: &Trainer, report: &Progress) -> Result<Control, TrainError> {
        post(self.id, FromWorker::Progress(report.clone()));
        let (_, model) = snapshot(self.state, trainer, self.vocab).await.map_err(TrainError::Hook)?; // survives a lost device
        // A few bars from the model as it stands, to hear it learn (a failure only costs the sample).
        if !self.state.stop.get() {
            match epoch_sample(&model, self.vocab, report.epoch).await {
                Ok(notes) => post(self.id, FromWorker::EpochSample { epoch: report.epoch, notes }),
                Err(e) => web_sys::console::warn_1(&format!("no sample after epoch {}: {e}", report.epoch).into()),
            }
        }
        Ok(if self.state.stop.get() { Control::Stop } else { Control::Continue })
    }
}

async fn train(
    state: &State,
    id: u64,
    prepared: Prepared,
    model_config: ModelConfig,
    config: TrainConfig,
    file: Option<ModelFile>,
    known_speeds: &[crate::protocol::Speeds],
    ports: Vec<web_sys::MessagePort>,
) -> Result<(), String> {
    let (held_out, held_out_share) = (prepared.held_out(), prepared.held_out_share());
    let Prepared { corpus, vocab, names: files } = prepared;
    // Early stopping waits for what this corpus needs (the page sets no minimum of its own).
    let config = TrainConfig { min_steps: config.min_steps.max(crate::train::learning_minimum(&corpus, config.batch, config.seq_len)), ..config };
    // The page checks these too; a message is checked again here, before the backend timing
    // below builds the model (a model file's shape was checked when it was read).
    if file.is_none() {
        model_config.validate().map_err(|e| format!("training did not start: {e}"))?;
    }
    config.validate().map_err(|e| format!("training did not start: {e}"))?;
    let either = state.either.borrow().clone();
    if let Some((gpu_device, adapter)) = either {
        let shape_model = file.as_ref().map_or(model_config.clone(), |f| f.config.clone());
        let known = crate::protocol::shape_key(&shape_model, &config);
        if !known_speeds.iter().any(|s| s.adapter == adapter && s.shape == known) {
            post(id, FromWorker::Backend { name: "automatic: timing…".into(), gpu: false, reason: "timing a step of this model on WebGPU and on the CPU".into() });
        }
        let (device, gpu, reason, measured) = gpu::decide(&gpu_device, &adapter, &shape_model, &config, &corpus, known_speeds, ports.len() + 1).await;
        let name = if gpu { format!("WebGPU ({adapter})") } else { "CPU (Flex)".to_string() };
        *state.device.borrow_mut() = Some(device);
        post(id, FromWorker::Backend { name, gpu, reason });
        if let Some(s) = measured {
            post(id, FromWorker::Speeds(s));
        }
    }
    let device = device(state);
    let mut trainer = match file {
        Some(file) => {
            let model = file.load(&device.clone().autodiff()).map_err(|e| e.to_string())?;
            Trainer::with_model(model, file.config, config, &corpus, &device)
        }
        None => Trainer::new(model_config.clone(), config, &corpus, &device),
    }
    .map_err(|e| e.to_string())?;
    trainer.summary.files = files;
    trainer.summary.held_out = held_out;
    trainer.summary.held_out_share = held_out_share;
    // Helper workers share the CPU path's steps; WebGPU trains alone (its ports are closed). On
    // an early return the page ends the helpers' workers when it hears of the failure.
    #[cfg(feature = "wgpu")]
    let on_gpu = matches!(device.clone().inner().as_dispatch(), burn::backend::DispatchDevice::Cube(_));
    #[cfg(not(feature = "wgpu"))]
    let on_gpu = false;
    let team = if on_gpu || ports.is_empty() {
        ports.iter().for_each(|p| p.close());
        None
    } else {
        Some(super::team::PortTeam::new(ports))
    };
    let reason = match trainer.run_with(WorkerHooks { state, id, vocab: &vocab, team }).await {
        Ok(reason) => reason,
        Err(e) => {
            // A lost GPU device (or any failure mid-run): keep what was saved at the last epoch
            // end and say what happened.
            if let Some(bytes) = state.model.borrow().clone() {
                post(id, FromWorker::Trained { reason: StopReason::Cancelled, model_file: bytes, summary: trainer.summary.clone() });
            }
            return Err(format!("training stopped: {e}. The model from the last completed epoch was kept."));
        }
    };
    trainer.summary.stopped = Some(trainer.stop_sentence(reason));
    let file = save(state, &trainer, &vocab).await?;
    post(id, FromWorker::Trained { reason, model_file: file, summary: trainer.summary.clone() });
    Ok(())
}

/// Stores the best model so far as a model file. The weights are copied to Flex with async reads
/// first: on WebGPU a synchronous read (as `into_record` does) would panic and break the device.
async fn save(state: &State, trainer: &Trainer, vocab: &MusicVocab) -> Result<Vec<u8>, String> {
    Ok(snapshot(state, trainer, vocab).await?.0)
}

/// [`save`], also giving the model on Flex (to sample from without reading the file back).
async fn snapshot(state: &State, trainer: &Trainer, vocab: &MusicVocab) -> Result<(Vec<u8>, LstmLm), String> {
    let model = copy_to_device(&trainer.best_model(), &trainer.model_config, &Device::flex()).await?;
    let vocab = Vocab::from(vocab.clone());
    let file = ModelFile::from_model(&model, &trainer.model_config, &vocab, trainer.summary.clone()).map_err(|e| e.to_string())?;
    let bytes = file.to_bytes();
    *state.model.borrow_mut() = Some(bytes.clone());
    Ok((bytes, model))
}

/// Bars of each training-epoch sample.
const EPOCH_SAMPLE_BARS: f64 = 4.0;

/// A short clip from a snapshot on Flex (seeded by the epoch), in the corpus's meter and tempo.
async fn epoch_sample(model: &LstmLm, vocab: &MusicVocab, epoch: usize) -> Result<Vec<crate::midi::Note>, String> {
    let config = crate::generate::GenerateConfig {
        sampling: crate::generate::SamplingParams { temperature: 1.0, top_k: 0, top_p: 0.95, seed: 0, scale: None },
        max_tokens: 2_000,
        max_beats: Some(EPOCH_SAMPLE_BARS * vocab.bar_beats()),
        program: 0,
        bpm: vocab.bpm(),
    };
    Ok(sample(model, vocab, &config, &[epoch as u64]).await?.pop().unwrap_or_default())
}

async fn generate_clip(
    state: &State,
    id: u64,
    loaded: &(LstmLm, MusicVocab),
    primer: &[u16],
    config: &crate::generate::GenerateConfig,
    opening: bool,
    form: Option<&Form>,
) -> Result<(), String> {
    let (model, vocab) = loaded;
    let t0 = web_time::Instant::now();
    if let Some(form) = form {
        // A form is written section by section (a return is its first statement again): the
        // clip comes whole.
        let MusicVocab::Bars(bars) = vocab else { return Err("this model has no bars, so it cannot write sections; choose \"free\"".into()) };
        let (out, sections) = generate_form(model, bars, primer, config, form, &Device::flex()).await.map_err(|e| e.to_string())?;
        mark("cantor: clip generated");
        let millis = t0.elapsed().as_secs_f64() * 1e3;
        post(id, FromWorker::Generated { notes: out.notes, tokens: out.tokens, primer_len: out.primer_len, millis, sections });
        return Ok(());
    }
    let progress = |n| {
        if n % 100 == 0 {
            post(id, FromWorker::GenerateProgress { tokens: n });
        }
    };
    let on_opening = |tokens: &[u16], beats: f64| post_opening(state, id, vocab, tokens, beats, config);
    let out = generate_with_opening(model, vocab, primer, config, &Device::flex(), progress, opening.then_some(OPENING_BEATS), on_opening)
        .await
        .map_err(|e| e.to_string())?;
    mark("cantor: clip generated");
    post(id, FromWorker::Generated {
        notes: out.notes,
        tokens: out.tokens,
        primer_len: out.primer_len,
        millis: t0.elapsed().as_secs_f64() * 1e3,
        sections: Vec::new(),
    });
    Ok(())
}

/// One clip per seed from the model's own head (no style or instruments asked for).
async fn sample(model: &LstmLm, vocab: &MusicVocab, config: &crate::generate::GenerateConfig, seeds: &[u64]) -> Result<Vec<Vec<crate::midi::Note>>, String> {
    let mut clips = Vec::with_capacity(seeds.len());
    for &seed in seeds {
        let mut c = config.clone();
        c.sampling.seed = seed;
        let prompt = vocab.prompt(&Conditioning::default());
        clips.push(generate(model, vocab, &prompt, &c, &Device::flex(), |_| {}).await.map_err(|e| e.to_string())?.notes);
    }
    Ok(clips)
}

/// A sound bank's renderer, fetched and loaded on first use (one fetch even when a Render arrives
/// while PrepareSound is still loading it: it waits for that load to end).
async fn renderer(state: &State, bank: Bank) -> Result<Rc<Renderer>, String> {
    let slot = &state.sound[bank as usize];
    slot.idle().await;
    if let Some(r) = slot.renderer.borrow().clone() {
        return Ok(r);
    }
    slot.loading.set(true);
    let (url, what) = match bank {
        Bank::Full => (SOUNDFONT_URL, "the SoundFont"),
        Bank::Piano => (PIANO_SOUNDFONT_URL, "the piano sound bank"),
    };
    let loaded = async {
        let bytes = super::files::fetch_bytes(scope().fetch_with_str(url), what).await?;
        Renderer::new(&bytes, super::audio::RENDER_RATE).map(Rc::new)
    }
    .await;
    slot.loading.set(false);
    for waiter in slot.waiting.take() {
        waiter.wake(); // they find the renderer, or load again after a failure
    }
    let r = loaded?;
    mark(if bank == Bank::Full { "cantor: SoundFont loaded" } else { "cantor: piano bank loaded" });
    *slot.renderer.borrow_mut() = Some(r.clone());
    Ok(r)
}

/// Whether the piano bank holds every instrument of `notes`.
fn piano_only(notes: &[crate::midi::Note]) -> bool {
    notes.iter().all(|n| !n.drum && PIANO_PROGRAMS.contains(&n.program))
}

/// The renderer for `notes`: the whole SoundFont once it is here; before that, piano notes alone
/// (the first clip) play from the piano bank, and the whole font loads after them.
async fn renderer_for(state: &Rc<State>, notes: &[crate::midi::Note]) -> Result<Rc<Renderer>, String> {
    if let Some(r) = state.sound[Bank::Full as usize].renderer.borrow().clone() {
        return Ok(r);
    }
    if piano_only(notes) {
        if let Ok(r) = renderer(state, Bank::Piano).await {
            let state = state.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let _ = renderer(&state, Bank::Full).await; // the next Render says why, if it fails
            });
            return Ok(r);
        }
    }
    renderer(state, Bank::Full).await
}

/// Seconds of audio in the first part of a rendering for playing (it sounds as soon as it
/// arrives) and in each part after it (each arrives long before it is needed: the synth runs many
/// times faster than real time).
const OPENING_S: f64 = 1.5;
const PART_S: f64 = 6.0;

/// Stereo f32 samples as the page's `audio::keep_part` reads them: left, then right.
fn pcm_bytes(part: &crate::synth::Part) -> Vec<u8> {
    let mut pcm = Vec::with_capacity((part.left.len() + part.right.len()) * 4);
    for s in part.left.iter().chain(&part.right) {
        pcm.extend_from_slice(&s.to_le_bytes());
    }
    pcm
}

/// Renders for playing in parts, each posted as it is done ([`FromWorker::Rendered`]; from
/// `from_frame` on, what comes before already sounds), or whole as a WAV file.
async fn render(state: &Rc<State>, id: u64, notes: &[crate::midi::Note], speed: f64, wav: bool, from_frame: usize) -> Result<(), String> {
    if wav {
        let renderer = renderer(state, Bank::Full).await?;
        let pcm = renderer.render_with_progress(notes, speed, |fraction| post(id, FromWorker::RenderProgress { fraction }))?;
        post(id, FromWorker::Wav { bytes: pcm.to_wav() });
        return Ok(());
    }
    let renderer = renderer_for(state, notes).await?;
    let sample_rate = renderer.sample_rate;
    let part_frames = (PART_S * sample_rate as f64) as usize;
    let first = if from_frame > 0 { from_frame } else { (OPENING_S * sample_rate as f64) as usize };
    renderer.render_parts(notes, speed, first, part_frames, |part| {
        if part.at < from_frame {
            // Already sounding; only the request's end is said if nothing follows.
            if part.last {
                post(id, FromWorker::Rendered { pcm: Vec::new(), sample_rate, at: part.total as u64, last: true });
            }
            return true;
        }
        if part.at == 0 {
            mark("cantor: opening rendered");
        }
        post(id, FromWorker::Rendered { pcm: pcm_bytes(&part), sample_rate, at: part.at as u64, last: part.last });
        true
    })
}

/// Beats of the first screen's clip written before its opening sounds (to the next bar line).
const OPENING_BEATS: f64 = 4.0;

/// A renderer already loaded for `notes` (no waiting inside a generation): the whole font, or
/// the piano bank for piano notes.
fn renderer_now(state: &State, notes: &[crate::midi::Note]) -> Option<Rc<Renderer>> {
    let slot = |b: Bank| state.sound[b as usize].renderer.borrow().clone();
    slot(Bank::Full).or_else(|| piano_only(notes).then(|| slot(Bank::Piano)).flatten())
}

/// The first bars of a clip being generated, as the page's clip holds them, rendered up to the
/// bar line after them and posted ([`FromWorker::Opening`]); nothing if no sound bank for them
/// is loaded yet (the clip then plays the usual way, once it is whole).
fn post_opening(state: &State, id: u64, vocab: &MusicVocab, tokens: &[u16], beats: f64, config: &crate::generate::GenerateConfig) {
    let notes = super::share_clip(vocab.decode(tokens, config.program, config.bpm), config.bpm, None).notes;
    let Some(renderer) = renderer_now(state, &notes) else { return };
    let frames = (beats * 60.0 / config.bpm * renderer.sample_rate as f64) as usize;
    let sample_rate = renderer.sample_rate;
    let mut opening = None;
    let rendered = renderer.render_parts(&notes, 1.0, frames, frames, |part| {
        opening = Some(pcm_bytes(&part));
        false
    });
    if let (Ok(()), Some(pcm)) = (rendered, opening) {
        mark("cantor: opening rendered");
        post(id, FromWorker::Opening { notes, pcm, sample_rate });
    }
}
