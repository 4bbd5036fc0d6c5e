//! The same code on every compiled device gives the same answers (wgpu runs on Mesa's software
//! Vulkan on machines without a GPU). Inputs are built on the host: random streams differ
//! across backends.

#![cfg(feature = "wgpu")]

use crate::common::max_abs_diff;
use burn::prelude::Device;
use invsom::data::mixture::GaussianMixture;
use invsom::som::{Init, SomConfig, TrainConfig, TrainMode};
use invsom::tensor::{to_vec_f32, to_vec_usize};
use invsom::topology::LatticeKind;

#[test]
fn bmus_and_one_epoch_agree_between_flex_and_wgpu() {
    let Some(gpu) = invsom::backend::wgpu_for_tests() else {
        return;
    };
    let data = GaussianMixture {
        n_components: 3,
        d_input: 6,
        spread: 4.0,
        sigma: 0.6,
        seed: 5,
    }
    .sample(300)
    .unwrap();
    for (kind, mode) in [
        (LatticeKind::Rectangular, TrainMode::Batch),
        (LatticeKind::Hexagonal, TrainMode::Batch),
        (LatticeKind::Rectangular, TrainMode::Online),
    ] {
        let config = SomConfig::new(5, 4, 6)
            .with_lattice(kind)
            .with_init(Init::Samples)
            .with_seed(3);
        let mut cpu_som = config.init(&data, &Device::flex()).unwrap();
        let mut gpu_som = config.init(&data, &gpu).unwrap();
        assert_eq!(
            to_vec_f32(cpu_som.codebook()),
            to_vec_f32(gpu_som.codebook()),
            "same start"
        );
        let xc = data.to_tensor(&Device::flex());
        let xg = data.to_tensor(&gpu);
        assert_eq!(
            to_vec_usize(cpu_som.bmu(xc.clone()).unwrap()),
            to_vec_usize(gpu_som.bmu(xg.clone()).unwrap()),
            "BMUs"
        );
        let schedule = TrainConfig::new()
            .with_mode(mode)
            .with_n_epochs(1)
            .with_batch_size(50);
        let keep = |_: &invsom::som::EpochReport| std::ops::ControlFlow::Continue(());
        let rc = invsom::som::train(&mut cpu_som, &data, &schedule, keep).unwrap();
        let rg = invsom::som::train(&mut gpu_som, &data, &schedule, keep).unwrap();
        let (a, b) = (
            to_vec_f32(cpu_som.codebook()),
            to_vec_f32(gpu_som.codebook()),
        );
        let max_diff = max_abs_diff(&a, &b);
        assert!(
            max_diff < 1e-4,
            "{kind:?} {mode:?}: codebooks differ by {max_diff}"
        );
        assert!((rc.qe - rg.qe).abs() < 1e-4, "QE {} vs {}", rc.qe, rg.qe);
    }
}
