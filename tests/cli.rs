//! The `cantor` command line, run as a user would: inspect, train, generate.

mod common;
use std::process::Command;

fn cantor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cantor"))
}

#[test]
fn inspect_json_reports_each_file() {
    let dir = common::shared("midi/jazz-soft-test-midi-files");
    let out = cantor()
        .arg("inspect")
        .arg("--json")
        .args(["test-c-major-scale.mid", "test-not-a-midi-file.mid", "test-corrupt-file-missing-byte.mid"].map(|f| dir.join(f)))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a file that cannot be read makes the exit status 2");
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["ok"], true);
    assert_eq!(rows[0]["notes"], 8);
    assert!((rows[0]["seconds"].as_f64().unwrap() - 4.0).abs() < 1e-6);
    assert_eq!(rows[0]["warnings"].as_array().unwrap().len(), 0);
    assert!(rows[0]["file"].as_str().unwrap().ends_with("test-c-major-scale.mid"));
    assert_eq!(rows[1]["ok"], false);
    assert!(rows[1]["error"].as_str().unwrap().contains("not a MIDI file"));
    assert_eq!(rows[2]["ok"], true);
    assert!(rows[2]["warnings"][0].as_str().unwrap().contains("ends in the middle of track 1"));
}

#[test]
fn train_then_generate_a_midi_file() {
    let tmp = std::env::temp_dir().join(format!("cantor-cli-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let model = tmp.join("model.bpk");
    let clip = tmp.join("clip.mid");
    let dir = common::shared("midi/jazz-soft-test-midi-files");
    let status = cantor()
        .arg("train")
        .args(["test-karaoke-kar.mid", "test-multichannel-chords-1.mid", "test-c-major-scale.mid", "test-empty-file.mid"].map(|f| dir.join(f)))
        .args(["--out", model.to_str().unwrap()])
        .args(["--embed", "16", "--hidden", "32", "--layers", "1", "--epochs", "2", "--seq-len", "32", "--batch", "4", "--transpose", "1"])
        .args(["--split", "files"])
        .status()
        .unwrap();
    assert!(status.success());
    let status = cantor()
        .arg("generate")
        .arg(&model)
        .args(["--out", clip.to_str().unwrap(), "--beats", "8", "--seed", "3", "--key", "Am"])
        .args(["--primer", dir.join("test-c-major-scale.mid").to_str().unwrap(), "--primer-beats", "2"])
        .status()
        .unwrap();
    assert!(status.success());
    let song = cantor::midi::read_song(&std::fs::read(&clip).unwrap()).unwrap();
    assert!(!song.notes.is_empty());
    assert!(song.warnings.is_empty(), "{:?}", song.warnings);
    // The primer (first two beats of the C major scale) opens the clip.
    assert_eq!(song.notes[0].pitch, 60);
    // Evaluate the model on the files it learned from: held-out NLL, originality, style, AUC.
    let out = cantor()
        .arg("evaluate")
        .arg(&model)
        .args(["test-karaoke-kar.mid", "test-multichannel-chords-1.mid", "test-c-major-scale.mid", "test-all-gm-sounds.mid"].map(|f| dir.join(f)))
        .args(["--clips", "3", "--beats", "16", "--valid", "0.3", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["valid_nll_per_token"].as_f64().unwrap() > 0.0);
    assert!(report["valid_nll_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(report["clips"].as_array().unwrap().len(), 3);
    assert_eq!(report["style"].as_array().unwrap().len(), 7);
    // The split recorded in the model file is the one evaluated (not a fresh draw with --valid).
    let recorded = cantor::model::ModelFile::from_bytes(&std::fs::read(&model).unwrap()).unwrap().summary;
    assert_eq!(recorded.files.len(), 3, "the three readable files");
    assert_eq!(recorded.held_out.len(), 1);
    let held: Vec<String> = report["held_out_files"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(held, recorded.held_out);

    // Three files are few: by default each one's last bars are held out, the model records that,
    // and the evaluation holds out the same share of each file it is given.
    let out = cantor()
        .arg("train")
        .args(["test-karaoke-kar.mid", "test-multichannel-chords-1.mid", "test-all-gm-sounds.mid"].map(|f| dir.join(f)))
        .args(["--out", model.to_str().unwrap()])
        .args(["--embed", "16", "--hidden", "32", "--layers", "1", "--epochs", "2", "--seq-len", "32", "--batch", "4", "--transpose", "0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("3 files: the last 10 % of each file's bars is held out"), "{said}");
    assert!(said.contains("Finished every epoch") || said.contains("Stopped early because"), "{said}");
    let recorded = cantor::model::ModelFile::from_bytes(&std::fs::read(&model).unwrap()).unwrap().summary;
    assert_eq!((recorded.held_out.len(), recorded.held_out_share), (0, Some(0.1)));
    assert!(recorded.stopped.as_deref().is_some_and(|s| s.contains("is kept")), "{:?}", recorded.stopped);
    let out = cantor()
        .arg("evaluate")
        .arg(&model)
        .args(["test-karaoke-kar.mid", "test-multichannel-chords-1.mid", "test-all-gm-sounds.mid"].map(|f| dir.join(f)))
        .args(["--clips", "2", "--beats", "16", "--valid", "0.3", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["split"].as_str().unwrap().contains("the last 10 % of each file's bars"), "{}", report["split"]);
    assert_eq!(report["held_out_files"].as_array().unwrap().len(), 3);
    let shape: Vec<&str> = report["shape"].as_array().unwrap().iter().map(|f| f["feature"].as_str().unwrap()).collect();
    assert!(shape.iter().any(|f| f.starts_with("silence")) && shape.iter().any(|f| f.starts_with("each instrument's share")), "{shape:?}");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn generate_with_a_form_and_bad_forms_say_why() {
    let tmp = std::env::temp_dir().join(format!("cantor-cli-form-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let clip = tmp.join("aaba.mid");
    let starter = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static/starter/starter.cantor");
    let out = cantor()
        .arg("generate")
        .arg(&starter)
        .args(["--out", clip.to_str().unwrap(), "--form", "AABA", "--section-bars", "2", "--returns", "exact", "--seed", "5", "--style", "piano"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("form AABA: A from beat 0, A (returns) from beat"), "{said}");
    let song = cantor::midi::read_song(&std::fs::read(&clip).unwrap()).unwrap();
    assert!(!song.notes.is_empty());
    for (form, says) in [("aaba", "capital letters"), ("", "empty"), ("BA", "brings in B before A"), ("AAAAAAAAAAAAAAAAA", "from 1 to 16")] {
        let out = cantor().arg("generate").arg(&starter).args(["--out", clip.to_str().unwrap(), "--form", form]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{form:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says) && !err.contains("panicked"), "{form:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn train_without_usable_files_says_why() {
    let dir = common::shared("midi/jazz-soft-test-midi-files");
    let out = cantor()
        .arg("train")
        .arg(dir.join("test-empty-file.mid"))
        .args(["--out", "/nonexistent/never-written.bpk"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("the file is empty"), "{err}");
    assert!(err.contains("no readable MIDI files"), "{err}");
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[test]
fn a_band_file_with_drums_trains_a_model_that_generates_a_band() {
    let tmp = std::env::temp_dir().join(format!("cantor-cli-band-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (model, clip) = (tmp.join("band.cantor"), tmp.join("band.mid"));
    let out = cantor()
        .arg("train")
        .arg(fixture("band.mid"))
        .args(["--out", model.to_str().unwrap()])
        .args(["--embed", "16", "--hidden", "32", "--layers", "1", "--epochs", "1", "--steps-per-epoch", "10", "--seq-len", "32", "--batch", "4", "--transpose", "0"])
        .args(["--threads", "1"]) // repeatable: with dropout, threads draw their masks in no fixed order
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = cantor().arg("generate").arg(&model).arg("--list").output().unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains("drums") && listed.contains("Bass"), "{listed}");
    assert!(listed.contains("124 bpm"), "the tempo comes from the file: {listed}");
    // Ask for the whole band: drums, bass, guitar, keys.
    let out = cantor()
        .arg("generate")
        .arg(&model)
        .args(["--out", clip.to_str().unwrap(), "--beats", "16", "--seed", "2", "--instruments", "drums,bass,guitar,piano"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let song = cantor::midi::read_song(&std::fs::read(&clip).unwrap()).unwrap();
    let mut programs: Vec<u8> = song.notes.iter().filter(|n| !n.drum).map(|n| n.program).collect();
    programs.sort();
    programs.dedup();
    assert!(programs.len() >= 2, "more than one melodic instrument: {programs:?}");
    assert!(song.notes.iter().any(|n| n.drum && n.channel == 9), "drums on channel 10");
    assert!(song.tracks.iter().filter(|t| t.notes > 0).count() >= 3, "one track per instrument");
    assert!((song.tempo.initial_bpm() - 124.0).abs() < 0.5, "plays at the corpus's tempo");
    // A narrowed model: melody only learns one line and no drums.
    let melody = tmp.join("melody.cantor");
    let out = cantor()
        .arg("train")
        .arg(fixture("band.mid"))
        .args(["--out", melody.to_str().unwrap(), "--melody"])
        .args(["--embed", "8", "--hidden", "16", "--layers", "1", "--epochs", "1", "--steps-per-epoch", "2", "--seq-len", "16", "--batch", "2", "--transpose", "0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = String::from_utf8(cantor().arg("generate").arg(&melody).arg("--list").output().unwrap().stdout).unwrap();
    assert!(!listed.contains("drums"), "{listed}");
    // Unknown instruments and styles are refused with a sentence.
    let bad = cantor().arg("generate").arg(&model).args(["--out", "/tmp/x.mid", "--instruments", "kazoo"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no General MIDI instrument is called \"kazoo\""));
    let bad = cantor().arg("generate").arg(&model).args(["--out", "/tmp/x.mid", "--style", "polka"]).output().unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("knows no style \"polka\""));
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn a_model_made_with_the_first_vocabulary_still_generates_and_fine_tunes() {
    let tmp = std::env::temp_dir().join(format!("cantor-cli-v1-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let v1 = fixture("starter-v1.cantor");
    let file = cantor::model::ModelFile::from_bytes(&std::fs::read(&v1).unwrap()).unwrap();
    assert!(matches!(file.vocab, cantor::encoding::Vocab::Events(_)), "the fixture is a first-vocabulary model");
    let clip = tmp.join("v1.mid");
    let out = cantor().arg("generate").arg(&v1).args(["--out", clip.to_str().unwrap(), "--beats", "8", "--seed", "1"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!cantor::midi::read_song(&std::fs::read(&clip).unwrap()).unwrap().notes.is_empty());
    // Fine-tuning keeps its vocabulary.
    let tuned = tmp.join("tuned.cantor");
    let dir = common::shared("midi/jazz-soft-test-midi-files");
    let out = cantor()
        .arg("train")
        .arg(dir.join("test-c-major-scale.mid"))
        .args(["--init", v1.to_str().unwrap(), "--out", tuned.to_str().unwrap(), "--epochs", "1", "--steps-per-epoch", "1", "--seq-len", "16", "--batch", "2", "--transpose", "0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tuned = cantor::model::ModelFile::from_bytes(&std::fs::read(&tuned).unwrap()).unwrap();
    assert_eq!(tuned.vocab, file.vocab);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The last number after `label` in `text` (the CLI's figures).
fn figure(text: &str, label: &str) -> f64 {
    let at = text.rfind(label).unwrap_or_else(|| panic!("no {label:?} in {text}")) + label.len();
    text[at..].split_whitespace().next().unwrap().trim_end_matches(',').parse().unwrap()
}

#[test]
fn a_benchmark_model_is_saved_then_rescored_with_dynamic_evaluation_and_the_cache() {
    let tmp = std::env::temp_dir().join(format!("cantor-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    // A small piano-roll set in the benchmarks' layout (pieces of frames of MIDI pitches).
    let piece = |shift: u8| -> Vec<Vec<u8>> { (0..24u8).map(|k| vec![48 + shift + (k % 8) * 2, 64 + shift + (k % 4) * 3]).collect() };
    let data = tmp.join("rolls.json");
    let json = serde_json::json!({ "train": [piece(0), piece(1), piece(2), piece(3)], "valid": [piece(4), piece(6)], "test": [piece(5)] });
    std::fs::write(&data, json.to_string()).unwrap();
    let model = tmp.join("rolls.cantor");
    let small = ["--embed", "8", "--hidden", "16", "--layers", "1", "--seq-len", "16", "--batch", "2", "--transpose", "0"];
    let out = cantor()
        .args(["bench", "jsb", "--data", data.to_str().unwrap(), "--epochs", "1", "--steps-per-epoch", "3", "--out", model.to_str().unwrap()])
        .args(small)
        .output()
        .unwrap();
    let trained = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{trained}{}", String::from_utf8_lossy(&out.stderr));
    let out = cantor()
        .args(["bench", "jsb", "--data", data.to_str().unwrap(), "--model-file", model.to_str().unwrap()])
        .args(["--dynamic-lr", "0,0.5", "--dynamic-chunk", "8", "--dynamic-rms", "2"])
        .output()
        .unwrap();
    let rescored = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{rescored}{}", String::from_utf8_lossy(&out.stderr));
    // The saved model scores as it did when it was trained …
    assert_eq!(figure(&trained, "TEST NLL:"), figure(&rescored, "TEST NLL:"));
    // … step 0 of dynamic evaluation is the static figure, and the test set is scored at the step validation chose.
    assert_eq!(figure(&rescored, "step 0, decay 0: valid NLL"), figure(&rescored, "valid NLL:"));
    assert!(figure(&rescored, "step 0.5, decay 0: valid NLL").is_finite());
    assert!(figure(&rescored, "chosen on validation):").is_finite(), "{rescored}");
    // The neural cache: λ = 0 (always tried) is the static figure, and the test set is scored
    // at the pair validation chose.
    let out = cantor()
        .args(["bench", "jsb", "--data", data.to_str().unwrap(), "--model-file", model.to_str().unwrap()])
        .args(["--cache-theta", "5,20", "--cache-lambda", "0.3"])
        .output()
        .unwrap();
    let cached = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{cached}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(figure(&cached, "θ 5, λ 0: valid NLL"), figure(&cached, "valid NLL:"));
    let chosen = ["θ 5, λ 0:", "θ 5, λ 0.3:", "θ 20, λ 0:", "θ 20, λ 0.3:"].map(|k| figure(&cached, &format!("{k} valid NLL")));
    assert!(chosen.iter().all(|v| v.is_finite()), "{cached}");
    let best = chosen.iter().copied().fold(f64::INFINITY, f64::min);
    let picked = cached.lines().find(|l| l.starts_with("TEST NLL with the neural cache")).expect("a test figure with the cache");
    let (theta, lambda) = (picked.split("θ ").nth(1).unwrap().split(',').next().unwrap(), picked.split("λ ").nth(1).unwrap().split(',').next().unwrap());
    assert_eq!(figure(&cached, &format!("θ {theta}, λ {lambda}: valid NLL")), best, "{cached}");
    // Settings out of range: a sentence, no panic.
    let out = cantor()
        .args(["bench", "jsb", "--data", data.to_str().unwrap(), "--model-file", model.to_str().unwrap(), "--cache-theta", "5", "--cache-lambda", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success() && err.starts_with("error: --cache-theta takes values from 0 to 1000") && !err.contains("panicked"), "{err}");
    // A model that is not a benchmark model, and a file that is not a model: a sentence, no panic.
    for (file, says) in [(fixture("starter-v1.cantor"), "not trained on a piano-roll benchmark"), (data.clone(), "")] {
        let out = cantor().args(["bench", "jsb", "--data", data.to_str().unwrap(), "--model-file", file.to_str().unwrap()]).output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(!out.status.success());
        assert!(err.starts_with("error: ") && err.contains(says) && !err.contains("panicked"), "{err}");
    }
    std::fs::remove_dir_all(&tmp).ok();
}
