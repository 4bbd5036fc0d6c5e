//! Batched small dense linear algebra written as Burn tensor code.
//!
//! Burn 0.22 has no `solve` or `cholesky`, and a host round trip per sample would serialize a GPU
//! pipeline. The routines here loop over the *matrix size* (a few dozen steps of tensor ops), never
//! over the batch, so one call solves thousands of small systems on any device (flex, wgpu) and in
//! the tensors' own float type (f32 or f64).

use burn::prelude::Tensor;
use burn::tensor::DType;

/// Relative pivot floor of the Cholesky factorization, as a multiple of the dtype's machine epsilon
/// times the matrix size. A pivot below `floor * max_diag` is raised to it, which acts like a tiny
/// diagonal damping on semi-definite (or rounding-indefinite) Gram matrices instead of a NaN.
const PIVOT_FLOOR_ULPS: f64 = 4.0;

/// Machine epsilon of a float dtype (f32 for anything narrower than f64, which is conservative).
pub(crate) fn machine_epsilon(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => f64::EPSILON,
        DType::F16 => 9.77e-4,
        DType::BF16 => 7.81e-3,
        _ => f32::EPSILON as f64,
    }
}

/// Smallest positive value used to keep a scale strictly positive in a dtype.
fn tiny(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-300,
        _ => 1e-30,
    }
}

/// Batched lower Cholesky factor `L` with `A = L L^T`, plus the reciprocals of its diagonal.
///
/// Left-looking: column `j` is `A[j.., j] - L[j.., ..j] L[j, ..j]^T`, divided by the square root of
/// its first entry. Pivots are floored at `PIVOT_FLOOR_ULPS * s * eps * max_i A_ii` per matrix.
///
/// # Shapes
/// - `a`: `[n, s, s]` -> (`L`: `[n, s, s]`, `1 / L_jj`: `s` tensors of `[n, 1, 1]`)
fn batched_cholesky(a: Tensor<3>) -> (Tensor<3>, Vec<Tensor<3>>) {
    let [n, s, _] = a.dims();
    let dtype = a.dtype();
    let device = a.device();

    // Per-matrix scale for the relative pivot floor: the largest diagonal entry.
    let eye = Tensor::<2>::eye(s, &device)
        .cast(dtype)
        .unsqueeze_dim::<3>(0);
    let max_diag = (a.clone() * eye).sum_dim(2).max_dim(1); // [n, 1, 1]
    let floor_rel = PIVOT_FLOOR_ULPS * s as f64 * machine_epsilon(dtype);
    let pivot_floor = max_diag.clamp_min(tiny(dtype)) * floor_rel;

    let mut l = Tensor::<3>::zeros([n, s, s], (&device, dtype));
    let mut inv_diag = Vec::with_capacity(s);
    for j in 0..s {
        let rest = s - j;
        let mut col = a.clone().slice([0..n, j..s, j..j + 1]); // [n, rest, 1]
        if j > 0 {
            let l_below = l.clone().slice([0..n, j..s, 0..j]); // [n, rest, j]
            let l_row = l.clone().slice([0..n, j..j + 1, 0..j]); // [n, 1, j]
            col = col - l_below.matmul(l_row.swap_dims(1, 2));
        }
        let pivot = col
            .clone()
            .slice([0..n, 0..1, 0..1])
            .max_pair(pivot_floor.clone());
        let sqrt_pivot = pivot.sqrt(); // [n, 1, 1]
        let inv_sqrt = sqrt_pivot.clone().recip();
        // The pivot entry itself is replaced by the floored value so L stays consistent with it.
        let col = if rest > 1 {
            let below = col.slice([0..n, 1..rest, 0..1]) * inv_sqrt.clone();
            Tensor::cat(vec![sqrt_pivot, below], 1)
        } else {
            sqrt_pivot
        };
        l = l.slice_assign([0..n, j..s, j..j + 1], col);
        inv_diag.push(inv_sqrt);
    }
    (l, inv_diag)
}

/// Solves `A_i X_i = B_i` for a batch of symmetric positive-definite matrices.
///
/// A batched Cholesky factorization followed by forward and back substitution, all as tensor ops on
/// the inputs' device and in their dtype; the cost is `O(s)` kernel launches, whatever the batch
/// size `n`. Only the lower triangle of each `A_i` is read.
///
/// Semi-definite matrices do not produce NaN: a pivot below `4 s eps max_i(A_ii)` (eps of the dtype)
/// is raised to that floor, which equals a tiny diagonal damping along the degenerate directions.
/// Add your own damping when the matrices are known to be singular and a defined answer matters.
/// An all-zero matrix with a zero right-hand side gives a zero solution.
///
/// # Shapes
/// - `a`: `[n, s, s]`
/// - `b`: `[n, s, r]`
/// - returns `[n, s, r]`
///
/// # Panics
/// When the shapes disagree (a programming error, not a data error) or the dtypes differ.
pub fn batched_spd_solve(a: Tensor<3>, b: Tensor<3>) -> Tensor<3> {
    let [n, s, s2] = a.dims();
    let [nb, sb, r] = b.dims();
    assert!(
        s == s2 && n == nb && s == sb,
        "batched_spd_solve: a is {:?}, b is {:?}; expected [n, s, s] and [n, s, r]",
        a.dims(),
        b.dims()
    );
    if n == 0 || s == 0 || r == 0 {
        return b;
    }
    let (l, inv_diag) = batched_cholesky(a);

    // Forward substitution: L z = b.
    let mut z = b.zeros_like();
    for (j, inv_pivot) in inv_diag.iter().enumerate() {
        let mut rhs = b.clone().slice([0..n, j..j + 1, 0..r]); // [n, 1, r]
        if j > 0 {
            let l_row = l.clone().slice([0..n, j..j + 1, 0..j]); // [n, 1, j]
            let z_done = z.clone().slice([0..n, 0..j, 0..r]); // [n, j, r]
            rhs = rhs - l_row.matmul(z_done);
        }
        z = z.slice_assign([0..n, j..j + 1, 0..r], rhs * inv_pivot.clone());
    }

    // Back substitution: L^T x = z.
    let mut x = z.zeros_like();
    for (j, inv_pivot) in inv_diag.iter().enumerate().rev() {
        let mut rhs = z.clone().slice([0..n, j..j + 1, 0..r]);
        if j + 1 < s {
            let l_col = l.clone().slice([0..n, j + 1..s, j..j + 1]); // [n, s-j-1, 1]
            let x_done = x.clone().slice([0..n, j + 1..s, 0..r]); // [n, s-j-1, r]
            rhs = rhs - l_col.swap_dims(1, 2).matmul(x_done);
        }
        x = x.slice_assign([0..n, j..j + 1, 0..r], rhs * inv_pivot.clone());
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::prelude::{Device, TensorData};
    use burn::tensor::TensorCreationOptions;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// `n` random SPD matrices `G G^T + 0.1 I` (G is s x (s+2)) and right-hand sides, row-major.
    fn random_spd(n: usize, s: usize, r: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut a = vec![0.0; n * s * s];
        let mut b = vec![0.0; n * s * r];
        let cols = s + 2;
        for i in 0..n {
            let g: Vec<f64> = (0..s * cols).map(|_| rng.random_range(-1.0..1.0)).collect();
            for p in 0..s {
                for q in 0..s {
                    let dot: f64 = (0..cols).map(|t| g[p * cols + t] * g[q * cols + t]).sum();
                    a[i * s * s + p * s + q] = dot + if p == q { 0.1 } else { 0.0 };
                }
            }
        }
        for v in b.iter_mut() {
            *v = rng.random_range(-1.0..1.0);
        }
        (a, b)
    }

    /// Reference host solve with faer (f64 Cholesky), one matrix at a time.
    fn host_solve(a: &[f64], b: &[f64], n: usize, s: usize, r: usize) -> Vec<f64> {
        use faer::linalg::solvers::Solve;
        let mut out = vec![0.0; n * s * r];
        for i in 0..n {
            let am = faer::Mat::<f64>::from_fn(s, s, |p, q| a[i * s * s + p * s + q]);
            let bm = faer::Mat::<f64>::from_fn(s, r, |p, q| b[i * s * r + p * r + q]);
            let x = am.llt(faer::Side::Lower).expect("SPD").solve(&bm);
            for p in 0..s {
                for q in 0..r {
                    out[i * s * r + p * r + q] = x[(p, q)];
                }
            }
        }
        out
    }

    fn tensor3(values: Vec<f64>, shape: [usize; 3], device: &Device, dtype: DType) -> Tensor<3> {
        // Built directly in the target dtype: wgpu has no f64 to cast from.
        match dtype {
            DType::F64 => Tensor::from_data(
                TensorData::new(values, shape),
                TensorCreationOptions::new(device.clone()).with_dtype(DType::F64),
            ),
            _ => {
                let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
                Tensor::from_data(TensorData::new(values, shape), device)
            }
        }
    }

    fn max_abs_diff(x: &[f64], y: &[f64]) -> f64 {
        x.iter()
            .zip(y)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn matches_host_solve_f64_and_f32() {
        let device = Device::flex();
        for &s in &[1usize, 3, 16, 40] {
            let (n, r) = (5, 2);
            let (a, b) = random_spd(n, s, r, s as u64);
            let expected = host_solve(&a, &b, n, s, r);
            let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (dtype, tol) in [(DType::F64, 1e-10), (DType::F32, 2e-3)] {
                let x = batched_spd_solve(
                    tensor3(a.clone(), [n, s, s], &device, dtype),
                    tensor3(b.clone(), [n, s, r], &device, dtype),
                );
                assert_eq!(x.dtype(), dtype);
                let got = crate::tensor::to_vec_f64(x);
                let err = max_abs_diff(&got, &expected) / scale;
                assert!(err < tol, "s = {s}, {dtype:?}: relative error {err:e}");
            }
        }
    }

    #[test]
    fn batch_equals_one_by_one() {
        let device = Device::flex();
        let (n, s, r) = (6, 7, 3);
        let (a, b) = random_spd(n, s, r, 11);
        let batch = crate::tensor::to_vec_f64(batched_spd_solve(
            tensor3(a.clone(), [n, s, s], &device, DType::F64),
            tensor3(b.clone(), [n, s, r], &device, DType::F64),
        ));
        for i in 0..n {
            let one = crate::tensor::to_vec_f64(batched_spd_solve(
                tensor3(
                    a[i * s * s..(i + 1) * s * s].to_vec(),
                    [1, s, s],
                    &device,
                    DType::F64,
                ),
                tensor3(
                    b[i * s * r..(i + 1) * s * r].to_vec(),
                    [1, s, r],
                    &device,
                    DType::F64,
                ),
            ));
            let diff = max_abs_diff(&one, &batch[i * s * r..(i + 1) * s * r]);
            assert!(diff < 1e-12, "sample {i}: {diff:e}");
        }
    }

    #[test]
    fn semi_definite_gram_stays_finite() {
        // Rank-1 Gram matrices (and an all-zero one) would give 0/0 without the pivot floor.
        let device = Device::flex();
        let s = 4;
        let v = [1.0, 2.0, -1.0, 0.5];
        let mut a: Vec<f64> = (0..s * s).map(|k| v[k / s] * v[k % s]).collect();
        a.extend(std::iter::repeat_n(0.0, s * s));
        let mut b: Vec<f64> = v.to_vec();
        b.extend(std::iter::repeat_n(0.0, s));
        for dtype in [DType::F64, DType::F32] {
            let x = crate::tensor::to_vec_f64(batched_spd_solve(
                tensor3(a.clone(), [2, s, s], &device, dtype),
                tensor3(b.clone(), [2, s, 1], &device, dtype),
            ));
            assert!(x.iter().all(|v| v.is_finite()), "{dtype:?}: {x:?}");
            assert!(
                x[s..].iter().all(|&v| v == 0.0),
                "zero system must give zero"
            );
            // A v = b has the solution v / ||v||^2 along v; the floored solve must satisfy A x ~ b.
            let ax: Vec<f64> = (0..s)
                .map(|p| (0..s).map(|q| a[p * s + q] * x[q]).sum())
                .collect();
            let res = max_abs_diff(&ax, &b[..s]);
            assert!(res < 1e-3, "{dtype:?}: residual {res:e}");
        }
    }

    #[test]
    fn empty_shapes_pass_through() {
        let device = Device::flex();
        let a = Tensor::<3>::zeros([0, 3, 3], &device);
        let b = Tensor::<3>::zeros([0, 3, 2], &device);
        assert_eq!(batched_spd_solve(a, b).dims(), [0, 3, 2]);
    }

    #[cfg(feature = "wgpu")]
    #[test]
    fn flex_and_wgpu_agree() {
        let Some(wgpu) = crate::backend::wgpu_for_tests() else {
            return;
        };
        let flex = Device::flex();
        let (n, s, r) = (8, 16, 2);
        let (a, b) = random_spd(n, s, r, 5);
        let expected = host_solve(&a, &b, n, s, r);
        let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let run = |device: &Device| {
            crate::tensor::to_vec_f64(batched_spd_solve(
                tensor3(a.clone(), [n, s, s], device, DType::F32),
                tensor3(b.clone(), [n, s, r], device, DType::F32),
            ))
        };
        let on_flex = run(&flex);
        let on_wgpu = run(&wgpu);
        assert!(max_abs_diff(&on_flex, &on_wgpu) / scale < 1e-3);
        assert!(max_abs_diff(&on_wgpu, &expected) / scale < 2e-3);
    }
}
