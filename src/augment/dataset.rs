//! A Burn [`Dataset`] that serves the originals followed by their MUSIC variants.

use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::Device;

use super::config::MusicAugment;
use super::stage::AugmentMap;
use crate::data::{SampleItem, Samples};
use crate::error::{Error, Result};
use crate::tensor::{from_rows, to_vec_f32};

/// Any labelled [`Dataset`] of [`SampleItem`]s extended with `V` MUSIC variants per item.
///
/// Item `i < N` is the inner item `i` unchanged; item `N + s V + v` is variant `v` of inner item
/// `s`, with the label of item `s`. The variants are computed once, at construction, by batched
/// MUSIC steps on the given device ([`AugmentMap::variants`]), so `get` is a copy and is
/// deterministic: the same seed gives the same items.
///
/// ```no_run
/// use burn::data::dataset::Dataset;
/// use burn::prelude::Device;
/// use invsom::augment::{AugmentMap, AugmentedDataset, MusicAugment};
///
/// let device = Device::flex();
/// let (som, _) = invsom::records::load("models/mnist-30x30".as_ref(), &device).unwrap();
/// let labelled = invsom::data::fixtures::mnist_train().take(100);
/// let map = AugmentMap::from_labelled(&som, &labelled).unwrap();
/// let cfg = MusicAugment { n_variants: 3, ..MusicAugment::default() };
/// let data = AugmentedDataset::new(labelled, &map, &cfg, &device).unwrap();
/// assert_eq!(data.len(), 400);
/// ```
#[derive(Clone, Debug)]
pub struct AugmentedDataset<D> {
    inner: D,
    n_original: usize,
    n_variants: usize,
    d_input: usize,
    /// `[N V, D]` row-major, sample-major.
    variants: Vec<f32>,
    variant_labels: Vec<u8>,
}

fn dataset_error(index: usize, e: DatasetError) -> Error {
    Error::Invalid(format!(
        "the inner data set failed to give item {index}: {e}. Fix: check the data set"
    ))
}

impl<D: Dataset<SampleItem>> AugmentedDataset<D> {
    /// Wraps `inner` and computes its variants in batches of `cfg.batch_size` on `device` (its
    /// inner device when `device` is an autodiff device). Item `i`'s random draws use the id `i`.
    ///
    /// # Errors
    /// [`Error::EmptyData`] for an empty `inner`; [`Error::Invalid`] when an item cannot be read;
    /// [`Error::Shape`] when items differ in length or do not match the map; the errors of
    /// [`AugmentMap::variants`].
    pub fn new(inner: D, map: &AugmentMap, cfg: &MusicAugment, device: &Device) -> Result<Self> {
        cfg.validate()?;
        let n = inner.len();
        if n == 0 {
            return Err(Error::EmptyData {
                what: "data set to augment",
            });
        }
        let device = device.clone().inner();
        let d = map.d_input();
        let v = cfg.n_variants;
        let rows_per_chunk = (cfg.batch_size / v).max(1);
        let mut variants = Vec::with_capacity(n * v * d);
        let mut variant_labels = Vec::with_capacity(n * v);
        for start in (0..n).step_by(rows_per_chunk) {
            let end = (start + rows_per_chunk).min(n);
            let mut values = Vec::with_capacity((end - start) * d);
            let mut labels = Vec::with_capacity(end - start);
            for i in start..end {
                let item = inner.get(i).map_err(|e| dataset_error(i, e))?;
                if item.values.len() != d {
                    return Err(Error::Shape {
                        op: "AugmentedDataset::new",
                        expected: format!("items of {d} values (the map's dimension)"),
                        got: format!("item {i} has {}", item.values.len()),
                        fix: "use data of the kind the map was trained on",
                    });
                }
                values.extend_from_slice(&item.values);
                labels.push(item.label);
            }
            let x = from_rows(values, end - start, d, &device);
            let ids: Vec<u64> = (start as u64..end as u64).collect();
            variants.extend(to_vec_f32(map.variants(x, &labels, &ids, cfg)?));
            variant_labels.extend(labels.iter().flat_map(|&c| std::iter::repeat_n(c, v)));
        }
        Ok(AugmentedDataset {
            inner,
            n_original: n,
            n_variants: v,
            d_input: d,
            variants,
            variant_labels,
        })
    }

    /// Number of inner items `N`.
    pub fn n_original(&self) -> usize {
        self.n_original
    }

    /// Variants per item `V`.
    pub fn n_variants(&self) -> usize {
        self.n_variants
    }

    /// The wrapped data set.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// All `N (1 + V)` items as [`Samples`] (for [`crate::classifier::train_classifier`]), with
    /// the given image shape.
    ///
    /// # Errors
    /// [`Error::Invalid`] when an inner item cannot be read; [`Error::Shape`] when `image_shape`
    /// does not match the item length.
    pub fn to_samples(&self, image_shape: Option<[usize; 2]>) -> Result<Samples> {
        let n = self.len();
        let mut values = Vec::with_capacity(n * self.d_input);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let item = self.get(i).map_err(|e| dataset_error(i, e))?;
            values.extend(item.values);
            labels.push(item.label);
        }
        let mut out = Samples::new(values, n, self.d_input)?.with_labels(labels)?;
        if let Some([rows, cols]) = image_shape {
            out = out.with_image_shape(rows, cols)?;
        }
        Ok(out)
    }
}

impl<D: Dataset<SampleItem>> Dataset<SampleItem> for AugmentedDataset<D> {
    fn get(&self, index: usize) -> std::result::Result<SampleItem, DatasetError> {
        if index < self.n_original {
            return self.inner.get(index);
        }
        let j = index - self.n_original;
        if j >= self.variant_labels.len() {
            return Err(DatasetError::new(Error::Invalid(format!(
                "item {index} is out of range for an augmented data set of {} items",
                self.len()
            ))));
        }
        Ok(SampleItem {
            values: self.variants[j * self.d_input..(j + 1) * self.d_input].to_vec(),
            label: self.variant_labels[j],
        })
    }

    fn len(&self) -> usize {
        self.n_original * (1 + self.n_variants)
    }
}
