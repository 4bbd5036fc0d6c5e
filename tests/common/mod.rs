//! What the tests of the `invsom` binary share.

use std::path::Path;

use assert_cmd::Command;

/// The built `invsom` binary, with a runtime folder for the wgpu adapter probe.
pub fn invsom() -> Command {
    let mut cmd = Command::cargo_bin("invsom").unwrap();
    cmd.env("XDG_RUNTIME_DIR", "/tmp");
    cmd
}

/// `invsom train` on the first `limit` embedded MNIST digits: a `rows x cols` map, `epochs`
/// epochs, written to `out`. Callers add options (`--json`, ...) and run it.
pub fn train_fixture(limit: usize, rows: usize, cols: usize, epochs: usize, out: &Path) -> Command {
    let mut cmd = invsom();
    cmd.args(["train", "--fixture", "mnist", "--limit"])
        .arg(limit.to_string())
        .arg("--rows")
        .arg(rows.to_string())
        .arg("--cols")
        .arg(cols.to_string())
        .arg("--epochs")
        .arg(epochs.to_string())
        .arg("--out")
        .arg(out);
    cmd
}

/// The largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
