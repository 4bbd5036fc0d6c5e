//! Small real data sets compiled into the binary, so every command works with no download.
//!
//! Made by `data/fixtures/make_fixtures.sh` from the full IDX files; origin and licences are in
//! `data/fixtures/README.md`. ORL faces (112x92) are too large to embed and are not included.

use std::path::Path;

use super::idx::parse_idx;
use super::Samples;

const MNIST_TRAIN_IMAGES: &[u8] =
    include_bytes!("../../data/fixtures/mnist-train-1000-images-idx3-ubyte.gz");
const MNIST_TRAIN_LABELS: &[u8] =
    include_bytes!("../../data/fixtures/mnist-train-1000-labels-idx1-ubyte.gz");
const MNIST_TEST_IMAGES: &[u8] =
    include_bytes!("../../data/fixtures/mnist-t10k-1000-images-idx3-ubyte.gz");
const MNIST_TEST_LABELS: &[u8] =
    include_bytes!("../../data/fixtures/mnist-t10k-1000-labels-idx1-ubyte.gz");
const LFW_IMAGES: &[u8] = include_bytes!("../../data/fixtures/lfw-subset-images-idx3-ubyte.gz");
const LFW_LABELS: &[u8] = include_bytes!("../../data/fixtures/lfw-subset-labels-idx1-ubyte.gz");

/// Decodes an embedded images/labels pair. The bytes are fixed at compile time and covered by
/// tests, so a failure here is a build defect, not a user error.
fn decode(name: &str, images: &[u8], labels: &[u8]) -> Samples {
    let img = parse_idx(images, Path::new(name)).expect("embedded fixture images are valid IDX");
    let lab = parse_idx(labels, Path::new(name)).expect("embedded fixture labels are valid IDX");
    let [n, rows, cols] = img.dims[..] else {
        panic!("embedded fixture {name} is not a 3-D images file");
    };
    let values = img.data.iter().map(|&p| f32::from(p) / 255.0).collect();
    Samples::new(values, n, rows * cols)
        .and_then(|s| s.with_image_shape(rows, cols))
        .and_then(|s| s.with_labels(lab.data))
        .expect("embedded fixture images and labels agree")
}

/// The first 1000 MNIST training digits, 28x28, pixels in `[0, 1]`, labels 0-9.
pub fn mnist_train() -> Samples {
    decode(
        "fixture mnist-train-1000",
        MNIST_TRAIN_IMAGES,
        MNIST_TRAIN_LABELS,
    )
}

/// The first 1000 MNIST test digits, 28x28, pixels in `[0, 1]`, labels 0-9.
pub fn mnist_test() -> Samples {
    decode(
        "fixture mnist-t10k-1000",
        MNIST_TEST_IMAGES,
        MNIST_TEST_LABELS,
    )
}

/// scikit-image's 200 LFW crops, 25x25, pixels in `[0, 1]`: label 1 = face (first 100),
/// 0 = non-face crop (last 100).
pub fn lfw() -> Samples {
    decode("fixture lfw-subset", LFW_IMAGES, LFW_LABELS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnist_fixtures_have_the_documented_shape() {
        for s in [mnist_train(), mnist_test()] {
            assert_eq!(
                (s.n_samples, s.d_input, s.image_shape),
                (1000, 784, Some([28, 28]))
            );
            assert_eq!(s.n_classes(), 10);
            assert!(s.values.iter().all(|&v| (0.0..=1.0).contains(&v)));
            // MNIST digits are dark background with bright strokes.
            let mean = s.values.iter().sum::<f32>() / s.values.len() as f32;
            assert!((0.08..0.2).contains(&mean), "mean pixel {mean}");
        }
        // The canonical first labels of MNIST train and test.
        assert_eq!(&mnist_train().labels.unwrap()[..5], &[5, 0, 4, 1, 9]);
        assert_eq!(&mnist_test().labels.unwrap()[..5], &[7, 2, 1, 0, 4]);
    }

    #[test]
    fn lfw_fixture_is_100_faces_then_100_non_faces() {
        let s = lfw();
        assert_eq!(
            (s.n_samples, s.d_input, s.image_shape),
            (200, 625, Some([25, 25]))
        );
        let labels = s.labels.unwrap();
        assert!(labels[..100].iter().all(|&y| y == 1));
        assert!(labels[100..].iter().all(|&y| y == 0));
    }
}
