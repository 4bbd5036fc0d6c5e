//! Saving and loading maps: round trips, devices, and every way a record can be broken.

use std::fs;
use std::ops::ControlFlow;

use burn::prelude::Device;
use invsom::data::mixture::GaussianMixture;
use invsom::records::{self, SaveInfo};
use invsom::som::{train, SomConfig, TrainConfig};
use invsom::tensor::to_vec_f32;
use invsom::topology::LatticeKind;
use invsom::Error;

fn trained() -> invsom::som::Som {
    let data = GaussianMixture {
        n_components: 3,
        d_input: 4,
        spread: 5.0,
        sigma: 0.5,
        seed: 2,
    }
    .sample(200)
    .unwrap();
    let mut som = SomConfig::new(4, 6, 4)
        .with_lattice(LatticeKind::Hexagonal)
        .with_seed(4)
        .init(&data, &Device::flex())
        .unwrap();
    train(
        &mut som,
        &data,
        &TrainConfig::new().with_n_epochs(3),
        |_| ControlFlow::Continue(()),
    )
    .unwrap();
    som.label_units(&data).unwrap();
    som
}

#[test]
fn round_trip_gives_the_identical_map() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    let som = trained();
    records::save(
        &som,
        &path,
        &SaveInfo {
            qe: Some(0.5),
            command: Some("invsom train".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let (loaded, meta) = records::load(&path, &Device::flex()).unwrap();
    let (a, b) = (to_vec_f32(som.codebook()), to_vec_f32(loaded.codebook()));
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    assert_eq!(loaded.config(), som.config());
    assert_eq!(loaded.meta(), som.meta());
    assert_eq!(meta.qe, Some(0.5));
    assert_eq!(meta.crate_version, env!("CARGO_PKG_VERSION"));
    // No temporary folders are left beside the model.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn saving_over_a_model_replaces_it_and_a_failed_save_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    let som = trained();
    records::save(&som, &path, &SaveInfo::default()).unwrap();
    records::save(
        &som,
        &path,
        &SaveInfo {
            qe: Some(1.0),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        records::load(&path, &Device::flex()).unwrap().1.qe,
        Some(1.0)
    );
    // A save whose writing fails midway leaves the previous model intact.
    let err = invsom::io::replace_dir_atomic(&path, |tmp| {
        fs::write(tmp.join("config.json"), b"{}").unwrap();
        Err(Error::Invalid("interrupted".into()))
    });
    assert!(err.is_err());
    assert_eq!(
        records::load(&path, &Device::flex()).unwrap().1.qe,
        Some(1.0)
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

fn saved() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    records::save(&trained(), &path, &SaveInfo::default()).unwrap();
    (dir, path)
}

fn load_err(path: &std::path::Path) -> String {
    match records::load(path, &Device::flex()) {
        Ok(_) => panic!("loading {} should fail", path.display()),
        Err(e) => {
            assert!(
                matches!(e, Error::Record { .. } | Error::InvalidConfig { .. }),
                "{e}"
            );
            e.to_string()
        }
    }
}

#[test]
fn missing_directory_and_files_are_named() {
    let (dir, path) = saved();
    assert!(load_err(&dir.path().join("nope")).contains("no such model directory"));
    fs::remove_file(path.join("codebook.bpk")).unwrap();
    assert!(load_err(&path).contains("codebook.bpk"));
}

#[test]
fn corrupted_truncated_and_foreign_records_are_errors() {
    let (_d, path) = saved();
    let bpk = path.join("codebook.bpk");
    let bytes = fs::read(&bpk).unwrap();
    // Truncated.
    fs::write(&bpk, &bytes[..bytes.len() / 2]).unwrap();
    load_err(&path);
    // One flipped bit in the tensor payload: caught by the checksum.
    let mut flipped = bytes.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0x10;
    fs::write(&bpk, &flipped).unwrap();
    let msg = load_err(&path);
    assert!(msg.contains("corrupt") || msg.contains("checksum"), "{msg}");
    // Garbage.
    fs::write(&bpk, b"not a record").unwrap();
    load_err(&path);
    fs::write(&bpk, &bytes).unwrap();
    assert!(records::load(&path, &Device::flex()).is_ok());
}

#[test]
fn another_version_or_shape_is_refused_with_the_fix() {
    let (_d, path) = saved();
    let meta_path = path.join("metadata.json");
    let original = fs::read_to_string(&meta_path).unwrap();
    let future = original.replace("\"format_version\": 1", "\"format_version\": 99");
    fs::write(&meta_path, future).unwrap();
    let msg = load_err(&path);
    assert!(msg.contains("version 99") && msg.contains("Fix"), "{msg}");
    let shape = original.replace("\"d_input\": 4", "\"d_input\": 5");
    fs::write(&meta_path, shape).unwrap();
    load_err(&path);
    fs::write(&meta_path, "{ not json").unwrap();
    load_err(&path);
    fs::write(&meta_path, &original).unwrap();
    let cfg = path.join("config.json");
    let c = fs::read_to_string(&cfg).unwrap();
    fs::write(&cfg, c.replace("\"rows\": 4", "\"rows\": 5")).unwrap();
    load_err(&path);
}

#[cfg(feature = "wgpu")]
#[test]
fn a_map_saved_on_cpu_loads_on_wgpu() {
    let Some(device) = invsom::backend::wgpu_for_tests() else {
        return;
    };
    let (_d, path) = saved();
    let (cpu, _) = records::load(&path, &Device::flex()).unwrap();
    let (gpu, _) = records::load(&path, &device).unwrap();
    assert_eq!(to_vec_f32(cpu.codebook()), to_vec_f32(gpu.codebook()));
}
