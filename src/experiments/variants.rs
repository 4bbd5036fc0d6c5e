//! The MUSIC rule's variants and a sweep of its settings, compared on the same pairs.

use std::path::Path;

use burn::prelude::Device;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::eval::{class_pairs, evaluate, TargetMode};
use super::images::{check_classifier, map_classes, ImageInputs};
use super::summary::{summarize, Summary};
use super::{ensure_dir, write_json, write_text, ExperimentReport};
use crate::error::Result;
use crate::music::{EndPoint, MusicConfig, PreservedSet, Residual, RowScale, StepControl};
use crate::viz::strips;

/// A named MUSIC configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Variant {
    /// Short description of what differs from the base.
    pub name: String,
    /// The full configuration.
    pub config: MusicConfig,
}

/// Options of the variants experiment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariantOptions {
    /// Pairs (the same for every variant).
    pub n_pairs: usize,
    /// Training samples of the nearest-sample reference (0 = all).
    pub n_reference: usize,
    /// Seed of the pair choice.
    pub seed: u64,
    /// Trajectories per batched MUSIC run.
    pub chunk: usize,
    /// The configurations compared.
    pub variants: Vec<Variant>,
}

impl Default for VariantOptions {
    fn default() -> Self {
        VariantOptions {
            n_pairs: 180,
            n_reference: 5000,
            seed: 1,
            chunk: 256,
            variants: standard_variants(&MusicConfig::single_target_unit()),
        }
    }
}

/// The comparison set, each a change of `base` (METHOD.md §3): the end point (prototype or real
/// target sample), lattice waypoints, residual carrying, the preserved set, row scaling, an
/// adaptive step, and one-at-a-time sweeps of `eta`, `lambda_rel` and the step budget.
pub fn standard_variants(base: &MusicConfig) -> Vec<Variant> {
    let v = |name: &str, change: &dyn Fn(&mut MusicConfig)| {
        let mut config = base.clone();
        change(&mut config);
        Variant {
            name: name.to_string(),
            config,
        }
    };
    vec![
        v("base", &|_| {}),
        v("end = prototype", &|c| c.end_point = EndPoint::Prototype),
        v("end = real sample", &|c| c.end_point = EndPoint::Sample),
        v("end = real sample, 4 target units", &|c| {
            c.end_point = EndPoint::Sample;
            c.target_nearest = 4;
        }),
        v("end = real sample, 16 target units", &|c| {
            c.end_point = EndPoint::Sample;
            c.target_nearest = 16;
        }),
        v("end = real sample, 64 target units", &|c| {
            c.end_point = EndPoint::Sample;
            c.target_nearest = 64;
        }),
        v("16 target units", &|c| c.target_nearest = 16),
        v("64 target units", &|c| c.target_nearest = 64),
        v("waypoints every 2 cells", &|c| c.waypoint_stride = Some(2)),
        v("waypoints every 4 cells", &|c| c.waypoint_stride = Some(4)),
        v("waypoints every 2 cells, distance rows", &|c| {
            c.waypoint_stride = Some(2);
            c.row_scale = RowScale::Distance;
        }),
        v("end = real sample + waypoints every 3 cells", &|c| {
            c.end_point = EndPoint::Sample;
            c.waypoint_stride = Some(3);
        }),
        v("residual carried", &|c| c.residual = Residual::Carry),
        v("residual fading", &|c| c.residual = Residual::Fade),
        v("end = real sample + residual fading", &|c| {
            c.end_point = EndPoint::Sample;
            c.residual = Residual::Fade;
        }),
        v("preserved: none", &|c| {
            c.preserved = PreservedSet::Nearest(0)
        }),
        v("preserved: 4 nearest", &|c| {
            c.preserved = PreservedSet::Nearest(4)
        }),
        v("preserved: 16 nearest", &|c| {
            c.preserved = PreservedSet::Nearest(16)
        }),
        v("preserved: 32 nearest", &|c| {
            c.preserved = PreservedSet::Nearest(32)
        }),
        v("preserved: grid radius 1.5", &|c| {
            c.preserved = PreservedSet::GridNeighbourhood(1.5)
        }),
        v("rows in distance units", &|c| {
            c.row_scale = RowScale::Distance
        }),
        v("adaptive step", &|c| {
            c.step_control = StepControl::Adaptive {
                grow: 1.5,
                shrink: 0.5,
                eta_min: 0.01,
                eta_max: 0.5,
            }
        }),
        v("eta 0.05", &|c| c.eta = 0.05),
        v("eta 0.3", &|c| c.eta = 0.3),
        v("lambda_rel 0.01", &|c| c.lambda_rel = 0.01),
        v("lambda_rel 1", &|c| c.lambda_rel = 1.0),
        v("budget 100 steps", &|c| c.max_steps = 100),
        v("budget 600 steps", &|c| c.max_steps = 600),
        v("eta 0.3, 32 preserved, lambda_rel 0.01", &|c| {
            c.eta = 0.3;
            c.preserved = PreservedSet::Nearest(32);
            c.lambda_rel = 0.01;
        }),
    ]
}

/// One variant's numbers. `_mid` values are means over pairs and over t = 0.25, 0.5, 0.75.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariantRow {
    /// Variant name.
    pub name: String,
    /// Its configuration.
    pub config: MusicConfig,
    /// Target class at the end (classifier).
    pub success_rate: f64,
    /// The map's stopping rule met.
    pub reached_rate: f64,
    /// NaN or infinity produced.
    pub diverged_rate: f64,
    /// Median accepted steps.
    pub steps_median: f64,
    /// MUSIC time, seconds.
    pub seconds: f64,
    /// `[music, linear same ends, linear real ends]` mean classifier max probability.
    pub p_max_mid: [f64; 3],
    /// `[music, linear same ends, linear real ends]` mean target-class probability.
    pub p_target_mid: [f64; 3],
    /// `[music, linear same ends, linear real ends]` mean variance of the Laplacian.
    pub laplacian_mid: [f64; 3],
    /// `[music, linear same ends, linear real ends]` mean distance to the nearest training sample.
    pub nearest_train_mid: [f64; 3],
    /// Rank-biserial r and p of MUSIC vs linear (same ends) on the Laplacian variance at t = 0.5.
    pub laplacian_half_vs_same: (Option<f64>, Option<f64>),
    /// Rank-biserial r and p of MUSIC vs linear (real ends) on the Laplacian variance at t = 0.5.
    pub laplacian_half_vs_real: (Option<f64>, Option<f64>),
    /// Mean rank among the eligible variants (see [`variants`]); `None` when not eligible.
    pub mean_rank: Option<f64>,
}

fn mid(summary: &Summary, method: &str, metric: &str) -> f64 {
    let v: Vec<f64> = [0.25f32, 0.5, 0.75]
        .iter()
        .filter_map(|&t| summary.mean_at(method, metric, t))
        .collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn triple(summary: &Summary, metric: &str) -> [f64; 3] {
    [
        mid(summary, "music", metric),
        mid(summary, "linear_same_ends", metric),
        mid(summary, "linear_real_ends", metric),
    ]
}

/// Success rate a variant needs to be eligible as the default.
pub const MIN_SUCCESS: f64 = 0.95;

/// A variant whose mid-path distance to the nearest training sample exceeds this multiple of the
/// real-image line's has left the data and is not eligible (added after a sweep in which a
/// diverging variant, pixel values far outside [0, 1], won on confidence and sharpness).
pub const OFF_DATA_FACTOR: f64 = 2.0;

/// Runs every variant on the same seeded pairs (MNIST-style class targets) and writes
/// `variants.md`, `variants.json` and `variants-strips.png` (the first pair, one row per
/// variant) into `out`.
///
/// The best variant is chosen by a rule fixed before looking at the numbers: among the variants
/// whose success rate is at least [`MIN_SUCCESS`] and that stay on the data (see
/// [`OFF_DATA_FACTOR`]), the lowest mean of three ranks: classifier
/// confidence (`p_max`, higher is better), sharpness (variance of the Laplacian, higher is
/// better) and distance to the nearest training sample (lower is better), each averaged over
/// t = 0.25, 0.5, 0.75. When no variant is eligible, the one with the highest success rate.
///
/// # Errors
/// As [`super::mnist`].
pub fn variants(
    inputs: &ImageInputs<'_>,
    options: &VariantOptions,
    out: &Path,
    device: &Device,
    mut on_variant: impl FnMut(&VariantRow),
) -> Result<ExperimentReport> {
    ensure_dir(out)?;
    check_classifier(inputs.classifier, inputs.pool)?;
    let classes = map_classes(inputs.som)?;
    let pairs = class_pairs(inputs.pool, Some(&classes), options.n_pairs, options.seed)?;
    let setup = inputs.setup(
        TargetMode::Class,
        options.n_reference,
        options.chunk,
        device,
    );
    let mut rows = Vec::new();
    let mut pictures: Vec<Vec<Vec<f32>>> = Vec::new();
    for variant in &options.variants {
        let eval = evaluate(&setup, &pairs, &variant.config)?;
        let s = summarize(&eval);
        let test = |baseline: &str| {
            s.comparison("laplacian_var", baseline, 0.5)
                .map_or((None, None), |c| (c.effect_size_r, c.p_value))
        };
        let row = VariantRow {
            name: variant.name.clone(),
            config: variant.config.clone(),
            success_rate: s.success_rate,
            reached_rate: s.reached_rate,
            diverged_rate: s.diverged_rate,
            steps_median: s.steps_median,
            seconds: s.music_seconds,
            p_max_mid: triple(&s, "p_max"),
            p_target_mid: triple(&s, "p_target"),
            laplacian_mid: triple(&s, "laplacian_var"),
            nearest_train_mid: triple(&s, "nearest_train"),
            laplacian_half_vs_same: test("linear_same_ends"),
            laplacian_half_vs_real: test("linear_real_ends"),
            mean_rank: None,
        };
        on_variant(&row);
        rows.push(row);
        for i in 0..pairs.len().min(1) {
            pictures.push(eval.frames[0][i].clone());
        }
    }
    let best = rank(&mut rows);

    let mut files = Vec::new();
    if let Some(shape) = inputs.pool.image_shape {
        let n_v = rows.len();
        let per = pictures.len() / n_v.max(1);
        let mut picture_rows: Vec<Vec<&[f32]>> = Vec::new();
        for pair in 0..per {
            for v in 0..n_v {
                picture_rows.push(pictures[v * per + pair].iter().map(Vec::as_slice).collect());
            }
            picture_rows.push(Vec::new());
        }
        let path = out.join("variants-strips.png");
        strips(&picture_rows, shape, 1, 1).save_png(&path)?;
        files.push(path);
    }
    let md = markdown(&rows, best, pairs.len());
    let md_path = out.join("variants.md");
    write_text(&md_path, &md)?;
    files.push(md_path);
    let value = json!({
        "name": "variants",
        "options": options,
        "pairs": pairs,
        "rows": rows,
        "best": best.map(|b| rows[b].name.clone()),
        "selection_rule": "success >= 95% and mid-path nearest-training distance <= 2x the real-image line's, then lowest mean rank of p_max (high), laplacian_var (high), nearest_train (low), each averaged over t = 0.25, 0.5, 0.75",
    });
    let json_path = out.join("variants.json");
    write_json(&json_path, &value)?;
    files.push(json_path);
    Ok(ExperimentReport {
        name: "variants".into(),
        files,
        markdown: md,
        json: json!({ "best": best.map(|b| &rows[b]), "n_variants": rows.len() }),
    })
}

/// Fills `mean_rank` of the eligible rows and returns the index of the best row.
fn rank(rows: &mut [VariantRow]) -> Option<usize> {
    // A path that leaves the data (mid-path farther from every training sample than
    // OFF_DATA_FACTOR times the line between two real images) is not a candidate, however
    // confident or "sharp" its points are: its sharpness is noise.
    let eligible: Vec<usize> = (0..rows.len())
        .filter(|&i| {
            let near = rows[i].nearest_train_mid;
            rows[i].success_rate >= MIN_SUCCESS && near[0] <= OFF_DATA_FACTOR * near[2]
        })
        .collect();
    if eligible.is_empty() {
        return (0..rows.len())
            .max_by(|&a, &b| rows[a].success_rate.total_cmp(&rows[b].success_rate));
    }
    let rank_of = |key: &dyn Fn(&VariantRow) -> f64, higher_better: bool| -> Vec<f64> {
        let mut order = eligible.clone();
        order.sort_by(|&a, &b| {
            let (x, y) = (key(&rows[a]), key(&rows[b]));
            if higher_better {
                y.total_cmp(&x)
            } else {
                x.total_cmp(&y)
            }
        });
        let mut r = vec![0.0; rows.len()];
        for (pos, &i) in order.iter().enumerate() {
            r[i] = pos as f64 + 1.0;
        }
        r
    };
    let conf = rank_of(&|r| r.p_max_mid[0], true);
    let sharp = rank_of(&|r| r.laplacian_mid[0], true);
    let near = rank_of(&|r| r.nearest_train_mid[0], false);
    for &i in &eligible {
        rows[i].mean_rank = Some((conf[i] + sharp[i] + near[i]) / 3.0);
    }
    eligible.into_iter().min_by(|&a, &b| {
        rows[a]
            .mean_rank
            .unwrap_or(f64::MAX)
            .total_cmp(&rows[b].mean_rank.unwrap_or(f64::MAX))
    })
}

fn markdown(rows: &[VariantRow], best: Option<usize>, n_pairs: usize) -> String {
    let mut s = format!(
        "## MUSIC variants on the same {n_pairs} MNIST pairs\n\n\
         Means over pairs and over t = 0.25, 0.5, 0.75 (MUSIC / linear between the same end points / linear between the real images). \
         `r`, `p`: MUSIC vs linear on the variance of the Laplacian at t = 0.5 (paired Wilcoxon; r > 0: MUSIC sharper). \
         Best = success >= 95% and mid-path distance to the training data at most 2x the real-image line's, then the lowest mean rank of confidence, sharpness and nearest-training distance.\n\n\
         | variant | success | stop rule | steps (median) | p_max | p_target | Laplacian var | nearest train | r, p vs same ends | r, p vs real ends | rank | time (s) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    let f3 = |v: [f64; 3], digits: usize| {
        format!("{:.d$} / {:.d$} / {:.d$}", v[0], v[1], v[2], d = digits)
    };
    let rp = |(r, p): (Option<f64>, Option<f64>)| match (r, p) {
        (Some(r), Some(p)) => format!("{r:+.2}, {p:.1e}"),
        _ => "n/a".into(),
    };
    for (i, r) in rows.iter().enumerate() {
        let mark = if Some(i) == best { " **(best)**" } else { "" };
        s.push_str(&format!(
            "| {}{} | {:.1}% | {:.1}% | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} |\n",
            r.name,
            mark,
            100.0 * r.success_rate,
            100.0 * r.reached_rate,
            r.steps_median,
            f3(r.p_max_mid, 3),
            f3(r.p_target_mid, 3),
            f3(r.laplacian_mid, 4),
            f3(r.nearest_train_mid, 2),
            rp(r.laplacian_half_vs_same),
            rp(r.laplacian_half_vs_real),
            r.mean_rank.map_or("-".into(), |m| format!("{m:.1}")),
            r.seconds
        ));
    }
    s
}
