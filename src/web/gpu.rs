#![cfg_attr(not(feature = "wgpu"), allow(dead_code))]
//! Backend choice for the worker. A WebGPU probe through `navigator.gpu.requestAdapter()`, burn's
//! one-time asynchronous WebGPU initialisation, and, when training starts, a timed step of the
//! model about to train on each usable backend (as the Bach Doodle did) so the faster one trains. burn needs the adapter's `timestamp-query`
//! feature; a software fallback adapter (SwiftShader) is ~100× slower than Flex, so automatic
//! choice never takes it.

use crate::encoding::corpus::TokenCorpus;
use crate::model::ModelConfig;
use crate::protocol::{shape_key, BackendChoice, Speeds};
use crate::train::{TrainConfig, Trainer};
use burn::prelude::Device;
use js_sys::{Function, Promise, Reflect};
use std::cell::RefCell;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub enum Probe {
    NoWebGpu,
    NoAdapter,
    Adapter { name: String, fallback: bool, timestamp_query: bool },
    Failed(String),
}

impl Probe {
    /// Why WebGPU cannot be used at all (`hard`), or should not be chosen automatically.
    pub fn obstacle(&self) -> Option<(String, bool)> {
        match self {
            Probe::NoWebGpu => Some(("this browser has no WebGPU".into(), true)),
            Probe::NoAdapter => Some(("WebGPU offered no adapter".into(), true)),
            Probe::Adapter { name, timestamp_query: false, .. } => {
                Some((format!("WebGPU adapter “{name}” lacks the timestamp-query feature the GPU backend needs"), true))
            }
            Probe::Adapter { name, fallback: true, .. } => {
                Some((format!("WebGPU adapter “{name}” is a software fallback, much slower than the CPU path"), false))
            }
            Probe::Adapter { .. } => None,
            Probe::Failed(e) => Some((format!("the WebGPU check failed ({e})"), true)),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Probe::Adapter { name, .. } => name.clone(),
            _ => "WebGPU".into(),
        }
    }
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn text(obj: &JsValue, key: &str) -> String {
    get(obj, key).as_string().unwrap_or_default()
}

pub async fn probe() -> Probe {
    match try_probe().await {
        Ok(p) => p,
        Err(e) => Probe::Failed(super::files::js_error(&e)),
    }
}

async fn try_probe() -> Result<Probe, JsValue> {
    // `navigator` exists on both the window and worker global scopes.
    let gpu = get(&get(&js_sys::global(), "navigator"), "gpu");
    if gpu.is_undefined() || gpu.is_null() {
        return Ok(Probe::NoWebGpu);
    }
    let request: Function = get(&gpu, "requestAdapter").dyn_into()?;
    let adapter = JsFuture::from(request.call0(&gpu)?.dyn_into::<Promise>()?).await?;
    if adapter.is_null() || adapter.is_undefined() {
        return Ok(Probe::NoAdapter);
    }
    let info = get(&adapter, "info");
    let name = [text(&info, "vendor"), text(&info, "architecture"), text(&info, "description")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let fallback = get(&info, "isFallbackAdapter").as_bool().unwrap_or(false)
        || get(&adapter, "isFallbackAdapter").as_bool().unwrap_or(false)
        || name.contains("swiftshader");
    let features = get(&adapter, "features");
    let has: Function = get(&features, "has").dyn_into()?;
    let timestamp_query = has.call1(&features, &JsValue::from_str("timestamp-query"))?.as_bool().unwrap_or(false);
    Ok(Probe::Adapter { name: if name.is_empty() { "unnamed".into() } else { name }, fallback, timestamp_query })
}

thread_local! {
    /// burn's WebGPU runtime can be initialised once per page or worker: keep the device.
    static WEBGPU: RefCell<Option<Device>> = const { RefCell::new(None) };
}

#[cfg(feature = "wgpu")]
pub async fn webgpu_device() -> Result<Device, String> {
    if let Some(d) = WEBGPU.with(|w| w.borrow().clone()) {
        return Ok(d);
    }
    let device = Device::wgpu_options().init_async().await.map_err(|e| format!("WebGPU could not start ({e})"))?;
    WEBGPU.with(|w| *w.borrow_mut() = Some(device.clone()));
    Ok(device)
}

/// The first clip's worker is built without the GPU stack (a fraction of the download).
#[cfg(not(feature = "wgpu"))]
pub async fn webgpu_device() -> Result<Device, String> {
    WEBGPU.with(|w| w.borrow().clone()).ok_or_else(|| "this worker generates on the CPU; the training worker brings WebGPU".to_string())
}

/// Tokens per second of one training step of `model` with `config`'s batch on `device`, after one
/// warm-up step (which compiles the shaders on WebGPU). The model is the one about to train, so
/// the choice holds for it (a toy shape favours the CPU on every GPU).
pub async fn tokens_per_s(device: &Device, model: &ModelConfig, config: &TrainConfig, corpus: &TokenCorpus) -> Result<f64, String> {
    let config = TrainConfig { seed: 1, ..config.clone() };
    let mut trainer = Trainer::new(model.clone(), config.clone(), corpus, device).map_err(|e| e.to_string())?;
    trainer.train_step().await.map_err(|e| e.to_string())?;
    let t0 = web_time::Instant::now();
    trainer.train_step().await.map_err(|e| e.to_string())?;
    Ok((config.batch * config.seq_len) as f64 / t0.elapsed().as_secs_f64().max(1e-6))
}

/// The backend the page asked for, as far as it can be settled before a model is known.
pub enum Choice {
    /// The CPU: chosen, or the only way (`reason` says why).
    Cpu { reason: String },
    /// WebGPU: chosen by the user.
    Gpu { device: Device, name: String, reason: String },
    /// Automatic with a usable GPU: decided per model when training starts ([`decide`]).
    Either { device: Device, name: String },
}

/// Settles what can be settled at start-up: whether WebGPU exists and starts, and what the user chose.
pub async fn choose(choice: BackendChoice) -> Choice {
    let probe = probe().await;
    let obstacle = probe.obstacle();
    match (choice, &obstacle) {
        (BackendChoice::Cpu, _) => Choice::Cpu { reason: "you chose the CPU".into() },
        (_, Some((why, true))) => Choice::Cpu { reason: format!("{why}, so training runs on the CPU") },
        (BackendChoice::Auto, Some((why, false))) => Choice::Cpu { reason: format!("{why}, so training runs on the CPU (you can still choose WebGPU)") },
        (BackendChoice::WebGpu, _) => match webgpu_device().await {
            Ok(device) => {
                let note = obstacle.map_or(String::new(), |(why, _)| format!(" (note: {why})"));
                Choice::Gpu { device, name: probe.name(), reason: format!("you chose WebGPU{note}") }
            }
            Err(e) => Choice::Cpu { reason: format!("WebGPU could not start ({e}), so training runs on the CPU") },
        },
        (BackendChoice::Auto, None) => match webgpu_device().await {
            Ok(device) => Choice::Either { device, name: probe.name() },
            Err(e) => Choice::Cpu { reason: format!("WebGPU could not start ({e}), so training runs on the CPU") },
        },
    }
}

/// For [`Choice::Either`]: times the model about to train on both backends (unless `known` has
/// this adapter and shape) and returns the faster device, whether it is the GPU, the reason in
/// words, and the speeds to remember.
/// What each CPU worker beyond the first adds to the CPU path's tokens/s: measured 1.73× with 2
/// workers on 2 cores (BENCHMARKS.md, "Every core in the page"), so 0.73 of a worker each.
const EXTRA_WORKER: f64 = 0.73;

/// `cpu_workers`: the workers that would share the CPU path's steps; one is timed, the others
/// counted at [`EXTRA_WORKER`] each.
pub async fn decide(gpu: &Device, adapter: &str, model: &ModelConfig, config: &TrainConfig, corpus: &TokenCorpus, known: &[Speeds], cpu_workers: usize) -> (Device, bool, String, Option<Speeds>) {
    let shape = shape_key(model, config);
    let (speeds, remembered) = match known.iter().find(|s| s.adapter == adapter && s.shape == shape) {
        Some(s) => (s.clone(), true),
        None => {
            let g = tokens_per_s(gpu, model, config, corpus).await;
            let c = tokens_per_s(&Device::flex(), model, config, corpus).await;
            match (g, c) {
                (Ok(g), Ok(c)) => (Speeds { adapter: adapter.to_string(), shape, gpu_tokens_per_s: g, cpu_tokens_per_s: c }, false),
                (Err(e), _) => return (Device::flex(), false, format!("a test step on WebGPU failed ({e}), so training runs on the CPU"), None),
                (_, Err(e)) => return (gpu.clone(), true, format!("a test step on the CPU failed ({e}), so training runs on WebGPU"), None),
            }
        }
    };
    let (g, one) = (speeds.gpu_tokens_per_s, speeds.cpu_tokens_per_s);
    let c = one * (1.0 + EXTRA_WORKER * cpu_workers.saturating_sub(1) as f64);
    let how = if remembered { "remembered for this GPU and model size" } else { "measured on this model" };
    let workers = if cpu_workers > 1 { format!(" with {cpu_workers} workers ({one:.0} with one)") } else { String::new() };
    let words = format!("{g:.0} tokens/s on WebGPU, {c:.0} tokens/s on the CPU{workers} ({how})");
    let device = if g > c { gpu.clone() } else { Device::flex() };
    (device, g > c, words, (!remembered).then_some(speeds))
}
