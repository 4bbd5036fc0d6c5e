//! Baselines MUSIC is compared with: straight lines in input space, and the global
//! edit-and-invert variant of METHOD.md §2-3.

use burn::prelude::Tensor;

use super::step::candidate_mask;
use crate::error::{Error, Result};
use crate::inversion::{InversionOperator, Precision};
use crate::tensor::{sq_distances, to_vec_f32};

/// `n_points` evenly spaced points on the segment from `a` to `b`, both ends included
/// (`t_i = i / (n_points - 1)`); one point gives `[a]`, zero points nothing.
///
/// # Panics
/// When `a` and `b` differ in length (a programming error).
pub fn linear_interpolation(a: &[f32], b: &[f32], n_points: usize) -> Vec<Vec<f32>> {
    assert_eq!(
        a.len(),
        b.len(),
        "linear_interpolation: endpoints differ in length"
    );
    match n_points {
        0 => Vec::new(),
        1 => vec![a.to_vec()],
        _ => (0..n_points)
            .map(|i| {
                let t = i as f32 / (n_points - 1) as f32;
                a.iter().zip(b).map(|(&p, &q)| p + t * (q - p)).collect()
            })
            .collect(),
    }
}

/// The global edit-and-invert variant: edit only the target entries of each start's whole
/// activation, `a_k(s) = (1 - s) a_k(x_0) + s g_k` for `k` in the target set (`g = 0`: the
/// prototypes; or the goal activations given), keep every other entry, and invert with the global
/// operator (METHOD.md §2). Because the inversion is affine in `a`, each path is a straight line in
/// input space; it is kept as the "one fixed global system" baseline of METHOD.md §3.
///
/// Returns, per start, one recovered point per fraction in `fractions`.
///
/// # Shapes
/// - `starts`: `[N, D]`, `codebook`: `[K, D]` (the operator's), `goals`: `[N, K]`
///
/// # Errors
/// [`Error::Shape`] when the sizes disagree, [`Error::Target`] for empty or out-of-range target
/// sets, [`Error::InvalidConfig`] for a fraction outside `[0, 1]` or not finite,
/// [`Error::NonFinite`] for NaN in the starts, and the inversion's errors.
pub fn global_edit_invert(
    operator: &InversionOperator,
    codebook: Tensor<2>,
    starts: Tensor<2>,
    target_sets: &[Vec<usize>],
    goals: Option<Tensor<2>>,
    fractions: &[f32],
    precision: Precision,
) -> Result<Vec<Vec<Vec<f32>>>> {
    let [n, d] = starts.dims();
    let [k, dc] = codebook.dims();
    super::step::check_inputs(&starts, dc, n, target_sets.len(), "global_edit_invert")?;
    if let Some(bad) = fractions
        .iter()
        .find(|f| !(f.is_finite() && (0.0..=1.0).contains(*f)))
    {
        return Err(Error::InvalidConfig {
            field: "fractions",
            reason: format!("{bad} is outside [0, 1]. Fix: use fractions of the edit in [0, 1]"),
        });
    }
    let device = operator.device().clone();
    let starts = starts.to_device(&device);
    let codebook = codebook.to_device(&device);
    let a0 = sq_distances(starts, codebook);
    let mask = candidate_mask(target_sets, k, &device)?.cast(a0.dtype());
    let goals = match goals {
        Some(g) if g.dims() == [n, k] => g.to_device(&device).cast(a0.dtype()),
        Some(g) => {
            return Err(Error::Shape {
                op: "global_edit_invert",
                expected: format!("goal activations [{n}, {k}]"),
                got: format!("{:?}", g.dims()),
                fix: "pass one goal activation row per start",
            })
        }
        None => a0.zeros_like(),
    };
    let edit = (goals - a0.clone()) * mask; // [N, K], zero off the target sets
    let f = fractions.len();
    if f == 0 {
        return Ok(vec![Vec::new(); n]);
    }
    let edited: Vec<Tensor<2>> = fractions
        .iter()
        .map(|&s| a0.clone() + edit.clone() * s as f64)
        .collect();
    let recovered = operator.invert(Tensor::cat(edited, 0), precision)?.inputs; // [F*N, D]
    let flat = to_vec_f32(recovered);
    Ok((0..n)
        .map(|i| {
            (0..f)
                .map(|j| flat[(j * n + i) * d..(j * n + i + 1) * d].to_vec())
                .collect()
        })
        .collect())
}
