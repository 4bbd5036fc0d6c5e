//! Image sharpness, nearest distances and the Wilcoxon signed-rank test against hand-computed
//! and scipy reference values.

use burn::prelude::Device;
use invsom::metrics::image::{
    gradient_energy, gradient_energy_batch, laplacian_variance, laplacian_variance_batch,
    nearest_distances,
};
use invsom::metrics::stats::{mean_std, median, wilcoxon_signed_rank};
use invsom::tensor::from_rows;
use invsom::Error;

fn checkerboard(rows: usize, cols: usize) -> Vec<f32> {
    (0..rows * cols)
        .map(|k| ((k / cols + k % cols) % 2) as f32)
        .collect()
}

#[test]
fn laplacian_variance_of_constant_image_is_zero() {
    assert_eq!(laplacian_variance(&[0.7; 30], [5, 6]), 0.0);
}

#[test]
fn laplacian_variance_of_checkerboard_by_hand() {
    // 4x4: interior 2x2 holds two pixels of value 1 (L = -4) and two of 0 (L = +4): variance 16.
    assert!((laplacian_variance(&checkerboard(4, 4), [4, 4]) - 16.0).abs() < 1e-12);
    // 5x5: interior 3x3 holds five 0-pixels (L = +4) and four 1-pixels (L = -4):
    // mean 4/9, variance 16 - 16/81 = 1280/81.
    let want = 1280.0 / 81.0;
    assert!((laplacian_variance(&checkerboard(5, 5), [5, 5]) - want).abs() < 1e-12);
}

#[test]
fn laplacian_variance_of_single_spike_by_hand() {
    // 3x3 has one interior pixel: its variance is 0 whatever the image.
    let mut img = vec![0.0f32; 9];
    img[4] = 1.0;
    assert_eq!(laplacian_variance(&img, [3, 3]), 0.0);
    // 4x3: interior pixels (1,1) and (2,1); a spike at (1,1) gives L = -4 there and +1 at (2,1):
    // mean -1.5, variance 6.25.
    let mut img = vec![0.0f32; 12];
    img[4] = 1.0;
    assert!((laplacian_variance(&img, [4, 3]) - 6.25).abs() < 1e-12);
}

#[test]
fn gradient_energy_by_hand() {
    assert_eq!(gradient_energy(&[0.3; 12], [3, 4]), 0.0);
    // Checkerboard: every |gx| = |gy| = 1.
    assert!((gradient_energy(&checkerboard(4, 5), [4, 5]) - 2.0).abs() < 1e-12);
    // Horizontal ramp f(i, j) = 0.5 j: gx = 0.5, gy = 0.
    let ramp: Vec<f32> = (0..12).map(|k| 0.5 * (k % 4) as f32).collect();
    assert!((gradient_energy(&ramp, [3, 4]) - 0.25).abs() < 1e-12);
    // 2x2 [[0, 1], [3, 0]]: one pixel with gx = 1, gy = 3.
    assert!((gradient_energy(&[0.0, 1.0, 3.0, 0.0], [2, 2]) - 10.0).abs() < 1e-12);
}

#[test]
fn batch_versions_agree_with_host_versions() {
    let device = Device::flex();
    let shape = [6, 5];
    let images: Vec<Vec<f32>> = vec![
        checkerboard(6, 5),
        vec![0.25; 30],
        (0..30).map(|k| ((k * 7919) % 13) as f32 / 13.0).collect(),
    ];
    let flat: Vec<f32> = images.concat();
    let x = from_rows(flat, images.len(), 30, &device);
    let lap = laplacian_variance_batch(x.clone(), shape);
    let grad = gradient_energy_batch(x, shape);
    for (i, img) in images.iter().enumerate() {
        let want_lap = laplacian_variance(img, shape);
        let want_grad = gradient_energy(img, shape);
        assert!(
            (lap[i] - want_lap).abs() < 1e-5 * (1.0 + want_lap),
            "{i}: {} vs {want_lap}",
            lap[i]
        );
        assert!(
            (grad[i] - want_grad).abs() < 1e-5 * (1.0 + want_grad),
            "{i}: {} vs {want_grad}",
            grad[i]
        );
    }
}

#[test]
fn tiny_images_have_zero_sharpness() {
    let device = Device::flex();
    assert_eq!(laplacian_variance(&[1.0, 0.0], [1, 2]), 0.0);
    assert_eq!(gradient_energy(&[1.0, 0.0], [1, 2]), 0.0);
    let x = from_rows(vec![1.0, 0.0, 0.5, 0.5], 2, 2, &device);
    assert_eq!(laplacian_variance_batch(x, [1, 2]), vec![0.0, 0.0]);
}

#[test]
fn nearest_distances_match_brute_force_oracle() {
    let device = Device::flex();
    let (n, m, d) = (23, 17, 6);
    let x: Vec<f32> = (0..n * d)
        .map(|k| ((k * 37) % 11) as f32 * 0.3 - 1.0)
        .collect();
    let r: Vec<f32> = (0..m * d)
        .map(|k| ((k * 53) % 7) as f32 * 0.4 - 1.2)
        .collect();
    let oracle: Vec<f32> = (0..n)
        .map(|i| {
            (0..m)
                .map(|j| {
                    (0..d)
                        .map(|c| (x[i * d + c] - r[j * d + c]).powi(2))
                        .sum::<f32>()
                        .sqrt()
                })
                .fold(f32::INFINITY, f32::min)
        })
        .collect();
    let xt = from_rows(x.clone(), n, d, &device);
    let rt = from_rows(r, m, d, &device);
    for chunk in [0, 1, 5, 23, 100] {
        let got = nearest_distances(xt.clone(), rt.clone(), chunk);
        assert_eq!(got.len(), n);
        for (g, w) in got.iter().zip(&oracle) {
            assert!((g - w).abs() < 1e-5, "chunk {chunk}: {g} vs {w}");
        }
    }
    // Every row is at distance 0 from itself.
    let own = nearest_distances(xt.clone(), xt, 4);
    assert!(own.iter().all(|&v| v == 0.0), "{own:?}");
}

// Reference values: scipy 1.17.1, scipy.stats.wilcoxon(a, b, zero_method="wilcox", ...).

#[test]
fn wilcoxon_exact_matches_scipy() {
    let a = [
        0.301, 0.599, 0.026, -0.591, -0.155, -0.692, 0.36, 1.64, -0.192, -0.32, 0.79, 0.657,
    ];
    let b = [
        0.105, -0.93, -0.029, 0.695, -1.344, -0.458, -1.901, -1.29, -1.842, -0.235, -1.267, 0.271,
    ];
    let r = wilcoxon_signed_rank(&a, &b).unwrap();
    // method="exact": statistic min(W+, W-) = 13, p = 0.04248046875.
    assert!(r.exact);
    assert_eq!(r.n, 12);
    assert_eq!((r.w_plus, r.w_minus), (65.0, 13.0));
    assert!((r.p_value - 0.04248046875).abs() < 1e-12, "{}", r.p_value);
    assert!((r.effect_size_r - 52.0 / 78.0).abs() < 1e-12);
    assert!((r.median_difference - 0.7875).abs() < 1e-9);
    assert!(r.z > 0.0);
    // Swapping the samples mirrors everything but the p-value.
    let s = wilcoxon_signed_rank(&b, &a).unwrap();
    assert_eq!((s.w_plus, s.w_minus), (13.0, 65.0));
    assert!((s.p_value - r.p_value).abs() < 1e-15);
    assert!((s.effect_size_r + r.effect_size_r).abs() < 1e-15);
}

#[test]
fn wilcoxon_with_ties_and_zeros_matches_scipy_normal_approximation() {
    let a = [
        3., 5., 2., 4., 4., 6., 1., 3., 5., 7., 2., 4., 3., 6., 5., 4., 2., 3., 8., 5.,
    ];
    let b = [
        2., 5., 3., 2., 4., 3., 1., 1., 4., 4., 2., 5., 1., 3., 2., 4., 3., 1., 5., 3.,
    ];
    let r = wilcoxon_signed_rank(&a, &b).unwrap();
    // method="approx", correction=True: statistic 9, z = -2.9035458516091484 (scipy reports -|z|),
    // p = 0.003689629393747075; 15 non-zero differences, median difference 1.5.
    assert!(!r.exact);
    assert_eq!(r.n, 15);
    assert_eq!(r.w_minus, 9.0);
    assert_eq!(r.w_plus, 111.0);
    assert!((r.z - 2.9035458516091484).abs() < 1e-10, "{}", r.z);
    assert!(
        (r.p_value - 0.003689629393747075).abs() < 1e-12,
        "{}",
        r.p_value
    );
    assert_eq!(r.median_difference, 1.5);
}

#[test]
fn wilcoxon_large_sample_matches_scipy_normal_approximation() {
    let a = [
        0.3568, 0.0131, -2.3168, -0.3387, 0.1515, 0.3133, -1.3301, -0.2778, -0.7785, -0.6088,
        1.2609, -0.6075, 0.1675, 1.0844, -0.3836, 0.0883, 0.3105, 0.2638, -1.0251, 0.2761, 1.5588,
        -1.3471, 1.0594, 0.3194, -0.4415, 2.2004, 0.9623, -0.9993, 0.2745, 0.7767, 0.0112, 0.8829,
        0.1335, 0.8672, 1.6385, -0.4757, 0.4031, -0.2633, 0.3273, -0.9872,
    ];
    let b = [
        -0.5793, -0.1962, 0.8988, 1.1452, -1.3235, -0.7946, 0.6469, -1.9924, -0.4632, -0.0973,
        1.257, 0.6894, -0.3272, -0.3686, -0.2502, 1.5235, -0.428, -0.3037, 0.3526, -0.1208,
        -0.1973, -1.1141, -0.0115, -0.4436, 1.1661, 0.6531, -0.0241, 0.6684, -0.3399, 1.0521,
        -0.0054, 0.5834, -1.2909, 0.3467, -1.6882, -2.0353, -0.3045, -0.8999, 0.1641, 2.2448,
    ];
    let r = wilcoxon_signed_rank(&a, &b).unwrap();
    // n = 40 > 25: normal approximation. statistic 324, W+ = 496, z = +-1.1492309199273545,
    // p = 0.2504607743246211, median difference 0.4458.
    assert!(!r.exact);
    assert_eq!(r.n, 40);
    assert_eq!((r.w_plus, r.w_minus), (496.0, 324.0));
    assert!((r.z - 1.1492309199273545).abs() < 1e-10, "{}", r.z);
    assert!(
        (r.p_value - 0.2504607743246211).abs() < 1e-12,
        "{}",
        r.p_value
    );
    assert!((r.median_difference - 0.4458).abs() < 1e-9);
}

#[test]
fn wilcoxon_rejects_bad_input_with_clear_errors() {
    assert!(matches!(
        wilcoxon_signed_rank(&[1.0], &[1.0, 2.0]),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        wilcoxon_signed_rank(&[], &[]),
        Err(Error::EmptyData { .. })
    ));
    assert!(matches!(
        wilcoxon_signed_rank(&[1.0, f64::NAN], &[0.0, 0.0]),
        Err(Error::NonFinite { .. })
    ));
    let err = wilcoxon_signed_rank(&[1.0, 2.0], &[1.0, 2.0]).unwrap_err();
    assert!(
        err.to_string().contains("every paired difference is zero"),
        "{err}"
    );
}

#[test]
fn mean_std_and_median_by_hand() {
    let (mean, std) = mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
    assert_eq!(mean, 5.0);
    assert!((std - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
    assert_eq!(mean_std(&[3.0]), (3.0, 0.0));
    assert!(mean_std(&[]).0.is_nan());
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    assert!(median(&[]).is_nan());
}
