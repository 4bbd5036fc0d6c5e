//! Settings of the MUSIC augmentation stage.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::music::{MusicConfig, PreservedSet};

/// How the MUSIC augmentation stage makes label-preserving variants of a labelled sample.
///
/// Each variant starts at the sample and takes `steps` MUSIC steps (METHOD.md §3) toward one
/// prototype of the sample's **own class**, drawn by a seeded RNG among the `target_pool` units of
/// that class nearest to the sample. The squared distance to that prototype shrinks by about a
/// factor `1 - eta` per step while the distances to the `preserved` nearest other prototypes are
/// kept, so the sample changes style along the map's sheet without leaving its class.
///
/// The strength of the edit is `steps * eta`: `steps = 0` or `eta = 0` returns the originals
/// exactly. Each variant's step fraction is `eta * (1 - eta_jitter * u)` with `u` uniform in
/// `[0, 1)`, so variants of one sample differ in both direction and strength.
///
/// The draw of variant `v` of sample `i` depends only on `(seed, i, v)`, so the same seed gives the
/// same variants whatever the batch they are computed in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MusicAugment {
    /// Variants made per sample; at least 1.
    pub n_variants: usize,
    /// MUSIC steps per variant; 0 returns the originals.
    pub steps: usize,
    /// Fraction of the squared distance to the target prototype removed per step, in `[0, 1]`.
    pub eta: f64,
    /// Random reduction of `eta` per variant, in `[0, 1]` (0: every variant uses `eta`).
    pub eta_jitter: f64,
    /// The target of a variant is drawn among this many units of the sample's class nearest to
    /// it; at least 1 (1: always the nearest own-class prototype).
    pub target_pool: usize,
    /// Prototypes nearest to the current point (outside the target) whose squared distances each
    /// step keeps; 0 keeps none (a straight move toward the target).
    pub preserved: usize,
    /// Damping relative to the mean squared Jacobian row (see [`MusicConfig::lambda_rel`]).
    pub lambda_rel: f64,
    /// Clamp the variants to this range (e.g. `[0, 1]` for pixels); `None` leaves them as they are.
    pub clamp: Option<[f32; 2]>,
    /// Variants stepped together in one batched MUSIC step; bounds memory (`~ 4 (1 + preserved) D`
    /// bytes per row); at least 1.
    pub batch_size: usize,
    /// Seeds the choice of targets and step fractions.
    pub seed: u64,
}

impl Default for MusicAugment {
    /// 3 variants, 5 steps of eta 0.1 with jitter 0.5, targets among the 8 nearest own-class
    /// units, 8 preserved prototypes, lambda_rel 0.1, pixels clamped to `[0, 1]`, batches of 1024.
    fn default() -> Self {
        MusicAugment {
            n_variants: 3,
            steps: 5,
            eta: 0.1,
            eta_jitter: 0.5,
            target_pool: 8,
            preserved: 8,
            lambda_rel: 0.1,
            clamp: Some([0.0, 1.0]),
            batch_size: 1024,
            seed: 0,
        }
    }
}

fn invalid(field: &'static str, reason: String) -> Error {
    Error::InvalidConfig { field, reason }
}

impl MusicAugment {
    /// Whether the stage leaves samples unchanged (`steps = 0` or `eta = 0`).
    pub fn is_identity(&self) -> bool {
        self.steps == 0 || self.eta == 0.0
    }

    /// The strength `steps * eta` (about the fraction of the squared distance to the target
    /// removed, for small values).
    pub fn strength(&self) -> f64 {
        self.steps as f64 * self.eta
    }

    /// The MUSIC configuration of one step: `eta`, `lambda_rel`, the `preserved` nearest
    /// prototypes, one edited target.
    pub fn music_config(&self) -> MusicConfig {
        MusicConfig {
            eta: self.eta,
            lambda_rel: self.lambda_rel,
            preserved: PreservedSet::Nearest(self.preserved),
            max_steps: self.steps.max(1),
            target_nearest: 1,
            ..MusicConfig::default()
        }
    }

    /// Checks every field once, up front.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field and the accepted range.
    pub fn validate(&self) -> Result<()> {
        if self.n_variants == 0 {
            return Err(invalid(
                "n_variants",
                "0 variants per sample adds nothing. Fix: use 1 or more".into(),
            ));
        }
        // eta and lambda_rel are the step's own: MusicConfig checks them, with the same
        // messages.
        self.music_config().validate()?;
        if !(self.eta_jitter.is_finite() && (0.0..=1.0).contains(&self.eta_jitter)) {
            return Err(invalid(
                "eta_jitter",
                format!(
                    "{} is outside [0, 1]. Fix: use 0 (no jitter) to 1",
                    self.eta_jitter
                ),
            ));
        }
        if self.target_pool == 0 {
            return Err(invalid(
                "target_pool",
                "a pool of 0 units has no target. Fix: use 1 or more".into(),
            ));
        }
        if let Some([lo, hi]) = self.clamp {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return Err(invalid(
                    "clamp",
                    format!("[{lo}, {hi}] is not a finite range. Fix: use e.g. [0, 1], or None"),
                ));
            }
        }
        if self.batch_size == 0 {
            return Err(invalid(
                "batch_size",
                "batches must hold at least 1 variant. Fix: use e.g. 1024".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips_json() {
        let cfg = MusicAugment::default();
        cfg.validate().unwrap();
        cfg.music_config().validate().unwrap();
        let back: MusicAugment =
            serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
        assert!((cfg.strength() - 0.5).abs() < 1e-12);
        assert!(!cfg.is_identity());
        assert!(MusicAugment { steps: 0, ..cfg }.is_identity());
    }

    #[test]
    fn each_bad_field_is_named() {
        let bad = |cfg: MusicAugment, field: &str| match cfg.validate() {
            Err(Error::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected InvalidConfig({field}), got {other:?}"),
        };
        let d = MusicAugment::default;
        bad(
            MusicAugment {
                n_variants: 0,
                ..d()
            },
            "n_variants",
        );
        bad(MusicAugment { eta: -0.1, ..d() }, "eta");
        bad(
            MusicAugment {
                eta_jitter: 2.0,
                ..d()
            },
            "eta_jitter",
        );
        bad(
            MusicAugment {
                target_pool: 0,
                ..d()
            },
            "target_pool",
        );
        bad(
            MusicAugment {
                lambda_rel: f64::NAN,
                ..d()
            },
            "lambda_rel",
        );
        bad(
            MusicAugment {
                clamp: Some([1.0, 0.0]),
                ..d()
            },
            "clamp",
        );
        bad(
            MusicAugment {
                batch_size: 0,
                ..d()
            },
            "batch_size",
        );
    }
}
