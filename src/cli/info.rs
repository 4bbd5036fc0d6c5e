//! `invsom info`: describe a saved map.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use invsom::records;

use super::common::{DataArgs, Global};

#[derive(Args, Debug, Clone)]
pub struct InfoArgs {
    /// The model directory.
    pub model: PathBuf,
    /// Measure QE and TE on this data instead of reporting the stored training values.
    #[command(flatten)]
    pub data: DataArgs,
    /// Measure on data (the embedded MNIST sample unless --data-dir/--images/--fixture say otherwise).
    #[arg(long)]
    pub measure: bool,
}

pub fn run(global: &Global, args: &InfoArgs) -> anyhow::Result<()> {
    let device = global.device()?;
    let (som, meta) = records::load(&args.model, &device)?;
    let (qe, te, source) = if args.measure {
        let mut data = args.data.load()?;
        if let Some(s) = &som.meta().scaling {
            s.apply(&mut data);
        }
        let x = data.to_tensor(&device);
        som.bmu_host(&x)?; // checks the dimension with a clear error
        (
            Some(som.quantization_error(&x)),
            Some(som.topographic_error(&x)),
            args.data.describe(),
        )
    } else {
        (meta.qe, meta.te, "training data (stored)".to_string())
    };
    let labels = som.unit_labels().map(|l| {
        let mut counts = std::collections::BTreeMap::new();
        for c in l.iter().flatten() {
            *counts.entry(*c).or_insert(0usize) += 1;
        }
        counts
    });
    let lattice = som.lattice();
    let value = json!({
        "model": args.model,
        "rows": lattice.rows(),
        "cols": lattice.cols(),
        "n_units": som.n_units(),
        "d_input": som.d_input(),
        "lattice": lattice.kind(),
        "toroidal": lattice.toroidal(),
        "neighbourhood": som.config().neighbourhood,
        "image_shape": som.meta().image_shape,
        "epochs_done": som.meta().epochs_done,
        "qe": qe,
        "te": te,
        "measured_on": source,
        "units_per_label": labels,
        "crate_version": meta.crate_version,
        "command": meta.command,
    });
    global.report(&value, || {
        println!("model        {}", args.model.display());
        println!(
            "map          {}x{} {:?}{} lattice, {:?} neighbourhood, {} units",
            lattice.rows(),
            lattice.cols(),
            lattice.kind(),
            if lattice.toroidal() { " toroidal" } else { "" },
            som.config().neighbourhood,
            som.n_units()
        );
        let shape = som
            .meta()
            .image_shape
            .map(|[r, c]| format!(" ({r}x{c} images)"))
            .unwrap_or_default();
        println!("input        {} features{shape}", som.d_input());
        println!("trained      {} epochs", som.meta().epochs_done);
        if let (Some(qe), Some(te)) = (qe, te) {
            println!("quality      QE {qe:.4}, TE {te:.4} on {source}");
        }
        match &labels {
            Some(l) => println!(
                "unit labels  {}",
                l.iter()
                    .map(|(c, n)| format!("{c}:{n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            None => println!("unit labels  none (trained without labels)"),
        }
        if let Some(cmd) = &meta.command {
            println!("made by      {cmd}");
        }
    });
    Ok(())
}
