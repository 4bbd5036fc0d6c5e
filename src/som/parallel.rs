//! Data-parallel Kohonen batch training over several Burn devices.
//!
//! The batch rule needs only two statistics of the data per epoch: the per-unit sums of the
//! samples each unit wins, `S` (`K x D`), and the win counts, `c` (`K x 1`). Both are sums over
//! samples, so they split over shards of the data and add up:
//! 1. the codebook is copied to every shard's device;
//! 2. each shard finds its samples' best matching units (one distance GEMM per chunk) and
//!    scatter-adds its own `(S_s, c_s)` on its device, all shards at the same time (one thread
//!    each);
//! 3. the partial `(S_s, c_s)` move to the map's device and are summed; the neighbourhood
//!    smoothing and the weighted mean are done once there.
//!
//! The result equals single-device training up to the order of floating-point additions. What
//! moves between devices per epoch is `K x D` each way per shard, independent of the number of
//! samples; the same map-reduce runs across machines (docs/PERFORMANCE.md).
//!
//! Burn 0.22 has one Flex (CPU) device, so several shards on `Device::flex()` share its thread
//! pool: that runs and is exact, but is no faster. The gain comes from distinct accelerators
//! (several wgpu/CUDA devices), or from mixing the CPU with a GPU.
//!
//! ```
//! use burn::prelude::Device;
//! use invsom::data::mixture::GaussianMixture;
//! use invsom::som::{train_data_parallel, SomConfig, TrainConfig};
//!
//! let device = Device::flex();
//! let data = GaussianMixture { n_components: 3, d_input: 4, spread: 10.0, sigma: 0.5, seed: 7 }
//!     .sample(300).unwrap();
//! let x = data.to_tensor(&device);
//! let shards = vec![
//!     (device.clone(), x.clone().slice([0..150, 0..4])),
//!     (device.clone(), x.slice([150..300, 0..4])),
//! ];
//! let mut som = SomConfig::new(5, 5, 4).with_seed(1).init(&data, &device).unwrap();
//! let report = train_data_parallel(&mut som, &shards, &TrainConfig::new().with_n_epochs(5)).unwrap();
//! assert_eq!(report.epochs_done, 5);
//! ```

use std::time::Instant;

use burn::prelude::{Device, Tensor};

use crate::error::{Error, Result};
use crate::som::config::{TrainConfig, TrainMode};
use crate::som::model::Som;
use crate::som::train::{accumulate, chunk_size, positions_tensor, Partial};
use crate::som::{EpochReport, TrainReport};
use crate::tensor::check_finite_tensor;

/// A shard with its data moved to its device once, and its row norms.
struct PreparedShard {
    device: Device,
    x: Tensor<2>,
    x2: Tensor<2>,
}

/// Kohonen batch training with the data split into shards, each on its own Burn device.
///
/// Trains `som` from the epoch it has reached up to `config.n_epochs` under the same schedule as
/// [`crate::som::train`]; per epoch every shard computes its per-unit sums and counts on its
/// device (shards run concurrently), and they are reduced and applied on the map's device.
///
/// # Shapes
/// - `shards`: `(device, x_s)` with `x_s` of `N_s x D`; a shard tensor that is not on its device
///   is moved there once, up front.
///
/// # Errors
/// [`Error::EmptyData`] with no shards or no samples; [`Error::Shape`] when a shard's width is
/// not the map's `D`; [`Error::InvalidConfig`] for online mode or invalid schedule values;
/// [`Error::NonFinite`] for NaN or infinity in a shard or in the codebook.
pub fn train_data_parallel(
    som: &mut Som,
    shards: &[(Device, Tensor<2>)],
    config: &TrainConfig,
) -> Result<TrainReport> {
    if config.mode != TrainMode::Batch {
        return Err(Error::InvalidConfig {
            field: "mode",
            reason: "data-parallel training splits the Kohonen batch rule's sums; online updates are sequential. Fix: use TrainMode::Batch".into(),
        });
    }
    config.check(som.lattice(), som.config().neighbourhood)?;
    let prepared = prepare_shards(som, shards)?;
    let n: usize = prepared.iter().map(|s| s.x.dims()[0]).sum();
    if n == 0 {
        return Err(Error::EmptyData {
            what: "data-parallel training",
        });
    }
    let started = Instant::now();
    let map_device = som.device();
    let positions = positions_tensor(som.lattice(), &map_device);
    let horizon = config.n_epochs;
    let mut history = Vec::new();
    while som.meta.epochs_done < horizon {
        let epoch = som.meta.epochs_done;
        let t0 = Instant::now();
        let sigma = config.sigma_for_epoch(som.lattice(), epoch);
        let codebook = som.codebook();
        let k = som.n_units();
        let partials = run_shards(&prepared, &codebook, config.chunk_size, k)?;
        let d = som.d_input();
        let mut sums = Tensor::<2>::zeros([k, d], &map_device);
        let mut counts = Tensor::<2>::zeros([k, 1], &map_device);
        let mut qe_sum = 0.0;
        for p in partials {
            sums = sums + p.sums.to_device(&map_device);
            counts = counts + p.counts.to_device(&map_device);
            qe_sum += p.qe_sum.into_scalar::<f64>();
        }
        som.apply_sums(sums, counts, sigma, &positions);
        let qe = qe_sum / n as f64;
        if !qe.is_finite() {
            return Err(Error::NonFinite {
                what: format!("the codebook after epoch {}", epoch + 1),
                fix: "Fix: check the data scale (scale features to [0, 1])",
            });
        }
        som.meta.epochs_done += 1;
        history.push(EpochReport {
            epoch: epoch + 1,
            n_epochs: horizon,
            sigma,
            learning_rate: None,
            qe,
            seconds: t0.elapsed().as_secs_f64(),
        });
    }
    check_finite_tensor(
        &som.codebook(),
        "the trained codebook",
        "Fix: scale the data to [0, 1]",
    )?;
    let (qe, te) = shard_quality(som, &prepared, n);
    Ok(TrainReport {
        epochs_run: history.len(),
        epochs_done: som.meta.epochs_done,
        stopped_early: false,
        qe,
        te,
        seconds: started.elapsed().as_secs_f64(),
        history,
    })
}

/// Checks the shards and moves each to its device once.
fn prepare_shards(som: &Som, shards: &[(Device, Tensor<2>)]) -> Result<Vec<PreparedShard>> {
    if shards.is_empty() {
        return Err(Error::EmptyData {
            what: "data-parallel training (no shards)",
        });
    }
    shards
        .iter()
        .map(|(device, x)| {
            som.check_input(x, "train_data_parallel")?;
            check_finite_tensor(
                x,
                "a training shard",
                "Fix: remove or impute NaN and infinite values",
            )?;
            let x = x.clone().to_device(device);
            let x2 = crate::tensor::row_sq_norms(&x);
            Ok(PreparedShard {
                device: device.clone(),
                x,
                x2,
            })
        })
        .collect()
}

/// Every shard's `(sums, counts, qe_sum)` for the current codebook, one thread per shard.
fn run_shards(
    shards: &[PreparedShard],
    codebook: &Tensor<2>,
    requested_chunk: usize,
    k: usize,
) -> Result<Vec<Partial>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = shards
            .iter()
            .map(|shard| {
                let w = codebook.clone().to_device(&shard.device);
                scope.spawn(move || {
                    let n = shard.x.dims()[0];
                    accumulate(
                        &shard.x,
                        Some(&shard.x2),
                        w,
                        chunk_size(requested_chunk, n, k),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().map_err(|_| Error::Device(
                    "a shard's worker thread panicked during data-parallel training. Fix: check that every shard's device is available".into(),
                ))
            })
            .collect()
    })
}

/// Quantization and topographic error over all shards, each measured on its own device.
fn shard_quality(som: &Som, shards: &[PreparedShard], n: usize) -> (f64, f64) {
    let mut qe = 0.0;
    let mut te = 0.0;
    for shard in shards {
        let local = som.clone().moved_to(&shard.device);
        let weight = shard.x.dims()[0] as f64;
        if weight > 0.0 {
            qe += local.quantization_error(&shard.x) * weight;
            te += local.topographic_error(&shard.x) * weight;
        }
    }
    (qe / n as f64, te / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::mixture::GaussianMixture;
    use crate::som::{train_tensor, SomConfig};
    use crate::tensor::to_vec_f32;
    use crate::topology::LatticeKind;
    use std::ops::ControlFlow;

    fn data(n: usize, d: usize) -> crate::data::Samples {
        GaussianMixture {
            n_components: 4,
            d_input: d,
            spread: 8.0,
            sigma: 0.7,
            seed: 11,
        }
        .sample(n)
        .unwrap()
    }

    fn split(x: &Tensor<2>, cuts: &[usize], devices: &[Device]) -> Vec<(Device, Tensor<2>)> {
        let [n, d] = x.dims();
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(n);
        bounds
            .windows(2)
            .zip(devices.iter().cycle())
            .map(|(b, dev)| (dev.clone(), x.clone().slice([b[0]..b[1], 0..d])))
            .collect()
    }

    /// Trains the same start on all the data and on shards; returns both codebooks and reports.
    fn both(
        config: SomConfig,
        cuts: &[usize],
        devices: &[Device],
    ) -> (Vec<f32>, Vec<f32>, TrainReport, TrainReport) {
        let flex = Device::flex();
        let samples = data(301, config.d_input);
        let x = samples.to_tensor(&flex);
        let start = config
            .clone()
            .with_init(crate::som::Init::Samples)
            .init(&samples, &flex)
            .unwrap();
        let tc = TrainConfig::new().with_n_epochs(6);
        let mut single = start.clone();
        let r1 = train_tensor(&mut single, x.clone(), &tc, |_| ControlFlow::Continue(())).unwrap();
        let mut sharded = start;
        let r2 = train_data_parallel(&mut sharded, &split(&x, cuts, devices), &tc).unwrap();
        (
            to_vec_f32(single.codebook()),
            to_vec_f32(sharded.codebook()),
            r1,
            r2,
        )
    }

    fn assert_close(a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len());
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= tol, "codebooks differ by {worst} > {tol}");
    }

    #[test]
    fn three_shards_equal_single_device_on_rectangular_lattice() {
        let (a, b, r1, r2) = both(SomConfig::new(5, 6, 3), &[100, 220], &[Device::flex()]);
        assert_close(&a, &b, 1e-4);
        assert_eq!(r1.history.len(), r2.history.len());
        for (e1, e2) in r1.history.iter().zip(&r2.history) {
            assert!((e1.qe - e2.qe).abs() < 1e-4, "{} vs {}", e1.qe, e2.qe);
            assert_eq!(e1.sigma, e2.sigma);
        }
        assert!((r1.qe - r2.qe).abs() < 1e-4);
        assert!((r1.te - r2.te).abs() < 1e-9);
    }

    #[test]
    fn shards_equal_single_device_on_toroidal_hexagonal_lattice() {
        let config = SomConfig::new(4, 5, 2)
            .with_lattice(LatticeKind::Hexagonal)
            .with_toroidal(true);
        let (a, b, _, _) = both(config, &[1, 150], &[Device::flex()]);
        assert_close(&a, &b, 1e-4);
    }

    #[test]
    fn an_empty_shard_contributes_nothing() {
        let (a, b, _, _) = both(SomConfig::new(4, 4, 3), &[0, 0, 200], &[Device::flex()]);
        assert_close(&a, &b, 1e-4);
    }

    #[test]
    fn rejects_no_shards_wrong_width_and_online_mode() {
        let flex = Device::flex();
        let samples = data(50, 3);
        let mut som = SomConfig::new(3, 3, 3).init(&samples, &flex).unwrap();
        let tc = TrainConfig::new().with_n_epochs(2);
        assert!(matches!(
            train_data_parallel(&mut som, &[], &tc),
            Err(Error::EmptyData { .. })
        ));
        let wrong = data(10, 2).to_tensor(&flex);
        assert!(matches!(
            train_data_parallel(&mut som, &[(flex.clone(), wrong)], &tc),
            Err(Error::Shape { .. })
        ));
        let x = samples.to_tensor(&flex);
        let online = tc.clone().with_mode(TrainMode::Online);
        assert!(matches!(
            train_data_parallel(&mut som, &[(flex.clone(), x.clone())], &online),
            Err(Error::InvalidConfig { field: "mode", .. })
        ));
        let empty = x.slice([0..0, 0..3]);
        assert!(matches!(
            train_data_parallel(&mut som, &[(flex, empty)], &tc),
            Err(Error::EmptyData { .. })
        ));
        assert_eq!(som.meta().epochs_done, 0, "a rejected call must not train");
    }

    #[cfg(feature = "wgpu")]
    #[test]
    fn flex_and_wgpu_shards_equal_single_device() {
        let wgpu = crate::BackendKind::Wgpu.device().unwrap();
        let (a, b, _, _) = both(SomConfig::new(4, 5, 3), &[120], &[Device::flex(), wgpu]);
        assert_close(&a, &b, 1e-3);
    }
}
