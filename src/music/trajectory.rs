//! Whole MUSIC trajectories: repeated batched steps with targets, waypoints, residual carrying,
//! adaptive steps and stopping.

use burn::prelude::Tensor;

use super::config::{EndPoint, MusicConfig, Residual, StepControl};
use super::step::{candidate_mask, check_inputs, MusicStepper, StepTargets};
use super::target::{MusicMap, Target};
use crate::error::{Error, Result};
use crate::linalg::batched_spd_solve;
use crate::tensor::{from_rows, sq_distances, to_vec_f32, to_vec_usize};

/// One trajectory.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    /// The start, then one point per accepted step (with [`Residual::Carry`]/[`Residual::Fade`]:
    /// the moving on-sheet part plus the carried residual).
    pub points: Vec<Vec<f32>>,
    /// Whether the stopping rule was met within the step budget (see [`MusicConfig::tolerance`]).
    pub reached: bool,
    /// Accepted steps (`points.len() - 1`).
    pub steps: usize,
    /// Whether a step produced NaN or infinity; the trajectory stopped before that point.
    pub diverged: bool,
    /// The units the target resolved to.
    pub target_units: Vec<usize>,
}

/// Where a trajectory heads now: a lattice waypoint, or its final target set.
#[derive(Clone, Debug)]
enum Leg {
    /// `path[pos]` is the current waypoint; `pos < path.len() - 1`.
    Waypoint {
        path: Vec<usize>,
        pos: usize,
    },
    Final,
}

/// Runs `N` MUSIC trajectories at once, on the device of `starts`.
///
/// Trajectory `n` starts at row `n` of `starts` and heads for `targets[n]`. With
/// [`EndPoint::Sample`], row `n` of `end_samples` is its end sample (a real sample of the target).
/// Each iteration is one batched [`MusicStepper::step`]; finished trajectories stay in the batch
/// but no longer move.
///
/// Stopping (checked before every step, and once after the budget): with prototype end points,
/// the BMU is one of the target's units and the squared distance to the nearest edited target is
/// at most `tolerance` times its value at the start; with sample end points, `||a_T - a_T(end)||`
/// is at most `tolerance` times its start value. With waypoints, only the final leg can stop.
///
/// # Shapes
/// - `starts`: `[N, D]`; `end_samples`: `[N, D]`; `targets`: `N` entries
///
/// # Errors
/// [`Error::InvalidConfig`] for a bad configuration or sample end points without `end_samples`;
/// [`Error::Target`] for a target the map cannot resolve; [`Error::Shape`] for mismatched shapes;
/// [`Error::NonFinite`] for NaN or infinity in the starts, end samples or codebook.
pub fn trajectories(
    map: &MusicMap<'_>,
    starts: Tensor<2>,
    targets: &[Target],
    end_samples: Option<Tensor<2>>,
    cfg: &MusicConfig,
) -> Result<Vec<Trajectory>> {
    cfg.validate()?;
    let codebook = map.codebook();
    let [k, d] = codebook.dims();
    let [n, _] = starts.dims();
    check_inputs(&starts, d, n, targets.len(), "music::trajectories")?;
    let device = starts.device();
    let sets: Vec<Vec<usize>> = targets
        .iter()
        .map(|&t| map.resolve(t))
        .collect::<Result<_>>()?;
    let stepper = MusicStepper::new(codebook.clone(), Some(map.lattice()), cfg)?;

    // Goal distances of sample end points.
    let end = match cfg.end_point {
        EndPoint::Prototype => None,
        EndPoint::Sample => {
            let e = end_samples.ok_or_else(|| Error::InvalidConfig {
                field: "end_point",
                reason: "sample end points need one end sample per trajectory. Fix: pass \
                         end_samples, or use EndPoint::Prototype"
                    .into(),
            })?;
            if e.dims() != [n, d] {
                return Err(Error::Shape {
                    op: "music::trajectories",
                    expected: format!("end samples [{n}, {d}]"),
                    got: format!("{:?}", e.dims()),
                    fix: "pass one end sample per starting point",
                });
            }
            crate::tensor::check_finite_tensor(
                &e,
                "MUSIC end samples",
                "Fix: remove or repair samples with NaN or infinite values",
            )?;
            let dist = sq_distances(e.clone(), codebook.clone());
            Some((to_vec_f32(e), to_vec_f32(dist.clone()), dist))
        }
    };

    // The moving state: the start, or its projection on the local prototype sheet.
    let starts_h = to_vec_f32(starts.clone());
    let (mut state, residual_h) = match cfg.residual {
        Residual::Move => (starts, None),
        Residual::Carry | Residual::Fade => {
            let projected = project_on_sheet(starts, codebook.clone(), cfg.sheet_units);
            let p_h = to_vec_f32(projected.clone());
            let r: Vec<f32> = starts_h.iter().zip(&p_h).map(|(x, p)| x - p).collect();
            (projected, Some(r))
        }
    };
    let mut state_h = to_vec_f32(state.clone());
    let dist0 = to_vec_f32(sq_distances(state.clone(), codebook.clone()));

    // Final edited sets: the whole target (prototype), or its units nearest to the end sample.
    let final_sets: Vec<Vec<usize>> = match &end {
        None => sets.clone(),
        Some((_, end_dist, _)) => sets
            .iter()
            .enumerate()
            .map(|(i, set)| nearest_units(set, &end_dist[i * k..(i + 1) * k], cfg.target_nearest))
            .collect(),
    };
    // Reference residual at the start, in the measure the stopping rule uses.
    let r0: Vec<f64> = (0..n)
        .map(|i| {
            let a = &dist0[i * k..(i + 1) * k];
            match &end {
                None => final_sets[i]
                    .iter()
                    .map(|&u| a[u] as f64)
                    .fold(f64::INFINITY, f64::min),
                Some((_, end_dist, _)) => final_sets[i]
                    .iter()
                    .map(|&u| (a[u] as f64 - end_dist[i * k + u] as f64).powi(2))
                    .sum::<f64>()
                    .sqrt(),
            }
        })
        .collect();
    // The point the residual fades toward: the target prototype nearest to the start, or the
    // end sample.
    let goal_points: Vec<Vec<f32>> = {
        let w = to_vec_f32(codebook.clone());
        (0..n)
            .map(|i| match &end {
                None => {
                    let a = &dist0[i * k..(i + 1) * k];
                    let u = nearest_units(&final_sets[i], a, 1)[0];
                    w[u * d..(u + 1) * d].to_vec()
                }
                Some((e, _, _)) => e[i * d..(i + 1) * d].to_vec(),
            })
            .collect()
    };

    // Lattice routes (empty without waypoints).
    let routes: Vec<Vec<usize>> = (0..n)
        .map(|i| match cfg.waypoint_stride {
            None => Vec::new(),
            Some(_) => {
                let a = &dist0[i * k..(i + 1) * k];
                let bmu = argmin(a);
                let goal_unit = match &end {
                    None => nearest_units(&final_sets[i], a, 1)[0],
                    Some((_, end_dist, _)) => {
                        nearest_units(&final_sets[i], &end_dist[i * k..(i + 1) * k], 1)[0]
                    }
                };
                map.lattice().grid_path(bmu, goal_unit)
            }
        })
        .collect();
    let mut legs: Vec<Leg> = routes
        .iter()
        .map(|route| match cfg.waypoint_stride {
            Some(stride) if !route.is_empty() => next_leg(route.clone(), 0, stride),
            _ => Leg::Final,
        })
        .collect();

    let eta0 = cfg.eta;
    let mut eta_h = vec![eta0; n];
    let mut last_r = vec![f64::INFINITY; n];
    let mut prev_h: Vec<Option<Vec<f32>>> = vec![None; n];
    let mut active = vec![true; n];
    let mut reached = vec![false; n];
    let mut diverged = vec![false; n];
    let mut points: Vec<Vec<Vec<f32>>> = (0..n)
        .map(|i| {
            vec![display_point(
                &state_h,
                &residual_h,
                &goal_points,
                &starts_h,
                i,
                d,
                cfg.residual,
            )]
        })
        .collect();

    let mut targets_t = build_step_targets(&legs, &routes, &final_sets, &end, k, &device)?;
    for iter in 0..=cfg.max_steps {
        if !active.iter().any(|&a| a) {
            break;
        }
        if matches!(cfg.step_control, StepControl::Adaptive { .. }) {
            targets_t.eta = Some(Tensor::from_data(
                burn::prelude::TensorData::new(eta_h.iter().map(|&e| e as f32).collect(), [n]),
                &device,
            ));
        }
        let out = stepper.step(state.clone(), &targets_t);
        let bmu = to_vec_usize(out.bmu);
        let nearest_sq = to_vec_f32(out.nearest_target_sq);
        let goal_res = to_vec_f32(out.goal_residual);
        let last_iter = iter == cfg.max_steps;

        // Per trajectory: stop, reject the last step, change leg, or move.
        let mut moving = vec![false; n];
        let mut changed_state = false;
        let mut legs_changed = false;
        for i in 0..n {
            if !active[i] {
                continue;
            }
            let final_leg = matches!(legs[i], Leg::Final);
            let r = match (&end, final_leg) {
                (Some(_), true) => goal_res[i] as f64,
                _ => nearest_sq[i] as f64,
            };
            if final_leg {
                let done = match &end {
                    None => sets[i].contains(&bmu[i]) && r <= cfg.tolerance * r0[i],
                    Some(_) => r <= cfg.tolerance * r0[i],
                };
                if done {
                    active[i] = false;
                    reached[i] = true;
                    continue;
                }
            }
            if let StepControl::Adaptive {
                grow,
                shrink,
                eta_min,
                eta_max,
            } = cfg.step_control
            {
                if r > last_r[i] {
                    if let Some(prev) = prev_h[i].take() {
                        // The last step made things worse: undo it and retry with a smaller step.
                        state_h[i * d..(i + 1) * d].copy_from_slice(&prev);
                        points[i].pop();
                        changed_state = true;
                        eta_h[i] = (eta_h[i] * shrink).max(eta_min);
                        continue;
                    }
                }
                eta_h[i] = (eta_h[i] * grow).min(eta_max);
                last_r[i] = r;
            }
            if let Leg::Waypoint { path, pos } = &legs[i] {
                if let Some(at) = path[*pos..].iter().position(|&u| u == bmu[i]) {
                    legs[i] = next_leg(path.clone(), pos + at, cfg.waypoint_stride.unwrap_or(1));
                    legs_changed = true;
                    last_r[i] = f64::INFINITY;
                    prev_h[i] = None;
                    continue; // this step was computed for the old waypoint
                }
            }
            if last_iter {
                continue;
            }
            moving[i] = true;
        }
        if moving.iter().any(|&m| m) {
            let next_h = to_vec_f32(out.x_next);
            for i in (0..n).filter(|&i| moving[i]) {
                let row = &next_h[i * d..(i + 1) * d];
                if row.iter().all(|v| v.is_finite()) {
                    prev_h[i] = Some(state_h[i * d..(i + 1) * d].to_vec());
                    state_h[i * d..(i + 1) * d].copy_from_slice(row);
                    points[i].push(display_point(
                        &state_h,
                        &residual_h,
                        &goal_points,
                        &starts_h,
                        i,
                        d,
                        cfg.residual,
                    ));
                    changed_state = true;
                } else {
                    diverged[i] = true;
                    active[i] = false;
                }
            }
        }
        if changed_state {
            state = from_rows(state_h.clone(), n, d, &device).cast(state.dtype());
        }
        if legs_changed {
            let eta = targets_t.eta.take();
            targets_t = build_step_targets(&legs, &routes, &final_sets, &end, k, &device)?;
            targets_t.eta = eta;
        }
    }

    Ok((0..n)
        .map(|i| Trajectory {
            steps: points[i].len() - 1,
            points: std::mem::take(&mut points[i]),
            reached: reached[i],
            diverged: diverged[i],
            target_units: sets[i].clone(),
        })
        .collect())
}

/// The leg after reaching `path[pos]`: `stride` cells further, or the final leg at the path's end.
fn next_leg(path: Vec<usize>, pos: usize, stride: usize) -> Leg {
    let next = pos + stride;
    if next + 1 >= path.len() {
        Leg::Final
    } else {
        Leg::Waypoint { path, pos: next }
    }
}

/// The step targets for the current legs.
fn build_step_targets(
    legs: &[Leg],
    routes: &[Vec<usize>],
    final_sets: &[Vec<usize>],
    end: &Option<(Vec<f32>, Vec<f32>, Tensor<2>)>,
    k: usize,
    device: &burn::prelude::Device,
) -> Result<StepTargets> {
    let current: Vec<Vec<usize>> = legs
        .iter()
        .zip(final_sets)
        .map(|(leg, set)| match leg {
            Leg::Waypoint { path, pos } => vec![path[*pos]],
            Leg::Final => set.clone(),
        })
        .collect();
    let candidates = candidate_mask(&current, k, device)?;
    // Along a lattice route, the route's units and the final targets must be free to change:
    // preserving the distance to the unit the point is leaving (or about to enter) would pin it.
    let free = if routes.iter().any(|r| !r.is_empty()) {
        let mut mask = vec![0f32; legs.len() * k];
        for (i, (route, set)) in routes.iter().zip(final_sets).enumerate() {
            if !route.is_empty() {
                for &u in route.iter().chain(set) {
                    mask[i * k + u] = 1.0;
                }
            }
        }
        Some(from_rows(mask, legs.len(), k, device))
    } else {
        None
    };
    let (priority, goal) = match end {
        None => (None, None),
        Some((_, _, end_dist)) => {
            // Waypoint legs head for the waypoint prototype itself: goal 0 there.
            let on_final: Vec<f32> = legs
                .iter()
                .map(|l| if matches!(l, Leg::Final) { 1.0 } else { 0.0 })
                .collect();
            let n = legs.len();
            let col = from_rows(on_final, n, 1, device).cast(end_dist.dtype());
            (Some(end_dist.clone()), Some(end_dist.clone() * col))
        }
    };
    Ok(StepTargets {
        candidates,
        priority,
        goal,
        eta: None,
        free,
    })
}

/// A recorded point: the state, plus the carried (or fading) residual.
fn display_point(
    state_h: &[f32],
    residual_h: &Option<Vec<f32>>,
    goal_points: &[Vec<f32>],
    starts_h: &[f32],
    i: usize,
    d: usize,
    mode: Residual,
) -> Vec<f32> {
    let x = &state_h[i * d..(i + 1) * d];
    let Some(residual) = residual_h else {
        return x.to_vec();
    };
    let r = &residual[i * d..(i + 1) * d];
    let weight = match mode {
        Residual::Fade => {
            let goal = &goal_points[i];
            let start = &starts_h[i * d..(i + 1) * d];
            let now: f64 = x
                .iter()
                .zip(goal)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum();
            let first: f64 = start
                .iter()
                .zip(goal)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum();
            if first > 0.0 {
                (now / first).sqrt().min(1.0) as f32
            } else {
                0.0
            }
        }
        _ => 1.0,
    };
    x.iter().zip(r).map(|(a, b)| a + weight * b).collect()
}

/// The `count` units of `set` with the smallest `values` (ties: lower index first).
fn nearest_units(set: &[usize], values: &[f32], count: usize) -> Vec<usize> {
    let mut sorted = set.to_vec();
    sorted.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));
    sorted.truncate(count.max(1));
    sorted
}

fn argmin(values: &[f32]) -> usize {
    (0..values.len())
        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0)
}

/// Orthogonal projection of each point on the affine hull of its `m` nearest prototypes (the
/// local "sheet" of the map), batched.
///
/// The hull is spanned by `b_j = w_j - w_0` (`w_0` the nearest prototype); the coefficients solve
/// `(B B^T + eps I) c = B (x - w_0)` with `eps = 1e-6 trace(B B^T) / (m - 1)`, a tiny ridge that
/// keeps coincident prototypes harmless.
///
/// # Shapes
/// - `x`: `[N, D]`, `codebook`: `[K, D]` -> `[N, D]`
pub fn project_on_sheet(x: Tensor<2>, codebook: Tensor<2>, m: usize) -> Tensor<2> {
    let [n, d] = x.dims();
    let [k, _] = codebook.dims();
    let m = m.min(k);
    let dist = sq_distances(x.clone(), codebook.clone());
    let (_, idx) = dist.neg().topk_with_indices(m, 1); // [N, m]
    let w = codebook.select(0, idx.reshape([n * m])).reshape([n, m, d]);
    let base = w.clone().slice([0..n, 0..1, 0..d]); // [N, 1, D]
    if m < 2 {
        return base.reshape([n, d]);
    }
    let b = w.slice([0..n, 1..m, 0..d]) - base.clone(); // [N, m-1, D]
    let gram = b.clone().matmul(b.clone().swap_dims(1, 2)); // [N, m-1, m-1]
    let dtype = x.dtype();
    let device = x.device();
    let eye = Tensor::<2>::eye(m - 1, &device)
        .cast(dtype)
        .unsqueeze_dim::<3>(0);
    let trace = (gram.clone() * eye.clone()).sum_dim(2).sum_dim(1); // [N, 1, 1]
    let eps = (trace / (m - 1) as f64 * 1e-6).clamp_min(1e-30);
    let rhs = b
        .clone()
        .matmul((x.unsqueeze_dim::<3>(1) - base.clone()).swap_dims(1, 2)); // [N, m-1, 1]
    let c = batched_spd_solve(gram + eye * eps, rhs);
    (base + c.swap_dims(1, 2).matmul(b)).reshape([n, d])
}
