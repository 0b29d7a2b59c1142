//! WebGPU in a real browser (headless Chromium; SwiftShader's software adapter where there is no
//! GPU): the same training steps give the same losses as on Flex, and a model trained on WebGPU
//! is saved through async reads only. Run by scripts/test.sh with wasm-bindgen-test-runner.
#![cfg(target_arch = "wasm32")]

use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use cantor::encoding::corpus::TokenCorpus;
use cantor::encoding::{EventVocab, Vocab};
use cantor::model::{copy_to_device, CellKind, FusedLstm, ModelConfig, ModelFile, Recurrence, TrainingSummary};
use cantor::train::{TrainConfig, Trainer};
use std::cell::RefCell;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

thread_local! {
    static GPU: RefCell<Option<Device>> = const { RefCell::new(None) };
}

/// burn's WebGPU runtime starts once per page; every test shares it.
async fn gpu() -> Device {
    if let Some(d) = GPU.with(|g| g.borrow().clone()) {
        return d;
    }
    let d = Device::wgpu_options().init_async().await.expect("a WebGPU adapter (run Chromium with --enable-unsafe-webgpu)");
    GPU.with(|g| *g.borrow_mut() = Some(d.clone()));
    d
}

/// Tolerance between Flex (f32 on the CPU) and WebGPU (f32 shaders, other summation order).
const TOLERANCE: f64 = 2e-3;

fn setup() -> (ModelConfig, TrainConfig, TokenCorpus) {
    let model = ModelConfig { vocab_size: 40, embed: 8, hidden: 16, layers: 2, dropout: 0.0, cell: CellKind::Fused, awd: Default::default(), frame_context: false, sounding: None };
    let config = TrainConfig { seq_len: 8, batch: 4, lr: 1e-2, warmup_steps: 1, seed: 5, ..TrainConfig::default() };
    let corpus = TokenCorpus {
        train: vec![(0..120u16).map(|i| (i * 7 + 3) % 40).collect()],
        valid: vec![(0..30u16).map(|i| (i * 3 + 1) % 40).collect()],
        train_files: vec![0],
        valid_files: vec![0],
        ..TokenCorpus::default()
    };
    (model, config, corpus)
}

#[wasm_bindgen_test]
async fn training_steps_on_webgpu_match_flex() {
    let gpu = gpu().await;
    let (model_config, config, corpus) = setup();
    let flex = Device::flex();
    flex.seed(9);
    let start = model_config.init(&flex);
    // The same initial weights on both devices (copied with async reads).
    let on_gpu = copy_to_device(&start, &model_config, &gpu).await.unwrap();
    let mut a = Trainer::with_model(start, model_config.clone(), config.clone(), &corpus, &flex).unwrap();
    let mut b = Trainer::with_model(on_gpu, model_config.clone(), config, &corpus, &gpu).unwrap();
    for step in 0..3 {
        let la = a.train_step().await.unwrap();
        let lb = b.train_step().await.unwrap();
        web_sys::console::log_1(&format!("step {step}: flex {la:.6} webgpu {lb:.6}").into());
        assert!((la - lb).abs() <= TOLERANCE * la.abs().max(1.0), "step {step}: flex {la} vs webgpu {lb}");
    }
    let va = a.validate().await.unwrap().unwrap();
    let vb = b.validate().await.unwrap().unwrap();
    assert!((va.nll - vb.nll).abs() <= TOLERANCE * va.nll.max(1.0), "validation {} vs {}", va.nll, vb.nll);
}

#[wasm_bindgen_test]
async fn a_model_trained_on_webgpu_is_saved_without_sync_reads() {
    let gpu = gpu().await;
    let (model_config, config, corpus) = setup();
    let mut t = Trainer::new(model_config.clone(), config, &corpus, &gpu).unwrap();
    t.train_step().await.unwrap();
    let trained = t.best_model();
    let on_cpu = copy_to_device(&trained, &model_config, &Device::flex()).await.unwrap();
    let file = ModelFile::from_model(&on_cpu, &model_config, &Vocab::Events(EventVocab::default()), TrainingSummary::default());
    // The vocabulary here does not match the tiny model, so only check the weights round trip.
    let weights = file.map(|f| f.weights).unwrap_or_default();
    assert!(!weights.is_empty());
    // Outputs agree between the GPU model and its CPU copy.
    let x = |d: &Device| Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 5, 9, 13], [1, 4]), d);
    let g: Vec<f32> = trained.forward(x(&gpu), None).0.into_data_async().await.unwrap().convert::<f32>().try_into_vec().unwrap();
    let c: Vec<f32> = on_cpu.forward(x(&Device::flex()), None).0.into_data().convert::<f32>().try_into_vec().unwrap();
    let max = g.iter().zip(&c).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(max < 1e-3, "GPU and CPU copies differ by {max}");
}

/// The page and the worker exchange clips as messages: a few hundred notes must cross in
/// milliseconds (serde-wasm-bindgen's JS objects took ~6 s each way for 600 notes here).
#[wasm_bindgen_test]
fn worker_messages_with_many_notes_convert_quickly() {
    use cantor::midi::Note;
    use cantor::protocol::{from_bytes, to_bytes, ToWorker};
    let notes: Vec<Note> = (0..600)
        .map(|i| Note { pitch: 60 + (i % 12) as u8, velocity: 80, start: i as f64 * 0.25, duration: 0.5, start_s: i as f64 * 0.125, duration_s: 0.25, channel: 0, program: 0, drum: false, track: 0 })
        .collect();
    let msg = ToWorker::Render { notes: notes.clone(), speed: 1.0, wav: false, from_frame: 0 };
    let t0 = js_sys::Date::now();
    let array = js_sys::Uint8Array::from(&to_bytes(&msg)[..]);
    let back: ToWorker = from_bytes(&array.to_vec()).unwrap();
    let ms = js_sys::Date::now() - t0;
    let ToWorker::Render { notes: got, .. } = back else { panic!("wrong message") };
    assert_eq!(got, notes);
    assert!(ms < 100.0, "600 notes took {ms} ms to cross");
}

/// Counts compute dispatches and queue submits from the page's side, by wrapping WebGPU's own
/// entry points: independent of burn and cubecl.
fn install_dispatch_counter() {
    js_sys::eval(
        r#"(() => {
            if (globalThis.__cantorCount) return;
            globalThis.__cantorCount = { dispatch: 0, submit: 0 };
            const pass = GPUComputePassEncoder.prototype, queue = GPUQueue.prototype;
            const dispatch = pass.dispatchWorkgroups, submit = queue.submit;
            pass.dispatchWorkgroups = function (...a) { globalThis.__cantorCount.dispatch++; return dispatch.apply(this, a); };
            queue.submit = function (...a) { globalThis.__cantorCount.submit++; return submit.apply(this, a); };
        })()"#,
    )
    .expect("the counter installs");
}

fn dispatches() -> f64 {
    js_sys::eval("globalThis.__cantorCount.dispatch").unwrap().as_f64().unwrap()
}

/// Dispatches of one training step (after two warm-up steps) of a model on WebGPU.
async fn dispatches_per_step(recurrence: Recurrence, seq_len: usize, gpu: &Device) -> f64 {
    let (model_config, config, corpus) = setup();
    let config = TrainConfig { seq_len, ..config };
    let mut t = Trainer::new(model_config, config, &corpus, gpu).unwrap();
    t.model = t.model.clone().with_recurrence(recurrence);
    t.train_step().await.unwrap();
    t.train_step().await.unwrap();
    let before = dispatches();
    t.train_step().await.unwrap();
    dispatches() - before
}

/// Counts dispatches by the pipeline they run (its label), for the histogram of one step.
fn install_pipeline_counter() {
    js_sys::eval(
        r#"(() => {
            if (globalThis.__cantorPipelines) return;
            globalThis.__cantorPipelines = {};
            const pass = GPUComputePassEncoder.prototype;
            const set = pass.setPipeline, dispatch = pass.dispatchWorkgroups;
            pass.setPipeline = function (p) { this.__label = p.label || "(no label)"; return set.apply(this, arguments); };
            pass.dispatchWorkgroups = function () {
                const k = this.__label || "(none)";
                globalThis.__cantorPipelines[k] = (globalThis.__cantorPipelines[k] || 0) + 1;
                return dispatch.apply(this, arguments);
            };
        })()"#,
    )
    .expect("the counter installs");
}

/// The training step at the sizes users train: the medium preset (embedding 128, 2 × 256, the
/// bar vocabulary) at the page's batch and sequence length and at a smaller one, and the large
/// preset at hidden 512: each under 100 dispatches.
#[wasm_bindgen_test]
async fn a_step_at_the_presets_sizes_stays_under_100_dispatches() {
    let gpu = gpu().await;
    install_dispatch_counter();
    install_pipeline_counter();
    let vocab = cantor::encoding::BarVocab::default().size();
    for (embed, hidden, batch, seq_len) in [(128, 256, 8, 32), (128, 256, 16, 64), (256, 512, 8, 32)] {
        let model = ModelConfig { vocab_size: vocab, embed, hidden, layers: 2, dropout: 0.1, cell: CellKind::Fused, awd: Default::default(), frame_context: false, sounding: None };
        let config = TrainConfig { seq_len, batch, lr: 1e-3, warmup_steps: 1, seed: 5, ..TrainConfig::default() };
        let corpus = TokenCorpus { train: vec![(0..2000u32).map(|i| ((i * 7919 + 3) % vocab as u32) as u16).collect()], ..TokenCorpus::default() };
        let mut t = Trainer::new(model, config, &corpus, &gpu).unwrap();
        t.train_step().await.unwrap();
        t.train_step().await.unwrap();
        js_sys::eval("globalThis.__cantorPipelines = {}").unwrap();
        let before = dispatches();
        t.train_step().await.unwrap();
        let n = dispatches() - before;
        let histogram = js_sys::JSON::stringify(&js_sys::eval("globalThis.__cantorPipelines").unwrap()).unwrap();
        web_sys::console::log_1(&format!("{embed}/{hidden}x2, batch {batch} x {seq_len}: {n} dispatches per step; by pipeline {}", String::from(histogram)).into());
        assert!(n < 100.0, "{n} dispatches per step at embedding {embed}, hidden {hidden}, batch {batch} x {seq_len}");
    }
}

/// The sequence kernels: a training step's dispatches no longer grow with the sequence length,
/// and are far fewer than the per-step graph's.
#[wasm_bindgen_test]
async fn sequence_kernels_cut_dispatches_per_training_step() {
    let gpu = gpu().await;
    install_dispatch_counter();
    let steps_8 = dispatches_per_step(Recurrence::Steps, 8, &gpu).await;
    let steps_16 = dispatches_per_step(Recurrence::Steps, 16, &gpu).await;
    let kernels_8 = dispatches_per_step(Recurrence::Auto, 8, &gpu).await;
    let kernels_16 = dispatches_per_step(Recurrence::Auto, 16, &gpu).await;
    web_sys::console::log_1(&format!("dispatches per step: per-step graph {steps_8} (T=8), {steps_16} (T=16); sequence kernels {kernels_8} (T=8), {kernels_16} (T=16)").into());
    assert!(steps_16 > steps_8 * 1.5, "the per-step graph grows with T: {steps_8} → {steps_16}");
    assert!(kernels_16 <= kernels_8 + 4.0, "the kernels do not grow with T: {kernels_8} → {kernels_16}");
    // What remains is the rest of the step: embedding, output layer, loss, their backward, and
    // the flat Adam (one clip and update for all parameters, then one subtraction per tensor).
    assert!(kernels_16 < 100.0 && kernels_16 * 5.0 < steps_16, "{kernels_16} dispatches vs {steps_16}");
}

/// The sequence operation on WebGPU against Flex's per-step cell: outputs, final state and the
/// gradients of x, the carried state and the weights, hidden 33 (not a multiple of anything).
#[wasm_bindgen_test]
async fn sequence_kernels_on_webgpu_match_flex() {
    let gpu = gpu().await;
    let (t, b, d_in, h) = (6usize, 3usize, 5usize, 33usize);
    let flex = Device::flex();
    flex.seed(21);
    let r = |n: usize| Tensor::<1>::random([n], Distribution::Uniform(-0.5, 0.5), &flex).into_data();
    let inputs: Vec<TensorData> = [b * t * d_in, b * h, b * h, d_in * 4 * h, h * 4 * h, 4 * h, b * t * h].iter().map(|&n| r(n)).collect();
    async fn grads(device: &Device, d: &[TensorData], dims: (usize, usize, usize, usize), sequence: bool) -> Vec<Vec<f32>> {
        let (t, b, d_in, h) = dims;
        let ad = device.clone().autodiff();
        let v2 = |x: &TensorData, s: [usize; 2]| Tensor::<1>::from_data(x.clone(), &ad).reshape(s).detach().require_grad();
        let x = Tensor::<1>::from_data(d[0].clone(), &ad).reshape([b, t, d_in]).detach().require_grad();
        let (h0, c0) = (v2(&d[1], [b, h]), v2(&d[2], [b, h]));
        let cell = FusedLstm::from_weights(v2(&d[3], [d_in, 4 * h]), v2(&d[4], [h, 4 * h]), Tensor::<1>::from_data(d[5].clone(), &ad).require_grad());
        let (out, (hn, cn)) = if sequence {
            let (y, st) = cell.forward_sequence(x.clone().swap_dims(0, 1), Some((h0.clone(), c0.clone())), None);
            (y.swap_dims(0, 1), st)
        } else {
            cell.forward(x.clone(), Some((h0.clone(), c0.clone())))
        };
        let weights = Tensor::<1>::from_data(d[6].clone(), &ad).reshape([b, t, h]);
        let loss = (out.clone() * weights).sum() + hn.clone().sum() + (cn.clone() * 0.5).sum();
        let g = loss.backward();
        let mut all = Vec::new();
        for tensor in [out.detach().reshape([b * t * h]), x.grad(&g).unwrap().reshape([b * t * d_in]), h0.grad(&g).unwrap().reshape([b * h]), c0.grad(&g).unwrap().reshape([b * h]), cell.w_ih().grad(&g).unwrap().reshape([d_in * 4 * h]), cell.w_hh().grad(&g).unwrap().reshape([h * 4 * h]), cell.bias().grad(&g).unwrap()] {
            all.push(tensor.into_data_async().await.unwrap().convert::<f32>().try_into_vec::<f32>().unwrap());
        }
        all
    }
    let expected = grads(&flex, &inputs, (t, b, d_in, h), false).await;
    let got = grads(&gpu, &inputs, (t, b, d_in, h), true).await;
    for (k, (e, g)) in expected.iter().zip(&got).enumerate() {
        let worst = e.iter().zip(g).map(|(p, q)| (p - q).abs() / (1.0 + p.abs())).fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "tensor {k} (output, dx, dh0, dc0, dW_ih, dW_hh, dbias) differs by {worst}");
    }
}
