//! The batched MUSIC augmentation: own-class targets, seeded per (sample, variant), stepped on the
//! inner (non-autodiff) device.

use burn::prelude::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::MusicAugment;
use crate::data::Samples;
use crate::error::{Error, Result};
use crate::music::{MusicStepper, StepTargets};
use crate::som::Som;
use crate::tensor::{from_rows, sq_distances, to_vec_f32};

/// What the augmentation needs from a trained map: its prototypes and a class per unit.
///
/// The unit classes decide which prototypes a sample may move toward. For a few-label experiment,
/// label the units with the labelled subset only ([`AugmentMap::from_labelled`]), so that no label
/// outside that subset reaches the classifier through the map.
#[derive(Clone, Debug)]
pub struct AugmentMap {
    codebook: Tensor<2>,
    unit_labels: Vec<Option<u8>>,
    /// Units of each class, by class index.
    units_by_class: Vec<Vec<usize>>,
}

impl AugmentMap {
    /// A map from its prototypes and unit classes.
    ///
    /// # Shapes
    /// - `codebook`: `[K, D]`; `unit_labels`: `K` entries (`None`: the unit is never a target)
    ///
    /// # Errors
    /// [`Error::Shape`] when the number of labels is not `K`; [`Error::Target`] when no unit has a
    /// label.
    pub fn new(codebook: Tensor<2>, unit_labels: Vec<Option<u8>>) -> Result<Self> {
        let [k, _] = codebook.dims();
        if unit_labels.len() != k {
            return Err(Error::Shape {
                op: "AugmentMap::new",
                expected: format!("{k} unit labels (one per prototype)"),
                got: format!("{}", unit_labels.len()),
                fix: "pass the unit labels of the same map",
            });
        }
        let n_classes = unit_labels
            .iter()
            .flatten()
            .map(|&c| usize::from(c) + 1)
            .max()
            .ok_or_else(|| {
                Error::Target(
                    "no unit of the map has a class, so no sample has a target. Fix: label the \
                     units with labelled data (AugmentMap::from_labelled)"
                        .into(),
                )
            })?;
        let mut units_by_class = vec![Vec::new(); n_classes];
        for (u, label) in unit_labels.iter().enumerate() {
            if let Some(c) = label {
                units_by_class[usize::from(*c)].push(u);
            }
        }
        Ok(AugmentMap {
            codebook,
            unit_labels,
            units_by_class,
        })
    }

    /// The map with the unit labels stored in it (majority vote of its labelled training data).
    ///
    /// # Errors
    /// [`Error::Target`] when the map has no unit labels; see [`AugmentMap::new`].
    pub fn from_som(som: &Som) -> Result<Self> {
        let labels = som.unit_labels().ok_or_else(|| {
            Error::Target(
                "the map has no unit labels. Fix: train it on labelled data, or use \
                 AugmentMap::from_labelled with the labelled samples"
                    .into(),
            )
        })?;
        Self::new(som.codebook(), labels.to_vec())
    }

    /// The map with its units labelled by majority vote of `labelled` only: each unit takes the
    /// most frequent class of the labelled samples it is the best-matching unit of (ties to the
    /// smaller class); units that win none get no class.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `labelled` has no labels; [`Error::Shape`] when its dimension is not
    /// the map's; see [`AugmentMap::new`].
    pub fn from_labelled(som: &Som, labelled: &Samples) -> Result<Self> {
        let labels = labelled.labels.as_ref().ok_or_else(|| {
            Error::Invalid(
                "labelling the map's units needs labelled samples. Fix: load the labels file too"
                    .into(),
            )
        })?;
        if labelled.d_input != som.d_input() {
            return Err(Error::Shape {
                op: "AugmentMap::from_labelled",
                expected: format!("samples with {} features (the map's)", som.d_input()),
                got: format!("{}", labelled.d_input),
                fix: "use data of the kind the map was trained on",
            });
        }
        let bmus = som.bmu_host(&labelled.to_tensor(&som.device()))?;
        let n_classes = labels
            .iter()
            .map(|&c| usize::from(c) + 1)
            .max()
            .unwrap_or(1);
        let mut votes = vec![0usize; som.n_units() * n_classes];
        for (&b, &c) in bmus.iter().zip(labels) {
            votes[b * n_classes + usize::from(c)] += 1;
        }
        let unit_labels = votes
            .chunks(n_classes)
            .map(|v| {
                // `rev` makes `max_by_key` keep the smaller class on ties.
                let (best, &count) = v.iter().enumerate().rev().max_by_key(|(_, &n)| n)?;
                (count > 0).then_some(best as u8)
            })
            .collect();
        Self::new(som.codebook(), unit_labels)
    }

    /// The prototypes.
    ///
    /// # Shapes
    /// `[K, D]`
    pub fn codebook(&self) -> Tensor<2> {
        self.codebook.clone()
    }

    /// The class of each unit.
    pub fn unit_labels(&self) -> &[Option<u8>] {
        &self.unit_labels
    }

    /// The units labelled `class` (empty when none is).
    pub fn units_of(&self, class: u8) -> &[usize] {
        self.units_by_class
            .get(usize::from(class))
            .map_or(&[], Vec::as_slice)
    }

    /// Input dimension `D`.
    pub fn d_input(&self) -> usize {
        self.codebook.dims()[1]
    }

    /// `cfg.n_variants` label-preserving variants of each row of `x`, by batched MUSIC steps toward
    /// a prototype of the row's own class.
    ///
    /// `ids[n]` identifies row `n` for the random draws (its index in the data set), so the variants
    /// of a sample do not depend on the batch it is in. The steps run on the inner (non-autodiff)
    /// device of `x`, so `x` may come from an autodiff training loop; the result is a plain tensor
    /// on that inner device, sample-major: row `n * V + v` is variant `v` of row `n`. With
    /// `cfg.is_identity()` every variant is an exact copy of its sample.
    ///
    /// # Shapes
    /// - `x`: `[N, D]`, `labels` and `ids`: `N` entries -> `[N * V, D]`
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a bad `cfg`; [`Error::Shape`] when `D` is not the map's or the
    /// lengths disagree; [`Error::EmptyData`] for `N = 0`; [`Error::Target`] when a row's class has
    /// no unit on the map; [`Error::NonFinite`] for NaN in `x` or a diverging step.
    pub fn variants(
        &self,
        x: Tensor<2>,
        labels: &[u8],
        ids: &[u64],
        cfg: &MusicAugment,
    ) -> Result<Tensor<2>> {
        cfg.validate()?;
        let [n, d] = x.dims();
        if n == 0 {
            return Err(Error::EmptyData {
                what: "batch to augment",
            });
        }
        if d != self.d_input() || labels.len() != n || ids.len() != n {
            return Err(Error::Shape {
                op: "AugmentMap::variants",
                expected: format!(
                    "[N, {}] samples with N labels and N ids (the map's dimension)",
                    self.d_input()
                ),
                got: format!(
                    "[{n}, {d}] with {} labels and {} ids",
                    labels.len(),
                    ids.len()
                ),
                fix:
                    "pass one label and one id per row, and data of the kind the map was trained on",
            });
        }
        let v = cfg.n_variants;
        let x = x.inner();
        let device = x.device();
        let repeat = |t: Tensor<2>| {
            let [rows, cols] = t.dims();
            t.unsqueeze_dim::<3>(1)
                .repeat_dim(1, v)
                .reshape([rows * v, cols])
        };
        if cfg.is_identity() {
            return Ok(repeat(x));
        }
        crate::tensor::check_finite_tensor(
            &x,
            "samples to augment",
            "Fix: remove or repair samples with NaN or infinite values",
        )?;
        if let Some(&c) = labels.iter().find(|&&c| self.units_of(c).is_empty()) {
            return Err(Error::Target(format!(
                "class {c} has no unit on the map, so its samples have no target. Fix: label the \
                 units with data that includes class {c}, or use a larger map"
            )));
        }
        let codebook = self.codebook.clone().to_device(&device);
        let k = codebook.dims()[0];
        let stepper = MusicStepper::new(codebook.clone(), None, &cfg.music_config())?;

        let rows_per_chunk = (cfg.batch_size / v).max(1);
        let mut parts = Vec::with_capacity(n.div_ceil(rows_per_chunk));
        for start in (0..n).step_by(rows_per_chunk) {
            let end = (start + rows_per_chunk).min(n);
            let rows = end - start;
            let chunk = x.clone().slice([start..end, 0..d]);
            let dist = to_vec_f32(sq_distances(chunk.clone(), codebook.clone())); // [rows, K]
            let mut sets = Vec::with_capacity(rows * v);
            let mut etas = Vec::with_capacity(rows * v);
            for r in 0..rows {
                let units = self.units_of(labels[start + r]);
                let row_dist = &dist[r * k..(r + 1) * k];
                let mut nearest: Vec<usize> = units.to_vec();
                nearest.sort_by(|&a, &b| row_dist[a].total_cmp(&row_dist[b]));
                let pool = cfg.target_pool.min(nearest.len());
                for variant in 0..v {
                    let mut rng = variant_rng(cfg.seed, ids[start + r], variant);
                    sets.push(vec![nearest[rng.random_range(0..pool)]]);
                    let u: f64 = rng.random();
                    etas.push((cfg.eta * (1.0 - cfg.eta_jitter * u)) as f32);
                }
            }
            let mut targets = StepTargets::prototypes(&sets, k, &device)?;
            targets.eta = Some(Tensor::<1>::from_data(
                TensorData::new(etas, [rows * v]),
                &device,
            ));
            let mut xs = repeat(chunk);
            for _ in 0..cfg.steps {
                xs = stepper.step(xs, &targets).x_next;
            }
            if let Some([lo, hi]) = cfg.clamp {
                xs = xs.clamp(lo, hi);
            }
            parts.push(xs);
        }
        let out = Tensor::cat(parts, 0);
        crate::tensor::check_finite_tensor(
            &out,
            "MUSIC augmentation variants",
            "Fix: lower eta or the number of steps, or raise lambda_rel",
        )?;
        Ok(out)
    }
}

/// The RNG of variant `variant` of the sample `id`: a function of `(seed, id, variant)` only.
fn variant_rng(seed: u64, id: u64, variant: usize) -> ChaCha8Rng {
    let mut key = splitmix64(seed);
    key = splitmix64(key ^ id);
    key = splitmix64(key ^ variant as u64);
    ChaCha8Rng::seed_from_u64(key)
}

/// SplitMix64's finaliser: a bijective mix, so distinct keys stay distinct.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The variants of every sample of a labelled set, as new samples (sample-major: variant `v` of
/// sample `i` is sample `i * V + v`, with the label of sample `i`). Image shapes are kept.
///
/// The samples go through the device in chunks of `cfg.batch_size` variants, so memory is bounded
/// whatever the data set's size; sample `i`'s random draws use the id `i`.
///
/// # Shapes
/// `samples`: `N` samples of `D` -> `N * V` samples of `D`
///
/// # Errors
/// [`Error::Invalid`] when `samples` has no labels; the errors of [`AugmentMap::variants`].
pub fn augment_samples(
    map: &AugmentMap,
    samples: &Samples,
    cfg: &MusicAugment,
    device: &Device,
) -> Result<Samples> {
    let labels = samples.labels.as_ref().ok_or_else(|| {
        Error::Invalid(
            "MUSIC augmentation keeps each sample's label, so the samples need labels. Fix: load \
             the labels file too"
                .into(),
        )
    })?;
    cfg.validate()?;
    let device = device.clone().inner();
    let d = samples.d_input;
    let v = cfg.n_variants;
    let rows_per_chunk = (cfg.batch_size / v).max(1);
    let mut values = Vec::with_capacity(samples.n_samples * v * d);
    for start in (0..samples.n_samples).step_by(rows_per_chunk) {
        let end = (start + rows_per_chunk).min(samples.n_samples);
        let x = from_rows(
            samples.values[start * d..end * d].to_vec(),
            end - start,
            d,
            &device,
        );
        let ids: Vec<u64> = (start as u64..end as u64).collect();
        values.extend(to_vec_f32(map.variants(
            x,
            &labels[start..end],
            &ids,
            cfg,
        )?));
    }
    let variant_labels = labels
        .iter()
        .flat_map(|&c| std::iter::repeat_n(c, v))
        .collect();
    let mut out = Samples::new(values, samples.n_samples * v, d)?.with_labels(variant_labels)?;
    if let Some([rows, cols]) = samples.image_shape {
        out = out.with_image_shape(rows, cols)?;
    }
    Ok(out)
}

/// Augments one training batch: returns the batch followed by its variants (row `N + n * V + v` is
/// variant `v` of row `n`) and the matching labels.
///
/// Meant for the inside of a training loop: the MUSIC steps run on the inner device of `x`, and
/// when `x` is an autodiff tensor the variants are handed back as (untracked) autodiff tensors, so
/// the result feeds the model directly. `ids` are the data-set indices of the rows; mix the epoch
/// into `cfg.seed` for fresh variants every epoch.
///
/// # Shapes
/// - `x`: `[N, D]`, `labels` and `ids`: `N` entries -> `([N (1 + V), D], N (1 + V) labels)`
///
/// # Errors
/// The errors of [`AugmentMap::variants`].
pub fn augment_batch(
    map: &AugmentMap,
    x: Tensor<2>,
    labels: &[u8],
    ids: &[u64],
    cfg: &MusicAugment,
) -> Result<(Tensor<2>, Vec<u8>)> {
    let mut variants = map.variants(x.clone(), labels, ids, cfg)?;
    if x.is_autodiff() {
        variants = variants.autodiff();
    }
    let mut all_labels = labels.to_vec();
    all_labels.extend(
        labels
            .iter()
            .flat_map(|&c| std::iter::repeat_n(c, cfg.n_variants)),
    );
    Ok((Tensor::cat(vec![x, variants], 0), all_labels))
}
