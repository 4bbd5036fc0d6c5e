//! Data: the IDX reader (raw and gzip), [`Samples`] with labels and image shapes, Gaussian
//! mixtures for 2-D experiments, per-feature scaling, and small real data sets embedded in the
//! binary ([`fixtures`]).
//!
//! Full data sets are read from a folder in standard MNIST naming with [`load_split`]; see the
//! README "Data" section for where to get them.

pub mod fixtures;
pub mod idx;
pub mod mixture;
mod samples;
pub mod scaling;

pub use samples::{load_idx_pair, load_split, SampleItem, Samples, Split};
pub use scaling::Scaling;
