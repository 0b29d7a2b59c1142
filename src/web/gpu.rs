//! WebGPU probe through `navigator.gpu.requestAdapter()`: which adapter the browser offers and
//! whether burn could use it (it needs `timestamp-query`; a software fallback adapter such as
//! SwiftShader is ~100× slower than Flex and is not worth using).

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
    pub fn describe(&self) -> String {
        match self {
            Probe::NoWebGpu => "This browser has no WebGPU, so training runs on the CPU.".into(),
            Probe::NoAdapter => "WebGPU is present but offered no adapter, so training runs on the CPU.".into(),
            Probe::Adapter { name, fallback: true, .. } => {
                format!("WebGPU adapter “{name}” is a software fallback (much slower than the CPU path), so training runs on the CPU.")
            }
            Probe::Adapter { name, timestamp_query: false, .. } => {
                format!("WebGPU adapter “{name}” lacks the timestamp-query feature the GPU backend needs, so training runs on the CPU.")
            }
            Probe::Adapter { name, .. } => {
                format!("WebGPU adapter found: “{name}”. This build trains on the CPU; GPU training comes with the full page.")
            }
            Probe::Failed(e) => format!("The WebGPU check failed ({e}), so training runs on the CPU."),
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
    let window = web_sys::window().ok_or("no window")?;
    let gpu = get(&window.navigator(), "gpu");
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
