//! Per-sample recovery errors, for reports and tests.

use serde::Serialize;

/// Per-sample relative errors `||x_i - x_rec_i|| / ||x_i||` of row-major `n x d` data.
///
/// A zero row `x_i` has no scale: its entry is the absolute error `||x_rec_i||` instead.
///
/// # Panics
/// When `d == 0` or the slices do not hold the same whole number of rows.
pub fn relative_errors<A, B>(original: &[A], recovered: &[B], d: usize) -> Vec<f64>
where
    A: Copy + Into<f64>,
    B: Copy + Into<f64>,
{
    assert!(d > 0, "relative_errors: d must be positive");
    assert_eq!(
        original.len(),
        recovered.len(),
        "relative_errors: lengths differ"
    );
    assert_eq!(
        original.len() % d,
        0,
        "relative_errors: length is not a multiple of d"
    );
    original
        .chunks_exact(d)
        .zip(recovered.chunks_exact(d))
        .map(|(x, y)| {
            let (mut err, mut norm) = (0.0f64, 0.0f64);
            for (&p, &q) in x.iter().zip(y) {
                let (p, q): (f64, f64) = (p.into(), q.into());
                err += (p - q) * (p - q);
                norm += p * p;
            }
            if norm > 0.0 {
                (err / norm).sqrt()
            } else {
                err.sqrt()
            }
        })
        .collect()
}

/// Median, mean and maximum of a set of errors.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ErrorSummary {
    /// Number of values summarized.
    pub count: usize,
    /// Median (mean of the two middle values for an even count).
    pub median: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Largest value.
    pub max: f64,
}

impl ErrorSummary {
    /// Summarizes `errors`; NaN sorts last and so shows up as the maximum. All zeros when empty.
    pub fn of(errors: &[f64]) -> ErrorSummary {
        if errors.is_empty() {
            return ErrorSummary {
                count: 0,
                median: 0.0,
                mean: 0.0,
                max: 0.0,
            };
        }
        let mut sorted = errors.to_vec();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
        };
        ErrorSummary {
            count: n,
            median,
            mean: sorted.iter().sum::<f64>() / n as f64,
            max: sorted[n - 1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_errors_by_hand() {
        let x = [3.0f32, 4.0, 0.0, 0.0];
        let y = [3.0f64, 3.0, 0.5, 0.0];
        let e = relative_errors(&x, &y, 2);
        assert!((e[0] - 0.2).abs() < 1e-12);
        assert!(
            (e[1] - 0.5).abs() < 1e-12,
            "zero row gives the absolute error"
        );
    }

    #[test]
    fn summary_by_hand() {
        let s = ErrorSummary::of(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!((s.count, s.median, s.mean, s.max), (4, 2.5, 2.5, 4.0));
        assert_eq!(ErrorSummary::of(&[5.0, 1.0, 3.0]).median, 3.0);
    }
}
