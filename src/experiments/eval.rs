//! The shared evaluation: run MUSIC on a set of pairs, build the two linear baselines, and score
//! every method at the same progress fractions.

use std::time::Instant;

use burn::prelude::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::classifier::Classifier;
use crate::data::Samples;
use crate::error::{Error, Result};
use crate::metrics::image::{gradient_energy_batch, laplacian_variance_batch, nearest_distances};
use crate::music::{resample_by_progress, trajectories, MusicConfig, MusicMap, Progress, Target};
use crate::som::Som;
use crate::tensor::{from_rows, sq_distances, to_vec_f32};

/// Progress fractions every path is scored at (they include 0.25, 0.5 and 0.75, the fractions
/// the paired tests use).
pub const PROGRESS: [f32; 9] = [0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0];

/// Names of the three compared paths, in the order of [`Evaluation::methods`].
pub const METHODS: [&str; 3] = ["music", "linear_same_ends", "linear_real_ends"];

/// Something that gives class probabilities for points: a trained classifier, or the Bayes
/// posterior of a known mixture.
pub trait Scorer {
    /// Number of classes.
    fn n_classes(&self) -> usize;
    /// Row-major `[N, n_classes]` probabilities of the rows of `x`.
    ///
    /// # Shapes
    /// `x`: `[N, D]`
    fn probabilities(&self, x: Tensor<2>) -> Vec<f32>;
}

impl Scorer for Classifier {
    fn n_classes(&self) -> usize {
        self.config().n_classes
    }

    fn probabilities(&self, x: Tensor<2>) -> Vec<f32> {
        to_vec_f32(self.probabilities_batched(x, 0))
    }
}

/// The exact posterior of an equal-weight isotropic Gaussian mixture with known centres:
/// `p(c | x) ∝ exp(-||x - mu_c||^2 / (2 sigma^2))`. It is the best possible classifier of
/// mixture data, so it scores mixture paths the way a trained classifier scores digits.
#[derive(Clone, Debug)]
pub struct MixturePosterior {
    /// Centres, `n_classes x d_input` row-major.
    pub centres: Vec<f32>,
    /// Number of components.
    pub n_classes: usize,
    /// Standard deviation of each component, per coordinate.
    pub sigma: f32,
}

impl Scorer for MixturePosterior {
    fn n_classes(&self) -> usize {
        self.n_classes
    }

    fn probabilities(&self, x: Tensor<2>) -> Vec<f32> {
        let [n, d] = x.dims();
        let centres = from_rows(self.centres.clone(), self.n_classes, d, &x.device());
        let logits = sq_distances(x, centres) / (-2.0 * (self.sigma as f64).powi(2).max(1e-12));
        to_vec_f32(burn::tensor::activation::softmax(logits, 1))
            .chunks(self.n_classes)
            .take(n)
            .flatten()
            .copied()
            .collect()
    }
}

/// Source-target pairs: the start sample, a real sample of the target, and the target class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pairs {
    /// Index of each start in the pool.
    pub starts: Vec<usize>,
    /// Index of each real end sample in the pool (same class as the target).
    pub ends: Vec<usize>,
    /// Target class of each pair.
    pub classes: Vec<u8>,
}

impl Pairs {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// True when there is no pair.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

/// `n_pairs` seeded pairs between different classes of `pool`, cycling through the ordered class
/// pairs `(a, b)`, `a != b`, in a seeded random order, so that every ordered pair is used once
/// before any is used twice. The start is a random sample of class `a`, the end a random sample
/// of class `b`; only classes in `allowed` are used (all classes when `None`).
///
/// # Errors
/// [`Error::Invalid`] when the pool has no labels or fewer than two usable classes;
/// [`Error::InvalidConfig`] when `n_pairs` is 0.
pub fn class_pairs(
    pool: &Samples,
    allowed: Option<&[u8]>,
    n_pairs: usize,
    seed: u64,
) -> Result<Pairs> {
    let labels = pool.labels.as_ref().ok_or_else(|| {
        Error::Invalid(
            "pairs between classes need labelled samples. Fix: load the labels file".into(),
        )
    })?;
    if n_pairs == 0 {
        return Err(Error::InvalidConfig {
            field: "n_pairs",
            reason: "0 pairs measure nothing. Fix: ask for at least one pair".into(),
        });
    }
    let mut classes: Vec<u8> = labels.clone();
    classes.sort_unstable();
    classes.dedup();
    if let Some(allowed) = allowed {
        classes.retain(|c| allowed.contains(c));
    }
    if classes.len() < 2 {
        return Err(Error::Invalid(format!(
            "pairs need at least two classes, found {classes:?}. Fix: use data with several classes"
        )));
    }
    let members: Vec<Vec<usize>> = classes.iter().map(|&c| pool.indices_of_class(c)).collect();
    let mut ordered: Vec<(usize, usize)> = (0..classes.len())
        .flat_map(|a| {
            (0..classes.len())
                .filter(move |&b| b != a)
                .map(move |b| (a, b))
        })
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    ordered.shuffle(&mut rng);
    let mut pairs = Pairs {
        starts: Vec::with_capacity(n_pairs),
        ends: Vec::with_capacity(n_pairs),
        classes: Vec::with_capacity(n_pairs),
    };
    for i in 0..n_pairs {
        let (a, b) = ordered[i % ordered.len()];
        pairs
            .starts
            .push(members[a][rng.random_range(0..members[a].len())]);
        pairs
            .ends
            .push(members[b][rng.random_range(0..members[b].len())]);
        pairs.classes.push(classes[b]);
    }
    Ok(pairs)
}

/// What a pair's MUSIC trajectory heads for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetMode {
    /// Every unit labelled with the target class.
    Class,
    /// The best-matching unit of the real end sample (for data without useful classes).
    EndUnit,
}

/// Everything an evaluation needs besides the pairs and the rule.
pub struct Setup<'a> {
    /// The map the trajectories run on.
    pub som: &'a Som,
    /// Starts and end samples come from here (scaled as the map expects).
    pub pool: &'a Samples,
    /// The training samples for the nearest-training-sample distance, on `device`.
    pub reference: Tensor<2>,
    /// Scores class probabilities.
    pub scorer: &'a dyn Scorer,
    /// Image shape for the sharpness metrics (`None`: no sharpness).
    pub image_shape: Option<[usize; 2]>,
    /// Target of each trajectory.
    pub target_mode: TargetMode,
    /// Trajectories per batched run (bounds the memory of the recorded paths).
    pub chunk: usize,
    /// Device of every computation.
    pub device: Device,
}

/// Per method, per metric: one row per pair, one column per progress fraction.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MethodCurves {
    /// Method name (one of [`METHODS`]).
    pub method: String,
    /// `(metric name, values[pair][t])`.
    pub metrics: Vec<(String, Vec<Vec<f64>>)>,
}

impl MethodCurves {
    /// The values of a metric, `[pair][t]`.
    pub fn metric(&self, name: &str) -> Option<&Vec<Vec<f64>>> {
        self.metrics.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// The outcome of [`evaluate`].
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The progress fractions (columns of every metric).
    pub ts: Vec<f32>,
    /// One entry per method of [`METHODS`], in that order.
    pub methods: Vec<MethodCurves>,
    /// Per pair: the map's stopping rule was met within the budget.
    pub reached: Vec<bool>,
    /// Per pair: the scorer's most probable class at the end of the MUSIC path is the target.
    pub success: Vec<bool>,
    /// Per pair: accepted MUSIC steps.
    pub steps: Vec<usize>,
    /// Per pair: a step produced NaN or infinity.
    pub diverged: Vec<bool>,
    /// The resampled points of each method, `[method][pair][t]` (for pictures).
    pub frames: Vec<Vec<Vec<Vec<f32>>>>,
    /// Wall time of the MUSIC runs, in seconds.
    pub music_seconds: f64,
}

/// Metric names in the order of [`MethodCurves::metrics`] (sharpness only for images).
pub fn metric_names(images: bool) -> Vec<&'static str> {
    let mut names = vec!["p_target", "p_max", "nearest_train", "nearest_prototype"];
    if images {
        names.extend(["laplacian_var", "gradient_energy"]);
    }
    names
}

/// Runs MUSIC from every start toward its target (end sample: the pair's real end), resamples
/// each path at [`PROGRESS`] by arc length, builds the two linear baselines (between MUSIC's own
/// end points, and between the start and the real end sample), and scores all of them.
///
/// # Errors
/// The errors of [`trajectories`] (bad configuration, a target the map cannot resolve), and
/// [`Error::Shape`] when the pool does not match the map.
pub fn evaluate(setup: &Setup<'_>, pairs: &Pairs, cfg: &MusicConfig) -> Result<Evaluation> {
    let som = setup.som;
    let pool = setup.pool;
    let d = pool.d_input;
    if d != som.d_input() {
        return Err(Error::Shape {
            op: "experiments::evaluate",
            expected: format!("{} features per sample (the map's)", som.d_input()),
            got: format!("{d}"),
            fix: "evaluate with data of the kind the map was trained on",
        });
    }
    let device = &setup.device;
    let map = MusicMap::from_som(som);
    let ts = PROGRESS.to_vec();
    let n = pairs.len();
    let chunk = setup.chunk.max(1);
    let mut music_frames: Vec<Vec<Vec<f32>>> = Vec::with_capacity(n);
    let mut reached = Vec::with_capacity(n);
    let mut steps = Vec::with_capacity(n);
    let mut diverged = Vec::with_capacity(n);
    let started = Instant::now();
    for lo in (0..n).step_by(chunk) {
        let hi = (lo + chunk).min(n);
        let starts = pool.subset(&pairs.starts[lo..hi]);
        let ends = pool.subset(&pairs.ends[lo..hi]);
        let ends_t = ends.to_tensor(device);
        let targets: Vec<Target> = match setup.target_mode {
            TargetMode::Class => pairs.classes[lo..hi]
                .iter()
                .map(|&c| Target::Class(c))
                .collect(),
            TargetMode::EndUnit => som
                .bmu_host(&ends_t)?
                .into_iter()
                .map(Target::Unit)
                .collect(),
        };
        let paths = trajectories(&map, starts.to_tensor(device), &targets, Some(ends_t), cfg)?;
        for path in paths {
            music_frames.push(resample_by_progress(
                &path.points,
                &ts,
                Progress::ArcLength,
            )?);
            reached.push(path.reached);
            steps.push(path.steps);
            diverged.push(path.diverged);
        }
    }
    let music_seconds = started.elapsed().as_secs_f64();

    let line = |a: &[f32], b: &[f32]| -> Vec<Vec<f32>> {
        ts.iter()
            .map(|&t| a.iter().zip(b).map(|(&p, &q)| p + t * (q - p)).collect())
            .collect()
    };
    let same: Vec<Vec<Vec<f32>>> = music_frames
        .iter()
        .map(|f| line(&f[0], f.last().expect("PROGRESS is not empty")))
        .collect();
    let real: Vec<Vec<Vec<f32>>> = (0..n)
        .map(|i| line(pool.row(pairs.starts[i]), pool.row(pairs.ends[i])))
        .collect();
    let frames = vec![music_frames, same, real];

    let methods = frames
        .iter()
        .zip(METHODS)
        .map(|(f, name)| score(setup, pairs, f, name))
        .collect::<Result<Vec<_>>>()?;
    let end = ts.len() - 1;
    let success = (0..n)
        .map(|i| {
            let p = methods[0].metric("p_target").expect("scored")[i][end];
            let pmax = methods[0].metric("p_max").expect("scored")[i][end];
            p >= pmax && p > 0.0
        })
        .collect();
    Ok(Evaluation {
        ts,
        methods,
        reached,
        success,
        steps,
        diverged,
        frames,
        music_seconds,
    })
}

/// Scores the resampled frames `[pair][t]` of one method.
fn score(
    setup: &Setup<'_>,
    pairs: &Pairs,
    frames: &[Vec<Vec<f32>>],
    method: &str,
) -> Result<MethodCurves> {
    let n = frames.len();
    let n_t = PROGRESS.len();
    let d = setup.pool.d_input;
    let values: Vec<f32> = frames.iter().flatten().flatten().copied().collect();
    let rows = n * n_t;
    let x = from_rows(values, rows, d, &setup.device);
    let probs = setup.scorer.probabilities(x.clone());
    let c = setup.scorer.n_classes();
    let nearest = nearest_distances(x.clone(), setup.reference.clone(), 512);
    let proto_sq = to_vec_f32(
        sq_distances(x.clone(), setup.som.codebook())
            .min_dim(1)
            .clamp_min(0.0),
    );
    let as_grid =
        |flat: Vec<f64>| -> Vec<Vec<f64>> { flat.chunks(n_t).map(|r| r.to_vec()).collect() };
    let p_target: Vec<f64> = (0..rows)
        .map(|r| {
            let class = pairs.classes[r / n_t] as usize;
            if class < c {
                probs[r * c + class] as f64
            } else {
                0.0
            }
        })
        .collect();
    let p_max: Vec<f64> = (0..rows)
        .map(|r| {
            probs[r * c..(r + 1) * c]
                .iter()
                .copied()
                .fold(0.0f32, f32::max) as f64
        })
        .collect();
    let mut metrics = vec![
        ("p_target".to_string(), as_grid(p_target)),
        ("p_max".to_string(), as_grid(p_max)),
        (
            "nearest_train".to_string(),
            as_grid(nearest.iter().map(|&v| v as f64).collect()),
        ),
        (
            "nearest_prototype".to_string(),
            as_grid(proto_sq.iter().map(|&v| (v as f64).sqrt()).collect()),
        ),
    ];
    if let Some(shape) = setup.image_shape {
        metrics.push((
            "laplacian_var".to_string(),
            as_grid(laplacian_variance_batch(x.clone(), shape)),
        ));
        metrics.push((
            "gradient_energy".to_string(),
            as_grid(gradient_energy_batch(x, shape)),
        ));
    }
    Ok(MethodCurves {
        method: method.to_string(),
        metrics,
    })
}
