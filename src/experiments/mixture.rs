//! Gaussian mixtures: a 2-D picture of data, map, Voronoi cells, MUSIC paths and straight lines,
//! and the same metrics as the image experiments on a mixture in higher dimension.

use std::path::Path;

use burn::prelude::Device;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::eval::{class_pairs, MixturePosterior, Scorer, Setup, TargetMode};
use super::images::{reference, run_and_write, ImageOptions};
use super::{ensure_dir, ExperimentReport};
use crate::data::mixture::GaussianMixture;
use crate::data::Samples;
use crate::error::Result;
use crate::music::{trajectories, MusicConfig, MusicMap, Target};
use crate::som::Som;
use crate::viz::scatter2d;

/// Options of the mixture experiment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MixtureOptions {
    /// Components of both mixtures.
    pub n_components: usize,
    /// Side of the cube the centres are drawn in.
    pub spread: f32,
    /// Standard deviation of each component.
    pub sigma: f32,
    /// Training samples per mixture (pairs come from as many again, held out).
    pub n_train: usize,
    /// Map side of the 2-D experiment.
    pub side_2d: usize,
    /// Dimension of the higher-D mixture.
    pub d_high: usize,
    /// Map side of the higher-D experiment.
    pub side_high: usize,
    /// Batch-training epochs of both maps.
    pub epochs: usize,
    /// Pairs of each part.
    pub n_pairs: usize,
    /// Seed of the data, the maps and the pairs.
    pub seed: u64,
    /// The MUSIC rule.
    pub music: MusicConfig,
}

impl Default for MixtureOptions {
    fn default() -> Self {
        MixtureOptions {
            n_components: 5,
            spread: 10.0,
            sigma: 0.8,
            n_train: 2000,
            side_2d: 8,
            d_high: 20,
            side_high: 10,
            epochs: 20,
            n_pairs: 200,
            seed: 0,
            music: MusicConfig::single_target_unit(),
        }
    }
}

/// One mixture: training data, held-out pool, posterior.
fn mixture_data(
    options: &MixtureOptions,
    d: usize,
) -> Result<(Samples, Samples, MixturePosterior)> {
    let mix = GaussianMixture {
        n_components: options.n_components,
        d_input: d,
        spread: options.spread,
        sigma: options.sigma,
        seed: options.seed,
    };
    let all = mix.sample(2 * options.n_train)?;
    let train = all.subset(&(0..options.n_train).collect::<Vec<_>>());
    let pool = all.subset(&(options.n_train..2 * options.n_train).collect::<Vec<_>>());
    let posterior = MixturePosterior {
        centres: mix.centres(),
        n_classes: options.n_components,
        sigma: options.sigma,
    };
    Ok((train, pool, posterior))
}

/// The mixture experiment: in 2-D, a picture (`mixture2d.png`: data coloured by component,
/// Voronoi cells of the prototypes, the lattice, three MUSIC paths in magenta and the straight
/// lines between the same end points in grey) and the metrics table (`mixture2d.md/.json`); in
/// `d_high` dimensions, the metrics table (`mixture{D}d.md/.json`, `-curves.png`). Success and
/// confidence are scored by the mixture's exact posterior; the on-manifold distance is to the
/// nearest training sample.
///
/// # Errors
/// Invalid options (see [`GaussianMixture`], [`MusicConfig::validate`]); training and MUSIC
/// errors; [`crate::Error::Io`] when a file cannot be written.
pub fn mixture(options: &MixtureOptions, out: &Path, device: &Device) -> Result<ExperimentReport> {
    ensure_dir(out)?;
    let mut files = Vec::new();
    let mut markdown = String::new();
    let mut summaries = Vec::new();
    for (d, side, name) in [
        (2, options.side_2d, "mixture2d".to_string()),
        (
            options.d_high,
            options.side_high,
            format!("mixture{}d", options.d_high),
        ),
    ] {
        let (train, pool, posterior) = mixture_data(options, d)?;
        let som = super::train_labelled_map(&train, side, options.epochs, options.seed, device)?;
        let pairs = class_pairs(&pool, None, options.n_pairs, options.seed)?;
        let setup = Setup {
            som: &som,
            pool: &pool,
            reference: reference(&train, 0, device),
            scorer: &posterior as &dyn Scorer,
            image_shape: None,
            target_mode: TargetMode::Class,
            chunk: 512,
            device: device.clone(),
        };
        let image_options = ImageOptions {
            n_pairs: options.n_pairs,
            n_reference: 0,
            seed: options.seed,
            chunk: 512,
            n_pictures: 0,
            zoom: 1,
            music: options.music.clone(),
        };
        let extra = json!({
            "d_input": d,
            "map": format!("{side}x{side}"),
            "mixture": { "components": options.n_components, "spread": options.spread, "sigma": options.sigma },
            "n_train": options.n_train,
        });
        let title = format!("Gaussian mixture, D = {d}");
        let (summary, report) =
            run_and_write(&name, &title, &setup, &pairs, &image_options, out, extra)?;
        if d == 2 {
            let picture = out.join("mixture2d.png");
            draw_2d(&som, &train, &pool, &pairs, &options.music, device)?.save_png(&picture)?;
            files.push(picture);
        }
        files.extend(report.files);
        markdown.push_str(&report.markdown);
        markdown.push('\n');
        summaries.push(json!({ "name": name, "summary": summary }));
    }
    Ok(ExperimentReport {
        name: "mixture2d".into(),
        files,
        markdown,
        json: json!({ "parts": summaries, "options": options }),
    })
}

/// The 2-D picture: three pairs, full MUSIC paths and straight lines.
fn draw_2d(
    som: &Som,
    train: &Samples,
    pool: &Samples,
    pairs: &super::eval::Pairs,
    cfg: &MusicConfig,
    device: &Device,
) -> Result<crate::viz::Image> {
    let shown: Vec<usize> = (0..pairs.len().min(3)).collect();
    let starts = pool.subset(&shown.iter().map(|&i| pairs.starts[i]).collect::<Vec<_>>());
    let ends = pool.subset(&shown.iter().map(|&i| pairs.ends[i]).collect::<Vec<_>>());
    let targets: Vec<Target> = shown
        .iter()
        .map(|&i| Target::Class(pairs.classes[i]))
        .collect();
    let map = MusicMap::from_som(som);
    let paths = trajectories(
        &map,
        starts.to_tensor(device),
        &targets,
        Some(ends.to_tensor(device)),
        cfg,
    )?;
    let pt = |v: &[f32]| [v[0], v[1]];
    let points: Vec<[f32; 2]> = (0..train.n_samples).map(|i| pt(train.row(i))).collect();
    let labels = train.labels.clone().unwrap_or_default();
    let codebook = crate::tensor::to_vec_f32(som.codebook());
    let prototypes: Vec<[f32; 2]> = codebook.chunks(2).map(pt).collect();
    let lattice = som.lattice();
    let edges: Vec<(usize, usize)> = (0..lattice.n_units())
        .flat_map(|u| {
            lattice
                .neighbours(u)
                .into_iter()
                .filter(move |&v| v > u)
                .map(move |v| (u, v))
        })
        .collect();
    let mut drawn = Vec::new();
    for path in &paths {
        let line: Vec<[f32; 2]> = path.points.iter().map(|p| pt(p)).collect();
        let first = line[0];
        let last = *line.last().expect("a path has its start");
        drawn.push((vec![first, last], [110, 110, 110]));
        drawn.push((line, [200, 0, 140]));
    }
    Ok(scatter2d(
        &points,
        &labels,
        &prototypes,
        &edges,
        &drawn,
        640,
    ))
}
