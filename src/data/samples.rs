//! [`Samples`]: the in-memory data set every module trains on, with optional image shape and labels.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::{Device, Tensor};

use super::idx::read_idx;
use crate::error::{Error, Result};

/// Row-major f32 samples, optionally images with labels.
///
/// # Shapes
/// `values` is `n_samples x d_input` row-major; `labels`, when present, has `n_samples` entries;
/// `image_shape`, when present, is `[rows, cols]` with `rows * cols == d_input`.
#[derive(Clone, Debug)]
pub struct Samples {
    /// The sample values, row-major.
    pub values: Vec<f32>,
    /// The number of samples (rows).
    pub n_samples: usize,
    /// The dimension of each sample (columns).
    pub d_input: usize,
    /// `[rows, cols]` when each sample is an image.
    pub image_shape: Option<[usize; 2]>,
    /// One class label per sample, when known.
    pub labels: Option<Vec<u8>>,
}

impl Samples {
    /// Wraps row-major values as `n_samples x d_input` samples.
    ///
    /// # Errors
    /// [`Error::EmptyData`] when there are no samples or `d_input == 0`; [`Error::Shape`] when
    /// `values.len() != n_samples * d_input`; [`Error::NonFinite`] when a value is NaN or infinite.
    pub fn new(values: Vec<f32>, n_samples: usize, d_input: usize) -> Result<Self> {
        if n_samples == 0 || d_input == 0 {
            return Err(Error::EmptyData { what: "samples" });
        }
        if n_samples.checked_mul(d_input) != Some(values.len()) {
            return Err(Error::Shape {
                op: "Samples::new",
                expected: format!("{n_samples} x {d_input} values"),
                got: format!("{} values", values.len()),
                fix: "pass n_samples * d_input row-major values",
            });
        }
        crate::tensor::check_finite(
            &values,
            "samples",
            "remove or impute NaN/infinite values in the input data",
        )?;
        Ok(Samples {
            values,
            n_samples,
            d_input,
            image_shape: None,
            labels: None,
        })
    }

    /// Attaches one label per sample.
    ///
    /// # Errors
    /// [`Error::Shape`] when `labels.len() != n_samples`.
    pub fn with_labels(mut self, labels: Vec<u8>) -> Result<Self> {
        if labels.len() != self.n_samples {
            return Err(Error::Shape {
                op: "Samples::with_labels",
                expected: format!("{} labels", self.n_samples),
                got: format!("{} labels", labels.len()),
                fix: "pass one label per sample (images and labels files must have the same count)",
            });
        }
        self.labels = Some(labels);
        Ok(self)
    }

    /// Marks each sample as a `rows x cols` image.
    ///
    /// # Errors
    /// [`Error::Shape`] when `rows * cols != d_input`.
    pub fn with_image_shape(mut self, rows: usize, cols: usize) -> Result<Self> {
        if rows.checked_mul(cols) != Some(self.d_input) {
            return Err(Error::Shape {
                op: "Samples::with_image_shape",
                expected: format!("rows * cols = {}", self.d_input),
                got: format!("{rows} x {cols}"),
                fix: "pass the image size the samples were flattened from",
            });
        }
        self.image_shape = Some([rows, cols]);
        Ok(self)
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.n_samples
    }

    /// Never true for a constructed value (construction rejects empty data); provided for clippy's
    /// `len_without_is_empty` and for completeness.
    pub fn is_empty(&self) -> bool {
        self.n_samples == 0
    }

    /// Sample `i` as a slice of `d_input` values.
    ///
    /// # Panics
    /// When `i >= n_samples`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.d_input..(i + 1) * self.d_input]
    }

    /// The samples at `idx` (in that order, repeats allowed), keeping image shape and labels.
    ///
    /// # Panics
    /// When an index is out of range, or `idx` is empty (a `Samples` is never empty).
    pub fn subset(&self, idx: &[usize]) -> Samples {
        assert!(!idx.is_empty(), "Samples::subset needs at least one index");
        let mut values = Vec::with_capacity(idx.len() * self.d_input);
        for &i in idx {
            values.extend_from_slice(self.row(i));
        }
        Samples {
            values,
            n_samples: idx.len(),
            d_input: self.d_input,
            image_shape: self.image_shape,
            labels: self
                .labels
                .as_ref()
                .map(|l| idx.iter().map(|&i| l[i]).collect()),
        }
    }

    /// The first `min(n, len)` samples (at least one: `n == 0` keeps one sample).
    pub fn take(&self, n: usize) -> Samples {
        let n = n.clamp(1, self.n_samples);
        let idx: Vec<usize> = (0..n).collect();
        self.subset(&idx)
    }

    /// The samples as an `n_samples x d_input` f32 tensor on `device`.
    pub fn to_tensor(&self, device: &Device) -> Tensor<2> {
        crate::tensor::from_rows(self.values.clone(), self.n_samples, self.d_input, device)
    }

    /// The label of sample `i`, when the samples are labelled and `i` is in range.
    pub fn label(&self, i: usize) -> Option<u8> {
        self.labels.as_ref().and_then(|l| l.get(i).copied())
    }

    /// The number of classes: largest label + 1, or 0 when unlabelled.
    pub fn n_classes(&self) -> usize {
        self.labels
            .as_ref()
            .and_then(|l| l.iter().max())
            .map_or(0, |&m| m as usize + 1)
    }

    /// Splits labelled samples by each sample's position among the samples of its class, in
    /// file order: `is_train(position)` sends it to the first set, otherwise to the second
    /// (e.g. `|p| p < 7` keeps the first 7 images of every subject for training).
    ///
    /// # Errors
    /// [`Error::Invalid`] when the samples have no labels or one side of the split is empty.
    pub fn split_per_class(&self, is_train: impl Fn(usize) -> bool) -> Result<(Samples, Samples)> {
        let labels = self.labels.as_ref().ok_or_else(|| {
            Error::Invalid("the samples have no labels to split by. Fix: give a labels file".into())
        })?;
        let mut seen = vec![0usize; self.n_classes()];
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (i, &y) in labels.iter().enumerate() {
            let position = seen[usize::from(y)];
            seen[usize::from(y)] += 1;
            if is_train(position) {
                train.push(i);
            } else {
                test.push(i);
            }
        }
        if train.is_empty() || test.is_empty() {
            return Err(Error::Invalid(
                "the split left no training or no test samples. Fix: change the split rule".into(),
            ));
        }
        Ok((self.subset(&train), self.subset(&test)))
    }

    /// The indices of the samples labelled `c` (empty when unlabelled).
    pub fn indices_of_class(&self, c: u8) -> Vec<usize> {
        self.labels.as_ref().map_or_else(Vec::new, |l| {
            l.iter()
                .enumerate()
                .filter(|&(_, &y)| y == c)
                .map(|(i, _)| i)
                .collect()
        })
    }
}

/// One item of [`Samples`] for Burn's [`Dataset`] trait.
#[derive(Clone, Debug)]
pub struct SampleItem {
    /// The `d_input` values of the sample.
    pub values: Vec<f32>,
    /// Its label (0 when the samples are unlabelled).
    pub label: u8,
}

impl Dataset<SampleItem> for Samples {
    fn get(&self, index: usize) -> Result<SampleItem, DatasetError> {
        if index >= self.n_samples {
            return Err(DatasetError::new(Error::Invalid(format!(
                "sample index {index} out of range for {} samples",
                self.n_samples
            ))));
        }
        Ok(SampleItem {
            values: self.row(index).to_vec(),
            label: self.label(index).unwrap_or(0),
        })
    }

    fn len(&self) -> usize {
        self.n_samples
    }
}

/// Which half of a data set to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The training set (`train-*` files).
    Train,
    /// The test set (`t10k-*` files).
    Test,
}

impl Split {
    /// The file-name prefix of this split in MNIST naming.
    pub fn file_prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
        })
    }
}

impl FromStr for Split {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "train" => Ok(Split::Train),
            "test" | "t10k" => Ok(Split::Test),
            other => Err(Error::InvalidConfig {
                field: "split",
                reason: format!("'{other}' is not a split; use 'train' or 'test'"),
            }),
        }
    }
}

/// Loads an IDX image file (and optionally its labels) as samples with pixels scaled to `[0, 1]`.
///
/// A 3-D file `[n, rows, cols]` gives images of that shape; a 2-D file `[n, d]` gives plain vectors.
///
/// # Errors
/// [`Error::Io`] / [`Error::Idx`] from reading; [`Error::Shape`] when the images file is not 2-D or
/// 3-D, the labels file is not 1-D, or their counts differ; [`Error::EmptyData`] for zero samples.
pub fn load_idx_pair(images: &Path, labels: Option<&Path>) -> Result<Samples> {
    let img = read_idx(images)?;
    let (n, d, shape) = match img.dims[..] {
        [n, rows, cols] => (n, rows * cols, Some([rows, cols])),
        [n, d] => (n, d, None),
        _ => {
            return Err(Error::Shape {
                op: "load_idx_pair",
                expected: "an images file of 2 or 3 dimensions ([n, rows, cols] or [n, d])".into(),
                got: format!("dimensions {:?} in '{}'", img.dims, images.display()),
                fix: "pass an images file, not a labels file, as the images",
            })
        }
    };
    if n == 0 || d == 0 {
        return Err(Error::EmptyData {
            what: "IDX images file",
        });
    }
    let values: Vec<f32> = img.data.iter().map(|&p| f32::from(p) / 255.0).collect();
    let mut samples = Samples::new(values, n, d)?;
    if let Some([rows, cols]) = shape {
        samples = samples.with_image_shape(rows, cols)?;
    }
    if let Some(labels_path) = labels {
        let lab = read_idx(labels_path)?;
        if lab.dims.len() != 1 || lab.dims[0] != n {
            return Err(Error::Shape {
                op: "load_idx_pair",
                expected: format!("{n} labels (one per image in '{}')", images.display()),
                got: format!("dimensions {:?} in '{}'", lab.dims, labels_path.display()),
                fix: "pair each images file with its own labels file",
            });
        }
        samples = samples.with_labels(lab.data)?;
    }
    Ok(samples)
}

/// The action of the error for missing data, with where to get it.
const MISSING_DATA: &str = "find the data (a folder with the standard MNIST files \
{train,t10k}-{images-idx3,labels-idx1}-ubyte, raw or .gz; see the README \"Data\" section, \
e.g. --data-dir ../shared/data/mnist) at";

/// The path of `name` or `name.gz` in `dir`, whichever exists (raw first).
fn find_idx(dir: &Path, name: &str) -> Result<PathBuf> {
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(Error::io(
        MISSING_DATA,
        dir.join(format!("{name}[.gz]")),
        std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
    ))
}

/// Loads one split of a folder in standard MNIST naming (also Fashion-MNIST):
/// `{train,t10k}-images-idx3-ubyte` and `-labels-idx1-ubyte`, each raw or `.gz`.
///
/// # Errors
/// [`Error::Io`] naming the missing folder or file and where to get the data; the errors of
/// [`load_idx_pair`] for malformed files.
pub fn load_split(dir: &Path, split: Split) -> Result<Samples> {
    if !dir.is_dir() {
        return Err(Error::io(
            MISSING_DATA,
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        ));
    }
    let prefix = split.file_prefix();
    let images = find_idx(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels = find_idx(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    load_idx_pair(&images, Some(&labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Samples {
        Samples::new((0..12).map(|v| v as f32).collect(), 4, 3)
            .unwrap()
            .with_labels(vec![2, 0, 2, 1])
            .unwrap()
    }

    #[test]
    fn construction_checks() {
        assert!(matches!(
            Samples::new(vec![], 0, 3),
            Err(Error::EmptyData { .. })
        ));
        assert!(matches!(
            Samples::new(vec![1.0; 5], 2, 3),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            Samples::new(vec![1.0, f32::NAN], 1, 2),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            toy().with_labels(vec![1]),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            toy().with_image_shape(2, 2),
            Err(Error::Shape { .. })
        ));
        assert_eq!(
            toy().with_image_shape(1, 3).unwrap().image_shape,
            Some([1, 3])
        );
    }

    #[test]
    fn rows_subsets_and_classes() {
        let s = toy();
        assert_eq!(s.row(1), &[3.0, 4.0, 5.0]);
        let sub = s.subset(&[3, 0]);
        assert_eq!(sub.values, vec![9.0, 10.0, 11.0, 0.0, 1.0, 2.0]);
        assert_eq!(sub.labels, Some(vec![1, 2]));
        assert_eq!(s.take(2).n_samples, 2);
        assert_eq!(s.take(100).n_samples, 4);
        assert_eq!(s.n_classes(), 3);
        assert_eq!(s.indices_of_class(2), vec![0, 2]);
        assert_eq!(s.label(3), Some(1));
        assert_eq!(s.label(4), None);
    }

    #[test]
    fn dataset_get_in_and_out_of_range() {
        let s = toy();
        assert_eq!(Dataset::len(&s), 4);
        let item = s.get(2).unwrap();
        assert_eq!(item.values, vec![6.0, 7.0, 8.0]);
        assert_eq!(item.label, 2);
        assert!(s.get(4).is_err());
    }

    #[test]
    fn split_parses() {
        assert_eq!("train".parse::<Split>().unwrap(), Split::Train);
        assert_eq!("Test".parse::<Split>().unwrap(), Split::Test);
        assert!("validation".parse::<Split>().is_err());
    }
}
