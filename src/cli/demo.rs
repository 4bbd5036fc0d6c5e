//! `invsom demo` (and `cargo run --release` with no arguments): train a map on the embedded
//! MNIST sample and write pictures of what it learned.

use std::ops::ControlFlow;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use invsom::data::fixtures;
use invsom::som::{self, SomConfig, TrainConfig};
use invsom::viz;

use super::common::{ensure_dir, Global};

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Output folder for the pictures.
    #[arg(long, short, default_value = "invsom-demo")]
    pub out: PathBuf,
    /// Lattice side (rows = cols). 30x30 = 900 units >= 785 = D + 1, so the map is invertible.
    #[arg(long, default_value_t = 30)]
    pub side: usize,
    /// Number of batch epochs.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
}

impl Default for DemoArgs {
    fn default() -> Self {
        DemoArgs {
            out: PathBuf::from("invsom-demo"),
            side: 30,
            epochs: 20,
        }
    }
}

pub fn run(global: &Global, args: &DemoArgs) -> anyhow::Result<()> {
    let device = global.device()?;
    ensure_dir(&args.out)?;
    let train_set = fixtures::mnist_train();
    let shape = train_set
        .image_shape
        .expect("MNIST fixture has an image shape");
    let config = SomConfig::new(args.side, args.side, train_set.d_input).with_seed(global.seed);
    let mut som = config.init(&train_set, &device)?;
    let train_config = TrainConfig::new().with_n_epochs(args.epochs);
    let bar = global.progress(args.epochs as u64, "train");
    let report = som::train(&mut som, &train_set, &train_config, |e| {
        bar.set_message(format!("sigma {:.2} QE {:.3}", e.sigma, e.qe));
        bar.inc(1);
        ControlFlow::Continue(())
    })?;
    bar.finish_and_clear();
    let labels = som.label_units(&train_set)?;

    let codebook = invsom::tensor::to_vec_f32(som.codebook());
    let prototypes = args.out.join("prototypes.png");
    viz::prototype_grid(&codebook, args.side, args.side, shape, 1).save_png(&prototypes)?;
    let hexagonal = false;
    let umatrix = args.out.join("u-matrix.png");
    viz::heatmap(&som.u_matrix(), args.side, args.side, hexagonal, 12).save_png(&umatrix)?;
    let hits: Vec<f32> = som
        .hit_map(&train_set.to_tensor(&device))?
        .into_iter()
        .map(|h| h as f32)
        .collect();
    let hitmap = args.out.join("hit-map.png");
    viz::heatmap(&hits, args.side, args.side, hexagonal, 12).save_png(&hitmap)?;

    let test_set = fixtures::mnist_test();
    let test_qe = som.quantization_error(&test_set.to_tensor(&device));
    let value = json!({
        "out": args.out,
        "rows": args.side, "cols": args.side,
        "n_train": train_set.n_samples,
        "epochs": report.epochs_done,
        "train_qe": report.qe, "train_te": report.te, "test_qe": test_qe,
        "label_purity": labels.purity,
        "train_seconds": report.seconds,
        "pictures": [prototypes, umatrix, hitmap],
    });
    global.report(&value, || {
        println!(
            "trained a {0}x{0} map on {1} embedded MNIST digits in {2:.1} s: QE {3:.3} (test {4:.3}), TE {5:.3}, label purity {6:.3}",
            args.side, train_set.n_samples, report.seconds, report.qe, test_qe, report.te, labels.purity
        );
        println!("wrote {}", prototypes.display());
        println!("wrote {}", umatrix.display());
        println!("wrote {}", hitmap.display());
    });
    Ok(())
}
