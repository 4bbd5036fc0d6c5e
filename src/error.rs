//! One error type for the whole crate. Every message names the problem and says how to fix it.

use std::path::PathBuf;

/// Result alias used across invsom.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in invsom.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{action} '{path}': {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An IDX file is malformed.
    #[error("'{path}' is not a valid IDX file: {reason}. Fix: use an uncorrupted MNIST-format (IDX) file, raw or gzip")]
    Idx { path: PathBuf, reason: String },
    /// A configuration value is out of range.
    #[error("invalid {field}: {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    /// Two shapes that must agree do not.
    #[error("shape mismatch in {op}: expected {expected}, got {got}. {fix}")]
    Shape {
        op: &'static str,
        expected: String,
        got: String,
        fix: &'static str,
    },
    /// Data with no samples.
    #[error(
        "empty data in {what}: at least one sample is needed. Fix: check the data path and split"
    )]
    EmptyData { what: &'static str },
    /// NaN or infinite values.
    #[error("non-finite value (NaN or infinity) in {what}. {fix}")]
    NonFinite { what: String, fix: &'static str },
    /// A saved model cannot be loaded.
    #[error("cannot load model record '{path}': {reason}")]
    Record { path: PathBuf, reason: String },
    /// The requested device is not available.
    #[error("device not available: {0}")]
    Device(String),
    /// A MUSIC or inversion target is not valid for this map.
    #[error("invalid target: {0}")]
    Target(String),
    /// A computation cannot proceed on this input.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// An I/O error with the action and path that failed.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
