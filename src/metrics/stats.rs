//! Paired statistics for comparing two methods on the same items.
//!
//! [`wilcoxon_signed_rank`] is the two-sided Wilcoxon signed-rank test on paired samples `a`, `b`
//! (differences `d = a - b`), matching `scipy.stats.wilcoxon` with `zero_method="wilcox"`:
//! 1. zero differences are dropped (Wilcoxon's zero handling); `n` counts the rest;
//! 2. the `|d|` are ranked, tied values getting the average of their ranks;
//!    `W+` / `W-` are the rank sums of the positive / negative differences;
//! 3. p-value: the **exact** null distribution of `W+` (all `2^n` sign patterns) when `n <= 25`
//!    and no `|d|` are tied, `2 * min(P(W >= W+), P(W <= W+))` capped at 1 (scipy
//!    `method="exact"`); otherwise the **normal approximation** with mean `n(n+1)/4`, variance
//!    `n(n+1)(2n+1)/24 - sum(t^3 - t)/48` over tie groups of size `t`, and a continuity correction
//!    of 0.5 toward the mean (scipy `method="approx", correction=True`).
//!
//! The effect size is the matched-pairs rank-biserial correlation `r = (W+ - W-) / (W+ + W-)`,
//! in `[-1, 1]`, positive when `a` tends to exceed `b`.

use crate::error::{Error, Result};

/// Largest `n` for which the exact null distribution is used (when there are no ties).
pub const EXACT_MAX_N: usize = 25;

/// Outcome of [`wilcoxon_signed_rank`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WilcoxonResult {
    /// Number of non-zero differences (the pairs the test uses).
    pub n: usize,
    /// Rank sum of the positive differences `a - b > 0`.
    pub w_plus: f64,
    /// Rank sum of the negative differences.
    pub w_minus: f64,
    /// Normal-approximation statistic with tie and continuity corrections; positive when `a`
    /// tends to exceed `b`. Reported for both the exact and the approximate p-value.
    pub z: f64,
    /// Two-sided p-value (exact or normal approximation, see the module docs).
    pub p_value: f64,
    /// True when `p_value` comes from the exact null distribution.
    pub exact: bool,
    /// Matched-pairs rank-biserial correlation `(W+ - W-) / (W+ + W-)`.
    pub effect_size_r: f64,
    /// Median of all differences `a - b`, zeros included.
    pub median_difference: f64,
}

/// Two-sided Wilcoxon signed-rank test of the paired samples `a` and `b`.
///
/// # Errors
/// - [`Error::Shape`] when `a` and `b` differ in length;
/// - [`Error::EmptyData`] when they are empty;
/// - [`Error::NonFinite`] when a value is NaN or infinite;
/// - [`Error::Invalid`] when every difference is zero (the test is undefined).
///
/// # Example
/// ```
/// use invsom::metrics::stats::wilcoxon_signed_rank;
/// let a = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30];
/// let b = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
/// let result = wilcoxon_signed_rank(&a, &b).unwrap();
/// assert_eq!((result.w_plus, result.w_minus), (40.0, 5.0));
/// assert!((result.p_value - 0.0390625).abs() < 1e-12);
/// ```
pub fn wilcoxon_signed_rank(a: &[f64], b: &[f64]) -> Result<WilcoxonResult> {
    if a.len() != b.len() {
        return Err(Error::Shape {
            op: "wilcoxon_signed_rank",
            expected: format!("{} paired values", a.len()),
            got: format!("{} values", b.len()),
            fix: "pass one value per item for each method, in the same order",
        });
    }
    if a.is_empty() {
        return Err(Error::EmptyData {
            what: "wilcoxon_signed_rank",
        });
    }
    if let Some(i) = a.iter().chain(b).position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: format!("wilcoxon_signed_rank input (value {i} of a then b)"),
            fix: "drop the pairs with NaN or infinite scores before testing",
        });
    }
    let differences: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let median_difference = median(&differences);
    let non_zero: Vec<f64> = differences.iter().copied().filter(|&d| d != 0.0).collect();
    let n = non_zero.len();
    if n == 0 {
        return Err(Error::Invalid(
            "wilcoxon_signed_rank: every paired difference is zero, so the test is undefined. \
             Fix: check that the two methods were scored on different outputs"
                .into(),
        ));
    }

    let magnitudes: Vec<f64> = non_zero.iter().map(|d| d.abs()).collect();
    let (ranks, tie_sizes) = average_ranks(&magnitudes);
    let w_plus: f64 = non_zero
        .iter()
        .zip(&ranks)
        .filter(|(d, _)| **d > 0.0)
        .map(|(_, r)| r)
        .sum();
    let total = (n * (n + 1)) as f64 / 2.0;
    let w_minus = total - w_plus;

    let nf = n as f64;
    let mean = nf * (nf + 1.0) / 4.0;
    let tie_term: f64 = tie_sizes.iter().map(|&t| (t * t * t - t) as f64).sum();
    let variance = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie_term / 48.0;
    let sd = variance.sqrt();
    // scipy's continuity correction: shift 0.5 toward the mean.
    let raw = w_plus - mean;
    let z = if sd > 0.0 {
        (raw - 0.5 * raw.signum()) / sd
    } else {
        0.0
    };

    let has_ties = tie_sizes.iter().any(|&t| t > 1);
    let exact = n <= EXACT_MAX_N && !has_ties;
    let p_value = if exact {
        exact_two_sided(n, w_plus.round() as usize)
    } else {
        (2.0 * normal_sf(z.abs())).min(1.0)
    };

    Ok(WilcoxonResult {
        n,
        w_plus,
        w_minus,
        z,
        p_value,
        exact,
        effect_size_r: (w_plus - w_minus) / total,
        median_difference,
    })
}

/// Average ranks (1-based) of `values`, and the size of every group of tied values.
fn average_ranks(values: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut tie_sizes = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1..=end; their average is (start + 1 + end) / 2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        tie_sizes.push(end - start);
        start = end;
    }
    (ranks, tie_sizes)
}

/// Two-sided exact p-value of `W+ = w` among `n` untied ranks: `2 min(P(W <= w), P(W >= w))`.
fn exact_two_sided(n: usize, w: usize) -> f64 {
    let max_sum = n * (n + 1) / 2;
    // counts[s] = number of subsets of {1..n} whose ranks sum to s (f64: 2^25 is exact).
    let mut counts = vec![0.0f64; max_sum + 1];
    counts[0] = 1.0;
    for rank in 1..=n {
        for s in (rank..=max_sum).rev() {
            counts[s] += counts[s - rank];
        }
    }
    let all = 2f64.powi(n as i32);
    let lower: f64 = counts[..=w].iter().sum::<f64>() / all;
    let upper: f64 = counts[w..].iter().sum::<f64>() / all;
    (2.0 * lower.min(upper)).min(1.0)
}

/// Upper tail `P(Z > z)` of the standard normal distribution.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function, accurate to about 1e-14 relative.
///
/// Power series of `erf` for `|x| < 2`, Lentz's continued fraction for `erfc` beyond.
fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        // erf(x) = 2/sqrt(pi) * sum (-1)^k x^(2k+1) / (k! (2k+1))
        let x2 = x * x;
        let mut term = x;
        let mut sum = x;
        for k in 1..200 {
            term *= -x2 / k as f64;
            let contribution = term / (2 * k + 1) as f64;
            sum += contribution;
            if contribution.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        return 1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum;
    }
    // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
    let tiny = 1e-300;
    let mut f = x;
    let mut c = x;
    let mut d = 0.0;
    for k in 1..500 {
        let a = k as f64 / 2.0;
        d = x + a * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = x + a / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / std::f64::consts::PI.sqrt() / f
}

/// Mean and sample standard deviation (divisor `n - 1`; 0 for a single value).
///
/// Returns `(NaN, NaN)` for an empty slice.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() == 1 {
        return (mean, 0.0);
    }
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (mean, (ss / (n - 1.0)).sqrt())
}

/// Median (the mean of the two middle values for an even count). NaN for an empty slice.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_reference_values() {
        // Reference values from scipy.special.erfc.
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.4795001221869535),
            (1.0, 0.15729920705028513),
            (1.9, 0.007209570764742524),
            (2.0, 0.004677734981047266),
            (3.0, 2.209049699858544e-05),
            (6.0, 2.1519736712498913e-17),
            (-1.0, 1.8427007929497148),
        ] {
            let got = erfc(x);
            assert!(
                ((got - want) / want).abs() < 1e-12,
                "erfc({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn average_ranks_share_ties() {
        let (ranks, ties) = average_ranks(&[3.0, 1.0, 3.0, 2.0]);
        assert_eq!(ranks, vec![3.5, 1.0, 3.5, 2.0]);
        assert_eq!(ties, vec![1, 1, 2]);
    }

    #[test]
    fn exact_distribution_is_symmetric_and_sums_to_one() {
        // n = 3: sums 0,1,2,3,3,4,5,6 -> P(W <= 0) = 1/8.
        assert!((exact_two_sided(3, 0) - 0.25).abs() < 1e-15);
        assert!((exact_two_sided(3, 6) - 0.25).abs() < 1e-15);
        assert_eq!(exact_two_sided(3, 3), 1.0);
    }
}
