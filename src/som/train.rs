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
use crate::tensor::{check_finite_tensor, from_rows, indices, row_sq_norms};
use crate::topology::{Lattice, LatticeKind};

/// Distance block (samples x units) aimed for: 512 Ki floats = 2 MiB. A block this size stays
/// in the last-level cache between the GEMM that writes it and the passes that read it (shift,
/// argmin), and is reused by the allocator instead of being mapped afresh (page faults) each
/// epoch: 20x20 and 30x30 epochs ran 1.3 to 1.8 times faster than with the former 64 MiB
/// blocks (docs/PERFORMANCE.md). Large maps get at least `MIN_CHUNK` samples per block.
const BLOCK_ELEMS: usize = 512 << 10;
/// Fewest samples per block: below this the GEMM re-packs the codebook too often. Very large
/// maps go below it only as far as keeping the block under `MAX_BLOCK_ELEMS`.
const MIN_CHUNK: usize = 256;
/// Largest distance block: 4 Mi floats = 16 MiB (a 200x200 map gets 104-sample blocks).
const MAX_BLOCK_ELEMS: usize = 4 << 20;
/// Column block of the batch update (`K x columns` floats): 1 Mi floats = 4 MiB. Maps whose
/// `K x D` exceeds it update their codebook a block of input dimensions at a time, in place,
/// so the workspace stays small next to the codebook itself.
const UPDATE_BLOCK_ELEMS: usize = 1 << 20;
/// Largest block of the neighbourhood matrix built at once for non-separable kernels.
const KERNEL_BLOCK_ELEMS: usize = 4 << 20;

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
    let x2 = row_sq_norms(&x);
    let positions = positions_tensor(som.lattice(), &som.device());
    let steps_per_epoch = n.div_ceil(config.batch_size.max(1));
    while som.meta.epochs_done < horizon {
        let epoch = som.meta.epochs_done;
        let t0 = Instant::now();
        let sigma = config.sigma_for_epoch(som.lattice(), epoch);
        let (qe, learning_rate) = match config.mode {
            TrainMode::Batch => {
                let chunk = chunk_size(config.chunk_size, n, som.n_units());
                (
                    som.batch_epoch_with(&x, Some(&x2), sigma, chunk, &positions),
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

/// Where one Kohonen batch pass sent each sample.
pub(crate) struct Assignment {
    /// Best matching unit of every sample, `[N]`.
    pub bmu: Tensor<1, Int>,
    /// `K x 1` counts of the samples each unit wins.
    pub counts: Tensor<2>,
    /// Sum over samples of the distance to the BMU, `[1]`.
    pub qe_sum: Tensor<1>,
}

/// The best matching units of `x` (`N x D`) on the codebook `w`, in chunks of `chunk` samples:
/// one distance GEMM per chunk and an argmin. `x2` are the row norms `||x||^2` (`N x 1`) when the
/// caller keeps them across epochs; without them they are computed per chunk, while the chunk is
/// in cache.
pub(crate) fn assign(
    x: &Tensor<2>,
    x2: Option<&Tensor<2>>,
    w: Tensor<2>,
    chunk: usize,
) -> Assignment {
    let n = x.dims()[0];
    let k = w.dims()[0];
    let device = x.device();
    // argmin_k ||x - w_k||^2 = argmin_k (||w_k||^2 / 2 - x.w_k): one broadcast subtraction after
    // the GEMM, and no scaled K x D copy of the codebook.
    let half_w2 = row_sq_norms(&w).transpose() * 0.5; // 1 x K
    let wt = w.transpose(); // D x K view
    let mut bmus = Vec::with_capacity(n.div_ceil(chunk.max(1)));
    let mut qe_sum = Tensor::<1>::zeros([1], &device);
    let mut start = 0;
    while start < n {
        let end = (start + chunk).min(n);
        let xc = x.clone().slice(s![start..end, ..]);
        let score = half_w2.clone() - xc.clone().matmul(wt.clone());
        let (smin, bmu) = score.min_dim_with_indices(1);
        let x2c = match x2 {
            Some(x2) => x2.clone().slice(s![start..end, ..]),
            None => xc.square().sum_dim(1),
        };
        // ||x - w_bmu||^2 = ||x||^2 + 2 * min score.
        qe_sum = qe_sum + (smin * 2.0 + x2c).clamp_min(0.0).sqrt().sum();
        bmus.push(bmu.reshape([end - start]));
        start = end;
    }
    let bmu = match bmus.len() {
        // An empty shard of data-parallel training: no sample, nothing won.
        0 => {
            return Assignment {
                bmu: Tensor::<1, Int>::zeros([0], &device),
                counts: Tensor::<2>::zeros([k, 1], &device),
                qe_sum,
            }
        }
        1 => bmus.remove(0),
        _ => Tensor::cat(bmus, 0),
    };
    let counts = Tensor::<2>::zeros([k, 1], &device).select_assign(
        0,
        bmu.clone(),
        Tensor::ones([n, 1], &device),
        IndexingUpdateOp::Add,
    );
    Assignment {
        bmu,
        counts,
        qe_sum,
    }
}

/// Per-unit sums of the samples `x` (`N x D'`, any column range) over their BMUs: `K x D'`.
fn unit_sums(x: Tensor<2>, bmu: Tensor<1, Int>, k: usize) -> Tensor<2> {
    let width = x.dims()[1];
    Tensor::<2>::zeros([k, width], &x.device()).select_assign(0, bmu, x, IndexingUpdateOp::Add)
}

/// The statistics of one Kohonen batch pass as sums, counts and QE: what data-parallel
/// training adds up over shards.
pub(crate) fn accumulate(
    x: &Tensor<2>,
    x2: Option<&Tensor<2>>,
    w: Tensor<2>,
    chunk: usize,
) -> Partial {
    let [n, d] = x.dims();
    let k = w.dims()[0];
    let a = assign(x, x2, w, chunk);
    Partial {
        sums: if n == 0 {
            Tensor::zeros([k, d], &x.device())
        } else {
            unit_sums(x.clone(), a.bmu, k)
        },
        counts: a.counts,
        qe_sum: a.qe_sum,
    }
}

/// Samples per distance block: the requested size, or one that keeps `chunk x K` near
/// `BLOCK_ELEMS` (at least `MIN_CHUNK` samples unless that block would pass `MAX_BLOCK_ELEMS`).
pub(crate) fn chunk_size(requested: usize, n: usize, k: usize) -> usize {
    let k = k.max(1);
    let floor = MIN_CHUNK.min(MAX_BLOCK_ELEMS / k).max(1);
    let auto = (BLOCK_ELEMS / k).clamp(floor, 16_384);
    let c = if requested == 0 { auto } else { requested };
    c.min(n).max(1)
}

/// The samples per distance block that batch training picks for `n_samples` inputs and
/// `n_units` prototypes when `TrainConfig::chunk_size` is 0.
pub fn default_chunk_size(n_samples: usize, n_units: usize) -> usize {
    chunk_size(0, n_samples, n_units)
}

/// `H m` for a kernel that factorises over the axes of a rectangular lattice:
/// `exp(-(dr^2 + dc^2)/2s^2) = exp(-dr^2/2s^2) exp(-dc^2/2s^2)`, so two small products.
fn smooth_separable(
    lattice: &Lattice,
    kernel: crate::topology::Neighbourhood,
    m: Tensor<2>,
    sigma: f64,
) -> Tensor<2> {
    let device = m.device();
    let (ar, ac) = lattice.axis_sq_distances();
    let (r, c) = (lattice.rows(), lattice.cols());
    let hr = kernel.weights(from_rows(ar, r, r, &device), sigma);
    let hc = kernel.weights(from_rows(ac, c, c, &device), sigma);
    let width = m.dims()[1];
    let t = hr.matmul(m.reshape([r, c * width])).reshape([r, c, width]);
    hc.unsqueeze::<3>().matmul(t).reshape([r * c, width])
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
        let positions = positions_tensor(self.lattice(), &x.device());
        let chunk = chunk_size(0, n, self.n_units());
        Ok(self.batch_epoch_with(x, None, sigma, chunk, &positions))
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
        x2: Option<&Tensor<2>>,
        sigma: f64,
        chunk: usize,
        positions: &Tensor<2>,
    ) -> f64 {
        let n = x.dims()[0];
        let a = assign(x, x2, self.codebook(), chunk);
        let qe = a.qe_sum.into_scalar::<f64>() / n as f64;
        self.apply_assignment(x, a.bmu, a.counts, sigma, positions);
        qe
    }

    /// The batch update from the BMUs of `x`: `w_k = (H S)_k / (H c)_k`. Large maps with a
    /// separable kernel build `S` and write the new prototypes a block of input dimensions at a
    /// time, in place: the workspace is a few `K x columns` blocks instead of several `K x D`
    /// copies.
    fn apply_assignment(
        &mut self,
        x: &Tensor<2>,
        bmu: Tensor<1, Int>,
        counts: Tensor<2>,
        sigma: f64,
        positions: &Tensor<2>,
    ) {
        let (k, d) = (self.n_units(), self.d_input());
        let columns = (UPDATE_BLOCK_ELEMS / k).max(1);
        if columns >= d || !self.separable_smoothing() {
            let sums = unit_sums(x.clone(), bmu, k);
            self.apply_sums(sums, counts, sigma, positions);
            return;
        }
        let [den] = self.smooth([counts], sigma, positions);
        let empty = den.clone().lower_equal_elem(1e-12);
        let den = den.clamp_min(1e-12);
        let lattice = self.lattice().clone();
        let kernel = self.config().neighbourhood;
        self.update_codebook(|mut w| {
            let mut d0 = 0;
            while d0 < d {
                let d1 = (d0 + columns).min(d);
                let sums = unit_sums(x.clone().slice(s![.., d0..d1]), bmu.clone(), k);
                let num = smooth_separable(&lattice, kernel, sums, sigma);
                let kept = w.clone().slice(s![.., d0..d1]);
                let block =
                    (num / den.clone()).mask_where(empty.clone().expand([k, d1 - d0]), kept);
                // `w` is the only handle left: the slice assignment writes in place.
                w = w.slice_assign(s![.., d0..d1], block);
                d0 = d1;
            }
            w
        });
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
        let [num, den] = self.smooth([sums, counts], sigma, positions);
        let empty = den.clone().lower_equal_elem(1e-12).expand([k, d]);
        let updated = (num / den.clamp_min(1e-12)).mask_where(empty, w);
        self.set_codebook(updated);
    }

    /// Whether the neighbourhood factorises over the two lattice axes.
    fn separable_smoothing(&self) -> bool {
        self.lattice().kind() == LatticeKind::Rectangular && self.config().neighbourhood.separable()
    }

    /// Neighbourhood smoothing of per-unit statistics (each `K x width`): `H m` for each `m`.
    /// A non-separable kernel's `K x K` blocks are built once for all of them.
    fn smooth<const M: usize>(
        &self,
        ms: [Tensor<2>; M],
        sigma: f64,
        positions: &Tensor<2>,
    ) -> [Tensor<2>; M] {
        let lattice = self.lattice();
        let kernel = self.config().neighbourhood;
        if self.separable_smoothing() {
            return ms.map(|m| smooth_separable(lattice, kernel, m, sigma));
        }
        let k = lattice.n_units();
        let block = (KERNEL_BLOCK_ELEMS / k).clamp(1, k);
        let mut rows: [Vec<Tensor<2>>; M] = std::array::from_fn(|_| Vec::new());
        let mut start = 0;
        while start < k {
            let end = (start + block).min(k);
            let d2 = lattice_sq_distances(
                lattice,
                positions.clone().slice(s![start..end, ..]),
                positions.clone(),
            );
            let h = kernel.weights(d2, sigma);
            for (rows, m) in rows.iter_mut().zip(&ms) {
                rows.push(h.clone().matmul(m.clone()));
            }
            start = end;
        }
        rows.map(|rows| Tensor::cat(rows, 0))
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
        let w2 = row_sq_norms(&w).transpose();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::som::SomConfig;
    use burn::prelude::Device;
    use rand::Rng;

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..len).map(|_| rng.random::<f32>()).collect()
    }

    /// A map whose K x D passes `UPDATE_BLOCK_ELEMS` takes the column-blocked, in-place update;
    /// it must give the one-shot update's codebook, and leave a clone of the map untouched.
    #[test]
    fn the_column_blocked_update_equals_the_one_shot_update() {
        column_blocked_update_on(&Device::flex());
    }

    #[cfg(feature = "wgpu")]
    #[test]
    fn the_column_blocked_update_equals_the_one_shot_update_on_wgpu() {
        if let Some(device) = crate::backend::wgpu_for_tests() {
            column_blocked_update_on(&device);
        }
    }

    fn column_blocked_update_on(device: &Device) {
        let device = device.clone();
        let (rows, cols, d, n) = (30, 40, 900, 300);
        let k = rows * cols;
        assert!(k * d > UPDATE_BLOCK_ELEMS && UPDATE_BLOCK_ELEMS / k < d);
        let x = from_rows(random(n * d, 1), n, d, &device);
        let w0 = from_rows(random(k * d, 2), k, d, &device);
        let som = Som::from_codebook(SomConfig::new(rows, cols, d), w0).unwrap();
        let before = crate::tensor::to_vec_f32(som.codebook());
        let positions = positions_tensor(som.lattice(), &device);
        for sigma in [6.0, 0.2] {
            // At sigma 0.2 a unit with no winner in its 3x3 block has a denominator below 1e-12
            // (exp(-4 / 0.08)): it must keep its prototype in both paths.
            let a = assign(&x, None, som.codebook(), 64);
            let mut blocked = som.clone();
            blocked.apply_assignment(&x, a.bmu.clone(), a.counts.clone(), sigma, &positions);
            let mut one_shot = som.clone();
            let sums = unit_sums(x.clone(), a.bmu, k);
            one_shot.apply_sums(sums, a.counts, sigma, &positions);
            let (b, o) = (
                crate::tensor::to_vec_f32(blocked.codebook()),
                crate::tensor::to_vec_f32(one_shot.codebook()),
            );
            let diff = b
                .iter()
                .zip(&o)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f32::max);
            assert!(diff < 1e-5, "sigma {sigma}: max difference {diff}");
            assert!(b.iter().zip(&before).any(|(p, q)| p != q), "nothing moved");
            let kept = (0..k)
                .filter(|u| b[u * d..(u + 1) * d] == before[u * d..(u + 1) * d])
                .count();
            assert_eq!(
                kept > 0,
                sigma < 1.0,
                "sigma {sigma}: {kept} prototypes kept"
            );
        }
        assert_eq!(crate::tensor::to_vec_f32(som.codebook()), before);
    }

    #[test]
    fn batch_step_without_norms_equals_training_with_them() {
        let device = Device::flex();
        let (d, n) = (20, 500);
        let x = from_rows(random(n * d, 3), n, d, &device);
        let w0 = from_rows(random(36 * d, 4), 36, d, &device);
        let som = Som::from_codebook(SomConfig::new(6, 6, d), w0).unwrap();
        let positions = positions_tensor(som.lattice(), &device);
        let x2 = row_sq_norms(&x);
        let mut a = som.clone();
        let mut b = som.clone();
        let qa = a.batch_epoch_with(&x, None, 2.0, 128, &positions);
        let qb = b.batch_epoch_with(&x, Some(&x2), 2.0, 128, &positions);
        assert!((qa - qb).abs() < 1e-5 * qa, "{qa} vs {qb}");
        let direct = som.quantization_error(&x);
        assert!((qa - direct).abs() < 1e-4 * direct, "{qa} vs {direct}");
    }
}
