//! Decay of the neighbourhood width and the learning rate from a start to an end value.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a parameter goes from `start` (progress 0) to `end` (progress 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// `start + (end - start) t`.
    Linear,
    /// `start (end/start)^t`: a constant ratio per step.
    #[default]
    Exponential,
    /// `start / (1 + c t)` with `c = start/end - 1`, so it ends at `end`.
    InverseTime,
}

impl Schedule {
    /// The value at progress `t` in [0, 1].
    pub fn value(self, start: f64, end: f64, t: f64) -> f64 {
        let t = t.clamp(0.0, 1.0);
        match self {
            Schedule::Linear => start + (end - start) * t,
            Schedule::Exponential => start * (end / start).powf(t),
            Schedule::InverseTime => start / (1.0 + (start / end - 1.0) * t),
        }
    }
}

impl std::str::FromStr for Schedule {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "linear" => Ok(Schedule::Linear),
            "exponential" | "exp" => Ok(Schedule::Exponential),
            "inverse-time" | "inverse_time" | "inverse" => Ok(Schedule::InverseTime),
            other => Err(Error::InvalidConfig {
                field: "schedule",
                reason: format!(
                    "unknown schedule '{other}'. Fix: use linear, exponential or inverse-time"
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schedule_hits_both_ends() {
        for s in [
            Schedule::Linear,
            Schedule::Exponential,
            Schedule::InverseTime,
        ] {
            assert!((s.value(5.0, 0.5, 0.0) - 5.0).abs() < 1e-12, "{s:?}");
            assert!((s.value(5.0, 0.5, 1.0) - 0.5).abs() < 1e-12, "{s:?}");
            let mid = s.value(5.0, 0.5, 0.5);
            assert!(mid < 5.0 && mid > 0.5, "{s:?} monotone");
        }
        assert!((Schedule::Exponential.value(4.0, 1.0, 0.5) - 2.0).abs() < 1e-12);
        assert!((Schedule::InverseTime.value(4.0, 1.0, 0.5) - 1.6).abs() < 1e-12);
    }
}
