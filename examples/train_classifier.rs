//! Trains the independent classifiers that score SOM trajectories, and saves them.
//!
//! ```text
//! cargo run --release --example train_classifier -- mnist --data-dir ../shared/data/mnist --out models/classifiers/mnist
//! cargo run --release --example train_classifier -- orl   --data-dir ../shared/data/faces --out models/classifiers/orl
//! cargo run --release --example train_classifier -- lfw   --data-dir ../shared/data/faces --out models/classifiers/lfw
//! ```
//!
//! - `mnist`: digits 0-9, the 60k training images, scored on the 10k test images.
//! - `orl`: the 40 ORL subjects (112 x 92 images shrunk by area averaging, 4x by default to
//!   28 x 23); the first 7 images of each subject train, the other 3 test.
//! - `lfw`: face (LFW crop) versus non-face on the 200 crops of 25 x 25; every fourth image of
//!   each class is held out (150 train, 50 test, balanced).
//!
//! The model folder gets `config.json`, `model.bpk` and `training.json` (data, options, accuracy
//! and time).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use invsom::classifier::{downsample, train_classifier, ClassifierConfig, TrainOptions};
use invsom::data::{load_idx_pair, load_split, Samples, Split};
use invsom::io::write_atomic;
use invsom::BackendKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Task {
    /// MNIST digits (10 classes).
    Mnist,
    /// ORL face identities (40 classes).
    Orl,
    /// LFW crops: face (1) versus non-face (0).
    Lfw,
}

/// Train a small CNN classifier and save it as a model folder.
#[derive(Parser, Debug)]
struct Args {
    /// Which classifier to train.
    #[arg(value_enum)]
    task: Task,
    /// Folder with the IDX files (mnist: the MNIST folder; orl, lfw: the faces folder).
    /// Default: ../shared/data/mnist or ../shared/data/faces.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Output model folder (replaced atomically).
    #[arg(long)]
    out: PathBuf,
    /// Passes over the training set. Default: mnist 3, orl 60, lfw 40.
    #[arg(long)]
    epochs: Option<usize>,
    /// Samples per Adam step. Default: mnist 64, orl and lfw 16.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Adam learning rate. Default: mnist 1e-3, orl and lfw 2e-3.
    #[arg(long)]
    learning_rate: Option<f64>,
    /// Seed of the weight initialisation, shuffling and dropout.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Shrink factor for ORL images (area averaging): 112 x 92 becomes 28 x 23 with 4.
    #[arg(long, default_value_t = 4)]
    downsample: usize,
    /// Feature maps of the first convolution (the second has twice as many).
    #[arg(long, default_value_t = 16)]
    channels: usize,
    /// Units of the hidden fully connected layer.
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    /// Use only the first N training samples (quick trials).
    #[arg(long)]
    train_limit: Option<usize>,
    /// Backend: flex (CPU) or wgpu.
    #[arg(long, default_value = "flex")]
    backend: BackendKind,
}

/// Training and test sets of a task, with a description of the split.
struct Split2 {
    train: Samples,
    test: Samples,
    description: String,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let device = args.backend.device()?;
    let data = load(&args)?;
    let mut train = data.train;
    if let Some(limit) = args.train_limit {
        train = train.take(limit);
    }
    let shape = train
        .image_shape
        .context("the training data are not images")?;
    let n_classes = train.n_classes().max(data.test.n_classes());
    let config = ClassifierConfig::new(shape, n_classes)
        .with_channels(args.channels)
        .with_hidden(args.hidden);
    let (epochs, batch_size, learning_rate) = match args.task {
        Task::Mnist => (3, 64, 1e-3),
        Task::Orl => (60, 16, 2e-3),
        Task::Lfw => (40, 16, 2e-3),
    };
    let options = TrainOptions {
        epochs: args.epochs.unwrap_or(epochs),
        batch_size: args.batch_size.unwrap_or(batch_size),
        learning_rate: args.learning_rate.unwrap_or(learning_rate),
        seed: args.seed,
    };
    println!(
        "{:?}: {} ({} train, {} test, {}x{} images, {n_classes} classes) on {}",
        args.task,
        data.description,
        train.n_samples,
        data.test.n_samples,
        shape[0],
        shape[1],
        args.backend
    );
    println!("{options:?}, {config:?}");

    let started = Instant::now();
    let model = train_classifier(&config, &train, &options, &device, |epoch, loss, secs| {
        println!(
            "epoch {epoch:>3}/{}: loss {loss:.4} ({secs:.1} s)",
            options.epochs
        );
    })?;
    let train_seconds = started.elapsed().as_secs_f64();
    let train_accuracy = model.accuracy(&train, &device)?;
    let test_accuracy = model.accuracy(&data.test, &device)?;
    println!(
        "train accuracy {:.2}%, test accuracy {:.2}% ({} test images), training {train_seconds:.1} s",
        100.0 * train_accuracy,
        100.0 * test_accuracy,
        data.test.n_samples
    );

    model
        .save(&args.out)
        .with_context(|| format!("saving the classifier to '{}'", args.out.display()))?;
    let summary = serde_json::json!({
        "task": format!("{:?}", args.task).to_lowercase(),
        "data": data.description,
        "n_train": train.n_samples,
        "n_test": data.test.n_samples,
        "image_shape": shape,
        "n_classes": n_classes,
        "options": options,
        "backend": args.backend.name(),
        "train_accuracy": train_accuracy,
        "test_accuracy": test_accuracy,
        "train_seconds": train_seconds,
        "command": std::env::args().collect::<Vec<_>>().join(" "),
    });
    write_atomic(
        &args.out.join("training.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    println!("saved to {}", args.out.display());
    Ok(())
}

fn load(args: &Args) -> anyhow::Result<Split2> {
    let default_dir = match args.task {
        Task::Mnist => "../shared/data/mnist",
        Task::Orl | Task::Lfw => "../shared/data/faces",
    };
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(default_dir));
    match args.task {
        Task::Mnist => Ok(Split2 {
            train: load_split(&dir, Split::Train)?,
            test: load_split(&dir, Split::Test)?,
            description: format!("MNIST from {}", dir.display()),
        }),
        Task::Orl => {
            let all = load_faces(&dir, "orl")?;
            let all = downsample(&all, args.downsample)?;
            // ORL stores each subject's 10 images together; the first 7 train, the last 3 test.
            let (train, test) = all.split_per_class(|position_in_class| position_in_class < 7)?;
            Ok(Split2 {
                train,
                test,
                description: format!(
                    "ORL faces from {}, downsampled {}x, images 0-6 of each subject train, 7-9 test",
                    dir.display(),
                    args.downsample
                ),
            })
        }
        Task::Lfw => {
            let all = load_faces(&dir, "lfw-subset")?;
            let (train, test) =
                all.split_per_class(|position_in_class| position_in_class % 4 != 3)?;
            Ok(Split2 {
                train,
                test,
                description: format!(
                    "LFW crops (face) vs non-face from {}, every 4th image of each class held out",
                    dir.display()
                ),
            })
        }
    }
}

fn load_faces(dir: &Path, name: &str) -> anyhow::Result<Samples> {
    let images = dir.join(format!("{name}-images-idx3-ubyte.gz"));
    let labels = dir.join(format!("{name}-labels-idx1-ubyte.gz"));
    Ok(load_idx_pair(&images, Some(&labels))?)
}
