//! Outgrowing one machine: a corpus on disk (built in parallel, deterministic, resumable,
//! duplicates dropped, bad files reported), training that reads it memory-mapped exactly as it
//! reads the same pieces in memory, and the PyTorch bridge (export → torchrun with two processes →
//! import → generate; the same next-token probabilities in both engines; hostile checkpoints
//! refused). The PyTorch parts use the pinned PyTorch that `scripts/torch_env.sh` installs.

mod common;

use burn::prelude::*;
use burn::tensor::TensorData;
use cantor::encoding::corpus::TokenCorpus;
use cantor::model::{ModelConfig, ModelFile};
use cantor::shards::{self, BuildOptions, ShardCorpus};
use cantor::train::{block_on, TrainConfig, Trainer};
use std::path::{Path, PathBuf};
use std::process::Command;

fn cantor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cantor"))
}

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("cantor-scale-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// A folder of real test files in two style folders, one exact duplicate, a damaged file (it
/// still reads, with a warning), a file that is not MIDI and an empty one.
fn collection() -> PathBuf {
    let dir = tmp("files");
    let src = common::shared("midi/jazz-soft-test-midi-files");
    for (folder, name) in [
        ("a", "test-karaoke-kar.mid"),
        ("a", "test-multichannel-chords-1.mid"),
        ("a", "test-c-major-scale.mid"),
        ("a", "test-all-gm-sounds.mid"),
        ("b", "test-multichannel-chords-3.mid"),
        ("b", "test-all-gm-percussion.mid"),
        ("b", "test-2-tracks-type-1.mid"),
        ("b", "test-running-status-metaevent.mid"),
        ("b", "test-corrupt-file-missing-byte.mid"),
        ("b", "test-not-a-midi-file.mid"),
        ("b", "test-empty-file.mid"),
    ] {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        std::fs::copy(src.join(name), dir.join(folder).join(name)).unwrap();
    }
    std::fs::copy(src.join("test-c-major-scale.mid"), dir.join("b/same-scale-again.mid")).unwrap();
    dir
}

/// Every file of a corpus folder but its report, by name.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tokens" || e == "index" || e == "json"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

fn build(files: &Path, out: &Path, options: &BuildOptions) -> shards::BuildReport {
    shards::build(&[files.to_path_buf()], out, options, |_, _| {}).unwrap()
}

#[test]
fn a_corpus_build_is_deterministic_resumable_drops_duplicates_and_reports_bad_files() {
    let files = collection();
    let options = BuildOptions { shard_files: 4, valid_fraction: 0.3, ..BuildOptions::default() };
    let (one, two) = (tmp("one"), tmp("two"));
    let report = build(&files, &one, &options);
    assert_eq!(report.found, 12);
    assert_eq!(report.duplicates, 1, "the copied scale");
    let bad: Vec<&str> = report.unreadable.iter().map(|(f, _)| f.rsplit('/').next().unwrap()).collect();
    assert_eq!(bad.len(), 2, "{:?}", report.unreadable);
    for name in ["test-not-a-midi-file.mid", "test-empty-file.mid"] {
        assert!(bad.contains(&name), "{name} reported: {bad:?}");
    }
    assert_eq!(report.kept, 9);
    let tsv = std::fs::read_to_string(one.join("report.tsv")).unwrap();
    assert!(tsv.contains("test-not-a-midi-file.mid\tunreadable\t") && tsv.contains("same-scale-again.mid\tduplicate\t"), "{tsv}");
    // Built again elsewhere, with one thread instead of all: the same bytes.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| build(&files, &two, &options));
    assert_eq!(contents(&one), contents(&two));
    // Run again on a finished corpus: nothing is read again.
    let again = build(&files, &one, &options);
    assert_eq!((again.already, again.kept, again.shards), (12, 0, 0));
    assert_eq!(contents(&one), contents(&two));
    // Interrupted after its first shard, then resumed: the same corpus as in one go.
    let three = tmp("three");
    let first = build(&files, &three, &BuildOptions { max_shards: Some(1), ..options.clone() });
    assert_eq!(first.shards, 1);
    assert!(shards::read_manifest(&three).unwrap().shards.len() == 1);
    let rest = build(&files, &three, &options);
    assert_eq!(rest.already, 4);
    assert_eq!(contents(&three), contents(&one));
    // New files are appended; those read before stay where they are.
    std::fs::copy(common::shared("midi/jazz-soft-test-midi-files/test-multichannel-chords-2.mid"), files.join("b/new.mid")).unwrap();
    let added = build(&files, &one, &options);
    assert_eq!((added.already, added.kept, added.shards), (12, 1, 1));
    let corpus = ShardCorpus::open(&one, true).unwrap();
    assert_eq!(corpus.train_pieces() + corpus.valid_pieces(), 10);
    assert!(corpus.valid_pieces() >= 1, "some files held out at 30 %");
    // A damaged shard is found and named.
    let shard = one.join("shard-00000.tokens");
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes[10] ^= 0xFF;
    std::fs::write(&shard, bytes).unwrap();
    let e = ShardCorpus::open(&one, true).err().unwrap().to_string();
    assert!(e.contains("shard-00000") && e.contains("damaged"), "{e}");
}

#[test]
fn training_on_the_corpus_on_disk_is_training_on_the_same_pieces_in_memory() {
    let files = collection();
    let dir = tmp("same");
    build(&files, &dir, &BuildOptions { valid_fraction: 0.0, ..BuildOptions::default() });
    let corpus = ShardCorpus::open(&dir, true).unwrap();
    let pieces = corpus.train_in_memory();
    let bar = corpus.manifest.anchor;
    let heads: Vec<usize> = pieces.iter().map(|p| p.iter().position(|&t| Some(t) == bar).unwrap()).collect();
    let memory = TokenCorpus { train: pieces.clone(), train_heads: heads, window_anchor: bar, ..TokenCorpus::default() };
    let config = ModelConfig { embed: 16, hidden: 32, layers: 1, dropout: 0.0, ..ModelConfig::new(corpus.manifest.vocab_size) };
    let tc = TrainConfig { seq_len: 48, batch: 6, lr: 1e-2, warmup_steps: 1, max_epochs: 1, steps_per_epoch: Some(5), seed: 3, ..TrainConfig::default() };
    // One after the other: a new model draws its weights from the seeded generator on first use.
    let mut in_memory = Trainer::new(config.clone(), tc.clone(), &memory, &Device::flex()).unwrap();
    let a: Vec<f64> = (0..5).map(|_| block_on(in_memory.train_step()).unwrap()).collect();
    let mut on_disk = Trainer::streamed(None, config, tc, Box::new(corpus), bar, 0, Vec::new(), &Device::flex()).unwrap();
    let b: Vec<f64> = (0..5).map(|_| block_on(on_disk.train_step()).unwrap()).collect();
    assert_eq!(a, b, "the same windows, the same losses");
    assert!(a[4] < a[0], "it learns: {a:?}");
    // And those pieces are what `cantor train` makes of the same files (no transposition, nothing
    // held out): the corpus's tokens are the files' tokens.
    let (_, songs, styles) = {
        let list = shards::list_files(&[files.clone()]);
        let mut songs = Vec::new();
        let mut styles = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (p, style) in list {
            let bytes = std::fs::read(&p).unwrap();
            let Ok(song) = cantor::midi::read_song(&bytes) else { continue };
            if song.notes.is_empty() || !seen.insert(bytes) {
                continue;
            }
            songs.push(song);
            styles.push(style);
        }
        ((), songs, styles)
    };
    let manifest = shards::read_manifest(&dir).unwrap();
    let cantor::encoding::Vocab::Bars(vocab) = manifest.vocab else { panic!("bar vocabulary") };
    let filter = cantor::encoding::corpus::NoteFilter::default();
    let direct: Vec<Vec<u16>> = songs.iter().zip(&styles).map(|(s, st)| cantor::encoding::corpus::song_tokens(&vocab, s, st.as_deref(), &filter)).collect();
    assert_eq!(direct, pieces);
    // On-the-fly transposition: shifting the tokens is encoding the shifted notes.
    for (song, style) in songs.iter().zip(&styles).take(4) {
        let notes = filter.select(song);
        for shift in [-3, 2] {
            let Some(moved) = cantor::encoding::corpus::transpose(&notes, shift) else { continue };
            let moved_song = cantor::midi::Song { notes: moved, ..song.clone() };
            // (A transposed copy says its shift in its head, as the corpus in memory marks it.)
            let mut want = cantor::encoding::corpus::song_tokens(&vocab, &moved_song, style.as_deref(), &filter);
            vocab.mark_shift(&mut want, shift);
            let want: Vec<i64> = want.into_iter().map(i64::from).collect();
            let mut got: Vec<i64> = cantor::encoding::corpus::song_tokens(&vocab, song, style.as_deref(), &filter).into_iter().map(i64::from).collect();
            assert!(vocab.transpose_tokens(&mut got, shift));
            assert_eq!(got, want, "shift {shift}");
        }
    }
}

/// The pinned PyTorch's Python (scripts/torch_env.sh installs it, and prints its path).
fn torch_python() -> PathBuf {
    let out = Command::new("bash").arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/torch_env.sh")).output().unwrap();
    assert!(out.status.success(), "scripts/torch_env.sh failed: {}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn a_model_trained_by_torchrun_on_two_processes_comes_back_and_scores_the_same_in_both_engines() {
    let python = torch_python();
    let torchrun = python.with_file_name("torchrun");
    let files = collection();
    let (dir, run) = (tmp("torch-corpus"), tmp("torch-run"));
    build(&files, &dir, &BuildOptions { valid_fraction: 0.2, ..BuildOptions::default() });
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let ok = |c: &mut Command| {
        let out = c.output().unwrap();
        assert!(out.status.success(), "{:?}\n{}\n{}", c, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        out
    };
    ok(cantor()
        .args(["export-torch", "--corpus", dir.to_str().unwrap(), "--out", run.to_str().unwrap()])
        .args(["--embed", "16", "--hidden", "32", "--layers", "2", "--batch", "4", "--seq-len", "32", "--steps", "6"]));
    ok(Command::new(&torchrun)
        .args(["--standalone", "--nproc-per-node", "2"])
        .arg(root.join("scripts/torch_train.py"))
        .arg(&run)
        .args(["--steps", "6", "--checkpoint-every", "3"]));
    let checkpoint = run.join("step-0000006.safetensors");
    assert!(checkpoint.exists(), "the run's last checkpoint");
    let model_path = run.join("model.cantor");
    ok(cantor().arg("import-torch").arg(&checkpoint).args(["--out", model_path.to_str().unwrap()]));
    // It generates.
    let clip = run.join("clip.mid");
    ok(cantor().arg("generate").arg(&model_path).args(["--out", clip.to_str().unwrap(), "--beats", "8", "--seed", "1"]));
    assert!(cantor::midi::read_song(&std::fs::read(&clip).unwrap()).is_ok());
    // The same next-token probabilities in PyTorch and in Cantor, on a real piece's opening.
    let corpus = ShardCorpus::open(&dir, false).unwrap();
    let tokens: Vec<u16> = corpus.train_in_memory()[0].iter().take(40).copied().collect();
    let list = tokens.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(",");
    let out = ok(Command::new(&python).arg(root.join("scripts/torch_logits.py")).arg(&run).arg(&checkpoint).arg(&list));
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let theirs: Vec<Vec<f64>> = serde_json::from_value(theirs["log_probs"].clone()).unwrap();
    let file = ModelFile::from_bytes(&std::fs::read(&model_path).unwrap()).unwrap();
    let model = file.load(&Device::flex()).unwrap();
    let x = Tensor::<2, Int>::from_data(TensorData::new(tokens.iter().map(|&t| t as i64).collect::<Vec<_>>(), [1, tokens.len()]), &Device::flex());
    let logits = model.forward(x, None).0;
    let ours: Vec<f32> = burn::tensor::activation::log_softmax(logits, 2).into_data().try_to_vec().unwrap();
    let v = file.config.vocab_size;
    assert_eq!(theirs.len(), tokens.len());
    let worst = theirs.iter().enumerate().flat_map(|(t, row)| row.iter().enumerate().map(move |(k, &p)| (t, k, p))).map(|(t, k, p)| (p - ours[t * v + k] as f64).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-4, "log-probabilities differ by up to {worst}");
    // Hostile checkpoints: a sentence each, no model written.
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not a checkpoint", b"hello, this is not a checkpoint".to_vec()),
        ("absurd header", { let mut b = (u64::MAX / 2).to_le_bytes().to_vec(); b.extend_from_slice(b"{}"); b }),
        ("wrong shape", reshaped(&std::fs::read(&checkpoint).unwrap(), "out.bias")),
        ("NaN", poisoned(&std::fs::read(&checkpoint).unwrap(), "emb.weight")),
    ];
    for (what, bytes) in cases {
        let bad = run.join("bad.safetensors");
        std::fs::write(&bad, bytes).unwrap();
        let out_path = run.join("bad.cantor");
        let out = cantor().arg("import-torch").arg(&bad).args(["--out", out_path.to_str().unwrap()]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && !out_path.exists(), "{what} was accepted");
        assert!(err.starts_with("error: ") && !err.contains("panicked") && err.trim().ends_with(|c: char| c == ')' || c == '.' || c.is_alphanumeric()), "{what}: {err}");
    }
}

/// A copy of a safetensors checkpoint whose tensor `name` claims one more element.
fn reshaped(bytes: &[u8], name: &str) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let shape = header[name]["shape"].as_array_mut().unwrap();
    let last = shape.last().unwrap().as_u64().unwrap();
    *shape.last_mut().unwrap() = serde_json::json!(last - 1);
    let offsets = header[name]["data_offsets"].as_array_mut().unwrap();
    let end = offsets[1].as_u64().unwrap();
    offsets[1] = serde_json::json!(end - 4);
    let text = serde_json::to_vec(&header).unwrap();
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

/// A copy with a NaN as the first value of tensor `name`.
fn poisoned(bytes: &[u8], name: &str) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let start = 8 + n + header[name]["data_offsets"][0].as_u64().unwrap() as usize;
    let mut out = bytes.to_vec();
    out[start..start + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    out
}

#[test]
fn cantor_train_on_the_corpus_makes_the_model_cantor_train_makes_from_the_files() {
    // The same files, nothing held out, no transposition, one thread, the same seed: the two
    // commands train the same weights.
    let files = collection();
    std::fs::remove_file(files.join("b/same-scale-again.mid")).unwrap(); // `train DIR` keeps duplicates
    let (dir, out) = (tmp("cli-corpus"), tmp("cli-models"));
    let ok = |c: &mut Command| {
        let o = c.output().unwrap();
        assert!(o.status.success(), "{:?}\n{}", c, String::from_utf8_lossy(&o.stderr));
    };
    ok(cantor().args(["corpus", "build"]).arg(&files).args(["--out", dir.to_str().unwrap(), "--valid", "0"]));
    let flags = ["--embed", "16", "--hidden", "32", "--layers", "1", "--batch", "4", "--seq-len", "32", "--steps-per-epoch", "12", "--epochs", "1", "--transpose", "0", "--threads", "1", "--seed", "4"];
    let (a, b) = (out.join("files.cantor"), out.join("corpus.cantor"));
    ok(cantor().arg("train").arg(&files).args(["--valid", "0", "--out", a.to_str().unwrap()]).args(flags));
    ok(cantor().arg("train").args(["--corpus", dir.to_str().unwrap(), "--out", b.to_str().unwrap()]).args(flags));
    let (a, b) = (ModelFile::from_bytes(&std::fs::read(a).unwrap()).unwrap(), ModelFile::from_bytes(&std::fs::read(b).unwrap()).unwrap());
    assert_eq!(a.vocab, b.vocab, "the same vocabulary");
    assert_eq!(a.summary.train_curve, b.summary.train_curve, "the same losses");
    // The same weights (the files' bytes differ: burn's records carry each model's parameter ids).
    let probe = |f: &ModelFile| {
        let m = f.load(&Device::flex()).unwrap();
        let x = Tensor::<2, Int>::from_data(TensorData::new((0..24i64).map(|i| (i * 37) % 200 + 1).collect::<Vec<_>>(), [2, 12]), &Device::flex());
        m.forward(x, None).0.into_data().try_to_vec::<f32>().unwrap()
    };
    assert_eq!(probe(&a), probe(&b), "the same weights");
}

#[test]
fn near_duplicates_the_same_song_in_other_bytes_are_dropped_when_asked() {
    let files = tmp("near");
    let scale = common::jazz_soft("test-multichannel-chords-1.mid");
    std::fs::write(files.join("chords.mid"), &scale).unwrap();
    // The same song written again by another program (our writer): other bytes, the same notes.
    let again = cantor::midi::write_song(&cantor::midi::read_song(&scale).unwrap());
    assert_ne!(again, scale);
    std::fs::write(files.join("chords-resaved.mid"), again).unwrap();
    std::fs::write(files.join("other.mid"), common::jazz_soft("test-karaoke-kar.mid")).unwrap();
    let plain = build(&files, &tmp("near-plain"), &BuildOptions::default());
    assert_eq!((plain.kept, plain.duplicates, plain.near_duplicates), (3, 0, 0));
    let out = tmp("near-on");
    let near = build(&files, &out, &BuildOptions { near_duplicates: true, ..BuildOptions::default() });
    assert_eq!((near.kept, near.near_duplicates), (2, 1));
    assert!(std::fs::read_to_string(out.join("report.tsv")).unwrap().contains("near-duplicate\tthe same music as a file kept earlier"));
}
