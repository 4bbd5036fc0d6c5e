//! Faces: ORL identity transitions on a map of downsampled ORL faces, scored by the identity
//! classifier; LFW face-to-face transitions on a map of the LFW crops, scored by the
//! face/non-face classifier.

use std::path::Path;

use burn::prelude::Device;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::eval::{Pairs, Scorer, Setup, TargetMode};
use super::images::{
    check_classifier, image_experiment, reference, run_and_write, ImageInputs, ImageOptions,
};
use super::{ensure_dir, ExperimentReport};
use crate::classifier::Classifier;
use crate::data::Samples;
use crate::error::{Error, Result};

/// The face data and classifiers.
pub struct FacesInputs<'a> {
    /// ORL training images (the classifier's training split), downsampled as the classifier
    /// expects, labelled with the subject.
    pub orl_train: &'a Samples,
    /// ORL held-out images (the pool of pairs).
    pub orl_test: &'a Samples,
    /// The ORL identity classifier.
    pub orl_classifier: &'a Classifier,
    /// The LFW crops with labels (1 = face, 0 = non-face).
    pub lfw: &'a Samples,
    /// The LFW face/non-face classifier.
    pub lfw_classifier: &'a Classifier,
}

/// Map sides and epochs of the face maps.
#[derive(Clone, Copy, Debug)]
pub struct FaceMaps {
    /// Side of the ORL map.
    pub orl_side: usize,
    /// Side of the LFW map.
    pub lfw_side: usize,
    /// Batch-training epochs.
    pub epochs: usize,
}

impl Default for FaceMaps {
    fn default() -> Self {
        FaceMaps {
            orl_side: 12,
            lfw_side: 6,
            epochs: 30,
        }
    }
}

/// The faces experiment. ORL: a map trained on the classifier's training images, units labelled
/// by subject; pairs of held-out images of different subjects (only subjects the map carries),
/// MUSIC toward the target subject's units, scored by the identity classifier (`orl-*` files).
/// LFW: the 100 face crops split as the face classifier split them (every fourth held out); a
/// map of the training faces; pairs of held-out faces, MUSIC toward the unit of the second face,
/// scored by the face/non-face classifier (`lfw-*` files). Both against linear interpolation,
/// with the metrics of [`super::mnist`].
///
/// # Errors
/// [`Error::Shape`] when images and classifiers disagree; [`Error::Invalid`] for missing labels
/// or fewer than two held-out faces; training, MUSIC and I/O errors.
pub fn faces(
    inputs: &FacesInputs<'_>,
    maps: FaceMaps,
    options: &ImageOptions,
    out: &Path,
    device: &Device,
) -> Result<ExperimentReport> {
    ensure_dir(out)?;
    let orl_som = super::train_labelled_map(
        inputs.orl_train,
        maps.orl_side,
        maps.epochs,
        options.seed,
        device,
    )?;
    let orl = ImageInputs {
        som: &orl_som,
        classifier: inputs.orl_classifier,
        pool: inputs.orl_test,
        train: inputs.orl_train,
    };
    let (_, orl_report) = image_experiment(
        "orl",
        "ORL faces: identity transitions",
        &orl,
        options,
        TargetMode::Class,
        out,
        device,
    )?;

    // LFW: faces only, split as the face classifier was (every fourth face held out).
    check_classifier(inputs.lfw_classifier, inputs.lfw)?;
    let labels = inputs.lfw.labels.as_ref().ok_or_else(|| {
        Error::Invalid(
            "the LFW crops need their labels (1 = face). Fix: load lfw-subset-labels".into(),
        )
    })?;
    let faces: Vec<usize> = (0..inputs.lfw.n_samples)
        .filter(|&i| labels[i] == 1)
        .collect();
    let held: Vec<usize> = faces.iter().copied().skip(3).step_by(4).collect();
    let kept: Vec<usize> = faces
        .iter()
        .copied()
        .filter(|i| !held.contains(i))
        .collect();
    if held.len() < 2 || kept.is_empty() {
        return Err(Error::Invalid(format!(
            "the LFW data has {} faces; the experiment needs at least 8. Fix: load all 200 crops",
            faces.len()
        )));
    }
    let lfw_train = inputs.lfw.subset(&kept);
    let lfw_pool = inputs.lfw.subset(&held);
    let lfw_som =
        super::train_labelled_map(&lfw_train, maps.lfw_side, maps.epochs, options.seed, device)?;
    let mut ordered: Vec<(usize, usize)> = (0..held.len())
        .flat_map(|a| {
            (0..held.len())
                .filter(move |&b| b != a)
                .map(move |b| (a, b))
        })
        .collect();
    ordered.shuffle(&mut ChaCha8Rng::seed_from_u64(options.seed));
    ordered.truncate(options.n_pairs.min(ordered.len()));
    let pairs = Pairs {
        starts: ordered.iter().map(|p| p.0).collect(),
        ends: ordered.iter().map(|p| p.1).collect(),
        classes: vec![1; ordered.len()],
    };
    let setup = Setup {
        som: &lfw_som,
        pool: &lfw_pool,
        reference: reference(&lfw_train, 0, device),
        scorer: inputs.lfw_classifier as &dyn Scorer,
        image_shape: lfw_pool.image_shape,
        target_mode: TargetMode::EndUnit,
        chunk: options.chunk,
        device: device.clone(),
    };
    let extra = json!({
        "map": format!("{0}x{0} units on {1} LFW training faces", maps.lfw_side, lfw_train.n_samples),
        "pool_samples": lfw_pool.n_samples,
        "target_mode": TargetMode::EndUnit,
        "scorer": "face (1) vs non-face (0) classifier; p_target = p(face)",
    });
    let (_, lfw_report) = run_and_write(
        "lfw",
        "LFW crops: face-to-face transitions",
        &setup,
        &pairs,
        options,
        out,
        extra,
    )?;
    let mut files = orl_report.files;
    files.extend(lfw_report.files);
    Ok(ExperimentReport {
        name: "faces".into(),
        files,
        markdown: format!("{}\n{}", orl_report.markdown, lfw_report.markdown),
        json: json!({ "orl": orl_report.json, "lfw": lfw_report.json }),
    })
}
