//! All integration tests, linked into one test binary: each `tests/<topic>.rs` is a module here.
//! One binary instead of one per topic keeps a clean build's link time and disk use small (each
//! binary links the whole Burn and wgpu stack).
//!
//! Run one topic with `cargo test --features wgpu --test suite <topic>::`.

mod common;

mod augment;
mod classifier;
mod cli;
mod data;
mod devices;
mod experiments;
mod inversion;
mod metrics;
mod music;
mod records;
mod robustness;
mod som;
mod viz;
