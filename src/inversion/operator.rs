//! The inversion operator: built once per codebook on the host in f64, applied on the device.

use std::collections::HashSet;
use std::sync::OnceLock;

use burn::prelude::{Device, Tensor};
use burn::tensor::{s, DType};
use serde::Serialize;

use super::config::{InversionConfig, Precision};
use crate::error::{Error, Result};
use crate::tensor::{check_finite_tensor, from_rows_as, to_vec_f64};

/// What the codebook allows the inversion to recover, computed from the SVD of the centred codebook.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InversionDiagnostics {
    /// Number of prototypes `K`.
    pub n_units: usize,
    /// Input dimension `D`.
    pub d_input: usize,
    /// Rank of the centred codebook: the dimension of the prototypes' affine hull.
    pub rank: usize,
    /// Largest singular value of the centred codebook.
    pub s_max: f64,
    /// Smallest singular value above the rank tolerance.
    pub s_min: f64,
    /// `s_max / s_min`.
    pub condition_number: f64,
    /// `true` when every input is recovered exactly: full rank (`rank == d_input`) and no Tikhonov
    /// bias (`lambda_abs == 0`).
    pub exact: bool,
    /// Dimensions of the input recovered (the hull's dimension, `rank`).
    pub recoverable_dim: usize,
    /// Dimensions of the input that the activation cannot identify (`d_input - rank`).
    pub lost_dim: usize,
    /// The Tikhonov `lambda` in squared input units.
    pub lambda_abs: f64,
    /// Prototypes that repeat an earlier prototype exactly (they add no information, and no NaN).
    pub duplicate_prototypes: usize,
    /// Largest amplification of an activation error: `||dx|| <= noise_gain * ||da||`. Equals
    /// `1 / (2 s_min)` without Tikhonov, `max_i s_i / (2 (s_i^2 + lambda))` with it.
    pub noise_gain: f64,
}

/// Inputs recovered from activations.
#[derive(Clone, Debug)]
pub struct Inversion {
    /// Recovered inputs, `[N, D]`, in the precision asked for.
    pub inputs: Tensor<2>,
    /// Per-sample distance from the input to the prototypes' affine hull, `[N]`, from
    /// `sqrt(max(0, mean(a) - mean(n) - ||y_rec||^2))`. Zero (up to rounding) when the recovery is
    /// exact; with Tikhonov it is an upper bound, since the bias shortens `y_rec`.
    pub off_hull: Tensor<1>,
}

/// The operator's constants on its device, in one float type.
#[derive(Clone, Debug)]
struct DeviceParts {
    /// `-P_lambda^T / 2`, `[K, D]`, so that inverting is one product and one broadcast
    /// addition; `P_lambda^T` is this times -2 (power-of-two scalings are exact).
    neg_half_projector_t: Tensor<2>,
    /// `w_bar + P n / 2` split as `y_offset = P n / 2` (`[1, D]`) and `centre = w_bar` (`[1, D]`).
    y_offset: Tensor<2>,
    centre: Tensor<2>,
    /// The prototypes, `[K, D]`, for per-sample subsets.
    codebook: Tensor<2>,
}

/// The operator's constants on the host, row-major f64.
#[derive(Clone, Debug)]
struct HostParts {
    /// `P^T`, `[K, D]`.
    projector_t: Vec<f64>,
    /// `P n / 2`, `[D]`.
    y_offset: Vec<f64>,
    /// `w_bar`, `[D]`.
    centre: Vec<f64>,
    /// The prototypes, `[K, D]`.
    codebook: Vec<f64>,
}

impl HostParts {
    /// Uploads the constants to `device` in `dtype` (f64, or f32 for anything else).
    fn upload(&self, k: usize, d: usize, device: &Device, dtype: DType) -> DeviceParts {
        let upload = |values: &[f64], rows: usize, cols: usize| {
            from_rows_as(values, rows, cols, device, dtype)
        };
        DeviceParts {
            neg_half_projector_t: upload(&self.projector_t, k, d) * -0.5,
            y_offset: upload(&self.y_offset, 1, d),
            centre: upload(&self.centre, 1, d),
            codebook: upload(&self.codebook, k, d),
        }
    }
}

/// Exact inversion of SOM activations (METHOD.md section 2).
///
/// With the centred codebook `C` (rows `c_k = w_k - w_bar`) and `n_k = ||c_k||^2`, the activation
/// `a_k = ||x - w_k||^2` of an input `x` satisfies `C (x - w_bar) = (n - a) / 2` up to a constant
/// vector. The operator stores `P_lambda = V diag(s / (s^2 + lambda)) U^T` from the SVD
/// `C = U S V^T` (computed once, in f64, with faer) and inverts a batch with one matrix product:
///
/// `x = w_bar + P n / 2 - P (a - mean(a)) / 2`
///
/// `P` annihilates constant vectors (`1^T C = 0`), so the per-sample shift by `mean(a)` changes
/// nothing mathematically; in f32 it removes the large common part of the activations before the
/// product, and `P n / 2` is precomputed in f64. Singular values below `rank_rtol * s_max` are
/// dropped: the result is then the minimum-norm solution inside the prototypes' affine hull, and
/// [`InversionDiagnostics::lost_dim`] says how much of the input cannot be recovered.
#[derive(Debug)]
pub struct InversionOperator {
    config: InversionConfig,
    diagnostics: InversionDiagnostics,
    device: Device,
    /// `mean_k n_k`, for the off-hull certificate.
    mean_norm: f64,
    /// The f64 constants, the source of the device parts and of sub-operators.
    host: HostParts,
    parts_f32: DeviceParts,
    parts_f64: OnceLock<DeviceParts>,
}

const CODEBOOK_FIX: &str =
    "Fix: the map's prototypes contain NaN or infinity; retrain it with finite data and a smaller learning rate";
const ACTIVATION_FIX: &str =
    "Fix: pass squared distances computed from finite inputs (check the data scaling)";

impl InversionOperator {
    /// Builds the operator of a codebook.
    ///
    /// # Shapes
    /// - `codebook`: `[K, D]`, on any device and in any float type; the operator lives on the same
    ///   device.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a bad `config`, [`Error::EmptyData`] for an empty codebook,
    /// [`Error::NonFinite`] for NaN or infinity in it, and [`Error::Invalid`] when all prototypes
    /// are equal (nothing can be recovered).
    pub fn new(codebook: &Tensor<2>, config: &InversionConfig) -> Result<Self> {
        let [k, d] = codebook.dims();
        let values = to_vec_f64(codebook.clone());
        Self::from_host(values, k, d, &codebook.device(), config)
    }

    /// Builds the operator from a row-major `k x d` host codebook, on `device`.
    ///
    /// # Errors
    /// As [`InversionOperator::new`].
    pub fn from_host(
        codebook: Vec<f64>,
        k: usize,
        d: usize,
        device: &Device,
        config: &InversionConfig,
    ) -> Result<Self> {
        config.check()?;
        if k == 0 || d == 0 {
            return Err(Error::EmptyData {
                what: "inversion codebook",
            });
        }
        if codebook.len() != k * d {
            return Err(Error::Shape {
                op: "InversionOperator::from_host",
                expected: format!("{k} x {d} = {} values", k * d),
                got: format!("{} values", codebook.len()),
                fix: "pass the codebook row-major with one row per prototype",
            });
        }
        if let Some(i) = codebook.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: format!(
                    "inversion codebook (prototype {}, component {})",
                    i / d,
                    i % d
                ),
                fix: CODEBOOK_FIX,
            });
        }

        // Centre in f64.
        let mut centre = vec![0.0f64; d];
        for row in codebook.chunks_exact(d) {
            for (c, v) in centre.iter_mut().zip(row) {
                *c += v;
            }
        }
        for c in centre.iter_mut() {
            *c /= k as f64;
        }
        let centred = faer::Mat::<f64>::from_fn(k, d, |i, j| codebook[i * d + j] - centre[j]);
        let norms: Vec<f64> = (0..k)
            .map(|i| (0..d).map(|j| centred[(i, j)] * centred[(i, j)]).sum())
            .collect();
        let mean_norm = norms.iter().sum::<f64>() / k as f64;

        let svd = centred.thin_svd().map_err(|e| {
            Error::Invalid(format!(
                "the SVD of the {k} x {d} codebook did not converge ({e:?}). Fix: check the codebook for extreme values"
            ))
        })?;
        let singular: Vec<f64> = svd.S().column_vector().iter().copied().collect();
        let s_max = singular.first().copied().unwrap_or(0.0);
        let tolerance = config.rank_rtol * s_max;
        let rank = singular
            .iter()
            .take_while(|&&s| s > tolerance && s > 0.0)
            .count();
        if rank == 0 {
            return Err(Error::Invalid(format!(
                "degenerate codebook: all {k} prototypes are equal (rank 0), so activations carry \
                 no information about the input. Fix: train the map longer, use more units, or \
                 check that the training data is not constant"
            )));
        }
        let s_min = singular[rank - 1];
        let lambda_abs = config.lambda.absolute(s_max);
        let gains: Vec<f64> = singular[..rank]
            .iter()
            .map(|&s| s / (s * s + lambda_abs))
            .collect();

        // P^T = U_r diag(gains) V_r^T, [K, D].
        let u_scaled = faer::Mat::<f64>::from_fn(k, rank, |i, j| svd.U()[(i, j)] * gains[j]);
        let v_r = svd.V().subcols(0, rank);
        let pt = u_scaled.as_ref() * v_r.transpose();
        let mut projector_t = vec![0.0f64; k * d];
        for i in 0..k {
            for j in 0..d {
                projector_t[i * d + j] = pt[(i, j)];
            }
        }
        // Mathematically P 1 = 0 because 1^T C = 0, but the rounding of the centring leaves
        // 1^T C ~ eps, which the smallest singular values amplify into a large P 1. Only centred
        // vectors ever reach P (the right-hand side is defined up to a constant), so remove the
        // constant direction explicitly: P <- P (I - 1 1^T / K).
        for j in 0..d {
            let mean = (0..k).map(|i| projector_t[i * d + j]).sum::<f64>() / k as f64;
            for i in 0..k {
                projector_t[i * d + j] -= mean;
            }
        }
        // P n / 2 in f64, with n centred for the same reason: the part of the product that does
        // not depend on the sample.
        let mut y_offset = vec![0.0f64; d];
        for (i, &n_i) in norms.iter().enumerate() {
            let row = &projector_t[i * d..(i + 1) * d];
            for (o, p) in y_offset.iter_mut().zip(row) {
                *o += 0.5 * (n_i - mean_norm) * p;
            }
        }

        let duplicate_prototypes = {
            let mut seen = HashSet::with_capacity(k);
            codebook
                .chunks_exact(d)
                .filter(|row| !seen.insert(row.iter().map(|v| v.to_bits()).collect::<Vec<u64>>()))
                .count()
        };
        let noise_gain = 0.5 * gains.iter().copied().fold(0.0, f64::max);
        let diagnostics = InversionDiagnostics {
            n_units: k,
            d_input: d,
            rank,
            s_max,
            s_min,
            condition_number: s_max / s_min,
            exact: rank == d && lambda_abs == 0.0,
            recoverable_dim: rank,
            lost_dim: d - rank,
            lambda_abs,
            duplicate_prototypes,
            noise_gain,
        };

        let host = HostParts {
            projector_t,
            y_offset,
            centre,
            codebook,
        };
        let parts_f32 = host.upload(k, d, device, DType::F32);
        Ok(InversionOperator {
            config: *config,
            diagnostics,
            device: device.clone(),
            mean_norm,
            host,
            parts_f32,
            parts_f64: OnceLock::new(),
        })
    }

    fn parts(&self, precision: Precision) -> &DeviceParts {
        match precision {
            Precision::F32 => &self.parts_f32,
            Precision::F64 => self.parts_f64.get_or_init(|| {
                let (k, d) = (self.diagnostics.n_units, self.diagnostics.d_input);
                self.host.upload(k, d, &self.device, DType::F64)
            }),
        }
    }

    /// What this codebook allows the inversion to recover.
    pub fn diagnostics(&self) -> &InversionDiagnostics {
        &self.diagnostics
    }

    /// The configuration the operator was built with.
    pub fn config(&self) -> &InversionConfig {
        &self.config
    }

    /// The device the operator's tensors live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The operator's `P_lambda^T` on its device (uploaded to f64 on first request).
    ///
    /// # Shapes
    /// - returns `[K, D]`
    pub fn projector_t(&self, precision: Precision) -> Tensor<2> {
        self.parts(precision).neg_half_projector_t.clone() * -2.0
    }

    /// The prototypes' mean `w_bar`, `[D]`.
    pub fn centre(&self) -> &[f64] {
        &self.host.centre
    }

    /// Checks the width of an activation batch and moves it to the operator's device.
    fn checked_width(&self, activations: Tensor<2>, op: &'static str) -> Result<Tensor<2>> {
        let [_, width] = activations.dims();
        if width != self.diagnostics.n_units {
            return Err(Error::Shape {
                op,
                expected: format!("[N, {}] (one activation per unit)", self.diagnostics.n_units),
                got: format!("{:?}", activations.dims()),
                fix: "pass the squared distances to every prototype of the map this operator was built from",
            });
        }
        Ok(activations.to_device(&self.device))
    }

    /// Checks the width and values of an activation batch and moves it to the operator's device.
    fn checked_activations(&self, activations: Tensor<2>, op: &'static str) -> Result<Tensor<2>> {
        let activations = self.checked_width(activations, op)?;
        check_finite_tensor(&activations, "activations", ACTIVATION_FIX)?;
        Ok(activations)
    }

    /// Recovers inputs from their activations with one matrix product on the operator's device.
    ///
    /// `Precision::F64` casts the activations to f64 first (exact for f32 activations); it needs a
    /// backend with f64 support.
    ///
    /// # Shapes
    /// - `activations`: `[N, K]` squared distances to the `K` prototypes
    /// - returns inputs `[N, D]` and off-hull distances `[N]`
    ///
    /// # Errors
    /// [`Error::Shape`] when the width is not `K`, [`Error::NonFinite`] for NaN or infinity.
    pub fn invert(&self, activations: Tensor<2>, precision: Precision) -> Result<Inversion> {
        let activations = self.checked_width(activations, "InversionOperator::invert")?;
        let parts = self.parts(precision);
        let dtype = match precision {
            Precision::F32 => DType::F32,
            Precision::F64 => DType::F64,
        };
        let activations = activations.cast(dtype);
        let [n, k] = activations.dims();
        // Row blocks of about 2 MiB of activations, as in training: each block's mean, shift,
        // product and norms run while it is in cache. (Writing the blocks into a preallocated
        // output measured slower here than concatenating them: the zeroed allocation costs more.)
        let block = crate::som::default_chunk_size(n, k);
        let mut inputs = Vec::with_capacity(n.div_ceil(block));
        let mut off_hull = Vec::with_capacity(n.div_ceil(block));
        // An empty batch is one empty block, so that the result keeps its `[0, D]` shape.
        for start in (0..n.max(1)).step_by(block) {
            let end = (start + block).min(n);
            let a = activations.clone().slice(s![start..end, ..]);
            // A NaN or an infinity anywhere in a row makes its mean non-finite: checking the B
            // means instead of the B x K values spares a pass; the full check then names it.
            let mean = a.clone().mean_dim(1); // [B, 1]
            if !mean.clone().is_finite().all().into_scalar::<bool>() {
                check_finite_tensor(&a, "activations", ACTIVATION_FIX)?;
            }
            // The per-sample shift keeps the product free of the large common part of a: it
            // halves the f32 error (examples/inversion_precision.rs, "unshifted" column).
            let shifted = a - mean.clone();
            let y = shifted.matmul(parts.neg_half_projector_t.clone()) + parts.y_offset.clone();
            let y_norm = y.clone().square().sum_dim(1); // [B, 1]
            let off_hull_sq = mean - self.mean_norm - y_norm;
            off_hull.push(off_hull_sq.clamp_min(0.0).sqrt().reshape([end - start]));
            inputs.push(y + parts.centre.clone());
        }
        let (inputs, off_hull) = if inputs.len() == 1 {
            (inputs.remove(0), off_hull.remove(0))
        } else {
            (Tensor::cat(inputs, 0), Tensor::cat(off_hull, 0))
        };
        Ok(Inversion { inputs, off_hull })
    }

    /// The operator of a subset of this operator's units, for partial activations.
    ///
    /// The sub-operator inverts `[N, units.len()]` activations (columns in the order of `units`)
    /// with the same formula on the subset's centred codebook: exact when the input lies in the
    /// subset's affine hull, otherwise the minimum-norm point of that hull plus a non-zero off-hull
    /// distance. From full activations take the columns with
    /// `activations.select(1, invsom::tensor::indices(units, &device))`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an empty list or an index `>= K`; the errors of
    /// [`InversionOperator::new`] for the subset's codebook (e.g. a single unit is degenerate).
    pub fn subset(&self, units: &[usize]) -> Result<InversionOperator> {
        let (k, d) = (self.diagnostics.n_units, self.diagnostics.d_input);
        if units.is_empty() {
            return Err(Error::InvalidConfig {
                field: "units",
                reason: "the subset is empty. Fix: pass at least two distinct units".into(),
            });
        }
        if let Some(&bad) = units.iter().find(|&&u| u >= k) {
            return Err(Error::InvalidConfig {
                field: "units",
                reason: format!("unit {bad} does not exist: the map has {k} units (0..{k})"),
            });
        }
        let mut values = Vec::with_capacity(units.len() * d);
        for &u in units {
            values.extend_from_slice(&self.host.codebook[u * d..(u + 1) * d]);
        }
        Self::from_host(values, units.len(), d, &self.device, &self.config)
    }

    /// Inverts each sample from its `m` nearest prototypes (its `m` smallest activations) only.
    ///
    /// For each sample the `m` selected prototypes `W_S` are centred on their mean `w_S`, and the
    /// minimum-norm solution inside their affine hull is `x = w_S + C_S^T alpha` with
    /// `(C_S C_S^T + mu 1 1^T / m) alpha = (n_S - a_S)/2` centred. The `mu 1 1^T / m` term
    /// (`mu = trace / m`) removes the null direction that centring creates without biasing the
    /// solution. When `m > D` the `D x D` normal equations `C_S^T C_S y = C_S^T b` are solved
    /// instead. The small systems are solved together with
    /// [`batched_spd_solve`](crate::linalg::batched_spd_solve). All of it is tensor code on the
    /// operator's device, in the activations' float type (f32 or f64). Exact when the input lies in
    /// the hull of its `m` nearest prototypes (`m >= D + 1` prototypes in general position). The
    /// Gram matrix squares the subset's condition number: prefer f64 activations when it is large.
    ///
    /// # Shapes
    /// - `activations`: `[N, K]` -> `[N, D]`
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when `m` is 0 or larger than `K`; [`Error::Shape`] and
    /// [`Error::NonFinite`] as in [`InversionOperator::invert`].
    pub fn invert_nearest(&self, activations: Tensor<2>, m: usize) -> Result<Tensor<2>> {
        let k = self.diagnostics.n_units;
        let d = self.diagnostics.d_input;
        if m == 0 || m > k {
            return Err(Error::InvalidConfig {
                field: "m",
                reason: format!(
                    "{m} nearest prototypes requested, the map has {k}. Fix: use 1 <= m <= {k}"
                ),
            });
        }
        let activations =
            self.checked_activations(activations, "InversionOperator::invert_nearest")?;
        let precision = if activations.dtype() == DType::F64 {
            Precision::F64
        } else {
            Precision::F32
        };
        let dtype = match precision {
            Precision::F32 => DType::F32,
            Precision::F64 => DType::F64,
        };
        let activations = activations.cast(dtype);
        let parts = self.parts(precision);
        let n = activations.dims()[0];
        if n == 0 {
            return Ok(Tensor::zeros([0, d], (&self.device, dtype)));
        }

        let (sorted, order) = activations.sort_with_indices(1);
        let a_near = sorted.slice([0..n, 0..m]); // [N, m]
        let idx = order.slice([0..n, 0..m]).reshape([n * m]);
        let w_near = parts.codebook.clone().select(0, idx).reshape([n, m, d]);
        let w_mean = w_near.clone().mean_dim(1); // [N, 1, D]
        let c_near = w_near - w_mean.clone(); // [N, m, D]
        let n_near = c_near.clone().square().sum_dim(2); // [N, m, 1]

        // Right-hand side (n_S - a_S)/2, centred per sample, each term centred first for f32.
        let a_col = a_near.reshape([n, m, 1]);
        let a_centred = a_col.clone() - a_col.mean_dim(1);
        let n_centred = n_near.clone() - n_near.clone().mean_dim(1);
        let rhs = (n_centred - a_centred) * 0.5; // [N, m, 1]

        let y = if m <= d {
            // Dual form, an m x m system per sample: the usual case (a few prototypes, large D).
            let gram = c_near.clone().matmul(c_near.clone().swap_dims(1, 2)); // [N, m, m]
            let trace = n_near.sum_dim(1); // [N, 1, 1]
            let mu = trace.clamp_min(crate::linalg::machine_epsilon(dtype)) / (m * m) as f64;
            let ones = Tensor::<3>::ones([1, m, m], (&self.device, dtype));
            let alpha = crate::linalg::batched_spd_solve(gram + ones * mu, rhs); // [N, m, 1]
            alpha.swap_dims(1, 2).matmul(c_near) // [N, 1, D]
        } else {
            // Primal form, a D x D system per sample, when there are more prototypes than
            // dimensions (low-D data): the dual Gram would then be singular beyond the centring
            // direction.
            let c_t = c_near.swap_dims(1, 2); // [N, D, m]
            let gram = c_t.clone().matmul(c_t.clone().swap_dims(1, 2)); // [N, D, D]
            let y = crate::linalg::batched_spd_solve(gram, c_t.matmul(rhs)); // [N, D, 1]
            y.swap_dims(1, 2)
        };
        Ok((w_mean + y).reshape([n, d]))
    }
}
