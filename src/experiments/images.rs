//! Experiments on image data (MNIST digits, faces): one evaluation written as pictures and tables.

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::eval::{class_pairs, evaluate, metric_names, Pairs, Scorer, Setup, TargetMode, METHODS};
use super::plot::{curve_panels, method_color};
use super::summary::{markdown, summarize, Summary};
use super::{write_json, write_text, ExperimentReport};
use crate::classifier::Classifier;
use crate::data::Samples;
use crate::error::{Error, Result};
use crate::music::MusicConfig;
use crate::som::Som;
use crate::viz::{strips, Image};

/// The inputs of an image experiment: a labelled map, its independent classifier, the samples
/// pairs are drawn from, and the training samples the nearest-sample distance is measured to.
pub struct ImageInputs<'a> {
    /// The map (with unit labels for class targets).
    pub som: &'a Som,
    /// The independent classifier that scores every intermediate image.
    pub classifier: &'a Classifier,
    /// Starts and real end samples (e.g. the test split), with labels and image shape.
    pub pool: &'a Samples,
    /// Training samples: the on-manifold reference.
    pub train: &'a Samples,
}

impl<'a> ImageInputs<'a> {
    /// The evaluation setup of these inputs: the classifier scores, `n_reference` training
    /// samples are the on-manifold reference, `chunk` trajectories run per batch.
    pub(crate) fn setup(
        &self,
        target_mode: TargetMode,
        n_reference: usize,
        chunk: usize,
        device: &Device,
    ) -> Setup<'a> {
        Setup {
            som: self.som,
            pool: self.pool,
            reference: reference(self.train, n_reference, device),
            scorer: self.classifier as &dyn Scorer,
            image_shape: self.pool.image_shape,
            target_mode,
            chunk,
            device: device.clone(),
        }
    }
}

/// Options of an image experiment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageOptions {
    /// Number of source-target pairs.
    pub n_pairs: usize,
    /// Training samples used as the nearest-sample reference (the first ones; 0 = all).
    pub n_reference: usize,
    /// Seed of the pair choice.
    pub seed: u64,
    /// Trajectories per batched MUSIC run.
    pub chunk: usize,
    /// Pairs drawn in the strip picture.
    pub n_pictures: usize,
    /// Screen pixels per image pixel in the strip picture (photos compress poorly: use 1).
    pub zoom: usize,
    /// The MUSIC rule.
    pub music: MusicConfig,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            n_pairs: 540,
            n_reference: 10_000,
            seed: 0,
            chunk: 256,
            n_pictures: 8,
            zoom: 2,
            music: MusicConfig::single_target_unit(),
        }
    }
}

/// The nearest-sample reference: the first `n` training samples (all when `n` is 0 or larger).
pub(crate) fn reference(train: &Samples, n: usize, device: &Device) -> burn::prelude::Tensor<2> {
    let n = if n == 0 {
        train.n_samples
    } else {
        n.min(train.n_samples)
    };
    train.take(n).to_tensor(device)
}

/// The classes that at least one unit of the map carries.
pub(crate) fn map_classes(som: &Som) -> Result<Vec<u8>> {
    let labels = som.unit_labels().ok_or_else(|| {
        Error::Invalid(
            "class targets need a labelled map. Fix: train the map on labelled data (or call label_units)"
                .into(),
        )
    })?;
    let mut classes: Vec<u8> = labels.iter().flatten().copied().collect();
    classes.sort_unstable();
    classes.dedup();
    Ok(classes)
}

/// Checks that the classifier takes the pool's images.
pub(crate) fn check_classifier(classifier: &Classifier, pool: &Samples) -> Result<()> {
    let [rows, cols] = classifier.config().image_shape;
    if pool.image_shape != Some([rows, cols]) {
        return Err(Error::Shape {
            op: "image experiment",
            expected: format!("{rows} x {cols} images (the classifier's input)"),
            got: format!("{:?}", pool.image_shape),
            fix: "use the classifier trained on this data set (models/classifiers/NAME)",
        });
    }
    Ok(())
}

/// Runs one evaluation on `pairs` and writes `{name}-strips.png`, `{name}-curves.png`,
/// `{name}.md` and `{name}.json` into `out`.
///
/// # Errors
/// The errors of [`evaluate`], and [`Error::Io`] when a file cannot be written.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_and_write(
    name: &str,
    title: &str,
    setup: &Setup<'_>,
    pairs: &Pairs,
    options: &ImageOptions,
    out: &Path,
    extra: serde_json::Value,
) -> Result<(Summary, ExperimentReport)> {
    let eval = evaluate(setup, pairs, &options.music)?;
    let summary = summarize(&eval);
    let mut files = Vec::new();
    if let Some(shape) = setup.image_shape {
        // Per pair: MUSIC, linear between the same end points, linear between the real images.
        let mut rows: Vec<Vec<&[f32]>> = Vec::new();
        for i in 0..options.n_pictures.min(pairs.len()) {
            for method in &eval.frames {
                rows.push(method[i].iter().map(Vec::as_slice).collect());
            }
            rows.push(Vec::new());
        }
        let path = out.join(format!("{name}-strips.png"));
        strips(&rows, shape, options.zoom.max(1), 2).save_png(&path)?;
        files.push(path);
    }
    let names = metric_names(setup.image_shape.is_some());
    let panels: Vec<Vec<(Vec<f64>, [u8; 3])>> = names
        .iter()
        .map(|metric| {
            METHODS
                .iter()
                .enumerate()
                .map(|(m, method)| {
                    let curve = summary
                        .curves
                        .iter()
                        .find(|c| c.method == *method && c.metric == *metric)
                        .map(|c| c.mean.clone())
                        .unwrap_or_default();
                    (curve, method_color(m))
                })
                .collect()
        })
        .collect();
    let curves: Image = curve_panels(&summary.ts, &panels, [160, 120]);
    let path = out.join(format!("{name}-curves.png"));
    curves.save_png(&path)?;
    files.push(path);

    let md = format!(
        "## {title}\n\nSetup: `{}`\n\n{}\nCurves picture `{name}-curves.png`: panels left to right = {} (mean over pairs, x = progress t from 0 to 1, each panel its own y range); blue = MUSIC, orange = linear between the same end points, green = linear between the real images.\n",
        extra,
        markdown(&summary),
        names.join(", ")
    );
    let md_path = out.join(format!("{name}.md"));
    write_text(&md_path, &md)?;
    files.push(md_path);
    let value = json!({
        "name": name,
        "title": title,
        "music": options.music,
        "options": options,
        "setup": extra,
        "pairs": pairs,
        "summary": summary,
    });
    let json_path = out.join(format!("{name}.json"));
    write_json(&json_path, &value)?;
    files.push(json_path);
    let report = ExperimentReport {
        name: name.to_string(),
        files,
        markdown: md,
        json: json!({ "name": name, "setup": extra, "summary": summary }),
    };
    Ok((summary, report))
}

/// The MNIST experiment (METHOD.md §4): `n_pairs` seeded pairs of test digits covering every
/// ordered pair of classes the map carries, MUSIC toward the class of the second digit (its real
/// image as the end sample), against linear interpolation between the same end points and
/// between the two real images; classifier confidence, sharpness, and distances to the training
/// data and to the map along progress; paired tests at t = 0.25, 0.5, 0.75.
///
/// Writes `mnist-strips.png`, `mnist-curves.png`, `mnist.md` and `mnist.json` into `out`.
///
/// # Errors
/// [`Error::Shape`] when the map, data and classifier disagree on the image size;
/// [`Error::Invalid`] for an unlabelled map or pool; the errors of [`evaluate`]; [`Error::Io`].
pub fn mnist(
    inputs: &ImageInputs<'_>,
    options: &ImageOptions,
    out: &Path,
    device: &Device,
) -> Result<ExperimentReport> {
    image_experiment(
        "mnist",
        "MNIST digits",
        inputs,
        options,
        TargetMode::Class,
        out,
        device,
    )
    .map(|(_, r)| r)
}

/// An image experiment on any labelled image set (MNIST, ORL identities).
pub(crate) fn image_experiment(
    name: &str,
    title: &str,
    inputs: &ImageInputs<'_>,
    options: &ImageOptions,
    target_mode: TargetMode,
    out: &Path,
    device: &Device,
) -> Result<(Summary, ExperimentReport)> {
    check_classifier(inputs.classifier, inputs.pool)?;
    let allowed = match target_mode {
        TargetMode::Class => Some(map_classes(inputs.som)?),
        TargetMode::EndUnit => None,
    };
    let pairs = class_pairs(
        inputs.pool,
        allowed.as_deref(),
        options.n_pairs,
        options.seed,
    )?;
    let setup = inputs.setup(target_mode, options.n_reference, options.chunk, device);
    let extra = json!({
        "prototype_agreement": prototype_agreement(inputs.som, inputs.classifier, device),
        "map": format!("{}x{} units, D = {}", inputs.som.lattice().rows(), inputs.som.lattice().cols(), inputs.som.d_input()),
        "pool_samples": inputs.pool.n_samples,
        "reference_samples": setup.reference.dims()[0],
        "classes_used": allowed,
        "target_mode": target_mode,
    });
    run_and_write(name, title, &setup, &pairs, options, out, extra)
}

/// Fraction of the labelled units whose prototype the classifier assigns to the unit's label:
/// the ceiling of the success rate of paths that end on one target prototype.
pub(crate) fn prototype_agreement(
    som: &Som,
    classifier: &Classifier,
    device: &Device,
) -> Option<f64> {
    let labels = som.unit_labels()?;
    let codebook = som.codebook().to_device(device);
    let predicted = classifier.predict(codebook);
    let labelled: Vec<(usize, u8)> = labels
        .iter()
        .enumerate()
        .filter_map(|(u, l)| l.map(|l| (u, l)))
        .collect();
    let agree = labelled
        .iter()
        .filter(|&&(u, l)| predicted[u] == usize::from(l))
        .count();
    Some(agree as f64 / labelled.len().max(1) as f64)
}

/// Paths of the files an experiment wrote, for printing.
pub fn list(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
