//! Small helpers between host vectors and Burn tensors, shared by every module.

use burn::prelude::{Device, Int, Tensor, TensorData};
use burn::tensor::{DType, TensorCreationOptions};

use crate::error::{Error, Result};

/// An `n x d` f32 tensor from a row-major host vector.
pub fn from_rows(values: Vec<f32>, n: usize, d: usize, device: &Device) -> Tensor<2> {
    debug_assert_eq!(values.len(), n * d);
    Tensor::from_data(TensorData::new(values, [n, d]), device)
}

/// An `n x d` f64 tensor from a row-major host vector.
pub fn from_rows_f64(values: Vec<f64>, n: usize, d: usize, device: &Device) -> Tensor<2> {
    debug_assert_eq!(values.len(), n * d);
    Tensor::from_data(
        TensorData::new(values, [n, d]),
        TensorCreationOptions::new(device.clone()).with_dtype(DType::F64),
    )
}

/// An `n x d` tensor of host f64 values in `dtype`: f64 as is, any other type as f32 (built
/// directly in f32, since a device without f64 cannot cast from it).
pub fn from_rows_as(
    values: &[f64],
    n: usize,
    d: usize,
    device: &Device,
    dtype: DType,
) -> Tensor<2> {
    match dtype {
        DType::F64 => from_rows_f64(values.to_vec(), n, d, device),
        _ => from_rows(values.iter().map(|&v| v as f32).collect(), n, d, device),
    }
}

/// A 1-D int tensor from host indices.
pub fn indices(values: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = values.iter().map(|&i| i as i64).collect();
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

/// The tensor's values on the host as f32, row-major.
pub fn to_vec_f32<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted to f32")
}

/// The tensor's values on the host as f64, row-major.
pub fn to_vec_f64<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .expect("converted to f64")
}

/// The int tensor's values on the host.
pub fn to_vec_usize<const D: usize>(t: Tensor<D, Int>) -> Vec<usize> {
    t.into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("converted to i64")
        .into_iter()
        .map(|v| v as usize)
        .collect()
}

/// Squared norms of the rows of `t` (`n x d`): `n x 1`. Large matrices go a block of rows at a
/// time (about 4 MiB each) so that the squares never need a second copy of `t`.
pub fn row_sq_norms(t: &Tensor<2>) -> Tensor<2> {
    const BLOCK_ELEMS: usize = 1 << 20;
    let [n, d] = t.dims();
    let rows = (BLOCK_ELEMS / d.max(1)).max(1);
    if rows >= n {
        return t.clone().square().sum_dim(1);
    }
    let blocks: Vec<Tensor<2>> = (0..n)
        .step_by(rows)
        .map(|start| {
            let end = (start + rows).min(n);
            t.clone().slice([start..end, 0..d]).square().sum_dim(1)
        })
        .collect();
    Tensor::cat(blocks, 0)
}

/// Squared Euclidean distances between the rows of `x` (n x d) and `w` (k x d): n x k.
///
/// Uses `||x||^2 + ||w||^2 - 2 x w^T`, one GEMM, clamped at zero against rounding.
pub fn sq_distances(x: Tensor<2>, w: Tensor<2>) -> Tensor<2> {
    let x2 = row_sq_norms(&x); // n x 1
    let w2 = row_sq_norms(&w).transpose(); // 1 x k
    let cross = x.matmul(w.transpose());
    (x2 + w2 - cross * 2.0).clamp_min(0.0)
}

/// Fails with [`Error::NonFinite`] when a host slice holds NaN or infinity.
pub fn check_finite(values: &[f32], what: &str, fix: &'static str) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::NonFinite {
            what: format!("{what} (first at flat index {i}: {})", values[i]),
            fix,
        }),
    }
}

/// Fails with [`Error::NonFinite`] when a tensor holds NaN or infinity (one device reduction).
pub fn check_finite_tensor<const D: usize>(
    t: &Tensor<D>,
    what: &str,
    fix: &'static str,
) -> Result<()> {
    let finite = t.clone().is_finite().all().into_scalar::<bool>();
    if finite {
        Ok(())
    } else {
        Err(Error::NonFinite {
            what: what.to_string(),
            fix,
        })
    }
}

/// Whether the device computes in f64 (flex does; most wgpu adapters do not).
pub fn supports_f64(device: &Device) -> bool {
    let probe = std::panic::catch_unwind(|| {
        let t = Tensor::<1>::from_data(
            TensorData::new(vec![1.0f64 + 1e-12, 1.0], [2]),
            TensorCreationOptions::new(device.clone()).with_dtype(DType::F64),
        );
        let d = (t.clone().slice(0..1) - t.slice(1..2))
            .into_data()
            .convert::<f64>();
        d.try_into_vec::<f64>().map(|v| v[0]).unwrap_or(0.0)
    });
    matches!(probe, Ok(v) if v > 0.5e-12)
}
