//! Summaries of an [`Evaluation`]: rates, mean curves and paired tests, as JSON and Markdown.

use serde::{Deserialize, Serialize};

use super::eval::{Evaluation, METHODS};
use crate::metrics::stats::{mean_std, median, wilcoxon_signed_rank};

/// Progress fractions of the paired tests.
pub const TEST_FRACTIONS: [f32; 3] = [0.25, 0.5, 0.75];

/// MUSIC against one baseline, on one metric, at one progress fraction.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Comparison {
    /// Metric name.
    pub metric: String,
    /// Progress fraction.
    pub t: f32,
    /// The baseline (a name from [`METHODS`]).
    pub baseline: String,
    /// Median of MUSIC's values over the pairs.
    pub music_median: f64,
    /// Median of the baseline's values.
    pub baseline_median: f64,
    /// Mean of MUSIC's values.
    pub music_mean: f64,
    /// Mean of the baseline's values.
    pub baseline_mean: f64,
    /// Two-sided Wilcoxon signed-rank p-value (`None` when every difference is zero).
    pub p_value: Option<f64>,
    /// Matched-pairs rank-biserial correlation, positive when MUSIC's values are larger.
    pub effect_size_r: Option<f64>,
}

/// Mean of one metric along progress, for one method.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Curve {
    /// Method name.
    pub method: String,
    /// Metric name.
    pub metric: String,
    /// Mean over pairs at each progress fraction.
    pub mean: Vec<f64>,
}

/// The numbers an experiment reports for one rule on one set of pairs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Number of pairs.
    pub n_pairs: usize,
    /// Fraction of MUSIC paths whose end the scorer assigns to the target class.
    pub success_rate: f64,
    /// Fraction of MUSIC paths that met the map's stopping rule within the budget.
    pub reached_rate: f64,
    /// Fraction of MUSIC paths that produced NaN or infinity.
    pub diverged_rate: f64,
    /// Fraction of pairs whose real end sample the scorer assigns to the target class (the
    /// ceiling of the real-image baseline).
    pub real_end_success_rate: f64,
    /// Median accepted steps.
    pub steps_median: f64,
    /// Mean accepted steps.
    pub steps_mean: f64,
    /// Most steps used.
    pub steps_max: usize,
    /// Wall time of the MUSIC runs, seconds.
    pub music_seconds: f64,
    /// Progress fractions of the curves.
    pub ts: Vec<f32>,
    /// Mean curves of every method and metric.
    pub curves: Vec<Curve>,
    /// Paired tests at [`TEST_FRACTIONS`] against both baselines.
    pub comparisons: Vec<Comparison>,
}

impl Summary {
    /// The comparison of `metric` against `baseline` at `t`, if measured.
    pub fn comparison(&self, metric: &str, baseline: &str, t: f32) -> Option<&Comparison> {
        self.comparisons
            .iter()
            .find(|c| c.metric == metric && c.baseline == baseline && (c.t - t).abs() < 1e-6)
    }

    /// Mean over pairs of `metric` for `method` at the progress fraction `t`.
    pub fn mean_at(&self, method: &str, metric: &str, t: f32) -> Option<f64> {
        let j = self.ts.iter().position(|&s| (s - t).abs() < 1e-6)?;
        self.curves
            .iter()
            .find(|c| c.method == method && c.metric == metric)
            .map(|c| c.mean[j])
    }
}

fn rate(flags: &[bool]) -> f64 {
    flags.iter().filter(|&&f| f).count() as f64 / flags.len().max(1) as f64
}

/// Rates, curves and paired tests of an evaluation.
pub fn summarize(eval: &Evaluation) -> Summary {
    let n = eval.steps.len();
    let end = eval.ts.len() - 1;
    let real_end_success: Vec<bool> = {
        let real = &eval.methods[2];
        let p = real.metric("p_target").expect("scored");
        let pm = real.metric("p_max").expect("scored");
        (0..n).map(|i| p[i][end] >= pm[i][end]).collect()
    };
    let steps_f: Vec<f64> = eval.steps.iter().map(|&s| s as f64).collect();
    let mut curves = Vec::new();
    for m in &eval.methods {
        for (name, values) in &m.metrics {
            let mean = (0..eval.ts.len())
                .map(|j| mean_std(&values.iter().map(|r| r[j]).collect::<Vec<_>>()).0)
                .collect();
            curves.push(Curve {
                method: m.method.clone(),
                metric: name.clone(),
                mean,
            });
        }
    }
    let mut comparisons = Vec::new();
    let music = &eval.methods[0];
    for baseline in &eval.methods[1..] {
        for (name, values) in &music.metrics {
            let other = baseline
                .metric(name)
                .expect("same metrics for every method");
            for &t in &TEST_FRACTIONS {
                let Some(j) = eval.ts.iter().position(|&s| (s - t).abs() < 1e-6) else {
                    continue;
                };
                let a: Vec<f64> = values.iter().map(|r| r[j]).collect();
                let b: Vec<f64> = other.iter().map(|r| r[j]).collect();
                let test = wilcoxon_signed_rank(&a, &b).ok();
                comparisons.push(Comparison {
                    metric: name.clone(),
                    t,
                    baseline: baseline.method.clone(),
                    music_median: median(&a),
                    baseline_median: median(&b),
                    music_mean: mean_std(&a).0,
                    baseline_mean: mean_std(&b).0,
                    p_value: test.as_ref().map(|r| r.p_value),
                    effect_size_r: test.as_ref().map(|r| r.effect_size_r),
                });
            }
        }
    }
    Summary {
        n_pairs: n,
        success_rate: rate(&eval.success),
        reached_rate: rate(&eval.reached),
        diverged_rate: rate(&eval.diverged),
        real_end_success_rate: rate(&real_end_success),
        steps_median: median(&steps_f),
        steps_mean: mean_std(&steps_f).0,
        steps_max: eval.steps.iter().copied().max().unwrap_or(0),
        music_seconds: eval.music_seconds,
        ts: eval.ts.clone(),
        curves,
        comparisons,
    }
}

/// What a metric measures, for table captions.
pub fn describe_metric(name: &str) -> &'static str {
    match name {
        "p_target" => "classifier probability of the target class",
        "p_max" => "classifier max probability (confidence)",
        "nearest_train" => "distance to the nearest training sample (lower = closer to the data)",
        "nearest_prototype" => "distance to the nearest prototype (lower = closer to the map)",
        "laplacian_var" => "variance of the Laplacian (sharpness, higher = sharper)",
        "gradient_energy" => "mean gradient energy (sharpness, higher = sharper)",
        _ => "",
    }
}

fn fmt_p(p: Option<f64>) -> String {
    match p {
        None => "n/a".into(),
        Some(p) if p < 1e-4 => format!("{p:.1e}"),
        Some(p) => format!("{p:.4}"),
    }
}

fn fmt_v(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e4) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// The summary as Markdown: the rates, then one paired-test table per baseline.
pub fn markdown(summary: &Summary) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "| pairs | success (target class at the end) | map stop rule met | diverged | real end sample classified as target | steps median / mean / max | MUSIC time (s) |\n|---|---|---|---|---|---|---|\n| {} | {:.1}% | {:.1}% | {:.1}% | {:.1}% | {} / {:.1} / {} | {:.1} |\n\n",
        summary.n_pairs,
        100.0 * summary.success_rate,
        100.0 * summary.reached_rate,
        100.0 * summary.diverged_rate,
        100.0 * summary.real_end_success_rate,
        summary.steps_median,
        summary.steps_mean,
        summary.steps_max,
        summary.music_seconds
    ));
    for baseline in &METHODS[1..] {
        let label = match *baseline {
            "linear_same_ends" => "linear interpolation between the same end points (start and MUSIC's end)",
            _ => "linear interpolation between the two real images (start and the real target sample)",
        };
        s.push_str(&format!(
            "MUSIC vs {label}: medians, paired Wilcoxon signed-rank p-value, rank-biserial effect size r (r > 0: MUSIC larger).\n\n\
             | metric | t | MUSIC median | baseline median | MUSIC mean | baseline mean | p | r |\n|---|---|---|---|---|---|---|---|\n"
        ));
        for c in summary
            .comparisons
            .iter()
            .filter(|c| c.baseline == *baseline)
        {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                c.metric,
                c.t,
                fmt_v(c.music_median),
                fmt_v(c.baseline_median),
                fmt_v(c.music_mean),
                fmt_v(c.baseline_mean),
                fmt_p(c.p_value),
                c.effect_size_r
                    .map_or_else(|| "n/a".into(), |r| format!("{r:+.3}"))
            ));
        }
        s.push('\n');
    }
    s.push_str("Metrics: ");
    let names: Vec<String> = summary
        .curves
        .iter()
        .filter(|c| c.method == METHODS[0])
        .map(|c| format!("`{}` = {}", c.metric, describe_metric(&c.metric)))
        .collect();
    s.push_str(&names.join("; "));
    s.push_str(".\n");
    s
}
