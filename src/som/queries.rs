//! What a trained map answers: activations, best matching units, quality, U-matrix, hits, labels.

use burn::prelude::{Int, Tensor};
use burn::tensor::{s, DType};

use crate::data::Samples;
use crate::error::{Error, Result};
use crate::som::model::Som;
use crate::som::train::chunk_size;
use crate::tensor::{sq_distances, to_vec_f32, to_vec_usize};

/// Majority-vote labels of the units.
#[derive(Clone, Debug, serde::Serialize)]
pub struct UnitLabels {
    /// Class of each unit; `None` where no labelled sample has the unit as BMU.
    pub labels: Vec<Option<u8>>,
    /// Share of the labelled samples whose BMU carries their own label.
    pub purity: f64,
    /// Units with a label.
    pub n_labelled_units: usize,
}

impl Som {
    /// Squared distances of every input to every prototype: the map's **activation**.
    ///
    /// Computed in the dtype of `x` (cast `x` to f64 for f64 activations, where the device
    /// supports it).
    ///
    /// # Shapes
    /// `x: [N, D] -> [N, K]`
    ///
    /// # Errors
    /// [`Error::Shape`] when `D` differs from the map's input dimension.
    pub fn activations(&self, x: Tensor<2>) -> Result<Tensor<2>> {
        self.check_input(&x, "activations")?;
        let w = self.codebook().cast(x.dtype());
        Ok(sq_distances(x, w))
    }

    /// Activations in f64 (inputs and codebook cast to f64 first): the accurate form for
    /// inversion, where `||x||^2 + ||w||^2 - 2 x.w` would lose digits in f32.
    ///
    /// # Errors
    /// As [`Som::activations`].
    pub fn activations_f64(&self, x: Tensor<2>) -> Result<Tensor<2>> {
        self.activations(x.cast(DType::F64))
    }

    /// Index of the best matching unit of every input.
    ///
    /// # Shapes
    /// `x: [N, D] -> [N]`
    ///
    /// # Errors
    /// As [`Som::activations`].
    pub fn bmu(&self, x: Tensor<2>) -> Result<Tensor<1, Int>> {
        let n = x.dims()[0];
        Ok(self.activations(x)?.argmin(1).reshape([n]))
    }

    /// Best matching units on the host, computed in chunks.
    ///
    /// # Errors
    /// As [`Som::activations`].
    pub fn bmu_host(&self, x: &Tensor<2>) -> Result<Vec<usize>> {
        self.check_input(x, "bmu")?;
        let n = x.dims()[0];
        let chunk = chunk_size(0, n, self.n_units());
        let mut out = Vec::with_capacity(n);
        for (start, end) in chunks(n, chunk) {
            out.extend(to_vec_usize(self.bmu(x.clone().slice(s![start..end, ..]))?));
        }
        Ok(out)
    }

    /// Mean distance of the inputs to their best matching prototype.
    ///
    /// # Errors
    /// [`Error::Shape`] on a dimension mismatch, [`Error::EmptyData`] with no rows.
    pub fn quantization_error(&self, x: &Tensor<2>) -> f64 {
        let n = x.dims()[0];
        self.quantization_error_chunked(x, chunk_size(0, n, self.n_units()))
    }

    pub(crate) fn quantization_error_chunked(&self, x: &Tensor<2>, chunk: usize) -> f64 {
        let n = x.dims()[0];
        if n == 0 {
            return f64::NAN;
        }
        let w = self.codebook();
        let mut total = 0.0;
        for (start, end) in chunks(n, chunk) {
            let d = sq_distances(x.clone().slice(s![start..end, ..]), w.clone());
            total += d.min_dim(1).sqrt().sum().into_scalar::<f64>();
        }
        total / n as f64
    }

    /// Share of inputs whose first and second best matching units are not adjacent on the
    /// lattice (8 surrounding cells on a rectangular lattice, 6 on a hexagonal one; wrap-aware).
    pub fn topographic_error(&self, x: &Tensor<2>) -> f64 {
        let n = x.dims()[0];
        self.topographic_error_chunked(x, chunk_size(0, n, self.n_units()))
    }

    pub(crate) fn topographic_error_chunked(&self, x: &Tensor<2>, chunk: usize) -> f64 {
        let n = x.dims()[0];
        if n == 0 || self.n_units() < 2 {
            return 0.0;
        }
        let w = self.codebook();
        let mut errors = 0usize;
        for (start, end) in chunks(n, chunk) {
            let d = sq_distances(x.clone().slice(s![start..end, ..]), w.clone());
            let (_, idx) = (d * -1.0).topk_with_indices(2, 1);
            let idx = to_vec_usize(idx);
            errors += idx
                .chunks(2)
                .filter(|p| !self.lattice().adjacent(p[0], p[1]))
                .count();
        }
        errors as f64 / n as f64
    }

    /// U-matrix: for every unit, the mean distance of its prototype to those of its lattice
    /// neighbours (distance 1). High values mark cluster borders.
    pub fn u_matrix(&self) -> Vec<f32> {
        let d = self.d_input();
        let w = to_vec_f32(self.codebook());
        (0..self.n_units())
            .map(|u| {
                let nb = self.lattice().neighbours(u);
                if nb.is_empty() {
                    return 0.0;
                }
                let row = &w[u * d..(u + 1) * d];
                let total: f32 = nb
                    .iter()
                    .map(|&v| {
                        row.iter()
                            .zip(&w[v * d..(v + 1) * d])
                            .map(|(a, b)| (a - b) * (a - b))
                            .sum::<f32>()
                            .sqrt()
                    })
                    .sum();
                total / nb.len() as f32
            })
            .collect()
    }

    /// How many inputs have each unit as best matching unit.
    ///
    /// # Errors
    /// [`Error::Shape`] on a dimension mismatch.
    pub fn hit_map(&self, x: &Tensor<2>) -> Result<Vec<usize>> {
        let mut hits = vec![0usize; self.n_units()];
        for b in self.bmu_host(x)? {
            hits[b] += 1;
        }
        Ok(hits)
    }

    /// Labels every unit by majority vote of the labelled samples it wins (ties go to the
    /// smaller label) and stores the labels in the map's metadata.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `data` has no labels; [`Error::Shape`] on a dimension mismatch.
    pub fn label_units(&mut self, data: &Samples) -> Result<UnitLabels> {
        let labels = data.labels.as_ref().ok_or_else(|| {
            Error::Invalid("the data has no labels, so units cannot be labelled. Fix: give a labels file (e.g. train-labels-idx1-ubyte)".into())
        })?;
        let x = data.to_tensor(&self.device());
        let bmus = self.bmu_host(&x)?;
        let n_classes = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
        let mut votes = vec![0usize; self.n_units() * n_classes];
        for (&b, &l) in bmus.iter().zip(labels) {
            votes[b * n_classes + l as usize] += 1;
        }
        let unit_labels: Vec<Option<u8>> = (0..self.n_units())
            .map(|u| {
                let v = &votes[u * n_classes..(u + 1) * n_classes];
                let (best, &count) = v.iter().enumerate().rev().max_by_key(|(_, &c)| c)?;
                (count > 0).then_some(best as u8)
            })
            .collect();
        let agree = bmus
            .iter()
            .zip(labels)
            .filter(|(&b, &l)| unit_labels[b] == Some(l))
            .count();
        let n_labelled_units = unit_labels.iter().filter(|l| l.is_some()).count();
        self.meta.unit_labels = Some(unit_labels.clone());
        Ok(UnitLabels {
            labels: unit_labels,
            purity: agree as f64 / bmus.len().max(1) as f64,
            n_labelled_units,
        })
    }

    /// Class predicted for each input: the label of its best matching unit.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the map has no unit labels.
    pub fn predict(&self, x: &Tensor<2>) -> Result<Vec<Option<u8>>> {
        let labels = self.unit_labels().ok_or_else(|| {
            Error::Invalid(
                "the map has no unit labels. Fix: train it on labelled data (or call label_units)"
                    .into(),
            )
        })?;
        Ok(self.bmu_host(x)?.into_iter().map(|b| labels[b]).collect())
    }
}

/// `[start, end)` ranges of at most `chunk` rows covering `0..n`.
pub(crate) fn chunks(n: usize, chunk: usize) -> impl Iterator<Item = (usize, usize)> {
    let chunk = chunk.max(1);
    (0..n).step_by(chunk).map(move |s| (s, (s + chunk).min(n)))
}
