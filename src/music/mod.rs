//! MUSIC: controlled trajectories of inputs across a trained map.
//!
//! **The rule here is our own reconstruction.** The paper (Londei et al., arXiv 2601.13851) states
//! only in its abstract that MUSIC "modifies squared distances to selected prototypes while
//! preserving others", with Tikhonov regularization; its equations are not public. METHOD.md §3
//! derives the version implemented here: a damped Gauss-Newton (Levenberg-Marquardt) step on the
//! activation residual, re-linearized at every point, that shrinks the squared distances to a few
//! target prototypes by a fraction `eta` while keeping those of a local preserved set:
//!
//! ```text
//! J_k = 2 (x - w_k)   (k in S = T u P),   da_k = -eta (a_k(x) - g_k) on T, 0 on P
//! dx  = J^T (J J^T + lambda I)^-1 da,     lambda = lambda_rel trace(J J^T) / |S|
//! ```
//!
//! `eta = 0` returns the input exactly; `lambda -> inf` is a straight descent toward the targets.
//! [`MusicConfig::default`] is the best variant of the comparison in docs/RESULTS.md, and the variants ([`EndPoint`],
//! [`PreservedSet`], waypoints, [`Residual`], [`StepControl`]) are options so that experiments can
//! compare them on the same pairs.
//!
//! Findings so far (tests/music.rs, a mixture-like 6x6 map in `R^20`): the default reaches unit
//! and class targets; lattice waypoints only reach with [`RowScale::Distance`], because with
//! squared-distance rows the preserved units around the point outweigh a target one cell away and
//! pin the point (the preserved distances hold exactly to first order; they grow by `||dx||^2`).
//! The first MNIST check in METHOD.md §3 found the default blurrier than linear interpolation, so
//! the default is expected to change once the experiments have compared the variants.
//!
//! Entry points: [`trajectories`] (whole paths, on a [`MusicMap`] with [`Target`]s),
//! [`MusicStepper::step`] / [`music_step`] (one batched step on plain tensors), and the baselines
//! [`linear_interpolation`] and [`global_edit_invert`]; [`resample_by_progress`] puts paths on a
//! common progress scale for comparisons.
//!
//! The step runs batched over `N` trajectories on any Burn device ([`MusicStepper::step`]): one
//! distance GEMM, two top-k selections, a gather of `J` (`[N, s, D]`), the Gram `J J^T`, a batched
//! `s x s` Cholesky solve and `dx = J^T alpha`.

mod baseline;
mod config;
mod progress;
mod step;
mod target;
mod trajectory;

pub use baseline::{global_edit_invert, linear_interpolation};
pub use config::{EndPoint, MusicConfig, PreservedSet, Residual, RowScale, StepControl};
pub use progress::{resample_by_progress, Progress};
pub use step::{candidate_mask, music_step, MusicStepper, StepOutput, StepTargets};
pub use target::{MusicMap, Target};
pub use trajectory::{project_on_sheet, trajectories, Trajectory};
