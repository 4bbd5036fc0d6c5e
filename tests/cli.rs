//! The real `invsom` binary: success paths and failures with messages that name the problem.

use predicates::prelude::*;

use crate::common::{invsom, train_fixture};

fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

#[test]
fn help_lists_the_commands() {
    invsom().arg("--help").assert().success().stdout(
        predicate::str::contains("train")
            .and(predicate::str::contains("info"))
            .and(predicate::str::contains("demo")),
    );
}

#[test]
fn train_then_info_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    let out = train_fixture(300, 6, 7, 3, &model)
        .arg("--json")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_eq!(v["rows"], 6);
    assert_eq!(v["d_input"], 784);
    assert!(v["qe"].as_f64().unwrap() > 0.0);
    assert_eq!(v["history"].as_array().unwrap().len(), 3);
    let info = invsom()
        .args(["--json", "info"])
        .arg(&model)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let i = json(&info);
    assert_eq!(i["n_units"], 42);
    assert_eq!(i["image_shape"], serde_json::json!([28, 28]));
    assert_eq!(i["epochs_done"], 3);
    invsom()
        .arg("info")
        .arg(&model)
        .args(["--measure", "--fixture", "mnist-test", "--limit", "100"])
        .assert()
        .success()
        .stdout(predicate::str::contains("QE"));
    // Resume to a longer horizon.
    let out = invsom()
        .args([
            "--json",
            "train",
            "--fixture",
            "mnist",
            "--limit",
            "300",
            "--epochs",
            "5",
            "--resume",
            "--out",
        ])
        .arg(&model)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(json(&out)["epochs_done"], 5);
}

#[test]
fn demo_writes_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let out = invsom()
        .args(["--json", "demo", "--side", "8", "--epochs", "2", "--out"])
        .arg(dir.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    for p in v["pictures"].as_array().unwrap() {
        let bytes = std::fs::read(p.as_str().unwrap()).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }
}

#[test]
fn missing_data_folder_is_named() {
    invsom()
        .args([
            "train",
            "--data-dir",
            "/nonexistent/mnist",
            "--out",
            "/tmp/never",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("/nonexistent/mnist"));
}

#[test]
fn bad_option_values_fail_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    for (flag, value, needle) in [
        ("--lattice", "triangle", "lattice"),
        ("--neighbourhood", "cosine", "neighbourhood"),
        ("--rows", "0", "map size"),
        ("--epochs", "0", "epochs"),
        ("--sigma-end", "50", "sigma_end"),
        ("--init", "magic", "init"),
    ] {
        invsom()
            .args([
                "train",
                "--fixture",
                "mnist",
                "--limit",
                "50",
                flag,
                value,
                "--out",
            ])
            .arg(&model)
            .assert()
            .failure()
            .stderr(predicate::str::contains(needle).and(predicate::str::contains("Fix")));
    }
    assert!(!model.exists(), "no model is written when training fails");
}

#[test]
fn unknown_or_missing_backend_is_an_error() {
    invsom()
        .args(["--backend", "tpu", "info", "x"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("unknown backend"));
    #[cfg(not(feature = "wgpu"))]
    invsom()
        .args(["--backend", "wgpu", "demo"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("features wgpu"));
}

#[test]
fn corrupt_model_and_unwritable_output_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    std::fs::create_dir(&model).unwrap();
    std::fs::write(model.join("metadata.json"), "garbage").unwrap();
    invsom()
        .arg("info")
        .arg(&model)
        .assert()
        .failure()
        .stderr(predicate::str::contains("metadata.json"));
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    train_fixture(50, 3, 3, 1, &file.join("model"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("plain-file"));
}

#[test]
fn invert_reports_rank_conditioning_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    train_fixture(300, 6, 6, 2, &model).assert().success();
    for precision in ["f64", "f32"] {
        let out = invsom()
            .args([
                "--json",
                "invert",
                "--fixture",
                "mnist-test",
                "--limit",
                "50",
                "--precision",
                precision,
                "--model",
            ])
            .arg(&model)
            .arg("--out")
            .arg(dir.path().join("o"))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let v = json(&out);
        for key in [
            "rank",
            "d_input",
            "condition_number",
            "median_rel_error",
            "max_rel_error",
            "seconds",
        ] {
            assert!(!v[key].is_null(), "{precision}: missing {key} in {v}");
        }
        // 36 units cannot span 784 dimensions: the report says so.
        assert_eq!(v["d_input"], 784);
        assert!(v["rank"].as_u64().unwrap() <= 35);
        assert_eq!(v["exact"], false);
        assert!(v["median_rel_error"].as_f64().unwrap().is_finite());
    }
    assert!(dir.path().join("o").join("inversion.png").exists());
    // Text mode warns that the map is too small, and still succeeds.
    invsom()
        .args([
            "invert",
            "--fixture",
            "mnist-test",
            "--limit",
            "20",
            "--model",
        ])
        .arg(&model)
        .arg("--out")
        .arg(dir.path().join("o"))
        .assert()
        .success()
        .stderr(predicate::str::contains("cannot invert exactly"));
}
