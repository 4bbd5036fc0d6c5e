//! `invsom experiment NAME`: reproduce one of the paper's experiments (pictures and tables).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde_json::json;

use invsom::classifier::{downsample, Classifier};
use invsom::data::{load_idx_pair, load_split, Samples, Split};
use invsom::experiments::{
    self, FacesInputs, ImageInputs, ImageOptions, MixtureOptions, VariantOptions,
};
use invsom::music::MusicConfig;

use super::common::{ensure_dir, Global};

/// Which experiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExperimentName {
    /// Gaussian mixtures: 2-D picture (map, Voronoi cells, paths) and a higher-D mixture.
    #[value(alias = "mixture")]
    Mixture2d,
    /// MNIST digit transitions vs linear interpolation (confidence, sharpness, on-manifold).
    Mnist,
    /// ORL identity transitions and LFW face-to-face transitions.
    Faces,
    /// The MUSIC rule's variants and a sweep of eta, lambda_rel and step budget on the same pairs.
    Variants,
}

#[derive(Args, Debug, Clone)]
pub struct ExperimentArgs {
    /// The experiment to run.
    #[arg(value_enum)]
    pub name: ExperimentName,
    /// Output folder for the pictures and tables.
    #[arg(long, short, default_value = "target/experiments")]
    pub out: PathBuf,
    /// Number of source-target pairs [default: mixture2d 200, mnist 540, faces 200, variants 180].
    #[arg(long)]
    pub pairs: Option<usize>,
    /// Training samples used for the nearest-training-sample distance (0 = all)
    /// [default: mnist 10000, variants 5000].
    #[arg(long)]
    pub reference: Option<usize>,
    /// A MUSIC configuration as JSON (fields of MusicConfig; missing fields take the library
    /// defaults) [default: the first-check rule, MusicConfig::single_target_unit()].
    /// For `variants`, the base every variant changes.
    #[arg(long)]
    pub music_config: Option<PathBuf>,
    /// For `variants`: run only the variants whose name contains one of these comma-separated
    /// words (e.g. "base,target units").
    #[arg(long)]
    pub only: Option<String>,
    /// Trajectories per batched MUSIC run.
    #[arg(long, default_value_t = 256)]
    pub chunk: usize,
    /// MNIST folder (IDX files).
    #[arg(long, default_value = "../shared/data/mnist")]
    pub data_dir: PathBuf,
    /// Faces folder (orl-* and lfw-subset-* IDX files).
    #[arg(long, default_value = "../shared/data/faces")]
    pub faces_dir: PathBuf,
    /// The labelled MNIST map.
    #[arg(long, default_value = "models/mnist-30x30")]
    pub model: PathBuf,
    /// Folder of the trained classifiers (mnist, orl, lfw).
    #[arg(long, default_value = "models/classifiers")]
    pub classifiers: PathBuf,
}

fn music_config(path: Option<&Path>) -> anyhow::Result<MusicConfig> {
    // The base of the published tables is the first-check rule (one target unit); the library
    // default (16 target units) is the variant those tables select.
    let Some(path) = path else {
        return Ok(MusicConfig::single_target_unit());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the MUSIC configuration '{}'", path.display()))?;
    let cfg: MusicConfig = serde_json::from_str(&text).with_context(|| {
        format!(
            "'{}' is not a MUSIC configuration. Fix: give JSON with fields of MusicConfig, e.g. {{\"eta\": 0.2}}",
            path.display()
        )
    })?;
    cfg.validate()?;
    Ok(cfg)
}

fn load_classifier(
    dir: &Path,
    name: &str,
    device: &burn::prelude::Device,
) -> anyhow::Result<Classifier> {
    Ok(Classifier::load(&dir.join(name), device)?)
}

/// The trained MNIST map, the test and training splits, and the digit classifier.
struct MnistData {
    som: invsom::som::Som,
    test: Samples,
    train: Samples,
    classifier: Classifier,
}

impl MnistData {
    /// Pairs are drawn from the test split; the training split is the on-manifold reference.
    fn inputs(&self) -> ImageInputs<'_> {
        ImageInputs {
            som: &self.som,
            classifier: &self.classifier,
            pool: &self.test,
            train: &self.train,
        }
    }
}

pub fn run(global: &Global, args: &ExperimentArgs) -> anyhow::Result<()> {
    let device = global.device()?;
    ensure_dir(&args.out)?;
    let music = music_config(args.music_config.as_deref())?;
    let image_options = |n_pairs: usize, n_reference: usize| ImageOptions {
        n_pairs: args.pairs.unwrap_or(n_pairs),
        n_reference: args.reference.unwrap_or(n_reference),
        seed: global.seed,
        chunk: args.chunk,
        n_pictures: 8,
        zoom: 1,
        music: music.clone(),
    };
    let load_mnist = || -> anyhow::Result<MnistData> {
        let (som, _) = invsom::records::load(&args.model, &device)?;
        Ok(MnistData {
            som,
            test: load_split(&args.data_dir, Split::Test)?,
            train: load_split(&args.data_dir, Split::Train)?,
            classifier: load_classifier(&args.classifiers, "mnist", &device)?,
        })
    };
    let report = match args.name {
        ExperimentName::Mixture2d => {
            let options = MixtureOptions {
                n_pairs: args.pairs.unwrap_or(200),
                seed: global.seed,
                music: music.clone(),
                ..MixtureOptions::default()
            };
            experiments::mixture(&options, &args.out, &device)?
        }
        ExperimentName::Mnist => {
            let mnist = load_mnist()?;
            experiments::mnist(
                &mnist.inputs(),
                &image_options(540, 10_000),
                &args.out,
                &device,
            )?
        }
        ExperimentName::Faces => {
            let orl_classifier = load_classifier(&args.classifiers, "orl", &device)?;
            let lfw_classifier = load_classifier(&args.classifiers, "lfw", &device)?;
            let orl = load_idx_pair(
                &args.faces_dir.join("orl-images-idx3-ubyte.gz"),
                Some(&args.faces_dir.join("orl-labels-idx1-ubyte.gz")),
            )?;
            let rows = orl_classifier.config().image_shape[0];
            let factor = orl.image_shape.map_or(1, |s| (s[0] / rows.max(1)).max(1));
            let orl = downsample(&orl, factor)?;
            // As the classifier was trained: images 0-6 of each subject train, 7-9 are held out.
            let (orl_train, orl_test) = orl.split_per_class(|p| p < 7)?;
            let lfw = load_idx_pair(
                &args.faces_dir.join("lfw-subset-images-idx3-ubyte.gz"),
                Some(&args.faces_dir.join("lfw-subset-labels-idx1-ubyte.gz")),
            )?;
            let inputs = FacesInputs {
                orl_train: &orl_train,
                orl_test: &orl_test,
                orl_classifier: &orl_classifier,
                lfw: &lfw,
                lfw_classifier: &lfw_classifier,
            };
            // Photos compress poorly: smaller strips keep the pictures light.
            let options = ImageOptions {
                n_pictures: 5,
                zoom: 1,
                ..image_options(200, 0)
            };
            experiments::faces(
                &inputs,
                experiments::FaceMaps::default(),
                &options,
                &args.out,
                &device,
            )?
        }
        ExperimentName::Variants => {
            let mnist = load_mnist()?;
            let inputs = mnist.inputs();
            let options = VariantOptions {
                n_pairs: args.pairs.unwrap_or(180),
                n_reference: args.reference.unwrap_or(5000),
                seed: global.seed + 1,
                chunk: args.chunk,
                variants: experiments::standard_variants(&music)
                    .into_iter()
                    .filter(|v| {
                        args.only
                            .as_deref()
                            .is_none_or(|only| only.split(',').any(|w| v.name.contains(w.trim())))
                    })
                    .collect(),
            };
            if options.variants.is_empty() {
                bail!("--only matches no variant. Fix: use words from the variant names, e.g. base, waypoints, eta");
            }
            let quiet = global.json;
            experiments::variants(&inputs, &options, &args.out, &device, |row| {
                if !quiet {
                    eprintln!(
                        "  {:<45} success {:5.1}%  stop rule {:5.1}%  steps {:>5}  p_max {:.3}  lapvar {:.4}  nearest {:.2}  ({:.0} s)",
                        row.name,
                        100.0 * row.success_rate,
                        100.0 * row.reached_rate,
                        row.steps_median,
                        row.p_max_mid[0],
                        row.laplacian_mid[0],
                        row.nearest_train_mid[0],
                        row.seconds
                    );
                }
            })?
        }
    };
    let value = json!({
        "experiment": report.name,
        "files": report.files,
        "results": report.json,
    });
    global.report(&value, || {
        println!("{}", report.markdown);
        println!("wrote {}", experiments::list(&report.files));
    });
    Ok(())
}
