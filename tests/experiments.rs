//! The experiments at tiny sizes on the embedded fixtures (each runs, writes its files and gives
//! finite numbers), the pair choice, and the `invsom music` command through the real binary.

use std::collections::HashSet;
use std::path::Path;

use burn::prelude::Device;
use predicates::prelude::*;

use crate::common::{invsom, train_fixture};

use invsom::classifier::{train_classifier, Classifier, ClassifierConfig, TrainOptions};
use invsom::data::{fixtures, Samples};
use invsom::experiments::{
    self, class_pairs, FaceMaps, FacesInputs, ImageInputs, ImageOptions, MixtureOptions, Variant,
    VariantOptions,
};
use invsom::music::{EndPoint, MusicConfig};
use invsom::som::{self, Som, SomConfig, TrainConfig};

fn device() -> Device {
    Device::flex()
}

fn small_map(data: &Samples, side: usize) -> Som {
    let mut som = SomConfig::new(side, side, data.d_input)
        .init(data, &device())
        .unwrap();
    som::train(&mut som, data, &TrainConfig::new().with_n_epochs(4), |_| {
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    som.label_units(data).unwrap();
    som
}

fn small_classifier(data: &Samples, n_classes: usize) -> Classifier {
    let shape = data.image_shape.unwrap();
    let config = ClassifierConfig::new(shape, n_classes)
        .with_channels(4)
        .with_hidden(16);
    let options = TrainOptions {
        epochs: 1,
        batch_size: 32,
        ..TrainOptions::default()
    };
    train_classifier(&config, data, &options, &device(), |_, _, _| {}).unwrap()
}

fn quick_music() -> MusicConfig {
    MusicConfig {
        max_steps: 25,
        eta: 0.2,
        ..MusicConfig::default()
    }
}

fn tiny_options(n_pairs: usize) -> ImageOptions {
    ImageOptions {
        n_pairs,
        n_reference: 200,
        seed: 3,
        chunk: 4,
        n_pictures: 2,
        zoom: 1,
        music: quick_music(),
    }
}

/// Every number in a JSON value is finite (serde_json writes NaN and infinity as null, so
/// nulls among the summary's means are failures too).
fn assert_finite_means(summary: &serde_json::Value) {
    for c in summary["comparisons"].as_array().unwrap() {
        for key in [
            "music_mean",
            "baseline_mean",
            "music_median",
            "baseline_median",
        ] {
            assert!(
                c[key].as_f64().is_some_and(f64::is_finite),
                "{key} of {c} is not finite"
            );
        }
    }
    for rate in ["success_rate", "reached_rate", "steps_mean"] {
        assert!(summary[rate].as_f64().is_some_and(f64::is_finite), "{rate}");
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn class_pairs_cover_every_ordered_pair_and_are_seeded() {
    let pool = fixtures::mnist_test();
    let labels = pool.labels.clone().unwrap();
    let pairs = class_pairs(&pool, None, 90, 5).unwrap();
    let ordered: HashSet<(u8, u8)> = (0..90)
        .map(|i| (labels[pairs.starts[i]], labels[pairs.ends[i]]))
        .collect();
    assert_eq!(ordered.len(), 90, "all 90 ordered class pairs, each once");
    assert!(ordered.iter().all(|(a, b)| a != b));
    for i in 0..90 {
        assert_eq!(labels[pairs.ends[i]], pairs.classes[i]);
    }
    assert_eq!(pairs, class_pairs(&pool, None, 90, 5).unwrap());
    assert_ne!(pairs, class_pairs(&pool, None, 90, 6).unwrap());
    let restricted = class_pairs(&pool, Some(&[2, 7]), 10, 0).unwrap();
    assert!(restricted
        .starts
        .iter()
        .all(|&s| labels[s] == 2 || labels[s] == 7));
    assert!(class_pairs(&pool, Some(&[4]), 10, 0).is_err());
    assert!(class_pairs(&pool, None, 0, 0).is_err());
}

#[test]
fn mnist_and_variants_run_on_the_fixtures() {
    let train = fixtures::mnist_train().take(400);
    let pool = fixtures::mnist_test().take(200);
    let som = small_map(&train, 6);
    let classifier = small_classifier(&train, 10);
    let inputs = ImageInputs {
        som: &som,
        classifier: &classifier,
        pool: &pool,
        train: &train,
    };
    let dir = tempfile::tempdir().unwrap();
    let report = experiments::mnist(&inputs, &tiny_options(10), dir.path(), &device()).unwrap();
    for file in [
        "mnist-strips.png",
        "mnist-curves.png",
        "mnist.md",
        "mnist.json",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} missing");
    }
    let record = read_json(&dir.path().join("mnist.json"));
    assert_eq!(record["summary"]["n_pairs"], 10);
    assert_finite_means(&record["summary"]);
    // Three methods x 6 metrics x 3 fractions, against 2 baselines.
    assert_eq!(
        record["summary"]["comparisons"].as_array().unwrap().len(),
        2 * 6 * 3
    );
    assert!(report.markdown.contains("laplacian_var"));
    let steps = record["summary"]["steps_max"].as_u64().unwrap();
    assert!(steps <= 25, "the step budget holds: {steps}");

    let variants = vec![
        Variant {
            name: "quick".into(),
            config: quick_music(),
        },
        Variant {
            name: "quick, real end".into(),
            config: MusicConfig {
                end_point: EndPoint::Sample,
                ..quick_music()
            },
        },
    ];
    let options = VariantOptions {
        n_pairs: 6,
        n_reference: 200,
        seed: 1,
        chunk: 8,
        variants,
    };
    let mut seen = Vec::new();
    let report = experiments::variants(&inputs, &options, dir.path(), &device(), |row| {
        seen.push(row.name.clone())
    })
    .unwrap();
    assert_eq!(seen, ["quick", "quick, real end"]);
    let record = read_json(&dir.path().join("variants.json"));
    let rows = record["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        for key in ["p_max_mid", "laplacian_mid", "nearest_train_mid"] {
            assert!(row[key]
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v.as_f64().is_some_and(f64::is_finite)));
        }
    }
    assert!(record["best"].is_string(), "a best variant is named");
    assert!(dir.path().join("variants-strips.png").is_file());
    assert!(report.markdown.contains("quick, real end"));
}

#[test]
fn mixture_runs_and_reaches_targets_in_higher_d() {
    let options = MixtureOptions {
        n_components: 3,
        n_train: 300,
        side_2d: 5,
        d_high: 6,
        side_high: 5,
        epochs: 5,
        n_pairs: 12,
        music: MusicConfig {
            max_steps: 200,
            ..MusicConfig::default()
        },
        ..MixtureOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let report = experiments::mixture(&options, dir.path(), &device()).unwrap();
    for file in [
        "mixture2d.png",
        "mixture2d.md",
        "mixture2d.json",
        "mixture6d.md",
        "mixture6d.json",
        "mixture6d-curves.png",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} missing");
    }
    let two_d = read_json(&dir.path().join("mixture2d.json"));
    assert_finite_means(&two_d["summary"]);
    assert_eq!(two_d["summary"]["n_pairs"], 12);
    let six_d = read_json(&dir.path().join("mixture6d.json"));
    assert_finite_means(&six_d["summary"]);
    // Separated components in 6-D: the posterior names the target at the end of most paths.
    let success = six_d["summary"]["success_rate"].as_f64().unwrap();
    assert!(success >= 0.75, "6-D success rate {success}");
    assert!(report.markdown.contains("D = 6"));
}

#[test]
fn faces_run_on_the_lfw_fixture() {
    // The embedded LFW crops stand in for ORL: two "identities" (face, non-face).
    let lfw = fixtures::lfw();
    let train_idx: Vec<usize> = (0..200).filter(|i| i % 3 != 0).collect();
    let test_idx: Vec<usize> = (0..200).filter(|i| i % 3 == 0).collect();
    let orl_train = lfw.subset(&train_idx);
    let orl_test = lfw.subset(&test_idx);
    let classifier = small_classifier(&orl_train, 2);
    let inputs = FacesInputs {
        orl_train: &orl_train,
        orl_test: &orl_test,
        orl_classifier: &classifier,
        lfw: &lfw,
        lfw_classifier: &classifier,
    };
    let maps = FaceMaps {
        orl_side: 4,
        lfw_side: 4,
        epochs: 4,
    };
    let dir = tempfile::tempdir().unwrap();
    experiments::faces(&inputs, maps, &tiny_options(8), dir.path(), &device()).unwrap();
    for name in ["orl", "lfw"] {
        for suffix in ["-strips.png", "-curves.png", ".md", ".json"] {
            let file = dir.path().join(format!("{name}{suffix}"));
            assert!(file.is_file(), "{} missing", file.display());
        }
        let record = read_json(&dir.path().join(format!("{name}.json")));
        assert_finite_means(&record["summary"]);
        assert_eq!(record["summary"]["n_pairs"], 8);
    }
}

// --- the `invsom music` command -------------------------------------------------------------

fn trained_model(dir: &Path) -> std::path::PathBuf {
    let model = dir.join("m");
    train_fixture(300, 5, 5, 3, &model)
        .arg("--json")
        .assert()
        .success();
    model
}

#[test]
fn music_command_writes_the_strip_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let model = trained_model(dir.path());
    let out_dir = dir.path().join("out");
    let out = invsom()
        .args(["--json", "music", "--model"])
        .arg(&model)
        .args([
            "--fixture",
            "mnist-test",
            "--from",
            "3",
            "--to",
            "unit:24",
            "--steps",
            "40",
            "--frames",
            "--out",
        ])
        .arg(&out_dir)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let steps = v["steps"].as_u64().unwrap();
    assert!((1..=40).contains(&steps), "steps {steps}");
    assert_eq!(v["target_units"], serde_json::json!([24]));
    assert!(v["reached"].is_boolean());
    assert!(
        v["final_class"].is_u64(),
        "a labelled map names the final class"
    );
    assert!(out_dir.join("music.png").is_file());
    assert!(out_dir.join("step-0000.png").is_file());
    assert!(out_dir.join(format!("step-{steps:04}.png")).is_file());

    // A PNG start of the map's size works; cell and class targets parse.
    let digit = fixtures::mnist_test();
    let png = dir.path().join("digit.png");
    invsom::viz::image_grid(&[digit.row(0)], [28, 28], 1, 1, 0)
        .save_png(&png)
        .unwrap();
    invsom()
        .args(["music", "--model"])
        .arg(&model)
        .arg("--from")
        .arg(&png)
        .args(["--to", "cell:0,4", "--steps", "10", "--out"])
        .arg(&out_dir)
        .assert()
        .success()
        .stdout(predicate::str::contains("steps").and(predicate::str::contains("final BMU")));
}

#[test]
fn music_command_rejects_bad_targets_and_starts() {
    let dir = tempfile::tempdir().unwrap();
    let model = trained_model(dir.path());
    let run = |args: &[&str]| {
        invsom()
            .args(["music", "--model"])
            .arg(&model)
            .args(["--fixture", "mnist-test", "--out"])
            .arg(dir.path().join("out"))
            .args(args)
            .assert()
            .failure()
    };
    run(&["--from", "0", "--to", "unit:25"]).stderr(predicate::str::contains(
        "unit 25 is outside the map of 25 units",
    ));
    run(&["--from", "0", "--to", "cell:5,0"])
        .stderr(predicate::str::contains("outside the 5x5 map"));
    run(&["--from", "0", "--to", "class:200"]).stderr(predicate::str::contains(
        "no unit of the map carries class 200",
    ));
    run(&["--from", "0", "--to", "somewhere"]).stderr(predicate::str::contains("unit:K"));
    run(&["--from", "5000", "--to", "unit:0"]).stderr(predicate::str::contains("outside the data"));
    run(&["--from", "0", "--to", "unit:0", "--eta", "2"]).stderr(predicate::str::contains("eta"));
    let small = dir.path().join("small.png");
    invsom::viz::Image::new(10, 10).save_png(&small).unwrap();
    invsom()
        .args(["music", "--model"])
        .arg(&model)
        .arg("--from")
        .arg(&small)
        .args(["--to", "unit:0"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("10x10").and(predicate::str::contains("Fix")));
}
