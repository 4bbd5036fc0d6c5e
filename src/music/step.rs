//! One damped Gauss-Newton step of MUSIC for a batch of trajectories, as Burn tensor code.
//!
//! For every trajectory `n` with current point `x` (METHOD.md §3):
//! 1. `a = ||x - w_k||^2` for all units (one distance GEMM for the batch).
//! 2. Edited set `T`: the `target_nearest` candidates with the smallest priority (by default the
//!    current squared distance). Preserved set `P`: see [`PreservedSet`]; never a candidate.
//! 3. `S = T u P` (`s = |S|`), rows `J_k = 2 (x - w_k)`, wanted change `da_k = -eta (a_k - g_k)` on
//!    `T` (`g` the goal distances, zero for prototype end points) and `0` on `P`.
//! 4. `dx = J^T (J J^T + lambda I)^-1 da` with `lambda = lambda_rel trace(J J^T) / s`: one batched
//!    `s x s` Cholesky solve ([`crate::linalg::batched_spd_solve`]).
//!
//! Trajectories whose sets are smaller than the batch's (a map border, a class with fewer units)
//! carry padding entries: a zero Jacobian row, a zero wanted change and a unit diagonal, so they
//! change nothing.

use burn::prelude::{Int, Tensor};
use burn::tensor::DType;

use super::config::{MusicConfig, PreservedSet, RowScale};
use crate::error::{Error, Result};
use crate::linalg::batched_spd_solve;
use crate::tensor::{indices, sq_distances};
use crate::topology::Lattice;

/// Masked-out distances are set to this before a top-k selection.
const EXCLUDED: f64 = 1e30;
/// A selected entry is real (not padding) when its masked value is below this.
const VALID_BELOW: f64 = 1e29;

/// What one step edits, per trajectory.
///
/// # Shapes
/// All tensors are `[N, K]` (`N` trajectories, `K` units), except `eta` (`[N]`).
#[derive(Clone, Debug)]
pub struct StepTargets {
    /// `1` where unit `k` belongs to trajectory `n`'s target set, `0` elsewhere. Candidates are
    /// never preserved; at most `target_nearest` of them are edited per step.
    pub candidates: Tensor<2>,
    /// Which candidates are edited: those with the smallest value. `None`: the current squared
    /// distance (the candidates nearest to the current point).
    pub priority: Option<Tensor<2>>,
    /// Goal squared distance of each unit. `None`: zero (move onto the prototypes).
    pub goal: Option<Tensor<2>>,
    /// Per-trajectory step fraction. `None`: `MusicConfig::eta` for all.
    pub eta: Option<Tensor<1>>,
    /// `1` where unit `k` is left free (neither edited nor preserved), e.g. the units along a
    /// lattice route that the point must pass. `None`: only the candidates are free of the
    /// preserved set.
    pub free: Option<Tensor<2>>,
}

impl StepTargets {
    /// Every trajectory heads for the prototypes of its own unit set.
    ///
    /// # Errors
    /// [`Error::Target`] for an empty set or a unit index `>= n_units`.
    pub fn prototypes(
        sets: &[Vec<usize>],
        n_units: usize,
        device: &burn::prelude::Device,
    ) -> Result<Self> {
        Ok(StepTargets {
            candidates: candidate_mask(sets, n_units, device)?,
            priority: None,
            goal: None,
            eta: None,
            free: None,
        })
    }
}

/// The `[N, K]` 0/1 mask of unit sets.
///
/// # Errors
/// [`Error::Target`] for an empty set or a unit index `>= n_units`.
pub fn candidate_mask(
    sets: &[Vec<usize>],
    n_units: usize,
    device: &burn::prelude::Device,
) -> Result<Tensor<2>> {
    let mut mask = vec![0f32; sets.len() * n_units];
    for (n, set) in sets.iter().enumerate() {
        if set.is_empty() {
            return Err(Error::Target(format!(
                "trajectory {n} has an empty target set. Fix: give every trajectory a target"
            )));
        }
        for &u in set {
            if u >= n_units {
                return Err(Error::Target(format!(
                    "trajectory {n} targets unit {u}, outside the map of {n_units} units. \
                     Fix: use unit indices in 0..{n_units}"
                )));
            }
            mask[n * n_units + u] = 1.0;
        }
    }
    Ok(crate::tensor::from_rows(mask, sets.len(), n_units, device))
}

/// The result of one step, with the statistics of the point it started from.
///
/// # Shapes
/// `x_next`, `dx`: `[N, D]`; the rest `[N]`.
#[derive(Clone, Debug)]
pub struct StepOutput {
    /// `x + dx`.
    pub x_next: Tensor<2>,
    /// The step.
    pub dx: Tensor<2>,
    /// Best-matching unit of the starting point `x`.
    pub bmu: Tensor<1, Int>,
    /// `min_{k in T} a_k(x)`: squared distance from `x` to its nearest edited target.
    pub nearest_target_sq: Tensor<1>,
    /// `||a_T(x) - g_T||`: how far the edited distances are from their goals.
    pub goal_residual: Tensor<1>,
}

/// Precomputed, per map and configuration: the grid-neighbourhood table when needed.
#[derive(Clone, Debug)]
pub struct MusicStepper {
    codebook: Tensor<2>,
    cfg: MusicConfig,
    /// `[K, m_max]` preserved units around each BMU, and their 0/1 validity (border padding).
    grid_table: Option<(Tensor<2, Int>, Tensor<2>)>,
}

impl MusicStepper {
    /// A stepper for one codebook. `lattice` is needed only for
    /// [`PreservedSet::GridNeighbourhood`].
    ///
    /// # Shapes
    /// - `codebook`: `[K, D]`
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a bad configuration or a grid neighbourhood without a lattice;
    /// [`Error::Shape`] when the lattice size differs from `K`; [`Error::NonFinite`] for a codebook
    /// with NaN or infinity.
    pub fn new(codebook: Tensor<2>, lattice: Option<&Lattice>, cfg: &MusicConfig) -> Result<Self> {
        cfg.validate()?;
        crate::tensor::check_finite_tensor(
            &codebook,
            "the MUSIC codebook",
            "Fix: retrain the map; a prototype diverged",
        )?;
        let [k, _] = codebook.dims();
        if k == 0 {
            return Err(Error::EmptyData {
                what: "MUSIC codebook",
            });
        }
        let grid_table = match cfg.preserved {
            PreservedSet::Nearest(_) => None,
            PreservedSet::GridNeighbourhood(radius) => {
                let lattice = lattice.ok_or_else(|| Error::InvalidConfig {
                    field: "preserved",
                    reason: "a grid neighbourhood needs the map's lattice. Fix: pass the lattice, \
                             or use PreservedSet::Nearest"
                        .into(),
                })?;
                if lattice.n_units() != k {
                    return Err(Error::Shape {
                        op: "MusicStepper::new",
                        expected: format!("a lattice of {k} units"),
                        got: format!("{} units", lattice.n_units()),
                        fix: "pass the codebook and lattice of the same map",
                    });
                }
                Some(grid_table(lattice, radius, &codebook.device()))
            }
        };
        Ok(MusicStepper {
            codebook,
            cfg: cfg.clone(),
            grid_table,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &MusicConfig {
        &self.cfg
    }

    /// The codebook in use.
    ///
    /// # Shapes
    /// `[K, D]`
    pub fn codebook(&self) -> Tensor<2> {
        self.codebook.clone()
    }

    /// One step for `N` trajectories at once. Does not check its inputs for NaN (callers check the
    /// starts once; see [`crate::music::trajectories`]).
    ///
    /// # Shapes
    /// - `x`: `[N, D]`; `targets`: see [`StepTargets`]
    ///
    /// # Panics
    /// When the shapes of `x`, the codebook and `targets` disagree (a programming error).
    pub fn step(&self, x: Tensor<2>, targets: &StepTargets) -> StepOutput {
        let [n, d] = x.dims();
        let [k, dc] = self.codebook.dims();
        assert_eq!(d, dc, "music step: x has {d} columns, the codebook {dc}");
        assert_eq!(
            targets.candidates.dims(),
            [n, k],
            "music step: candidates must be [N, K]"
        );
        let device = x.device();
        let dtype = x.dtype();

        let dist = sq_distances(x.clone(), self.codebook.clone()); // [N, K]
        let bmu = dist.clone().argmin(1).reshape([n]);
        let is_candidate = targets.candidates.clone().greater_elem(0.5); // [N, K]

        // Units that may not be preserved: the candidates and the free units.
        let unpreservable = match &targets.free {
            Some(free) => (targets.candidates.clone() + free.clone()).clamp_max(1.0),
            None => targets.candidates.clone(),
        };

        // Edited targets: the `t` candidates of smallest priority.
        let t = self.cfg.target_nearest.min(k);
        let priority = targets.priority.clone().unwrap_or_else(|| dist.clone());
        let (t_neg, t_idx) = priority
            .mask_fill(is_candidate.clone().bool_not(), EXCLUDED)
            .neg()
            .topk_with_indices(t, 1); // [N, t]
        let t_valid = t_neg.neg().lower_elem(VALID_BELOW).float().cast(dtype);

        // Preserved units, never candidates or free units.
        let (p_idx, p_valid) = match (&self.cfg.preserved, &self.grid_table) {
            (PreservedSet::GridNeighbourhood(_), Some((table, table_valid))) => {
                let p_idx = table.clone().select(0, bmu.clone()); // [N, m]
                let valid = table_valid.clone().select(0, bmu.clone()).cast(dtype);
                let not_target = unpreservable.gather(1, p_idx.clone()).neg() + 1.0;
                (Some(p_idx), Some(valid * not_target.cast(dtype)))
            }
            (PreservedSet::Nearest(m), _) => {
                let m = (*m).min(k);
                if m == 0 {
                    (None, None)
                } else {
                    let (p_neg, p_idx) = dist
                        .clone()
                        .mask_fill(unpreservable.greater_elem(0.5), EXCLUDED)
                        .neg()
                        .topk_with_indices(m, 1);
                    let valid = p_neg.neg().lower_elem(VALID_BELOW).float().cast(dtype);
                    (Some(p_idx), Some(valid))
                }
            }
            (PreservedSet::GridNeighbourhood(_), None) => {
                unreachable!("MusicStepper::new builds the grid table for a grid neighbourhood")
            }
        };

        let (s_idx, s_valid, edit_flag) = match (p_idx, p_valid) {
            (Some(p_idx), Some(p_valid)) => {
                let m = p_idx.dims()[1];
                let edit = Tensor::cat(
                    vec![t_valid.clone(), Tensor::zeros([n, m], (&device, dtype))],
                    1,
                );
                (
                    Tensor::cat(vec![t_idx, p_idx], 1),
                    Tensor::cat(vec![t_valid.clone(), p_valid], 1),
                    edit,
                )
            }
            _ => (t_idx, t_valid.clone(), t_valid.clone()),
        };
        let s = s_idx.dims()[1];

        // Jacobian rows J_k = 2 (x - w_k), zeroed on padding.
        let w_s = self
            .codebook
            .clone()
            .select(0, s_idx.clone().reshape([n * s]))
            .reshape([n, s, d]);
        let j =
            (x.clone().unsqueeze_dim::<3>(1) - w_s) * s_valid.clone().unsqueeze_dim::<3>(2) * 2.0;
        // Exact squared distances of the selected units (more accurate than the GEMM expansion
        // near a prototype): ||J_k||^2 / 4.
        let row_sq = j.clone().square().sum_dim(2); // [N, s, 1]
        let a_s = row_sq.clone().reshape([n, s]) * 0.25;

        let goal_s = match &targets.goal {
            Some(goal) => goal.clone().gather(1, s_idx.clone()),
            None => Tensor::zeros([n, s], (&device, dtype)),
        };
        let eta = match &targets.eta {
            Some(eta) => eta.clone().cast(dtype).reshape([n, 1]),
            None => Tensor::full([n, 1], self.cfg.eta, (&device, dtype)),
        };
        let gap = (a_s.clone() - goal_s.clone()) * edit_flag.clone(); // [N, s], zero off T
        let n_real = s_valid.clone().sum_dim(1).clamp_min(1.0); // [N, 1]
        let (j, da, lambda) = match self.cfg.row_scale {
            RowScale::SquaredDistance => {
                // Damping scaled by the mean squared row over the real entries.
                let lambda = row_sq.sum_dim(1).reshape([n, 1]) / n_real * self.cfg.lambda_rel;
                (j, gap.clone() * eta.neg(), lambda)
            }
            RowScale::Distance => {
                // Rows of d_k = sqrt(a_k): unit vectors (x - w_k) / d_k, so every unit weighs the
                // same whatever its distance; the mean squared row is 1 (0 on padding).
                let dist_s = a_s.clone().sqrt();
                let inv = (dist_s.clone().clamp_min(1e-12) * 2.0).recip();
                let j = j * inv.unsqueeze_dim::<3>(2);
                let gap_d = (dist_s - goal_s.clamp_min(0.0).sqrt()) * edit_flag.clone();
                let lambda = s_valid.clone().sum_dim(1) / n_real * self.cfg.lambda_rel;
                (j, gap_d * eta.neg(), lambda)
            }
        };

        let eye = Tensor::<2>::eye(s, &device)
            .cast(dtype)
            .unsqueeze_dim::<3>(0); // [1, s, s]
        let padding = (s_valid.neg() + 1.0).unsqueeze_dim::<3>(2); // [N, s, 1]
        let diag = (lambda.unsqueeze_dim::<3>(2) + padding) * eye; // [N, s, s]
        let gram = j.clone().matmul(j.clone().swap_dims(1, 2)) + diag;
        let alpha = batched_spd_solve(gram, da.unsqueeze_dim::<3>(2)); // [N, s, 1]
        let dx = j.swap_dims(1, 2).matmul(alpha).reshape([n, d]);

        let nearest_target_sq = a_s
            .mask_fill(edit_flag.lower_elem(0.5), EXCLUDED)
            .min_dim(1)
            .reshape([n]);
        let goal_residual = gap.square().sum_dim(1).sqrt().reshape([n]);
        StepOutput {
            x_next: x + dx.clone(),
            dx,
            bmu,
            nearest_target_sq,
            goal_residual,
        }
    }
}

/// For every unit: itself and the units within `radius` on the lattice, padded to the longest list
/// (padding repeats the unit with validity 0).
fn grid_table(
    lattice: &Lattice,
    radius: f64,
    device: &burn::prelude::Device,
) -> (Tensor<2, Int>, Tensor<2>) {
    let k = lattice.n_units();
    let lists: Vec<Vec<usize>> = (0..k)
        .map(|u| {
            let mut list = vec![u];
            list.extend(lattice.units_within(u, radius + 1e-9));
            list
        })
        .collect();
    let m = lists.iter().map(Vec::len).max().unwrap_or(1);
    let mut flat = Vec::with_capacity(k * m);
    let mut valid = Vec::with_capacity(k * m);
    for (u, list) in lists.iter().enumerate() {
        for i in 0..m {
            flat.push(list.get(i).copied().unwrap_or(u));
            valid.push(if i < list.len() { 1.0f32 } else { 0.0 });
        }
    }
    (
        indices(&flat, device).reshape([k, m]),
        crate::tensor::from_rows(valid, k, m, device),
    )
}

/// One MUSIC step toward prototype targets, for plain tensors: the edited set of trajectory `n` is
/// chosen among `target_sets[n]`.
///
/// # Shapes
/// - `x`: `[N, D]`, `codebook`: `[K, D]`, `target_sets`: `N` lists -> `[N, D]`
///
/// # Errors
/// As [`MusicStepper::new`]; [`Error::Shape`] when `x` and the codebook differ in `D` or the number
/// of target sets is not `N`; [`Error::Target`] for an empty or out-of-range target set;
/// [`Error::NonFinite`] for NaN or infinity in `x`.
pub fn music_step(
    x: Tensor<2>,
    codebook: Tensor<2>,
    lattice: Option<&Lattice>,
    target_sets: &[Vec<usize>],
    cfg: &MusicConfig,
) -> Result<Tensor<2>> {
    let [n, d] = x.dims();
    let [k, dc] = codebook.dims();
    check_inputs(&x, dc, n, target_sets.len(), "music_step")?;
    let _ = d;
    let stepper = MusicStepper::new(codebook, lattice, cfg)?;
    let targets = StepTargets::prototypes(target_sets, k, &x.device())?;
    Ok(stepper.step(x, &targets).x_next)
}

/// Shape and finiteness checks shared by the public entry points.
pub(crate) fn check_inputs(
    x: &Tensor<2>,
    d_codebook: usize,
    n_expected: usize,
    n_targets: usize,
    op: &'static str,
) -> Result<()> {
    let [n, d] = x.dims();
    if d != d_codebook {
        return Err(Error::Shape {
            op,
            expected: format!("points with {d_codebook} features (the codebook's)"),
            got: format!("{d}"),
            fix: "scale and shape the inputs like the map's training data",
        });
    }
    if n_targets != n_expected || n == 0 {
        return Err(Error::Shape {
            op,
            expected: format!("one target per trajectory ({n} trajectories, at least 1)"),
            got: format!("{n_targets} targets"),
            fix: "pass as many targets as starting points",
        });
    }
    if x.dtype() == DType::F64 || x.dtype() == DType::F32 {
        crate::tensor::check_finite_tensor(
            x,
            "MUSIC starting points",
            "Fix: remove or repair samples with NaN or infinite values",
        )
    } else {
        Err(Error::Invalid(format!(
            "{op}: unsupported dtype {:?}. Fix: use f32 or f64 tensors",
            x.dtype()
        )))
    }
}
