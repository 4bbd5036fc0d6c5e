//! The MUSIC augmentation stage: the Dataset wrapper, determinism, zero strength, a training loop
//! on an autodiff device, and the `invsom augment` command.

use std::ops::ControlFlow;

use assert_cmd::Command;
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::{Device, Int, Tensor, TensorData};

use crate::common::max_abs_diff;
use invsom::augment::{
    augment_batch, augment_samples, blend_within_class, AugmentMap, AugmentedDataset, MusicAugment,
};
use invsom::classifier::ClassifierConfig;
use invsom::data::{fixtures, load_idx_pair, Samples};
use invsom::som::{self, Som, SomConfig, TrainConfig};
use invsom::tensor::{from_rows, to_vec_f32};
use invsom::Error;

/// An 8 x 8 map trained briefly on the 1000 embedded training digits (without their labels).
fn small_map(device: &Device) -> Som {
    let data = fixtures::mnist_train();
    let mut som = SomConfig::new(8, 8, 784)
        .with_seed(1)
        .init(&data, device)
        .unwrap();
    let config = TrainConfig::new().with_n_epochs(3);
    som::train(&mut som, &data, &config, |_| ControlFlow::Continue(())).unwrap();
    som
}

/// The first 40 embedded digits, with the map's units labelled by them only.
fn labelled_and_map(device: &Device) -> (Samples, AugmentMap) {
    let labelled = fixtures::mnist_train().take(40);
    let map = AugmentMap::from_labelled(&small_map(device), &labelled).unwrap();
    (labelled, map)
}

fn cfg(n_variants: usize, seed: u64) -> MusicAugment {
    MusicAugment {
        n_variants,
        steps: 4,
        seed,
        ..MusicAugment::default()
    }
}

#[test]
fn wrapper_yields_originals_then_labelled_variants() {
    let device = Device::flex();
    let (labelled, map) = labelled_and_map(&device);
    let data = AugmentedDataset::new(labelled.clone(), &map, &cfg(3, 7), &device).unwrap();
    assert_eq!(data.len(), 40 * 4);
    assert_eq!((data.n_original(), data.n_variants()), (40, 3));
    let labels = labelled.labels.as_ref().unwrap();
    let mut moved = 0;
    for i in 0..data.len() {
        let item = data.get(i).unwrap();
        assert_eq!(item.values.len(), 784);
        assert!(item.values.iter().all(|p| (0.0..=1.0).contains(p)));
        if i < 40 {
            assert_eq!(item.values, labelled.row(i));
            assert_eq!(item.label, labels[i]);
        } else {
            let source = (i - 40) / 3;
            assert_eq!(
                item.label, labels[source],
                "item {i} keeps its source's label"
            );
            let change = max_abs_diff(&item.values, labelled.row(source));
            // A few steps are a variation, not a new image.
            assert!(change < 0.9, "item {i} changed by {change}");
            if change > 1e-3 {
                moved += 1;
            }
        }
    }
    assert!(
        moved >= 110,
        "only {moved} of 120 variants differ from their source"
    );
    assert!(
        data.get(160).is_err(),
        "out of range is an error, not a panic"
    );

    // Each variant moved toward a prototype of its own class: it is nearer to that class's
    // prototypes than its source.
    let codebook = to_vec_f32(map.codebook());
    let nearest_own = |x: &[f32], class: u8| {
        map.units_of(class)
            .iter()
            .map(|&u| {
                let w = &codebook[u * 784..(u + 1) * 784];
                x.iter().zip(w).map(|(a, b)| (a - b).powi(2)).sum::<f32>()
            })
            .fold(f32::INFINITY, f32::min)
    };
    let closer = (40..160)
        .filter(|&i| {
            let item = data.get(i).unwrap();
            let source = labelled.row((i - 40) / 3);
            nearest_own(&item.values, item.label) < nearest_own(source, item.label)
        })
        .count();
    assert!(
        closer >= 100,
        "only {closer} of 120 variants moved toward their class"
    );

    let samples = data.to_samples(Some([28, 28])).unwrap();
    assert_eq!(samples.n_samples, 160);
    assert_eq!(samples.image_shape, Some([28, 28]));
}

#[test]
fn same_seed_same_samples_whatever_the_batch() {
    let device = Device::flex();
    let (labelled, map) = labelled_and_map(&device);
    let a = augment_samples(&map, &labelled, &cfg(2, 3), &device).unwrap();
    let b = augment_samples(&map, &labelled, &cfg(2, 3), &device).unwrap();
    assert_eq!(a.values, b.values);
    // Batches of 6 variants instead of 1024: same draws per (sample, variant).
    let small_batches = MusicAugment {
        batch_size: 6,
        ..cfg(2, 3)
    };
    let c = augment_samples(&map, &labelled, &small_batches, &device).unwrap();
    assert!(max_abs_diff(&a.values, &c.values) < 1e-4);
    // The wrapper's items are the same variants.
    let data = AugmentedDataset::new(labelled.clone(), &map, &cfg(2, 3), &device).unwrap();
    assert_eq!(data.get(40 + 5).unwrap().values, a.row(5));
    // Another seed, other variants.
    let d = augment_samples(&map, &labelled, &cfg(2, 4), &device).unwrap();
    assert!(max_abs_diff(&a.values, &d.values) > 1e-2);
}

#[test]
fn zero_strength_returns_the_originals_exactly() {
    let device = Device::flex();
    let (labelled, map) = labelled_and_map(&device);
    for zero in [
        MusicAugment {
            steps: 0,
            ..cfg(2, 1)
        },
        MusicAugment {
            eta: 0.0,
            ..cfg(2, 1)
        },
    ] {
        assert!(zero.is_identity());
        let out = augment_samples(&map, &labelled, &zero, &device).unwrap();
        for i in 0..40 {
            assert_eq!(out.row(2 * i), labelled.row(i));
            assert_eq!(out.row(2 * i + 1), labelled.row(i));
        }
        assert_eq!(out.labels.as_ref().unwrap()[..4], {
            let l = labelled.labels.as_ref().unwrap();
            [l[0], l[0], l[1], l[1]]
        });
    }
}

#[test]
fn runs_inside_an_autodiff_training_loop() {
    let plain = Device::flex();
    let (labelled, map) = labelled_and_map(&plain);
    let device = Device::flex().autodiff();
    let mut model = ClassifierConfig::new([28, 28], 10)
        .init(5, &device)
        .unwrap();
    let mut optimizer = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let labels = labelled.labels.as_ref().unwrap();
    let mut losses = Vec::new();
    for (step, start) in [0usize, 16].into_iter().enumerate() {
        let rows: Vec<usize> = (start..start + 16).collect();
        let x = from_rows(labelled.subset(&rows).values, 16, 784, &device);
        let ids: Vec<u64> = rows.iter().map(|&i| i as u64).collect();
        let step_cfg = MusicAugment {
            seed: step as u64,
            ..cfg(2, 0)
        };
        let (xa, ya) = augment_batch(&map, x, &labels[start..start + 16], &ids, &step_cfg).unwrap();
        assert_eq!(xa.dims(), [48, 784]);
        assert!(xa.is_autodiff());
        assert_eq!(ya.len(), 48);
        assert_eq!(ya[16..18], [labels[start], labels[start]]);
        let targets: Vec<i64> = ya.iter().map(|&y| i64::from(y)).collect();
        let y = Tensor::<1, Int>::from_data(TensorData::new(targets, [48]), &device);
        let loss = loss_fn.forward(model.forward(xa), y);
        let value = loss.clone().into_scalar::<f32>();
        assert!(value.is_finite(), "loss {value} at step {step}");
        losses.push(value);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(1e-3, model, grads);
    }
    assert_eq!(losses.len(), 2);
    let _ = model.valid();
}

#[test]
fn errors_name_the_problem() {
    let device = Device::flex();
    let (labelled, map) = labelled_and_map(&device);
    // Unlabelled samples.
    let unlabelled = Samples::new(labelled.values.clone(), 40, 784).unwrap();
    assert!(matches!(
        augment_samples(&map, &unlabelled, &cfg(1, 0), &device),
        Err(Error::Invalid(_))
    ));
    // A class no unit carries.
    let x = from_rows(labelled.row(0).to_vec(), 1, 784, &device);
    assert!(matches!(
        map.variants(x.clone(), &[200], &[0], &cfg(1, 0)),
        Err(Error::Target(_))
    ));
    // Wrong dimension.
    let short = from_rows(vec![0.5; 10], 1, 10, &device);
    assert!(matches!(
        map.variants(short, &[1], &[0], &cfg(1, 0)),
        Err(Error::Shape { .. })
    ));
    // Bad configuration.
    assert!(matches!(
        map.variants(x, &[1], &[0], &cfg(0, 0)),
        Err(Error::InvalidConfig {
            field: "n_variants",
            ..
        })
    ));
}

#[test]
fn blend_baseline_keeps_labels_and_stays_in_the_class_hull() {
    let labelled = fixtures::mnist_train().take(40);
    let out = blend_within_class(&labelled, 2, 0.5, 9).unwrap();
    assert_eq!(out.n_samples, 80);
    let labels = labelled.labels.as_ref().unwrap();
    for i in 0..80 {
        assert_eq!(out.labels.as_ref().unwrap()[i], labels[i / 2]);
        assert!(out.row(i).iter().all(|p| (0.0..=1.0).contains(p)));
    }
    assert_eq!(
        out.values,
        blend_within_class(&labelled, 2, 0.5, 9).unwrap().values
    );
    assert!(blend_within_class(&labelled, 2, 1.5, 9).is_err());
}

#[test]
fn cli_writes_readable_idx_files() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("map");
    let out = dir.path().join("aug");
    Command::cargo_bin("invsom")
        .unwrap()
        .args(["train", "--fixture", "mnist", "--rows", "6", "--cols", "6"])
        .args(["--epochs", "2", "--json", "--out"])
        .arg(&model)
        .assert()
        .success();
    let output = Command::cargo_bin("invsom")
        .unwrap()
        .args([
            "augment",
            "--fixture",
            "mnist",
            "--limit",
            "30",
            "--per-sample",
            "2",
        ])
        .args([
            "--steps",
            "3",
            "--relabel",
            "--include-originals",
            "--json",
            "--model",
        ])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(report["n_variants"], 60);
    assert_eq!(report["n_written"], 90);
    assert!(report["samples_per_s"].as_f64().unwrap() > 0.0);

    let written = load_idx_pair(
        &out.join("train-images-idx3-ubyte.gz"),
        Some(&out.join("train-labels-idx1-ubyte.gz")),
    )
    .unwrap();
    let source = fixtures::mnist_train().take(30);
    assert_eq!(written.n_samples, 90);
    assert_eq!(written.image_shape, Some([28, 28]));
    // The originals come back to the byte.
    assert_eq!(written.values[..30 * 784], source.values[..]);
    let (wl, sl) = (
        written.labels.as_ref().unwrap(),
        source.labels.as_ref().unwrap(),
    );
    assert_eq!(wl[..30], sl[..]);
    for i in 0..60 {
        assert_eq!(wl[30 + i], sl[i / 2]);
    }
    assert!(out.join("augment.json").is_file());

    // A map without the data's kind fails with a message that names the mismatch.
    Command::cargo_bin("invsom")
        .unwrap()
        .args(["augment", "--fixture", "lfw", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(dir.path().join("bad"))
        .assert()
        .failure()
        .stderr(predicates::str::contains("features per sample"));
}
