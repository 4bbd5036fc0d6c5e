//! Saving and loading a trained map as a directory:
//!
//! ```text
//! model/
//!   config.json     the SomConfig (lattice, kernel, init, seed)
//!   codebook.bpk    the codebook record (Burn's burnpack format, full f32 precision)
//!   metadata.json   format version, crate version, shape, scaling, unit labels, epochs, checksum
//! ```
//!
//! A directory is written to a temporary sibling and renamed into place, so an interrupted save
//! leaves the previous model intact. Loading checks the format version, the shapes and a
//! checksum of the codebook, so a corrupted or foreign record is an error, never a silent
//! wrong map. A map saved on one device loads on any other.

use std::fs;
use std::path::Path;

use burn::module::Module;
use burn::prelude::Device;
use burn::store::ModuleRecord;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::som::TrainConfig;
use crate::som::{Som, SomConfig};
use crate::tensor::{from_rows, to_vec_f32};

/// Version of the on-disk layout; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_NAME: &str = "invsom-map";

/// The `metadata.json` of a saved map.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Metadata {
    /// Always "invsom-map".
    pub format: String,
    /// Layout version ([`FORMAT_VERSION`] when written by this crate).
    pub format_version: u32,
    /// invsom version that wrote the record.
    pub crate_version: String,
    /// Number of units.
    pub n_units: usize,
    /// Input dimension.
    pub d_input: usize,
    /// FNV-1a hash of the codebook's f32 bytes (little-endian), to detect corruption.
    pub codebook_fnv1a: String,
    /// Everything the map knows besides its prototypes.
    pub map: crate::som::SomMeta,
    /// The training schedule last used, if any.
    pub train: Option<TrainConfig>,
    /// Quality on the training data when saved.
    pub qe: Option<f64>,
    /// Topographic error on the training data when saved.
    pub te: Option<f64>,
    /// The command that produced the model, for reproducibility.
    pub command: Option<String>,
}

/// Extra facts to store with a map.
#[derive(Clone, Debug, Default)]
pub struct SaveInfo {
    /// The training schedule used.
    pub train: Option<TrainConfig>,
    /// Quantization error on the training data.
    pub qe: Option<f64>,
    /// Topographic error on the training data.
    pub te: Option<f64>,
    /// The command line that produced the map.
    pub command: Option<String>,
}

fn fnv1a(values: &[f32]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in v.to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Saves `som` into the directory `dir` (replaced atomically if it exists).
///
/// # Errors
/// [`Error::Io`] naming the folder when it cannot be written.
pub fn save(som: &Som, dir: &Path, info: &SaveInfo) -> Result<()> {
    let codebook = to_vec_f32(som.codebook());
    let meta = Metadata {
        format: FORMAT_NAME.into(),
        format_version: FORMAT_VERSION,
        crate_version: env!("CARGO_PKG_VERSION").into(),
        n_units: som.n_units(),
        d_input: som.d_input(),
        codebook_fnv1a: fnv1a(&codebook),
        map: som.meta().clone(),
        train: info.train.clone(),
        qe: info.qe,
        te: info.te,
        command: info.command.clone(),
    };
    let record = som
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| Error::Record {
            path: dir.into(),
            reason: format!("cannot encode the codebook: {e}"),
        })?;
    crate::io::replace_dir_atomic(dir, |tmp| {
        let config = serde_json::to_vec_pretty(som.config()).expect("config serialises");
        fs::write(tmp.join("config.json"), config)
            .map_err(|e| Error::io("write", dir.join("config.json"), e))?;
        fs::write(tmp.join("codebook.bpk"), &record[..])
            .map_err(|e| Error::io("write", dir.join("codebook.bpk"), e))?;
        let meta = serde_json::to_vec_pretty(&meta).expect("metadata serialises");
        fs::write(tmp.join("metadata.json"), meta)
            .map_err(|e| Error::io("write", dir.join("metadata.json"), e))
    })
}

/// Loads a map saved by [`save`] onto `device`.
///
/// # Errors
/// [`Error::Record`] naming the file and the problem: missing, not JSON, another format or
/// version, shapes that disagree, a codebook whose checksum does not match (corruption).
pub fn load(dir: &Path, device: &Device) -> Result<(Som, Metadata)> {
    let bad = |file: &str, reason: String| Error::Record {
        path: dir.join(file),
        reason,
    };
    if !dir.is_dir() {
        return Err(Error::Record {
            path: dir.into(),
            reason:
                "no such model directory. Fix: give the folder written by `invsom train --out DIR`"
                    .into(),
        });
    }
    let read = |file: &str| {
        fs::read(dir.join(file)).map_err(|e| {
            bad(
                file,
                format!("{e}. Fix: the model directory is incomplete; save or train it again"),
            )
        })
    };
    let meta: Metadata = serde_json::from_slice(&read("metadata.json")?).map_err(|e| {
        bad(
            "metadata.json",
            format!("not valid metadata ({e}). Fix: save or train the model again"),
        )
    })?;
    if meta.format != FORMAT_NAME {
        return Err(bad(
            "metadata.json",
            format!("format '{}' is not an invsom map", meta.format),
        ));
    }
    if meta.format_version != FORMAT_VERSION {
        return Err(bad(
            "metadata.json",
            format!(
                "record format version {} (written by invsom {}) but this invsom {} reads version {FORMAT_VERSION}. Fix: retrain the map with this version, or use invsom {}",
                meta.format_version, meta.crate_version, env!("CARGO_PKG_VERSION"), meta.crate_version
            ),
        ));
    }
    let config: SomConfig = serde_json::from_slice(&read("config.json")?).map_err(|e| {
        bad(
            "config.json",
            format!("not a valid map config ({e}). Fix: save or train the model again"),
        )
    })?;
    let lattice = config.lattice()?;
    if lattice.n_units() != meta.n_units || config.d_input != meta.d_input {
        return Err(bad(
            "config.json",
            format!(
                "config says {} units x {} inputs, metadata says {} x {}. Fix: the files come from different models; save it again",
                lattice.n_units(), config.d_input, meta.n_units, meta.d_input
            ),
        ));
    }
    let bytes = read("codebook.bpk")?;
    let record =
        ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes)).map_err(|e| {
            bad(
                "codebook.bpk",
                format!("corrupted or truncated record ({e}). Fix: save or train the model again"),
            )
        })?;
    let zeros = from_rows(
        vec![0.0; meta.n_units * meta.d_input],
        meta.n_units,
        meta.d_input,
        device,
    );
    let shell = Som::from_codebook(config, zeros)?;
    let mut som = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        shell.try_load_record(record)
    }))
    .map_err(|_| {
        bad(
            "codebook.bpk",
            "the record does not fit this map. Fix: save or train the model again".into(),
        )
    })?
    .map_err(|e| {
        bad(
            "codebook.bpk",
            format!("the record does not fit this map ({e}). Fix: save or train the model again"),
        )
    })?;
    let codebook = to_vec_f32(som.codebook());
    if fnv1a(&codebook) != meta.codebook_fnv1a {
        return Err(bad(
            "codebook.bpk",
            "its checksum does not match metadata.json: the file is corrupted. Fix: restore it or train the model again".into(),
        ));
    }
    crate::tensor::check_finite(
        &codebook,
        "the saved codebook",
        "Fix: train the model again",
    )?;
    *som.meta_mut() = meta.map.clone();
    Ok((som, meta))
}
