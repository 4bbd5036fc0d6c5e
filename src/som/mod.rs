//! The Self-Organizing Map: configuration, the model, initialisation, training and queries.
//!
//! A map is built as `SomConfig::new(rows, cols, d_input).with_...().init(&data, &device)` and
//! trained with [`train`] under a [`TrainConfig`]:
//! 1. **Kohonen batch** (default): one pass over the data per epoch finds every sample's best
//!    matching unit (one distance GEMM per chunk of samples), sums the samples per unit, smooths the
//!    sums over the lattice with the neighbourhood kernel, and sets each prototype to its weighted
//!    mean. Never an `N x K x D` tensor: samples are processed in chunks.
//! 2. **Online mini-batch**: per mini-batch, every prototype moves toward the samples by
//!    `lr * h(bmu, unit)`, averaged over the batch.
//!
//! Both are plain Burn tensor code, so they run on any device. Training is resumable: the map
//! counts the epochs it has done and the schedules continue from there.
//!
//! ```
//! use invsom::data::mixture::GaussianMixture;
//! use invsom::som::{train, SomConfig, TrainConfig};
//! use burn::prelude::Device;
//!
//! let device = Device::flex();
//! let data = GaussianMixture { n_components: 3, d_input: 2, spread: 10.0, sigma: 0.5, seed: 7 }
//!     .sample(300).unwrap();
//! let mut som = SomConfig::new(6, 6, 2).with_seed(1).init(&data, &device).unwrap();
//! let start_qe = som.quantization_error(&data.to_tensor(&device));
//! let report = train(&mut som, &data, &TrainConfig::new().with_n_epochs(10), |_| std::ops::ControlFlow::Continue(())).unwrap();
//! assert!(report.qe < start_qe);
//! ```

mod config;
mod init;
mod model;
mod parallel;
mod queries;
mod train;

pub use config::{Init, SomConfig, TrainConfig, TrainMode};
pub use model::{Som, SomMeta};
pub use parallel::train_data_parallel;
pub use queries::UnitLabels;
pub use train::{default_chunk_size, train, train_tensor, EpochReport, TrainReport};
