//! # invsom: Self-Organizing Maps on Burn that can be inverted
//!
//! invsom trains Self-Organizing Maps (SOMs) as Burn tensor code, so one code path runs on every
//! Burn device (flex on CPU, wgpu on GPU), and it **inverts** them: from the activation of a map
//! (the squared distances of an input to every prototype) it recovers the input exactly when the
//! prototypes affinely span the input space, and with the MUSIC rule it moves an input along a
//! controlled trajectory toward a chosen prototype or class.
//!
//! The modules follow the architecture:
//! - [`topology`]: lattices (rectangular, hexagonal, toroidal), neighbourhood kernels, schedules.
//! - [`som`]: the map ([`SomConfig`] -> [`Som`]), initialisation, training, queries.
//! - [`inversion`]: the inversion operator built once per codebook, with its diagnostics.
//! - [`music`]: MUSIC trajectories and their baselines.
//! - [`data`]: IDX reader, Gaussian mixtures, scaling, embedded fixtures.
//! - [`metrics`]: map quality, image sharpness, paired statistics.
//! - [`records`]: saving and loading a trained map as a directory.
//! - [`viz`]: PNG pictures of maps and trajectories.
//! - [`classifier`]: the independent Burn classifiers used to score trajectories.
//! - [`augment`]: MUSIC as a data-augmentation stage for Burn training loops.

pub mod augment;
pub mod backend;
pub mod classifier;
pub mod data;
pub mod error;
pub mod experiments;
pub mod inversion;
pub mod io;
pub mod linalg;
pub mod metrics;
pub mod music;
pub mod records;
pub mod som;
pub mod tensor;
pub mod topology;
pub mod viz;

pub use backend::BackendKind;
pub use error::{Error, Result};
