//! `invsom invert`: recover inputs from a map's activations and report how exact it is.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use burn::tensor::DType;
use clap::Args;
use serde_json::json;

use invsom::data::Split;
use invsom::inversion::{
    relative_errors, ErrorSummary, InversionConfig, InversionOperator, Lambda, Precision,
};
use invsom::tensor::{to_vec_f32, to_vec_f64};
use invsom::viz;

use super::common::{ensure_dir, load_map_and_data, DataArgs, Global};

#[derive(Args, Debug, Clone)]
pub struct InvertArgs {
    /// The model directory.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Tikhonov lambda in squared input units (0: the exact pseudo-inverse) [default: 0 in f64;
    /// in f32, --lambda-rel 1e-12, because f32 activations carry rounding that a trained map's
    /// smallest singular values would amplify].
    #[arg(long, conflicts_with = "lambda_rel")]
    pub lambda: Option<f64>,
    /// Tikhonov lambda relative to the largest squared singular value of the centred codebook.
    #[arg(long)]
    pub lambda_rel: Option<f64>,
    /// Singular values below this fraction of the largest count as zero (their directions are
    /// reported as lost instead of amplifying rounding errors).
    #[arg(long, default_value_t = 1e-10)]
    pub rank_rtol: f64,
    /// Arithmetic of the inversion product: f32 or f64.
    #[arg(long, default_value = "f64")]
    pub precision: String,
    /// Output folder for the picture of originals above reconstructions.
    #[arg(long, short, default_value = "invsom-out")]
    pub out: PathBuf,
    /// How many samples to draw.
    #[arg(long, default_value_t = 16)]
    pub n_pictures: usize,
}

/// Tikhonov strength used in f32 unless the user sets one: measured on the trained MNIST 30x30
/// map (examples/inversion_precision.rs), it takes the median f32 error from 0.97 to 8e-3.
const F32_LAMBDA_REL: f64 = 1e-12;

pub fn run(global: &Global, args: &InvertArgs) -> anyhow::Result<()> {
    let loaded = load_map_and_data(global, &args.model, &args.data, Split::Test)?;
    let (som, data, device) = (&loaded.som, &loaded.data, &loaded.device);
    let precision: Precision = args.precision.parse()?;
    if precision == Precision::F64 && !invsom::tensor::supports_f64(device) {
        bail!(
            "the {} backend has no f64 arithmetic. Fix: use --precision f32, or --backend flex",
            global.backend
        );
    }
    let lambda = match (args.lambda, args.lambda_rel, precision) {
        (_, Some(r), _) => Lambda::Relative(r),
        (Some(l), None, _) => Lambda::Absolute(l),
        (None, None, Precision::F32) => Lambda::Relative(F32_LAMBDA_REL),
        (None, None, Precision::F64) => Lambda::Absolute(0.0),
    };
    let config = InversionConfig::default()
        .with_lambda(lambda)
        .with_rank_rtol(args.rank_rtol);
    let t0 = Instant::now();
    let operator = InversionOperator::new(&som.codebook(), &config)?;
    let build_seconds = t0.elapsed().as_secs_f64();
    let diag = operator.diagnostics().clone();
    if diag.rank < diag.d_input && !global.json {
        eprintln!(
            "warning: this map cannot invert exactly: rank {} < input dimension {} ({} units). {} dimensions are not identifiable from the activation; the minimum-norm solution is reported. Fix: a map with more units than D + 1 = {} whose prototypes span the data.",
            diag.rank,
            diag.d_input,
            diag.n_units,
            diag.lost_dim,
            diag.d_input + 1
        );
    }
    let x = data.to_tensor(device);
    // Activations are formed in f64 where the backend has it (as the numpy anchor does), so the
    // error measured is the inversion's, not the rounding of ||x||^2 + ||w||^2 - 2 x.w.
    let activations = if invsom::tensor::supports_f64(device) {
        som.activations_f64(x.clone())?
    } else {
        som.activations(x.clone())?
    };
    let t1 = Instant::now();
    let inversion = operator.invert(activations, precision)?;
    let recovered = match precision {
        Precision::F64 => to_vec_f64(inversion.inputs),
        Precision::F32 => to_vec_f32(inversion.inputs)
            .into_iter()
            .map(f64::from)
            .collect(),
    };
    let invert_seconds = t1.elapsed().as_secs_f64();
    let off_hull = to_vec_f64(inversion.off_hull.cast(DType::F64));
    if recovered.iter().any(|v| !v.is_finite()) {
        bail!("the inversion produced non-finite values. Fix: use --lambda-rel 1e-8 or larger on this ill-conditioned map");
    }
    let errors = relative_errors(&data.values, &recovered, data.d_input);
    let summary = ErrorSummary::of(&errors);
    let hull = ErrorSummary::of(&off_hull);

    ensure_dir(&args.out)?;
    let picture = args.out.join("inversion.png");
    if let Some(shape) = data.image_shape {
        let n = args.n_pictures.min(data.n_samples);
        let rec32: Vec<f32> = recovered.iter().map(|&v| v as f32).collect();
        let d = data.d_input;
        let originals: Vec<&[f32]> = (0..n).map(|i| data.row(i)).collect();
        let rebuilt: Vec<&[f32]> = (0..n).map(|i| &rec32[i * d..(i + 1) * d]).collect();
        viz::strips(&[originals, rebuilt], shape, 2, 2).save_png(&picture)?;
    }
    let value = json!({
        "model": args.model,
        "data": args.data.describe(),
        "n_samples": data.n_samples,
        "precision": precision.name(),
        "rank": diag.rank,
        "d_input": diag.d_input,
        "n_units": diag.n_units,
        "exact": diag.exact,
        "lost_dim": diag.lost_dim,
        "s_min": diag.s_min,
        "s_max": diag.s_max,
        "condition_number": diag.condition_number,
        "lambda_abs": diag.lambda_abs,
        "noise_gain": diag.noise_gain,
        "duplicate_prototypes": diag.duplicate_prototypes,
        "median_rel_error": summary.median,
        "mean_rel_error": summary.mean,
        "max_rel_error": summary.max,
        "off_hull_median": hull.median,
        "off_hull_max": hull.max,
        "build_seconds": build_seconds,
        "invert_seconds": invert_seconds,
        "seconds": build_seconds + invert_seconds,
        "picture": data.image_shape.map(|_| picture.clone()),
    });
    global.report(&value, || {
        println!("inverted {} samples of {} through {}", data.n_samples, args.data.describe(), args.model.display());
        println!(
            "codebook     {} units x {} inputs: rank {}{}, s_min {:.3e}, s_max {:.3e}, condition number {:.3e}",
            diag.n_units,
            diag.d_input,
            diag.rank,
            if diag.rank == diag.d_input { " (full rank: invertible)" } else { " (NOT invertible: minimum-norm solution)" },
            diag.s_min,
            diag.s_max,
            diag.condition_number
        );
        if diag.lambda_abs > 0.0 {
            println!("tikhonov     lambda {:.3e} (trades a small bias for less noise amplification)", diag.lambda_abs);
        }
        println!(
            "error ({})  median relative {:.3e}, max {:.3e}",
            precision.name(),
            summary.median,
            summary.max
        );
        println!("off-hull     median {:.3e}, max {:.3e} (distance of the input from the prototypes' affine hull, from the activation alone)", hull.median, hull.max);
        println!("time         {build_seconds:.3} s to build the operator, {invert_seconds:.3} s to invert");
        if data.image_shape.is_some() {
            println!("wrote {} (originals above reconstructions)", picture.display());
        }
    });
    Ok(())
}
