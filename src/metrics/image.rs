//! Image sharpness and on-manifold distances.
//!
//! - **Variance of the Laplacian**: the 4-neighbour discrete Laplacian
//!   `L(i,j) = f(i-1,j) + f(i+1,j) + f(i,j-1) + f(i,j+1) - 4 f(i,j)` on the interior pixels
//!   (`1 <= i < rows-1`, `1 <= j < cols-1`), then its population variance (divided by the number
//!   of interior pixels). Blurry images have small values.
//! - **Gradient energy**: forward differences `gx = f(i,j+1) - f(i,j)`, `gy = f(i+1,j) - f(i,j)`,
//!   and the mean of `gx^2 + gy^2` over the `(rows-1) x (cols-1)` pixels where both exist.
//! - **Nearest distance**: the Euclidean distance from each row of a batch to the closest row of a
//!   reference set (e.g. the training data), computed in chunks of one GEMM each.
//!
//! Host functions take one image in f64 arithmetic; the `_batch` versions score many images at once
//! as tensor code on any Burn device (f32 arithmetic).
//!
//! ```
//! use invsom::metrics::image::{gradient_energy, laplacian_variance};
//! let flat = vec![0.5f32; 16];
//! assert_eq!(laplacian_variance(&flat, [4, 4]), 0.0);
//! assert_eq!(gradient_energy(&flat, [4, 4]), 0.0);
//! ```

use burn::prelude::{Int, Tensor};
use burn::tensor::s;

use crate::tensor::{sq_distances, to_vec_f32};

fn check_len(len: usize, shape: [usize; 2], op: &str) {
    assert_eq!(
        len,
        shape[0] * shape[1],
        "{op}: image has {len} values but shape {shape:?} needs {}",
        shape[0] * shape[1]
    );
}

/// Variance of the 4-neighbour Laplacian over the interior pixels of one image.
///
/// Returns 0 for images with fewer than 3 rows or columns (no interior pixel).
///
/// # Shapes
/// `img`: `rows * cols` values, row-major, with `shape = [rows, cols]`.
///
/// # Panics
/// When `img.len() != rows * cols`.
pub fn laplacian_variance(img: &[f32], shape: [usize; 2]) -> f64 {
    check_len(img.len(), shape, "laplacian_variance");
    let [rows, cols] = shape;
    if rows < 3 || cols < 3 {
        return 0.0;
    }
    let at = |i: usize, j: usize| f64::from(img[i * cols + j]);
    let mut values = Vec::with_capacity((rows - 2) * (cols - 2));
    for i in 1..rows - 1 {
        for j in 1..cols - 1 {
            values.push(at(i - 1, j) + at(i + 1, j) + at(i, j - 1) + at(i, j + 1) - 4.0 * at(i, j));
        }
    }
    population_variance(&values)
}

/// Mean squared finite-difference gradient `gx^2 + gy^2` of one image.
///
/// Returns 0 for images with a single row or column.
///
/// # Shapes
/// `img`: `rows * cols` values, row-major, with `shape = [rows, cols]`.
///
/// # Panics
/// When `img.len() != rows * cols`.
pub fn gradient_energy(img: &[f32], shape: [usize; 2]) -> f64 {
    check_len(img.len(), shape, "gradient_energy");
    let [rows, cols] = shape;
    if rows < 2 || cols < 2 {
        return 0.0;
    }
    let at = |i: usize, j: usize| f64::from(img[i * cols + j]);
    let mut sum = 0.0;
    for i in 0..rows - 1 {
        for j in 0..cols - 1 {
            let gx = at(i, j + 1) - at(i, j);
            let gy = at(i + 1, j) - at(i, j);
            sum += gx * gx + gy * gy;
        }
    }
    sum / ((rows - 1) * (cols - 1)) as f64
}

fn population_variance(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n
}

fn as_images(x: Tensor<2>, shape: [usize; 2], op: &str) -> Tensor<3> {
    let [n, d] = x.dims();
    check_len(d, shape, op);
    x.reshape([n, shape[0], shape[1]])
}

/// [`laplacian_variance`] of every row of `x`, as tensor code on the device of `x`.
///
/// # Shapes
/// `x`: `[n, rows * cols]`; returns `n` values.
///
/// # Panics
/// When the row length of `x` is not `rows * cols`.
pub fn laplacian_variance_batch(x: Tensor<2>, shape: [usize; 2]) -> Vec<f64> {
    let n = x.dims()[0];
    let [rows, cols] = shape;
    let images = as_images(x, shape, "laplacian_variance_batch");
    if rows < 3 || cols < 3 || n == 0 {
        return vec![0.0; n];
    }
    let (r, c) = (rows - 1, cols - 1);
    let centre = images.clone().slice(s![.., 1..r, 1..c]);
    let laplacian = images.clone().slice(s![.., 0..r - 1, 1..c])
        + images.clone().slice(s![.., 2..rows, 1..c])
        + images.clone().slice(s![.., 1..r, 0..c - 1])
        + images.slice(s![.., 1..r, 2..cols])
        - centre * 4.0;
    let flat: Tensor<2> = laplacian.reshape([n, (rows - 2) * (cols - 2)]);
    to_vec_f32(flat.var_bias(1))
        .into_iter()
        .map(f64::from)
        .collect()
}

/// [`gradient_energy`] of every row of `x`, as tensor code on the device of `x`.
///
/// # Shapes
/// `x`: `[n, rows * cols]`; returns `n` values.
///
/// # Panics
/// When the row length of `x` is not `rows * cols`.
pub fn gradient_energy_batch(x: Tensor<2>, shape: [usize; 2]) -> Vec<f64> {
    let n = x.dims()[0];
    let [rows, cols] = shape;
    let images = as_images(x, shape, "gradient_energy_batch");
    if rows < 2 || cols < 2 || n == 0 {
        return vec![0.0; n];
    }
    let (r, c) = (rows - 1, cols - 1);
    let corner = images.clone().slice(s![.., 0..r, 0..c]);
    let gx = images.clone().slice(s![.., 0..r, 1..cols]) - corner.clone();
    let gy = images.slice(s![.., 1..rows, 0..c]) - corner;
    let energy: Tensor<2> = (gx.square() + gy.square()).reshape([n, r * c]);
    to_vec_f32(energy.mean_dim(1))
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Euclidean distance from each row of `x` to its nearest row of `reference`.
///
/// Works through `x` in blocks of `chunk` rows, one `[chunk, m]` distance GEMM each, so memory
/// stays at `chunk * m` values and never reaches `n * m * d`; the distance to the row found is
/// then recomputed directly, so it is accurate to f32 rounding even for near-duplicates.
/// A `chunk` of 0 is treated as 1.
/// With an empty `reference` every distance is infinite.
///
/// # Shapes
/// `x`: `[n, d]`, `reference`: `[m, d]`; returns `n` distances.
///
/// # Panics
/// When `x` and `reference` have different row lengths.
pub fn nearest_distances(x: Tensor<2>, reference: Tensor<2>, chunk: usize) -> Vec<f32> {
    let [n, d] = x.dims();
    let [m, d_ref] = reference.dims();
    assert_eq!(
        d, d_ref,
        "nearest_distances: rows of x have {d} values but rows of reference have {d_ref}"
    );
    if m == 0 {
        return vec![f32::INFINITY; n];
    }
    let chunk = chunk.max(1);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let end = (start + chunk).min(n);
        let block = x.clone().slice(s![start..end, ..]);
        // The GEMM expansion finds the nearest row, but its value cancels large terms (an
        // error near sqrt(eps) * |x|); the distance is recomputed directly from that row.
        let nearest_row: Tensor<1, Int> = sq_distances(block.clone(), reference.clone())
            .argmin(1)
            .squeeze_dim(1);
        let nearest = reference.clone().select(0, nearest_row);
        let distance = (block - nearest).square().sum_dim(1).sqrt();
        out.extend(to_vec_f32(distance));
        start = end;
    }
    out
}
