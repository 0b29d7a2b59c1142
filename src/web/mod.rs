//! The browser layer (wasm32 only): a Leptos page over the core. This first page probes for a
//! WebGPU adapter, says which backend it uses, and runs the whole core (tokens → training →
//! sampling → notes) on a tiny built-in melody.

mod demo;
mod gpu;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    let backend = RwSignal::new("Looking for a WebGPU adapter…".to_string());
    let gpu_detail = RwSignal::new(String::new());
    let demo = RwSignal::new("Waiting for the backend check…".to_string());
    let demo_status = RwSignal::new("running");
    leptos::task::spawn_local(async move {
        let probe = gpu::probe().await;
        gpu_detail.set(probe.describe());
        backend.set("CPU (Flex)".into());
        demo.set("Training a tiny model on a built-in melody…".into());
        match demo::run().await {
            Ok(report) => {
                demo.set(report);
                demo_status.set("done");
            }
            Err(e) => {
                demo.set(format!("The built-in example failed: {e}"));
                demo_status.set("error");
            }
        }
    });
    view! {
        <main>
            <h1>"Cantor"</h1>
            <p class="tagline">"Train a music model on your own MIDI files, in this page, on your own machine."</p>
            <section class="card">
                <h2>"Compute"</h2>
                <p>"Backend in use: " <strong data-testid="backend">{move || backend.get()}</strong></p>
                <p class="detail" data-testid="gpu-probe">{move || gpu_detail.get()}</p>
            </section>
            <section class="card">
                <h2>"Built-in example"</h2>
                <p data-testid="demo" data-status=move || demo_status.get()>{move || demo.get()}</p>
            </section>
        </main>
    }
}
