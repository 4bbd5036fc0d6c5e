//! The CNN classifier: shapes, a tiny seeded training run, saving and loading, and its errors.

use burn::prelude::Device;
use invsom::classifier::{
    downsample, train_classifier, Classifier, ClassifierConfig, TrainOptions, CONFIG_FILE,
    WEIGHTS_FILE,
};
use invsom::data::Samples;
use invsom::tensor::{from_rows, to_vec_f32};
use invsom::Error;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` noisy 8x8 images: class 0 holds a bright horizontal bar, class 1 a vertical one, each at a
/// random position, on uniform noise in [0, 0.3].
fn bars(n: usize, seed: u64) -> Samples {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut values = Vec::with_capacity(n * 64);
    let mut labels = Vec::with_capacity(n);
    for k in 0..n {
        let class = (k % 2) as u8;
        let at = rng.random_range(1..7);
        for i in 0..8 {
            for j in 0..8 {
                let on = if class == 0 { i == at } else { j == at };
                let noise: f32 = rng.random_range(0.0..0.3);
                values.push(if on { 0.7 + noise } else { noise });
            }
        }
        labels.push(class);
    }
    Samples::new(values, n, 64)
        .unwrap()
        .with_image_shape(8, 8)
        .unwrap()
        .with_labels(labels)
        .unwrap()
}

fn small_config() -> ClassifierConfig {
    ClassifierConfig::new([8, 8], 2)
        .with_channels(4)
        .with_hidden(16)
}

#[test]
fn forward_shapes_and_probabilities_sum_to_one() {
    let device = Device::flex();
    let model = ClassifierConfig::new([12, 10], 5)
        .with_channels(3)
        .init(7, &device)
        .unwrap();
    let x = from_rows(
        (0..4 * 120).map(|v| (v % 17) as f32 / 17.0).collect(),
        4,
        120,
        &device,
    );
    assert_eq!(model.forward(x.clone()).dims(), [4, 5]);
    let p = model.probabilities(x.clone());
    assert_eq!(p.dims(), [4, 5]);
    let p = to_vec_f32(p);
    for row in p.chunks(5) {
        assert!(row.iter().all(|&v| v > 0.0 && v < 1.0), "{row:?}");
        let sum: f32 = row.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "row sums to {sum}");
    }
    // Batched scoring equals the one-shot scoring.
    let batched = to_vec_f32(model.probabilities_batched(x.clone(), 3));
    for (a, b) in batched.iter().zip(&p) {
        assert!((a - b).abs() < 1e-6);
    }
    assert_eq!(model.predict(x).len(), 4);
}

#[test]
fn same_seed_gives_same_initial_weights() {
    let device = Device::flex();
    let x = bars(6, 1).to_tensor(&device);
    let a = to_vec_f32(small_config().init(3, &device).unwrap().forward(x.clone()));
    let b = to_vec_f32(small_config().init(3, &device).unwrap().forward(x.clone()));
    let c = to_vec_f32(small_config().init(4, &device).unwrap().forward(x));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn tiny_training_run_learns_bars() {
    let device = Device::flex();
    let train = bars(256, 11);
    let test = bars(200, 12);
    let options = TrainOptions {
        epochs: 6,
        batch_size: 16,
        learning_rate: 3e-3,
        seed: 5,
    };
    let untrained = small_config().init(options.seed, &device).unwrap();
    let before = untrained.accuracy(&test, &device).unwrap();
    let mut losses = Vec::new();
    let model = train_classifier(
        &small_config(),
        &train,
        &options,
        &device,
        |epoch, loss, secs| {
            assert!(secs >= 0.0);
            losses.push((epoch, loss));
        },
    )
    .unwrap();
    assert_eq!(
        losses.iter().map(|l| l.0).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    assert!(
        losses.last().unwrap().1 < 0.5 * losses[0].1,
        "loss did not fall: {losses:?}"
    );
    let after = model.accuracy(&test, &device).unwrap();
    assert!(after >= 0.95, "test accuracy {after} (untrained {before})");
    // The returned model is a plain (non-autodiff) evaluation model.
    let logits = model.forward(test.to_tensor(&device));
    assert!(!logits.is_autodiff());
}

#[test]
fn save_load_round_trip_gives_identical_logits() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bars");
    let model = small_config().init(9, &device).unwrap();
    model.save(&path).unwrap();
    assert!(path.join(CONFIG_FILE).is_file() && path.join(WEIGHTS_FILE).is_file());
    let loaded = Classifier::load(&path, &device).unwrap();
    assert_eq!(loaded.config().image_shape, [8, 8]);
    assert_eq!(loaded.config().channels, 4);
    let x = bars(10, 2).to_tensor(&device);
    assert_eq!(
        to_vec_f32(model.forward(x.clone())),
        to_vec_f32(loaded.forward(x.clone()))
    );
    // Saving again replaces the folder.
    let other = small_config().init(10, &device).unwrap();
    other.save(&path).unwrap();
    let reloaded = Classifier::load(&path, &device).unwrap();
    assert_eq!(
        to_vec_f32(other.forward(x.clone())),
        to_vec_f32(reloaded.forward(x))
    );
}

#[test]
fn loading_missing_or_corrupt_models_fails_clearly() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("nothing-here");
    let err = Classifier::load(&missing, &device).unwrap_err();
    assert!(matches!(err, Error::Record { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(CONFIG_FILE) && text.contains("train_classifier"),
        "{text}"
    );

    let path = dir.path().join("model");
    small_config()
        .init(1, &device)
        .unwrap()
        .save(&path)
        .unwrap();

    // Truncated weights.
    let weights = path.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let err = Classifier::load(&path, &device).unwrap_err();
    assert!(
        matches!(&err, Error::Record { path, .. } if path.ends_with(WEIGHTS_FILE)),
        "{err}"
    );

    // Garbage weights.
    std::fs::write(&weights, b"not a burnpack file at all").unwrap();
    let err = Classifier::load(&path, &device).unwrap_err();
    assert!(
        matches!(&err, Error::Record { path, .. } if path.ends_with(WEIGHTS_FILE)),
        "{err}"
    );

    // Missing weights.
    std::fs::remove_file(&weights).unwrap();
    let err = Classifier::load(&path, &device).unwrap_err();
    assert!(err.to_string().contains("no such file"), "{err}");

    // Weights of another architecture.
    small_config()
        .with_hidden(8)
        .init(1, &device)
        .unwrap()
        .save(&path)
        .unwrap();
    std::fs::write(
        path.join(CONFIG_FILE),
        serde_json::to_string(&small_config()).unwrap(),
    )
    .unwrap();
    let err = Classifier::load(&path, &device).unwrap_err();
    assert!(
        matches!(&err, Error::Record { path, .. } if path.ends_with(WEIGHTS_FILE)),
        "{err}"
    );

    // Corrupt configuration.
    std::fs::write(path.join(CONFIG_FILE), "{ not json").unwrap();
    let err = Classifier::load(&path, &device).unwrap_err();
    assert!(
        matches!(&err, Error::Record { path, .. } if path.ends_with(CONFIG_FILE)),
        "{err}"
    );
}

#[test]
fn invalid_configs_and_data_are_rejected() {
    let device = Device::flex();
    let config_err = |c: ClassifierConfig| c.init(0, &device).unwrap_err();
    assert!(matches!(
        config_err(ClassifierConfig::new([3, 8], 2)),
        Error::InvalidConfig {
            field: "image_shape",
            ..
        }
    ));
    assert!(matches!(
        config_err(ClassifierConfig::new([8, 8], 1)),
        Error::InvalidConfig {
            field: "n_classes",
            ..
        }
    ));
    assert!(matches!(
        config_err(ClassifierConfig::new([8, 8], 2).with_dropout(1.0)),
        Error::InvalidConfig {
            field: "dropout",
            ..
        }
    ));

    let train = bars(8, 3);
    let ok = TrainOptions::default();
    let run = |config: &ClassifierConfig, data: &Samples, options: &TrainOptions| {
        train_classifier(config, data, options, &device, |_, _, _| {}).unwrap_err()
    };
    let zero_epochs = TrainOptions {
        epochs: 0,
        ..ok.clone()
    };
    assert!(matches!(
        run(&small_config(), &train, &zero_epochs),
        Error::InvalidConfig {
            field: "epochs",
            ..
        }
    ));
    let bad_lr = TrainOptions {
        learning_rate: f64::NAN,
        ..ok.clone()
    };
    assert!(matches!(
        run(&small_config(), &train, &bad_lr),
        Error::InvalidConfig {
            field: "learning_rate",
            ..
        }
    ));

    let mut unlabelled = train.clone();
    unlabelled.labels = None;
    assert!(run(&small_config(), &unlabelled, &ok)
        .to_string()
        .contains("labelled"));
    assert!(matches!(
        small_config()
            .init(0, &device)
            .unwrap()
            .accuracy(&unlabelled, &device),
        Err(Error::Invalid(_))
    ));

    let too_many = train
        .clone()
        .with_labels(vec![0, 1, 2, 0, 1, 2, 0, 1])
        .unwrap();
    assert!(run(&small_config(), &too_many, &ok)
        .to_string()
        .contains("label 2"));

    let wrong_size = ClassifierConfig::new([4, 16], 2);
    assert!(matches!(run(&wrong_size, &train, &ok), Error::Shape { .. }));
}

#[test]
fn downsample_averages_blocks_by_hand() {
    let values: Vec<f32> = (0..20).map(|v| v as f32).collect(); // one 4x5 image
    let samples = Samples::new(values, 1, 20)
        .unwrap()
        .with_image_shape(4, 5)
        .unwrap()
        .with_labels(vec![3])
        .unwrap();
    let small = downsample(&samples, 2).unwrap();
    assert_eq!(small.image_shape, Some([2, 2]));
    // Blocks {0,1,5,6}, {2,3,7,8}, {10,11,15,16}, {12,13,17,18}; the fifth column is dropped.
    assert_eq!(small.values, vec![3.0, 5.0, 13.0, 15.0]);
    assert_eq!(small.labels, Some(vec![3]));
    assert_eq!(downsample(&samples, 1).unwrap().values, samples.values);
    assert!(matches!(
        downsample(&samples, 0),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        downsample(&samples, 5),
        Err(Error::InvalidConfig { .. })
    ));
    let plain = Samples::new(vec![0.0; 4], 1, 4).unwrap();
    assert!(matches!(downsample(&plain, 2), Err(Error::Shape { .. })));
}

/// The committed models load and still classify real images (guards the saved format).
#[test]
fn committed_models_classify_the_embedded_fixtures() {
    let device = Device::flex();
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/classifiers");
    let mnist = Classifier::load(&models.join("mnist"), &device).unwrap();
    let digits = invsom::data::fixtures::mnist_test();
    let accuracy = mnist.accuracy(&digits, &device).unwrap();
    assert!(
        accuracy >= 0.97,
        "MNIST classifier: {accuracy} on 1000 test digits"
    );

    let lfw = Classifier::load(&models.join("lfw"), &device).unwrap();
    let crops = invsom::data::fixtures::lfw();
    let accuracy = lfw.accuracy(&crops, &device).unwrap();
    assert!(
        accuracy >= 0.9,
        "LFW classifier: {accuracy} on its 200 crops"
    );

    let orl = Classifier::load(&models.join("orl"), &device).unwrap();
    assert_eq!(orl.config().image_shape, [28, 23]);
    assert_eq!(orl.config().n_classes, 40);
}
