//! The plain baseline of the same budget: linear blends of two samples of the same class.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::Samples;
use crate::error::{Error, Result};

/// `n_variants` within-class blends of every sample: variant `v` of sample `i` is
/// `(1 - w) x_i + w x_j`, with `j` another sample of the same class and `w` uniform in
/// `[0, max_weight)`, both drawn from a ChaCha8 RNG seeded by `seed` (one stream for the whole
/// call, in sample-major order). A class with a single sample gives copies of it.
///
/// This is mixup restricted to one class, so the label needs no softening: the label-preserving
/// baseline that MUSIC augmentation must beat at the same number of variants.
///
/// # Shapes
/// `samples`: `N` samples -> `N * n_variants` samples (sample-major, labels and image shape kept)
///
/// # Errors
/// [`Error::Invalid`] when `samples` has no labels; [`Error::InvalidConfig`] for `n_variants = 0`
/// or `max_weight` outside `[0, 1]`.
pub fn blend_within_class(
    samples: &Samples,
    n_variants: usize,
    max_weight: f64,
    seed: u64,
) -> Result<Samples> {
    let labels = samples.labels.as_ref().ok_or_else(|| {
        Error::Invalid(
            "within-class blends need labelled samples. Fix: load the labels file too".into(),
        )
    })?;
    if n_variants == 0 {
        return Err(Error::InvalidConfig {
            field: "n_variants",
            reason: "0 variants per sample adds nothing. Fix: use 1 or more".into(),
        });
    }
    if !(max_weight.is_finite() && (0.0..=1.0).contains(&max_weight)) {
        return Err(Error::InvalidConfig {
            field: "max_weight",
            reason: format!("{max_weight} is outside [0, 1]. Fix: use e.g. 0.5"),
        });
    }
    let n_classes = samples.n_classes();
    let by_class: Vec<Vec<usize>> = (0..n_classes)
        .map(|c| samples.indices_of_class(c as u8))
        .collect();
    let d = samples.d_input;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut values = Vec::with_capacity(samples.n_samples * n_variants * d);
    for (i, &c) in labels.iter().enumerate() {
        let mates = &by_class[usize::from(c)];
        for _ in 0..n_variants {
            let j = mates[rng.random_range(0..mates.len())];
            let w = (rng.random::<f64>() * max_weight) as f32;
            let (a, b) = (samples.row(i), samples.row(j));
            values.extend(a.iter().zip(b).map(|(&p, &q)| (1.0 - w) * p + w * q));
        }
    }
    let variant_labels = labels
        .iter()
        .flat_map(|&c| std::iter::repeat_n(c, n_variants))
        .collect();
    let mut out =
        Samples::new(values, samples.n_samples * n_variants, d)?.with_labels(variant_labels)?;
    if let Some([rows, cols]) = samples.image_shape {
        out = out.with_image_shape(rows, cols)?;
    }
    Ok(out)
}
