//! MUSIC trajectories: exactness at zero perturbation, the large-damping limit, batching, reaching
//! targets on a seeded mixture-like map, the variants, errors, and flex/wgpu agreement.

use crate::common::max_abs_diff;
use burn::prelude::{Device, Tensor};
use invsom::music::{
    global_edit_invert, linear_interpolation, music_step, project_on_sheet, trajectories, EndPoint,
    MusicConfig, MusicMap, MusicStepper, PreservedSet, Residual, RowScale, StepControl,
    StepTargets, Target,
};
use invsom::tensor::{from_rows, sq_distances, to_vec_f32};
use invsom::topology::{Lattice, LatticeKind};
use invsom::Error;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

const ROWS: usize = 6;
const COLS: usize = 6;
const D: usize = 20;

/// A map like one trained on a 4-component Gaussian mixture in `R^D`: the prototype of cell
/// `(r, c)` blends the four centres bilinearly by `(r, c) / 5`, plus a little noise. Units are
/// labelled by quadrant (class 0 near centre 0, ..., class 3 near centre 3).
struct Fixture {
    lattice: Lattice,
    codebook: Vec<f32>,
    centres: Vec<Vec<f32>>,
    labels: Vec<Option<u8>>,
}

fn fixture(seed: u64) -> Fixture {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let centres: Vec<Vec<f32>> = (0..4)
        .map(|_| (0..D).map(|_| 10.0 * normal.sample(&mut rng)).collect())
        .collect();
    let mut codebook = Vec::with_capacity(ROWS * COLS * D);
    let mut labels = Vec::with_capacity(ROWS * COLS);
    for r in 0..ROWS {
        for c in 0..COLS {
            let (u, v) = (r as f32 / (ROWS - 1) as f32, c as f32 / (COLS - 1) as f32);
            let weights = [(1.0 - u) * (1.0 - v), (1.0 - u) * v, u * (1.0 - v), u * v];
            for j in 0..D {
                let w: f32 = weights.iter().zip(&centres).map(|(wq, c)| wq * c[j]).sum();
                codebook.push(w + 0.3 * normal.sample(&mut rng));
            }
            let quadrant = (2 * r / ROWS) * 2 + 2 * c / COLS;
            labels.push(Some(quadrant as u8));
        }
    }
    Fixture {
        lattice: Lattice::new(ROWS, COLS, LatticeKind::Rectangular, false).unwrap(),
        codebook,
        centres,
        labels,
    }
}

impl Fixture {
    fn codebook(&self, device: &Device) -> Tensor<2> {
        from_rows(self.codebook.clone(), ROWS * COLS, D, device)
    }
    fn prototype(&self, unit: usize) -> &[f32] {
        &self.codebook[unit * D..(unit + 1) * D]
    }
    /// `n` samples of mixture component `q` (spread 1).
    fn samples(&self, q: usize, n: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let normal = Normal::new(0.0f32, 1.0).unwrap();
        (0..n)
            .flat_map(|_| {
                self.centres[q]
                    .iter()
                    .map(|c| c + normal.sample(&mut rng))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

fn dist2(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(p, q)| ((p - q) as f64).powi(2)).sum()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(p, q)| p * q).sum();
    let na: f64 = a.iter().map(|p| p * p).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|p| p * p).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn zero_perturbation_returns_the_input_exactly() {
    let device = Device::flex();
    let f = fixture(1);
    let x = f.samples(0, 4, 2);
    for (preserved, row_scale) in [
        (PreservedSet::Nearest(8), RowScale::SquaredDistance),
        (
            PreservedSet::GridNeighbourhood(1.0),
            RowScale::SquaredDistance,
        ),
        (PreservedSet::Nearest(8), RowScale::Distance),
    ] {
        let cfg = MusicConfig {
            eta: 0.0,
            preserved,
            row_scale,
            ..MusicConfig::default()
        };
        let sets = vec![vec![35], vec![0], vec![20, 21], vec![5]];
        let out = music_step(
            from_rows(x.clone(), 4, D, &device),
            f.codebook(&device),
            Some(&f.lattice),
            &sets,
            &cfg,
        )
        .unwrap();
        assert_eq!(
            to_vec_f32(out),
            x,
            "{preserved:?}: eta = 0 must not move the input"
        );
    }
}

#[test]
fn large_damping_is_a_straight_descent_toward_the_target() {
    let device = Device::flex();
    let f = fixture(3);
    let x = f.samples(0, 1, 4);
    let cb = f.codebook(&device);
    let stepper_cfg = |target_nearest| MusicConfig {
        lambda_rel: 1e8,
        target_nearest,
        ..MusicConfig::default()
    };
    // One target: dx is parallel to w_t - x.
    let target = 35;
    let stepper = MusicStepper::new(cb.clone(), None, &stepper_cfg(1)).unwrap();
    let targets = StepTargets::prototypes(&[vec![target]], 36, &device).unwrap();
    let dx = to_vec_f32(
        stepper
            .step(from_rows(x.clone(), 1, D, &device), &targets)
            .dx,
    );
    let dx: Vec<f64> = dx.iter().map(|&v| v as f64).collect();
    let toward: Vec<f64> = f
        .prototype(target)
        .iter()
        .zip(&x)
        .map(|(w, p)| (w - p) as f64)
        .collect();
    let c = cosine(&dx, &toward);
    assert!(c > 0.9999, "cosine(dx, w_t - x) = {c}");

    // Several targets: dx is parallel to sum_t a_t (w_t - x), the damped gradient of the edit.
    let set = vec![33, 34, 35];
    let stepper = MusicStepper::new(cb, None, &stepper_cfg(3)).unwrap();
    let targets = StepTargets::prototypes(std::slice::from_ref(&set), 36, &device).unwrap();
    let dx = to_vec_f32(
        stepper
            .step(from_rows(x.clone(), 1, D, &device), &targets)
            .dx,
    );
    let dx: Vec<f64> = dx.iter().map(|&v| v as f64).collect();
    let mut toward = vec![0.0f64; D];
    for &t in &set {
        let a = dist2(&x, f.prototype(t));
        for (j, v) in toward.iter_mut().enumerate() {
            *v += a * (f.prototype(t)[j] - x[j]) as f64;
        }
    }
    let c = cosine(&dx, &toward);
    assert!(c > 0.9999, "cosine(dx, sum a_t (w_t - x)) = {c}");
}

#[test]
fn small_damping_keeps_the_preserved_distances_to_first_order() {
    // a_k(x + dx) = a_k(x) + J_k dx + ||dx||^2 exactly, so with little damping the preserved
    // distances change only by ||dx||^2 (J_P dx = 0), while the target gets the asked -eta a_T.
    let device = Device::flex();
    let f = fixture(5);
    let x = f.samples(0, 1, 6);
    let cb = f.codebook(&device);
    let (eta, m, target) = (0.05, 6, 35);
    let cfg = MusicConfig {
        lambda_rel: 1e-6,
        eta,
        preserved: PreservedSet::Nearest(m),
        ..MusicConfig::default()
    };
    let x_t = from_rows(x.clone(), 1, D, &device);
    let next = music_step(x_t.clone(), cb.clone(), None, &[vec![target]], &cfg).unwrap();
    let dx_sq = dist2(&to_vec_f32(next.clone()), &x);
    let before = to_vec_f32(sq_distances(x_t, cb.clone()));
    let after = to_vec_f32(sq_distances(next, cb));
    let linear = |u: usize| (after[u] - before[u]) as f64 - dx_sq;
    let asked = -eta * before[target] as f64;
    let got = linear(target);
    assert!(
        (got - asked).abs() < 1e-3 * asked.abs(),
        "target: asked {asked}, got {got}"
    );
    let mut order: Vec<usize> = (0..36).filter(|&u| u != target).collect();
    order.sort_by(|&a, &b| before[a].total_cmp(&before[b]));
    for &u in &order[..m] {
        let rel = linear(u).abs() / asked.abs();
        assert!(
            rel < 1e-3,
            "preserved unit {u}: first-order change {rel} of the target's"
        );
    }
    // A unit outside the preserved set is free to move at first order.
    let free = order[m..]
        .iter()
        .map(|&u| linear(u).abs())
        .fold(0.0, f64::max);
    assert!(
        free / asked.abs() > 1e-2,
        "no unit outside the preserved set moved: {free}"
    );
}

#[test]
fn batched_step_equals_one_by_one() {
    let device = Device::flex();
    let f = fixture(7);
    let n = 5;
    let x = f.samples(1, n, 8);
    let sets: Vec<Vec<usize>> = vec![vec![35], vec![0, 1, 6], vec![30], vec![17, 18], vec![5]];
    for preserved in [
        PreservedSet::Nearest(8),
        PreservedSet::GridNeighbourhood(1.5),
    ] {
        let cfg = MusicConfig {
            preserved,
            target_nearest: 2,
            ..MusicConfig::default()
        };
        let batch = to_vec_f32(
            music_step(
                from_rows(x.clone(), n, D, &device),
                f.codebook(&device),
                Some(&f.lattice),
                &sets,
                &cfg,
            )
            .unwrap(),
        );
        for i in 0..n {
            let one = to_vec_f32(
                music_step(
                    from_rows(x[i * D..(i + 1) * D].to_vec(), 1, D, &device),
                    f.codebook(&device),
                    Some(&f.lattice),
                    &sets[i..i + 1],
                    &cfg,
                )
                .unwrap(),
            );
            let diff = max_abs_diff(&one, &batch[i * D..(i + 1) * D]);
            assert!(diff < 1e-4, "{preserved:?}, trajectory {i}: {diff}");
        }
    }
}

#[test]
fn trajectories_reach_unit_and_class_targets() {
    let device = Device::flex();
    let f = fixture(11);
    let map = MusicMap::new(f.codebook(&device), &f.lattice, Some(&f.labels)).unwrap();
    let n = 6;
    let starts = from_rows(f.samples(0, n, 12), n, D, &device);
    let targets = vec![
        Target::Unit(35),
        Target::Cell { row: 5, col: 0 },
        Target::Class(3),
        Target::Class(1),
        Target::Unit(20),
        Target::Class(2),
    ];
    let cfg = MusicConfig::default();
    let result = trajectories(&map, starts, &targets, None, &cfg).unwrap();
    for (i, t) in result.iter().enumerate() {
        assert!(
            t.reached,
            "trajectory {i} to {:?} did not reach in {} steps",
            targets[i], t.steps
        );
        assert!(!t.diverged);
        assert_eq!(t.points.len(), t.steps + 1);
        let end = t.points.last().unwrap();
        let start = &t.points[0];
        let nearest = t
            .target_units
            .iter()
            .map(|&u| dist2(end, f.prototype(u)))
            .fold(f64::INFINITY, f64::min);
        let first = t
            .target_units
            .iter()
            .map(|&u| dist2(start, f.prototype(u)))
            .fold(f64::INFINITY, f64::min);
        assert!(
            nearest <= cfg.tolerance * first * 1.0001,
            "trajectory {i}: {nearest} vs {first}"
        );
    }
    assert_eq!(result[1].target_units, vec![30]);
    assert_eq!(
        result[2].target_units,
        vec![21, 22, 23, 27, 28, 29, 33, 34, 35]
    );
}

#[test]
fn variants_reach_their_targets() {
    let device = Device::flex();
    let f = fixture(13);
    let map = MusicMap::new(f.codebook(&device), &f.lattice, Some(&f.labels)).unwrap();
    let n = 4;
    let starts_h = f.samples(0, n, 14);
    let ends_h = f.samples(3, n, 15);
    let targets = vec![Target::Class(3); n];
    let base = MusicConfig::default();
    let variants = vec![
        (
            "grid neighbourhood",
            MusicConfig {
                preserved: PreservedSet::GridNeighbourhood(1.0),
                ..base.clone()
            },
        ),
        (
            "class cluster",
            MusicConfig {
                target_nearest: 3,
                ..base.clone()
            },
        ),
        (
            // Near waypoints need distance rows: with squared-distance rows the preserved units
            // around the point outweigh a target one cell away and pin the point.
            "waypoints",
            MusicConfig {
                waypoint_stride: Some(2),
                row_scale: RowScale::Distance,
                ..base.clone()
            },
        ),
        (
            "distance rows",
            MusicConfig {
                row_scale: RowScale::Distance,
                ..base.clone()
            },
        ),
        (
            "carry",
            MusicConfig {
                residual: Residual::Carry,
                ..base.clone()
            },
        ),
        (
            "fade",
            MusicConfig {
                residual: Residual::Fade,
                ..base.clone()
            },
        ),
        (
            "adaptive",
            MusicConfig {
                step_control: StepControl::Adaptive {
                    grow: 1.5,
                    shrink: 0.5,
                    eta_min: 0.01,
                    eta_max: 0.5,
                },
                ..base.clone()
            },
        ),
        (
            "sample end",
            MusicConfig {
                end_point: EndPoint::Sample,
                target_nearest: 8,
                ..base.clone()
            },
        ),
    ];
    for (name, cfg) in variants {
        let ends =
            (cfg.end_point == EndPoint::Sample).then(|| from_rows(ends_h.clone(), n, D, &device));
        let result = trajectories(
            &map,
            from_rows(starts_h.clone(), n, D, &device),
            &targets,
            ends,
            &cfg,
        )
        .unwrap();
        for (i, t) in result.iter().enumerate() {
            assert!(
                t.reached,
                "{name}: trajectory {i} did not reach in {} steps",
                t.steps
            );
            assert!(
                t.points.iter().flatten().all(|v| v.is_finite()),
                "{name}: non-finite point"
            );
        }
        if name == "adaptive" {
            let fixed = trajectories(
                &map,
                from_rows(starts_h.clone(), n, D, &device),
                &targets,
                None,
                &base,
            )
            .unwrap();
            let (a, b): (usize, usize) = (
                result.iter().map(|t| t.steps).sum(),
                fixed.iter().map(|t| t.steps).sum(),
            );
            assert!(a < b, "adaptive steps {a} should beat fixed steps {b}");
        }
    }
}

#[test]
fn carried_residual_is_kept_along_the_path() {
    // Carrying moves the start's projection on the local sheet exactly as a plain trajectory from
    // that projection would, and adds the start's off-sheet residual to every point.
    let device = Device::flex();
    let f = fixture(17);
    let map = MusicMap::new(f.codebook(&device), &f.lattice, Some(&f.labels)).unwrap();
    let starts_h = f.samples(0, 2, 18);
    let starts = from_rows(starts_h.clone(), 2, D, &device);
    let targets = [Target::Unit(35), Target::Unit(5)];
    let carry = MusicConfig {
        residual: Residual::Carry,
        sheet_units: 6,
        ..MusicConfig::default()
    };
    let projected = to_vec_f32(project_on_sheet(starts.clone(), f.codebook(&device), 6));
    let carried = trajectories(&map, starts, &targets, None, &carry).unwrap();
    let plain = trajectories(
        &map,
        from_rows(projected.clone(), 2, D, &device),
        &targets,
        None,
        &MusicConfig::default(),
    )
    .unwrap();
    for i in 0..2 {
        let start = &starts_h[i * D..(i + 1) * D];
        let proj = &projected[i * D..(i + 1) * D];
        let residual: Vec<f32> = start.iter().zip(proj).map(|(a, b)| a - b).collect();
        let size = residual.iter().map(|v| (v * v) as f64).sum::<f64>().sqrt();
        assert!(size > 0.5, "residual {size} too small to test anything");
        assert!(
            dist2(&carried[i].points[0], start).sqrt() < 1e-3,
            "the start is not restored"
        );
        assert_eq!(carried[i].steps, plain[i].steps);
        assert!(carried[i].reached);
        for (p, q) in carried[i].points.iter().zip(&plain[i].points) {
            let shifted: Vec<f32> = q.iter().zip(&residual).map(|(a, b)| a + b).collect();
            assert!(
                dist2(p, &shifted).sqrt() < 1e-3,
                "carried point is not plain + residual"
            );
        }
    }
}

#[test]
fn bad_targets_are_clear_errors() {
    let device = Device::flex();
    let f = fixture(19);
    let labelled = MusicMap::new(f.codebook(&device), &f.lattice, Some(&f.labels)).unwrap();
    let unlabelled = MusicMap::new(f.codebook(&device), &f.lattice, None).unwrap();
    let starts = || from_rows(f.samples(0, 1, 20), 1, D, &device);
    let cfg = MusicConfig::default();
    let message = |r: invsom::Result<Vec<invsom::music::Trajectory>>| match r {
        Err(Error::Target(m)) => m,
        other => panic!("expected Error::Target, got {other:?}"),
    };
    let m = message(trajectories(
        &labelled,
        starts(),
        &[Target::Unit(36)],
        None,
        &cfg,
    ));
    assert!(m.contains("unit 36") && m.contains("Fix"), "{m}");
    let m = message(trajectories(
        &labelled,
        starts(),
        &[Target::Cell { row: 6, col: 0 }],
        None,
        &cfg,
    ));
    assert!(m.contains("(6, 0)") && m.contains("Fix"), "{m}");
    let m = message(trajectories(
        &labelled,
        starts(),
        &[Target::Class(7)],
        None,
        &cfg,
    ));
    assert!(m.contains("class 7") && m.contains("[0, 1, 2, 3]"), "{m}");
    let m = message(trajectories(
        &unlabelled,
        starts(),
        &[Target::Class(0)],
        None,
        &cfg,
    ));
    assert!(m.contains("no unit labels") && m.contains("Fix"), "{m}");
    // Step-level target sets are checked too.
    assert!(matches!(
        music_step(starts(), f.codebook(&device), None, &[vec![]], &cfg),
        Err(Error::Target(_))
    ));
    assert!(matches!(
        music_step(starts(), f.codebook(&device), None, &[vec![99]], &cfg),
        Err(Error::Target(_))
    ));
    // Wrong counts and shapes.
    assert!(matches!(
        trajectories(
            &labelled,
            starts(),
            &[Target::Unit(0), Target::Unit(1)],
            None,
            &cfg
        ),
        Err(Error::Shape { .. })
    ));
    let sample_cfg = MusicConfig {
        end_point: EndPoint::Sample,
        ..cfg.clone()
    };
    assert!(matches!(
        trajectories(&labelled, starts(), &[Target::Unit(0)], None, &sample_cfg),
        Err(Error::InvalidConfig {
            field: "end_point",
            ..
        })
    ));
    assert!(matches!(
        trajectories(
            &labelled,
            starts(),
            &[Target::Unit(0)],
            None,
            &MusicConfig { eta: 2.0, ..cfg }
        ),
        Err(Error::InvalidConfig { field: "eta", .. })
    ));
}

#[test]
fn non_finite_inputs_are_rejected() {
    let device = Device::flex();
    let f = fixture(21);
    let map = MusicMap::new(f.codebook(&device), &f.lattice, Some(&f.labels)).unwrap();
    let mut x = f.samples(0, 2, 22);
    x[D + 3] = f32::NAN;
    let cfg = MusicConfig::default();
    let r = trajectories(
        &map,
        from_rows(x.clone(), 2, D, &device),
        &[Target::Unit(0), Target::Unit(1)],
        None,
        &cfg,
    );
    assert!(matches!(r, Err(Error::NonFinite { .. })), "{r:?}");
    let r = music_step(
        from_rows(x, 2, D, &device),
        f.codebook(&device),
        None,
        &[vec![0], vec![1]],
        &cfg,
    );
    assert!(matches!(r, Err(Error::NonFinite { .. })), "{r:?}");
    let mut bad_codebook = f.codebook.clone();
    bad_codebook[5] = f32::INFINITY;
    let r = music_step(
        from_rows(f.samples(0, 1, 23), 1, D, &device),
        from_rows(bad_codebook, 36, D, &device),
        None,
        &[vec![0]],
        &cfg,
    );
    assert!(matches!(r, Err(Error::NonFinite { .. })), "{r:?}");
    let ends = {
        let mut e = f.samples(3, 2, 24);
        e[0] = f32::INFINITY;
        from_rows(e, 2, D, &device)
    };
    let sample_cfg = MusicConfig {
        end_point: EndPoint::Sample,
        ..MusicConfig::default()
    };
    let r = trajectories(
        &map,
        from_rows(f.samples(0, 2, 25), 2, D, &device),
        &[Target::Class(3), Target::Class(3)],
        Some(ends),
        &sample_cfg,
    );
    assert!(matches!(r, Err(Error::NonFinite { .. })), "{r:?}");
}

#[test]
fn linear_interpolation_has_both_ends_and_even_spacing() {
    let line = linear_interpolation(&[0.0, 10.0], &[4.0, 2.0], 5);
    assert_eq!(line.len(), 5);
    assert_eq!(line[0], vec![0.0, 10.0]);
    assert_eq!(line[4], vec![4.0, 2.0]);
    assert_eq!(line[1], vec![1.0, 8.0]);
    assert_eq!(linear_interpolation(&[1.0], &[2.0], 1), vec![vec![1.0]]);
    assert!(linear_interpolation(&[1.0], &[2.0], 0).is_empty());
}

#[test]
fn global_edit_invert_starts_at_the_input_and_is_straight() {
    use invsom::inversion::{InversionConfig, InversionOperator, Precision};
    let device = Device::flex();
    let f = fixture(27);
    let cb = f.codebook(&device);
    // 36 prototypes in R^20 span the space: the inversion is exact.
    let op = InversionOperator::new(&cb, &InversionConfig::default()).unwrap();
    let x = f.samples(0, 2, 28);
    let paths = global_edit_invert(
        &op,
        cb,
        from_rows(x.clone(), 2, D, &device),
        &[vec![35], vec![0, 1]],
        None,
        &[0.0, 0.5, 1.0],
        Precision::F32,
    )
    .unwrap();
    for (i, path) in paths.iter().enumerate() {
        assert_eq!(path.len(), 3);
        let err = dist2(&path[0], &x[i * D..(i + 1) * D]).sqrt();
        assert!(err < 1e-2, "fraction 0 must recover the start: {err}");
        // Affine in the fraction: the midpoint is the mean of the ends.
        let mid: Vec<f32> = path[0]
            .iter()
            .zip(&path[2])
            .map(|(a, b)| 0.5 * (a + b))
            .collect();
        let off = dist2(&path[1], &mid).sqrt();
        assert!(off < 1e-2, "not straight: {off}");
    }
}

#[cfg(feature = "wgpu")]
#[test]
fn flex_and_wgpu_agree() {
    let Some(wgpu) = invsom::backend::wgpu_for_tests() else {
        return;
    };
    let flex = Device::flex();
    let f = fixture(31);
    let n = 3;
    let x = f.samples(0, n, 32);
    let sets = vec![vec![35], vec![28, 29, 34, 35], vec![30]];
    let cfg = MusicConfig {
        target_nearest: 2,
        ..MusicConfig::default()
    };
    let run = |device: &Device| {
        to_vec_f32(
            music_step(
                from_rows(x.clone(), n, D, device),
                f.codebook(device),
                Some(&f.lattice),
                &sets,
                &cfg,
            )
            .unwrap(),
        )
    };
    let (a, b) = (run(&flex), run(&wgpu));
    let diff = max_abs_diff(&a, &b);
    assert!(diff < 1e-3, "flex and wgpu steps differ by {diff}");

    // A short trajectory agrees too.
    let run_traj = |device: &Device| {
        let map = MusicMap::new(f.codebook(device), &f.lattice, Some(&f.labels)).unwrap();
        let cfg = MusicConfig {
            max_steps: 5,
            ..MusicConfig::default()
        };
        trajectories(
            &map,
            from_rows(x.clone(), n, D, device),
            &[Target::Unit(35); 3],
            None,
            &cfg,
        )
        .unwrap()
    };
    let (ta, tb) = (run_traj(&flex), run_traj(&wgpu));
    for (p, q) in ta.iter().zip(&tb) {
        assert_eq!(p.steps, q.steps);
        let diff = dist2(p.points.last().unwrap(), q.points.last().unwrap()).sqrt();
        assert!(diff < 1e-2, "trajectory ends differ by {diff}");
    }
}
