//! Image preprocessing for the classifiers.

use crate::data::Samples;
use crate::error::{Error, Result};

/// Shrinks every image by `factor` in both directions, averaging each `factor x factor` block.
///
/// Area averaging is the antialiased way to shrink (no aliasing, no ringing) and keeps pixels in
/// `[0, 1]`. Rows and columns that do not fill a whole block at the bottom and right edges are
/// dropped: 112 x 92 by 4 gives 28 x 23. A `factor` of 1 returns a copy. Labels are kept.
///
/// # Shapes
/// `samples` images `[rows, cols]` -> `[rows / factor, cols / factor]` (integer division).
///
/// # Errors
/// [`Error::InvalidConfig`] when `factor` is 0 or larger than the image; [`Error::Shape`] when
/// the samples carry no image shape.
pub fn downsample(samples: &Samples, factor: usize) -> Result<Samples> {
    let Some([rows, cols]) = samples.image_shape else {
        return Err(Error::Shape {
            op: "downsample",
            expected: "images (samples with an image shape)".into(),
            got: format!("plain vectors of length {}", samples.d_input),
            fix:
                "load the data from a 3-D IDX file, or set the shape with Samples::with_image_shape",
        });
    };
    if factor == 0 || factor > rows || factor > cols {
        return Err(Error::InvalidConfig {
            field: "downsample factor",
            reason: format!(
                "{factor} does not fit images of {rows} x {cols}; use a factor from 1 to {}",
                rows.min(cols)
            ),
        });
    }
    let (out_rows, out_cols) = (rows / factor, cols / factor);
    let area = (factor * factor) as f32;
    let mut values = Vec::with_capacity(samples.n_samples * out_rows * out_cols);
    for n in 0..samples.n_samples {
        let image = samples.row(n);
        for i in 0..out_rows {
            for j in 0..out_cols {
                let mut sum = 0.0f32;
                for di in 0..factor {
                    let start = (i * factor + di) * cols + j * factor;
                    sum += image[start..start + factor].iter().sum::<f32>();
                }
                values.push(sum / area);
            }
        }
    }
    let mut out = Samples::new(values, samples.n_samples, out_rows * out_cols)?
        .with_image_shape(out_rows, out_cols)?;
    if let Some(labels) = &samples.labels {
        out = out.with_labels(labels.clone())?;
    }
    Ok(out)
}
