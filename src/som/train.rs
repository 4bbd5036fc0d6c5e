//! Kohonen batch and online mini-batch training, as Burn tensor code.

use std::ops::ControlFlow;
use std::time::Instant;

use burn::prelude::{Int, Tensor};
use burn::tensor::{s, IndexingUpdateOp};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::Samples;
use crate::error::{Error, Result};
use crate::som::config::{TrainConfig, TrainMode};
use crate::som::model::Som;
use crate::tensor::{check_finite_tensor, from_rows, indices};
use crate::topology::{Lattice, LatticeKind};

/// Largest distance block (samples x units) held at once: 16 Mi floats = 64 MiB.
const BLOCK_ELEMS: usize = 16 << 20;

/// What one epoch did; handed to the per-epoch callback.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EpochReport {
    /// 1-based epoch number over the whole schedule (a resumed run continues the count).
    pub epoch: usize,
    /// The schedule's horizon.
    pub n_epochs: usize,
    /// Neighbourhood width used in this epoch.
    pub sigma: f64,
    /// Learning rate at the end of this epoch (online mode).
    pub learning_rate: Option<f64>,
    /// Quantization error (mean distance to the BMU) measured during the epoch's pass.
    pub qe: f64,
    /// Wall time of the epoch.
    pub seconds: f64,
}

/// The outcome of a call to [`train`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct TrainReport {
    /// Epochs run by this call.
    pub epochs_run: usize,
    /// Epochs the map has done in total.
    pub epochs_done: usize,
    /// Whether the callback stopped training before the horizon.
    pub stopped_early: bool,
    /// Quantization error of the final codebook on the training data.
    pub qe: f64,
    /// Topographic error of the final codebook on the training data.
    pub te: f64,
    /// Wall time of the whole call.
    pub seconds: f64,
    /// One report per epoch run.
    pub history: Vec<EpochReport>,
}

/// Trains `som` on `data` from the epoch it has reached up to `config.n_epochs`.
///
/// `on_epoch` sees every epoch's report and may return `ControlFlow::Break(())` to stop early.
///
/// # Errors
/// Invalid config values, data of the wrong dimension, empty data, NaN or infinite values in
/// the data or appearing in the codebook.
pub fn train(
    som: &mut Som,
    data: &Samples,
    config: &TrainConfig,
    on_epoch: impl FnMut(&EpochReport) -> ControlFlow<()>,
) -> Result<TrainReport> {
    if data.n_samples == 0 {
        return Err(Error::EmptyData { what: "training" });
    }
    crate::tensor::check_finite(
        &data.values,
        "training data",
        "Fix: remove or impute NaN and infinite values",
    )?;
    let x = data.to_tensor(&som.device());
    train_tensor(som, x, config, on_epoch)
}

/// [`train`] on data already on the map's device, `N x D`.
///
/// # Errors
/// As [`train`].
pub fn train_tensor(
    som: &mut Som,
    x: Tensor<2>,
    config: &TrainConfig,
    mut on_epoch: impl FnMut(&EpochReport) -> ControlFlow<()>,
) -> Result<TrainReport> {
    som.check_input(&x, "train")?;
    let n = x.dims()[0];
    if n == 0 {
        return Err(Error::EmptyData { what: "training" });
    }
    config.check(som.lattice(), som.config().neighbourhood)?;
    check_finite_tensor(
        &x,
        "training data",
        "Fix: remove or impute NaN and infinite values",
    )?;
    let started = Instant::now();
    let sigma_start = config.sigma_start_for(som.lattice());
    let horizon = config.n_epochs;
    let mut history = Vec::new();
    let mut stopped_early = false;
    let x2 = x.clone().square().sum_dim(1);
    let positions = positions_tensor(som.lattice(), &som.device());
    let steps_per_epoch = n.div_ceil(config.batch_size.max(1));
    while som.meta.epochs_done < horizon {
        let epoch = som.meta.epochs_done;
        let t0 = Instant::now();
        let progress = if horizon > 1 {
            epoch as f64 / (horizon - 1) as f64
        } else {
            1.0
        };
        let sigma = config
            .sigma_schedule
            .value(sigma_start, config.sigma_end, progress);
        let (qe, learning_rate) = match config.mode {
            TrainMode::Batch => {
                let chunk = chunk_size(config.chunk_size, n, som.n_units());
                (
                    som.batch_epoch_with(&x, &x2, sigma, chunk, &positions),
                    None,
                )
            }
            TrainMode::Online => {
                let total = (horizon * steps_per_epoch).max(2) as f64;
                let mut rng = ChaCha8Rng::seed_from_u64(
                    som.config().seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                let mut order: Vec<usize> = (0..n).collect();
                order.shuffle(&mut rng);
                let mut lr = config.lr_start;
                for batch in order.chunks(config.batch_size) {
                    let t = som.meta.steps_done as f64 / (total - 1.0);
                    let sigma_t = config
                        .sigma_schedule
                        .value(sigma_start, config.sigma_end, t);
                    lr = config.lr_schedule.value(config.lr_start, config.lr_end, t);
                    let xb = x.clone().select(0, indices(batch, &x.device()));
                    som.online_step_with(xb, sigma_t, lr, &positions);
                    som.meta.steps_done += 1;
                }
                let chunk = chunk_size(0, n, som.n_units());
                (som.quantization_error_chunked(&x, chunk), Some(lr))
            }
        };
        if !qe.is_finite() {
            return Err(Error::NonFinite {
                what: format!("the codebook after epoch {}", epoch + 1),
                fix: "Fix: lower the learning rate, or check the data scale (scale features to [0, 1])",
            });
        }
        som.meta.epochs_done += 1;
        let report = EpochReport {
            epoch: epoch + 1,
            n_epochs: horizon,
            sigma,
            learning_rate,
            qe,
            seconds: t0.elapsed().as_secs_f64(),
        };
        let flow = on_epoch(&report);
        history.push(report);
        if flow.is_break() {
            stopped_early = som.meta.epochs_done < horizon;
            break;
        }
    }
    check_finite_tensor(
        &som.codebook(),
        "the trained codebook",
        "Fix: lower the learning rate, or scale the data to [0, 1]",
    )?;
    let chunk = chunk_size(0, n, som.n_units());
    let qe = som.quantization_error_chunked(&x, chunk);
    let te = som.topographic_error_chunked(&x, chunk);
    Ok(TrainReport {
        epochs_run: history.len(),
        epochs_done: som.meta.epochs_done,
        stopped_early,
        qe,
        te,
        seconds: started.elapsed().as_secs_f64(),
        history,
    })
}

/// Per-unit sums and counts of the samples each unit wins, and the summed BMU distance.
pub(crate) struct Partial {
    /// `K x D` sums of the samples per best matching unit.
    pub sums: Tensor<2>,
    /// `K x 1` counts.
    pub counts: Tensor<2>,
    /// Sum over samples of the distance to the BMU, `[1]`.
    pub qe_sum: Tensor<1>,
}

/// The statistics of one Kohonen batch pass of `x` (`N x D`, row norms `x2`: `N x 1`) over the
/// codebook `w`, in chunks of `chunk` samples: one distance GEMM per chunk, an argmin, and a
/// scatter-add per unit. Data-parallel training sums these over shards.
pub(crate) fn accumulate(x: &Tensor<2>, x2: &Tensor<2>, w: Tensor<2>, chunk: usize) -> Partial {
    let [n, d] = x.dims();
    let k = w.dims()[0];
    let device = x.device();
    let w2 = w.clone().square().sum_dim(1).transpose(); // 1 x K
                                                        // Scaling the small codebook instead of the N x K product saves a pass over the block.
    let wt_neg2 = w.transpose() * -2.0; // D x K
    let mut sums = Tensor::<2>::zeros([k, d], &device);
    let mut counts = Tensor::<2>::zeros([k, 1], &device);
    let mut qe_sum = Tensor::<1>::zeros([1], &device);
    let mut start = 0;
    while start < n {
        let end = (start + chunk).min(n);
        let xc = x.clone().slice(s![start..end, ..]);
        // ||x||^2 is constant per row: the BMU needs only ||w||^2 - 2 x.w.
        let dist = xc.clone().matmul(wt_neg2.clone()) + w2.clone();
        let (dmin, bmu) = dist.min_dim_with_indices(1);
        let x2c = x2.clone().slice(s![start..end, ..]);
        qe_sum = qe_sum + (dmin + x2c).clamp_min(0.0).sqrt().sum();
        let bmu: Tensor<1, Int> = bmu.reshape([end - start]);
        sums = sums.select_assign(0, bmu.clone(), xc, IndexingUpdateOp::Add);
        counts = counts.select_assign(
            0,
            bmu,
            Tensor::ones([end - start, 1], &device),
            IndexingUpdateOp::Add,
        );
        start = end;
    }
    Partial {
        sums,
        counts,
        qe_sum,
    }
}

/// Samples per distance block: the requested size, or one that keeps `chunk x K` under 64 MiB.
pub(crate) fn chunk_size(requested: usize, n: usize, k: usize) -> usize {
    let auto = (BLOCK_ELEMS / k.max(1)).clamp(256, 16_384);
    let c = if requested == 0 { auto } else { requested };
    c.min(n).max(1)
}

/// Unit positions in the plane, `K x 2`, for lattice distances on the device.
pub(crate) fn positions_tensor(lattice: &Lattice, device: &burn::prelude::Device) -> Tensor<2> {
    let k = lattice.n_units();
    let v: Vec<f32> = (0..k)
        .flat_map(|u| lattice.position(u).map(|p| p as f32))
        .collect();
    from_rows(v, k, 2, device)
}

/// Squared lattice distances between positions `a` (`m x 2`) and `b` (`K x 2`): `m x K`,
/// wrapped on a torus.
pub(crate) fn lattice_sq_distances(lattice: &Lattice, a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    let axis = |i: usize, period: f64| {
        let d = (a.clone().slice(s![.., i..i + 1]) - b.clone().slice(s![.., i..i + 1]).transpose())
            .abs();
        if lattice.toroidal() {
            let wrapped = (d.clone() * -1.0) + period;
            d.min_pair(wrapped)
        } else {
            d
        }
    };
    let (w, h) = match lattice.kind() {
        LatticeKind::Rectangular => (lattice.cols() as f64, lattice.rows() as f64),
        LatticeKind::Hexagonal => (
            lattice.cols() as f64,
            lattice.rows() as f64 * 3f64.sqrt() / 2.0,
        ),
    };
    axis(0, w).square() + axis(1, h).square()
}

impl Som {
    /// One Kohonen batch epoch on `x` (`N x D`) with neighbourhood width `sigma`; returns the
    /// quantization error of the codebook the pass started from.
    ///
    /// This is the building block for using a SOM as a stage inside a Burn training loop: call
    /// it on each batch of features with the sigma of your own schedule.
    pub fn batch_step(&mut self, x: &Tensor<2>, sigma: f64) -> Result<f64> {
        self.check_input(x, "batch_step")?;
        let n = x.dims()[0];
        if n == 0 {
            return Err(Error::EmptyData { what: "batch_step" });
        }
        let x2 = x.clone().square().sum_dim(1);
        let positions = positions_tensor(self.lattice(), &x.device());
        let chunk = chunk_size(0, n, self.n_units());
        Ok(self.batch_epoch_with(x, &x2, sigma, chunk, &positions))
    }

    /// One online mini-batch step: every prototype moves toward the batch's samples by
    /// `learning_rate * h(bmu, unit)`, averaged over the batch.
    pub fn online_step(&mut self, x: Tensor<2>, sigma: f64, learning_rate: f64) -> Result<()> {
        self.check_input(&x, "online_step")?;
        let positions = positions_tensor(self.lattice(), &x.device());
        self.online_step_with(x, sigma, learning_rate, &positions);
        Ok(())
    }

    fn batch_epoch_with(
        &mut self,
        x: &Tensor<2>,
        x2: &Tensor<2>,
        sigma: f64,
        chunk: usize,
        positions: &Tensor<2>,
    ) -> f64 {
        let n = x.dims()[0];
        let partial = accumulate(x, x2, self.codebook(), chunk);
        self.apply_sums(partial.sums, partial.counts, sigma, positions);
        partial.qe_sum.into_scalar::<f64>() / n as f64
    }

    /// The batch update from per-unit statistics: `w_k = (H S)_k / (H c)_k`, keeping the
    /// prototypes whose neighbourhood won no sample.
    pub(crate) fn apply_sums(
        &mut self,
        sums: Tensor<2>,
        counts: Tensor<2>,
        sigma: f64,
        positions: &Tensor<2>,
    ) {
        let [k, d] = sums.dims();
        let w = self.codebook();
        let (num, den) = self.smooth(sums, counts, sigma, positions);
        let empty = den.clone().lower_equal_elem(1e-12).expand([k, d]);
        let updated = (num / den.clamp_min(1e-12)).mask_where(empty, w);
        self.set_codebook(updated);
    }

    /// Neighbourhood smoothing of per-unit sums and counts: `(H S, H c)`.
    fn smooth(
        &self,
        sums: Tensor<2>,
        counts: Tensor<2>,
        sigma: f64,
        positions: &Tensor<2>,
    ) -> (Tensor<2>, Tensor<2>) {
        let lattice = self.lattice();
        let kernel = self.config().neighbourhood;
        let device = sums.device();
        if lattice.kind() == LatticeKind::Rectangular && kernel.separable() {
            // exp(-(dr^2 + dc^2)/2s^2) = exp(-dr^2/2s^2) exp(-dc^2/2s^2): two small products.
            let (ar, ac) = lattice.axis_sq_distances();
            let (r, c) = (lattice.rows(), lattice.cols());
            let hr = kernel.weights(from_rows(ar, r, r, &device), sigma);
            let hc = kernel.weights(from_rows(ac, c, c, &device), sigma);
            let separable = |m: Tensor<2>| {
                let width = m.dims()[1];
                let t = hr
                    .clone()
                    .matmul(m.reshape([r, c * width]))
                    .reshape([r, c, width]);
                hc.clone()
                    .unsqueeze::<3>()
                    .matmul(t)
                    .reshape([r * c, width])
            };
            (separable(sums), separable(counts))
        } else {
            let k = lattice.n_units();
            let block = (BLOCK_ELEMS / k).clamp(1, k);
            let mut nums = Vec::new();
            let mut dens = Vec::new();
            let mut start = 0;
            while start < k {
                let end = (start + block).min(k);
                let d2 = lattice_sq_distances(
                    lattice,
                    positions.clone().slice(s![start..end, ..]),
                    positions.clone(),
                );
                let h = kernel.weights(d2, sigma);
                nums.push(h.clone().matmul(sums.clone()));
                dens.push(h.matmul(counts.clone()));
                start = end;
            }
            (Tensor::cat(nums, 0), Tensor::cat(dens, 0))
        }
    }

    fn online_step_with(
        &mut self,
        xb: Tensor<2>,
        sigma: f64,
        learning_rate: f64,
        positions: &Tensor<2>,
    ) {
        let b = xb.dims()[0];
        let w = self.codebook();
        let w2 = w.clone().square().sum_dim(1).transpose();
        let dist = xb.clone().matmul(w.clone().transpose()) * -2.0 + w2;
        let bmu: Tensor<1, Int> = dist.argmin(1).reshape([b]);
        let d2 = lattice_sq_distances(
            self.lattice(),
            positions.clone().select(0, bmu),
            positions.clone(),
        );
        let h = self.config().neighbourhood.weights(d2, sigma); // b x K
        let pull = h.clone().transpose().matmul(xb); // K x D
        let weight = h.sum_dim(0).transpose(); // K x 1
        let updated = w.clone() + (pull - w * weight) * (learning_rate / b as f64);
        self.set_codebook(updated);
    }
}
