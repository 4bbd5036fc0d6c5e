//! Settings of the inversion operator: Tikhonov strength, rank tolerance, arithmetic precision.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Tikhonov regularization strength `lambda` of `P_lambda = (C^T C + lambda I)^-1 C^T`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lambda {
    /// `lambda` in squared input units.
    Absolute(f64),
    /// `lambda = value * s_max^2`, relative to the largest squared singular value of the centred
    /// codebook, so the same setting means the same thing for every scaling of the data.
    Relative(f64),
}

impl Lambda {
    /// The absolute `lambda` for a codebook whose largest singular value is `s_max`.
    pub fn absolute(self, s_max: f64) -> f64 {
        match self {
            Lambda::Absolute(value) => value,
            Lambda::Relative(value) => value * s_max * s_max,
        }
    }

    fn value(self) -> f64 {
        match self {
            Lambda::Absolute(value) | Lambda::Relative(value) => value,
        }
    }
}

impl Default for Lambda {
    /// No regularization: the exact (pseudo-)inverse.
    fn default() -> Self {
        Lambda::Absolute(0.0)
    }
}

/// Float type in which activations are inverted on the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Single precision: what GPUs run fast. Relative errors around 1e-5 on MNIST-sized maps.
    #[default]
    F32,
    /// Double precision: relative errors near 1e-12. Needs a backend with f64 (flex; most wgpu
    /// adapters have none).
    F64,
}

impl Precision {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "single" => Ok(Precision::F32),
            "f64" | "double" => Ok(Precision::F64),
            other => Err(Error::InvalidConfig {
                field: "precision",
                reason: format!("unknown precision '{other}'. Fix: use f32 or f64"),
            }),
        }
    }
}

/// How the inversion operator is built from a codebook.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InversionConfig {
    /// Tikhonov strength; `Lambda::Absolute(0.0)` (the default) gives the exact pseudo-inverse.
    pub lambda: Lambda,
    /// Singular values below `rank_rtol * s_max` count as zero: their directions are reported as
    /// lost and left out of the operator. Default `1e-10`.
    pub rank_rtol: f64,
}

impl Default for InversionConfig {
    fn default() -> Self {
        InversionConfig {
            lambda: Lambda::default(),
            rank_rtol: 1e-10,
        }
    }
}

impl InversionConfig {
    /// The default configuration with another `lambda`.
    pub fn with_lambda(mut self, lambda: Lambda) -> Self {
        self.lambda = lambda;
        self
    }

    /// The default configuration with another rank tolerance.
    pub fn with_rank_rtol(mut self, rank_rtol: f64) -> Self {
        self.rank_rtol = rank_rtol;
        self
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a negative or non-finite `lambda`, or a `rank_rtol` outside
    /// `[0, 1)`.
    pub fn check(&self) -> Result<()> {
        let lambda = self.lambda.value();
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(Error::InvalidConfig {
                field: "lambda",
                reason: format!("{lambda} must be finite and >= 0. Fix: use 0 for the exact inverse, or a small positive value"),
            });
        }
        if !(self.rank_rtol.is_finite() && (0.0..1.0).contains(&self.rank_rtol)) {
            return Err(Error::InvalidConfig {
                field: "rank_rtol",
                reason: format!(
                    "{} must be in [0, 1). Fix: use the default 1e-10",
                    self.rank_rtol
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_parses_and_prints() {
        assert_eq!("f32".parse::<Precision>().unwrap(), Precision::F32);
        assert_eq!("F64".parse::<Precision>().unwrap(), Precision::F64);
        assert!(matches!(
            "f16".parse::<Precision>(),
            Err(Error::InvalidConfig { .. })
        ));
        assert_eq!(Precision::F64.to_string(), "f64");
    }

    #[test]
    fn relative_lambda_scales_with_s_max() {
        assert_eq!(Lambda::Relative(1e-3).absolute(10.0), 0.1);
        assert_eq!(Lambda::Absolute(2.0).absolute(10.0), 2.0);
    }

    #[test]
    fn invalid_fields_are_rejected() {
        let bad = InversionConfig::default().with_lambda(Lambda::Absolute(-1.0));
        assert!(matches!(
            bad.check(),
            Err(Error::InvalidConfig {
                field: "lambda",
                ..
            })
        ));
        let bad = InversionConfig::default().with_lambda(Lambda::Relative(f64::NAN));
        assert!(matches!(
            bad.check(),
            Err(Error::InvalidConfig {
                field: "lambda",
                ..
            })
        ));
        let bad = InversionConfig::default().with_rank_rtol(1.5);
        assert!(matches!(
            bad.check(),
            Err(Error::InvalidConfig {
                field: "rank_rtol",
                ..
            })
        ));
        assert!(InversionConfig::default().check().is_ok());
    }

    #[test]
    fn lambda_round_trips_through_json() {
        let config = InversionConfig::default().with_lambda(Lambda::Relative(1e-6));
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(
            serde_json::from_str::<InversionConfig>(&json).unwrap(),
            config
        );
    }
}
