//! The paper's experiments (METHOD.md §4), each one function that writes pictures (PNG) and a
//! results table (Markdown and JSON) into an output folder.
//!
//! - [`mixture`]: 2-D and higher-D Gaussian mixtures (map, Voronoi cells, a MUSIC path and the
//!   straight line; success and on-manifold distances scored by the mixture's exact posterior).
//! - [`mnist`]: MNIST digit transitions against linear interpolation (classifier confidence,
//!   sharpness, distance to the training data, paired Wilcoxon tests).
//! - [`faces`]: ORL identity transitions and LFW face-to-face transitions, same metrics.
//! - [`variants`]: the MUSIC rule's variants and a sweep of its settings on the same pairs.
//!
//! Every experiment scores three paths per pair at the same progress fractions (arc length,
//! [`PROGRESS`]): MUSIC, the straight line between MUSIC's own end points, and the straight
//! line between the start and a real sample of the target. The MUSIC rule is the project's own
//! reconstruction (see [`crate::music`]); the experiments say where it supports the paper's
//! claims and where it does not.

mod eval;
mod faces;
mod images;
mod mixture;
mod plot;
mod summary;
mod variants;

use std::path::{Path, PathBuf};

pub use eval::{
    class_pairs, evaluate, metric_names, Evaluation, MethodCurves, MixturePosterior, Pairs, Scorer,
    Setup, TargetMode, METHODS, PROGRESS,
};
pub use faces::{faces, FaceMaps, FacesInputs};
pub use images::{list, mnist, ImageInputs, ImageOptions};
pub use mixture::{mixture, MixtureOptions};
pub use plot::curve_panels;
pub use summary::{
    describe_metric, markdown, summarize, Comparison, Curve, Summary, TEST_FRACTIONS,
};
pub use variants::{
    standard_variants, variants, Variant, VariantOptions, VariantRow, MIN_SUCCESS, OFF_DATA_FACTOR,
};

use crate::error::Result;

/// What an experiment wrote and found.
#[derive(Clone, Debug)]
pub struct ExperimentReport {
    /// Experiment name (`mixture2d`, `mnist`, `faces`, `variants`).
    pub name: String,
    /// Files written (pictures, tables).
    pub files: Vec<PathBuf>,
    /// The results as Markdown (also written to `{name}.md`).
    pub markdown: String,
    /// The key numbers as JSON (the full record is in `{name}.json`).
    pub json: serde_json::Value,
}

/// A `side x side` map trained on `train` for `epochs` batch epochs, carrying the data's image
/// shape and its units labelled with the classes of `train`.
pub(crate) fn train_labelled_map(
    train: &crate::data::Samples,
    side: usize,
    epochs: usize,
    seed: u64,
    device: &burn::prelude::Device,
) -> Result<crate::som::Som> {
    use crate::som::{self, SomConfig, TrainConfig};
    let mut som = SomConfig::new(side, side, train.d_input)
        .with_seed(seed)
        .init(train, device)?;
    som::train(
        &mut som,
        train,
        &TrainConfig::new().with_n_epochs(epochs),
        |_| std::ops::ControlFlow::Continue(()),
    )?;
    som.meta_mut().image_shape = train.image_shape;
    som.label_units(train)?;
    Ok(som)
}

/// Writes a text file atomically.
pub(crate) fn write_text(path: &Path, text: &str) -> Result<()> {
    crate::io::write_atomic(path, text.as_bytes())
}

/// Writes a JSON value, pretty-printed, atomically.
pub(crate) fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialise");
    write_text(path, &text)
}

/// Creates the output folder.
///
/// # Errors
/// [`crate::Error::Io`] naming the folder.
pub(crate) fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| crate::Error::io("create", dir, e))
}
