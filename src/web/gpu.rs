//! Backend choice: a WebGPU probe through `navigator.gpu.requestAdapter()` (in the page or the
//! worker), and the decision between WebGPU and the Flex CPU backend. burn needs the adapter's
//! `timestamp-query` feature, and a software fallback adapter such as SwiftShader is ~100× slower
//! than Flex, so neither is used.

use crate::protocol::BackendChoice;
use burn::prelude::Device;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub enum Probe {
    NoWebGpu,
    NoAdapter,
    Adapter { name: String, fallback: bool, timestamp_query: bool },
    Failed(String),
}

impl Probe {
    /// Why the CPU is used, or `None` if the adapter looks usable.
    pub fn obstacle(&self) -> Option<String> {
        match self {
            Probe::NoWebGpu => Some("this browser has no WebGPU".into()),
            Probe::NoAdapter => Some("WebGPU offered no adapter".into()),
            Probe::Adapter { name, fallback: true, .. } => {
                Some(format!("WebGPU adapter “{name}” is a software fallback, much slower than the CPU path"))
            }
            Probe::Adapter { name, timestamp_query: false, .. } => {
                Some(format!("WebGPU adapter “{name}” lacks the timestamp-query feature the GPU backend needs"))
            }
            Probe::Adapter { .. } => None,
            Probe::Failed(e) => Some(format!("the WebGPU check failed ({e})")),
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

/// Picks the device for training: `(device, name, is_gpu, reason)`.
pub async fn choose(choice: BackendChoice) -> (Device, String, bool, String) {
    let probe = probe().await;
    let cpu = |reason: String| (Device::flex(), "CPU (Flex)".to_string(), false, reason);
    match (choice, probe.obstacle()) {
        (BackendChoice::Cpu, _) => cpu("you chose the CPU".into()),
        (_, Some(why)) => cpu(format!("{why}, so training runs on the CPU")),
        (_, None) => {
            let Probe::Adapter { name, .. } = probe else { unreachable!() };
            cpu(format!(
                "WebGPU adapter “{name}” found, but this build trains on the CPU (GPU training is not built in yet)"
            ))
        }
    }
}
