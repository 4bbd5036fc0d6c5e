//! Starting codebooks: random within the data's range, distinct samples, or the PCA plane.

use burn::prelude::{Device, Tensor};
use rand::seq::index::sample as sample_indices;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::Samples;
use crate::error::{Error, Result};
use crate::som::config::{Init, SomConfig};
use crate::som::model::Som;
use crate::tensor::{from_rows, to_vec_f64};
use crate::topology::Lattice;

/// PCA uses at most this many samples: the two leading directions of MNIST-like data are stable
/// long before that, and it bounds the one-time cost.
const PCA_MAX_SAMPLES: usize = 20_000;

impl SomConfig {
    /// Builds a map whose codebook starts from `data` as `self.init` says.
    ///
    /// # Errors
    /// Invalid config values, data whose dimension differs from `d_input`, empty data, NaN, or
    /// more units than samples with `Init::Samples`.
    pub fn init(&self, data: &Samples, device: &Device) -> Result<Som> {
        let lattice = self.lattice()?;
        if data.n_samples == 0 {
            return Err(Error::EmptyData {
                what: "map initialisation",
            });
        }
        if data.d_input != self.d_input {
            return Err(Error::Shape {
                op: "SomConfig::init",
                expected: format!("{} features per sample", self.d_input),
                got: format!("{}", data.d_input),
                fix: "set d_input to the data's dimension",
            });
        }
        crate::tensor::check_finite(
            &data.values,
            "training data",
            "Fix: remove or impute NaN and infinite values",
        )?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let k = lattice.n_units();
        let d = self.d_input;
        let values = match self.init {
            Init::Random => random_in_range(data, k, &mut rng),
            Init::Samples => {
                if k > data.n_samples {
                    return Err(Error::InvalidConfig {
                        field: "init",
                        reason: format!(
                            "sample initialisation needs at least as many samples as units ({k} units, {} samples). Fix: use --init pca or random, or a smaller map",
                            data.n_samples
                        ),
                    });
                }
                let mut v = Vec::with_capacity(k * d);
                for i in sample_indices(&mut rng, data.n_samples, k) {
                    v.extend_from_slice(data.row(i));
                }
                v
            }
            Init::Pca => pca_grid(data, &lattice, &mut rng, device)?,
        };
        let mut som = Som::from_codebook(self.clone(), from_rows(values, k, d, device))?;
        som.meta.image_shape = data.image_shape;
        Ok(som)
    }
}

fn random_in_range(data: &Samples, k: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let d = data.d_input;
    let mut lo = vec![f32::INFINITY; d];
    let mut hi = vec![f32::NEG_INFINITY; d];
    for i in 0..data.n_samples {
        for (j, &v) in data.row(i).iter().enumerate() {
            lo[j] = lo[j].min(v);
            hi[j] = hi[j].max(v);
        }
    }
    (0..k * d)
        .map(|i| {
            let j = i % d;
            lo[j] + (hi[j] - lo[j]) * rng.random::<f32>()
        })
        .collect()
}

/// A grid on the plane of the two leading principal components: unit at lattice position `p`
/// gets `mean + a(p) sqrt(l1) v1 + b(p) sqrt(l2) v2`, with `a, b` spanning [-1, 1] along the
/// lattice's longer and shorter side.
fn pca_grid(
    data: &Samples,
    lattice: &Lattice,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Result<Vec<f32>> {
    let d = data.d_input;
    let n = data.n_samples;
    let rows: Vec<usize> = if n > PCA_MAX_SAMPLES {
        let mut idx = sample_indices(rng, n, PCA_MAX_SAMPLES).into_vec();
        idx.sort_unstable();
        idx
    } else {
        (0..n).collect()
    };
    let sub = data.subset(&rows);
    let x = sub.to_tensor(device);
    let mean = x.clone().mean_dim(0); // 1 x D
    let xc = x - mean.clone();
    let cov: Tensor<2> = xc.clone().transpose().matmul(xc) / (rows.len().max(2) - 1) as f64;
    let cov = to_vec_f64(cov);
    let mean = to_vec_f64(mean);
    let m = faer::Mat::<f64>::from_fn(d, d, |i, j| cov[i * d + j]);
    let eig = m.self_adjoint_eigen(faer::Side::Lower).map_err(|e| {
        Error::Invalid(format!(
            "PCA initialisation failed ({e:?}). Fix: use --init samples or random"
        ))
    })?;
    let s = eig.S().column_vector();
    let u = eig.U();
    // Eigenvalues ascend: the last two are the leading components.
    let (l1, l2) = (
        s[d - 1].max(0.0),
        if d >= 2 { s[d - 2].max(0.0) } else { 0.0 },
    );
    let v1: Vec<f64> = (0..d).map(|i| u[(i, d - 1)] * l1.sqrt()).collect();
    let v2: Vec<f64> = if d >= 2 {
        (0..d).map(|i| u[(i, d - 2)] * l2.sqrt()).collect()
    } else {
        vec![0.0; d]
    };
    // Lattice positions normalised to [-1, 1] per axis; the longer axis follows the first PC.
    let k = lattice.n_units();
    let pos: Vec<[f64; 2]> = (0..k).map(|u| lattice.position(u)).collect();
    let span = |axis: usize| {
        let lo = pos.iter().map(|p| p[axis]).fold(f64::INFINITY, f64::min);
        let hi = pos
            .iter()
            .map(|p| p[axis])
            .fold(f64::NEG_INFINITY, f64::max);
        (lo, (hi - lo).max(1e-12))
    };
    let (x0, xw) = span(0);
    let (y0, yw) = span(1);
    let cols_longer = xw >= yw;
    let mut out = Vec::with_capacity(k * d);
    for p in &pos {
        let a = if xw > 1e-9 {
            2.0 * (p[0] - x0) / xw - 1.0
        } else {
            0.0
        };
        let b = if yw > 1e-9 {
            2.0 * (p[1] - y0) / yw - 1.0
        } else {
            0.0
        };
        let (c1, c2) = if cols_longer { (a, b) } else { (b, a) };
        for j in 0..d {
            out.push((mean[j] + c1 * v1[j] + c2 * v2[j]) as f32);
        }
    }
    Ok(out)
}
