//! `cantor bench`: train and score on a public piano-roll benchmark (JSB chorales, Nottingham).

use crate::shared::{check_args, device, model_config, progress_bar, report, train_config, LoopArgs, ModelArgs, Res};
use cantor::benchmark::{self, PianoRollDataset};
use cantor::benchmark::{evaluate_dynamic, gradient_rms, read_for_cache, DynamicConfig, Mix};
use cantor::encoding::{FrameOrder, FrameVocab, Vocab};
use cantor::midi::{write_song, Song};
use cantor::model::{ModelConfig, ModelFile};
use cantor::settings;
use cantor::train::{block_on, TrainConfig, Trainer};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
enum Dataset {
    Jsb,
    Nottingham,
}

#[derive(Args)]
pub(crate) struct BenchArgs {
    #[arg(value_enum)]
    dataset: Dataset,
    /// The dataset JSON (default: ../shared/benchmarks/<name>.json).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Only compute the per-key baselines.
    #[arg(long)]
    baselines_only: bool,
    /// Save the trained model here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Let the model put probability on unordered frames (off: pitches within a frame ascend).
    #[arg(long)]
    no_frame_mask: bool,
    /// Within a frame, highest pitch first (the melody first) instead of lowest first.
    #[arg(long)]
    descending: bool,
    /// Train on every piece in all 12 keys (shifts −5…+6) instead of ±`--transpose`.
    #[arg(long)]
    all_keys: bool,
    /// Give each token the previous frame's pitches and the current frame's so far, in its input
    /// and its output (a held note can be copied); needs the frame mask.
    #[arg(long)]
    frame_context: bool,
    /// Score this saved benchmark model (`--out` of an earlier run) instead of training one.
    #[arg(long)]
    model_file: Option<PathBuf>,
    /// Also score with dynamic evaluation (the model takes an SGD step on each chunk after
    /// scoring it), at each of these step sizes on the validation pieces, then on the test pieces
    /// at the one validation liked best.
    #[arg(long, value_delimiter = ',')]
    dynamic_lr: Vec<f64>,
    /// Dynamic evaluation: tokens scored between updates.
    #[arg(long, default_value_t = 32)]
    dynamic_chunk: usize,
    /// Dynamic evaluation: after each update the weights move this share of the way back to the
    /// trained ones (each value is tried with each step size).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    dynamic_decay: Vec<f64>,
    /// Dynamic evaluation: the largest global L2 norm of a chunk's gradient.
    #[arg(long, default_value_t = settings::CLIP_NORM.default as f32)]
    dynamic_clip: f32,
    /// Dynamic evaluation: divide each weight's step by its RMS gradient over this many chunks of
    /// the training pieces (0: plain SGD steps).
    #[arg(long, default_value_t = 0)]
    dynamic_rms: usize,
    /// Dynamic evaluation: start each piece (each group of `--dynamic-batch`) from the trained
    /// weights, so the model adapts within a piece only.
    #[arg(long)]
    dynamic_per_piece: bool,
    /// Dynamic evaluation: pieces read side by side.
    #[arg(long, default_value_t = 1)]
    dynamic_batch: usize,
    /// Also score with a neural cache (the model's prediction mixed with the tokens that followed
    /// earlier, similar states of the same piece): each of these θ (the sharpness of the cosine
    /// similarity) is tried with each `--cache-lambda` on the validation pieces, the test pieces are
    /// scored at the pair validation liked best.
    #[arg(long, value_delimiter = ',')]
    cache_theta: Vec<f32>,
    /// Neural cache: the share of the probability the cache gets.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.2,0.3")]
    cache_lambda: Vec<f64>,
    /// Neural cache: where an earlier state of the piece is at least this alike (cosine), the cache
    /// gets `--cache-lambda-near` instead (each τ is tried with each pair of λs, and without).
    #[arg(long, value_delimiter = ',')]
    cache_near: Vec<f32>,
    /// Neural cache: the cache's share where the piece comes back to a state it has been in.
    #[arg(long, value_delimiter = ',', default_value = "0.3,0.5")]
    cache_lambda_near: Vec<f64>,
    /// Write the dataset's training and validation pieces as MIDI files into this folder (4/4,
    /// 96 bpm; JSB frames are quarter notes, Nottingham's eighths) and stop.
    #[arg(long)]
    export_midi: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    train: LoopArgs,
}

pub(crate) fn run(a: BenchArgs) -> Res {
    let name = match a.dataset {
        Dataset::Jsb => "jsb_chorales",
        Dataset::Nottingham => "nottingham",
    };
    let path = a.data.clone().unwrap_or_else(|| PathBuf::from(format!("../shared/benchmarks/{name}.json")));
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {} ({e}); pass --data", path.display()))?;
    let data = PianoRollDataset::from_json(&bytes)?;
    println!(
        "{name}: {} / {} / {} pieces, {} test frames",
        data.train.len(),
        data.valid.len(),
        data.test.len(),
        PianoRollDataset::frames(&data.test)
    );
    if let Some(dir) = &a.export_midi {
        let beats_per_frame = if matches!(a.dataset, Dataset::Jsb) { 1.0 } else { 0.5 };
        std::fs::create_dir_all(dir)?;
        for (split, pieces) in [("train", &data.train), ("valid", &data.valid)] {
            for (i, piece) in pieces.iter().enumerate() {
                let mut song = Song::new(benchmark::piece_notes(piece, beats_per_frame));
                song.tempo = cantor::midi::TempoMap::constant(96.0);
                song.time_signatures = vec![cantor::midi::TimeSignature { beat: 0.0, numerator: 4, denominator: 4 }];
                song.retime();
                std::fs::write(dir.join(format!("{name}-{split}-{:03}.mid", i + 1)), write_song(&song))?;
            }
        }
        println!("wrote {} MIDI files to {}", data.train.len() + data.valid.len(), dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!("baseline per-key marginal: {:.2} nats/frame", benchmark::marginal_baseline(&data));
    println!("baseline per-key Markov:   {:.2} nats/frame", benchmark::markov_baseline(&data));
    if a.baselines_only {
        return Ok(ExitCode::SUCCESS);
    }
    let order = if a.descending { FrameOrder::Descending } else { FrameOrder::Ascending };
    let saved = match &a.model_file {
        Some(path) => {
            let file = ModelFile::from_bytes(&std::fs::read(path)?)?;
            let Vocab::Frames(vocab) = file.vocab else { return Err("that model was not trained on a piano-roll benchmark".into()) };
            Some((file, vocab))
        }
        None => None,
    };
    let vocab = saved.as_ref().map_or_else(|| FrameVocab::default().with_order(order), |(_, v)| *v);
    check_args(&a.train, &a.model, FrameVocab::default().size())?;
    let t = a.train.transpose as i32;
    let shifts: Vec<i32> = if a.all_keys { (-5..=6).collect() } else { (-t..=t).collect() };
    let device = device(a.model.wgpu)?;
    let masked = !a.no_frame_mask;
    if a.frame_context && !masked {
        return Err("--frame-context needs the frame mask: leave out --no-frame-mask".into());
    }
    let (model, config, summary) = if let Some((file, _)) = &saved {
        let (corpus, test) = benchmark::frame_corpus(&data, &vocab, &[0]);
        let model = file.load(&device)?.with_recurrence(a.model.recurrence());
        println!("scoring the saved model {} ({} parameters)", a.model_file.as_ref().map_or(String::new(), |p| p.display().to_string()), file.config.param_count());
        (model, file.config.clone(), (file.summary.clone(), corpus, test))
    } else {
        let (corpus, test) = benchmark::frame_corpus(&data, &vocab, &shifts);
        let config = ModelConfig { frame_context: a.frame_context, ..model_config(vocab.size(), &a.model) };
        println!("training {} parameters on {} tokens per epoch", config.param_count(), corpus.train_tokens());
        let tc = TrainConfig { frame_mask: masked.then_some(vocab), ..train_config(&a.train) };
        let mut trainer = Trainer::new(config.clone(), tc, &corpus, &device)?;
        trainer.model = trainer.model.clone().with_recurrence(a.model.recurrence());
        let bar = progress_bar(trainer.total_steps() as u64);
        let reason = block_on(trainer.run(|p| report(&bar, p)))?;
        bar.finish_and_clear();
        println!(
            "stopped: {reason:?} after {} epochs, {} steps, {:.1} min",
            trainer.epoch,
            trainer.step,
            trainer.elapsed_s() / 60.0
        );
        (trainer.best_model(), config, (trainer.summary.clone(), corpus, test))
    };
    let (summary, corpus, test) = summary;
    let valid = block_on(benchmark::test_nll(&model, &corpus.valid, &vocab, masked, &device))?;
    let score = block_on(benchmark::test_nll(&model, &test, &vocab, masked, &device))?;
    println!("valid NLL: {:.3} nats/frame", valid.nll_per_frame);
    println!("TEST NLL: {:.3} nats/frame over {} frames ({:.4} nats/token)", score.nll_per_frame, score.frames, score.nll_per_token);
    if !a.dynamic_lr.is_empty() {
        let rms = block_on(gradient_rms(&model, &corpus.train, a.dynamic_chunk, a.dynamic_rms, masked.then_some(&vocab), &device))?;
        let dynamic = |(lr, decay): (f64, f64), pieces: &[Vec<u16>]| -> Result<benchmark::FrameScore, cantor::train::TrainError> {
            let config = DynamicConfig { lr, chunk: a.dynamic_chunk, batch: a.dynamic_batch, clip_norm: a.dynamic_clip, decay, per_piece: a.dynamic_per_piece };
            let eval = block_on(evaluate_dynamic(&model, pieces, config, masked.then_some(&vocab), rms.as_ref(), &device))?;
            Ok(benchmark::score(&eval, pieces, &vocab))
        };
        let mut best = (f64::INFINITY, (0.0, 0.0));
        for &lr in &a.dynamic_lr {
            for &decay in &a.dynamic_decay {
                let t0 = std::time::Instant::now();
                let v = dynamic((lr, decay), &corpus.valid)?;
                println!("dynamic evaluation, step {lr}, decay {decay}: valid NLL {:.3} nats/frame ({:.0} s)", v.nll_per_frame, t0.elapsed().as_secs_f64());
                if v.nll_per_frame < best.0 {
                    best = (v.nll_per_frame, (lr, decay));
                }
            }
        }
        let s = dynamic(best.1, &test)?;
        println!(
            "TEST NLL with dynamic evaluation (step {}, decay {}, chosen on validation): {:.3} nats/frame over {} frames ({:.4} nats/token)",
            best.1 .0, best.1 .1, s.nll_per_frame, s.frames, s.nll_per_token
        );
    }
    if !a.cache_theta.is_empty() {
        let shares = a.cache_lambda.iter().chain(&a.cache_lambda_near);
        if a.cache_theta.iter().any(|t| !(0.0..=1000.0).contains(t)) || shares.clone().any(|l| !(0.0..1.0).contains(l)) || a.cache_near.iter().any(|t| !(-1.0..=1.0).contains(t)) {
            return Err("--cache-theta takes values from 0 to 1000, --cache-lambda and --cache-lambda-near values from 0 up to (not including) 1, --cache-near cosines from -1 to 1".into());
        }
        // The model alone (λ = 0) is always a candidate: validation may prefer no cache.
        let lambdas: Vec<f64> = std::iter::once(0.0).chain(a.cache_lambda.iter().copied().filter(|&l| l > 0.0)).collect();
        let mut mixes: Vec<Mix> = lambdas.iter().map(|&l| Mix::plain(l)).collect();
        for &tau in &a.cache_near {
            for &lambda in &lambdas {
                mixes.extend(a.cache_lambda_near.iter().map(|&near| Mix { lambda, near: Some((tau, near)) }));
            }
        }
        let name = |m: &Mix| match m.near {
            None => format!("λ {}", m.lambda),
            Some((tau, near)) => format!("λ {}, {near} from cos {tau}", m.lambda),
        };
        let t0 = std::time::Instant::now();
        let read = |pieces: &[Vec<u16>]| block_on(read_for_cache(&model, pieces, 256, 16, masked.then_some(&vocab), &device));
        let (valid_read, test_read) = (read(&corpus.valid)?, read(&test)?);
        let mut best = (f64::INFINITY, (0.0f32, Mix::plain(0.0)));
        for &theta in &a.cache_theta {
            for (eval, mix) in valid_read.evaluate(theta, &mixes).iter().zip(&mixes) {
                let v = benchmark::score(eval, &corpus.valid, &vocab);
                println!("neural cache, θ {theta}, {}: valid NLL {:.3} nats/frame", name(mix), v.nll_per_frame);
                if v.nll_per_frame < best.0 {
                    best = (v.nll_per_frame, (theta, *mix));
                }
            }
        }
        let (theta, mix) = best.1;
        let s = benchmark::score(&test_read.evaluate(theta, &[mix])[0], &test, &vocab);
        println!(
            "TEST NLL with the neural cache (θ {theta}, {}, chosen on validation): {:.3} nats/frame over {} frames ({:.4} nats/token; {:.0} s)",
            name(&mix),
            s.nll_per_frame,
            s.frames,
            s.nll_per_token,
            t0.elapsed().as_secs_f64()
        );
    }
    if let Some(out) = a.out {
        let file = ModelFile::from_model(&model, &config, &Vocab::Frames(vocab), summary)?;
        std::fs::write(out, file.to_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
