//! Neighbourhood kernels: how much a unit at squared lattice distance `d2` from the winner moves.

use burn::prelude::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The neighbourhood function `h(d, sigma)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Neighbourhood {
    /// `exp(-d^2 / (2 sigma^2))`.
    #[default]
    Gaussian,
    /// 1 within distance `sigma`, 0 outside.
    Bubble,
    /// `(1 - d^2/sigma^2) exp(-d^2 / (2 sigma^2))`: negative at mid range (online training only).
    MexicanHat,
    /// `max(0, 1 - d / sigma)`.
    Triangle,
}

impl Neighbourhood {
    /// The weight for one squared lattice distance.
    pub fn weight(self, d2: f64, sigma: f64) -> f64 {
        let s2 = sigma * sigma;
        match self {
            Neighbourhood::Gaussian => (-d2 / (2.0 * s2)).exp(),
            Neighbourhood::Bubble => {
                if d2 <= s2 + 1e-9 {
                    1.0
                } else {
                    0.0
                }
            }
            Neighbourhood::MexicanHat => (1.0 - d2 / s2) * (-d2 / (2.0 * s2)).exp(),
            Neighbourhood::Triangle => (1.0 - d2.sqrt() / sigma).max(0.0),
        }
    }

    /// The weights for a tensor of squared lattice distances, element-wise on the device.
    pub fn weights(self, d2: Tensor<2>, sigma: f64) -> Tensor<2> {
        let s2 = sigma * sigma;
        match self {
            Neighbourhood::Gaussian => (d2 * (-1.0 / (2.0 * s2))).exp(),
            Neighbourhood::Bubble => d2.lower_equal_elem(s2 + 1e-6).float(),
            Neighbourhood::MexicanHat => {
                let g = (d2.clone() * (-1.0 / (2.0 * s2))).exp();
                (d2 * (-1.0 / s2) + 1.0) * g
            }
            Neighbourhood::Triangle => (d2.sqrt() * (-1.0 / sigma) + 1.0).clamp_min(0.0),
        }
    }

    /// Whether the kernel factorises over the two axes of a rectangular lattice, which lets
    /// batch training smooth with two small matrices instead of one `K x K` matrix.
    pub fn separable(self) -> bool {
        matches!(self, Neighbourhood::Gaussian)
    }

    /// Whether every weight is non-negative (needed by the batch rule's weighted average).
    pub fn non_negative(self) -> bool {
        !matches!(self, Neighbourhood::MexicanHat)
    }
}

impl std::str::FromStr for Neighbourhood {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "gaussian" => Ok(Neighbourhood::Gaussian),
            "bubble" => Ok(Neighbourhood::Bubble),
            "mexican-hat" | "mexican_hat" | "mexicanhat" => Ok(Neighbourhood::MexicanHat),
            "triangle" => Ok(Neighbourhood::Triangle),
            other => Err(Error::InvalidConfig {
                field: "neighbourhood",
                reason: format!(
                    "unknown neighbourhood '{other}'. Fix: use gaussian, bubble, mexican-hat or triangle"
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_by_hand() {
        let s = 2.0;
        assert!((Neighbourhood::Gaussian.weight(4.0, s) - (-0.5f64).exp()).abs() < 1e-12);
        assert_eq!(Neighbourhood::Bubble.weight(4.0, s), 1.0);
        assert_eq!(Neighbourhood::Bubble.weight(4.1, s), 0.0);
        assert!((Neighbourhood::MexicanHat.weight(4.0, s)).abs() < 1e-12);
        assert!(Neighbourhood::MexicanHat.weight(9.0, s) < 0.0);
        assert!((Neighbourhood::Triangle.weight(1.0, s) - 0.5).abs() < 1e-12);
        assert_eq!(Neighbourhood::Triangle.weight(9.0, s), 0.0);
        for n in [
            Neighbourhood::Gaussian,
            Neighbourhood::Bubble,
            Neighbourhood::MexicanHat,
            Neighbourhood::Triangle,
        ] {
            assert_eq!(n.weight(0.0, s), 1.0, "{n:?} at the winner");
        }
    }
}
