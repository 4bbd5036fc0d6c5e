//! invsom performance benchmark: training, inversion and MUSIC against the SOM libraries people
//! use today, in one run, on the same data, starting codebook and schedule.
//!
//! ```text
//! cargo run --release --example bench -- [--quick] [--peers VENV/bin/python] [--setup-venv]
//!     [--out target/bench] [--only epoch,peers,...] [--skip memory,...]
//! ```
//!
//! Sections (each measured in a child process of this binary, so every engine's peak resident
//! memory is its own):
//! - `sgemm`: the 10,000 x 784 @ 784 x 900 product through Burn on each compiled backend;
//! - `epoch`: Kohonen batch epochs at 20x20 and 30x30 on 10,000 x 784 uniform data (the data and
//!   starting codebooks are written by `peers.py`'s own `make_data`/`init_codebook`, so every
//!   engine starts from the same bytes); QE and TE of every final codebook are computed by the same
//!   Python function (`peers.quality`, float64);
//! - `peers`: `../shared/bench/peers.py` (numpy batch SOM, XPySom, somoclu, MiniSom) narrowed
//!   through `BENCH_*` variables; a missing peer is skipped with a message;
//! - `blobs`: torchsom's published configuration (16,000 x 300 blobs, 25x15, PCA init, 100 epochs),
//!   against the numpy batch SOM from the same PCA start;
//! - `memory`: a 200x200 map at D = 784;
//! - `inversion` and `music`: operator build and batched inversion of 10,000 activations; batched
//!   MUSIC steps at 30x30;
//! - `parallel`: data-parallel training over shards (`invsom::som::train_data_parallel`).
//!
//! Writes `OUT/bench.json` and `OUT/bench.md` and prints the Markdown table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use burn::prelude::{Device, Tensor};
use clap::Parser;
use invsom::data::mixture::GaussianMixture;
use invsom::inversion::{
    relative_errors, ErrorSummary, InversionConfig, InversionOperator, Precision,
};
use invsom::music::{MusicConfig, MusicStepper, StepTargets};
use invsom::som::{train_data_parallel, train_tensor, Init, Som, SomConfig, TrainConfig};
use invsom::tensor::{from_rows, sq_distances, to_vec_f32, to_vec_f64};
use invsom::BackendKind;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Samples and dimension of the MNIST-shaped benchmark data (as in peers.py).
const N: usize = 10_000;
const D: usize = 784;
/// torchsom's published configuration.
const BLOBS_N: usize = 16_000;
const BLOBS_D: usize = 300;
const BLOBS_ROWS: usize = 25;
const BLOBS_COLS: usize = 15;
const BLOBS_EPOCHS: usize = 100;
/// glibc settings of peers.py's "tuned" mode: keep freed memory instead of unmapping it.
const TUNED_MALLOC: &str =
    "glibc.malloc.trim_threshold=4000000000:glibc.malloc.mmap_threshold=4000000000";
const ALL_SECTIONS: &[&str] = &[
    "sgemm",
    "epoch",
    "peers",
    "blobs",
    "memory",
    "inversion",
    "music",
    "parallel",
];

#[derive(Parser, Debug, Clone)]
#[command(about = "invsom performance benchmark against SOM peers (issue 6)")]
struct Args {
    /// Smoke run: fewer epochs and repetitions, one map size, fewer peers.
    #[arg(long)]
    quick: bool,
    /// Python of a virtual environment with the peers (numpy, scipy, minisom, xpysom,
    /// threadpoolctl, psutil). Default: $INVSOM_BENCH_PYTHON, target/bench-venv/bin/python,
    /// /tmp/invsom-bench-venv/bin/python, whichever exists.
    #[arg(long)]
    peers: Option<PathBuf>,
    /// Create target/bench-venv with pip when no peer environment is found.
    #[arg(long)]
    setup_venv: bool,
    /// Also pip-install torch and torchsom into a venv created by --setup-venv (large download).
    #[arg(long)]
    with_torch: bool,
    /// Folder holding peers.py. Default: ../shared/bench beside the repository.
    #[arg(long)]
    peers_dir: Option<PathBuf>,
    /// Where bench.json, bench.md and the data files go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Epochs of every timed training run (invsom and the batch peers).
    #[arg(long)]
    epochs: Option<usize>,
    /// Repetitions of each timed invsom run (the best is kept).
    #[arg(long)]
    reps: Option<usize>,
    /// Run only these sections (comma-separated: sgemm,epoch,peers,blobs,memory,inversion,music,parallel).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Skip these sections.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// Override the peers' plan (peers.py BENCH_PLAN, e.g. '[["numpy_batch",10,3]]').
    #[arg(long)]
    peers_plan: Option<String>,
    /// Backends for sgemm and epoch (flex, wgpu); default: every compiled one.
    #[arg(long, value_delimiter = ',')]
    backends: Vec<String>,
    /// Internal: run one measurement in this process and print it as a `RESULT {json}` line.
    #[arg(long, hide = true)]
    worker: Option<String>,
    #[arg(long, hide = true, default_value_t = 20)]
    rows: usize,
    #[arg(long, hide = true, default_value = "flex")]
    backend: String,
}

impl Args {
    fn epochs(&self) -> usize {
        self.epochs.unwrap_or(if self.quick { 5 } else { 10 })
    }
    fn reps(&self) -> usize {
        self.reps.unwrap_or(if self.quick { 1 } else { 3 })
    }
    fn wants(&self, section: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|s| s == section))
            && !self.skip.iter().any(|s| s == section)
    }
    fn map_sizes(&self) -> Vec<usize> {
        if self.quick {
            vec![20]
        } else {
            vec![20, 30]
        }
    }
    fn data_dir(&self) -> PathBuf {
        self.out.join("data")
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    for name in args.only.iter().chain(&args.skip) {
        if !ALL_SECTIONS.contains(&name.as_str()) {
            bail!(
                "unknown section '{name}'. Fix: use one of {}",
                ALL_SECTIONS.join(",")
            );
        }
    }
    if let Some(kind) = args.worker.clone() {
        let result = run_worker(&kind, &args)?;
        println!("RESULT {}", serde_json::to_string(&result)?);
        return Ok(());
    }
    run(args)
}

// ------------------------------------------------------------------------------------------
// Process helpers

/// Peak resident set size of this process (VmHWM) and the current one (VmRSS), in MiB.
fn memory_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets the kernel's peak-RSS counter of this process (`VmHWM`), so that the next reading is
/// the peak of what runs after this call. Linux only; false where the kernel refused.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn read_f32(path: &Path, expected: usize) -> anyhow::Result<Vec<f32>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() != expected * 4 {
        bail!(
            "{} holds {} bytes, expected {} f32 values",
            path.display(),
            bytes.len(),
            expected
        );
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn write_f32(path: &Path, values: &[f32]) -> anyhow::Result<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    invsom::io::write_atomic(path, &bytes)?;
    Ok(())
}

fn device_of(name: &str) -> anyhow::Result<Device> {
    let kind: BackendKind = name.parse()?;
    Ok(kind.device()?)
}

/// The best wall time of `reps` runs of `f` (at least one), and what the last run returned.
fn best_of<T>(reps: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<(f64, T)> {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..reps.max(1) {
        let t0 = Instant::now();
        let out = f()?;
        best = best.min(t0.elapsed().as_secs_f64());
        // The previous run's result is dropped here, outside the timed region.
        last = Some(out);
    }
    Ok((best, last.expect("at least one run")))
}

/// Waits for every queued operation producing `t` (a one-value read-back).
fn sync(t: &Tensor<2>) {
    let _ = t.clone().slice([0..1, 0..1]).into_scalar::<f32>();
}

fn sigma_at(rows: usize, cols: usize, epochs: usize, e: usize) -> f64 {
    let s0 = rows.max(cols) as f64 / 2.0;
    if epochs == 1 {
        s0
    } else {
        s0 - e as f64 * (s0 - 1.0) / (epochs - 1) as f64
    }
}

/// Runs this binary as a worker and parses its `RESULT` line.
fn spawn_worker(args: &Args, kind: &str, extra: &[&str], tuned: bool) -> anyhow::Result<Value> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--worker")
        .arg(kind)
        .arg("--out")
        .arg(&args.out)
        .arg("--epochs")
        .arg(args.epochs().to_string())
        .arg("--reps")
        .arg(args.reps().to_string());
    if args.quick {
        cmd.arg("--quick");
    }
    cmd.args(extra);
    if tuned {
        cmd.env("GLIBC_TUNABLES", TUNED_MALLOC);
    }
    let out = cmd.output().context("starting a worker process")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) {
        Some(line) => Ok(serde_json::from_str(line)?),
        None => bail!(
            "worker {kind} {extra:?} failed ({}): {}",
            out.status,
            stderr_tail(&out, 8)
        ),
    }
}

// ------------------------------------------------------------------------------------------
// Python side

/// Finds (or, with --setup-venv, creates) a Python that imports numpy.
fn find_python(args: &Args) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = &args.peers {
        candidates.push(p.clone());
    }
    if let Ok(p) = std::env::var("INVSOM_BENCH_PYTHON") {
        candidates.push(p.into());
    }
    candidates.push("target/bench-venv/bin/python".into());
    candidates.push("/tmp/invsom-bench-venv/bin/python".into());
    for c in &candidates {
        if python_has(c, "numpy") {
            return Some(c.clone());
        }
    }
    if args.setup_venv {
        match setup_venv(Path::new("target/bench-venv"), args.with_torch) {
            Ok(p) => return Some(p),
            Err(e) => println!("peers: could not set up a virtual environment: {e:#}"),
        }
    }
    println!(
        "peers: no Python with numpy found (tried {candidates:?}). Pass --peers VENV/bin/python or --setup-venv; continuing with Rust-generated data and no peers"
    );
    None
}

fn python_has(python: &Path, module: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {module}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn setup_venv(dir: &Path, with_torch: bool) -> anyhow::Result<PathBuf> {
    println!("peers: creating {} (pip; a minute or two)", dir.display());
    let ok = |c: &mut Command| c.status().map(|s| s.success()).unwrap_or(false);
    if !ok(Command::new("python3").arg("-m").arg("venv").arg(dir)) {
        bail!("python3 -m venv failed");
    }
    let pip = dir.join("bin/pip");
    let core = [
        "numpy",
        "scipy",
        "minisom",
        "xpysom",
        "threadpoolctl",
        "psutil",
        "setuptools",
        "wheel",
    ];
    if !ok(Command::new(&pip).arg("install").arg("-q").args(core)) {
        bail!("pip install {core:?} failed");
    }
    if !ok(Command::new(&pip).args(["install", "-q", "--no-build-isolation", "somoclu"])) {
        println!("peers: somoclu did not install; it will be skipped");
    }
    if with_torch && !ok(Command::new(&pip).args(["install", "-q", "torch", "torchsom"])) {
        println!("peers: torch/torchsom did not install; they will be skipped");
    }
    Ok(dir.join("bin/python"))
}

/// The last `lines` lines of a finished process's stderr, newest first, on one line.
fn stderr_tail(out: &std::process::Output, lines: usize) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .rev()
        .take(lines)
        .collect::<Vec<_>>()
        .join(" | ")
}

fn run_python(python: &Path, code: &str, args: &[String]) -> anyhow::Result<String> {
    let out = Command::new(python)
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .context("starting python")?;
    if !out.status.success() {
        bail!("python failed: {}", stderr_tail(&out, 6));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

const PY_PREPARE: &str = r#"
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); import peers
out = sys.argv[2]
X = peers.make_data(); X.astype('<f4').tofile(out + '/x.f32')
for r in map(int, sys.argv[3:]):
    peers.init_codebook(X, r * r).astype('<f4').tofile(out + '/w0_%d.f32' % r)
print('ok')
"#;

const PY_QUALITY: &str = r#"
import sys, json, numpy as np
sys.path.insert(0, sys.argv[1]); import peers
X = np.fromfile(sys.argv[2], dtype='<f4').reshape(-1, int(sys.argv[4]))
W = np.fromfile(sys.argv[3], dtype='<f4').reshape(-1, int(sys.argv[4]))
qe, te = peers.quality(X, W, int(sys.argv[5]), int(sys.argv[6]))
print(json.dumps(dict(qe=qe, te=te)))
"#;

const PY_BLOBS: &str = r#"
import sys, json, time, numpy as np
sys.path.insert(0, sys.argv[1]); import peers
X = np.fromfile(sys.argv[2], dtype='<f4').reshape(-1, int(sys.argv[4]))
W0 = np.fromfile(sys.argv[3], dtype='<f4').reshape(-1, int(sys.argv[4]))
rows, cols, epochs = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
t0 = time.perf_counter()
W, _ = peers.numpy_batch_som(X, W0, rows, cols, epochs, max(rows, cols) / 2.0, 1.0)
t = time.perf_counter() - t0
qe, te = peers.quality(X, W, rows, cols)
print(json.dumps(dict(train_s=t, qe=qe, te=te)))
"#;

fn py_quality(
    python: &Path,
    peers_dir: &Path,
    x: &Path,
    w: &Path,
    d: usize,
    rows: usize,
    cols: usize,
) -> anyhow::Result<Value> {
    let args: Vec<String> = vec![
        peers_dir.display().to_string(),
        x.display().to_string(),
        w.display().to_string(),
        d.to_string(),
        rows.to_string(),
        cols.to_string(),
    ];
    Ok(serde_json::from_str(
        run_python(python, PY_QUALITY, &args)?.trim(),
    )?)
}

/// Rust fallback when no Python is available: uniform data and K distinct samples (not the
/// bytes peers.py would use, so peers are not run in that case).
fn prepare_data_rust(dir: &Path, sizes: &[usize]) -> anyhow::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let x: Vec<f32> = (0..N * D).map(|_| rng.random::<f32>()).collect();
    write_f32(&dir.join("x.f32"), &x)?;
    for &r in sizes {
        let k = r * r;
        let mut idx: Vec<usize> = (0..N).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for i in 0..k {
            let j = rng.random_range(i..N);
            idx.swap(i, j);
        }
        let w: Vec<f32> = idx[..k]
            .iter()
            .flat_map(|&i| x[i * D..(i + 1) * D].to_vec())
            .collect();
        write_f32(&dir.join(format!("w0_{r}.f32")), &w)?;
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Workers (each runs in its own process)

fn run_worker(kind: &str, args: &Args) -> anyhow::Result<Value> {
    match kind {
        "sgemm" => worker_sgemm(args),
        "epoch" => worker_epoch(args),
        "blobs" => worker_blobs(args),
        "memory" => worker_memory(args),
        "inversion" => worker_inversion_music(args),
        "parallel" => worker_parallel(args),
        other => bail!("unknown worker {other}"),
    }
}

fn load_x(args: &Args, device: &Device) -> anyhow::Result<Tensor<2>> {
    let x = read_f32(&args.data_dir().join("x.f32"), N * D)?;
    Ok(from_rows(x, N, D, device))
}

fn load_w0(args: &Args, rows: usize, device: &Device) -> anyhow::Result<Tensor<2>> {
    let k = rows * rows;
    let w = read_f32(&args.data_dir().join(format!("w0_{rows}.f32")), k * D)?;
    Ok(from_rows(w, k, D, device))
}

/// Best time of `a @ b` for the epoch's GEMM shape, with `b` contiguous (`784 x 900`) and as the
/// transpose of a `900 x 784` codebook (the layout the epoch uses).
fn worker_sgemm(args: &Args) -> anyhow::Result<Value> {
    let device = device_of(&args.backend)?;
    let (m, k, n) = (N, D, 900);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut random = |len: usize| (0..len).map(|_| rng.random::<f32>()).collect::<Vec<_>>();
    let a = from_rows(random(m * k), m, k, &device);
    let b = from_rows(random(k * n), k, n, &device);
    let w = from_rows(random(n * k), n, k, &device);
    let reps = if args.backend == "wgpu" { 3 } else { 7 };
    let product = |rhs: &Tensor<2>| {
        sync(&a.clone().matmul(rhs.clone()));
        Ok(())
    };
    let (first_b, _) = best_of(1, || product(&b))?;
    let (best_b, _) = best_of(reps, || product(&b))?;
    let (best_wt, _) = best_of(reps, || product(&w.clone().transpose()))?;
    // The same product in row blocks of the epoch's chunk size, each block dropped after use:
    // the kernel's throughput without mapping a fresh 36 MB output (page faults) every call.
    let block = invsom::som::default_chunk_size(m, n);
    let (best_blocked, _) = best_of(reps, || {
        for start in (0..m).step_by(block) {
            let end = (start + block).min(m);
            sync(
                &a.clone()
                    .slice([start..end, 0..k])
                    .matmul(w.clone().transpose()),
            );
        }
        Ok(())
    })?;
    let flops = 2.0 * (m * k * n) as f64;
    Ok(json!({
        "backend": args.backend, "shape": format!("{m}x{k} @ {k}x{n}"),
        "first_call_s": first_b,
        "best_s_contiguous": best_b, "gflops_contiguous": flops / best_b / 1e9,
        "best_s_transposed_rhs": best_wt, "gflops_transposed_rhs": flops / best_wt / 1e9,
        "block_rows": block, "best_s_blocked": best_blocked,
        "gflops_blocked": flops / best_blocked / 1e9,
        "peak_gflops": flops / best_b.min(best_wt).min(best_blocked) / 1e9,
    }))
}

/// Kohonen batch epochs from the shared start, best of `reps` runs of `epochs` epochs.
fn worker_epoch(args: &Args) -> anyhow::Result<Value> {
    let device = device_of(&args.backend)?;
    let rows = args.rows;
    let (epochs, reps) = if args.backend == "wgpu" {
        (args.epochs().min(3), 2)
    } else {
        (args.epochs(), args.reps())
    };
    let x = load_x(args, &device)?;
    let w0 = load_w0(args, rows, &device)?;
    sync(&x);
    let (_, rss_before) = memory_mb();
    let mut runs = Vec::new();
    let mut last = None;
    for _ in 0..reps {
        let config = SomConfig::new(rows, rows, D).with_init(Init::Samples);
        let mut som = Som::from_codebook(config, w0.clone())?;
        let mut per_epoch = Vec::new();
        let t0 = Instant::now();
        for e in 0..epochs {
            let te = Instant::now();
            som.batch_step(&x, sigma_at(rows, rows, epochs, e))?; // reads the QE back: synchronised
            per_epoch.push(te.elapsed().as_secs_f64());
        }
        runs.push((t0.elapsed().as_secs_f64(), per_epoch));
        last = Some(som);
    }
    let som = last.expect("at least one repetition");
    let (hwm, _) = memory_mb();
    let best = runs.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
    let qe_own = som.quantization_error(&x);
    let te_own = som.topographic_error(&x);
    let breakdown = if args.backend == "flex" {
        epoch_breakdown(&x, &som, sigma_at(rows, rows, epochs, epochs - 1))?
    } else {
        Value::Null
    };
    let w_path = args
        .out
        .join("data")
        .join(format!("invsom_{}_{rows}.f32", args.backend));
    write_f32(&w_path, &to_vec_f32(som.codebook()))?;
    // The same training with the per-unit sums added in another order (two data-parallel shards
    // of 5,000 samples on the same device): the BMUs, the GEMM and the schedule are unchanged,
    // only the rounding of the sums differs, so the gap between the two codebooks' QE and TE is
    // what rounding alone does to them after these epochs.
    let two_shards_path = if args.backend == "flex" {
        let mut two =
            Som::from_codebook(SomConfig::new(rows, rows, D).with_init(Init::Samples), w0)?;
        let config = TrainConfig::new().with_n_epochs(epochs);
        let half = N / 2;
        let shards = [
            (device.clone(), x.clone().slice([0..half, 0..D])),
            (device.clone(), x.clone().slice([half..N, 0..D])),
        ];
        train_data_parallel(&mut two, &shards, &config)?;
        let path = args
            .out
            .join("data")
            .join(format!("invsom_flex_{rows}_two_shards.f32"));
        write_f32(&path, &to_vec_f32(two.codebook()))?;
        Some(path)
    } else {
        None
    };
    Ok(json!({
        "codebook_file_two_shards": two_shards_path,
        "engine": format!("invsom_{}", args.backend), "rows": rows, "cols": rows, "epochs": epochs,
        "reps": reps, "wall_s": best, "s_per_epoch": best / epochs as f64,
        "samples_per_s": (N * epochs) as f64 / best,
        "first_epoch_s": runs[0].1[0], "runs": runs.iter().map(|r| r.0).collect::<Vec<_>>(),
        "peak_rss_mb": hwm, "rss_before_train_mb": rss_before,
        "qe_own_f32": qe_own, "te_own": te_own, "codebook_file": w_path, "breakdown": breakdown,
    }))
}

/// Where an epoch's time goes: the stages of the batch epoch in src/som/train.rs, rebuilt from the
/// same tensor operations and timed one by one (best of 5, synchronised after each stage).
fn epoch_breakdown(x: &Tensor<2>, som: &Som, sigma: f64) -> anyhow::Result<Value> {
    // The stages of `assign` in src/som/train.rs, chunk by chunk as the epoch runs them, and the
    // per-unit sums (flex executes eagerly, so a one-value read after each stage times it).
    let [n, d] = x.dims();
    let k = som.n_units();
    let device = x.device();
    let w = som.codebook();
    let chunk = invsom::som::default_chunk_size(n, k);
    let mut runs = Vec::new();
    for _ in 0..5 {
        let mut t = [0.0f64; 4];
        let mut lap = |i: usize, t0: &mut Instant| {
            t[i] += t0.elapsed().as_secs_f64();
            *t0 = Instant::now();
        };
        let mut t0 = Instant::now();
        let half_w2 = w.clone().square().sum_dim(1).transpose() * 0.5;
        let wt = w.clone().transpose();
        let mut sums = Tensor::<2>::zeros([k, d], &device);
        let mut counts = Tensor::<2>::zeros([k, 1], &device);
        let mut start = 0;
        while start < n {
            let end = (start + chunk).min(n);
            let xc = x.clone().slice([start..end, 0..d]);
            let prod = xc.clone().matmul(wt.clone());
            sync(&prod);
            lap(0, &mut t0);
            let score = half_w2.clone() - prod;
            sync(&score);
            lap(1, &mut t0);
            let (smin, bmu) = score.min_dim_with_indices(1);
            let _ = (smin * 2.0 + xc.clone().square().sum_dim(1))
                .clamp_min(0.0)
                .sqrt()
                .sum()
                .into_scalar::<f32>();
            lap(2, &mut t0);
            let bmu: Tensor<1, burn::prelude::Int> = bmu.reshape([end - start]);
            sums = sums.select_assign(0, bmu.clone(), xc, burn::tensor::IndexingUpdateOp::Add);
            counts = counts.select_assign(
                0,
                bmu,
                Tensor::ones([end - start, 1], &device),
                burn::tensor::IndexingUpdateOp::Add,
            );
            sync(&sums);
            lap(3, &mut t0);
            start = end;
        }
        runs.push(t);
    }
    let best = |i: usize| runs.iter().map(|t| t[i]).fold(f64::INFINITY, f64::min);
    let mut copy = som.clone();
    let (step_s, _) = best_of(5, || Ok(copy.batch_step(x, sigma)?))?;
    let (gemm_s, scale_s, argmin_s, scatter_s) = (best(0), best(1), best(2), best(3));
    Ok(json!({
        "chunk_rows": chunk,
        "gemm_s": gemm_s, "scale_add_norms_s": scale_s, "argmin_s": argmin_s,
        "scatter_add_s": scatter_s, "batch_step_s": step_s,
        "rest_s": step_s - gemm_s - scale_s - argmin_s - scatter_s,
    }))
}

fn blobs_samples() -> anyhow::Result<invsom::data::Samples> {
    // sklearn make_blobs defaults: 3 centres uniform in (-10, 10) per feature, unit std.
    let mut s = GaussianMixture {
        n_components: 3,
        d_input: BLOBS_D,
        spread: 20.0,
        sigma: 1.0,
        seed: 2024,
    }
    .sample(BLOBS_N)?;
    s.values.iter_mut().for_each(|v| *v -= 10.0);
    Ok(s)
}

/// torchsom's published configuration: PCA init plus 100 batch epochs, timed as a whole.
fn worker_blobs(args: &Args) -> anyhow::Result<Value> {
    let device = Device::flex();
    let data = blobs_samples()?;
    let x = data.to_tensor(&device);
    let (_, rss_before) = memory_mb();
    let t0 = Instant::now();
    let mut som = SomConfig::new(BLOBS_ROWS, BLOBS_COLS, BLOBS_D)
        .with_init(Init::Pca)
        .init(&data, &device)?;
    let init_s = t0.elapsed().as_secs_f64();
    let w0 = to_vec_f32(som.codebook());
    let tc = TrainConfig::new().with_n_epochs(BLOBS_EPOCHS);
    let t1 = Instant::now();
    let report = train_tensor(&mut som, x, &tc, |_| std::ops::ControlFlow::Continue(()))?;
    let train_s = t1.elapsed().as_secs_f64();
    let (hwm, _) = memory_mb();
    let dir = args.data_dir();
    write_f32(&dir.join("blobs_x.f32"), &data.values)?;
    write_f32(&dir.join("blobs_w0.f32"), &w0)?;
    write_f32(&dir.join("blobs_invsom_w.f32"), &to_vec_f32(som.codebook()))?;
    Ok(json!({
        "n": BLOBS_N, "d": BLOBS_D, "rows": BLOBS_ROWS, "cols": BLOBS_COLS, "epochs": BLOBS_EPOCHS,
        "init_s": init_s, "train_s": train_s, "total_s": init_s + train_s,
        "train_report_s": report.seconds,
        "epoch_s_median": median(report.history.iter().map(|e| e.seconds).collect()),
        "qe_own_f32": report.qe, "te_own": report.te,
        "peak_rss_mb": hwm, "rss_before_train_mb": rss_before,
    }))
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A 200x200 map at D = 784: peak resident memory of a few epochs.
fn worker_memory(args: &Args) -> anyhow::Result<Value> {
    let device = Device::flex();
    let (rows, n, epochs) = if args.quick {
        (200, 2_000, 1)
    } else {
        (200, N, 2)
    };
    let k = rows * rows;
    let x = {
        let mut raw = read_f32(&args.data_dir().join("x.f32"), N * D)?;
        raw.truncate(n * D);
        from_rows(raw, n, D, &device)
    };
    // Uniform prototypes in [0, 1): the data's range (K > N rules out a sample start).
    let w = {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let w: Vec<f32> = (0..k * D).map(|_| rng.random::<f32>()).collect();
        from_rows(w, k, D, &device)
    };
    let mut som = Som::from_codebook(SomConfig::new(rows, rows, D), w)?;
    sync(&x);
    let (setup_hwm, rss_before) = memory_mb();
    let reset = reset_peak_rss();
    let mut per_epoch = Vec::new();
    for e in 0..epochs {
        let t0 = Instant::now();
        som.batch_step(&x, sigma_at(rows, rows, epochs, e))?;
        per_epoch.push(t0.elapsed().as_secs_f64());
    }
    let (hwm, _) = memory_mb();
    // Without the reset the peak would include the setup (building the codebook's bytes).
    let training_peak = if reset { hwm } else { hwm.max(setup_hwm) };
    let mib = |elems: usize| (elems * 4) as f64 / (1 << 20) as f64;
    Ok(json!({
        "rows": rows, "cols": rows, "n": n, "d": D, "epochs": epochs,
        "s_per_epoch": per_epoch.iter().sum::<f64>() / epochs as f64,
        "peak_rss_mb": training_peak, "peak_rss_is_training_only": reset,
        "setup_peak_rss_mb": setup_hwm, "rss_before_train_mb": rss_before,
        "data_mb": mib(n * D), "codebook_mb": mib(k * D),
        "nkd_temporary_mb": mib(n * k * D),
        "target_mb": mib(n * D) + mib(k * D) + 64.0,
    }))
}

/// Inversion operator and batched MUSIC steps on a 30x30 map trained from the shared start.
fn worker_inversion_music(args: &Args) -> anyhow::Result<Value> {
    let device = Device::flex();
    let rows = 30;
    let epochs = args.epochs();
    let x = load_x(args, &device)?;
    let w0 = load_w0(args, rows, &device)?;
    let mut som = Som::from_codebook(SomConfig::new(rows, rows, D).with_init(Init::Samples), w0)?;
    let mut epoch_s = f64::INFINITY;
    for e in 0..epochs {
        let t0 = Instant::now();
        som.batch_step(&x, sigma_at(rows, rows, epochs, e))?;
        epoch_s = epoch_s.min(t0.elapsed().as_secs_f64());
    }
    let codebook = som.codebook();
    // As many tries as there were epochs, so that "best build" and "best invert" are minima over
    // as many samples of this machine's noise as "best epoch" is.
    let reps = epochs.max(2);

    let (build_s, operator) = best_of(reps, || {
        Ok(InversionOperator::new(
            &codebook,
            &InversionConfig::default(),
        )?)
    })?;
    // What the build costs beyond its one factorisation: the thin SVD of the centred 900 x 784
    // codebook alone, and, for comparison, the eigendecomposition of its Gram matrix (faster, but
    // it squares the condition number, which is why the operator does not use it).
    let (svd_s, gram_eig_s) = {
        let host = to_vec_f64(codebook.clone());
        let k = rows * rows;
        let mut centre = vec![0.0f64; D];
        for row in host.chunks_exact(D) {
            centre
                .iter_mut()
                .zip(row)
                .for_each(|(c, v)| *c += v / k as f64);
        }
        let centred = faer::Mat::<f64>::from_fn(k, D, |i, j| host[i * D + j] - centre[j]);
        let (svd_s, _) = best_of(reps, || {
            centred
                .thin_svd()
                .map_err(|e| anyhow::anyhow!("the SVD did not converge: {e:?}"))
        })?;
        let (gram_eig_s, _) = best_of(reps, || {
            (centred.transpose() * &centred)
                .self_adjoint_eigen(faer::Side::Lower)
                .map_err(|e| anyhow::anyhow!("the eigendecomposition did not converge: {e:?}"))
        })?;
        (svd_s, gram_eig_s)
    };
    // f32 activations (what a map computes in f32) for the f32 path; f64 ones (Som::activations_f64)
    // for the f64 path: f32's ||x||^2 + ||w||^2 - 2 x.w loses digits that no operator recovers.
    let activations_f32 = sq_distances(x.clone(), codebook.clone());
    let activations_f64 = som.activations_f64(x.clone())?;
    sync(&activations_f32);
    let _ = activations_f64.clone().sum().into_scalar::<f64>();
    let originals = to_vec_f32(x.clone());
    let mut inversion = BTreeMap::new();
    for (precision, activations) in [
        (Precision::F32, &activations_f32),
        (Precision::F64, &activations_f64),
    ] {
        // Timed like an epoch: the product on the device, synchronised by a one-value read.
        // The copy of the inputs to the host is not part of inverting, and is made once after
        // the runs, so that its 63 MB are not allocated and freed between them.
        let (best, last) = best_of(reps, || {
            let inv = operator.invert(activations.clone(), precision)?;
            sync(&inv.inputs);
            Ok(inv)
        })?;
        let recovered = to_vec_f64(last.inputs);
        let errors = relative_errors(&originals, &recovered, D);
        let summary = ErrorSummary::of(&errors);
        inversion.insert(
            precision.name().to_string(),
            json!({"invert_s": best, "median_rel_err": summary.median, "max_rel_err": summary.max,
                   "activations": precision.name()}),
        );
    }

    // The bare product that inverting is built on, `[N, K] x [K, D]` in the same row blocks and
    // concatenated, without the shift, offsets and norms: what inverting costs beyond it.
    let product_s = {
        let rhs = operator.projector_t(Precision::F32);
        let block = invsom::som::default_chunk_size(N, rows * rows);
        let (best, _) = best_of(reps, || {
            let blocks: Vec<Tensor<2>> = (0..N)
                .step_by(block)
                .map(|start| {
                    let end = (start + block).min(N);
                    activations_f32
                        .clone()
                        .slice([start..end, 0..rows * rows])
                        .matmul(rhs.clone())
                })
                .collect();
            sync(&Tensor::cat(blocks, 0));
            Ok(())
        })?;
        best
    };

    // MUSIC: N trajectories from data samples toward far-away prototypes, batched steps.
    let n_traj = if args.quick { 64 } else { 256 };
    let steps = if args.quick { 5 } else { 20 };
    let k = rows * rows;
    let stepper = MusicStepper::new(
        codebook.clone(),
        Some(som.lattice()),
        &MusicConfig::default(),
    )?;
    let sets: Vec<Vec<usize>> = (0..n_traj).map(|i| vec![(i * 379 + 17) % k]).collect();
    let targets = StepTargets::prototypes(&sets, k, &device)?;
    let mut xt = x.clone().slice([0..n_traj, 0..D]);
    // One step outside the timing (first-call allocations).
    sync(&stepper.step(xt.clone(), &targets).x_next);
    let t0 = Instant::now();
    for _ in 0..steps {
        let out = stepper.step(xt, &targets);
        let _ = out.goal_residual.sum().into_scalar::<f32>();
        xt = out.x_next;
    }
    let music_s = t0.elapsed().as_secs_f64();
    Ok(json!({
        "rows": rows, "epoch_s_best": epoch_s,
        "diagnostics": format!("{:?}", operator.diagnostics()),
        "build_s": build_s, "invert": inversion, "n_inverted": N, "bare_product_s": product_s,
        "svd_s": svd_s, "gram_eig_s": gram_eig_s,
        "music": {"trajectories": n_traj, "steps": steps, "wall_s": music_s,
                  "batched_step_s": music_s / steps as f64,
                  "trajectory_steps_per_s": (n_traj * steps) as f64 / music_s},
    }))
}

/// Data-parallel training over shards against single-device training from the same start.
fn worker_parallel(args: &Args) -> anyhow::Result<Value> {
    let flex = Device::flex();
    let rows = 20;
    let epochs = args.epochs();
    let x = load_x(args, &flex)?;
    let w0 = load_w0(args, rows, &flex)?;
    let tc = TrainConfig::new().with_n_epochs(epochs);
    let fresh = || {
        Som::from_codebook(
            SomConfig::new(rows, rows, D).with_init(Init::Samples),
            w0.clone(),
        )
    };
    let mut single = fresh()?;
    let t0 = Instant::now();
    train_tensor(&mut single, x.clone(), &tc, |_| {
        std::ops::ControlFlow::Continue(())
    })?;
    let single_s = t0.elapsed().as_secs_f64();
    let reference = to_vec_f32(single.codebook());
    let mut layouts: Vec<(String, Vec<Device>)> = vec![
        ("1 shard, flex".into(), vec![flex.clone()]),
        (
            "2 shards, flex + flex".into(),
            vec![flex.clone(), flex.clone()],
        ),
    ];
    if cfg!(feature = "wgpu") && args.backends.iter().any(|b| b == "wgpu") {
        if let Ok(gpu) = BackendKind::Wgpu.device() {
            layouts.push(("2 shards, flex + wgpu".into(), vec![flex.clone(), gpu]));
        }
    }
    let mut rows_out = Vec::new();
    for (name, devices) in layouts {
        let parts = devices.len();
        let shards: Vec<(Device, Tensor<2>)> = devices
            .iter()
            .enumerate()
            .map(|(i, dev)| {
                let (a, b) = (i * N / parts, (i + 1) * N / parts);
                (dev.clone(), x.clone().slice([a..b, 0..D]))
            })
            .collect();
        let mut som = fresh()?;
        let t0 = Instant::now();
        let report = train_data_parallel(&mut som, &shards, &tc)?;
        let wall = t0.elapsed().as_secs_f64();
        let diff = to_vec_f32(som.codebook())
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        // After one epoch the only difference is the order of the additions; later epochs can
        // flip near-tie BMUs, which then moves a prototype by a whole sample / count.
        let one = TrainConfig::new().with_n_epochs(1);
        let mut a = fresh()?;
        train_tensor(&mut a, x.clone(), &one, |_| {
            std::ops::ControlFlow::Continue(())
        })?;
        let mut b = fresh()?;
        train_data_parallel(&mut b, &shards, &one)?;
        let diff_one = to_vec_f32(a.codebook())
            .iter()
            .zip(&to_vec_f32(b.codebook()))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        rows_out.push(
            json!({"layout": name, "wall_s": wall, "s_per_epoch": wall / epochs as f64,
            "qe": report.qe, "te": report.te, "max_abs_diff_vs_single": diff,
            "max_abs_diff_after_one_epoch": diff_one}),
        );
    }
    Ok(
        json!({"rows": rows, "epochs": epochs, "single_device_train_s": single_s,
              "single_s_per_epoch": single_s / epochs as f64, "layouts": rows_out}),
    )
}

// ------------------------------------------------------------------------------------------
// Orchestration

fn run(args: Args) -> anyhow::Result<()> {
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let command: Vec<String> = std::env::args().collect();
    println!(
        "invsom bench, {date}; load average {}; {} CPUs",
        loadavg(),
        num_cpus()
    );
    std::fs::create_dir_all(args.data_dir())?;
    let sizes = args.map_sizes();
    let peers_dir = args
        .peers_dir
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench"));
    let peers_dir = peers_dir.canonicalize().unwrap_or(peers_dir);
    let python = find_python(&args).filter(|_| peers_dir.join("peers.py").exists());
    let mut sizes_to_write = sizes.clone();
    if !sizes_to_write.contains(&30) {
        sizes_to_write.push(30); // inversion and MUSIC need K >= D + 1
    }
    let data_source = match &python {
        Some(py) => {
            let mut a = vec![
                peers_dir.display().to_string(),
                args.data_dir().display().to_string(),
            ];
            a.extend(sizes_to_write.iter().map(|s| s.to_string()));
            run_python(py, PY_PREPARE, &a).context("writing the data with peers.make_data")?;
            "peers.py make_data() (numpy default_rng(42)) and init_codebook (default_rng(0))"
        }
        None => {
            prepare_data_rust(&args.data_dir(), &sizes_to_write)?;
            "Rust fallback (ChaCha8 seed 42): not the peers' bytes"
        }
    };
    let backends: Vec<String> = if args.backends.is_empty() {
        BackendKind::compiled()
            .iter()
            .map(|b| b.name().to_string())
            .collect()
    } else {
        args.backends.clone()
    };
    let mut results = json!({
        "date": date, "command": command.join(" "), "cpus": num_cpus(),
        "load_start": loadavg(), "data": data_source, "n": N, "d": D,
        "epochs": args.epochs(), "reps": args.reps(), "quick": args.quick,
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "wgpu_compiled": cfg!(feature = "wgpu"),
    });
    let section = |name: &str| {
        println!("== {name} (load {})", loadavg());
    };

    if args.wants("sgemm") {
        section("sgemm");
        let mut all = Vec::new();
        // Both malloc modes: with glibc's default, whether a 2 MiB block is reused or mapped
        // afresh (page faults) depends on the allocations that came before; the peak is the
        // best the kernel did either way.
        for b in &backends {
            for tuned in [false, true] {
                let mode = if tuned { "tuned" } else { "default" };
                match spawn_worker(&args, "sgemm", &["--backend", b], tuned) {
                    Ok(mut v) => {
                        v["malloc"] = json!(mode);
                        println!("  {b} ({mode} malloc): {v}");
                        all.push(v)
                    }
                    Err(e) => println!("  {b} ({mode} malloc): FAILED {e:#}"),
                }
            }
        }
        results["sgemm"] = Value::Array(all);
    }

    let modes = if args.quick {
        vec!["tuned"]
    } else {
        vec!["default", "tuned"]
    };
    if args.wants("epoch") {
        section("epoch");
        let mut all = Vec::new();
        for &mode in &modes {
            for &rows in &sizes {
                for b in &backends {
                    if b == "wgpu" && mode != modes[0] {
                        continue;
                    }
                    let r = rows.to_string();
                    match spawn_worker(
                        &args,
                        "epoch",
                        &["--backend", b, "--rows", &r],
                        mode == "tuned",
                    ) {
                        Ok(mut v) => {
                            v["mode"] = json!(mode);
                            // QE and TE by peers.quality, for the codebook and for the
                            // rounding probe's codebook.
                            for (file, suffix) in [
                                ("codebook_file", ""),
                                ("codebook_file_two_shards", "_two_shards"),
                            ] {
                                let (Some(py), Some(w)) = (&python, v[file].as_str()) else {
                                    continue;
                                };
                                match py_quality(
                                    py,
                                    &peers_dir,
                                    &args.data_dir().join("x.f32"),
                                    Path::new(w),
                                    D,
                                    rows,
                                    rows,
                                ) {
                                    Ok(q) => {
                                        v[format!("qe{suffix}")] = q["qe"].clone();
                                        v[format!("te{suffix}")] = q["te"].clone();
                                    }
                                    Err(e) => println!("  quality of {w}: {e:#}"),
                                }
                            }
                            println!(
                                "  {mode} {b} {rows}x{rows}: {:.4} s/epoch, peak RSS {:.0} MB",
                                v["s_per_epoch"].as_f64().unwrap_or(f64::NAN),
                                v["peak_rss_mb"].as_f64().unwrap_or(f64::NAN)
                            );
                            all.push(v);
                        }
                        Err(e) => println!("  {mode} {b} {rows}x{rows}: FAILED {e:#}"),
                    }
                }
            }
        }
        results["epoch"] = Value::Array(all);
    }

    if args.wants("peers") {
        section("peers");
        match &python {
            Some(py) => match run_peers(&args, py, &peers_dir, &sizes, &modes) {
                Ok(v) => results["peers"] = v,
                Err(e) => println!("  peers: FAILED {e:#}"),
            },
            None => println!("  peers: skipped (no Python environment)"),
        }
    }

    if args.wants("blobs") {
        section("blobs (torchsom's configuration)");
        match spawn_worker(&args, "blobs", &[], false) {
            Ok(mut v) => {
                if let Some(py) = &python {
                    let dir = args.data_dir();
                    let a: Vec<String> = vec![
                        peers_dir.display().to_string(),
                        dir.join("blobs_x.f32").display().to_string(),
                        dir.join("blobs_w0.f32").display().to_string(),
                        BLOBS_D.to_string(),
                        BLOBS_ROWS.to_string(),
                        BLOBS_COLS.to_string(),
                        BLOBS_EPOCHS.to_string(),
                    ];
                    match run_python(py, PY_BLOBS, &a) {
                        Ok(s) => v["numpy_batch"] = serde_json::from_str(s.trim())?,
                        Err(e) => println!("  numpy reference: {e:#}"),
                    }
                    match py_quality(
                        py,
                        &peers_dir,
                        &dir.join("blobs_x.f32"),
                        &dir.join("blobs_invsom_w.f32"),
                        BLOBS_D,
                        BLOBS_ROWS,
                        BLOBS_COLS,
                    ) {
                        Ok(q) => {
                            v["qe"] = q["qe"].clone();
                            v["te"] = q["te"].clone();
                        }
                        Err(e) => println!("  quality: {e:#}"),
                    }
                }
                println!("  {v}");
                results["blobs"] = v;
            }
            Err(e) => println!("  FAILED {e:#}"),
        }
    }

    if args.wants("memory") {
        section("memory (200x200)");
        match spawn_worker(&args, "memory", &[], false) {
            Ok(v) => {
                println!("  {v}");
                results["memory"] = v;
            }
            Err(e) => println!("  FAILED {e:#}"),
        }
    }

    if args.wants("inversion") || args.wants("music") {
        section("inversion and MUSIC (30x30)");
        match spawn_worker(&args, "inversion", &[], false) {
            Ok(v) => {
                println!("  {v}");
                results["inversion_music"] = v;
            }
            Err(e) => println!("  FAILED {e:#}"),
        }
    }

    if args.wants("parallel") {
        section("data-parallel");
        let mut extra = vec!["--backends".to_string(), backends.join(",")];
        extra.retain(|s| !s.is_empty());
        let extra: Vec<&str> = extra.iter().map(|s| s.as_str()).collect();
        match spawn_worker(&args, "parallel", &extra, false) {
            Ok(v) => {
                println!("  {v}");
                results["parallel"] = v;
            }
            Err(e) => println!("  FAILED {e:#}"),
        }
    }

    results["load_end"] = json!(loadavg());
    let table = report(&results);
    println!("\n{table}");
    invsom::io::write_atomic(
        &args.out.join("bench.json"),
        serde_json::to_string_pretty(&results)?.as_bytes(),
    )?;
    invsom::io::write_atomic(&args.out.join("bench.md"), table.as_bytes())?;
    println!(
        "wrote {} and {}",
        args.out.join("bench.json").display(),
        args.out.join("bench.md").display()
    );
    Ok(())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn run_peers(
    args: &Args,
    python: &Path,
    peers_dir: &Path,
    sizes: &[usize],
    modes: &[&str],
) -> anyhow::Result<Value> {
    let e = args.epochs();
    let plan = if let Some(p) = &args.peers_plan {
        serde_json::from_str::<Value>(p).context("--peers-plan is not JSON")?
    } else if args.quick {
        json!([["numpy_batch", e, 1], ["xpysom_cpu", e, 1]])
    } else {
        json!([
            ["numpy_batch", e, 3],
            ["numpy_batch_dense", e, 1],
            ["xpysom_cpu", e, 2],
            ["torchsom_cpu", e, 1],
            ["somoclu", 2, 1],
            ["minisom_offline", 1, 1],
            ["minisom_online", 1, 1]
        ])
    };
    let dir = args.out.join("peers");
    std::fs::create_dir_all(&dir)?;
    println!("  BENCH_PLAN={plan} BENCH_ROWS={sizes:?} BENCH_MODES={modes:?}");
    let out = Command::new(python)
        .arg(peers_dir.join("peers.py"))
        .current_dir(&dir)
        .env("BENCH_PLAN", plan.to_string())
        .env("BENCH_ROWS", json!(sizes).to_string())
        .env("BENCH_MODES", json!(modes).to_string())
        .output()
        .context("starting peers.py")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines().filter(|l| l.starts_with("FAILED")) {
        let short: String = line.chars().take(300).collect();
        println!("  peer skipped: {short}");
    }
    invsom::io::write_atomic(&dir.join("peers_stdout.txt"), stdout.as_bytes())?;
    if !out.status.success() {
        bail!(
            "peers.py exited with {}: {}",
            out.status,
            stderr_tail(&out, 6)
        );
    }
    let text = std::fs::read_to_string(dir.join("bench_results.json"))
        .context("reading peers' bench_results.json")?;
    Ok(serde_json::from_str(&text)?)
}

// ------------------------------------------------------------------------------------------
// Reporting

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// The Markdown summary: epoch table with ratios, then the other sections and the targets.
fn report(r: &Value) -> String {
    let mut s = String::new();
    let peak_of = |backend: &str| {
        r["sgemm"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|v| v["backend"] == backend)
                    .map(|v| f(&v["peak_gflops"]))
                    .fold(f64::NAN, f64::max)
            })
            .unwrap_or(f64::NAN)
    };
    let numpy_peak = f(&r["peers"]["matmul"]["X@W.T 10000x784x900"]["gflops"]);
    s += &format!(
        "Run {} ({} profile), {} CPUs, load average {} at start, {} at end. Data: {}.\n\n",
        r["date"].as_str().unwrap_or("?"),
        r["profile"].as_str().unwrap_or("?"),
        r["cpus"],
        r["load_start"].as_str().unwrap_or("?"),
        r["load_end"].as_str().unwrap_or("?"),
        r["data"].as_str().unwrap_or("?")
    );
    s += "sgemm 10000x784 @ 784x900, f32, best of N: ";
    for v in r["sgemm"].as_array().into_iter().flatten() {
        s += &format!(
            "Burn {} with {} malloc {:.1} GFLOP/s ({:.3} s; transposed right-hand side {:.1} GFLOP/s; in blocks of {} rows {:.1} GFLOP/s); ",
            v["backend"].as_str().unwrap_or("?"),
            v["malloc"].as_str().unwrap_or("?"),
            f(&v["gflops_contiguous"]),
            f(&v["best_s_contiguous"]),
            f(&v["gflops_transposed_rhs"]),
            v["block_rows"],
            f(&v["gflops_blocked"])
        );
    }
    s += &format!(
        "numpy {numpy_peak:.1} GFLOP/s. Burn's peak is the best of these (flex: {:.1} GFLOP/s).\n\n",
        peak_of("flex")
    );

    s += "| malloc | engine | map | epochs | s/epoch | samples/s | % of sgemm peak | peak RSS MB | QE | TE | engine time / invsom time |\n";
    s += "|---|---|---|---|---|---|---|---|---|---|---|\n";
    let mut rows: Vec<Value> = Vec::new();
    for v in r["epoch"].as_array().into_iter().flatten() {
        rows.push(v.clone());
    }
    for v in r["peers"]["results"].as_array().into_iter().flatten() {
        let mut v = v.clone();
        v["s_per_epoch"] = json!(f(&v["wall_s"]) / f(&v["epochs"]));
        rows.push(v);
    }
    let mut targets = Vec::new();
    for mode in ["default", "tuned"] {
        for size in [20usize, 30] {
            let group: Vec<&Value> = rows
                .iter()
                .filter(|v| v["mode"] == mode && v["rows"] == size)
                .collect();
            let invsom = group
                .iter()
                .find(|v| v["engine"] == "invsom_flex")
                .map(|v| f(&v["s_per_epoch"]));
            for v in &group {
                let engine = v["engine"].as_str().unwrap_or("?");
                let t = f(&v["s_per_epoch"]);
                let k = (size * size) as f64;
                let flops = 2.0 * N as f64 * k * D as f64;
                let peak = if engine.starts_with("invsom_") {
                    peak_of(engine.trim_start_matches("invsom_"))
                } else {
                    numpy_peak
                };
                let ratio = invsom.map_or(f64::NAN, |i| t / i);
                s += &format!(
                    "| {mode} | {engine} | {size}x{size} | {} | {t:.4} | {:.0} | {:.0}% | {:.0} | {:.4} | {:.4} | {ratio:.2} |\n",
                    v["epochs"],
                    N as f64 / t,
                    100.0 * flops / t / 1e9 / peak,
                    f(&v["peak_rss_mb"]),
                    f(&v["qe"]),
                    f(&v["te"]),
                );
            }
            if let (Some(i), Some(inv)) =
                (invsom, group.iter().find(|v| v["engine"] == "invsom_flex"))
            {
                let k = (size * size) as f64;
                let limit = (N * D) as f64 * 4.0 / (1 << 20) as f64
                    + k * D as f64 * 4.0 / (1 << 20) as f64
                    + 64.0;
                targets.push(format!(
                    "{mode} {size}x{size}: invsom process peak RSS {:.0} MB (target <= data + codebook + 64 MiB = {limit:.0} MB): {}",
                    f(&inv["peak_rss_mb"]),
                    pass(f(&inv["peak_rss_mb"]) <= limit)
                ));
                let share = 2.0 * N as f64 * k * D as f64 / i / 1e9 / peak_of("flex");
                targets.push(format!(
                    "{mode} {size}x{size}: invsom {:.0}% of Burn's sgemm peak (target >= 60%): {}",
                    100.0 * share,
                    pass(share >= 0.6)
                ));
                if let Some(np) = group.iter().find(|v| v["engine"] == "numpy_batch") {
                    let ratio = i / f(&np["s_per_epoch"]);
                    targets.push(format!(
                        "{mode} {size}x{size}: invsom / numpy batch time = {ratio:.2} (target <= 1.15): {}",
                        pass(ratio <= 1.15)
                    ));
                    let dqe = (f(&inv["qe"]) - f(&np["qe"])).abs() / f(&np["qe"]);
                    let dte = (f(&inv["te"]) - f(&np["te"])).abs();
                    let dense_te = group
                        .iter()
                        .find(|v| v["engine"] == "numpy_batch_dense")
                        .map_or(f64::NAN, |v| f(&v["te"]));
                    targets.push(format!(
                        "{mode} {size}x{size}: QE {:.5} vs numpy {:.5} (rel. diff {dqe:.1e}), TE {:.4} vs {:.4} (target: QE within 1e-3, TE within 0.005): {}. Rounding alone: invsom with its unit sums added in two shards QE {:.5}, TE {:.4}; numpy's dense variant TE {dense_te:.4}",
                        f(&inv["qe"]), f(&np["qe"]), f(&inv["te"]), f(&np["te"]),
                        pass(dqe < 1e-3 && dte <= 0.005),
                        f(&inv["qe_two_shards"]), f(&inv["te_two_shards"]),
                    ));
                }
                if let Some(xp) = group.iter().find(|v| v["engine"] == "xpysom_cpu") {
                    let speedup = f(&xp["s_per_epoch"]) / i;
                    targets.push(format!(
                        "{mode} {size}x{size}: invsom is {speedup:.2}x faster than XPySom (target >= 1.5x): {}",
                        pass(speedup >= 1.5)
                    ));
                }
            }
        }
    }
    for v in rows
        .iter()
        .filter(|v| v["engine"] == "invsom_flex" && v["breakdown"].is_object())
    {
        let b = &v["breakdown"];
        s += &format!(
            "\ninvsom epoch breakdown ({} malloc, {}x{}, chunks of {} samples): distance GEMM {:.4} s, |w|^2/2 - x.w {:.4} s, argmin and QE {:.4} s, scatter-add of sums and counts {:.4} s, rest (smoothing, update) {:.4} s; one batch_step {:.4} s.\n",
            v["mode"].as_str().unwrap_or("?"), v["rows"], v["cols"], b["chunk_rows"],
            f(&b["gemm_s"]), f(&b["scale_add_norms_s"]), f(&b["argmin_s"]),
            f(&b["scatter_add_s"]), f(&b["rest_s"]), f(&b["batch_step_s"])
        );
    }
    for v in rows.iter().filter(|v| v["engine"] == "invsom_wgpu") {
        s += &format!(
            "\nwgpu ({}x{}): {:.3} s/epoch steady, first epoch {:.2} s (kernel compilation). On a CPU-only machine this is Mesa lavapipe: it proves the path runs, the speed means nothing.\n",
            v["rows"], v["cols"], f(&v["s_per_epoch"]), f(&v["first_epoch_s"])
        );
    }
    let b = &r["blobs"];
    if b.is_object() {
        let qe_np = f(&b["numpy_batch"]["qe"]);
        let dqe = (f(&b["qe"]) - qe_np).abs() / qe_np;
        s += &format!(
            "\ntorchsom's configuration (blobs 16,000 x 300, 25x15, PCA init, 100 epochs): invsom {:.2} s total (PCA init {:.2} s, training {:.2} s), QE {:.4}, TE {:.4}; numpy batch SOM from the same PCA start {:.2} s, QE {:.4}, TE {:.4}; peak RSS {:.0} MB.\n",
            f(&b["total_s"]), f(&b["init_s"]), f(&b["train_s"]), f(&b["qe"]), f(&b["te"]),
            f(&b["numpy_batch"]["train_s"]), qe_np, f(&b["numpy_batch"]["te"]), f(&b["peak_rss_mb"])
        );
        targets.push(format!(
            "blobs: {:.2} s (target <= 5 s): {}; QE rel. diff to numpy {dqe:.1e} (target <= 1%): {}",
            f(&b["total_s"]),
            pass(f(&b["total_s"]) <= 5.0),
            pass(dqe <= 0.01)
        ));
    }
    let m = &r["memory"];
    if m.is_object() {
        let workspace = f(&m["peak_rss_mb"]) - f(&m["rss_before_train_mb"]);
        s += &format!(
            "\nMemory, {}x{} map, D = {}, {} samples, {} epochs: peak RSS during training {:.0} MB ({}; the setup before it peaked at {:.0} MB while building the codebook), resident before training {:.0} MB (data {:.0} MB + codebook {:.0} MB + runtime), training workspace {:.0} MB; {:.2} s/epoch. An N x K x D temporary would be {:.0} MB.\n",
            m["rows"], m["cols"], m["d"], m["n"], m["epochs"], f(&m["peak_rss_mb"]),
            if m["peak_rss_is_training_only"] == true { "VmHWM reset through /proc/self/clear_refs before the first epoch" } else { "process peak: the reset was refused" },
            f(&m["setup_peak_rss_mb"]), f(&m["rss_before_train_mb"]),
            f(&m["data_mb"]), f(&m["codebook_mb"]), workspace, f(&m["s_per_epoch"]), f(&m["nkd_temporary_mb"])
        );
        targets.push(format!(
            "memory: 200x200 peak {:.0} MB (target < 2048): {}; peak <= data + codebook + 64 MiB ({:.0} MB): {}",
            f(&m["peak_rss_mb"]),
            pass(f(&m["peak_rss_mb"]) < 2048.0),
            f(&m["target_mb"]),
            pass(f(&m["peak_rss_mb"]) <= f(&m["target_mb"]))
        ));
    }
    let im = &r["inversion_music"];
    if im.is_object() {
        let epoch = f(&im["epoch_s_best"]);
        s += &format!(
            "\nInversion at 30x30 (best epoch {epoch:.3} s): operator build {:.3} s; invert 10,000 activations f32 {:.3} s (median rel. error {:.1e}), f64 {:.3} s ({:.1e}).\n",
            f(&im["build_s"]), f(&im["invert"]["f32"]["invert_s"]), f(&im["invert"]["f32"]["median_rel_err"]),
            f(&im["invert"]["f64"]["invert_s"]), f(&im["invert"]["f64"]["median_rel_err"])
        );
        if im["svd_s"].is_number() {
            s += &format!(
                "Of the build, the thin SVD of the centred codebook alone takes {:.3} s = {:.2} epochs (the Gram matrix's eigendecomposition would take {:.3} s).\n",
                f(&im["svd_s"]),
                f(&im["svd_s"]) / epoch,
                f(&im["gram_eig_s"])
            );
        }
        if im["bare_product_s"].is_number() {
            s += &format!(
                "The bare [N, K] x [K, D] product in the same blocks takes {:.3} s = {:.2} epochs: f32 inverting is {:.2}x it.\n",
                f(&im["bare_product_s"]),
                f(&im["bare_product_s"]) / epoch,
                f(&im["invert"]["f32"]["invert_s"]) / f(&im["bare_product_s"])
            );
        }
        s += &format!(
            "MUSIC at 30x30 x 784: {} trajectories x {} steps in {:.3} s = {:.0} trajectory steps/s ({:.4} s per batched step).\n",
            im["music"]["trajectories"], im["music"]["steps"], f(&im["music"]["wall_s"]),
            f(&im["music"]["trajectory_steps_per_s"]), f(&im["music"]["batched_step_s"])
        );
        targets.push(format!(
            "inversion: build {:.2} epochs (target < 2): {}; invert 10k f32 {:.2} epochs, f64 {:.2} epochs (target < 1): {}",
            f(&im["build_s"]) / epoch,
            pass(f(&im["build_s"]) < 2.0 * epoch),
            f(&im["invert"]["f32"]["invert_s"]) / epoch,
            f(&im["invert"]["f64"]["invert_s"]) / epoch,
            pass(f(&im["invert"]["f32"]["invert_s"]) < epoch)
        ));
        targets.push(format!(
            "MUSIC: {:.0} trajectory steps/s (target >= 1000): {}",
            f(&im["music"]["trajectory_steps_per_s"]),
            pass(f(&im["music"]["trajectory_steps_per_s"]) >= 1000.0)
        ));
    }
    let p = &r["parallel"];
    if p.is_object() {
        s += &format!(
            "\nData-parallel batch training, 20x20, {} epochs (single device {:.3} s/epoch):\n",
            p["epochs"],
            f(&p["single_s_per_epoch"])
        );
        for l in p["layouts"].as_array().into_iter().flatten() {
            s += &format!(
                "- {}: {:.3} s/epoch, QE {:.5}, TE {:.4}; max |w - w_single| {:.1e} after one epoch, {:.1e} after all\n",
                l["layout"].as_str().unwrap_or("?"),
                f(&l["s_per_epoch"]),
                f(&l["qe"]),
                f(&l["te"]),
                f(&l["max_abs_diff_after_one_epoch"]),
                f(&l["max_abs_diff_vs_single"])
            );
        }
    }
    if !targets.is_empty() {
        s += "\nTargets:\n";
        for t in targets {
            s += &format!("- {t}\n");
        }
    }
    s
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISSED"
    }
}
