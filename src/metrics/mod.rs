//! Evaluation metrics that do not depend on a map: image sharpness, distances to a reference set,
//! and paired statistics for comparing MUSIC trajectories with their baselines.
//!
//! Map-quality metrics (quantization and topographic error) live with the map in [`crate::som`].

pub mod image;
pub mod stats;

pub use image::{
    gradient_energy, gradient_energy_batch, laplacian_variance, laplacian_variance_batch,
    nearest_distances,
};
pub use stats::{mean_std, median, wilcoxon_signed_rank, WilcoxonResult};
