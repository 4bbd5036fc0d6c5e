//! `invsom augment`: MUSIC variants of a labelled data set, written as IDX files.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::json;

use invsom::augment::{augment_samples, AugmentMap, MusicAugment};
use invsom::data::{idx::write_idx, Split};
use invsom::io::{replace_dir_atomic, write_atomic};

use super::common::{command_line, load_map_and_data, DataArgs, Global};

/// File names in the output folder: MNIST naming, so `--data-dir OUT` reads them back.
const IMAGES_FILE: &str = "train-images-idx3-ubyte.gz";
const LABELS_FILE: &str = "train-labels-idx1-ubyte.gz";
const INFO_FILE: &str = "augment.json";

#[derive(Args, Debug, Clone)]
pub struct AugmentArgs {
    /// The model directory of a map trained on data of this kind.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Variants made per sample.
    #[arg(long, default_value_t = 3)]
    pub per_sample: usize,
    /// MUSIC steps per variant (0 copies the samples).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Fraction of the squared distance to the target prototype removed per step.
    #[arg(long, default_value_t = 0.1)]
    pub eta: f64,
    /// Random reduction of eta per variant, in [0, 1].
    #[arg(long, default_value_t = 0.5)]
    pub eta_jitter: f64,
    /// Each variant's target is drawn among this many own-class units nearest to the sample.
    #[arg(long, default_value_t = 8)]
    pub target_pool: usize,
    /// Prototypes (outside the target) whose distances each step keeps.
    #[arg(long, default_value_t = 8)]
    pub preserved: usize,
    /// Label the map's units with these samples' labels instead of the labels stored in the map
    /// (use it when only these labels may be used, e.g. few-label training).
    #[arg(long)]
    pub relabel: bool,
    /// Also write the original samples, before their variants.
    #[arg(long)]
    pub include_originals: bool,
    /// Output folder (replaced atomically): train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz
    /// and augment.json.
    #[arg(long, short)]
    pub out: PathBuf,
}

pub fn run(global: &Global, args: &AugmentArgs) -> anyhow::Result<()> {
    let loaded = load_map_and_data(global, &args.model, &args.data, Split::Train)?;
    let (som, data, device) = (loaded.som, loaded.data, loaded.device);
    if data.labels.is_none() {
        bail!(
            "{} has no labels, and MUSIC augmentation keeps each sample's label. Fix: pass the \
             labels file (--labels) or a folder with labels (--data-dir)",
            args.data.describe()
        );
    }
    let map = if args.relabel {
        AugmentMap::from_labelled(&som, &data)?
    } else {
        AugmentMap::from_som(&som).context(
            "the map has no unit labels. Fix: add --relabel to label them with these samples",
        )?
    };
    let cfg = MusicAugment {
        n_variants: args.per_sample,
        steps: args.steps,
        eta: args.eta,
        eta_jitter: args.eta_jitter,
        target_pool: args.target_pool,
        preserved: args.preserved,
        seed: global.seed,
        ..MusicAugment::default()
    };
    let started = Instant::now();
    let variants = augment_samples(&map, &data, &cfg, &device)?;
    let seconds = started.elapsed().as_secs_f64();

    let mut out = if args.include_originals {
        let mut values = data.values.clone();
        values.extend_from_slice(&variants.values);
        let mut labels = data.labels.clone().unwrap_or_default();
        labels.extend(variants.labels.iter().flatten());
        invsom::data::Samples::new(values, data.n_samples + variants.n_samples, data.d_input)?
            .with_labels(labels)?
    } else {
        variants
    };
    out.image_shape = data.image_shape;
    // Back to the data's own units (the map may work on min-max scaled features), then bytes.
    if let Some(scaling) = &som.meta().scaling {
        scaling.invert_slice(&mut out.values);
    }
    let bytes: Vec<u8> = out
        .values
        .iter()
        .map(|&p| (p * 255.0).round().clamp(0.0, 255.0) as u8)
        .collect();
    let dims = match out.image_shape {
        Some([rows, cols]) => vec![out.n_samples, rows, cols],
        None => vec![out.n_samples, out.d_input],
    };
    let labels = out.labels.clone().unwrap_or_default();
    let samples_per_s = (data.n_samples * cfg.n_variants) as f64 / seconds.max(1e-9);
    let value = json!({
        "out": args.out,
        "model": args.model,
        "data": args.data.describe(),
        "n_input": data.n_samples,
        "n_variants": data.n_samples * cfg.n_variants,
        "n_written": out.n_samples,
        "seconds": seconds,
        "samples_per_s": samples_per_s,
        "backend": global.backend,
        "config": cfg,
        "command": command_line(),
    });
    replace_dir_atomic(&args.out, |dir| {
        write_idx(&dir.join(IMAGES_FILE), &dims, &bytes, true)?;
        write_idx(&dir.join(LABELS_FILE), &[labels.len()], &labels, true)?;
        let info = serde_json::to_vec_pretty(&value).expect("JSON value");
        write_atomic(&dir.join(INFO_FILE), &info)
    })
    .with_context(|| {
        format!(
            "cannot write the augmented data to '{}'",
            args.out.display()
        )
    })?;
    global.report(&value, || {
        println!(
            "made {} MUSIC variants of {} samples ({}) in {:.2} s ({:.0} samples/s)",
            data.n_samples * cfg.n_variants,
            data.n_samples,
            args.data.describe(),
            seconds,
            samples_per_s
        );
        println!(
            "wrote {} samples to {}/{{{IMAGES_FILE}, {LABELS_FILE}}}",
            out.n_samples,
            args.out.display()
        );
    });
    Ok(())
}
