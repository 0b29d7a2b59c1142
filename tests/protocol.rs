//! Every page ↔ worker message survives the byte encoding unchanged.

use cantor::encoding::{BarVocab, EventVocab, Instrument, MusicVocab};
use cantor::generate::GenerateConfig;
use cantor::midi::Note;
use cantor::model::{CellKind, ModelConfig, TrainingSummary};
use cantor::protocol::{from_bytes, request_bytes, shape_key, to_bytes, Answer, BackendChoice, FileBytes, FileRead, FromWorker, Request, RequestKind, Speeds, ToWorker};
use cantor::sequences::{CorpusReport, SelectedFile, Selection};
use cantor::train::{StopReason, TrainConfig};

fn same<T: serde::Serialize + for<'a> serde::Deserialize<'a> + std::fmt::Debug>(msg: &T) {
    let back: T = from_bytes(&to_bytes(msg)).unwrap();
    assert_eq!(format!("{back:?}"), format!("{msg:?}"));
}

#[test]
fn every_message_round_trips() {
    let note = Note { pitch: 60, velocity: 90, start: 0.5, duration: 1.25, start_s: 0.25, duration_s: 0.625, channel: 9, program: 3, drum: true, track: 2 };
    let summary = TrainingSummary { epochs: 2, steps: 10, tokens: 999, best_valid_nll: Some(1.5), train_curve: vec![(1, 2.0)], valid_curve: vec![(10, 1.5)], files: vec!["a.mid".into(), "b.mid".into()], held_out: vec!["b.mid".into()], held_out_share: None, stopped: Some("Stopped early because the held-out NLL had not improved for 3 epochs.".into()) };
    let selection = Selection { files: vec![SelectedFile { id: 3, excluded_tracks: vec![1, 4] }, SelectedFile { id: 7, excluded_tracks: vec![] }], drums: true, melody: false, piano: true, transpose: 5 };
    // A real song (tracks, tempo map, meters, warnings) travels whole, and so does a refusal.
    let song = cantor::midi::read_notes(&std::fs::read("tests/fixtures/band.mid").unwrap()).unwrap();
    assert!(song.notes.len() > 100 && song.tracks.len() > 2);
    let model = ModelConfig { vocab_size: 323, embed: 8, hidden: 16, layers: 1, dropout: 0.1, cell: CellKind::Fused, awd: Default::default(), frame_context: false, sounding: Some(BarVocab::default().layout()) };
    for m in [
        ToWorker::Init { choice: BackendChoice::Auto },
        ToWorker::ReadFiles { files: vec![FileBytes { id: 3, name: "ragtime/a.mid".into(), bytes: std::fs::read("tests/fixtures/band.mid").unwrap() }] },
        ToWorker::ForgetFiles { ids: vec![3, 9] },
        ToWorker::Tokenise { selection: selection.clone(), base: MusicVocab::Events(EventVocab::default()) },
        ToWorker::Train {
            selection: selection.clone(),
            model: model.clone(),
            config: TrainConfig::default(),
            init_model: Some(vec![0, 255, 7]),
            known_speeds: vec![Speeds { adapter: "nvidia hopper".into(), shape: "2x256 e128 v553 b32x128".into(), gpu_tokens_per_s: 51_000.0, cpu_tokens_per_s: 3_100.5 }],
        },
        ToWorker::Tokenise {
            selection: Selection::default(),
            base: MusicVocab::Bars(BarVocab {
                styles: vec!["ragtime".into(), "chorales".into()],
                bpm: 96.5,
                meter: (3, 4),
                instruments: vec![Instrument::Program(33), Instrument::Drums],
                style_bpm: vec![80.0, 96.0],
                style_meter: vec![(2, 4), (4, 4)],
                ..BarVocab::default()
            }),
        },
        ToWorker::Train { selection: Selection::default(), model, config: TrainConfig::default(), init_model: None, known_speeds: vec![] },
        ToWorker::Pause,
        ToWorker::PrepareSound,
        ToWorker::Render { notes: vec![note.clone()], speed: 1.5, wav: true, from_frame: 0 },
        ToWorker::Render { notes: vec![note.clone()], speed: 1.0, wav: false, from_frame: 176_400 },
        ToWorker::Load { model_file: vec![1; 1000] },
        ToWorker::Generate { model: None, primer: vec![1, 200], config: GenerateConfig::default(), opening: true, form: None },
        ToWorker::Generate { model: Some("00ff00ff00ff00ff".into()), primer: vec![], config: GenerateConfig::default(), opening: false, form: Some(cantor::generate::Form::new("ABAC", 3, cantor::generate::Returns::Varied).unwrap()) },
        ToWorker::Sample { model: "0123456789abcdef".into(), config: GenerateConfig::default(), seeds: vec![1, 2, 3] },
    ] {
        same(&m);
    }
    for m in [
        FromWorker::Ready,
        FromWorker::Speeds(Speeds { adapter: "a".into(), shape: shape_key(&ModelConfig::new(553), &TrainConfig::default()), gpu_tokens_per_s: 2.0, cpu_tokens_per_s: 1.0 }),
        FromWorker::Backend { name: "CPU (Flex)".into(), gpu: false, reason: "é ✓".into() },
        FromWorker::Paused { model_file: vec![1, 2], summary: summary.clone() },
        FromWorker::Trained { reason: StopReason::EarlyStopped, model_file: vec![9; 10], summary },
        FromWorker::Opening { notes: vec![note.clone()], pcm: vec![0; 8], sample_rate: 44_100 },
        FromWorker::Generated { notes: vec![note.clone()], tokens: vec![1, 2], primer_len: 1, millis: 3.5, sections: vec![cantor::generate::Section { letter: 'B', beat: 8.0, returning: false }] },
        FromWorker::EpochSample { epoch: 3, notes: vec![note.clone()] },
        FromWorker::Samples { clips: vec![vec![note], vec![]] },
        FromWorker::Rendered { pcm: vec![0; 16], sample_rate: 44_100, at: 88_200, last: false },
        FromWorker::RenderProgress { fraction: 0.5 },
        FromWorker::Wav { bytes: b"RIFF".to_vec() },
        FromWorker::Loaded { fingerprint: "0123456789abcdef".into() },
        FromWorker::FilesRead { files: vec![FileRead { id: 3, song: Ok(song.clone()) }, FileRead { id: 4, song: Err("it contains no notes".into()) }], memory_bytes: 5 << 20 },
        FromWorker::Tokenised(CorpusReport { files: 2, train_files: 1, valid_files: 1, train_tokens: 900, valid_tokens: 300, valid_seconds: 31.5, instruments: vec!["Drums".into()], bpm: 101.0, meter: (6, 8), styles: vec!["jazz".into()], split: "2 files: the last 10 % of each file's bars is held out.".into(), held_out_ends: true }),
        FromWorker::Failed { message: "nope".into() },
        FromWorker::Crashed { message: "index out of bounds".into() },
    ] {
        same(&m);
    }
    assert!(from_bytes::<ToWorker>(&[250, 1, 2]).is_err(), "garbage is an error, not a panic");
}

#[test]
fn requests_carry_ids_and_answers_name_them() {
    let body = ToWorker::Generate { model: Some("00ff00ff00ff00ff".into()), primer: vec![1, 2], config: GenerateConfig::default(), opening: false, form: None };
    let back: Request = from_bytes(&request_bytes(41, &body)).unwrap();
    assert_eq!(back.id, 41);
    assert_eq!(format!("{:?}", back.body), format!("{body:?}"));
    let answer = Answer { id: 41, body: FromWorker::Failed { message: "no".into() } };
    let back: Answer = from_bytes(&to_bytes(&answer)).unwrap();
    assert_eq!(back.id, 41);
    // A request's last answer: its own result, or any failure; progress is not.
    assert!(RequestKind::Generate.ends_with(&FromWorker::Generated { notes: vec![], tokens: vec![], primer_len: 0, millis: 1.0, sections: vec![] }));
    assert!(!RequestKind::Generate.ends_with(&FromWorker::GenerateProgress { tokens: 100 }));
    assert!(!RequestKind::Generate.ends_with(&FromWorker::Opening { notes: vec![], pcm: vec![], sample_rate: 44_100 }));
    // Playing audio arrives in parts: only the last one ends the request.
    assert!(!RequestKind::Play.ends_with(&FromWorker::Rendered { pcm: vec![], sample_rate: 44_100, at: 0, last: false }));
    assert!(RequestKind::Play.ends_with(&FromWorker::Rendered { pcm: vec![], sample_rate: 44_100, at: 88_200, last: true }));
    assert!(RequestKind::Train.ends_with(&FromWorker::Failed { message: "x".into() }));
    assert!(!RequestKind::Train.ends_with(&FromWorker::Backend { name: "CPU (Flex)".into(), gpu: false, reason: String::new() }));
    assert!(RequestKind::Init.ends_with(&FromWorker::Backend { name: "CPU (Flex)".into(), gpu: false, reason: String::new() }));
    assert_eq!(body.kind(), RequestKind::Generate);
    assert_eq!(ToWorker::Render { notes: vec![], speed: 1.0, wav: true, from_frame: 0 }.kind(), RequestKind::Wav);
    // Reading and counting end with their own answers; forgetting a file is not answered.
    assert!(RequestKind::Read.ends_with(&FromWorker::FilesRead { files: vec![], memory_bytes: 0 }));
    assert!(RequestKind::Tokenise.ends_with(&FromWorker::Tokenised(CorpusReport::default())));
    assert!(!RequestKind::Read.ends_with(&FromWorker::Tokenised(CorpusReport::default())));
    assert_eq!(ToWorker::ForgetFiles { ids: vec![1] }.kind(), RequestKind::Control);
    assert_eq!(ToWorker::PrepareSound.kind(), RequestKind::Control, "loading the SoundFont ahead is not answered");
}
