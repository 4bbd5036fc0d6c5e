//! `invsom train`: train a map and save it.

use std::ops::ControlFlow;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use invsom::data::Scaling;
use invsom::records::{self, SaveInfo};
use invsom::som::{self, SomConfig, TrainConfig};

use super::common::{command_line, DataArgs, Global};

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Lattice rows.
    #[arg(long, default_value_t = 20)]
    pub rows: usize,
    /// Lattice columns.
    #[arg(long, default_value_t = 20)]
    pub cols: usize,
    /// Cell shape: rectangular or hexagonal.
    #[arg(long, default_value = "rectangular")]
    pub lattice: String,
    /// Wrap both lattice axes (a torus).
    #[arg(long)]
    pub toroidal: bool,
    /// Neighbourhood kernel: gaussian, bubble, mexican-hat (online only) or triangle.
    #[arg(long, default_value = "gaussian")]
    pub neighbourhood: String,
    /// Codebook initialisation: pca, samples or random.
    #[arg(long, default_value = "pca")]
    pub init: String,
    /// Training rule: batch (Kohonen batch) or online (mini-batch).
    #[arg(long, default_value = "batch")]
    pub mode: String,
    /// Number of epochs.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Starting neighbourhood width in lattice units [default: half the larger side].
    #[arg(long)]
    pub sigma_start: Option<f64>,
    /// Final neighbourhood width.
    #[arg(long, default_value_t = 1.0)]
    pub sigma_end: f64,
    /// Schedule of sigma: linear, exponential or inverse-time.
    #[arg(long, default_value = "linear")]
    pub sigma_schedule: String,
    /// Starting learning rate (online).
    #[arg(long, default_value_t = 0.5)]
    pub lr_start: f64,
    /// Final learning rate (online).
    #[arg(long, default_value_t = 0.01)]
    pub lr_end: f64,
    /// Mini-batch size (online).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Scale each feature to [0, 1] before training (minmax), or leave the data as it is (none).
    /// IDX images are already scaled to [0, 1].
    #[arg(long, default_value = "none")]
    pub scale: String,
    /// Output model directory (replaced atomically).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Continue training the map in --out (its schedule resumes; --epochs is the new horizon).
    #[arg(long)]
    pub resume: bool,
}

pub fn run(global: &Global, args: &TrainArgs) -> anyhow::Result<()> {
    let device = global.device()?;
    let mut data = args.data.load()?;
    let train_config = TrainConfig::new()
        .with_mode(args.mode.parse()?)
        .with_n_epochs(args.epochs)
        .with_sigma_start(args.sigma_start)
        .with_sigma_end(args.sigma_end)
        .with_sigma_schedule(args.sigma_schedule.parse()?)
        .with_lr_start(args.lr_start)
        .with_lr_end(args.lr_end)
        .with_batch_size(args.batch_size);
    let mut som = if args.resume {
        let (som, meta) = records::load(&args.out, &device)?;
        if let Some(scaling) = &meta.map.scaling {
            scaling.apply(&mut data);
        }
        som
    } else {
        let scaling = match args.scale.as_str() {
            "none" => None,
            "minmax" => {
                let s = Scaling::fit_min_max(&data);
                s.apply(&mut data);
                Some(s)
            }
            other => anyhow::bail!("unknown --scale '{other}'. Fix: use none or minmax"),
        };
        let config = SomConfig::new(args.rows, args.cols, data.d_input)
            .with_lattice(args.lattice.parse()?)
            .with_toroidal(args.toroidal)
            .with_neighbourhood(args.neighbourhood.parse()?)
            .with_init(args.init.parse()?)
            .with_seed(global.seed);
        train_config.check(&config.lattice()?, config.neighbourhood)?;
        let mut som = config.init(&data, &device)?;
        som.meta_mut().scaling = scaling;
        som
    };
    let bar = global.progress(
        args.epochs.saturating_sub(som.meta().epochs_done) as u64,
        "train",
    );
    let report = som::train(&mut som, &data, &train_config, |e| {
        bar.set_message(format!("sigma {:.2} QE {:.4}", e.sigma, e.qe));
        bar.inc(1);
        ControlFlow::Continue(())
    })?;
    bar.finish_and_clear();
    let labels = if data.labels.is_some() {
        Some(som.label_units(&data)?)
    } else {
        None
    };
    let info = SaveInfo {
        train: Some(train_config),
        qe: Some(report.qe),
        te: Some(report.te),
        command: Some(command_line()),
    };
    records::save(&som, &args.out, &info)?;
    let value = json!({
        "model": args.out,
        "data": args.data.describe(),
        "n_samples": data.n_samples,
        "rows": som.lattice().rows(),
        "cols": som.lattice().cols(),
        "d_input": som.d_input(),
        "epochs_done": report.epochs_done,
        "qe": report.qe,
        "te": report.te,
        "label_purity": labels.as_ref().map(|l| l.purity),
        "seconds": report.seconds,
        "backend": global.backend,
        "history": report.history,
    });
    global.report(&value, || {
        println!(
            "trained a {}x{} map on {} samples of dimension {} ({}) in {:.1} s",
            som.lattice().rows(),
            som.lattice().cols(),
            data.n_samples,
            som.d_input(),
            args.data.describe(),
            report.seconds
        );
        println!(
            "quantization error {:.4}, topographic error {:.4}",
            report.qe, report.te
        );
        if let Some(l) = &labels {
            println!(
                "unit labels: {} units labelled, purity {:.3}",
                l.n_labelled_units, l.purity
            );
        }
        println!("saved to {}", args.out.display());
    });
    Ok(())
}
