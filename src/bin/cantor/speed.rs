//! `cantor speed`: time training steps and generation for one model size.

use crate::shared::{device, model_config, Cell, ModelArgs, Res};
use cantor::encoding::EventVocab;
use cantor::generate::{generate, GenerateConfig};
use cantor::train::{block_on, TrainConfig, Trainer};
use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct SpeedArgs {
    #[arg(long, default_value_t = 300)]
    vocab: usize,
    #[arg(long, default_value_t = 20)]
    steps: usize,
    #[arg(long, default_value_t = 200)]
    gen_tokens: usize,
    #[arg(long, default_value_t = 128)]
    seq_len: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[command(flatten)]
    model: ModelArgs,
}

pub(crate) fn run(a: SpeedArgs) -> Res {
    let device = device(a.model.wgpu)?;
    let config = model_config(a.vocab, &a.model);
    // Random tokens are enough to time the arithmetic.
    let seqs: Vec<Vec<u16>> = (0..64)
        .map(|i| (0..2048u32).map(|k| ((k * 7919 + i * 104_729) % a.vocab as u32) as u16).collect())
        .collect();
    let corpus = cantor::encoding::corpus::TokenCorpus { train: seqs, valid: vec![], train_files: vec![], valid_files: vec![], ..Default::default() };
    let tc = TrainConfig { seq_len: a.seq_len, batch: a.batch, ..TrainConfig::default() };
    let mut trainer = Trainer::new(config.clone(), tc, &corpus, &device)?;
    trainer.model = trainer.model.clone().with_recurrence(a.model.recurrence());
    trainer.set_threads(a.model.threads());
    block_on(trainer.train_step())?; // warm-up
    block_on(trainer.train_step())?;
    let t0 = std::time::Instant::now();
    for _ in 0..a.steps {
        block_on(trainer.train_step())?;
    }
    let step_s = t0.elapsed().as_secs_f64() / a.steps as f64;
    let model = trainer.best_model();
    let vocab = EventVocab::default();
    let gen_model = if config.vocab_size == vocab.size() { model } else { model_config(vocab.size(), &a.model).init(&device) };
    let gcfg = GenerateConfig { max_tokens: a.gen_tokens, max_beats: None, ..GenerateConfig::default() };
    block_on(generate(&gen_model, &vocab, &[], &GenerateConfig { max_tokens: 10, ..gcfg.clone() }, &device, |_| {}))?;
    let t0 = std::time::Instant::now();
    let g = block_on(generate(&gen_model, &vocab, &[], &gcfg, &device, |_| {}))?;
    let gen_s = t0.elapsed().as_secs_f64();
    let new_tokens = g.tokens.len() - g.primer_len;
    println!(
        "{}",
        serde_json::json!({
            "impl": "cantor-burn", "backend": if a.model.wgpu { "wgpu" } else { "flex" },
            "cell": if a.model.cell == Cell::Burn { "burn" } else { "fused" },
            "recurrence": if trainer.model.uses_sequence_op(&device) { "sequence" } else { "steps" },
            "params": config.param_count(), "step_ms": step_s * 1e3,
            "train_tokens_per_s": (a.batch * a.seq_len) as f64 / step_s,
            "gen_tokens_per_s": new_tokens as f64 / gen_s,
        })
    );
    Ok(ExitCode::SUCCESS)
}
