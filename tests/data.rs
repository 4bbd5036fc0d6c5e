//! Integration tests of the data module: IDX files on disk, MNIST folders, error paths, fixtures,
//! and a property test that the IDX parser never panics on arbitrary bytes.

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::data::dataset::Dataset;
use invsom::data::idx::{encode_idx, parse_idx, read_idx, write_idx};
use invsom::data::mixture::GaussianMixture;
use invsom::data::{fixtures, load_idx_pair, load_split, Samples, Scaling, Split};
use invsom::Error;
use proptest::prelude::*;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Writes a tiny MNIST-named folder: 3 images of 2x2 and 3 labels, images gzip, labels raw.
fn tiny_mnist(dir: &Path, split: &str) {
    let pixels: Vec<u8> = (0..12).map(|v| v * 20).collect();
    write_idx(
        &dir.join(format!("{split}-images-idx3-ubyte.gz")),
        &[3, 2, 2],
        &pixels,
        true,
    )
    .unwrap();
    write_idx(
        &dir.join(format!("{split}-labels-idx1-ubyte")),
        &[3],
        &[4, 0, 4],
        false,
    )
    .unwrap();
}

fn idx_reason(r: invsom::Result<impl std::fmt::Debug>) -> String {
    match r {
        Err(Error::Idx { reason, .. }) => reason,
        other => panic!("expected an IDX error, got {other:?}"),
    }
}

#[test]
fn idx_files_round_trip_raw_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..=255).cycle().take(5 * 7 * 3).collect();
    for gz in [false, true] {
        let path = dir.path().join(format!("a-{gz}.idx"));
        write_idx(&path, &[5, 7, 3], &data, gz).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.starts_with(&[0x1f, 0x8b]), gz);
        let back = read_idx(&path).unwrap();
        assert_eq!(back.dims, vec![5, 7, 3]);
        assert_eq!(back.data, data);
    }
    // Atomic writes leave only the targets behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(matches!(
        write_idx(&dir.path().join("bad"), &[2, 2], &[0; 3], false),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn every_malformed_file_is_a_clear_error() {
    let name = Path::new("x");
    let good = encode_idx(&[2, 3], &[1; 6]);
    let mut wrong_magic = good.clone();
    wrong_magic[0] = 7;
    assert!(idx_reason(parse_idx(&wrong_magic, name)).contains("wrong magic"));
    let mut wrong_dtype = good.clone();
    wrong_dtype[2] = 0x0C;
    assert!(idx_reason(parse_idx(&wrong_dtype, name)).contains("unsupported data type 0x0c"));
    assert!(idx_reason(parse_idx(&good[..good.len() - 2], name)).contains("truncated payload"));
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(idx_reason(parse_idx(&trailing, name)).contains("1 trailing byte(s)"));
    assert!(idx_reason(parse_idx(&gzip(&trailing), name)).contains("trailing"));
    let mut corrupt = gzip(&good);
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0x55;
    corrupt[mid + 1] ^= 0x55;
    assert!(parse_idx(&corrupt, name).is_err());
    // The error message names the file and the fix.
    let msg = parse_idx(&wrong_magic, Path::new("digits.idx"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("digits.idx") && msg.contains("Fix"), "{msg}");
}

#[test]
fn missing_files_and_folders_name_the_path_and_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.idx");
    match read_idx(&missing) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected Io, got {other:?}"),
    }
    let no_folder = dir.path().join("no-such-folder");
    let msg = load_split(&no_folder, Split::Train)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("no-such-folder") && msg.contains("--data-dir"),
        "{msg}"
    );
    let msg = load_split(dir.path(), Split::Test).unwrap_err().to_string();
    assert!(msg.contains("t10k-images-idx3-ubyte"), "{msg}");
}

#[test]
fn load_split_reads_raw_and_gzip_files_in_mnist_naming() {
    let dir = tempfile::tempdir().unwrap();
    tiny_mnist(dir.path(), "train");
    let s = load_split(dir.path(), Split::Train).unwrap();
    assert_eq!(
        (s.n_samples, s.d_input, s.image_shape),
        (3, 4, Some([2, 2]))
    );
    assert_eq!(s.labels.as_deref(), Some(&[4u8, 0, 4][..]));
    assert_eq!(
        s.row(1),
        &[80.0 / 255.0, 100.0 / 255.0, 120.0 / 255.0, 140.0 / 255.0]
    );
    assert_eq!(s.n_classes(), 5);
    // Only train was written: the test split is missing.
    assert!(matches!(
        load_split(dir.path(), Split::Test),
        Err(Error::Io { .. })
    ));
}

#[test]
fn images_and_labels_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("i");
    let labels = dir.path().join("l");
    write_idx(&images, &[3, 2, 2], &[0; 12], false).unwrap();
    write_idx(&labels, &[2], &[0; 2], false).unwrap();
    assert!(matches!(
        load_idx_pair(&images, Some(&labels)),
        Err(Error::Shape { .. })
    ));
    // Labels passed as images.
    assert!(matches!(
        load_idx_pair(&labels, None),
        Err(Error::Shape { .. })
    ));
    // Zero images.
    write_idx(&images, &[0, 2, 2], &[], false).unwrap();
    assert!(matches!(
        load_idx_pair(&images, None),
        Err(Error::EmptyData { .. })
    ));
    // Unlabelled images load without labels.
    write_idx(&images, &[3, 2, 2], &[255; 12], false).unwrap();
    let s = load_idx_pair(&images, None).unwrap();
    assert_eq!((s.labels, s.values[0]), (None, 1.0));
}

#[test]
fn full_mnist_matches_the_fixture_when_available() {
    // The shared data folder exists in CI and on the developers' machines, not on a fresh checkout.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist");
    if !dir.is_dir() {
        eprintln!("skipped: {} not present", dir.display());
        return;
    }
    let test = load_split(&dir, Split::Test).unwrap();
    assert_eq!(
        (test.n_samples, test.d_input, test.n_classes()),
        (10000, 784, 10)
    );
    let fixture = fixtures::mnist_test();
    assert_eq!(test.take(1000).values, fixture.values);
    assert_eq!(test.take(1000).labels, fixture.labels);
}

#[test]
fn fixtures_shapes_and_labels() {
    let train = fixtures::mnist_train();
    assert_eq!(
        (train.n_samples, train.image_shape, train.n_classes()),
        (1000, Some([28, 28]), 10)
    );
    for c in 0..10 {
        assert!(
            train.indices_of_class(c).len() > 50,
            "class {c} is represented"
        );
    }
    let test = fixtures::mnist_test();
    assert_ne!(train.values, test.values);
    let lfw = fixtures::lfw();
    assert_eq!((lfw.n_samples, lfw.d_input, lfw.n_classes()), (200, 625, 2));
}

#[test]
fn dataset_trait_serves_items_and_refuses_out_of_range() {
    let s = fixtures::lfw();
    assert_eq!(Dataset::len(&s), 200);
    let first = s.get(0).unwrap();
    assert_eq!((first.values.len(), first.label), (625, 1));
    assert_eq!(s.get(199).unwrap().label, 0);
    assert!(s.get(200).is_err());
    assert!(s.get(usize::MAX).is_err());
}

#[test]
fn samples_to_tensor_keeps_values() {
    let s = Samples::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3).unwrap();
    let t = s.to_tensor(&burn::prelude::Device::flex());
    assert_eq!(t.dims(), [2, 3]);
    assert_eq!(invsom::tensor::to_vec_f32(t), s.values);
}

#[test]
fn mixture_is_deterministic_and_scaling_round_trips() {
    let mix = GaussianMixture {
        n_components: 5,
        d_input: 2,
        spread: 20.0,
        sigma: 1.0,
        seed: 42,
    };
    let a = mix.sample(500).unwrap();
    assert_eq!(a.values, mix.sample(500).unwrap().values);
    let mut scaled = a.clone();
    let scaling = Scaling::fit_min_max(&a);
    scaling.apply(&mut scaled);
    let (lo, hi) = scaled
        .values
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    assert_eq!((lo, hi), (0.0, 1.0));
    scaling.invert_slice(&mut scaled.values);
    for (x, y) in scaled.values.iter().zip(&a.values) {
        assert!((x - y).abs() < 1e-4, "{x} vs {y}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x1d_5eed),
        ..ProptestConfig::default()
    })]

    /// Arbitrary bytes never panic the parser.
    #[test]
    fn parse_idx_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_idx(&bytes, Path::new("random"));
    }

    /// Valid files with a few bytes overwritten, cut or extended never panic the parser, raw or gzip;
    /// and whenever parsing succeeds the result is self-consistent.
    #[test]
    fn parse_idx_never_panics_on_mutated_files(
        dims in proptest::collection::vec(0usize..5, 1..=4),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in any::<usize>(),
        extend in 0usize..3,
        gz in any::<bool>(),
    ) {
        let n: usize = dims.iter().product();
        let mut bytes = encode_idx(&dims, &vec![9; n]);
        if gz {
            bytes = gzip(&bytes);
        }
        for (pos, val) in edits {
            let i = pos % bytes.len();
            bytes[i] = val;
        }
        bytes.truncate(bytes.len() - cut % 3);
        bytes.extend(std::iter::repeat_n(0u8, extend));
        if let Ok(a) = parse_idx(&bytes, Path::new("mutated")) {
            prop_assert_eq!(a.dims.iter().product::<usize>(), a.data.len());
            prop_assert!((1..=4).contains(&a.dims.len()));
        }
    }
}

#[test]
fn split_per_class_counts_positions_within_each_class() {
    let values: Vec<f32> = (0..6).map(|i| i as f32).collect();
    let s = Samples::new(values, 6, 1)
        .unwrap()
        .with_labels(vec![0, 1, 0, 1, 0, 1])
        .unwrap();
    let (train, test) = s.split_per_class(|p| p < 2).unwrap();
    assert_eq!(train.values, vec![0.0, 1.0, 2.0, 3.0]);
    assert_eq!(test.values, vec![4.0, 5.0]);
    assert!(
        s.split_per_class(|_| true).is_err(),
        "an empty test side is an error"
    );
    let unlabelled = Samples::new(vec![0.0, 1.0], 2, 1).unwrap();
    assert!(unlabelled.split_per_class(|p| p < 1).is_err());
}
