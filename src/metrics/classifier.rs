//! The adversarial check: a small logistic-regression classifier that tries to tell real excerpts
//! from generated ones, cross-validated; its AUC says how separable they are (0.5 = it cannot tell
//! them apart). A two-sample classifier test (Lopez-Paz & Oquab 2017), as recommended in
//! `../shared/notes/data-and-evaluation.md` §4.2. Also the Wilson interval for the listening test.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand::rngs::StdRng;

#[derive(Debug, Clone, PartialEq)]
pub struct Separability {
    /// Cross-validated area under the ROC curve.
    pub auc: f64,
    /// 95 % interval (Hanley & McNeil standard error).
    pub low: f64,
    pub high: f64,
    /// Indices of the features with the largest mean |weight|, most telling first.
    pub top_features: Vec<usize>,
    pub folds: usize,
}

/// Area under the ROC curve of scores for positives vs negatives (Mann–Whitney, ties count ½).
pub fn auc(positive: &[f64], negative: &[f64]) -> f64 {
    if positive.is_empty() || negative.is_empty() {
        return f64::NAN;
    }
    let mut wins = 0.0;
    for p in positive {
        for n in negative {
            wins += if p > n { 1.0 } else if p == n { 0.5 } else { 0.0 };
        }
    }
    wins / (positive.len() * negative.len()) as f64
}

/// Standardises features with the training rows' mean and deviation.
fn standardiser(rows: &[&Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let d = rows[0].len();
    let n = rows.len() as f64;
    let mean: Vec<f64> = (0..d).map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n).collect();
    let sd: Vec<f64> = (0..d).map(|j| (rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n).sqrt().max(1e-9)).collect();
    (mean, sd)
}

/// L2-regularised logistic regression by gradient descent; returns (weights, bias).
fn fit(x: &[Vec<f64>], y: &[f64]) -> (Vec<f64>, f64) {
    let d = x[0].len();
    let (mut w, mut b) = (vec![0.0; d], 0.0);
    let (lr, l2) = (0.5, 1e-2);
    for _ in 0..300 {
        let mut gw = vec![0.0; d];
        let mut gb = 0.0;
        for (xi, yi) in x.iter().zip(y) {
            let z = b + xi.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>();
            let err = 1.0 / (1.0 + (-z).exp()) - yi;
            gw.iter_mut().zip(xi).for_each(|(g, a)| *g += err * a);
            gb += err;
        }
        let n = x.len() as f64;
        w.iter_mut().zip(&gw).for_each(|(wj, g)| *wj -= lr * (g / n + l2 * *wj));
        b -= lr * gb / n;
    }
    (w, b)
}

/// Cross-validated separability of `real` from `generated` feature vectors (k folds, stratified,
/// seeded). Needs at least 2 of each.
pub fn separability(real: &[Vec<f64>], generated: &[Vec<f64>], k: usize, seed: u64) -> Option<Separability> {
    if real.len() < 2 || generated.len() < 2 {
        return None;
    }
    let k = k.clamp(2, real.len().min(generated.len()));
    let mut rng = StdRng::seed_from_u64(seed);
    // (row, label, fold)
    let mut rows: Vec<(&Vec<f64>, f64, usize)> = Vec::new();
    for (set, label) in [(real, 0.0), (generated, 1.0)] {
        let mut idx: Vec<usize> = (0..set.len()).collect();
        idx.shuffle(&mut rng);
        rows.extend(idx.iter().enumerate().map(|(i, &j)| (&set[j], label, i % k)));
    }
    let d = real[0].len();
    let mut importance = vec![0.0; d];
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    for fold in 0..k {
        let train: Vec<&Vec<f64>> = rows.iter().filter(|r| r.2 != fold).map(|r| r.0).collect();
        let (mean, sd) = standardiser(&train);
        let z = |r: &Vec<f64>| r.iter().enumerate().map(|(j, v)| (v - mean[j]) / sd[j]).collect::<Vec<f64>>();
        let (x, y): (Vec<Vec<f64>>, Vec<f64>) = rows.iter().filter(|r| r.2 != fold).map(|r| (z(r.0), r.1)).unzip();
        let (w, b) = fit(&x, &y);
        importance.iter_mut().zip(&w).for_each(|(a, wj)| *a += wj.abs() / k as f64);
        for r in rows.iter().filter(|r| r.2 == fold) {
            let s = b + z(r.0).iter().zip(&w).map(|(a, c)| a * c).sum::<f64>();
            if r.1 == 1.0 { pos.push(s) } else { neg.push(s) }
        }
    }
    let a = auc(&pos, &neg);
    // Hanley & McNeil (1982) standard error of an AUC.
    let (n1, n2) = (pos.len() as f64, neg.len() as f64);
    let (q1, q2) = (a / (2.0 - a), 2.0 * a * a / (1.0 + a));
    let se = ((a * (1.0 - a) + (n1 - 1.0) * (q1 - a * a) + (n2 - 1.0) * (q2 - a * a)) / (n1 * n2)).max(0.0).sqrt();
    let mut top: Vec<usize> = (0..d).collect();
    top.sort_by(|&i, &j| importance[j].total_cmp(&importance[i]));
    top.truncate(3);
    Some(Separability { auc: a, low: (a - 1.96 * se).max(0.0), high: (a + 1.96 * se).min(1.0), top_features: top, folds: k })
}

/// Wilson score interval (95 %) for `hits` out of `n`.
pub fn wilson(hits: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (z, n, p) = (1.96f64, n as f64, hits as f64 / n as f64);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}
