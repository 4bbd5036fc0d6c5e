//! The map: hand-computed oracles on tiny grids, convergence on seeded mixtures, determinism.

// Oracle loops index several arrays by the same feature index on purpose.
#![allow(clippy::needless_range_loop)]

use std::ops::ControlFlow;

use burn::prelude::Device;
use invsom::data::mixture::GaussianMixture;
use invsom::data::Samples;
use invsom::som::{train, Init, Som, SomConfig, TrainConfig, TrainMode};
use invsom::tensor::{from_rows, to_vec_f32, to_vec_usize};
use invsom::topology::{LatticeKind, Neighbourhood};
use invsom::Error;

fn cpu() -> Device {
    Device::flex()
}

fn keep_going(_: &invsom::som::EpochReport) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

fn mixture(d: usize, n: usize, seed: u64) -> Samples {
    GaussianMixture {
        n_components: 4,
        d_input: d,
        spread: 10.0,
        sigma: 0.7,
        seed,
    }
    .sample(n)
    .unwrap()
}

/// A 1x3 map with prototypes at 0, 1 and 5 on a line.
fn line_map() -> Som {
    let config = SomConfig::new(1, 3, 1);
    Som::from_codebook(config, from_rows(vec![0.0, 1.0, 5.0], 3, 1, &cpu())).unwrap()
}

#[test]
fn bmus_and_activations_by_hand() {
    let som = line_map();
    let x = from_rows(vec![0.2, 0.9, 3.5, 10.0], 4, 1, &cpu());
    let a = to_vec_f32(som.activations(x.clone()).unwrap());
    let expected = [
        0.04, 0.64, 23.04, 0.81, 0.01, 16.81, 12.25, 6.25, 2.25, 100.0, 81.0, 25.0,
    ];
    for (got, want) in a.iter().zip(expected) {
        assert!((got - want).abs() < 1e-4, "{got} vs {want}");
    }
    assert_eq!(to_vec_usize(som.bmu(x.clone()).unwrap()), vec![0, 1, 2, 2]);
    let qe = som.quantization_error(&x);
    assert!((qe - (0.2 + 0.1 + 1.5 + 5.0) / 4.0).abs() < 1e-5);
}

#[test]
fn one_batch_epoch_by_hand() {
    // Samples 0 and 0.4 hit unit 0, sample 6 hits unit 2. Bubble kernel with sigma 1:
    // unit 0 averages units {0,1}, unit 1 averages {0,1,2}, unit 2 averages {1,2}.
    let config = SomConfig::new(1, 3, 1).with_neighbourhood(Neighbourhood::Bubble);
    let mut som = Som::from_codebook(config, from_rows(vec![0.0, 1.0, 5.0], 3, 1, &cpu())).unwrap();
    let x = from_rows(vec![0.0, 0.4, 6.0], 3, 1, &cpu());
    som.batch_step(&x, 1.0).unwrap();
    let w = to_vec_f32(som.codebook());
    // unit 0: (0 + 0.4) / 2 ; unit 1: (0 + 0.4 + 6) / 3 ; unit 2: 6 / 1
    let expected = [0.2, 6.4 / 3.0, 6.0];
    for (got, want) in w.iter().zip(expected) {
        assert!((got - want).abs() < 1e-5, "{w:?}");
    }
}

#[test]
fn gaussian_batch_epoch_matches_dense_formula() {
    // Separable (rectangular Gaussian) smoothing must equal the dense K x K formula.
    let data = mixture(3, 200, 3);
    let config = SomConfig::new(4, 5, 3)
        .with_init(Init::Samples)
        .with_seed(2);
    let mut som = config.init(&data, &cpu()).unwrap();
    let w0 = to_vec_f32(som.codebook());
    let x = data.to_tensor(&cpu());
    let bmu = som.bmu_host(&x).unwrap();
    som.batch_step(&x, 1.3).unwrap();
    let got = to_vec_f32(som.codebook());
    let lattice = som.lattice().clone();
    let k = lattice.n_units();
    for u in 0..k {
        let mut num = [0.0f64; 3];
        let mut den = 0.0f64;
        for (i, &b) in bmu.iter().enumerate() {
            let h = Neighbourhood::Gaussian.weight(lattice.sq_distance(u, b), 1.3);
            den += h;
            for j in 0..3 {
                num[j] += h * data.row(i)[j] as f64;
            }
        }
        for j in 0..3 {
            let want = if den > 1e-12 {
                num[j] / den
            } else {
                w0[u * 3 + j] as f64
            };
            assert!(
                (got[u * 3 + j] as f64 - want).abs() < 1e-3,
                "unit {u}: {} vs {want}",
                got[u * 3 + j]
            );
        }
    }
}

#[test]
fn hexagonal_and_toroidal_batch_epochs_match_dense_formula() {
    let data = mixture(2, 150, 4);
    for (kind, toroidal) in [
        (LatticeKind::Hexagonal, false),
        (LatticeKind::Hexagonal, true),
        (LatticeKind::Rectangular, true),
    ] {
        let config = SomConfig::new(4, 4, 2)
            .with_lattice(kind)
            .with_toroidal(toroidal)
            .with_init(Init::Samples);
        let mut som = config.init(&data, &cpu()).unwrap();
        let x = data.to_tensor(&cpu());
        let bmu = som.bmu_host(&x).unwrap();
        som.batch_step(&x, 1.0).unwrap();
        let got = to_vec_f32(som.codebook());
        let lattice = som.lattice().clone();
        for u in 0..lattice.n_units() {
            let (mut num, mut den) = ([0.0f64; 2], 0.0f64);
            for (i, &b) in bmu.iter().enumerate() {
                let h = (-lattice.sq_distance(u, b) / 2.0).exp();
                den += h;
                for j in 0..2 {
                    num[j] += h * data.row(i)[j] as f64;
                }
            }
            for j in 0..2 {
                let want = num[j] / den;
                assert!(
                    (got[u * 2 + j] as f64 - want).abs() < 1e-3,
                    "{kind:?} torus={toroidal} unit {u}"
                );
            }
        }
    }
}

#[test]
fn qe_falls_and_te_is_bounded_on_a_seeded_mixture() {
    let data = mixture(5, 600, 11);
    for mode in [TrainMode::Batch, TrainMode::Online] {
        let mut som = SomConfig::new(8, 8, 5)
            .with_init(Init::Random)
            .with_seed(5)
            .init(&data, &cpu())
            .unwrap();
        let x = data.to_tensor(&cpu());
        let qe0 = som.quantization_error(&x);
        let config = TrainConfig::new()
            .with_mode(mode)
            .with_n_epochs(8)
            .with_batch_size(32);
        let report = train(&mut som, &data, &config, keep_going).unwrap();
        // The floor is the clusters' own noise: about 0.7 * sqrt(5) = 1.6 per sample.
        assert!(
            report.qe < 0.6 * qe0 && report.qe < 1.7,
            "{mode:?}: QE {qe0} -> {}",
            report.qe
        );
        assert!(
            (0.0..=0.2).contains(&report.te),
            "{mode:?}: TE {}",
            report.te
        );
        assert_eq!(report.history.len(), 8);
        let last = report.history.last().unwrap();
        assert!(
            last.qe <= report.history[0].qe,
            "{mode:?} QE per epoch falls"
        );
    }
}

#[test]
fn same_seed_gives_the_identical_codebook() {
    let data = mixture(4, 300, 1);
    let run = |mode| {
        let mut som = SomConfig::new(5, 6, 4)
            .with_init(Init::Samples)
            .with_seed(9)
            .init(&data, &cpu())
            .unwrap();
        train(
            &mut som,
            &data,
            &TrainConfig::new().with_mode(mode).with_n_epochs(3),
            keep_going,
        )
        .unwrap();
        to_vec_f32(som.codebook())
    };
    for mode in [TrainMode::Batch, TrainMode::Online] {
        let (a, b) = (run(mode), run(mode));
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{mode:?} bit-identical"
        );
    }
}

#[test]
fn training_resumes_where_it_stopped() {
    let data = mixture(3, 200, 2);
    let config = SomConfig::new(4, 4, 3)
        .with_init(Init::Samples)
        .with_seed(3);
    let schedule = TrainConfig::new().with_n_epochs(6);
    let mut whole = config.init(&data, &cpu()).unwrap();
    train(&mut whole, &data, &schedule, keep_going).unwrap();
    let mut parts = config.init(&data, &cpu()).unwrap();
    let mut seen = 0;
    let report = train(&mut parts, &data, &schedule, |_| {
        seen += 1;
        if seen == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert!(report.stopped_early);
    assert_eq!(parts.meta().epochs_done, 2);
    train(&mut parts, &data, &schedule, keep_going).unwrap();
    assert_eq!(parts.meta().epochs_done, 6);
    assert_eq!(to_vec_f32(whole.codebook()), to_vec_f32(parts.codebook()));
}

#[test]
fn pca_init_spans_the_leading_plane() {
    // Data on a line along (1, 1, 0): the PCA grid must lie on that line through the mean.
    let n = 100;
    let values: Vec<f32> = (0..n)
        .flat_map(|i| {
            let t = i as f32 / 10.0;
            [t, t, 0.5]
        })
        .collect();
    let data = Samples::new(values, n, 3).unwrap();
    let som = SomConfig::new(3, 5, 3).init(&data, &cpu()).unwrap();
    let w = to_vec_f32(som.codebook());
    for u in w.chunks(3) {
        assert!(
            (u[0] - u[1]).abs() < 1e-3 && (u[2] - 0.5).abs() < 1e-3,
            "{u:?}"
        );
    }
    let xs: Vec<f32> = w.chunks(3).map(|u| u[0]).collect();
    assert!(
        xs.iter().cloned().fold(f32::MIN, f32::max) > 6.0
            && xs.iter().cloned().fold(f32::MAX, f32::min) < 3.9
    );
}

#[test]
fn labels_hits_and_u_matrix() {
    let data = mixture(3, 400, 8);
    let mut som = SomConfig::new(6, 6, 3)
        .with_seed(1)
        .init(&data, &cpu())
        .unwrap();
    train(
        &mut som,
        &data,
        &TrainConfig::new().with_n_epochs(10),
        keep_going,
    )
    .unwrap();
    let labels = som.label_units(&data).unwrap();
    assert!(
        labels.purity > 0.95,
        "well separated clusters: purity {}",
        labels.purity
    );
    let hits = som.hit_map(&data.to_tensor(&cpu())).unwrap();
    assert_eq!(hits.iter().sum::<usize>(), 400);
    let u = som.u_matrix();
    assert_eq!(u.len(), 36);
    assert!(u.iter().all(|v| v.is_finite() && *v >= 0.0));
    let predicted = som.predict(&data.to_tensor(&cpu())).unwrap();
    let right = predicted
        .iter()
        .zip(data.labels.as_ref().unwrap())
        .filter(|(p, l)| **p == Some(**l))
        .count();
    assert!(right as f64 / 400.0 > 0.95);
}

#[test]
fn invalid_configs_are_named() {
    let data = mixture(2, 50, 1);
    let lattice = SomConfig::new(3, 3, 2).lattice().unwrap();
    let bad = [
        TrainConfig::new().with_n_epochs(0),
        TrainConfig::new()
            .with_sigma_start(Some(1.0))
            .with_sigma_end(2.0),
        TrainConfig::new().with_sigma_end(0.0),
        TrainConfig::new()
            .with_mode(TrainMode::Online)
            .with_lr_start(-0.1),
        TrainConfig::new()
            .with_mode(TrainMode::Online)
            .with_batch_size(0),
    ];
    for c in bad {
        assert!(
            matches!(
                c.check(&lattice, Neighbourhood::Gaussian),
                Err(Error::InvalidConfig { .. })
            ),
            "{c:?}"
        );
    }
    assert!(matches!(
        TrainConfig::new().check(&lattice, Neighbourhood::MexicanHat),
        Err(Error::InvalidConfig {
            field: "neighbourhood",
            ..
        })
    ));
    assert!(matches!(
        SomConfig::new(0, 3, 2).init(&data, &cpu()),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        SomConfig::new(3, 3, 5).init(&data, &cpu()),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        SomConfig::new(10, 10, 2)
            .with_init(Init::Samples)
            .init(&data, &cpu()),
        Err(Error::InvalidConfig { field: "init", .. })
    ));
    let som = SomConfig::new(3, 3, 2).init(&data, &cpu()).unwrap();
    assert!(matches!(
        som.activations(from_rows(vec![0.0; 3], 1, 3, &cpu())),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn non_finite_values_are_errors_not_nan_maps() {
    let data = mixture(2, 50, 1);
    let mut som = SomConfig::new(3, 3, 2).init(&data, &cpu()).unwrap();
    let mut values = data.values.clone();
    values[7] = f32::NAN;
    let x = from_rows(values, 50, 2, &cpu());
    let err = invsom::som::train_tensor(&mut som, x, &TrainConfig::new(), keep_going).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
    // Online training with an absurd learning rate on huge values must stop with an error.
    let big: Vec<f32> = data.values.iter().map(|v| v * 1e30).collect();
    let big = Samples::new(big, 50, 2).unwrap();
    let mut som = SomConfig::new(3, 3, 2)
        .with_init(Init::Samples)
        .init(&big, &cpu())
        .unwrap();
    let r = train(
        &mut som,
        &big,
        &TrainConfig::new()
            .with_mode(TrainMode::Online)
            .with_n_epochs(2),
        keep_going,
    );
    assert!(matches!(r, Err(Error::NonFinite { .. })), "{r:?}");
}
