//! Share links: exact round trips, the 2,000-character budget on real music, and hostile links.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use burn::prelude::Device;
use cantor::benchmark::{piece_notes, PianoRollDataset};
use cantor::encoding::{EventVocab, Vocab};
use cantor::generate::{generate, GenerateConfig, SamplingParams, Scale};
use cantor::midi::Note;
use cantor::model::{CellKind, ModelConfig, ModelFile, TrainingSummary};
use cantor::share::{self, Clip, Recipe, ShareError, LINK_BUDGET};
use cantor::train::block_on;
use rand::{RngExt, SeedableRng, rngs::StdRng};

const BASE: &str = "http://localhost:8080/";

fn note(pitch: u8, start: f64, duration: f64, velocity: u8) -> Note {
    Note {
        pitch,
        velocity,
        start,
        duration,
        start_s: start * 0.5,
        duration_s: duration * 0.5,
        channel: 0,
        program: 0,
        drum: false,
        track: 0,
    }
}

/// Packs a raw payload the way the encoder does, so tests can hand-craft hostile contents.
fn pack(payload: &[u8]) -> String {
    share::pack_payload(payload)
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Header of a valid payload: grid 12, 120 bpm, one piano.
fn header() -> Vec<u8> {
    let mut p = vec![12];
    p.extend_from_slice(&120.0f64.to_le_bytes());
    p.extend_from_slice(&[1, 0, 0]);
    p
}

/// A generated clip with its recipe, from a small random model (its output is erratic, so busier
/// than real music: a fair test of exactness).
fn generated_clip(seed: u64) -> (Clip, ModelFile, GenerateConfig, Vec<u16>) {
    let vocab = EventVocab::default();
    let device = Device::flex();
    device.seed(seed); // a fixed random model per seed
    let config = ModelConfig { vocab_size: vocab.size(), embed: 16, hidden: 32, layers: 1, dropout: 0.0, cell: CellKind::Fused, awd: Default::default(), frame_context: false, sounding: None };
    let model = config.init(&device);
    let file = ModelFile::from_model(&model, &config, &Vocab::Events(vocab), TrainingSummary::default()).unwrap();
    let primer = vocab.primer(&[note(60, 0.0, 1.0, 90), note(64, 1.0, 1.0, 70), note(67, 2.0, 2.0, 100)], 4.0);
    let gc = GenerateConfig {
        sampling: SamplingParams { temperature: 0.9, top_k: 0, top_p: 0.95, seed, scale: Some(Scale { root: 2, minor: true }) },
        max_tokens: 300,
        max_beats: Some(60.0),
        program: 4,
        bpm: 96.5,
    };
    let g = block_on(generate(&model, &vocab, &primer, &gc, &device, |_| {})).unwrap();
    let recipe = Recipe { model: file.fingerprint(), config: gc.clone(), primer: primer.clone(), primer_label: "first 1 bar of «test».mid".into(), form: None };
    (Clip::new(g.notes, gc.bpm, vocab.steps_per_beat, Some(recipe)), file, gc, primer)
}

#[test]
fn generated_clip_round_trips_exactly_with_its_recipe() {
    for seed in [1, 2, 3] {
        let (clip, file, _, _) = generated_clip(seed);
        assert!(clip.notes.len() > 20, "the clip should have notes");
        let link = format!("{BASE}#{}", share::encode(&clip).unwrap());
        let back = share::decode(&link).unwrap();
        assert_eq!(back, clip, "seed {seed}: link → clip must give back exactly the same clip");
        assert_eq!(back.recipe.as_ref().unwrap().model, file.fingerprint());
    }
}

#[test]
fn recipe_regenerates_the_same_clip() {
    let (clip, file, _, _) = generated_clip(7);
    let back = share::decode(&share::encode(&clip).unwrap()).unwrap();
    let r = back.recipe.unwrap();
    let vocab = EventVocab::default();
    let model = file.load(&Device::flex()).unwrap();
    let g = block_on(generate(&model, &vocab, &r.primer, &r.config, &Device::flex(), |_| {})).unwrap();
    assert_eq!(Clip::new(g.notes, r.config.bpm, vocab.steps_per_beat, None).notes, clip.notes);
}

#[test]
fn several_instruments_and_drums_round_trip() {
    let mut notes = vec![note(60, 0.0, 1.0, 80), note(36, 0.0, 0.25, 120), note(72, 0.5, 3.0, 40)];
    notes[1].drum = true;
    notes[1].program = 0;
    notes[2].program = 40;
    let clip = Clip::new(notes, 120.0, 12, None);
    let back = share::decode(&share::encode(&clip).unwrap()).unwrap();
    assert_eq!(back.notes.len(), 3);
    for (a, b) in clip.notes.iter().zip(&back.notes) {
        assert_eq!((a.pitch, a.velocity, a.start, a.duration, a.program, a.drum), (b.pitch, b.velocity, b.start, b.duration, b.program, b.drum));
    }
    assert!(back.notes.iter().any(|n| n.drum && n.channel == 9), "drums go to channel 10");
}

#[test]
fn parts_of_one_program_stay_apart_through_a_link() {
    // A quartet's two violins (program 40, parts 0 and 1 as generation numbers them), a unison
    // note in both, and a cello.
    let part = |pitch, start, track, program| Note { track, program, ..note(pitch, start, 1.0, 80) };
    let notes = vec![part(76, 0.0, 0, 40), part(67, 0.0, 1, 40), part(72, 1.0, 1, 40), part(72, 1.0, 0, 40), part(48, 0.0, 0, 42)];
    let clip = Clip::new(notes, 100.0, 12, None);
    let voices = |c: &Clip| c.notes.iter().map(|n| (n.pitch, n.start, n.duration, n.program, n.channel, n.track)).collect::<Vec<_>>();
    let violins: std::collections::BTreeSet<u8> = clip.notes.iter().filter(|n| n.program == 40).map(|n| n.channel).collect();
    assert_eq!(violins.len(), 2, "two violin parts, two channels: {:?}", voices(&clip));
    let back = share::decode(&share::encode(&clip).unwrap()).unwrap();
    assert_eq!(voices(&back), voices(&clip));
    // Canonical: the same clip again gives the same notes.
    assert_eq!(Clip::new(clip.notes.clone(), 100.0, 12, None).notes, clip.notes);
}

#[test]
fn thirty_second_clips_of_real_music_fit_the_link_budget() {
    let vocab = EventVocab::default();
    let mut lengths = Vec::new();
    for (name, beats_per_frame) in [("jsb_chorales.json", 1.0), ("nottingham.json", 0.5)] {
        let data = PianoRollDataset::from_json(&std::fs::read(common::shared(&format!("benchmarks/{name}"))).unwrap()).unwrap();
        for piece in data.test.iter().filter(|p| p.len() as f64 * beats_per_frame >= 60.0) {
            // Real music, 30 seconds (60 beats at 120 bpm) as a generated clip would carry it (event
            // grid, a 2-bar primer in the recipe).
            let frames = (60.0 / beats_per_frame) as usize;
            let notes = vocab.quantize(&piece_notes(&piece[..frames].to_vec(), beats_per_frame));
            let primer = vocab.primer(&notes, 8.0);
            let recipe = Recipe {
                model: "0123456789abcdef".into(),
                config: GenerateConfig::default(),
                primer,
                primer_label: "first 2 bars of a corpus file".into(),
                form: None,
            };
            let clip = Clip::new(notes, 120.0, vocab.steps_per_beat, Some(recipe));
            let (link, left_out) = share::link_within_budget(BASE, &clip).unwrap();
            let whole = format!("{BASE}#{}", share::encode(&clip).unwrap());
            lengths.push(whole.len());
            if left_out == 0 {
                assert_eq!(link, whole);
            }
        }
    }
    lengths.sort();
    let (median, max) = (lengths[lengths.len() / 2], *lengths.last().unwrap());
    println!("30-second links over {} real pieces: median {median}, max {max} characters", lengths.len());
    assert!(lengths.len() > 100);
    assert!(max <= LINK_BUDGET, "a 30-second clip of real music needed {max} characters (budget {LINK_BUDGET})");
}

#[test]
fn long_clips_degrade_to_their_opening_and_say_how_much_was_left_out() {
    let mut rng = StdRng::seed_from_u64(5);
    let notes: Vec<Note> = (0..3000).map(|i| note(rng.random_range(30..100), i as f64 * 0.25, 0.5, rng.random_range(1..128))).collect();
    let clip = Clip::new(notes, 120.0, 12, None);
    let (link, left_out) = share::link_within_budget(BASE, &clip).unwrap();
    assert!(link.len() <= LINK_BUDGET);
    assert!(left_out > 0 && left_out < 3000);
    let cut = share::decode(&link).unwrap();
    assert_eq!(cut.notes.len() + left_out, 3000);
    assert_eq!(cut.notes[..], clip.notes[..cut.notes.len()], "the link keeps the opening exactly");
}

#[test]
fn nothing_to_share_is_refused() {
    assert_eq!(share::encode(&Clip::new(vec![], 120.0, 12, None)), Err(ShareError::Empty));
}

fn err(link: &str) -> ShareError {
    share::decode(link).expect_err(&format!("should refuse {link:.80}"))
}

#[test]
fn hostile_links_are_refused_with_plain_messages() {
    let good = share::encode(&Clip::new(vec![note(60, 0.0, 1.0, 80)], 120.0, 12, None)).unwrap();
    // Not ours at all.
    assert_eq!(err("http://localhost:8080/"), ShareError::NotALink);
    assert_eq!(err("#hello"), ShareError::NotALink);
    assert_eq!(err("#c.abc"), ShareError::NotALink);
    // Malformed base64.
    assert_eq!(err(&format!("#{}!!<script>", &good)), ShareError::Base64);
    assert_eq!(err("#c1.a"), ShareError::Base64);
    // A version from the future.
    assert_eq!(err(&good.replacen("c1.", "c2.", 1)), ShareError::Version(2));
    assert!(err(&good.replacen("c1.", "c2.", 1)).to_string().contains("different version"));
    // Truncated: every cut of a good link is refused, never a panic or a wrong clip.
    let long = share::encode(&generated_clip(3).0).unwrap();
    for cut in (4..long.len()).step_by(7) {
        assert!(share::decode(&long[..cut]).is_err(), "cut at {cut} was accepted");
    }
    // One changed character: the checksum (or the structure) catches it.
    let mut flipped = long.clone().into_bytes();
    let i = flipped.len() / 2;
    flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
    assert!(share::decode(std::str::from_utf8(&flipped).unwrap()).is_err());
    // Far too long to be a clip.
    assert!(matches!(err(&format!("#c1.{}", "A".repeat(300_000))), ShareError::TooLong(_)));
}

#[test]
fn decompression_bombs_are_refused_without_unpacking_them() {
    // 64 MB of zeros compress to ~64 KB: far beyond any clip.
    let bomb = vec![0u8; 64 << 20];
    let link = pack(&bomb);
    assert!(link.len() < 200_000);
    let t0 = std::time::Instant::now();
    assert_eq!(err(&link), ShareError::TooBig);
    assert!(t0.elapsed().as_secs_f64() < 2.0, "refusing a bomb must be quick");
}

#[test]
fn absurd_counts_and_times_are_refused() {
    // A billion notes claimed in a tiny payload.
    let mut p = header();
    varint(&mut p, 1_000_000_000);
    assert!(err(&pack(&p)).to_string().contains("absurd number of notes"));
    // A plausible count the payload cannot hold.
    let mut p = header();
    varint(&mut p, 40_000);
    assert_eq!(err(&pack(&p)), ShareError::Truncated);
    // A note starting ten million beats in.
    let mut p = header();
    varint(&mut p, 1);
    varint(&mut p, 12 * 10_000_000);
    p.extend_from_slice(&[12, 60, 80, 0]);
    assert!(err(&pack(&p)).to_string().contains("absurdly late"));
    // A zero-length note, a pitch of 200, a silly tempo.
    let mut p = header();
    p.extend_from_slice(&[1, 0, 0, 60, 80, 0]);
    assert!(err(&pack(&p)).to_string().contains("impossible length"));
    let mut p = header();
    p.extend_from_slice(&[1, 0, 12, 200, 80, 0]);
    assert!(err(&pack(&p)).to_string().contains("out of range"));
    let mut p = vec![12];
    p.extend_from_slice(&f64::NAN.to_le_bytes());
    assert!(err(&pack(&p)).to_string().contains("tempo"));
    // Trailing garbage after a valid clip.
    let mut p = header();
    p.extend_from_slice(&[1, 0, 12, 60, 80, 0, 99]);
    assert!(err(&pack(&p)).to_string().contains("extra data"));
    // Two instruments listed, but the first note uses the second: not the canonical form.
    let mut p = vec![12];
    p.extend_from_slice(&120.0f64.to_le_bytes());
    p.extend_from_slice(&[2, 0, 0, 40, 0, 1, 0, 12, 60, 80, 1, 0]);
    assert!(err(&pack(&p)).to_string().contains("out of order"));
    // The drums listed twice (a second spelling of one clip: found by the fuzzer).
    let mut p = vec![12];
    p.extend_from_slice(&120.0f64.to_le_bytes());
    p.extend_from_slice(&[2, 0, 1, 0, 1, 2, 0, 0, 12, 12, 36, 38, 80, 80, 0, 1, 0]);
    assert!(err(&pack(&p)).to_string().contains("drums twice"));
    // A program listed twice is two of its parts, on two channels, and writes the same link back.
    let mut p = vec![12];
    p.extend_from_slice(&120.0f64.to_le_bytes());
    p.extend_from_slice(&[2, 0, 0, 0, 0, 2, 0, 0, 12, 12, 60, 64, 80, 80, 0, 1, 0]);
    let link = pack(&p);
    let two = share::decode(&link).unwrap();
    assert_eq!(two.notes.iter().map(|n| (n.program, n.channel, n.track)).collect::<Vec<_>>(), vec![(0, 0, 0), (0, 1, 1)]);
    assert_eq!(share::encode(&two).unwrap(), link);
    // The smallest valid clip is accepted (so the cases above fail for their stated reason).
    let mut p = header();
    p.extend_from_slice(&[1, 0, 12, 60, 80, 0]);
    assert_eq!(share::decode(&pack(&p)).unwrap().notes.len(), 1);
}

#[test]
fn text_from_a_link_comes_back_as_plain_text() {
    let (mut clip, ..) = generated_clip(4);
    clip.recipe.as_mut().unwrap().primer_label = "<img src=x onerror=alert(1)>".into();
    let back = share::decode(&share::encode(&clip).unwrap()).unwrap();
    // The codec keeps it verbatim; the page shows it with text nodes only (tested in the browser).
    assert_eq!(back.recipe.unwrap().primer_label, "<img src=x onerror=alert(1)>");
}

#[test]
fn random_and_mutated_links_never_panic() {
    let mut rng = StdRng::seed_from_u64(11);
    let good = share::encode(&generated_clip(5).0).unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&good[3..]).unwrap();
    let payload = miniz_oxide::inflate::decompress_to_vec_zlib(&raw).unwrap();
    for _ in 0..3000 {
        // Mutate the decompressed payload (so the checksum is right and the parser is exercised).
        let mut p = payload.clone();
        for _ in 0..rng.random_range(1..6) {
            let i = rng.random_range(0..p.len());
            p[i] = rng.random();
        }
        if rng.random_bool(0.3) {
            p.truncate(rng.random_range(0..p.len()));
        }
        let _ = share::decode(&pack(&p));
        // And random bytes as base64.
        let junk: Vec<u8> = (0..rng.random_range(0..64)).map(|_| rng.random()).collect();
        let _ = share::decode(&format!("c1.{}", URL_SAFE_NO_PAD.encode(&junk)));
    }
}

/// A link made by the first release of the format (kept as text): it must open for good.
const V1_LINK: &str = "c1.eNrjYQCDCAcWBkYGBg0GRQYWBgY2NmYeFTYVGw_tigCNFAZGJmYGADVcA2k";

#[test]
fn links_already_out_still_open_with_their_instruments_and_drums() {
    let clip = share::decode(V1_LINK).unwrap();
    assert_eq!(clip.bpm, 96.0);
    let got: Vec<(u8, f64, f64, u8, bool)> = clip.notes.iter().map(|n| (n.pitch, n.start, n.duration, n.program, n.drum)).collect();
    assert_eq!(got, vec![(36, 0.0, 0.25, 0, true), (60, 0.0, 1.0, 0, false), (72, 0.5, 3.0, 40, false), (43, 1.0, 0.5, 33, false)]);
    assert!(clip.notes.iter().filter(|n| n.drum).all(|n| n.channel == 9));
    // And the encoder still writes exactly that link for that clip.
    assert_eq!(share::encode(&clip).unwrap(), V1_LINK);
}
