//! Precision and speed of the exact inversion on MNIST test digits.
//!
//! The codebooks: the trained 30x30 map `models/mnist-30x30` (when present), and codebooks built
//! from training digits in two ways, for K = 400, 900, 1600:
//! - `digits+noise`: K random training digits plus N(0, 0.01^2) pixel noise (full rank once
//!   K >= 785, like a map whose prototypes are all different);
//! - `local-means`: each prototype is the mean of the 16 training digits nearest to a random seed
//!   digit (blurry, SOM-like prototypes; the border pixels are zero in all of them, so the hull is
//!   rank-deficient and part of each test digit is not identifiable).
//!
//! Activations are computed in f64 and rounded to f32 for the f32 path, as a map on a GPU would
//! emit them. For each codebook the example prints the rank and condition number, the median and
//! maximum relative error `||x - x_rec|| / ||x||` against the test digit and against the f64
//! inversion (which isolates the arithmetic error from the unidentifiable part), the median
//! off-hull certificate, and the inversion time for the test set.
//!
//! ```text
//! cargo run --example inversion_precision [--features wgpu] -- [MNIST_DIR] [N_TEST] [MODEL_DIR]
//! ```
//! `MNIST_DIR` defaults to `../shared/data/mnist`, `N_TEST` to 10000, `MODEL_DIR` to
//! `models/mnist-30x30`. "f32 floor" is the f64 inversion of the f32-rounded activations: the
//! error that no f32 arithmetic can avoid, since the activations themselves carry it.

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::{Device, Tensor, TensorData};
use burn::tensor::DType;
use invsom::data::{load_split, Samples, Split};
use invsom::inversion::{
    relative_errors, ErrorSummary, InversionConfig, InversionOperator, Lambda, Precision,
};
use invsom::tensor::{from_rows_f64, sq_distances, to_vec_f64};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// K random training digits plus small Gaussian pixel noise.
fn digits_plus_noise(train: &Samples, k: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let noise = Normal::new(0.0, 0.01).expect("valid normal");
    let mut out = Vec::with_capacity(k * train.d_input);
    for i in sample(rng, train.n_samples, k) {
        out.extend(train.row(i).iter().map(|&p| p as f64 + noise.sample(rng)));
    }
    out
}

/// Each prototype: the mean of the `group` training digits nearest to a random seed digit.
fn local_means(
    train: &Samples,
    k: usize,
    group: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Vec<f64> {
    let d = train.d_input;
    let pool = train.take(20_000);
    let seeds: Vec<usize> = sample(rng, pool.n_samples, k).into_vec();
    let seed_rows = pool.subset(&seeds).to_tensor(device);
    let distances = sq_distances(seed_rows, pool.to_tensor(device)); // [k, pool]
    let (_, order) = distances.sort_with_indices(1);
    let nearest = invsom::tensor::to_vec_usize(order.slice([0..k, 0..group]));
    let mut out = vec![0.0f64; k * d];
    for (i, row) in nearest.chunks_exact(group).enumerate() {
        for &j in row {
            for (o, &p) in out[i * d..(i + 1) * d].iter_mut().zip(pool.row(j)) {
                *o += p as f64 / group as f64;
            }
        }
    }
    out
}

fn sync(t: &Tensor<2>) {
    let _ = t.clone().sum().into_scalar::<f64>();
}

/// Builds the operator of `w` (`[K, D]`, f64) and prints precision and timing on the test digits.
fn report(
    kind: &str,
    w: Tensor<2>,
    config: &InversionConfig,
    x_f64: &[f64],
    x_tensor: &Tensor<2>,
) -> invsom::Result<()> {
    let [k, d] = w.dims();
    let device = w.device();
    let start = Instant::now();
    let op = InversionOperator::new(&w, config)?;
    let t_build = start.elapsed().as_secs_f64();
    let diag = op.diagnostics();

    let a64 = sq_distances(x_tensor.clone(), w.clone());
    let a32 = a64.clone().cast(DType::F32);
    sync(&a32);

    let start = Instant::now();
    let inv64 = op.invert(a64, Precision::F64)?;
    sync(&inv64.inputs);
    let t64 = start.elapsed().as_secs_f64();
    let _ = op.invert(a32.clone(), Precision::F32)?; // warm-up
    let start = Instant::now();
    let inv32 = op.invert(a32.clone(), Precision::F32)?;
    sync(&inv32.inputs);
    let t32 = start.elapsed().as_secs_f64();
    let floor = op.invert(a32.clone(), Precision::F64)?;

    // The textbook f32 formula without the per-sample shift, for comparison.
    let centre: Vec<f32> = op.centre().iter().map(|&c| c as f32).collect();
    let centre = Tensor::<2>::from_data(TensorData::new(centre, [1, d]), &device);
    let norms = (w.cast(DType::F32) - centre.clone())
        .square()
        .sum_dim(1)
        .transpose(); // [1, K]
    let naive = centre + (norms - a32).matmul(op.projector_t(Precision::F32)) * 0.5;

    let rec64 = to_vec_f64(inv64.inputs);
    let rec32 = to_vec_f64(inv32.inputs);
    let summary =
        |rec: &[f64], reference: &[f64]| ErrorSummary::of(&relative_errors(reference, rec, d));
    let off = ErrorSummary::of(&to_vec_f64(inv64.off_hull));
    let e64 = summary(&rec64, x_f64);
    let e32 = summary(&rec32, x_f64);
    let p32 = summary(&rec32, &rec64);
    let pfloor = summary(&to_vec_f64(floor.inputs), &rec64);
    let pnaive = summary(&to_vec_f64(naive), &rec64);
    println!(
        "{kind:>14} K={k:<5} rank_rtol={:.0e} lambda={:.1e} rank={:<4} lost={:<4} dups={} cond={:.3e} noise_gain={:.3e} build={:.2}s",
        config.rank_rtol,
        diag.lambda_abs,
        diag.rank, diag.lost_dim, diag.duplicate_prototypes, diag.condition_number, diag.noise_gain, t_build
    );
    println!(
        "{:>16} vs x: f64 median {:.2e} max {:.2e} | f32 median {:.2e} max {:.2e} | off-hull median {:.3e}",
        "", e64.median, e64.max, e32.median, e32.max, off.median
    );
    println!(
        "{:>16} f32 vs f64 inversion: shifted median {:.2e} max {:.2e} | unshifted median {:.2e} max {:.2e} | f32 floor median {:.2e} max {:.2e}",
        "", p32.median, p32.max, pnaive.median, pnaive.max, pfloor.median, pfloor.max
    );
    println!(
        "{:>16} time for {} digits: f64 {:.3}s, f32 {:.3}s",
        "",
        x_f64.len() / d,
        t64,
        t32
    );
    Ok(())
}

fn main() -> invsom::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().map_or("../shared/data/mnist", String::as_str));
    let n_test: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let model_dir = PathBuf::from(args.get(2).map_or("models/mnist-30x30", String::as_str));
    let device = Device::flex();
    let train = load_split(&dir, Split::Train)?;
    let test = load_split(&dir, Split::Test)?.take(n_test);
    let (n, d) = (test.n_samples, test.d_input);
    let x_f64: Vec<f64> = test.values.iter().map(|&p| p as f64).collect();
    let x_tensor = from_rows_f64(x_f64.clone(), n, d, &device);
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    println!("MNIST test digits: {n} x {d}; device flex; pixels in [0, 1]");

    match invsom::records::load(&model_dir, &device) {
        Ok((som, _)) => {
            let w = som.codebook().cast(DType::F64);
            let configs = [
                InversionConfig::default(),
                InversionConfig::default().with_rank_rtol(1e-7),
                InversionConfig::default().with_rank_rtol(1e-6),
                InversionConfig::default().with_rank_rtol(1e-5),
                InversionConfig::default().with_rank_rtol(1e-4),
                InversionConfig::default().with_lambda(Lambda::Relative(1e-12)),
                InversionConfig::default().with_lambda(Lambda::Relative(1e-10)),
            ];
            for config in &configs {
                report("trained map", w.clone(), config, &x_f64, &x_tensor)?;
            }
        }
        Err(e) => println!("(no trained map: {e})"),
    }
    for kind in ["digits+noise", "local-means"] {
        for k in [400usize, 900, 1600] {
            let codebook = match kind {
                "digits+noise" => digits_plus_noise(&train, k, &mut rng),
                _ => local_means(&train, k, 16, &mut rng, &device),
            };
            let w = from_rows_f64(codebook, k, d, &device);
            report(kind, w, &InversionConfig::default(), &x_f64, &x_tensor)?;
        }
    }
    Ok(())
}
