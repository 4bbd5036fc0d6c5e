//! Independent image classifiers that score SOM trajectories.
//!
//! A small Burn CNN ([`ClassifierConfig`] -> [`Classifier`]), trained by a hand-written loop
//! ([`train_classifier`]) and saved as a folder (`config.json` + `model.bpk`). It never sees the
//! map, so its confidence on an intermediate image of a MUSIC trajectory is an independent judge
//! of how "real" that image looks (METHOD.md section 4).
//!
//! Trained models live in `models/classifiers/<name>/`, each with a README stating the command
//! that made it and its test accuracy.

mod images;
mod model;
mod train;

pub use images::downsample;
pub use model::{Classifier, ClassifierConfig, CONFIG_FILE, WEIGHTS_FILE};
pub use train::{train_classifier, TrainOptions};
