//! Model, training loop, evaluation, sampling and model files, natively on Flex.

use burn::prelude::*;
use burn::tensor::TensorData;
use cantor::benchmark::frame_nll;
use cantor::encoding::corpus::TokenCorpus;
use cantor::encoding::{EventVocab, FrameVocab, Token, Vocab};
use cantor::generate::{generate, GenerateConfig, SamplingParams, Scale};
use cantor::model::{locked_dropout, AwdOptions, CellKind, ModelConfig, ModelFile, ModelFileError, TrainingSummary};
use cantor::benchmark::{evaluate_dynamic, gradient_rms, read_for_cache, DynamicConfig, Mix};
use cantor::train::{block_on, evaluate, learning_minimum, Control, StopReason, TrainConfig, Trainer};

/// The backend's random generator is one for the process: tests that seed it and build models
/// take turns, so each one's weights (and what it asserts of them) do not depend on which other
/// test happened to draw in between.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn tiny(vocab: usize, cell: CellKind) -> ModelConfig {
    ModelConfig { vocab_size: vocab, embed: 16, hidden: 24, layers: 2, dropout: 0.0, cell, awd: Default::default(), frame_context: false, sounding: None }
}

fn tokens(data: Vec<i64>, b: usize, t: usize) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(data, [b, t]), &Device::flex())
}

fn values(t: Tensor<3>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// A corpus with an obvious pattern: ascending runs of a scale, so a model can learn it fast.
fn pattern_corpus(vocab: &EventVocab, files: usize) -> TokenCorpus {
    let seq = |offset: u8| {
        let mut t = vec![vocab.start()];
        for k in 0..40u8 {
            let p = 60 + offset + [0, 2, 4, 5, 7, 9, 11, 12][(k % 8) as usize];
            t.push(vocab.id(Token::On(p)));
            t.push(vocab.id(Token::Shift(6)));
            t.push(vocab.id(Token::Off(p)));
        }
        t.push(vocab.end());
        t
    };
    TokenCorpus {
        train: (0..files as u8).map(seq).collect(),
        valid: vec![seq(0)], // same music as a training file: this checks learning, not style
        train_files: (0..files).collect(),
        valid_files: vec![files],
        ..TokenCorpus::default()
    }
}

#[test]
fn fused_cell_matches_burn_lstm() {
    let _serial = serial();
    let device = Device::flex();
    device.seed(3);
    let reference = tiny(40, CellKind::Burn).init(&device);
    let fused = reference.clone().to_fused();
    let x = tokens((0..2 * 9).map(|i| (i * 7 % 40) as i64).collect(), 2, 9);
    let (a, sa) = reference.forward(x.clone(), None);
    let (b, sb) = fused.forward(x, None);
    let (a, b) = (values(a), values(b));
    let max_diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(max_diff < 1e-5, "logits differ by {max_diff}");
    for ((h1, c1), (h2, c2)) in sa.0.into_iter().zip(sb.0) {
        let d = (h1 - h2).abs().max().into_scalar::<f32>() + (c1 - c2).abs().max().into_scalar::<f32>();
        assert!(d < 1e-5, "states differ by {d}");
    }
}

#[test]
fn state_carrying_evaluation_is_exact() {
    let _serial = serial();
    let device = Device::flex();
    device.seed(5);
    let model = tiny(30, CellKind::Fused).init(&device);
    let seqs: Vec<Vec<u16>> = vec![(0..23).map(|i| (i * 5 % 30) as u16).collect(), (0..7).map(|i| i as u16 + 3).collect(), vec![1, 2]];
    let whole = block_on(evaluate(&model, &seqs, 100, 1, None, &device)).unwrap();
    let chunked = block_on(evaluate(&model, &seqs, 4, 3, None, &device)).unwrap();
    for (a, b) in whole.token_nll.iter().zip(&chunked.token_nll) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }
    assert_eq!(whole.token_nll[0].len(), 22);
    assert_eq!(whole.metrics().tokens, 22 + 6 + 1);
}

#[test]
fn training_learns_a_pattern_and_is_reproducible() {
    let _serial = serial();
    let vocab = EventVocab::default();
    let corpus = pattern_corpus(&vocab, 1);
    let device = Device::flex();
    let config = TrainConfig { seq_len: 32, batch: 8, lr: 1e-2, warmup_steps: 5, max_epochs: 6, steps_per_epoch: Some(50), patience: 10, seed: 11, log_every: 5, ..TrainConfig::default() };
    let run = || {
        let mut t = Trainer::new(tiny(vocab.size(), CellKind::Fused), config.clone(), &corpus, &device).unwrap();
        let before = block_on(t.validate()).unwrap().unwrap();
        let mut reports = Vec::new();
        let reason = block_on(t.run(|p| {
            reports.push(p.clone());
            Control::Continue
        }))
        .unwrap();
        (t, before, reports, reason)
    };
    let (t1, before, reports, reason) = run();
    assert_eq!(reason, StopReason::Finished);
    let best = t1.summary.best_valid_nll.unwrap();
    assert!(before.nll > 4.0, "an untrained model is near uniform: {}", before.nll);
    assert!(best < 1.0, "validation NLL {best} after training (from {})", before.nll);
    // Progress reports: training loss every 5 steps, validation at each epoch end, ETA shrinking.
    assert_eq!(reports.iter().filter(|p| p.valid.is_some()).count(), 6);
    assert!(reports.iter().all(|p| p.tokens_per_s > 0.0 && p.total_steps == 300));
    assert!(reports.last().unwrap().eta_s < reports[0].eta_s);
    let (t2, _, _, _) = run();
    assert_eq!(t1.summary.train_curve, t2.summary.train_curve, "same seed, same losses");
}

#[test]
fn early_stopping_and_cancel() {
    let _serial = serial();
    let vocab = EventVocab::default();
    let corpus = pattern_corpus(&vocab, 2);
    let device = Device::flex();
    // A learning rate of zero never improves validation: patience 2 stops after 3 epochs.
    let config = TrainConfig { seq_len: 16, batch: 4, lr: 0.0, max_epochs: 20, steps_per_epoch: Some(2), patience: 2, ..TrainConfig::default() };
    let mut t = Trainer::new(tiny(vocab.size(), CellKind::Fused), config.clone(), &corpus, &device).unwrap();
    assert_eq!(block_on(t.run(|_| Control::Continue)).unwrap(), StopReason::EarlyStopped);
    assert_eq!(t.epoch, 3);
    let mut t = Trainer::new(tiny(vocab.size(), CellKind::Fused), config, &corpus, &device).unwrap();
    assert_eq!(block_on(t.run(|_| Control::Stop)).unwrap(), StopReason::Cancelled);
    let empty = TokenCorpus { train: vec![], valid: vec![], train_files: vec![], valid_files: vec![], ..Default::default() };
    assert!(Trainer::new(tiny(vocab.size(), CellKind::Fused), TrainConfig::default(), &empty, &device).is_err());
}

#[test]
fn a_two_file_corpus_trains_its_minimum_before_stopping_early_and_keeps_its_best_model() {
    let _serial = serial();
    let vocab = EventVocab::default();
    let corpus = pattern_corpus(&vocab, 2);
    let device = Device::flex();
    // Epochs of two steps and patience 2 would stop after a few steps; the minimum holds it to 30.
    let config = TrainConfig { seq_len: 16, batch: 4, lr: 1e-2, max_epochs: 200, steps_per_epoch: Some(2), patience: 2, min_steps: 30, seed: 5, ..TrainConfig::default() };
    let mut t = Trainer::new(tiny(vocab.size(), CellKind::Fused), config.clone(), &corpus, &device).unwrap();
    let reason = block_on(t.run(|_| Control::Continue)).unwrap();
    assert!(t.step >= 30, "stopped after {} steps, before its minimum", t.step);
    // Only models that trained the minimum compete: the best of those is kept.
    let best = t.summary.valid_curve.iter().filter(|v| v.0 >= 30).map(|v| v.1).fold(f64::INFINITY, f64::min);
    assert_eq!(t.summary.best_valid_nll, Some(best));
    // The kept model is the best one: it scores the validation music as the best epoch did.
    let kept = block_on(evaluate(&t.best_model(), &corpus.valid, 16, 4, None, &device)).unwrap().metrics().nll;
    assert!((kept - best).abs() < 1e-4, "kept {kept}, best {best}");
    let sentence = t.stop_sentence(reason);
    match reason {
        StopReason::EarlyStopped => assert!(sentence.starts_with("Stopped early because") && sentence.contains("minimum of 30 steps"), "{sentence}"),
        _ => assert!(sentence.starts_with("Finished"), "{sentence}"),
    }
    // Without a minimum the same run stops within a few epochs when validation stalls.
    let stalled = TrainConfig { lr: 0.0, min_steps: 0, ..config.clone() };
    let mut t = Trainer::new(tiny(vocab.size(), CellKind::Fused), stalled.clone(), &corpus, &device).unwrap();
    assert_eq!(block_on(t.run(|_| Control::Continue)).unwrap(), StopReason::EarlyStopped);
    assert_eq!(t.step, 6);
    let mut t = Trainer::new(tiny(vocab.size(), CellKind::Fused), TrainConfig { min_steps: 30, ..stalled }, &corpus, &device).unwrap();
    assert_eq!(block_on(t.run(|_| Control::Continue)).unwrap(), StopReason::EarlyStopped);
    assert_eq!(t.step, 34, "a stalled run trains its minimum, then models compete from step 30 with patience 2");
    assert!(t.stop_sentence(StopReason::EarlyStopped).contains("the model from step 30 is kept"), "{}", t.stop_sentence(StopReason::EarlyStopped));
    // A run that ends before its minimum keeps its last model, with that model's held-out figure.
    let short = TrainConfig { max_epochs: 3, min_steps: 30, ..config.clone() };
    let mut t = Trainer::new(tiny(vocab.size(), CellKind::Fused), short, &corpus, &device).unwrap();
    let reason = block_on(t.run(|_| Control::Continue)).unwrap();
    assert_eq!((reason, t.step), (StopReason::Finished, 6));
    assert_eq!(t.summary.best_valid_nll, t.summary.valid_curve.last().map(|v| v.1));
    let last = block_on(evaluate(&t.best_model(), &corpus.valid, 16, 4, None, &device)).unwrap().metrics().nll;
    assert!((last - t.summary.valid_curve.last().unwrap().1).abs() < 1e-4);
    assert!(t.stop_sentence(reason).contains("had not trained this corpus's minimum of 30 steps"), "{}", t.stop_sentence(reason));
    // The minimum is in proportion to the corpus, within its floor and ceiling.
    assert_eq!(learning_minimum(&corpus, 4, 16), 400);
    let big = TokenCorpus { train: vec![vec![1u16; 4096 * 100]], ..TokenCorpus::default() };
    assert_eq!(learning_minimum(&big, 32, 128), 800);
}

fn trained_model(vocab: &EventVocab) -> (cantor::model::LstmLm, ModelConfig) {
    let corpus = pattern_corpus(vocab, 3);
    let config = tiny(vocab.size(), CellKind::Fused);
    let tc = TrainConfig { seq_len: 32, batch: 8, lr: 1e-2, max_epochs: 3, steps_per_epoch: Some(15), ..TrainConfig::default() };
    let mut t = Trainer::new(config.clone(), tc, &corpus, &Device::flex()).unwrap();
    block_on(t.run(|_| Control::Continue)).unwrap();
    (t.best_model(), config)
}

#[test]
fn sampling_is_seeded_valid_and_respects_the_key() {
    let _serial = serial();
    let vocab = EventVocab::default();
    let (model, _) = trained_model(&vocab);
    let device = Device::flex();
    let cfg = |seed, scale| GenerateConfig {
        sampling: SamplingParams { temperature: 1.2, top_k: 0, top_p: 0.98, seed, scale },
        max_tokens: 300,
        max_beats: Some(16.0),
        program: 0,
        bpm: 120.0,
    };
    let a = block_on(generate(&model, &vocab, &[], &cfg(7, None), &device, |_| {})).unwrap();
    let b = block_on(generate(&model, &vocab, &[], &cfg(7, None), &device, |_| {})).unwrap();
    let c = block_on(generate(&model, &vocab, &[], &cfg(8, None), &device, |_| {})).unwrap();
    assert_eq!(a.tokens, b.tokens, "same seed, same music");
    assert_ne!(a.tokens, c.tokens, "another seed, other music");
    assert!(!a.notes.is_empty());
    for n in &a.notes {
        assert!(n.duration > 0.0);
        assert!(n.start < 16.0 + 1e-9, "length limit: note at beat {}", n.start);
    }
    // Lock to F# major: the pattern is C major, but no note outside F# major may appear.
    // A tiny model may spend one seed's 16 beats on rests (how often depends on the CPU's float rounding), so
    // several seeds are drawn: every note of every one must be in the key, and some must sound.
    let scale = Scale { root: 6, minor: false };
    let mut locked = Vec::new();
    for seed in 7..15 {
        let d = block_on(generate(&model, &vocab, &[], &cfg(seed, Some(scale)), &device, |_| {})).unwrap();
        locked.extend(d.notes.iter().map(|n| n.pitch));
    }
    assert!(!locked.is_empty(), "the key lock left no note to play");
    assert!(locked.iter().all(|&p| scale.contains(p)), "{locked:?}");
    // A primer is kept at the start of the output.
    let primer = vec![vocab.start(), vocab.id(Token::On(60)), vocab.id(Token::Shift(6)), vocab.id(Token::Off(60))];
    let e = block_on(generate(&model, &vocab, &primer, &cfg(1, None), &device, |_| {})).unwrap();
    assert_eq!(&e.tokens[..4], &primer[..]);
    assert_eq!(e.primer_len, 4);
    assert_eq!((e.notes[0].pitch, e.notes[0].start), (60, 0.0));
}

#[test]
fn model_files_round_trip_and_reject_damage() {
    let _serial = serial();
    let vocab = EventVocab::default();
    let (model, config) = trained_model(&vocab);
    let summary = TrainingSummary { epochs: 3, files: vec!["a.mid".into()], ..TrainingSummary::default() };
    let file = ModelFile::from_model(&model, &config, &Vocab::Events(vocab), summary.clone()).unwrap();
    let bytes = file.to_bytes();
    let back = ModelFile::from_bytes(&bytes).unwrap();
    assert_eq!(back.config, config);
    assert_eq!(back.vocab, Vocab::Events(vocab));
    assert_eq!(back.summary, summary);
    assert_eq!(back.fingerprint(), file.fingerprint());
    let loaded = back.load(&Device::flex()).unwrap();
    let x = tokens(vec![1, 63, 262, 191, 70], 1, 5);
    assert_eq!(values(model.forward(x.clone(), None).0), values(loaded.forward(x, None).0));

    assert_eq!(ModelFile::from_bytes(b"MThd....").unwrap_err(), ModelFileError::NotAModel);
    assert_eq!(ModelFile::from_bytes(&bytes[..20]).unwrap_err(), ModelFileError::Truncated);
    let cut = ModelFile::from_bytes(&bytes[..bytes.len() - 100]).unwrap();
    assert!(matches!(cut.load(&Device::flex()), Err(ModelFileError::Weights(_))));
    let mut wrong = ModelFile::from_bytes(&bytes).unwrap();
    wrong.config.hidden = 25;
    wrong.config.vocab_size = vocab.size();
    assert!(matches!(wrong.load(&Device::flex()), Err(ModelFileError::Weights(_))), "shape mismatch is an error, not a panic");
}

#[test]
fn eight_bit_weights_are_a_quarter_of_the_size_and_predict_nearly_the_same() {
    use cantor::model::WeightsFormat;
    let _serial = serial();
    let vocab = EventVocab::default();
    let (model, config) = trained_model(&vocab);
    let file = ModelFile::from_model(&model, &config, &Vocab::Events(vocab), TrainingSummary::default()).unwrap();
    let small = file.to_int8(&Device::flex()).unwrap();
    assert_eq!(small.format, WeightsFormat::Int8Rows);
    assert!(small.weights.len() * 10 < file.weights.len() * 3, "{} bytes for {} of f32", small.weights.len(), file.weights.len());
    let bytes = small.to_bytes();
    let back = ModelFile::from_bytes(&bytes).unwrap();
    assert_eq!(back.format, WeightsFormat::Int8Rows);
    let loaded = back.load(&Device::flex()).unwrap();
    // The next-token distributions of a piece: within a few hundredths of a nat of the f32 model's.
    let x = tokens(vec![1, 63, 262, 191, 70, 64, 262, 192, 71, 65], 1, 10);
    let (a, b) = (values(model.forward(x.clone(), None).0), values(loaded.forward(x, None).0));
    let worst = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
    assert!(worst < 0.1 && a != b, "largest log-probability change {worst}");
    // Loaded on an autodiff device, its parameters are trainable, as an f32 file's are (the page
    // fine-tunes the starter from its 8-bit file).
    let ad = Device::flex().autodiff();
    let gradients = |file: &ModelFile| {
        let m = file.load(&ad).unwrap();
        let loss = m.token_nll(tokens(vec![1, 63, 262, 191, 70, 64], 1, 6).to_device(&ad), None, None, None).0.mean();
        burn::optim::GradientsParams::from_grads(loss.backward(), &m).len()
    };
    let (eight, full) = (gradients(&back), gradients(&file));
    assert!(full > 0 && eight == full, "{eight} of {full} parameters get a gradient");
    // An f32 file's header says nothing new (older pages read it), and damage is a sentence.
    assert!(!String::from_utf8_lossy(&file.to_bytes()).contains("Int8Rows"));
    let cut = ModelFile::from_bytes(&bytes[..bytes.len() - 100]).unwrap();
    let err = cut.load(&Device::flex()).unwrap_err();
    assert!(matches!(err, ModelFileError::Weights(_)));
    assert_eq!(err.to_string(), "the model's weights do not fit its description (the file is damaged, or not whole)");
}

#[test]
fn frame_nll_sums_token_nll_per_frame() {
    let _serial = serial();
    let v = FrameVocab::default();
    let t = v.encode(&[vec![60, 64], vec![], vec![67]]).unwrap();
    // Targets: 60, 64, END | END | 67, END
    let nll = [0.5f32, 0.25, 0.125, 1.0, 2.0, 0.5];
    assert_eq!(frame_nll(&t, &nll, &v), vec![0.875, 1.0, 2.5]);
}

#[test]
fn parameter_count_matches_the_module() {
    let _serial = serial();
    for cell in [CellKind::Fused, CellKind::Burn] {
        let c = ModelConfig::new(323);
        let c = ModelConfig { cell, ..c };
        assert_eq!(c.init(&Device::flex()).num_params(), c.param_count(), "{cell:?}");
    }
    let tied = ModelConfig { awd: AwdOptions { tied: true, ..AwdOptions::default() }, ..ModelConfig::new(323) };
    assert_eq!(tied.init(&Device::flex()).num_params(), tied.param_count(), "tied");
    assert!(tied.param_count() < ModelConfig::new(323).param_count(), "tying saves the output matrix");
    let bars = cantor::encoding::BarVocab::default();
    let sounding = ModelConfig { sounding: Some(bars.layout()), ..ModelConfig::new(bars.size()) };
    assert_eq!(sounding.init(&Device::flex()).num_params(), sounding.param_count(), "sounding");
    let framed = ModelConfig { frame_context: true, ..ModelConfig::new(323) };
    assert_eq!(framed.init(&Device::flex()).num_params(), framed.param_count(), "frame context");
}

/// The AWD-LSTM options: a tied model learns and its file round-trips; variational dropout keeps
/// one mask over time; weight dropout changes training outputs and nothing at inference.
#[test]
fn awd_options_train_save_and_regularise() {
    let _serial = serial();
    let vocab = EventVocab::default();
    let corpus = pattern_corpus(&vocab, 1);
    let device = Device::flex();
    let awd = AwdOptions { variational: true, weight_dropout: 0.2, tied: true };
    let config = ModelConfig { dropout: 0.1, awd, ..tiny(vocab.size(), CellKind::Fused) };
    let tc = TrainConfig { seq_len: 32, batch: 8, lr: 1e-2, warmup_steps: 5, max_epochs: 4, steps_per_epoch: Some(50), patience: 10, seed: 3, ..TrainConfig::default() };
    let mut t = Trainer::new(config.clone(), tc, &corpus, &device).unwrap();
    let before = block_on(t.validate()).unwrap().unwrap().nll;
    block_on(t.run(|_| Control::Continue)).unwrap();
    let best = t.summary.best_valid_nll.unwrap();
    assert!(best < before * 0.5, "a tied, dropped-out model still learns: {before} → {best}");
    let model = t.best_model();
    let file = ModelFile::from_model(&model, &config, &Vocab::Events(vocab), TrainingSummary::default()).unwrap();
    let back = ModelFile::from_bytes(&file.to_bytes()).unwrap();
    assert_eq!(back.config.awd, awd);
    let loaded = back.load(&device).unwrap();
    let x = tokens(vec![1, 63, 262, 191, 70], 1, 5);
    assert_eq!(values(model.forward(x.clone(), None).0), values(loaded.forward(x.clone(), None).0));

    // Locked dropout: the same units are zero at every step, survivors scaled by 1/(1-p).
    let ad = device.clone().autodiff();
    let steps: Vec<Tensor<2>> = (0..5).map(|_| Tensor::ones([3, 40], &ad)).collect();
    let dropped = locked_dropout(&burn::nn::DropoutConfig::new(0.5).init(), steps);
    let rows: Vec<Vec<f32>> = dropped.into_iter().map(|s| s.into_data().convert::<f32>().try_to_vec().unwrap()).collect();
    assert!(rows.windows(2).all(|w| w[0] == w[1]), "one mask for all steps");
    assert!(rows[0].iter().all(|&v| v == 0.0 || v == 2.0));
    let zeros = rows[0].iter().filter(|&&v| v == 0.0).count();
    assert!((20..100).contains(&zeros), "about half of 120 dropped: {zeros}");

    // Weight dropout acts in training only.
    let heavy = ModelConfig { awd: AwdOptions { weight_dropout: 0.9, ..AwdOptions::default() }, ..tiny(vocab.size(), CellKind::Fused) };
    ad.seed(5);
    let m = heavy.init(&ad);
    let xa = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 63, 262, 191, 70], [1, 5]), &ad);
    let train_out = m.forward(xa, None).0.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    let plain = m.valid();
    let infer = values(plain.forward(x.clone(), None).0);
    assert_ne!(train_out, infer, "a dropped-out W_hh changes the training forward");
    assert_eq!(infer, values(plain.forward(x, None).0), "inference is deterministic");
}

#[test]
fn async_copy_reproduces_the_model() {
    let _serial = serial();
    let vocab = EventVocab::default();
    let (model, config) = trained_model(&vocab);
    let copy = block_on(cantor::model::copy_to_device(&model, &config, &Device::flex())).unwrap();
    let x = tokens(vec![1, 63, 262, 191, 70, 4, 9], 1, 7);
    assert_eq!(values(model.forward(x.clone(), None).0), values(copy.forward(x, None).0));
    // and it differs from a fresh model, so the weights really were copied
    let fresh = config.init(&Device::flex());
    let x = tokens(vec![1, 63, 262], 1, 3);
    assert_ne!(values(fresh.forward(x.clone(), None).0), values(copy.forward(x, None).0));
}

#[test]
fn fine_tuning_a_loaded_model_trains() {
    let _serial = serial();
    let vocab = EventVocab::default();
    let (model, config) = trained_model(&vocab);
    let file = ModelFile::from_model(&model, &config, &Vocab::Events(vocab), TrainingSummary::default()).unwrap();
    // An f32 file, and the same model with 8-bit weights (the starter is fine-tuned from one).
    for file in [file.clone(), file.to_int8(&Device::flex()).unwrap()] {
        let loaded = ModelFile::from_bytes(&file.to_bytes()).unwrap().load(&Device::flex()).unwrap();
        let corpus = pattern_corpus(&vocab, 1);
        let tc = TrainConfig { seq_len: 32, batch: 8, lr: 1e-2, max_epochs: 1, steps_per_epoch: Some(10), ..TrainConfig::default() };
        let mut t = Trainer::with_model(loaded, config.clone(), tc, &corpus, &Device::flex()).unwrap();
        let before = block_on(t.validate()).unwrap().unwrap().nll;
        block_on(t.run(|_| Control::Continue)).unwrap();
        let after = t.summary.best_valid_nll.unwrap();
        assert!(after < before, "fine-tuning ({:?} weights) lowers the loss: {before} → {after}", file.format);
    }
}

/// Piano-roll pieces in which each chord is held for four frames: after a chord's first frame,
/// the next frames are copies.
fn held_chords(pieces: usize, seed: u64) -> Vec<Vec<Vec<u8>>> {
    let mut x = seed;
    let mut next = move |n: u64| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    (0..pieces)
        .map(|_| {
            (0..8)
                .flat_map(|_| {
                    let chord: Vec<u8> = (0..3).map(|_| 48 + next(24) as u8).collect();
                    std::iter::repeat_n(chord, 4)
                })
                .collect()
        })
        .collect()
}

#[test]
fn frame_context_is_used_exactly_and_helps_copy_held_notes() {
    let _serial = serial();
    let vocab = FrameVocab::default();
    let device = Device::flex();
    let encode = |pieces: Vec<Vec<Vec<u8>>>| -> Vec<Vec<u16>> { pieces.iter().map(|p| vocab.encode(p).unwrap()).collect() };
    let corpus = TokenCorpus { train: encode(held_chords(24, 1)), valid: encode(held_chords(6, 2)), train_files: (0..24).collect(), valid_files: vec![24], ..TokenCorpus::default() };
    let config = |frame_context| ModelConfig { frame_context, embed: 16, hidden: 32, layers: 1, ..tiny(vocab.size(), CellKind::Fused) };
    let tc = TrainConfig { seq_len: 48, batch: 8, lr: 1e-2, warmup_steps: 5, max_epochs: 1, steps_per_epoch: Some(200), frame_mask: Some(vocab), ..TrainConfig::default() };
    let valid_nll = |frame_context: bool| {
        device.seed(11);
        let mut trainer = Trainer::new(config(frame_context), tc.clone(), &corpus, &device).unwrap();
        for _ in 0..200 {
            block_on(trainer.train_step()).unwrap();
        }
        let model = trainer.model.valid();
        // State and context carried across chunks: exactly the whole-sequence figures.
        let whole = block_on(evaluate(&model, &corpus.valid, 1000, 1, Some(&vocab), &device)).unwrap();
        let chunked = block_on(evaluate(&model, &corpus.valid, 7, 4, Some(&vocab), &device)).unwrap();
        for (a, b) in whole.token_nll.iter().zip(&chunked.token_nll) {
            assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4));
        }
        whole.metrics().nll
    };
    let (plain, with_context) = (valid_nll(false), valid_nll(true));
    eprintln!("valid NLL per token: {plain:.3} plain, {with_context:.3} with frame context");
    assert!(with_context < 0.8 * plain, "held notes copied from the context: {with_context:.3} vs {plain:.3} nats/token without it");
    // A model with frame context refuses a corpus it cannot build the context for.
    let events = Trainer::new(config(true), TrainConfig { frame_mask: None, ..tc }, &corpus, &device);
    assert!(events.is_err());
}

/// One random phrase of chords played four times (nothing an untrained model knows, and
/// everything after its first hearing a repeat), then another piece, as frame tokens.
fn phrase_four_times_and_another_piece(vocab: &FrameVocab) -> Vec<Vec<u16>> {
    let phrase: Vec<Vec<u8>> = held_chords(1, 7).remove(0).into_iter().step_by(4).collect();
    let piece: Vec<Vec<u8>> = std::iter::repeat_n(phrase, 4).flatten().collect();
    let other: Vec<Vec<u8>> = held_chords(1, 8).remove(0);
    vec![vocab.encode(&piece).unwrap(), vocab.encode(&other).unwrap()]
}

#[test]
fn dynamic_evaluation_scores_before_it_learns_and_adapts_to_a_repeat() {
    let _serial = serial();
    let vocab = FrameVocab::default();
    let device = Device::flex();
    device.seed(13);
    let model = ModelConfig { dropout: 0.3, ..tiny(vocab.size(), CellKind::Fused) }.init(&device);
    let seqs = phrase_four_times_and_another_piece(&vocab);
    let fixed = block_on(evaluate(&model, &seqs, 1000, 1, Some(&vocab), &device)).unwrap();
    let config = |lr| DynamicConfig { lr, chunk: 8, batch: 1, clip_norm: 5.0, decay: 0.0, per_piece: false };
    // Step 0: exactly the static figures (and dropout is off while it reads).
    let still = block_on(evaluate_dynamic(&model, &seqs, config(0.0), Some(&vocab), None, &device)).unwrap();
    for (a, b) in fixed.token_nll.iter().zip(&still.token_nll) {
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4), "step 0 is static evaluation");
    }
    let adapted = block_on(evaluate_dynamic(&model, &seqs, config(2.0), Some(&vocab), None, &device)).unwrap();
    let (f, d) = (&fixed.token_nll[0], &adapted.token_nll[0]);
    assert_eq!(f.len(), d.len());
    // The first chunk is scored before any update: the same figures as the static model's.
    assert!(f[..8].iter().zip(&d[..8]).all(|(x, y)| (x - y).abs() < 1e-4), "scored before it learns");
    assert!(f[8..].iter().zip(&d[8..]).any(|(x, y)| (x - y).abs() > 1e-3), "later chunks see updated weights");
    // The last hearing of the phrase is predicted far better than by the static model.
    let last = f.len() * 3 / 4;
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let (before, after) = (mean(&f[last..]), mean(&d[last..]));
    eprintln!("last repeat: {before:.3} static vs {after:.3} nats/token dynamic");
    assert!(after < 0.75 * before, "the repeat is learnt while reading: {after:.3} vs {before:.3}");
    // Across pieces the adapted weights carry on; per piece, each starts from the trained ones.
    let first_chunk_of_other = |e: &cantor::train::Evaluation| e.token_nll[1][..8].to_vec();
    assert!(first_chunk_of_other(&fixed).iter().zip(&first_chunk_of_other(&adapted)).any(|(x, y)| (x - y).abs() > 1e-3));
    let per_piece = block_on(evaluate_dynamic(&model, &seqs, DynamicConfig { per_piece: true, ..config(2.0) }, Some(&vocab), None, &device)).unwrap();
    assert_eq!(per_piece.token_nll[0], adapted.token_nll[0]);
    assert!(first_chunk_of_other(&fixed).iter().zip(&first_chunk_of_other(&per_piece)).all(|(x, y)| (x - y).abs() < 1e-4));
    // The RMS-normalised update (each weight's step divided by its typical gradient on other music) adapts too.
    let others: Vec<Vec<u16>> = held_chords(16, 9).iter().map(|p| vocab.encode(p).unwrap()).collect();
    let rms = block_on(gradient_rms(&model, &others, 8, 16, Some(&vocab), &device)).unwrap().expect("a model with weights");
    assert_eq!(rms.dims(), [model.num_params()]);
    let normalised = block_on(evaluate_dynamic(&model, &seqs, DynamicConfig { lr: 0.001, ..config(0.0) }, Some(&vocab), Some(&rms), &device)).unwrap();
    let r = &normalised.token_nll[0];
    assert!(f[..8].iter().zip(&r[..8]).all(|(x, y)| (x - y).abs() < 1e-4), "scored before it learns");
    let after_rms = mean(&r[last..]);
    eprintln!("last repeat with RMS-normalised steps: {after_rms:.3} nats/token");
    assert!(after_rms < 0.85 * before, "RMS-normalised adaptation learns the repeat: {after_rms:.3} vs {before:.3}");
    // The caller's model is left as it was.
    let again = block_on(evaluate(&model, &seqs, 1000, 1, Some(&vocab), &device)).unwrap();
    assert_eq!(again.token_nll, fixed.token_nll);
}

#[test]
fn the_neural_cache_expects_a_phrase_again_and_stays_a_distribution() {
    let _serial = serial();
    let vocab = FrameVocab::default();
    let device = Device::flex();
    device.seed(21);
    let model = tiny(vocab.size(), CellKind::Fused).init(&device);
    let seqs = phrase_four_times_and_another_piece(&vocab);
    let fixed = block_on(evaluate(&model, &seqs, 1000, 1, Some(&vocab), &device)).unwrap();
    // Read in chunks of 5 and two pieces side by side: the readings are still the whole pieces'.
    let readings = block_on(read_for_cache(&model, &seqs, 5, 2, Some(&vocab), &device)).unwrap();
    let [model_alone, mixed]: [cantor::train::Evaluation; 2] = readings.evaluate(20.0, &[Mix::plain(0.0), Mix::plain(0.3)]).try_into().unwrap();
    for (a, b) in fixed.token_nll.iter().zip(&model_alone.token_nll) {
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4), "λ = 0 is the static evaluation");
    }
    // The cache's distribution: nothing before the first token, then a distribution over what
    // the frame order allows after each token.
    assert!(readings.cache_distribution(0, 0, 20.0).is_none());
    let tokens = &seqs[0];
    let repeats_from = (tokens.len() - 1) / 4 + 1;
    for t in 1..tokens.len() - 1 {
        let Some(p) = readings.cache_distribution(0, t, 20.0) else {
            // Only where nothing heard so far may follow: never once the phrase repeats.
            assert!(t < repeats_from, "the cache has the phrase's earlier hearing at {t}");
            continue;
        };
        let allowed = vocab.order_mask(&[tokens[t] as i64]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9, "sums to one at {t}");
        assert!(p.iter().zip(&allowed).all(|(&q, &m)| m == 0.0 || q == 0.0), "nothing the frame order forbids at {t}");
    }
    // Probabilities stay probabilities, and the last hearing of the phrase is expected.
    assert!(mixed.token_nll.iter().flatten().all(|&x| x >= -1e-6));
    let (f, m) = (&fixed.token_nll[0], &mixed.token_nll[0]);
    let last = f.len() * 3 / 4;
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let (before, after) = (mean(&f[last..]), mean(&m[last..]));
    eprintln!("last repeat: {before:.3} static vs {after:.3} nats/token with the cache");
    assert!(after < 0.75 * before, "the repeat is expected: {after:.3} vs {before:.3}");
    // With a second share where an earlier state is alike: τ = −1 always applies it, τ above 1
    // never; at a real τ the repeat (whose states come back) gets the larger share.
    let [always, never, near]: [cantor::train::Evaluation; 3] = readings
        .evaluate(20.0, &[Mix { lambda: 0.1, near: Some((-1.0, 0.3)) }, Mix { lambda: 0.3, near: Some((1.5, 0.9)) }, Mix { lambda: 0.05, near: Some((0.95, 0.8)) }])
        .try_into()
        .unwrap();
    assert_eq!(always.token_nll, mixed.token_nll);
    assert_eq!(never.token_nll, mixed.token_nll);
    let after_near = mean(&near.token_nll[0][last..]);
    eprintln!("last repeat with λ 0.8 where a state comes back: {after_near:.3} nats/token");
    assert!(after_near < after, "the nearly identical states of the repeat trust the cache more: {after_near:.3} vs {after:.3}");
    // Each piece has its own cache: the other piece scores the same read after the repeated
    // phrase as read alone (and its first token is the model's alone).
    let alone = block_on(read_for_cache(&model, &seqs[1..], 1000, 1, Some(&vocab), &device)).unwrap();
    let alone = alone.evaluate(20.0, &[Mix::plain(0.3)]).remove(0);
    assert_eq!(alone.token_nll[0].len(), mixed.token_nll[1].len());
    assert!(alone.token_nll[0].iter().zip(&mixed.token_nll[1]).all(|(x, y)| (x - y).abs() < 1e-5));
    assert!((mixed.token_nll[1][0] - fixed.token_nll[1][0]).abs() < 1e-6);
}

#[test]
fn a_step_split_over_two_threads_is_the_same_step() {
    let _serial = serial();
    let vocab = EventVocab::default();
    let corpus = pattern_corpus(&vocab, 2);
    let config = ModelConfig { dropout: 0.0, ..tiny(vocab.size(), CellKind::Fused) };
    let losses = |threads: usize| {
        let tc = TrainConfig { seq_len: 32, batch: 8, lr: 1e-2, max_epochs: 1, steps_per_epoch: Some(6), seed: 9, ..TrainConfig::default() };
        let mut t = Trainer::new(config.clone(), tc, &corpus, &Device::flex()).unwrap();
        t.set_threads(threads);
        let steps: Vec<f64> = (0..6).map(|_| block_on(t.train_step()).unwrap()).collect();
        let x = tokens(vec![1, 63, 262, 191, 70], 1, 5);
        (steps, values(t.model.valid().forward(x, None).0))
    };
    let (one, out_one) = losses(1);
    let (two, out_two) = losses(2);
    let (three, _) = losses(3); // rows 3 + 3 + 2: blocks of unequal size are weighted by their rows
    for k in 0..6 {
        assert!((one[k] - two[k]).abs() < 1e-4 && (one[k] - three[k]).abs() < 1e-4, "step {k}: {} / {} / {}", one[k], two[k], three[k]);
    }
    let worst = out_one.iter().zip(&out_two).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "the weights after six steps differ: {worst}");
    assert!(one[5] < one[0], "it learns: {one:?}");
}


/// A bar model that reads what is sounding: its step is the same on one thread, on two, and
/// shared with a helper replica (each computes its rows' features from the same ids); it is scored
/// the same in chunks as whole (the features of a chunk are read from its piece's start); its file
/// keeps the layout, and the loaded model generates the same notes.
#[test]
fn a_model_that_reads_what_is_sounding_takes_the_same_step_everywhere_scores_in_chunks_and_loads() {
    use cantor::encoding::corpus::{bar_corpus, learn_bar_vocab, CorpusOptions};
    use cantor::encoding::{BarVocab, Conditioning, MusicVocab};
    use cantor::train::team::Helper;
    let _serial = serial();
    let songs: Vec<_> = ["band.mid", "band2.mid"].iter().map(|f| cantor::midi::read_song(&std::fs::read(format!("tests/fixtures/{f}")).unwrap()).unwrap()).collect();
    let styles = vec![None; songs.len()];
    let options = CorpusOptions { transpose: 0, ..CorpusOptions::default() };
    let vocab = learn_bar_vocab(&BarVocab::default(), &songs, &styles, &options);
    let corpus = bar_corpus(&songs, &styles, &vocab, &options);
    assert!(!corpus.valid.is_empty());
    let config = ModelConfig { dropout: 0.0, sounding: Some(vocab.layout()), ..tiny(vocab.size(), CellKind::Fused) };
    assert!(config.param_count() > tiny(vocab.size(), CellKind::Fused).param_count(), "it has the features' maps");
    let tc = TrainConfig { seq_len: 40, batch: 6, lr: 1e-2, max_epochs: 1, steps_per_epoch: Some(5), seed: 5, ..TrainConfig::default() };
    let device = Device::flex();
    let trained = |threads: usize| {
        let mut t = Trainer::new(config.clone(), tc.clone(), &corpus, &device).unwrap();
        t.set_threads(threads);
        let losses: Vec<f64> = (0..5).map(|_| block_on(t.train_step()).unwrap()).collect();
        (losses, t)
    };
    let (alone, trainer) = trained(1);
    let (two, _) = trained(2);
    let shared = {
        let mut t = Trainer::new(config.clone(), tc.clone(), &corpus, &device).unwrap();
        let helpers = vec![Helper::new(&device)];
        let mut team = LocalTeam { answers: vec![None; 1], helpers, dies_at: None, dropped: 0 };
        (0..5).map(|_| block_on(t.train_step_team(&mut team)).unwrap()).collect::<Vec<f64>>()
    };
    for k in 0..5 {
        assert!((alone[k] - two[k]).abs() < 1e-4 && (alone[k] - shared[k]).abs() < 1e-4, "step {k}: {} / {} / {}", alone[k], two[k], shared[k]);
    }
    assert!(alone[4] < alone[0], "it learns: {alone:?}");
    let model = trainer.model.valid();
    let whole = block_on(evaluate(&model, &corpus.valid, 100_000, 1, None, &device)).unwrap();
    let chunked = block_on(evaluate(&model, &corpus.valid, 7, 2, None, &device)).unwrap();
    for (a, b) in whole.token_nll.iter().zip(&chunked.token_nll) {
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4), "chunked scoring differs");
    }
    let file = ModelFile::from_model(&model, &config, &Vocab::Bars(vocab.clone()), TrainingSummary::default()).unwrap();
    let loaded = ModelFile::from_bytes(&file.to_bytes()).unwrap();
    assert_eq!(loaded.config.sounding, Some(vocab.layout()));
    let again = loaded.load(&device).unwrap();
    let music = MusicVocab::Bars(vocab.clone());
    let prompt = music.prompt(&Conditioning::default());
    let config = GenerateConfig { sampling: SamplingParams { seed: 2, ..SamplingParams::default() }, max_tokens: 300, max_beats: Some(16.0), ..GenerateConfig::default() };
    let a = block_on(generate(&model, &music, &prompt, &config, &device, |_| {})).unwrap();
    let b = block_on(generate(&again, &music, &prompt, &config, &device, |_| {})).unwrap();
    assert!(a.tokens.len() > prompt.len() + 20, "it writes music");
    assert_eq!(a.tokens, b.tokens);
}

/// Helpers in this process, reached by plain calls (the page's are Web Workers behind
/// MessagePorts); `dies_at`: helper 0 stops answering from that step on.
struct LocalTeam {
    helpers: Vec<cantor::train::team::Helper>,
    answers: Vec<Option<cantor::train::team::FromHelper>>,
    dies_at: Option<u64>,
    dropped: usize,
}

impl cantor::train::team::Team for LocalTeam {
    fn helpers(&self) -> usize {
        self.helpers.len()
    }
    fn send(&mut self, k: usize, message: &cantor::train::team::ToHelper) {
        if let cantor::train::team::ToHelper::Rows { step, .. } = message
            && k == 0
            && self.dies_at.is_some_and(|d| *step >= d)
        {
            self.answers[k] = None; // it died: no answer comes
            return;
        }
        let helper = &mut self.helpers[k];
        self.answers[k] = block_on(helper.handle(message.clone())).unwrap();
    }
    fn drop_helper(&mut self, k: usize) {
        self.helpers.remove(k);
        self.answers.remove(k);
        self.dropped += 1;
    }
    async fn answer(&mut self, k: usize, _step: u64) -> Option<cantor::train::team::FromHelper> {
        let answer = self.answers[k].take();
        if answer.is_none() {
            self.drop_helper(k);
            self.dies_at = None; // the others live on
        }
        answer
    }
}

#[test]
fn a_step_shared_with_helper_replicas_is_the_same_step_and_survives_a_lost_helper() {
    use cantor::train::team::Helper;
    let _serial = serial();
    let vocab = EventVocab::default();
    let corpus = pattern_corpus(&vocab, 2);
    let config = ModelConfig { dropout: 0.0, ..tiny(vocab.size(), CellKind::Fused) };
    let tc = TrainConfig { seq_len: 32, batch: 8, lr: 1e-2, max_epochs: 1, steps_per_epoch: Some(6), seed: 9, ..TrainConfig::default() };
    let alone = {
        let mut t = Trainer::new(config.clone(), tc.clone(), &corpus, &Device::flex()).unwrap();
        (0..6).map(|_| block_on(t.train_step()).unwrap()).collect::<Vec<f64>>()
    };
    let run = |replicas: usize, dies_at: Option<u64>| {
        let mut t = Trainer::new(config.clone(), tc.clone(), &corpus, &Device::flex()).unwrap();
        // Helpers start as any model of the shape; the leader's first step sends its weights.
        let helpers = (1..replicas).map(|_| Helper::new(&Device::flex())).collect::<Vec<_>>();
        let mut team = LocalTeam { answers: vec![None; helpers.len()], helpers, dies_at, dropped: 0 };
        let losses: Vec<f64> = (0..6).map(|_| block_on(t.train_step_team(&mut team)).unwrap()).collect();
        let leader = block_on(cantor::train::team::weights(&t.model)).unwrap();
        let replicas: Vec<Vec<f32>> = team.helpers.iter().map(|h| block_on(h.weights())).collect();
        (losses, leader, replicas, team.dropped)
    };
    for (replicas, dies_at) in [(2, None), (3, None), (3, Some(3))] {
        let (losses, leader, helpers, dropped) = run(replicas, dies_at);
        for k in 0..6 {
            assert!((losses[k] - alone[k]).abs() < 1e-4, "{replicas} replicas, step {k}: {} vs one worker's {}", losses[k], alone[k]);
        }
        assert_eq!(dropped, usize::from(dies_at.is_some()), "the silent helper was dropped");
        assert_eq!(helpers.len(), replicas - 1 - dropped);
        for h in &helpers {
            let worst = h.iter().zip(&leader).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert_eq!(h.len(), leader.len());
            assert!(worst < 1e-5, "a replica drifted from the leader by {worst}");
        }
    }
    assert!(alone[5] < alone[0], "it learns: {alone:?}");
}
