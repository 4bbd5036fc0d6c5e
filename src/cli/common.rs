//! Options and helpers shared by the subcommands.

use std::path::PathBuf;

use anyhow::{bail, Context};
use burn::prelude::Device;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use invsom::data::{self, fixtures, Samples, Split};
use invsom::BackendKind;

/// Options every command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Device to run on: flex (CPU) or wgpu (GPU; needs the `wgpu` cargo feature).
    #[arg(long, global = true, default_value = "flex")]
    pub backend: String,
    /// Seed of every random choice.
    #[arg(long, global = true, default_value_t = 0)]
    pub seed: u64,
    /// Print one machine-readable JSON object on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

impl Global {
    /// The Burn device the user asked for.
    pub fn device(&self) -> anyhow::Result<Device> {
        let kind: BackendKind = self.backend.parse()?;
        Ok(kind.device()?)
    }

    /// Prints a JSON value (with `--json`) or runs the text printer.
    pub fn report(&self, value: &serde_json::Value, text: impl FnOnce()) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).expect("JSON value")
            );
        } else {
            text();
        }
    }

    /// A progress bar on stderr, hidden with `--json`.
    pub fn progress(&self, len: u64, what: &str) -> ProgressBar {
        if self.json {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        bar
    }
}

/// Where samples come from.
#[derive(Args, Debug, Clone, Default)]
pub struct DataArgs {
    /// A folder of IDX files in MNIST naming ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]),
    /// e.g. ../shared/data/mnist. Without it, the embedded MNIST sample is used.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Which split of --data-dir: train or test [default: train for training, test otherwise].
    #[arg(long)]
    pub split: Option<String>,
    /// An IDX images file (instead of --data-dir), e.g. faces/orl-images-idx3-ubyte.gz.
    #[arg(long, conflicts_with = "data_dir")]
    pub images: Option<PathBuf>,
    /// The IDX labels file that goes with --images.
    #[arg(long, requires = "images")]
    pub labels: Option<PathBuf>,
    /// An embedded data set: mnist (1000 training digits), mnist-test (1000 test digits), lfw (200 face crops).
    #[arg(long, conflicts_with_all = ["data_dir", "images"])]
    pub fixture: Option<String>,
    /// Use only the first N samples.
    #[arg(long)]
    pub limit: Option<usize>,
}

impl DataArgs {
    /// Loads the samples these options name (training split and embedded training digits by
    /// default).
    pub fn load(&self) -> anyhow::Result<Samples> {
        self.load_or(Split::Train)
    }

    /// Loads the samples these options name; without --split or any source, `default` picks
    /// the split and the embedded set (mnist or mnist-test).
    pub fn load_or(&self, default: Split) -> anyhow::Result<Samples> {
        let samples = if let Some(dir) = &self.data_dir {
            data::load_split(dir, self.split(default)?)?
        } else if let Some(images) = &self.images {
            data::load_idx_pair(images, self.labels.as_deref())?
        } else {
            let embedded = match self.split(default)? {
                Split::Train => "mnist",
                Split::Test => "mnist-test",
            };
            fixture(self.fixture.as_deref().unwrap_or(embedded))?
        };
        Ok(match self.limit {
            Some(0) => bail!("--limit 0 leaves no samples. Fix: give a positive limit"),
            Some(n) => samples.take(n),
            None => samples,
        })
    }

    fn split(&self, default: Split) -> anyhow::Result<Split> {
        Ok(match &self.split {
            Some(s) => s.parse()?,
            None => default,
        })
    }

    /// A short description of the source for reports.
    pub fn describe(&self) -> String {
        if let Some(dir) = &self.data_dir {
            format!(
                "{} ({})",
                dir.display(),
                self.split.as_deref().unwrap_or("default split")
            )
        } else if let Some(images) = &self.images {
            images.display().to_string()
        } else {
            format!("embedded {}", self.fixture.as_deref().unwrap_or("mnist"))
        }
    }
}

/// An embedded data set by name.
pub fn fixture(name: &str) -> anyhow::Result<Samples> {
    Ok(match name {
        "mnist" | "mnist-train" => fixtures::mnist_train(),
        "mnist-test" => fixtures::mnist_test(),
        "lfw" => fixtures::lfw(),
        other => bail!("unknown fixture '{other}'. Fix: use mnist, mnist-test or lfw"),
    })
}

/// The output folder, created, with context on failure.
pub fn ensure_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create output folder '{}'. Fix: choose a writable folder with --out",
            dir.display()
        )
    })
}

/// The command line as run, for the record of how a model was made.
pub fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("invsom {}", args.join(" "))
}

/// A saved map and data scaled as the map expects, with the dimensions checked.
pub struct MapAndData {
    pub som: invsom::som::Som,
    pub data: Samples,
    pub device: Device,
}

/// Loads the model in `model` and the data `data` names (scaled with the model's scaling).
pub fn load_map_and_data(
    global: &Global,
    model: &std::path::Path,
    data: &DataArgs,
    default: Split,
) -> anyhow::Result<MapAndData> {
    let device = global.device()?;
    let (som, _) = invsom::records::load(model, &device)?;
    let mut samples = data.load_or(default)?;
    if samples.d_input != som.d_input() {
        bail!(
            "the data has {} features per sample but the map '{}' expects {}. Fix: use data of the kind the map was trained on",
            samples.d_input,
            model.display(),
            som.d_input()
        );
    }
    if let Some(s) = &som.meta().scaling {
        s.apply(&mut samples);
    }
    Ok(MapAndData {
        som,
        data: samples,
        device,
    })
}
