//! Backend choice for the worker. A WebGPU probe through `navigator.gpu.requestAdapter()`, burn's
//! one-time asynchronous WebGPU initialisation, and a timed training step on each usable backend
//! (as the Bach Doodle did) so the faster one trains. burn needs the adapter's `timestamp-query`
//! feature; a software fallback adapter (SwiftShader) is ~100× slower than Flex, so automatic
//! choice never takes it.

use crate::encoding::corpus::TokenCorpus;
use crate::encoding::EventVocab;
use crate::model::{CellKind, ModelConfig};
use crate::protocol::BackendChoice;
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

    fn name(&self) -> String {
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
        Err(e) => Probe::Failed(e.as_string().unwrap_or_else(|| format!("{e:?}"))),
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

pub async fn webgpu_device() -> Result<Device, String> {
    if let Some(d) = WEBGPU.with(|w| w.borrow().clone()) {
        return Ok(d);
    }
    let device = Device::wgpu_options().init_async().await.map_err(|e| format!("{e:?}"))?;
    WEBGPU.with(|w| *w.borrow_mut() = Some(device.clone()));
    Ok(device)
}

/// Milliseconds of one small training step (after one warm-up step that compiles shaders).
pub async fn time_step(device: &Device) -> Result<f64, String> {
    let corpus = TokenCorpus {
        train: vec![(0..400u16).map(|i| i * 7 % 300 + 3).collect()],
        valid: vec![],
        ..TokenCorpus::default()
    };
    let model = ModelConfig { vocab_size: EventVocab::default().size(), embed: 64, hidden: 128, layers: 1, dropout: 0.0, cell: CellKind::Fused };
    let config = TrainConfig { seq_len: 32, batch: 16, ..TrainConfig::default() };
    let mut trainer = Trainer::new(model, config, &corpus, device).map_err(|e| e.to_string())?;
    trainer.train_step().await.map_err(|e| e.to_string())?;
    let t0 = web_time::Instant::now();
    trainer.train_step().await.map_err(|e| e.to_string())?;
    Ok(t0.elapsed().as_secs_f64() * 1e3)
}

/// Picks the training device: `(device, name, is_gpu, reason)`.
pub async fn choose(choice: BackendChoice) -> (Device, String, bool, String) {
    let probe = probe().await;
    let cpu = |reason: String| (Device::flex(), "CPU (Flex)".to_string(), false, reason);
    let obstacle = probe.obstacle();
    match (choice, &obstacle) {
        (BackendChoice::Cpu, _) => cpu("you chose the CPU".into()),
        (_, Some((why, true))) => cpu(format!("{why}, so training runs on the CPU")),
        (BackendChoice::Auto, Some((why, false))) => cpu(format!("{why}, so training runs on the CPU (you can still choose WebGPU)")),
        (BackendChoice::WebGpu, _) => match webgpu_device().await {
            Ok(d) => {
                let note = obstacle.map_or(String::new(), |(why, _)| format!(" (note: {why})"));
                (d, format!("WebGPU ({})", probe.name()), true, format!("you chose WebGPU{note}"))
            }
            Err(e) => cpu(format!("WebGPU could not start ({e}), so training runs on the CPU")),
        },
        (BackendChoice::Auto, None) => {
            let gpu = match webgpu_device().await {
                Ok(d) => d,
                Err(e) => return cpu(format!("WebGPU could not start ({e}), so training runs on the CPU")),
            };
            let (g, c) = (time_step(&gpu).await, time_step(&Device::flex()).await);
            match (g, c) {
                (Ok(g), Ok(c)) if g < c => (gpu, format!("WebGPU ({})", probe.name()), true, format!("a test step took {g:.0} ms on WebGPU and {c:.0} ms on the CPU")),
                (Ok(g), Ok(c)) => cpu(format!("a test step took {c:.0} ms on the CPU and {g:.0} ms on WebGPU ({})", probe.name())),
                (Err(e), _) => cpu(format!("a test step on WebGPU failed ({e}), so training runs on the CPU")),
                (_, Err(e)) => cpu(format!("a test step on the CPU failed ({e})")),
            }
        }
    }
}
