//! The worker: owns the compute device, the model being trained and its optimizer. The page
//! talks to it only through [`ToWorker`] / [`FromWorker`] messages, so training never blocks the UI.

use super::gpu;
use crate::encoding::{Conditioning, MusicVocab, Vocab};
use crate::generate::generate;
use crate::model::{copy_to_device, LstmLm, ModelConfig, ModelFile};
use crate::protocol::{FromWorker, ToWorker};
use crate::synth::Renderer;
use crate::train::{StopReason, TrainConfig, Trainer};
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
    /// The latest trained (or loaded) model, as a model file.
    model: RefCell<Option<Vec<u8>>>,
    training: Cell<bool>,
    /// The SoundFont renderer, loaded on the first Render.
    renderer: RefCell<Option<Rc<Renderer>>>,
    paused: Cell<bool>,
    stop: Cell<bool>,
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(msg: &FromWorker) {
    let bytes = js_sys::Uint8Array::from(&crate::protocol::to_bytes(msg)[..]);
    let _ = scope().post_message(&bytes);
}

fn fail(message: impl Into<String>) {
    post(&FromWorker::Failed { message: message.into() });
}

/// Lets the worker's event loop run (and deliver Pause/Stop messages) between training steps.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = scope().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

pub fn start() {
    console_error_panic_hook::set_once();
    let state = Rc::new(State::default());
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| match crate::protocol::from_bytes::<ToWorker>(&js_sys::Uint8Array::new(&e.data()).to_vec()) {
        Ok(msg) => handle(state.clone(), msg),
        Err(err) => fail(format!("the page sent a message the worker cannot read: {err}")),
    });
    scope().set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    post(&FromWorker::Ready);
}

fn handle(state: Rc<State>, msg: ToWorker) {
    match msg {
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
            post(&FromWorker::Backend { name, gpu, reason });
        }),
        ToWorker::Train { corpus, model, config, vocab, init_model, known_speeds } => {
            if state.training.get() {
                return fail("training is already running");
            }
            state.training.set(true);
            state.paused.set(false);
            state.stop.set(false);
            wasm_bindgen_futures::spawn_local(async move {
                let result = train(&state, corpus.into(), model, config, vocab, init_model, &known_speeds).await;
                state.training.set(false);
                if let Err(e) = result {
                    fail(e);
                }
            });
        }
        ToWorker::Pause => state.paused.set(true),
        ToWorker::Resume => state.paused.set(false),
        ToWorker::Stop => {
            state.stop.set(true);
            state.paused.set(false);
        }
        ToWorker::Render { notes, speed, wav } => wasm_bindgen_futures::spawn_local(async move {
            match render(&state, &notes, speed, wav).await {
                Ok(msg) => post(&msg),
                Err(e) => fail(format!("the sound could not be rendered: {e}")),
            }
        }),
        ToWorker::Generate { model, primer, config } => wasm_bindgen_futures::spawn_local(async move {
            let bytes = model.or_else(|| state.model.borrow().clone());
            let Some(bytes) = bytes else { return fail("there is no trained model yet") };
            if let Err(e) = generate_clip(&bytes, &primer, &config).await {
                fail(e);
            }
        }),
        ToWorker::Sample { model, config, seeds } => wasm_bindgen_futures::spawn_local(async move {
            match sample(&model, &config, &seeds).await {
                Ok(clips) => post(&FromWorker::Samples { clips }),
                Err(e) => fail(format!("the evaluation clips could not be generated: {e}")),
            }
        }),
    }
}

fn device(state: &State) -> Device {
    state.device.borrow().clone().unwrap_or_else(Device::flex)
}

async fn train(
    state: &State,
    corpus: crate::encoding::corpus::TokenCorpus,
    model_config: ModelConfig,
    config: TrainConfig,
    vocab: MusicVocab,
    init_model: Option<Vec<u8>>,
    known_speeds: &[crate::protocol::Speeds],
) -> Result<(), String> {
    let file = init_model.as_deref().map(ModelFile::from_bytes).transpose().map_err(|e| e.to_string())?;
    let either = state.either.borrow().clone();
    if let Some((gpu_device, adapter)) = either {
        let shape_model = file.as_ref().map_or(model_config.clone(), |f| f.config.clone());
        post(&FromWorker::Backend { name: "automatic: timing…".into(), gpu: false, reason: "timing a step of this model on WebGPU and on the CPU".into() });
        let (device, gpu, reason, measured) = gpu::decide(&gpu_device, &adapter, &shape_model, &config, &corpus, known_speeds).await;
        let name = if gpu { format!("WebGPU ({adapter})") } else { "CPU (Flex)".to_string() };
        *state.device.borrow_mut() = Some(device);
        post(&FromWorker::Backend { name, gpu, reason });
        if let Some(s) = measured {
            post(&FromWorker::Speeds(s));
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
    let per_epoch = trainer.steps_per_epoch();
    let log_every = trainer.config.log_every.max(1);
    let mut reason = StopReason::Finished;
    'epochs: while trainer.epoch < trainer.config.max_epochs {
        for i in 0..per_epoch {
            if state.paused.get() && !state.stop.get() {
                // What was learned so far stays usable (generation, saving) while paused.
                let model_file = save(state, &trainer, &vocab).await?;
                post(&FromWorker::Paused { model_file, summary: trainer.summary.clone() });
                while state.paused.get() && !state.stop.get() {
                    sleep(100).await;
                }
            }
            if state.stop.get() {
                reason = StopReason::Cancelled;
                break 'epochs;
            }
            if let Err(e) = trainer.train_step().await {
                // A lost GPU device (or any failure mid-run): keep what was saved at the last
                // epoch end and say what happened.
                if let Some(bytes) = state.model.borrow().clone() {
                    post(&FromWorker::Trained { reason: StopReason::Cancelled, model_file: bytes, summary: trainer.summary.clone() });
                }
                return Err(format!("training stopped: {e}. The model from the last completed epoch was kept."));
            }
            if (i + 1) % log_every == 0 && i + 1 < per_epoch {
                post(&FromWorker::Progress(trainer.report()));
            }
            sleep(0).await;
        }
        let (progress, early) = trainer.end_epoch().await.map_err(|e| e.to_string())?;
        post(&FromWorker::Progress(progress));
        save(state, &trainer, &vocab).await?; // a snapshot that survives a lost device
        if early {
            reason = StopReason::EarlyStopped;
            break;
        }
    }
    let file = save(state, &trainer, &vocab).await?;
    post(&FromWorker::Trained { reason, model_file: file, summary: trainer.summary.clone() });
    Ok(())
}

/// Stores the best model so far as a model file. The weights are copied to Flex with async reads
/// first: on WebGPU a synchronous read (as `into_record` does) would panic and break the device.
async fn save(state: &State, trainer: &Trainer, vocab: &MusicVocab) -> Result<Vec<u8>, String> {
    let model = copy_to_device(&trainer.best_model(), &trainer.model_config, &Device::flex()).await?;
    let vocab = Vocab::from(vocab.clone());
    let file = ModelFile::from_model(&model, &trainer.model_config, &vocab, trainer.summary.clone()).map_err(|e| e.to_string())?;
    let bytes = file.to_bytes();
    *state.model.borrow_mut() = Some(bytes.clone());
    Ok(bytes)
}

/// A model file loaded for generation. Generation runs on the CPU: one token at a time is
/// latency-bound, and Flex needs no GPU round trip.
fn load_for_generation(bytes: &[u8]) -> Result<(LstmLm, MusicVocab, Device), String> {
    let file = ModelFile::from_bytes(bytes).map_err(|e| e.to_string())?;
    let Some(vocab) = file.vocab.music() else { return Err("this model scores benchmarks; it cannot write music".into()) };
    let device = Device::flex();
    let model = file.load(&device).map_err(|e| e.to_string())?;
    Ok((model, vocab, device))
}

async fn generate_clip(bytes: &[u8], primer: &[u16], config: &crate::generate::GenerateConfig) -> Result<(), String> {
    let (model, vocab, device) = load_for_generation(bytes)?;
    let t0 = web_time::Instant::now();
    let out = generate(&model, &vocab, primer, config, &device, |n| {
        if n % 100 == 0 {
            post(&FromWorker::GenerateProgress { tokens: n });
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    post(&FromWorker::Generated {
        notes: out.notes,
        tokens: out.tokens,
        primer_len: out.primer_len,
        millis: t0.elapsed().as_secs_f64() * 1e3,
    });
    Ok(())
}

async fn sample(bytes: &[u8], config: &crate::generate::GenerateConfig, seeds: &[u64]) -> Result<Vec<Vec<crate::midi::Note>>, String> {
    let (model, vocab, device) = load_for_generation(bytes)?;
    let mut clips = Vec::with_capacity(seeds.len());
    for &seed in seeds {
        let mut c = config.clone();
        c.sampling.seed = seed;
        let prompt = vocab.prompt(&Conditioning::default());
        clips.push(generate(&model, &vocab, &prompt, &c, &device, |_| {}).await.map_err(|e| e.to_string())?.notes);
    }
    Ok(clips)
}

/// Where Trunk copies the SoundFont (see index.html and static/soundfont/LICENSE.md).
const SOUNDFONT_URL: &str = "./soundfont/TimGM6mb.sf2";
const SAMPLE_RATE: u32 = 44_100;

async fn render(state: &State, notes: &[crate::midi::Note], speed: f64, wav: bool) -> Result<FromWorker, String> {
    let existing = state.renderer.borrow().clone();
    let renderer = match existing {
        Some(r) => r,
        None => {
            let bytes = super::files::fetch_bytes(scope().fetch_with_str(SOUNDFONT_URL), "the SoundFont").await?;
            let r = Rc::new(Renderer::new(&bytes, SAMPLE_RATE)?);
            *state.renderer.borrow_mut() = Some(r.clone());
            r
        }
    };
    if wav {
        let pcm = renderer.render_with_progress(notes, speed, |fraction| post(&FromWorker::RenderProgress { fraction }))?;
        return Ok(FromWorker::Wav { bytes: pcm.to_wav() });
    }
    let pcm = renderer.render(notes, speed)?;
    let mut bytes = Vec::with_capacity((pcm.left.len() + pcm.right.len()) * 4);
    for s in pcm.left.iter().chain(&pcm.right) {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    Ok(FromWorker::Rendered { pcm: bytes, sample_rate: pcm.sample_rate })
}
