//! Evaluation metrics on hand-made note lists with known answers, the originality meter on a planted
//! copy and on real held-out music, and the classifier on separable and inseparable sets.

mod common;

use cantor::benchmark::{piece_notes, PianoRollDataset};
use cantor::metrics::classifier::{auc, separability, wilson};
use cantor::metrics::originality::{percentile, Reference, MIN_RUN};
use cantor::metrics::style::{duration_class, histogram_overlap, overlap_area, Style};
use cantor::metrics::{evaluate, nll_per_second};
use cantor::midi::Note;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn note(pitch: u8, start: f64, duration: f64) -> Note {
    Note { pitch, velocity: 80, start, duration, start_s: start / 2.0, duration_s: duration / 2.0, channel: 0, program: 0, drum: false, track: 0 }
}

/// A melody of quarter and eighth notes, one after another.
fn melody(pitches: &[u8], durations: &[f64]) -> Vec<Note> {
    let mut t = 0.0;
    pitches
        .iter()
        .zip(durations.iter().cycle())
        .map(|(&p, &d)| {
            let n = note(p, t, d);
            t += d;
            n
        })
        .collect()
}

fn random_melody(rng: &mut StdRng, len: usize) -> Vec<Note> {
    let mut p = 60i32;
    let pitches: Vec<u8> = (0..len)
        .map(|_| {
            p = (p + rng.random_range(-5..=5)).clamp(40, 90);
            p as u8
        })
        .collect();
    let durations: Vec<f64> = (0..len).map(|_| [0.5, 1.0, 0.25, 1.5][rng.random_range(0..4)]).collect();
    melody(&pitches, &durations)
}

#[test]
fn duration_classes_are_the_nearest_note_length() {
    assert_eq!(duration_class(1.0), 2); // quarter
    assert_eq!(duration_class(0.5), 3); // eighth
    assert_eq!(duration_class(1.5), 6); // dotted quarter
    assert_eq!(duration_class(1.0 / 3.0), 11); // eighth triplet
    assert_eq!(duration_class(4.0), 0); // whole
    assert_eq!(duration_class(9.0), 0); // longer than a whole: still the longest class
}

#[test]
fn style_of_a_c_major_scale() {
    let scale = melody(&[60, 62, 64, 65, 67, 69, 71, 72], &[1.0]);
    let s = Style::of(&scale).unwrap();
    assert_eq!(s.pitch_classes[0], 2.0 / 8.0);
    assert_eq!(s.pitch_classes[1], 0.0);
    assert_eq!(s.pitch_classes[2], 1.0 / 8.0);
    assert_eq!(s.durations[2], 1.0, "all quarter notes");
    assert_eq!(s.pitch_range, 12.0);
    assert!((s.density - 1.0).abs() < 1e-12, "8 notes in 8 beats");
    assert!((s.mean_interval - 12.0 / 7.0).abs() < 1e-12);
    assert_eq!(s.polyphony, 1.0);
    assert_eq!(s.scale_consistency, 1.0);
    // A chromatic run is not in any one scale: 7 of its 12 pitch classes at best.
    let chromatic = melody(&(60..72).collect::<Vec<_>>(), &[1.0]);
    assert!((Style::of(&chromatic).unwrap().scale_consistency - 7.0 / 12.0).abs() < 1e-12);
    assert!(Style::of(&[]).is_none());
}

#[test]
fn polyphony_counts_sounding_notes() {
    let chord = vec![note(60, 0.0, 4.0), note(64, 0.0, 4.0), note(67, 0.0, 4.0)];
    assert_eq!(Style::of(&chord).unwrap().polyphony, 3.0);
    // Two beats of three notes, then two beats of one: mean 2 over the sounding steps.
    let half = vec![note(60, 0.0, 4.0), note(64, 0.0, 2.0), note(67, 0.0, 2.0)];
    assert!((Style::of(&half).unwrap().polyphony - 2.0).abs() < 1e-9);
    // Silence does not count.
    let gap = vec![note(60, 0.0, 1.0), note(62, 3.0, 1.0)];
    assert_eq!(Style::of(&gap).unwrap().polyphony, 1.0);
    // Drums are ignored.
    let mut drum = note(36, 0.0, 1.0);
    drum.drum = true;
    assert!(Style::of(&[drum]).is_none());
}

#[test]
fn overlap_scores() {
    let p = [0.5, 0.5, 0.0];
    assert_eq!(histogram_overlap(&p, &p), 1.0);
    assert_eq!(histogram_overlap(&p, &[0.0, 0.0, 1.0]), 0.0);
    assert_eq!(histogram_overlap(&p, &[0.5, 0.0, 0.5]), 0.5);
    let a: Vec<f64> = (0..50).map(|i| (i as f64 * 0.37).sin()).collect();
    assert!(overlap_area(&a, &a) > 0.99);
    let far: Vec<f64> = a.iter().map(|x| x + 100.0).collect();
    assert!(overlap_area(&a, &far) < 0.01);
    let shifted: Vec<f64> = a.iter().map(|x| x + 0.5).collect();
    let o = overlap_area(&a, &shifted);
    assert!(o > 0.2 && o < 0.9, "partly overlapping: {o}");
}

#[test]
fn auc_and_wilson_known_values() {
    assert_eq!(auc(&[2.0, 3.0], &[0.0, 1.0]), 1.0);
    assert_eq!(auc(&[0.0, 1.0], &[2.0, 3.0]), 0.0);
    assert_eq!(auc(&[1.0, 1.0], &[1.0, 1.0]), 0.5);
    assert_eq!(auc(&[1.0, 3.0], &[2.0]), 0.5);
    let (lo, hi) = wilson(50, 100);
    assert!((lo - 0.4038).abs() < 1e-3 && (hi - 0.5962).abs() < 1e-3, "{lo} {hi}");
    let (lo, hi) = wilson(0, 10);
    assert!(lo == 0.0 && (hi - 0.2775).abs() < 1e-3);
    assert_eq!(percentile(&mut [3.0, 1.0, 2.0, 4.0, 5.0], 0.5), 3.0);
    assert_eq!(percentile(&mut [1.0, 2.0], 0.95), 1.95);
    assert!((nll_per_second(2.0, 300, 60.0) - 10.0).abs() < 1e-12);
}

#[test]
fn the_classifier_separates_what_differs_and_not_what_does_not() {
    let mut rng = StdRng::seed_from_u64(3);
    let cloud = |rng: &mut StdRng, shift: f64, n: usize| -> Vec<Vec<f64>> {
        (0..n).map(|_| (0..6).map(|j| rng.random_range(-1.0..1.0) + if j == 2 { shift } else { 0.0 }).collect()).collect()
    };
    let (a, b) = (cloud(&mut rng, 0.0, 40), cloud(&mut rng, 3.0, 40));
    let s = separability(&a, &b, 5, 1).unwrap();
    assert!(s.auc > 0.95, "{s:?}");
    assert_eq!(s.top_features[0], 2, "the feature that differs is the most telling");
    let (c, d) = (cloud(&mut rng, 0.0, 40), cloud(&mut rng, 0.0, 40));
    let s = separability(&c, &d, 5, 1).unwrap();
    assert!(s.auc > 0.25 && s.auc < 0.75 && s.low < 0.5 && s.high > 0.5, "same distribution: {s:?}");
    assert!(separability(&a[..1], &b, 5, 1).is_none(), "too few to cross-validate");
}

/// Longest common contiguous run of two symbol strings, by brute force.
fn brute_longest(a: &[u32], b: &[u32]) -> usize {
    let mut best = 0;
    for i in 0..a.len() {
        for j in 0..b.len() {
            let mut k = 0;
            while i + k < a.len() && j + k < b.len() && a[i + k] == b[j + k] {
                k += 1;
            }
            best = best.max(k);
        }
    }
    best
}

#[test]
fn the_suffix_automaton_finds_the_longest_run_exactly() {
    use cantor::metrics::originality::symbols;
    let mut rng = StdRng::seed_from_u64(9);
    for _ in 0..30 {
        // Few distinct steps, so runs repeat often.
        let mk = |rng: &mut StdRng, n: usize| {
            let pitches: Vec<u8> = (0..n).map(|_| 60 + rng.random_range(0..3) * 2).collect();
            melody(&pitches, &[1.0])
        };
        let train = vec![mk(&mut rng, 40), mk(&mut rng, 30)];
        let clip = mk(&mut rng, 25);
        let r = Reference::new(&train);
        let o = r.check(&clip);
        let (cs, _) = symbols(&clip);
        let expect = train.iter().map(|t| brute_longest(&cs, &symbols(t).0)).max().unwrap();
        assert_eq!(o.longest_len(), expect);
    }
}

#[test]
fn the_originality_meter_finds_a_planted_copy_and_where_it_came_from() {
    let mut rng = StdRng::seed_from_u64(1);
    let train: Vec<Vec<Note>> = (0..5).map(|_| random_melody(&mut rng, 200)).collect();
    let held_out: Vec<Vec<Note>> = (0..5).map(|_| random_melody(&mut rng, 200)).collect();
    let r = Reference::new(&train);
    // 20 fresh notes, then 40 notes of training file 3 from its note 50, transposed up a fourth.
    let mut clip = random_melody(&mut rng, 20);
    let t0 = clip.last().map_or(0.0, |n| n.start + n.duration);
    let offset = train[3][50].start;
    clip.extend(train[3][50..90].iter().map(|n| note(n.pitch + 5, n.start - offset + t0, n.duration)));
    let o = r.check(&clip);
    let found = o.longest.clone().unwrap();
    assert!(found.len >= 39, "the copied 40 notes make a run of 39 intervals at least: {found:?}");
    assert_eq!(found.file, 3);
    assert!(found.file_beat >= train[3][50].start && found.file_beat <= train[3][52].start, "{found:?}");
    assert!(found.clip_beat >= t0 - 1e-9);
    assert!(o.copy_rate > 0.6, "{o:?}");
    let base = r.baseline(&held_out, o.notes);
    assert!(base.windows > 5);
    assert!(base.longest_p95 < MIN_RUN as f64, "independent random melodies share only short runs: {base:?}");
    assert!(base.flags(&o), "a planted copy is flagged");
    // Fresh music is not.
    let fresh = r.check(&random_melody(&mut rng, 60));
    assert!(!base.flags(&fresh), "{fresh:?} vs {base:?}");
}

#[test]
fn real_held_out_chorales_are_not_flagged_against_the_training_chorales() {
    let data = PianoRollDataset::from_json(&std::fs::read(common::shared("benchmarks/jsb_chorales.json")).unwrap()).unwrap();
    let notes = |ps: &[Vec<Vec<u8>>]| ps.iter().map(|p| piece_notes(p, 1.0)).collect::<Vec<_>>();
    let (train, valid, test) = (notes(&data.train), notes(&data.valid), notes(&data.test));
    let r = Reference::new(&train);
    let checks: Vec<_> = test.iter().map(|p| r.check(p)).collect();
    let window = checks.iter().map(|o| o.notes).max().unwrap();
    // Whole test pieces against windows of the longest test piece's length from the validation pieces.
    let base = r.baseline(&valid, window.min(40));
    let flagged = checks.iter().filter(|o| base.flags(o)).count();
    println!("{base:?}; {flagged} of {} test chorales flagged", checks.len());
    assert!(!base.flags(&checks[0]), "the first test chorale is real music, not a copy: {:?}", checks[0]);
    assert!(flagged * 5 <= checks.len(), "at most a fifth of real held-out chorales look copied");
    // And a chorale copied whole from the training set is.
    assert!(base.flags(&r.check(&train[10])));
}

#[test]
fn the_whole_report_on_a_small_corpus() {
    let mut rng = StdRng::seed_from_u64(4);
    let train: Vec<Vec<Note>> = (0..6).map(|_| random_melody(&mut rng, 150)).collect();
    let valid: Vec<Vec<Note>> = (0..3).map(|_| random_melody(&mut rng, 150)).collect();
    // "Generated": one copy of a training file and three monotone drones (obviously unlike it).
    let mut generated = vec![train[0][..60].to_vec()];
    generated.extend((0..3).map(|_| melody(&[60; 60], &[0.25])));
    let report = evaluate(&train, &valid, &generated);
    assert_eq!(report.flagged[0], true, "the copy is flagged");
    assert_eq!(report.originality.len(), 4);
    let range = report.style.iter().find(|r| r.name.starts_with("pitch range")).unwrap();
    assert!(range.generated < range.corpus && range.overlap < 0.5, "{range:?}");
    let real_vs_gen = report.real_vs_generated.unwrap();
    assert!(real_vs_gen.auc > 0.8, "drones are easy to tell apart: {real_vs_gen:?}");
}

#[test]
fn silence_and_each_instruments_sounding_share() {
    use cantor::metrics::shape::Shape;
    let on = |pitch: u8, start: f64, duration: f64, program: u8| Note { program, ..note(pitch, start, duration) };
    // Two lines through eight beats, without a gap: nothing silent, both sound throughout.
    let quartet: Vec<Note> = (0..8).flat_map(|b| [on(72, b as f64, 1.0, 40), on(48, b as f64, 1.0, 42)]).collect();
    let s = Shape::of(&quartet, 4.0).unwrap();
    assert!(s.silence.abs() < 1e-9 && (s.instrument_sounding - 1.0).abs() < 1e-9, "{s:?}");
    // The same beats with every other one empty and the lines taking turns: half silent, and each
    // instrument sounds in half of the sounding time.
    let broken: Vec<Note> = (0..8).step_by(2).map(|b| on(if b % 4 == 0 { 72 } else { 48 }, b as f64, 1.0, if b % 4 == 0 { 40 } else { 42 })).collect();
    let s = Shape::of(&broken, 4.0).unwrap();
    assert!((s.silence - 3.0 / 7.0).abs() < 1e-9, "{}", s.silence); // beats 1, 3, 5 of seven from the first onset to the last end
    assert!((s.instrument_sounding - 0.5).abs() < 1e-9, "{}", s.instrument_sounding);
    // A drum hit sounds a sixteenth, whatever its written length (generated hits are sixteenths;
    // a file's kick held for three beats fills no gap): beats 0–1 and 4–5 and a quarter beat of 5.
    let kick = |start: f64, duration: f64| Note { drum: true, channel: 9, ..note(36, start, duration) };
    let held = vec![on(72, 0.0, 1.0, 40), kick(1.0, 3.0), on(72, 4.0, 1.0, 40)];
    let s = Shape::of(&held, 4.0).unwrap();
    assert!((s.silence - (1.0 - 2.25 / 5.0)).abs() < 1e-9, "{}", s.silence);
    // Both figures are rows of the evaluation, corpus against generated.
    let r = evaluate(&[quartet.clone()], &[quartet], &[broken]);
    let row = |name: &str| r.shape.iter().find(|f| f.name.starts_with(name)).unwrap().clone();
    assert!(row("silence").corpus < 1e-9 && row("silence").generated > 0.4);
    assert!(row("each instrument's share").corpus > 0.99 && row("each instrument's share").generated < 0.51);
}

#[test]
fn bars_that_repeat_an_earlier_bar_exactly_and_in_rhythm() {
    use cantor::metrics::shape::Shape;
    let bar = |k: usize, pitches: [u8; 4]| -> Vec<Note> { (0..4).map(|b| note(pitches[b], (k * 4 + b) as f64, 1.0)).collect() };
    // A B A C': the third bar repeats the first exactly; the fourth has its rhythm with other pitches.
    let piece: Vec<Note> = [bar(0, [60, 62, 64, 65]), bar(1, [67, 67, 67, 67]), bar(2, [60, 62, 64, 65]), bar(3, [70, 71, 72, 73])].concat();
    let s = Shape::of(&piece, 4.0).unwrap();
    assert!((s.bar_repeats - 0.25).abs() < 1e-9, "{}", s.bar_repeats);
    assert!((s.rhythm_repeats - 0.75).abs() < 1e-9, "{}", s.rhythm_repeats);
    // Every bar new: nothing repeats.
    let fresh: Vec<Note> = (0..4).flat_map(|k| bar(k, [60 + k as u8, 62, 64, 65]).into_iter().take(k + 1).collect::<Vec<_>>()).collect();
    let s = Shape::of(&fresh, 4.0).unwrap();
    assert_eq!((s.bar_repeats, s.rhythm_repeats), (0.0, 0.0));
}

#[test]
fn the_self_similarity_matrix_shows_a_returning_bar() {
    use cantor::metrics::shape::self_similarity;
    let bar = |k: usize, pitches: [u8; 4]| -> Vec<Note> { (0..4).map(|b| note(pitches[b], (k * 4 + b) as f64, 1.0)).collect() };
    let piece: Vec<Note> = [bar(0, [60, 62, 64, 65]), bar(1, [67, 67, 67, 67]), bar(2, [60, 62, 64, 65]), bar(3, [60, 62, 64, 70])].concat();
    let m = self_similarity(&piece, 4.0);
    assert_eq!(m.len(), 4);
    assert!((0..4).all(|i| (m[i][i] - 1.0).abs() < 1e-12), "each bar is itself");
    assert_eq!(m[0][2], 1.0, "bar 3 returns to bar 1");
    assert!((m[0][3] - 3.0 / 5.0).abs() < 1e-12, "three of four notes shared: 3 / 5");
    assert_eq!(m[1][0], 0.0);
    assert!((0..4).all(|i| (0..4).all(|j| m[i][j] == m[j][i])), "symmetric");
}
