//! Exact inversion of SOM activations: recovery, hull certificates, regularization, noise gain,
//! partial activations and backend agreement, on small random problems built on the host.

use burn::prelude::{Device, Tensor};
use burn::tensor::DType;
use invsom::inversion::{relative_errors, InversionConfig, InversionOperator, Lambda, Precision};
use invsom::tensor::{indices, to_vec_f64};
use invsom::Error;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn normal(n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

/// Row-major `n x k` squared distances, in f64 on the host.
fn activations(x: &[f64], w: &[f64], d: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for xi in x.chunks_exact(d) {
        for wk in w.chunks_exact(d) {
            out.push(xi.iter().zip(wk).map(|(p, q)| (p - q) * (p - q)).sum());
        }
    }
    out
}

fn tensor(values: &[f64], rows: usize, cols: usize, device: &Device, dtype: DType) -> Tensor<2> {
    invsom::tensor::from_rows_as(values, rows, cols, device, dtype)
}

fn operator(w: &[f64], k: usize, d: usize, config: &InversionConfig) -> InversionOperator {
    let device = Device::flex();
    InversionOperator::new(&tensor(w, k, d, &device, DType::F64), config).expect("operator")
}

fn invert(
    op: &InversionOperator,
    a: &[f64],
    n: usize,
    precision: Precision,
) -> (Vec<f64>, Vec<f64>) {
    let k = op.diagnostics().n_units;
    let dtype = match precision {
        Precision::F32 => DType::F32,
        Precision::F64 => DType::F64,
    };
    let inv = op
        .invert(tensor(a, n, k, op.device(), dtype), precision)
        .expect("invert");
    (to_vec_f64(inv.inputs), to_vec_f64(inv.off_hull))
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

/// `d x r` orthonormal basis (columns, row-major) of the span of `r` row vectors, Gram-Schmidt.
fn orthonormal_rows(rows: &[f64], r: usize, d: usize) -> Vec<Vec<f64>> {
    let mut basis: Vec<Vec<f64>> = Vec::new();
    for i in 0..r {
        let mut v = rows[i * d..(i + 1) * d].to_vec();
        for _ in 0..2 {
            for b in &basis {
                let dot: f64 = v.iter().zip(b).map(|(p, q)| p * q).sum();
                v.iter_mut().zip(b).for_each(|(p, q)| *p -= dot * q);
            }
        }
        let norm = v.iter().map(|p| p * p).sum::<f64>().sqrt();
        if norm > 1e-9 {
            basis.push(v.into_iter().map(|p| p / norm).collect());
        }
    }
    basis
}

#[test]
fn full_rank_codebook_recovers_inputs_exactly() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (k, d, n) = (15, 6, 20);
    let w = normal(k * d, &mut rng);
    let x = normal(n * d, &mut rng);
    let op = operator(&w, k, d, &InversionConfig::default());
    let diag = op.diagnostics();
    assert!(diag.exact && diag.rank == d && diag.lost_dim == 0);
    assert_eq!(diag.duplicate_prototypes, 0);
    let a = activations(&x, &w, d);

    let (rec, off_hull) = invert(&op, &a, n, Precision::F64);
    let err = relative_errors(&x, &rec, d);
    assert!(max(&err) < 1e-10, "f64 max relative error {:e}", max(&err));
    assert!(max(&off_hull) < 1e-6, "off-hull {:e}", max(&off_hull));

    let (rec, _) = invert(&op, &a, n, Precision::F32);
    let err = relative_errors(&x, &rec, d);
    assert!(max(&err) < 1e-4, "f32 max relative error {:e}", max(&err));
}

#[test]
fn ill_conditioned_codebook_far_from_the_origin_stays_accurate() {
    // Like a trained image map: a large common offset (centring rounds at eps * offset) and a
    // direction in which the prototypes barely vary (s_min ~ 1e-6 s_max). Rounding must not be
    // amplified by 1/s_min through the constant direction that P annihilates only in theory.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (k, d, n) = (12, 4, 10);
    let shape = |v: Vec<f64>| -> Vec<f64> {
        v.iter()
            .enumerate()
            .map(|(i, x)| 100.0 + if i % d == d - 1 { 1e-6 * x } else { *x })
            .collect()
    };
    let w = shape(normal(k * d, &mut rng));
    let x = shape(normal(n * d, &mut rng));
    let op = operator(&w, k, d, &InversionConfig::default());
    let diag = op.diagnostics();
    assert!(diag.exact && diag.condition_number > 1e5, "{diag:?}");
    let (rec, _) = invert(&op, &activations(&x, &w, d), n, Precision::F64);
    // The last coordinate is only determined to about cond * eps * |a| / s_max; the others exactly.
    let err = max(&relative_errors(&x, &rec, d));
    assert!(err < 1e-9, "relative error {err:e}");
}

#[test]
fn rank_deficient_hull_recovers_inside_and_certifies_outside() {
    // K = 10 prototypes on a 3-dimensional affine subspace of R^7.
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (k, d, r, n) = (10, 7, 3, 12);
    let origin = normal(d, &mut rng);
    let directions = normal(r * d, &mut rng);
    let on_sheet = |z: &[f64]| -> Vec<f64> {
        (0..d)
            .map(|j| origin[j] + (0..r).map(|i| z[i] * directions[i * d + j]).sum::<f64>())
            .collect()
    };
    let w: Vec<f64> = (0..k)
        .flat_map(|_| on_sheet(&normal(r, &mut rng)))
        .collect();
    let op = operator(&w, k, d, &InversionConfig::default());
    let diag = op.diagnostics();
    assert_eq!(
        (diag.rank, diag.lost_dim, diag.recoverable_dim),
        (r, d - r, r)
    );
    assert!(!diag.exact);

    // Inside the hull: exact, certificate zero.
    let inside: Vec<f64> = (0..n)
        .flat_map(|_| on_sheet(&normal(r, &mut rng)))
        .collect();
    let (rec, off_hull) = invert(&op, &activations(&inside, &w, d), n, Precision::F64);
    assert!(max(&relative_errors(&inside, &rec, d)) < 1e-10);
    assert!(
        max(&off_hull) < 1e-6,
        "inside off-hull {:e}",
        max(&off_hull)
    );

    // Outside: the orthogonal projection onto the hull, and the distance to it.
    let outside = normal(n * d, &mut rng);
    let (rec, off_hull) = invert(&op, &activations(&outside, &w, d), n, Precision::F64);
    let basis = orthonormal_rows(&directions, r, d);
    let centre = op.centre();
    for i in 0..n {
        let x = &outside[i * d..(i + 1) * d];
        let y: Vec<f64> = x.iter().zip(centre).map(|(p, c)| p - c).collect();
        let mut projection = centre.to_vec();
        for b in &basis {
            let dot: f64 = y.iter().zip(b).map(|(p, q)| p * q).sum();
            projection
                .iter_mut()
                .zip(b)
                .for_each(|(p, q)| *p += dot * q);
        }
        let distance = x
            .iter()
            .zip(&projection)
            .map(|(p, q)| (p - q) * (p - q))
            .sum::<f64>()
            .sqrt();
        let gap = max(&relative_errors(&projection, &rec[i * d..(i + 1) * d], d));
        assert!(gap < 1e-10, "sample {i}: projection mismatch {gap:e}");
        assert!(
            (off_hull[i] - distance).abs() < 1e-8 * (1.0 + distance),
            "sample {i}: certificate {} vs distance {distance}",
            off_hull[i]
        );
        assert!(distance > 0.1, "test point should lie off the hull");
    }
}

#[test]
fn fewer_units_than_dimensions_is_min_norm_not_an_error() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (k, d) = (4, 9);
    let w = normal(k * d, &mut rng);
    let op = operator(&w, k, d, &InversionConfig::default());
    let diag = op.diagnostics();
    assert_eq!((diag.rank, diag.lost_dim), (k - 1, d - k + 1));
    // Each prototype is in its own hull, so it is recovered exactly.
    let (rec, off_hull) = invert(&op, &activations(&w, &w, d), k, Precision::F64);
    assert!(max(&relative_errors(&w, &rec, d)) < 1e-10);
    assert!(max(&off_hull) < 1e-6);
}

#[test]
fn tikhonov_bias_shrinks_as_lambda_goes_to_zero() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (k, d, n) = (12, 5, 10);
    let w = normal(k * d, &mut rng);
    let x = normal(n * d, &mut rng);
    let a = activations(&x, &w, d);
    let mut previous = f64::INFINITY;
    for lambda in [1e-1, 1e-3, 1e-5, 1e-7] {
        let config = InversionConfig::default().with_lambda(Lambda::Relative(lambda));
        let op = operator(&w, k, d, &config);
        assert!(!op.diagnostics().exact);
        let (rec, _) = invert(&op, &a, n, Precision::F64);
        let bias = max(&relative_errors(&x, &rec, d));
        assert!(
            bias < previous,
            "lambda {lambda}: bias {bias:e} not below {previous:e}"
        );
        assert!(bias > 0.0);
        previous = bias;
    }
    assert!(previous < 1e-5, "bias at lambda = 1e-7: {previous:e}");
}

#[test]
fn activation_noise_is_amplified_at_most_by_the_noise_gain() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (k, d, n) = (10, 4, 30);
    let w = normal(k * d, &mut rng);
    let x = normal(n * d, &mut rng);
    let a = activations(&x, &w, d);
    let noise: Vec<f64> = normal(n * k, &mut rng).iter().map(|v| v * 1e-3).collect();
    let noisy: Vec<f64> = a.iter().zip(&noise).map(|(p, q)| p + q).collect();
    for lambda in [Lambda::Absolute(0.0), Lambda::Relative(1e-2)] {
        let op = operator(&w, k, d, &InversionConfig::default().with_lambda(lambda));
        let diag = op.diagnostics();
        if diag.lambda_abs == 0.0 {
            assert!((diag.noise_gain - 0.5 / diag.s_min).abs() < 1e-12 * diag.noise_gain);
        } else {
            assert!(diag.noise_gain < 0.5 / diag.s_min);
        }
        let (clean, _) = invert(&op, &a, n, Precision::F64);
        let (perturbed, _) = invert(&op, &noisy, n, Precision::F64);
        for i in 0..n {
            let dx = (0..d)
                .map(|j| (clean[i * d + j] - perturbed[i * d + j]).powi(2))
                .sum::<f64>()
                .sqrt();
            let da = noise[i * k..(i + 1) * k]
                .iter()
                .map(|v| v * v)
                .sum::<f64>()
                .sqrt();
            assert!(
                dx <= diag.noise_gain * da * (1.0 + 1e-9),
                "sample {i}: {dx:e} > gain * {da:e}"
            );
        }
    }
}

#[test]
fn recovered_inputs_keep_the_best_matching_unit() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let (k, d, n) = (25, 8, 40);
    let w = normal(k * d, &mut rng);
    let x = normal(n * d, &mut rng);
    let a = activations(&x, &w, d);
    let op = operator(&w, k, d, &InversionConfig::default());
    let (rec, _) = invert(&op, &a, n, Precision::F32);
    let a_rec = activations(&rec, &w, d);
    let argmin = |row: &[f64]| {
        row.iter()
            .enumerate()
            .min_by(|p, q| p.1.total_cmp(q.1))
            .map(|(i, _)| i)
            .unwrap()
    };
    for i in 0..n {
        let row = &a[i * k..(i + 1) * k];
        assert_eq!(
            argmin(&a_rec[i * k..(i + 1) * k]),
            argmin(row),
            "sample {i}"
        );
    }
}

#[test]
fn an_empty_batch_inverts_to_an_empty_batch() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (k, d) = (9, 4);
    let w = normal(k * d, &mut rng);
    let op = operator(&w, k, d, &InversionConfig::default());
    for precision in [Precision::F32, Precision::F64] {
        let inv = op
            .invert(tensor(&[], 0, k, &Device::flex(), DType::F64), precision)
            .expect("an empty batch is not an error");
        assert_eq!(inv.inputs.dims(), [0, d]);
        assert_eq!(inv.off_hull.dims(), [0]);
    }
}

#[test]
fn batch_equals_one_by_one() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (k, d, n) = (9, 4, 6);
    let w = normal(k * d, &mut rng);
    let x = normal(n * d, &mut rng);
    let a = activations(&x, &w, d);
    let op = operator(&w, k, d, &InversionConfig::default());
    for precision in [Precision::F32, Precision::F64] {
        let (batch, batch_off) = invert(&op, &a, n, precision);
        for i in 0..n {
            let (one, one_off) = invert(&op, &a[i * k..(i + 1) * k], 1, precision);
            let tol = if precision == Precision::F64 {
                1e-12
            } else {
                1e-5
            };
            assert!(max(&relative_errors(&batch[i * d..(i + 1) * d], &one, d)) < tol);
            // The f32 certificate subtracts two numbers of the size of a: its rounding is sqrt(eps |a|).
            let off_tol = if precision == Precision::F64 {
                1e-6
            } else {
                1e-2
            };
            assert!((batch_off[i] - one_off[0]).abs() < off_tol);
        }
    }
}

#[test]
fn subset_containing_the_hull_is_exact() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (k, d) = (20, 6);
    let w = normal(k * d, &mut rng);
    let op = operator(&w, k, d, &InversionConfig::default());
    let units = [3usize, 7, 11, 12, 18];
    let sub = op.subset(&units).expect("subset");
    assert_eq!(sub.diagnostics().rank, units.len() - 1);

    // An affine combination of the subset's prototypes, and a point off their hull.
    let coefficients = [0.4, -0.2, 0.5, 0.1, 0.2];
    let inside: Vec<f64> = (0..d)
        .map(|j| {
            units
                .iter()
                .zip(coefficients)
                .map(|(&u, c)| c * w[u * d + j])
                .sum()
        })
        .collect();
    let outside: Vec<f64> = inside
        .iter()
        .zip(normal(d, &mut rng))
        .map(|(p, q)| p + q)
        .collect();
    let both: Vec<f64> = inside.iter().chain(&outside).copied().collect();
    let full = tensor(&activations(&both, &w, d), 2, k, op.device(), DType::F64);
    let partial = full.select(1, indices(&units, op.device()));
    let inv = sub.invert(partial, Precision::F64).expect("invert");
    let rec = to_vec_f64(inv.inputs);
    let off_hull = to_vec_f64(inv.off_hull);
    assert!(max(&relative_errors(&inside, &rec[..d], d)) < 1e-10);
    assert!(off_hull[0] < 1e-6 && off_hull[1] > 0.1, "{off_hull:?}");

    assert!(matches!(
        op.subset(&[]),
        Err(Error::InvalidConfig { field: "units", .. })
    ));
    assert!(matches!(
        op.subset(&[0, k]),
        Err(Error::InvalidConfig { field: "units", .. })
    ));
    assert!(
        matches!(op.subset(&[5]), Err(Error::Invalid(_))),
        "one unit is degenerate"
    );
}

#[test]
fn nearest_prototypes_inversion_matches_explicit_subsets() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (k, d, n, m) = (30, 5, 8, 4);
    let w = normal(k * d, &mut rng);
    let x = normal(n * d, &mut rng);
    let a = activations(&x, &w, d);
    let op = operator(&w, k, d, &InversionConfig::default());
    let near = to_vec_f64(
        op.invert_nearest(tensor(&a, n, k, op.device(), DType::F64), m)
            .expect("invert_nearest"),
    );
    for i in 0..n {
        let row = &a[i * k..(i + 1) * k];
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|p, q| row[*p].total_cmp(&row[*q]));
        let units = &order[..m];
        let partial: Vec<f64> = units.iter().map(|&u| row[u]).collect();
        let (expected, _) = invert(&op.subset(units).unwrap(), &partial, 1, Precision::F64);
        let gap = max(&relative_errors(&expected, &near[i * d..(i + 1) * d], d));
        assert!(gap < 1e-9, "sample {i}: {gap:e}");
    }

    // With m >= D + 1 nearest prototypes in general position the recovery is exact, f64 and f32.
    let exact = to_vec_f64(
        op.invert_nearest(tensor(&a, n, k, op.device(), DType::F64), 10)
            .unwrap(),
    );
    assert!(max(&relative_errors(&x, &exact, d)) < 1e-9);
    let single = to_vec_f64(
        op.invert_nearest(tensor(&a, n, k, op.device(), DType::F32), 10)
            .unwrap(),
    );
    assert!(max(&relative_errors(&x, &single, d)) < 1e-3);

    // The dual (m <= D) path in f32 against f64.
    let dual = to_vec_f64(
        op.invert_nearest(tensor(&a, n, k, op.device(), DType::F32), m)
            .unwrap(),
    );
    assert!(max(&relative_errors(&near, &dual, d)) < 1e-3);

    let a_t = tensor(&a, n, k, op.device(), DType::F64);
    assert!(matches!(
        op.invert_nearest(a_t.clone(), 0),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        op.invert_nearest(a_t, k + 1),
        Err(Error::InvalidConfig { .. })
    ));
}

#[test]
fn bad_codebooks_and_activations_fail_with_clear_errors() {
    let device = Device::flex();
    let config = InversionConfig::default();
    let same = tensor(&[1.0, 2.0, 1.0, 2.0, 1.0, 2.0], 3, 2, &device, DType::F64);
    match InversionOperator::new(&same, &config) {
        Err(Error::Invalid(msg)) => assert!(msg.contains("rank 0") && msg.contains("train")),
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
    let nan = tensor(
        &[1.0, f64::NAN, 0.0, 0.0, 1.0, 1.0],
        3,
        2,
        &device,
        DType::F64,
    );
    assert!(matches!(
        InversionOperator::new(&nan, &config),
        Err(Error::NonFinite { .. })
    ));
    let empty = Tensor::<2>::zeros([0, 3], &device);
    assert!(matches!(
        InversionOperator::new(&empty, &config),
        Err(Error::EmptyData { .. })
    ));

    // Duplicates are counted and harmless.
    let dup = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0];
    let op = operator(&dup, 5, 2, &config);
    assert_eq!(op.diagnostics().duplicate_prototypes, 2);
    assert!(op.diagnostics().exact);
    let x = [0.3, -0.7];
    let (rec, _) = invert(&op, &activations(&x, &dup, 2), 1, Precision::F64);
    assert!(max(&relative_errors(&x, &rec, 2)) < 1e-12);

    let wrong_width = tensor(&[1.0, 2.0, 3.0], 1, 3, &device, DType::F32);
    assert!(matches!(
        op.invert(wrong_width, Precision::F32),
        Err(Error::Shape { .. })
    ));
    let bad = tensor(
        &[1.0, f64::INFINITY, 0.0, 1.0, 2.0],
        1,
        5,
        &device,
        DType::F32,
    );
    assert!(matches!(
        op.invert(bad, Precision::F32),
        Err(Error::NonFinite { .. })
    ));
    // The check looks at row means first: a NaN in the last row of a batch of several row
    // blocks, and +inf and -inf in one row (whose sum is NaN), are still refused. (20,000 rows
    // of 5 activations are two blocks of at most 16,384.)
    let rows = 20_000;
    for (row, values) in [
        (rows - 1, vec![f64::NAN]),
        (500, vec![f64::INFINITY, f64::NEG_INFINITY]),
    ] {
        let mut batch = vec![1.0; rows * 5];
        for (j, v) in values.into_iter().enumerate() {
            batch[row * 5 + j] = v;
        }
        let bad = tensor(&batch, rows, 5, &device, DType::F32);
        assert!(matches!(
            op.invert(bad, Precision::F32),
            Err(Error::NonFinite { .. })
        ));
    }
}

#[cfg(feature = "wgpu")]
#[test]
fn flex_and_wgpu_agree() {
    let Some(wgpu) = invsom::backend::wgpu_for_tests() else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let (k, d, n) = (16, 5, 12);
    let w = normal(k * d, &mut rng);
    let x = normal(n * d, &mut rng);
    let a = activations(&x, &w, d);
    let config = InversionConfig::default();
    let on = |device: &Device| {
        let op = InversionOperator::new(&tensor(&w, k, d, device, DType::F32), &config).unwrap();
        let inv = op
            .invert(tensor(&a, n, k, device, DType::F32), Precision::F32)
            .unwrap();
        let near = op
            .invert_nearest(tensor(&a, n, k, device, DType::F32), 8)
            .unwrap();
        (
            to_vec_f64(inv.inputs),
            to_vec_f64(inv.off_hull),
            to_vec_f64(near),
        )
    };
    let (flex_x, flex_off, flex_near) = on(&Device::flex());
    let (wgpu_x, wgpu_off, wgpu_near) = on(&wgpu);
    assert!(max(&relative_errors(&flex_x, &wgpu_x, d)) < 1e-5);
    assert!(max(&relative_errors(&x, &wgpu_x, d)) < 1e-4);
    assert!(flex_off
        .iter()
        .zip(&wgpu_off)
        .all(|(p, q)| (p - q).abs() < 1e-2));
    assert!(max(&relative_errors(&flex_near, &wgpu_near, d)) < 1e-3);
    assert!(max(&relative_errors(&x, &wgpu_near, d)) < 1e-2);
}
