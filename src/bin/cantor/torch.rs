//! `cantor export-torch` and `cantor import-torch`: a run folder for `scripts/torch_train.py`
//! (PyTorch's DDP under `torchrun`, on many GPUs and machines), and its checkpoint back as a model
//! file the page and the CLI load (`src/torch.rs` says how the weights map).

use crate::shared::{load_for_corpus, model_config, train_config, LoopArgs, ModelArgs, Res};
use burn::prelude::Device;
use cantor::model::{ModelFile, TrainingSummary};
use cantor::shards;
use cantor::torch::{self, Run, RunModel, RunTrain};
use cantor::train::{block_on, FlatAdamConfig};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct ExportArgs {
    /// A corpus built by `cantor corpus build`.
    #[arg(long)]
    corpus: PathBuf,
    /// The run folder to write (run.json, vocab.json, init.safetensors).
    #[arg(long)]
    out: PathBuf,
    /// Start from this model (fine-tuning) instead of new weights; it must have the corpus's
    /// vocabulary.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Optimizer steps the PyTorch run takes by default (its --steps or --minutes override it).
    #[arg(long, default_value_t = 10_000)]
    steps: usize,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    train: LoopArgs,
}

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// A checkpoint of a run (RUN/step-NNNNNNN.safetensors); run.json and vocab.json are read
    /// from the same folder.
    checkpoint: PathBuf,
    /// The model file to write.
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn export(a: ExportArgs) -> Res {
    let manifest = shards::read_manifest(&a.corpus)?;
    let vocab = manifest.vocab.clone();
    let device = Device::flex();
    let (config, model) = match &a.init {
        Some(path) => load_for_corpus(path, &vocab, &device)?,
        None => {
            let config = model_config(vocab.size(), &a.model);
            config.validate()?;
            device.seed(a.train.seed);
            let model = config.init(&device);
            (config, model)
        }
    };
    torch::check_shape(&config)?;
    std::fs::create_dir_all(&a.out)?;
    let tensors = block_on(torch::to_torch(&model, &config))?;
    torch::write_safetensors(&a.out.join("init.safetensors"), &config, &tensors)?;
    let tc = train_config(&a.train);
    let adam = FlatAdamConfig::new(tc.clip_norm);
    let run = Run {
        format: torch::FORMAT.into(),
        version: 1,
        model: RunModel { vocab_size: config.vocab_size, embed: config.embed, hidden: config.hidden, layers: config.layers, dropout: config.dropout },
        train: RunTrain {
            lr: tc.lr,
            warmup_steps: tc.warmup_steps,
            clip_norm: adam.clip_norm,
            beta_1: adam.beta_1,
            beta_2: adam.beta_2,
            epsilon: adam.epsilon,
            batch: tc.batch,
            seq_len: tc.seq_len,
            steps: a.steps,
            seed: a.train.seed,
            log_every: 10,
        },
        corpus: std::fs::canonicalize(&a.corpus)?.to_string_lossy().into_owned(),
        init: "init.safetensors".into(),
    };
    std::fs::write(a.out.join("run.json"), serde_json::to_string_pretty(&run)?)?;
    std::fs::write(a.out.join("vocab.json"), serde_json::to_string(&vocab)?)?;
    eprintln!(
        "Wrote {} ({} parameters). Train with:\n  torchrun --nproc-per-node N scripts/torch_train.py {}\nthen: cantor import-torch {}/step-NNNNNNN.safetensors --out model.cantor",
        a.out.display(),
        config.param_count(),
        a.out.display(),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn import(a: ImportArgs) -> Res {
    let dir = a.checkpoint.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), PathBuf::from);
    let (run, vocab) = torch::read_run(&dir)?;
    let config = run.model_config();
    let bytes = std::fs::read(&a.checkpoint).map_err(|e| format!("could not read {}: {e}", a.checkpoint.display()))?;
    let model = torch::from_torch(&bytes, &config, &Device::flex())?;
    let summary = TrainingSummary { stopped: Some(format!("trained with PyTorch ({})", a.checkpoint.display())), ..TrainingSummary::default() };
    let file = ModelFile::from_model(&model, &config, &vocab, summary)?;
    std::fs::write(&a.out, file.to_bytes())?;
    eprintln!("Saved {} ({} parameters).", a.out.display(), config.param_count());
    Ok(ExitCode::SUCCESS)
}
