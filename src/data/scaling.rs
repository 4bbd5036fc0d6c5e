//! Per-feature scaling of samples into `[0, 1]`, stored with a trained map so new inputs and
//! inverted outputs are mapped the same way.

use serde::{Deserialize, Serialize};

use super::Samples;

/// A per-feature affine scaling.
///
/// `MinMax` maps feature `j` by `(x - min[j]) / (max[j] - min[j])`; a constant feature
/// (`max[j] == min[j]`) maps to 0 and inverts back to `min[j]`, so nothing is ever divided by 0.
/// Images loaded from IDX files are already in `[0, 1]` and use `Identity`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum Scaling {
    /// No change.
    Identity,
    /// Per-feature min-max scaling.
    MinMax {
        /// Per-feature minimum of the fitted data (`d_input` values).
        min: Vec<f32>,
        /// Per-feature maximum of the fitted data (`d_input` values).
        max: Vec<f32>,
    },
}

impl Scaling {
    /// Fits per-feature min-max scaling to `samples`.
    pub fn fit_min_max(samples: &Samples) -> Scaling {
        let mut min = samples.row(0).to_vec();
        let mut max = min.clone();
        for i in 1..samples.n_samples {
            for (j, &v) in samples.row(i).iter().enumerate() {
                min[j] = min[j].min(v);
                max[j] = max[j].max(v);
            }
        }
        Scaling::MinMax { min, max }
    }

    /// The feature dimension this scaling was fitted to (`None` for `Identity`, which fits any).
    pub fn d_input(&self) -> Option<usize> {
        match self {
            Scaling::Identity => None,
            Scaling::MinMax { min, .. } => Some(min.len()),
        }
    }

    /// Scales every sample in place.
    ///
    /// # Panics
    /// When `samples.d_input` differs from [`Scaling::d_input`].
    pub fn apply(&self, samples: &mut Samples) {
        self.apply_slice(&mut samples.values);
    }

    /// Scales consecutive rows of `d_input` values in place.
    ///
    /// # Panics
    /// When `values.len()` is not a multiple of [`Scaling::d_input`].
    pub fn apply_slice(&self, values: &mut [f32]) {
        self.for_each_feature(
            values,
            |x, lo, hi| if hi > lo { (x - lo) / (hi - lo) } else { 0.0 },
        );
    }

    /// Undoes [`Scaling::apply_slice`] in place (maps scaled values back to data units).
    ///
    /// # Panics
    /// When `values.len()` is not a multiple of [`Scaling::d_input`].
    pub fn invert_slice(&self, values: &mut [f32]) {
        self.for_each_feature(
            values,
            |x, lo, hi| if hi > lo { x * (hi - lo) + lo } else { lo },
        );
    }

    fn for_each_feature(&self, values: &mut [f32], f: impl Fn(f32, f32, f32) -> f32) {
        let Scaling::MinMax { min, max } = self else {
            return;
        };
        let d = min.len();
        assert!(
            d > 0 && values.len() % d == 0,
            "scaling fitted to {d} features applied to {} values",
            values.len()
        );
        for row in values.chunks_exact_mut(d) {
            for ((x, &lo), &hi) in row.iter_mut().zip(min).zip(max) {
                *x = f(*x, lo, hi);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_max_round_trip_with_a_constant_feature() {
        let original = vec![1.0, 5.0, -2.0, 3.0, 5.0, 2.0, 2.0, 5.0, 0.0];
        let mut s = Samples::new(original.clone(), 3, 3).unwrap();
        let scaling = Scaling::fit_min_max(&s);
        assert_eq!(scaling.d_input(), Some(3));
        scaling.apply(&mut s);
        assert_eq!(s.values, vec![0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.5, 0.0, 0.5]);
        scaling.invert_slice(&mut s.values);
        for (a, b) in s.values.iter().zip(&original) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn identity_changes_nothing_and_serializes() {
        let mut v = vec![3.0, -1.0];
        Scaling::Identity.apply_slice(&mut v);
        Scaling::Identity.invert_slice(&mut v);
        assert_eq!(v, vec![3.0, -1.0]);
        let m = Scaling::MinMax {
            min: vec![0.0],
            max: vec![2.0],
        };
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Scaling>(&json).unwrap(), m);
    }
}
