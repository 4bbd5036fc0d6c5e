//! Configurations of a map and of its training, checked once up front.

use burn::config::Config;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::topology::{Lattice, LatticeKind, Neighbourhood, Schedule};

/// How the codebook starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// Uniform within each feature's range in the data.
    Random,
    /// Distinct random training samples (needs at least as many samples as units).
    Samples,
    /// A regular grid on the plane of the two leading principal components, scaled by their
    /// standard deviations: the usual deterministic start, and the fastest to converge.
    #[default]
    Pca,
}

impl std::str::FromStr for Init {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "random" => Ok(Init::Random),
            "samples" | "sample" => Ok(Init::Samples),
            "pca" => Ok(Init::Pca),
            other => Err(Error::InvalidConfig {
                field: "init",
                reason: format!("unknown init '{other}'. Fix: use random, samples or pca"),
            }),
        }
    }
}

/// The map: lattice, neighbourhood kernel, initialisation and seed. Saved as `config.json`
/// next to the codebook record.
#[derive(Config, Debug, PartialEq)]
pub struct SomConfig {
    /// Number of lattice rows.
    pub rows: usize,
    /// Number of lattice columns.
    pub cols: usize,
    /// Input dimension D (784 for 28x28 images).
    pub d_input: usize,
    /// Cell shape.
    #[config(default = "LatticeKind::Rectangular")]
    pub lattice: LatticeKind,
    /// Whether both lattice axes wrap around.
    #[config(default = false)]
    pub toroidal: bool,
    /// Neighbourhood kernel.
    #[config(default = "Neighbourhood::Gaussian")]
    pub neighbourhood: Neighbourhood,
    /// Codebook initialisation.
    #[config(default = "Init::Pca")]
    pub init: Init,
    /// Seed of every random choice (initialisation, sample order).
    #[config(default = 0)]
    pub seed: u64,
}

impl SomConfig {
    /// Number of units K.
    pub fn n_units(&self) -> usize {
        self.rows * self.cols
    }

    /// The lattice, checked.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an empty map, zero input dimension or an odd hexagonal torus.
    pub fn lattice(&self) -> Result<Lattice> {
        if self.d_input == 0 {
            return Err(Error::InvalidConfig {
                field: "d_input",
                reason: "the input dimension is 0. Fix: give data with at least one feature".into(),
            });
        }
        Lattice::new(self.rows, self.cols, self.lattice, self.toroidal)
    }
}

/// Which training rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TrainMode {
    /// Kohonen batch SOM: each epoch sets every prototype to the neighbourhood-weighted mean.
    #[default]
    Batch,
    /// Online mini-batch updates with a decaying learning rate.
    Online,
}

impl std::str::FromStr for TrainMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "batch" => Ok(TrainMode::Batch),
            "online" => Ok(TrainMode::Online),
            other => Err(Error::InvalidConfig {
                field: "mode",
                reason: format!("unknown training mode '{other}'. Fix: use batch or online"),
            }),
        }
    }
}

/// Training schedule. `n_epochs` is the horizon of the schedules: a resumed map continues from
/// the epochs it has already done.
#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    /// Batch or online.
    #[config(default = "TrainMode::Batch")]
    pub mode: TrainMode,
    /// Total number of epochs (passes over the data).
    #[config(default = 10)]
    pub n_epochs: usize,
    /// Neighbourhood width at the start, in lattice units; `None`: half the larger map side.
    #[config(default = "None")]
    pub sigma_start: Option<f64>,
    /// Neighbourhood width at the end.
    #[config(default = 1.0)]
    pub sigma_end: f64,
    /// How sigma decays.
    #[config(default = "Schedule::Linear")]
    pub sigma_schedule: Schedule,
    /// Learning rate at the start (online mode).
    #[config(default = 0.5)]
    pub lr_start: f64,
    /// Learning rate at the end (online mode).
    #[config(default = 0.01)]
    pub lr_end: f64,
    /// How the learning rate decays (online mode).
    #[config(default = "Schedule::Exponential")]
    pub lr_schedule: Schedule,
    /// Mini-batch size (online mode).
    #[config(default = 64)]
    pub batch_size: usize,
    /// Samples per distance chunk in batch mode; 0 picks one whose distance block (chunk x K)
    /// is about 2 MiB, so it stays in cache (at least 256 samples).
    #[config(default = 0)]
    pub chunk_size: usize,
}

impl TrainConfig {
    /// The neighbourhood width of batch epoch `epoch` (0-based) on `lattice`: the schedule from
    /// `sigma_start` to `sigma_end` over `n_epochs`.
    pub fn sigma_for_epoch(&self, lattice: &Lattice, epoch: usize) -> f64 {
        let progress = if self.n_epochs > 1 {
            epoch as f64 / (self.n_epochs - 1) as f64
        } else {
            1.0
        };
        self.sigma_schedule
            .value(self.sigma_start_for(lattice), self.sigma_end, progress)
    }

    /// The starting sigma for a lattice.
    pub fn sigma_start_for(&self, lattice: &Lattice) -> f64 {
        self.sigma_start
            .unwrap_or_else(|| (lattice.rows().max(lattice.cols()) as f64 / 2.0).max(1.0))
    }

    /// Checks every field against the lattice and kernel.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field and the fix.
    pub fn check(&self, lattice: &Lattice, neighbourhood: Neighbourhood) -> Result<()> {
        let bad = |field: &'static str, reason: String| Err(Error::InvalidConfig { field, reason });
        if self.n_epochs == 0 {
            return bad("n_epochs", "0 epochs. Fix: train at least 1 epoch".into());
        }
        let s0 = self.sigma_start_for(lattice);
        if !(s0.is_finite() && s0 > 0.0) {
            return bad(
                "sigma_start",
                format!("{s0} is not positive. Fix: use a positive width"),
            );
        }
        if !(self.sigma_end.is_finite() && self.sigma_end > 0.0) {
            return bad(
                "sigma_end",
                format!(
                    "{} is not positive. Fix: use a positive width such as 0.5 or 1",
                    self.sigma_end
                ),
            );
        }
        if self.sigma_end > s0 {
            return bad(
                "sigma_end",
                format!("{} is above sigma_start {s0}. Fix: the neighbourhood must shrink; lower sigma_end or raise sigma_start", self.sigma_end),
            );
        }
        if self.mode == TrainMode::Online {
            for (field, v) in [("lr_start", self.lr_start), ("lr_end", self.lr_end)] {
                if !(v.is_finite() && v > 0.0) {
                    return bad(
                        field,
                        format!("{v} is not positive. Fix: use a learning rate in (0, 1]"),
                    );
                }
            }
            if self.lr_end > self.lr_start {
                return bad(
                    "lr_end",
                    format!(
                        "{} is above lr_start {}. Fix: the learning rate must decay",
                        self.lr_end, self.lr_start
                    ),
                );
            }
            if self.batch_size == 0 {
                return bad(
                    "batch_size",
                    "0. Fix: use at least 1 sample per mini-batch".into(),
                );
            }
        } else if !neighbourhood.non_negative() {
            return bad(
                "neighbourhood",
                "the Mexican hat has negative weights, which the batch rule's weighted mean cannot use. Fix: train it with --mode online, or use gaussian".into(),
            );
        }
        Ok(())
    }
}
