//! The hand-written training loop (Adam on cross-entropy, shuffled mini-batches).

use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::model::{Classifier, ClassifierConfig};
use crate::data::Samples;
use crate::error::{Error, Result};
use crate::tensor::from_rows;

/// How to train a [`Classifier`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainOptions {
    /// Passes over the training set; at least 1.
    pub epochs: usize,
    /// Samples per Adam step; at least 1 (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Adam's learning rate; finite and positive (1e-3 is the usual choice).
    pub learning_rate: f64,
    /// Seeds the weight initialisation, the shuffling and the dropout masks.
    pub seed: u64,
}

impl Default for TrainOptions {
    /// 3 epochs, batches of 64, learning rate 1e-3, seed 42.
    fn default() -> Self {
        TrainOptions {
            epochs: 3,
            batch_size: 64,
            learning_rate: 1e-3,
            seed: 42,
        }
    }
}

impl TrainOptions {
    /// Checks every field once, up front.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field and the valid range.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::InvalidConfig {
                field: "epochs",
                reason: "0 epochs; train for at least 1".into(),
            });
        }
        if self.batch_size == 0 {
            return Err(Error::InvalidConfig {
                field: "batch_size",
                reason: "batches must hold at least 1 sample".into(),
            });
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::InvalidConfig {
                field: "learning_rate",
                reason: format!(
                    "{} must be finite and positive, e.g. 1e-3",
                    self.learning_rate
                ),
            });
        }
        Ok(())
    }
}

/// Trains a classifier of architecture `config` on the labelled images `train`.
///
/// The model lives on `device.clone().autodiff()` while training: each epoch shuffles the samples
/// with a ChaCha8 RNG seeded by `options.seed`, then takes one Adam step per mini-batch on the
/// mean cross-entropy. Weights are initialised from the same seed on the host; dropout masks come
/// from the device RNG, seeded with `device.seed(options.seed)` (reproducible when nothing else
/// draws from that backend's RNG at the same time). `on_epoch(epoch, mean_loss, seconds)` is
/// called after every epoch (epochs count from 1).
///
/// Returns the trained model on the plain `device`, in evaluation mode (dropout off).
///
/// # Errors
/// The errors of [`ClassifierConfig::validate`] and [`TrainOptions::validate`];
/// [`Error::Invalid`] when `train` has no labels or a label is not below `n_classes`;
/// [`Error::Shape`] when its images do not have `config.image_shape`;
/// [`Error::NonFinite`] when the loss diverges (lower the learning rate).
pub fn train_classifier(
    config: &ClassifierConfig,
    train: &Samples,
    options: &TrainOptions,
    device: &Device,
    mut on_epoch: impl FnMut(usize, f64, f64),
) -> Result<Classifier> {
    options.validate()?;
    let labels = train.labels.as_ref().ok_or_else(|| {
        Error::Invalid(
            "training a classifier needs labelled data. Fix: load the images together with their labels file"
                .into(),
        )
    })?;
    if let Some(&bad) = labels.iter().find(|&&y| usize::from(y) >= config.n_classes) {
        return Err(Error::Invalid(format!(
            "label {bad} does not fit a classifier of {} classes. Fix: set n_classes to at least {}",
            config.n_classes,
            train.n_classes()
        )));
    }

    let autodiff = device.clone().autodiff();
    autodiff.seed(options.seed);
    let mut model = config.init(options.seed, &autodiff)?;
    model.check_input(train)?;
    let mut optimizer = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&autodiff);
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut order: Vec<usize> = (0..train.n_samples).collect();
    let d = train.d_input;

    for epoch in 1..=options.epochs {
        let started = Instant::now();
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        let mut n_batches = 0usize;
        for batch in order.chunks(options.batch_size) {
            let mut values = Vec::with_capacity(batch.len() * d);
            for &i in batch {
                values.extend_from_slice(train.row(i));
            }
            let targets: Vec<i64> = batch.iter().map(|&i| i64::from(labels[i])).collect();
            let x = from_rows(values, batch.len(), d, &autodiff);
            let y = Tensor::<1, Int>::from_data(TensorData::new(targets, [batch.len()]), &autodiff);
            let loss = loss_fn.forward(model.forward(x), y);
            let loss_value = f64::from(loss.clone().into_scalar::<f32>());
            if !loss_value.is_finite() {
                return Err(Error::NonFinite {
                    what: format!("training loss at epoch {epoch}, batch {}", n_batches + 1),
                    fix: "lower the learning rate (e.g. divide it by 10)",
                });
            }
            loss_sum += loss_value;
            n_batches += 1;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(options.learning_rate, model, grads);
        }
        on_epoch(
            epoch,
            loss_sum / n_batches as f64,
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(model.valid())
}
