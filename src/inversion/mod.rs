//! Exact inversion of SOM activations (METHOD.md section 2).
//!
//! The activation of an input `x` is its vector of squared distances `a_k = ||x - w_k||^2` to the
//! `K` prototypes. Centring the codebook turns these `K` quadratic equations into one linear system,
//! `C (x - w_bar) = (n - a) / 2` up to a constant vector, so `x` is recovered exactly whenever the
//! prototypes affinely span the input space (`rank(C) = D`, which needs `K >= D + 1`):
//!
//! `x = w_bar + P_lambda (n - a) / 2`,  `P_lambda = (C^T C + lambda I)^-1 C^T`
//!
//! [`InversionOperator`] computes `P_lambda` once per codebook (SVD in f64 with faer), reports what
//! the codebook allows ([`InversionDiagnostics`]: rank, conditioning, lost dimensions, noise gain)
//! and inverts a batch with one matrix product on the codebook's device, in f32 or f64. Each sample
//! also gets an off-hull certificate: its distance to the prototypes' affine hull, known from the
//! activation alone because `mean(a) = ||x - w_bar||^2 + mean(n)`.
//!
//! ```
//! use burn::prelude::Device;
//! use invsom::inversion::{InversionConfig, InversionOperator, Precision};
//! use invsom::tensor::{from_rows, sq_distances, to_vec_f32};
//!
//! let device = Device::flex();
//! // Three affinely independent prototypes fix a point of the plane.
//! let codebook = from_rows(vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0], 3, 2, &device);
//! let x = from_rows(vec![0.25, 0.5], 1, 2, &device);
//! let operator = InversionOperator::new(&codebook, &InversionConfig::default())?;
//! assert!(operator.diagnostics().exact);
//! let recovered = operator.invert(sq_distances(x, codebook), Precision::F64)?;
//! let values = to_vec_f32(recovered.inputs);
//! assert!((values[0] - 0.25).abs() < 1e-6 && (values[1] - 0.5).abs() < 1e-6);
//! # Ok::<(), invsom::Error>(())
//! ```

mod config;
mod metrics;
mod operator;

pub use config::{InversionConfig, Lambda, Precision};
pub use metrics::{relative_errors, ErrorSummary};
pub use operator::{Inversion, InversionDiagnostics, InversionOperator};
