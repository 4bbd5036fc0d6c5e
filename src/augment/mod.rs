//! MUSIC as a data-augmentation stage for Burn training loops (METHOD.md §5).
//!
//! A labelled sample takes a few MUSIC steps (METHOD.md §3) toward a prototype of its **own
//! class**: the squared distance to that prototype shrinks while those to the nearest other
//! prototypes are kept, so the sample moves along the map's sheet and keeps its label. Every
//! variant's target and step fraction are drawn from a seeded RNG keyed by (sample, variant), and
//! the steps run batched ([`crate::music::MusicStepper`]) on the inner (non-autodiff) device.
//!
//! Three ways in:
//! - [`AugmentedDataset`]: a Burn [`Dataset`](burn::data::dataset::Dataset) wrapper serving the
//!   originals followed by their variants, precomputed in batches;
//! - [`augment_batch`]: inside a training loop, on an (autodiff) training batch;
//! - [`augment_samples`]: the variants of a whole [`Samples`](crate::data::Samples) set (what
//!   `invsom augment` writes as IDX files).
//!
//! The baseline of the same budget is [`blend_within_class`] (mixup within one class).

mod blend;
mod config;
mod dataset;
mod stage;

pub use blend::blend_within_class;
pub use config::MusicAugment;
pub use dataset::AugmentedDataset;
pub use stage::{augment_batch, augment_samples, AugmentMap};
