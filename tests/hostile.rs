//! Bad input from a user or a stranger's file: every one is refused with a sentence, quickly, with
//! no panic and no huge allocation. One validated configuration ([`cantor::settings`]) is behind
//! the CLI, the core, the model-file reader and the share codec.

mod common;

use burn::prelude::Device;
use cantor::encoding::corpus::TokenCorpus;
use cantor::encoding::{EventVocab, Vocab};
use cantor::generate::{generate, GenerateConfig, SamplingParams, Scale};
use cantor::midi::{read_notes, read_song, MidiError, Note};
use cantor::model::{ModelConfig, ModelFile, ModelFileError, TrainingSummary};
use cantor::settings;
use cantor::share::{self, Clip, Recipe};
use cantor::train::{block_on, TrainConfig, TrainError, Trainer};
use rand::{rngs::StdRng, RngExt, SeedableRng};
use std::process::Command;
use std::time::Instant;

fn cantor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cantor"))
}

fn tiny_model_file() -> Vec<u8> {
    let vocab = EventVocab::default();
    let config = ModelConfig { embed: 8, hidden: 16, layers: 1, ..ModelConfig::new(vocab.size()) };
    let device = Device::flex();
    let model = config.init(&device);
    ModelFile::from_model(&model, &config, &Vocab::Events(vocab), TrainingSummary::default()).unwrap().to_bytes()
}

/// The model file with its JSON header changed by `edit`.
fn with_header(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[12..12 + len]).unwrap();
    edit(&mut header);
    let json = serde_json::to_vec(&header).unwrap();
    let mut out = bytes[..8].to_vec();
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[12 + len..]);
    out
}

#[test]
fn cli_refuses_impossible_training_settings_with_a_sentence() {
    let file = common::shared("midi/jazz-soft-test-midi-files/test-c-major-scale.mid");
    let out = std::env::temp_dir().join(format!("cantor-hostile-{}.cantor", std::process::id()));
    for (flag, value, words) in [
        ("--batch", "0", "batch size"),
        ("--layers", "0", "number of layers"),
        ("--hidden", "0", "hidden size"),
        ("--embed", "0", "embedding size"),
        ("--dropout", "2", "dropout"),
        ("--seq-len", "1", "sequence length"),
        ("--lr", "5", "learning rate"),
        ("--hidden", "100000", "hidden size"),
    ] {
        let t0 = Instant::now();
        let run = cantor().arg("train").arg(&file).arg("--out").arg(&out).args([flag, value]).output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{flag} {value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{flag} {value}: {stderr}");
        assert!(stderr.contains(words) && stderr.contains(value), "{flag} {value}: the sentence names the setting and the value: {stderr}");
        assert!(t0.elapsed().as_secs() < 30, "refused before training");
        assert!(!out.exists(), "nothing written");
    }
}

#[test]
fn the_core_refuses_bad_settings_as_values() {
    let corpus = TokenCorpus { train: vec![(0..200).map(|i| (i % 50) as u16 + 3).collect()], ..Default::default() };
    let model = ModelConfig { embed: 8, hidden: 16, layers: 1, ..ModelConfig::new(EventVocab::default().size()) };
    let device = Device::flex();
    for config in [TrainConfig { batch: 0, ..TrainConfig::default() }, TrainConfig { seq_len: 0, ..TrainConfig::default() }, TrainConfig { lr: f64::NAN, ..TrainConfig::default() }] {
        assert!(matches!(Trainer::new(model.clone(), config, &corpus, &device), Err(TrainError::Setting(_))));
    }
    for bad in [ModelConfig { layers: 0, ..model.clone() }, ModelConfig { hidden: 0, ..model.clone() }, ModelConfig { dropout: 2.0, ..model.clone() }] {
        let e = Trainer::new(bad, TrainConfig::default(), &corpus, &device).err().expect("refused");
        assert!(e.to_string().ends_with("is not."), "{e}");
    }
    // 40 M parameters is the most a browser tab is asked to train.
    let huge = ModelConfig { hidden: 2048, layers: 8, ..model.clone() };
    assert!(huge.validate().unwrap_err().to_string().contains("larger than Cantor can train"));
    // Tokens the vocabulary does not have (a corrupt corpus message) are refused, not indexed.
    let wild = TokenCorpus { train: vec![vec![1, 60_000, 3, 4, 5, 6, 7, 8, 9, 10]], ..Default::default() };
    let tc = TrainConfig { seq_len: 4, batch: 1, ..TrainConfig::default() };
    assert!(matches!(Trainer::new(model.clone(), tc, &wild, &device), Err(TrainError::Setting(_))));
}

#[test]
fn hostile_model_headers_are_refused_before_anything_is_allocated() {
    let good = tiny_model_file();
    assert!(ModelFile::from_bytes(&good).is_ok());
    let cases: Vec<(Box<dyn Fn(&mut serde_json::Value)>, &str)> = vec![
        (Box::new(|h| h["model"]["hidden"] = (1u64 << 40).into()), "hidden size"),
        (Box::new(|h| h["model"]["layers"] = (1u64 << 30).into()), "number of layers"),
        (Box::new(|h| h["model"]["embed"] = 0.into()), "embedding size"),
        (Box::new(|h| h["model"]["dropout"] = 7.5.into()), "dropout"),
        (Box::new(|h| h["vocab"]["steps_per_beat"] = 0.into()), "steps per beat"),
        (Box::new(|h| h["vocab"]["steps_per_beat"] = 65535.into()), "steps per beat"),
        (Box::new(|h| h["vocab"]["max_shift"] = 0.into()), "time shift"),
        (Box::new(|h| { h["model"]["hidden"] = 2048.into(); h["model"]["layers"] = 8.into() }), "larger than Cantor can train"),
        // The bar layout a model reads what is sounding with must be its own vocabulary's.
        (Box::new(|h| h["model"]["sounding"] = serde_json::to_value(cantor::encoding::BarVocab::default().layout()).unwrap()), "does not match its vocabulary"),
    ];
    for (edit, words) in cases {
        let bytes = with_header(&good, edit);
        let t0 = Instant::now();
        let err = ModelFile::from_bytes(&bytes).unwrap_err();
        assert!(matches!(err, ModelFileError::OutOfRange(_)), "{err:?}");
        let sentence = err.to_string();
        assert!(sentence.contains(words), "{sentence}");
        assert!(sentence.starts_with("this model file describes a model Cantor cannot use"), "{sentence}");
        assert!(t0.elapsed().as_millis() < 100);
    }
    // Weights far larger than the described model are not weights of it.
    let mut padded = good.clone();
    padded.extend(std::iter::repeat_n(0u8, 2 << 20));
    assert!(matches!(ModelFile::from_bytes(&padded), Err(ModelFileError::Weights(_))));
    // The CLI says the same sentence instead of aborting.
    let path = std::env::temp_dir().join(format!("cantor-hostile-model-{}.cantor", std::process::id()));
    std::fs::write(&path, with_header(&good, |h| h["model"]["hidden"] = (1u64 << 40).into())).unwrap();
    let out_mid = path.with_extension("mid");
    let run = cantor().arg("generate").arg(&path).arg("--out").arg(&out_mid).output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot use") && stderr.contains("hidden size"), "{stderr}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn generation_refuses_settings_a_link_could_not_carry() {
    let vocab = EventVocab::default();
    let config = ModelConfig { embed: 8, hidden: 16, layers: 1, ..ModelConfig::new(vocab.size()) };
    let device = Device::flex();
    let model = config.init(&device);
    let base = GenerateConfig { max_tokens: 20, max_beats: Some(4.0), ..GenerateConfig::default() };
    for bad in [
        GenerateConfig { sampling: SamplingParams { temperature: 12.0, ..base.sampling.clone() }, ..base.clone() },
        GenerateConfig { sampling: SamplingParams { top_p: 0.0, ..base.sampling.clone() }, ..base.clone() },
        GenerateConfig { bpm: 1000.0, ..base.clone() },
        GenerateConfig { max_beats: Some(0.0), ..base.clone() },
        GenerateConfig { sampling: SamplingParams { scale: Some(Scale { root: 14, minor: false }), ..base.sampling.clone() }, ..base.clone() },
    ] {
        assert!(matches!(block_on(generate(&model, &vocab, &[], &bad, &device, |_| {})), Err(TrainError::Setting(_))), "{bad:?}");
    }
    let wild_primer = [1u16, 40_000];
    assert!(block_on(generate(&model, &vocab, &wild_primer, &base, &device, |_| {})).is_err());
    assert!(block_on(generate(&model, &vocab, &[], &base, &device, |_| {})).is_ok());
}

fn clip_with(config: GenerateConfig) -> Clip {
    let notes = vec![Note { pitch: 60, velocity: 80, start: 0.0, duration: 1.0, start_s: 0.0, duration_s: 0.5, channel: 0, program: 0, drum: false, track: 0 }];
    let recipe = Recipe { model: "00112233445566aa".into(), config, primer: vec![1], primer_label: String::new(), form: None };
    Clip::new(notes, 120.0, 12, Some(recipe))
}

#[test]
fn the_share_encoder_refuses_what_the_decoder_would() {
    let hot = GenerateConfig { sampling: SamplingParams { temperature: 12.0, ..SamplingParams::default() }, ..GenerateConfig::default() };
    let err = share::encode(&clip_with(hot)).unwrap_err();
    assert!(err.to_string().contains("temperature"), "{err}");
    let slow = Clip { bpm: 5.0, ..clip_with(GenerateConfig::default()) };
    assert!(share::encode(&slow).unwrap_err().to_string().contains("tempo"));
}

/// Property: every configuration the page's fields accept (each setting anywhere in its bounds)
/// round-trips through a share link, recipe included.
#[test]
fn every_configuration_the_page_can_submit_round_trips_through_a_link() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut pick = |r: settings::Real| {
        let x: f64 = rng.random();
        match rng.random_range(0..6) {
            0 => r.min,
            1 => r.max,
            _ => r.min + x * (r.max - r.min),
        }
    };
    let mut configs = Vec::new();
    for _ in 0..500 {
        configs.push((pick(settings::TEMPERATURE) as f32, pick(settings::TOP_P) as f32, pick(settings::BEATS), pick(settings::BPM)));
    }
    let mut rng = StdRng::seed_from_u64(8);
    for (i, (temperature, top_p, beats, bpm)) in configs.into_iter().enumerate() {
        let scale = (i % 3 == 0).then(|| Scale { root: (i % 12) as u8, minor: i % 2 == 0 });
        let config = GenerateConfig {
            sampling: SamplingParams { temperature, top_p, top_k: rng.random_range(0..=settings::TOP_K.max as usize), seed: rng.random(), scale },
            max_tokens: rng.random_range(1..=settings::MAX_TOKENS.max as usize),
            max_beats: Some(beats),
            program: rng.random_range(0..=127),
            bpm,
        };
        config.validate().unwrap();
        let clip = Clip { bpm, ..clip_with(config.clone()) };
        let link = share::encode(&clip).unwrap_or_else(|e| panic!("{config:?}: {e}"));
        let back = share::decode(&link).unwrap_or_else(|e| panic!("{config:?}: {e}"));
        assert_eq!(back.recipe.unwrap().config, config);
        assert_eq!(back.bpm, bpm);
    }
}

#[test]
fn a_file_with_no_readable_note_is_an_error_with_its_reason() {
    // A damaged first track: its first event is a data byte with no running status.
    let mut bytes = b"MThd\0\0\0\x06\0\x01\0\x01\x01\xe0MTrk\0\0\0\x08".to_vec();
    bytes.extend_from_slice(&[0x00, 0x3c, 0x40, 0x00, 0x00, 0xff, 0x2f, 0x00]);
    let song = read_song(&bytes).unwrap();
    assert!(song.notes.is_empty() && song.warnings.len() >= 2, "{:?}", song.warnings);
    let err = read_notes(&bytes).unwrap_err();
    assert!(matches!(err, MidiError::NoNotes(ref why) if !why.is_empty()));
    assert!(err.to_string().starts_with("no note could be read from it ("), "{err}");
    let empty = common::jazz_soft("test-empty.mid");
    assert_eq!(read_notes(&empty).unwrap_err().to_string(), "the file contains no notes");
    assert!(read_notes(&common::jazz_soft("test-c-major-scale.mid")).is_ok());
}
