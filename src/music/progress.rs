//! Comparing paths at the same progress fraction.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How progress `t in [0, 1]` along a path is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// Fraction of the path's total length (Euclidean arc length of the polyline). For a straight
    /// line this is the interpolation parameter itself.
    #[default]
    ArcLength,
    /// `1 - ||x - x_end|| / ||x_0 - x_end||`, made non-decreasing along the path (a running
    /// maximum), so that it ignores detours and measures how much closer to the end the path got.
    DistanceToEnd,
}

/// The path's points at the progress fractions `ts`, by linear interpolation between consecutive
/// points. A path of one point (or zero length) gives that point for every `t`.
///
/// # Errors
/// [`Error::EmptyData`] for an empty path, [`Error::Shape`] for points of different lengths,
/// [`Error::InvalidConfig`] for a fraction outside `[0, 1]`.
pub fn resample_by_progress(
    points: &[Vec<f32>],
    ts: &[f32],
    progress: Progress,
) -> Result<Vec<Vec<f32>>> {
    let first = points.first().ok_or(Error::EmptyData {
        what: "path to resample",
    })?;
    let d = first.len();
    if let Some(bad) = points.iter().find(|p| p.len() != d) {
        return Err(Error::Shape {
            op: "resample_by_progress",
            expected: format!("points of {d} values"),
            got: format!("{}", bad.len()),
            fix: "pass the points of one path",
        });
    }
    if let Some(bad) = ts
        .iter()
        .find(|t| !(t.is_finite() && (0.0..=1.0).contains(*t)))
    {
        return Err(Error::InvalidConfig {
            field: "progress fraction",
            reason: format!("{bad} is outside [0, 1]. Fix: use fractions in [0, 1]"),
        });
    }
    let dist = |a: &[f32], b: &[f32]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(p, q)| ((p - q) as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    // Progress value of every point, from 0 to `total`.
    let mut marks = Vec::with_capacity(points.len());
    match progress {
        Progress::ArcLength => {
            let mut s = 0.0;
            marks.push(0.0);
            for w in points.windows(2) {
                s += dist(&w[0], &w[1]);
                marks.push(s);
            }
        }
        Progress::DistanceToEnd => {
            let end = points.last().expect("non-empty");
            let d0 = dist(first, end);
            let mut best = 0.0f64;
            for p in points {
                let v = if d0 > 0.0 {
                    1.0 - dist(p, end) / d0
                } else {
                    1.0
                };
                best = best.max(v);
                marks.push(best);
            }
        }
    }
    let total = *marks.last().expect("non-empty");
    Ok(ts
        .iter()
        .map(|&t| {
            if total <= 0.0 || points.len() == 1 {
                return first.clone();
            }
            let goal = t as f64 * total;
            // First segment whose end reaches the goal.
            let j = marks
                .iter()
                .position(|&m| m >= goal)
                .unwrap_or(marks.len() - 1)
                .max(1);
            let (m0, m1) = (marks[j - 1], marks[j]);
            let u = if m1 > m0 {
                ((goal - m0) / (m1 - m0)).clamp(0.0, 1.0)
            } else {
                1.0
            } as f32;
            points[j - 1]
                .iter()
                .zip(&points[j])
                .map(|(&p, &q)| p + u * (q - p))
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straight_line_progress_is_the_parameter() {
        let line = super::super::linear_interpolation(&[0.0, 0.0], &[4.0, 2.0], 5);
        for mode in [Progress::ArcLength, Progress::DistanceToEnd] {
            let got = resample_by_progress(&line, &[0.0, 0.3, 1.0], mode).unwrap();
            assert_eq!(got[0], vec![0.0, 0.0]);
            assert!((got[1][0] - 1.2).abs() < 1e-6 && (got[1][1] - 0.6).abs() < 1e-6);
            assert_eq!(got[2], vec![4.0, 2.0]);
        }
    }

    #[test]
    fn arc_length_of_an_l_shaped_path() {
        // Two legs of length 1 and 3: half-way is 1 unit into the second leg.
        let path = vec![vec![0.0, 0.0], vec![1.0, 0.0], vec![1.0, 3.0]];
        let got = resample_by_progress(&path, &[0.5], Progress::ArcLength).unwrap();
        assert!((got[0][0] - 1.0).abs() < 1e-6 && (got[0][1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(matches!(
            resample_by_progress(&[], &[0.5], Progress::ArcLength),
            Err(Error::EmptyData { .. })
        ));
        assert!(matches!(
            resample_by_progress(&[vec![0.0]], &[1.5], Progress::ArcLength),
            Err(Error::InvalidConfig { .. })
        ));
        assert!(matches!(
            resample_by_progress(&[vec![0.0], vec![1.0, 2.0]], &[0.5], Progress::ArcLength),
            Err(Error::Shape { .. })
        ));
    }
}
