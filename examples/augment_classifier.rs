//! Does MUSIC augmentation help a Burn CNN classifier trained on few labels?
//!
//! ```text
//! cargo run --features wgpu --example augment_classifier -- --out target/augment-classifier
//! ```
//!
//! Three settings: MNIST with 100 and with 1000 labelled training images, Fashion-MNIST with 1000;
//! each with `--seeds` seeds (the seed draws the class-balanced labelled subset, the weights, the
//! shuffling and the augmentation). Four arms with the **same budget** of sample presentations
//! (Adam steps of the same batch size):
//! - `none`: the labelled images only, for `(1 + V) * epochs` epochs;
//! - `music`: the images and `V` MUSIC variants each ([`invsom::augment`]), for `epochs` epochs;
//! - `blend`: the images and `V` within-class linear blends each (weight uniform in [0, 0.5)),
//!   for `epochs` epochs;
//! - `straight`: the ablation of `music` without its preserved set (`preserved = 0`): the same
//!   targets and steps, which then move the image straight toward the prototype.
//!
//! The map of each data set is trained without labels on its 60,000 training images (MNIST:
//! `models/mnist-30x30`; Fashion-MNIST: trained here with the same settings and cached in the
//! output folder); its units are then labelled with the labelled subset only, so no other label
//! reaches the classifier. The classifier is scored on the full 10,000-image test set.
//!
//! It also measures the throughput of the stage (variants per second) against the classifier's
//! training (presentations per second) on the same device, and writes `results.json`,
//! `results.md` and a picture of variants (`variants-<set>.png`) into `--out`.

use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use burn::prelude::Device;
use clap::Parser;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use invsom::augment::{augment_samples, blend_within_class, AugmentMap, MusicAugment};
use invsom::classifier::{train_classifier, ClassifierConfig, TrainOptions};
use invsom::data::{load_split, Samples, Split};
use invsom::io::write_atomic;
use invsom::records::{self, SaveInfo};
use invsom::som::{self, Som, SomConfig, TrainConfig};
use invsom::BackendKind;

/// MUSIC augmentation against no augmentation and within-class blends, with few labels.
#[derive(Parser, Debug)]
struct Args {
    /// Folder with the MNIST IDX files.
    #[arg(long, default_value = "../shared/data/mnist")]
    mnist: PathBuf,
    /// Folder with the Fashion-MNIST IDX files.
    #[arg(long, default_value = "../shared/data/fashion-mnist")]
    fashion: PathBuf,
    /// The MNIST map.
    #[arg(long, default_value = "models/mnist-30x30")]
    mnist_map: PathBuf,
    /// Output folder (results, pictures, the cached Fashion-MNIST map).
    #[arg(long, default_value = "target/augment-classifier")]
    out: PathBuf,
    /// Seeds per setting.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Variants per labelled image (music, blend, straight).
    #[arg(long, default_value_t = 3)]
    variants: usize,
    /// MUSIC steps per variant.
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// MUSIC step fraction.
    #[arg(long, default_value_t = 0.1)]
    eta: f64,
    /// Settings to run, among mnist-100, mnist-1000, fashion-1000.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "mnist-100,mnist-1000,fashion-1000"
    )]
    only: Vec<String>,
    /// Score on the first N test images instead of all 10,000.
    #[arg(long)]
    test_limit: Option<usize>,
    /// Device: flex (CPU) or wgpu.
    #[arg(long, default_value = "flex")]
    backend: String,
}

/// One few-label setting.
struct Setting {
    name: &'static str,
    data: &'static str,
    n_labels: usize,
    /// Epochs of the augmented arms (the `none` arm gets `(1 + V)` times as many).
    epochs: usize,
}

const SETTINGS: [Setting; 3] = [
    Setting {
        name: "mnist-100",
        data: "mnist",
        n_labels: 100,
        epochs: 15,
    },
    Setting {
        name: "mnist-1000",
        data: "mnist",
        n_labels: 1000,
        epochs: 3,
    },
    Setting {
        name: "fashion-1000",
        data: "fashion",
        n_labels: 1000,
        epochs: 3,
    },
];

const ARMS: [&str; 4] = ["none", "music", "blend", "straight"];
const BATCH_SIZE: usize = 32;

/// `n` labelled images, `n / 10` per class, drawn by `seed`.
fn labelled_subset(train: &Samples, n: usize, seed: u64) -> Samples {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let per_class = n / train.n_classes();
    let mut picked = Vec::with_capacity(n);
    for c in 0..train.n_classes() {
        let mut idx = train.indices_of_class(c as u8);
        idx.shuffle(&mut rng);
        picked.extend_from_slice(&idx[..per_class.min(idx.len())]);
    }
    picked.shuffle(&mut rng);
    train.subset(&picked)
}

/// `a` followed by `b` (same dimension and image shape).
fn concat(a: &Samples, b: &Samples) -> anyhow::Result<Samples> {
    let mut values = a.values.clone();
    values.extend_from_slice(&b.values);
    let mut labels = a.labels.clone().unwrap_or_default();
    labels.extend(b.labels.iter().flatten());
    let mut out =
        Samples::new(values, a.n_samples + b.n_samples, a.d_input)?.with_labels(labels)?;
    out.image_shape = a.image_shape;
    Ok(out)
}

/// The Fashion-MNIST map: loaded from the cache, or trained without labels like
/// `models/mnist-30x30` (30 x 30, PCA init, 20 batch epochs, sigma 15 -> 1) and cached.
fn fashion_map(train: &Samples, dir: &Path, device: &Device) -> anyhow::Result<Som> {
    if dir.join("metadata.json").is_file() {
        return Ok(records::load(dir, device)?.0);
    }
    eprintln!(
        "training the Fashion-MNIST map (30x30, 20 epochs) into {}",
        dir.display()
    );
    let unlabelled = Samples::new(train.values.clone(), train.n_samples, train.d_input)?
        .with_image_shape(28, 28)?;
    let mut som = SomConfig::new(30, 30, 784)
        .with_seed(0)
        .init(&unlabelled, device)?;
    let config = TrainConfig::new().with_n_epochs(20);
    let report = som::train(
        &mut som,
        &unlabelled,
        &config,
        |_| ControlFlow::Continue(()),
    )?;
    eprintln!(
        "  QE {:.3}, TE {:.3}, {:.0} s",
        report.qe, report.te, report.seconds
    );
    let info = SaveInfo {
        train: Some(config),
        qe: Some(report.qe),
        te: Some(report.te),
        command: Some("examples/augment_classifier.rs (fashion_map)".into()),
    };
    records::save(&som, dir, &info)?;
    Ok(som)
}

/// A picture of 8 labelled images (first column) and their MUSIC, straight and blend variants.
fn save_picture(
    path: &Path,
    labelled: &Samples,
    music: &Samples,
    straight: &Samples,
    blend: &Samples,
    v: usize,
) -> anyhow::Result<()> {
    let rows: Vec<Vec<&[f32]>> = (0..8.min(labelled.n_samples))
        .map(|i| {
            let mut row = vec![labelled.row(i)];
            for set in [music, straight, blend] {
                row.extend((0..v).map(|k| set.row(i * v + k)));
            }
            row
        })
        .collect();
    invsom::viz::strips(&rows, [28, 28], 2, 2).save_png(path)?;
    Ok(())
}

fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let device = args.backend.parse::<BackendKind>()?.device()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let music_cfg = MusicAugment {
        n_variants: args.variants,
        steps: args.steps,
        eta: args.eta,
        ..MusicAugment::default()
    };
    let straight_cfg = MusicAugment {
        preserved: 0,
        ..music_cfg.clone()
    };
    let v = args.variants;

    let mut records_json = Vec::new();
    let mut table = String::new();
    let mut throughput = None;
    for setting in SETTINGS
        .iter()
        .filter(|s| args.only.iter().any(|o| o == s.name))
    {
        let dir = if setting.data == "mnist" {
            &args.mnist
        } else {
            &args.fashion
        };
        let train = load_split(dir, Split::Train)?;
        let mut test = load_split(dir, Split::Test)?;
        if let Some(n) = args.test_limit {
            test = test.take(n);
        }
        let som = if setting.data == "mnist" {
            records::load(&args.mnist_map, &device)?.0
        } else {
            fashion_map(&train, &args.out.join("fashion-30x30"), &device)?
        };
        let classifier = ClassifierConfig::new([28, 28], 10);
        let mut accuracies: Vec<Vec<f64>> = vec![Vec::new(); ARMS.len()];
        for seed in 0..args.seeds {
            let labelled = labelled_subset(&train, setting.n_labels, seed);
            let map = AugmentMap::from_labelled(&som, &labelled)?;
            let cfg = MusicAugment {
                seed,
                ..music_cfg.clone()
            };
            let started = Instant::now();
            let music = augment_samples(&map, &labelled, &cfg, &device)?;
            let music_seconds = started.elapsed().as_secs_f64();
            let straight = augment_samples(
                &map,
                &labelled,
                &MusicAugment {
                    seed,
                    ..straight_cfg.clone()
                },
                &device,
            )?;
            let blend = blend_within_class(&labelled, v, 0.5, seed)?;
            if seed == 0 {
                let path = args.out.join(format!("variants-{}.png", setting.name));
                save_picture(&path, &labelled, &music, &straight, &blend, v)?;
            }
            for (a, arm) in ARMS.iter().enumerate() {
                let (data, epochs) = match *arm {
                    "none" => (labelled.clone(), setting.epochs * (1 + v)),
                    "music" => (concat(&labelled, &music)?, setting.epochs),
                    "blend" => (concat(&labelled, &blend)?, setting.epochs),
                    _ => (concat(&labelled, &straight)?, setting.epochs),
                };
                let options = TrainOptions {
                    epochs,
                    batch_size: BATCH_SIZE,
                    learning_rate: 1e-3,
                    seed,
                };
                let started = Instant::now();
                let mut train_seconds = 0.0;
                let model = train_classifier(&classifier, &data, &options, &device, |_, _, s| {
                    train_seconds += s
                })?;
                let accuracy = model.accuracy(&test, &device)?;
                let presentations = data.n_samples * epochs;
                eprintln!(
                    "{} seed {seed} {arm:>8}: test accuracy {:.4} ({} presentations, {:.1} s)",
                    setting.name,
                    accuracy,
                    presentations,
                    started.elapsed().as_secs_f64()
                );
                if *arm == "none" && throughput.is_none() && setting.n_labels >= 1000 {
                    throughput = Some(json!({
                        "stage_variants": music.n_samples,
                        "stage_seconds": music_seconds,
                        "stage_variants_per_s": music.n_samples as f64 / music_seconds,
                        "train_presentations": presentations,
                        "train_seconds": train_seconds,
                        "train_presentations_per_s": presentations as f64 / train_seconds,
                    }));
                }
                accuracies[a].push(accuracy);
                records_json.push(json!({
                    "setting": setting.name, "seed": seed, "arm": arm,
                    "accuracy": accuracy, "presentations": presentations, "epochs": epochs,
                    "n_train": data.n_samples,
                }));
            }
        }
        let _ = write!(table, "| {} |", setting.name);
        for acc in &accuracies {
            let (mean, sd) = mean_sd(acc);
            let _ = write!(table, " {:.2} ± {:.2} |", 100.0 * mean, 100.0 * sd);
        }
        let _ = writeln!(table, " {} |", args.seeds);
    }

    let mut md = String::from(
        "| setting | none | music | blend | straight (music, preserved 0) | seeds |\n|---|---|---|---|---|---|\n",
    );
    md.push_str(&table);
    if let Some(t) = &throughput {
        let _ = writeln!(md, "\nthroughput: {t}");
    }
    println!("{md}");
    write_atomic(&args.out.join("results.md"), md.as_bytes())?;
    let summary = json!({
        "music": music_cfg, "straight": straight_cfg, "blend_max_weight": 0.5,
        "batch_size": BATCH_SIZE, "backend": args.backend, "test_limit": args.test_limit,
        "runs": records_json, "throughput": throughput,
    });
    write_atomic(
        &args.out.join("results.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(())
}
