//! Isotropic Gaussian mixtures: labelled synthetic data for 2-D pictures and recovery tests.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::Samples;
use crate::error::{Error, Result};

/// A mixture of `n_components` isotropic Gaussians in `d_input` dimensions.
///
/// Centres are drawn uniformly in `[0, spread]^d_input`, then each sample is its component's centre
/// plus Gaussian noise of standard deviation `sigma` per coordinate. Components are assigned
/// round-robin (sample `i` belongs to component `i % n_components`), so classes are balanced.
/// Everything is drawn from one `ChaCha8Rng` seeded with `seed`: the same configuration always
/// gives the same data, on every platform.
///
/// ```
/// use invsom::data::mixture::GaussianMixture;
/// let mix = GaussianMixture { n_components: 3, d_input: 2, spread: 10.0, sigma: 0.5, seed: 7 };
/// let s = mix.sample(300).unwrap();
/// assert_eq!((s.n_samples, s.d_input, s.n_classes()), (300, 2, 3));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianMixture {
    /// Number of Gaussian components (classes), at least 1.
    pub n_components: usize,
    /// Dimension of each sample, at least 1.
    pub d_input: usize,
    /// Side of the cube the centres are drawn in, finite and non-negative.
    pub spread: f32,
    /// Standard deviation of the noise around each centre, finite and non-negative.
    pub sigma: f32,
    /// Seed of the random stream.
    pub seed: u64,
}

impl GaussianMixture {
    fn check(&self) -> Result<()> {
        if self.n_components == 0 {
            return Err(Error::InvalidConfig {
                field: "n_components",
                reason: "a mixture needs at least one component".into(),
            });
        }
        if self.d_input == 0 {
            return Err(Error::InvalidConfig {
                field: "d_input",
                reason: "samples need at least one dimension".into(),
            });
        }
        if !(self.spread.is_finite() && self.spread >= 0.0) {
            return Err(Error::InvalidConfig {
                field: "spread",
                reason: format!("{} must be finite and non-negative", self.spread),
            });
        }
        if !(self.sigma.is_finite() && self.sigma >= 0.0) {
            return Err(Error::InvalidConfig {
                field: "sigma",
                reason: format!("{} must be finite and non-negative", self.sigma),
            });
        }
        Ok(())
    }

    fn draw_centres(&self, rng: &mut ChaCha8Rng) -> Vec<f32> {
        (0..self.n_components * self.d_input)
            .map(|_| rng.random::<f32>() * self.spread)
            .collect()
    }

    /// The component centres, drawn from the seed exactly as [`GaussianMixture::sample`] draws them.
    ///
    /// # Shapes
    /// `n_components x d_input`, row-major.
    pub fn centres(&self) -> Vec<f32> {
        self.draw_centres(&mut ChaCha8Rng::seed_from_u64(self.seed))
    }

    /// Draws `n` labelled samples (label = component index).
    ///
    /// # Shapes
    /// `n x d_input`, labels `n`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for zero components or dimensions, or a negative or non-finite
    /// `spread` or `sigma`; [`Error::EmptyData`] when `n == 0`; [`Error::InvalidConfig`] when there
    /// are more than 256 components (labels are bytes).
    pub fn sample(&self, n: usize) -> Result<Samples> {
        self.check()?;
        if self.n_components > 256 {
            return Err(Error::InvalidConfig {
                field: "n_components",
                reason: format!(
                    "{} components do not fit u8 labels; use at most 256",
                    self.n_components
                ),
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let centres = self.draw_centres(&mut rng);
        let noise = Normal::new(0.0f32, self.sigma).map_err(|e| Error::InvalidConfig {
            field: "sigma",
            reason: e.to_string(),
        })?;
        let d = self.d_input;
        let mut values = Vec::with_capacity(n * d);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % self.n_components;
            labels.push(c as u8);
            values.extend(
                centres[c * d..(c + 1) * d]
                    .iter()
                    .map(|&m| m + noise.sample(&mut rng)),
            );
        }
        Samples::new(values, n, d)?.with_labels(labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(seed: u64) -> GaussianMixture {
        GaussianMixture {
            n_components: 4,
            d_input: 3,
            spread: 10.0,
            sigma: 0.1,
            seed,
        }
    }

    #[test]
    fn deterministic_for_a_seed_and_different_across_seeds() {
        let a = mix(1).sample(50).unwrap();
        let b = mix(1).sample(50).unwrap();
        assert_eq!(a.values, b.values);
        assert_eq!(a.labels, b.labels);
        assert_ne!(a.values, mix(2).sample(50).unwrap().values);
    }

    #[test]
    fn samples_cluster_around_their_centres() {
        let m = mix(3);
        let centres = m.centres();
        assert!(centres.iter().all(|&c| (0.0..=10.0).contains(&c)));
        let s = m.sample(4000).unwrap();
        assert_eq!(s.n_classes(), 4);
        for c in 0..4u8 {
            let idx = s.indices_of_class(c);
            assert_eq!(idx.len(), 1000);
            for j in 0..3 {
                let mean = idx.iter().map(|&i| s.row(i)[j]).sum::<f32>() / idx.len() as f32;
                // Standard error 0.1 / sqrt(1000) ~ 0.003: 0.02 is over six standard errors.
                assert!((mean - centres[c as usize * 3 + j]).abs() < 0.02);
            }
        }
    }

    #[test]
    fn invalid_configurations_are_rejected() {
        let bad = [
            GaussianMixture {
                n_components: 0,
                ..mix(0)
            },
            GaussianMixture {
                d_input: 0,
                ..mix(0)
            },
            GaussianMixture {
                sigma: -1.0,
                ..mix(0)
            },
            GaussianMixture {
                spread: f32::NAN,
                ..mix(0)
            },
            GaussianMixture {
                n_components: 300,
                ..mix(0)
            },
        ];
        for m in bad {
            assert!(
                matches!(m.sample(10), Err(Error::InvalidConfig { .. })),
                "{m:?}"
            );
        }
        assert!(matches!(mix(0).sample(0), Err(Error::EmptyData { .. })));
    }
}
