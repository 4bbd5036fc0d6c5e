//! `invsom demo` (and `cargo run --release` with no arguments): train a map on the embedded
//! MNIST sample and write pictures of what it learned.

use std::ops::ControlFlow;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use invsom::data::fixtures;
use invsom::inversion::{
    relative_errors, ErrorSummary, InversionConfig, InversionOperator, Precision,
};
use invsom::music::{self, MusicConfig, MusicMap, Target};
use invsom::som::{self, SomConfig, TrainConfig};
use invsom::tensor::{from_rows, to_vec_f64};
use invsom::viz;

use super::common::{ensure_dir, Global};

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Output folder for the pictures.
    #[arg(long, short, default_value = "invsom-demo")]
    pub out: PathBuf,
    /// Lattice side (rows = cols). 30x30 = 900 units >= 785 = D + 1, enough units for exact
    /// inversion (the demo reports the rank the trained prototypes actually reach).
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
    let test_x = test_set.to_tensor(&device);
    let test_qe = som.quantization_error(&test_x);

    // Inversion: recover held-out digits from their activations alone.
    let operator = InversionOperator::new(&som.codebook(), &InversionConfig::default())?;
    let activations = if invsom::tensor::supports_f64(&device) {
        som.activations_f64(test_x.clone())?
    } else {
        som.activations(test_x.clone())?
    };
    let precision = if invsom::tensor::supports_f64(&device) {
        Precision::F64
    } else {
        Precision::F32
    };
    let recovered = to_vec_f64(operator.invert(activations, precision)?.inputs);
    let errors = ErrorSummary::of(&relative_errors(
        &test_set.values,
        &recovered,
        test_set.d_input,
    ));
    let d = test_set.d_input;
    let n_show = 12;
    let recovered32: Vec<f32> = recovered[..n_show * d].iter().map(|&v| v as f32).collect();
    let originals: Vec<&[f32]> = (0..n_show).map(|i| test_set.row(i)).collect();
    let rebuilt: Vec<&[f32]> = recovered32.chunks(d).collect();
    let inversion = args.out.join("inversion.png");
    viz::strips(&[originals, rebuilt], shape, 2, 2).save_png(&inversion)?;

    // MUSIC: walk the first held-out digit toward another class, next to the straight line.
    let start = test_set.row(0).to_vec();
    let start_class = test_set.label(0).unwrap_or(0);
    let target_class = (start_class + 1) % 10;
    let map = MusicMap::from_som(&som);
    let music_config = MusicConfig::default();
    let trajectory = music::trajectories(
        &map,
        from_rows(start.clone(), 1, d, &device),
        &[Target::Class(target_class)],
        None,
        &music_config,
    )?
    .remove(0);
    let end = trajectory
        .points
        .last()
        .cloned()
        .unwrap_or_else(|| start.clone());
    let n_frames = 10;
    let pick = |i: usize| &trajectory.points[i * (trajectory.points.len() - 1) / (n_frames - 1)];
    let music_row: Vec<&[f32]> = (0..n_frames).map(|i| pick(i).as_slice()).collect();
    let line = music::linear_interpolation(&start, &end, n_frames);
    let line_row: Vec<&[f32]> = line.iter().map(|v| v.as_slice()).collect();
    let walk = args.out.join("music-vs-linear.png");
    viz::strips(&[music_row, line_row], shape, 2, 2).save_png(&walk)?;
    let end_class = som.predict(&from_rows(end.clone(), 1, d, &device))?[0];
    let value = json!({
        "out": args.out,
        "rows": args.side, "cols": args.side,
        "n_train": train_set.n_samples,
        "epochs": report.epochs_done,
        "train_qe": report.qe, "train_te": report.te, "test_qe": test_qe,
        "label_purity": labels.purity,
        "train_seconds": report.seconds,
        "inversion_rank": operator.diagnostics().rank,
        "inversion_exact": operator.diagnostics().exact,
        "inversion_median_rel_error": errors.median,
        "inversion_max_rel_error": errors.max,
        "music_from_class": start_class,
        "music_to_class": target_class,
        "music_steps": trajectory.steps,
        "music_reached": trajectory.reached,
        "music_end_unit_class": end_class,
        "pictures": [prototypes, umatrix, hitmap, inversion, walk],
    });
    global.report(&value, || {
        println!(
            "trained a {0}x{0} map on {1} embedded MNIST digits in {2:.1} s: QE {3:.3} (test {4:.3}), TE {5:.3}, label purity {6:.3}",
            args.side, train_set.n_samples, report.seconds, report.qe, test_qe, report.te, labels.purity
        );
        println!("wrote {}", prototypes.display());
        println!("wrote {}", umatrix.display());
        println!("wrote {}", hitmap.display());
        let diag = operator.diagnostics();
        println!(
            "inversion of {} held-out digits ({}): rank {} of {}, median relative error {:.2e}, max {:.2e}",
            test_set.n_samples,
            precision.name(),
            diag.rank,
            diag.d_input,
            errors.median,
            errors.max
        );
        println!("wrote {} (originals above reconstructions)", inversion.display());
        println!(
            "MUSIC from a {start_class} toward class {target_class}: {} steps, target {}, the end point's unit is labelled {}",
            trajectory.steps,
            if trajectory.reached { "reached" } else { "not reached" },
            end_class.map(|c| c.to_string()).unwrap_or_else(|| "-".into())
        );
        println!("wrote {} (MUSIC above, the straight line between the same end points below)", walk.display());
    });
    Ok(())
}
