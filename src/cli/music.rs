//! `invsom music`: move one input along a MUSIC trajectory toward a unit, a cell or a class.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use serde_json::json;

use invsom::data::Split;
use invsom::music::{
    linear_interpolation, resample_by_progress, trajectories, EndPoint, MusicConfig, MusicMap,
    Progress, Target,
};
use invsom::tensor::from_rows;
use invsom::viz;

use super::common::{ensure_dir, load_map_and_data, DataArgs, Global};

#[derive(Args, Debug, Clone)]
pub struct MusicArgs {
    /// The model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// The start: an index into the data (--data-dir/--images/--fixture; the test split by
    /// default), or a PNG file of the map's image size (grayscale or RGB, 0 = black).
    #[arg(long)]
    pub from: String,
    /// The target: unit:K (row-major unit index), cell:R,C (lattice row and column) or class:C
    /// (every unit labelled C; the map must be labelled).
    #[arg(long)]
    pub to: String,
    #[command(flatten)]
    pub data: DataArgs,
    /// Step budget [default: the MUSIC configuration's].
    #[arg(long)]
    pub steps: Option<usize>,
    /// Fraction of the target residual removed per step [default: the configuration's].
    #[arg(long)]
    pub eta: Option<f64>,
    /// Damping relative to the mean squared Jacobian row [default: the configuration's].
    #[arg(long)]
    pub lambda_rel: Option<f64>,
    /// A MUSIC configuration as JSON (fields of MusicConfig; missing fields take the defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Index (in the data) of the real end sample, when the configuration ends on a real sample
    /// [default: the first sample of the target class, or the sample nearest to the target unit].
    #[arg(long)]
    pub end: Option<usize>,
    /// Output folder for music.png (MUSIC above the linear interpolation of the same end points).
    #[arg(long, short, default_value = "invsom-out")]
    pub out: PathBuf,
    /// Pictures per row of music.png (evenly spaced in arc length).
    #[arg(long, default_value_t = 10)]
    pub n_frames: usize,
    /// Also write every step as step-NNNN.png.
    #[arg(long)]
    pub frames: bool,
}

/// Parses unit:K, cell:R,C or class:C.
fn parse_target(text: &str) -> anyhow::Result<Target> {
    let bad = || {
        anyhow::anyhow!(
            "cannot read the target '{text}'. Fix: use unit:K (e.g. unit:12), cell:R,C (e.g. cell:3,4) or class:C (e.g. class:7)"
        )
    };
    let (kind, value) = text.split_once(':').ok_or_else(bad)?;
    match kind.trim().to_ascii_lowercase().as_str() {
        "unit" => Ok(Target::Unit(value.trim().parse().map_err(|_| bad())?)),
        "cell" => {
            let (r, c) = value.split_once(',').ok_or_else(bad)?;
            Ok(Target::Cell {
                row: r.trim().parse().map_err(|_| bad())?,
                col: c.trim().parse().map_err(|_| bad())?,
            })
        }
        "class" => Ok(Target::Class(value.trim().parse().map_err(|_| bad())?)),
        _ => Err(bad()),
    }
}

/// Reads a PNG as grayscale values in [0, 1].
fn read_png(path: &Path) -> anyhow::Result<(Vec<f32>, [usize; 2])> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open the start image '{}'", path.display()))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .with_context(|| format!("'{}' is not a PNG image", path.display()))?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .with_context(|| format!("cannot decode the PNG image '{}'", path.display()))?;
    let channels = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    let values = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|px| match channels {
            1 | 2 => px[0] as f32 / 255.0,
            _ => (0.299 * px[0] as f32 + 0.587 * px[1] as f32 + 0.114 * px[2] as f32) / 255.0,
        })
        .collect();
    Ok((values, [h, w]))
}

pub fn run(global: &Global, args: &MusicArgs) -> anyhow::Result<()> {
    let loaded = load_map_and_data(global, &args.model, &args.data, Split::Test)?;
    let (som, data, device) = (&loaded.som, &loaded.data, &loaded.device);
    let d = som.d_input();
    let target = parse_target(&args.to)?;
    let map = MusicMap::from_som(som);
    let units = map.resolve(target)?;

    let mut cfg = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the MUSIC configuration '{}'", path.display())
            })?;
            serde_json::from_str::<MusicConfig>(&text).with_context(|| {
                format!(
                    "'{}' is not a MUSIC configuration (JSON with fields of MusicConfig)",
                    path.display()
                )
            })?
        }
        None => MusicConfig::default(),
    };
    if let Some(steps) = args.steps {
        cfg.max_steps = steps;
    }
    if let Some(eta) = args.eta {
        cfg.eta = eta;
    }
    if let Some(lambda_rel) = args.lambda_rel {
        cfg.lambda_rel = lambda_rel;
    }
    cfg.validate()?;

    let (start, start_label) = if args.from.to_ascii_lowercase().ends_with(".png") {
        let (mut values, shape) = read_png(Path::new(&args.from))?;
        if values.len() != d || som.meta().image_shape.is_some_and(|s| s != shape) {
            bail!(
                "the image '{}' is {}x{} but the map expects {} inputs{}. Fix: give an image of the map's size",
                args.from,
                shape[0],
                shape[1],
                d,
                som.meta().image_shape.map_or(String::new(), |s| format!(" ({}x{} images)", s[0], s[1]))
            );
        }
        if let Some(scaling) = &som.meta().scaling {
            scaling.apply_slice(&mut values);
        }
        (values, None)
    } else {
        let index: usize = args.from.parse().map_err(|_| {
            anyhow::anyhow!(
                "--from '{}' is neither a sample index nor a .png file. Fix: give an index in 0..{} or an image path",
                args.from,
                data.n_samples
            )
        })?;
        if index >= data.n_samples {
            bail!(
                "--from {index} is outside the data ({} samples). Fix: use an index in 0..{}",
                data.n_samples,
                data.n_samples
            );
        }
        (data.row(index).to_vec(), data.label(index))
    };

    // The real end sample, for configurations that end on one.
    let end_index = match (cfg.end_point, args.end) {
        (EndPoint::Prototype, _) => None,
        (EndPoint::Sample, Some(i)) if i < data.n_samples => Some(i),
        (EndPoint::Sample, Some(i)) => bail!(
            "--end {i} is outside the data ({} samples). Fix: use an index in 0..{}",
            data.n_samples,
            data.n_samples
        ),
        (EndPoint::Sample, None) => Some(match target {
            Target::Class(c) => *data.indices_of_class(c).first().with_context(|| {
                format!("the data has no sample of class {c} to end on. Fix: give --end INDEX")
            })?,
            _ => {
                let x = data.to_tensor(device);
                let proto = som
                    .codebook()
                    .select(0, invsom::tensor::indices(&units[..1], device));
                let dist = invsom::tensor::sq_distances(x, proto);
                invsom::tensor::to_vec_usize(dist.argmin(0).squeeze_dim::<1>(0))[0]
            }
        }),
    };
    let end_samples = end_index.map(|i| from_rows(data.row(i).to_vec(), 1, d, device));
    let paths = trajectories(
        &map,
        from_rows(start.clone(), 1, d, device),
        &[target],
        end_samples,
        &cfg,
    )?;
    let path = &paths[0];
    let last = path.points.last().expect("a path holds its start").clone();
    let final_bmu = som.bmu_host(&from_rows(last.clone(), 1, d, device))?[0];
    let final_class = som.unit_labels().and_then(|l| l[final_bmu]);

    ensure_dir(&args.out)?;
    let mut written = Vec::new();
    if let Some(shape) = som.meta().image_shape {
        let n = args.n_frames.max(2);
        let ts: Vec<f32> = (0..n).map(|i| i as f32 / (n - 1) as f32).collect();
        let music_row = resample_by_progress(&path.points, &ts, Progress::ArcLength)?;
        let line_row = linear_interpolation(&start, &last, n);
        let rows = vec![
            music_row.iter().map(Vec::as_slice).collect::<Vec<_>>(),
            line_row.iter().map(Vec::as_slice).collect(),
        ];
        let picture = args.out.join("music.png");
        viz::strips(&rows, shape, 3, 2).save_png(&picture)?;
        written.push(picture);
        if args.frames {
            for (i, p) in path.points.iter().enumerate() {
                let file = args.out.join(format!("step-{i:04}.png"));
                viz::image_grid(&[p.as_slice()], shape, 1, 4, 0).save_png(&file)?;
                written.push(file);
            }
        }
    }
    let value = json!({
        "model": args.model,
        "from": args.from,
        "start_label": start_label,
        "to": target,
        "target_units": units,
        "end_sample": end_index,
        "config": cfg,
        "steps": path.steps,
        "reached": path.reached,
        "diverged": path.diverged,
        "final_bmu": final_bmu,
        "final_class": final_class,
        "files": written,
    });
    global.report(&value, || {
        println!(
            "MUSIC from {} toward {} ({} unit{}): {} steps, {}",
            args.from,
            args.to,
            units.len(),
            if units.len() == 1 { "" } else { "s" },
            path.steps,
            if path.reached {
                "reached the target".to_string()
            } else if path.diverged {
                "stopped: a step diverged".to_string()
            } else {
                format!("did not reach the target within {} steps", cfg.max_steps)
            }
        );
        match final_class {
            Some(c) => println!("final BMU {final_bmu} (class {c})"),
            None => println!("final BMU {final_bmu}"),
        }
        for f in &written {
            println!("wrote {}", f.display());
        }
    });
    Ok(())
}
