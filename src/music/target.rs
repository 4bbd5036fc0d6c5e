//! Targets of MUSIC trajectories and the map view they are resolved against.

use burn::prelude::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::topology::Lattice;

/// Where a trajectory goes: one unit, or every unit of a class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// One unit, by its row-major index.
    Unit(usize),
    /// One unit, by its lattice cell.
    Cell { row: usize, col: usize },
    /// Every unit whose majority label is this class (the map must be labelled).
    Class(u8),
}

/// What MUSIC needs from a trained map: the codebook, its lattice and (for class targets) the
/// majority label of each unit. Build it from a [`crate::som::Som`] with [`MusicMap::from_som`], or
/// from plain parts with [`MusicMap::new`].
#[derive(Clone, Debug)]
pub struct MusicMap<'a> {
    codebook: Tensor<2>,
    lattice: &'a Lattice,
    unit_labels: Option<&'a [Option<u8>]>,
}

impl<'a> MusicMap<'a> {
    /// A map view from its parts, checked for consistency.
    ///
    /// # Shapes
    /// - `codebook`: `[K, D]` with `K = lattice.n_units()`
    /// - `unit_labels`: `K` entries when given
    ///
    /// # Errors
    /// [`Error::Shape`] when the codebook, lattice and labels disagree on `K`.
    pub fn new(
        codebook: Tensor<2>,
        lattice: &'a Lattice,
        unit_labels: Option<&'a [Option<u8>]>,
    ) -> Result<Self> {
        let [k, _] = codebook.dims();
        if k != lattice.n_units() {
            return Err(Error::Shape {
                op: "MusicMap::new",
                expected: format!("{} codebook rows (one per lattice unit)", lattice.n_units()),
                got: format!("{k}"),
                fix: "pass the codebook and lattice of the same map",
            });
        }
        if let Some(labels) = unit_labels {
            if labels.len() != k {
                return Err(Error::Shape {
                    op: "MusicMap::new",
                    expected: format!("{k} unit labels"),
                    got: format!("{}", labels.len()),
                    fix: "pass the unit labels of the same map",
                });
            }
        }
        Ok(MusicMap {
            codebook,
            lattice,
            unit_labels,
        })
    }

    /// The view of a trained map.
    pub fn from_som(som: &'a crate::som::Som) -> Self {
        MusicMap {
            codebook: som.codebook(),
            lattice: som.lattice(),
            unit_labels: som.unit_labels(),
        }
    }

    /// The prototypes.
    ///
    /// # Shapes
    /// `[K, D]`
    pub fn codebook(&self) -> Tensor<2> {
        self.codebook.clone()
    }

    /// The lattice.
    pub fn lattice(&self) -> &'a Lattice {
        self.lattice
    }

    /// Majority label per unit, when the map is labelled.
    pub fn unit_labels(&self) -> Option<&'a [Option<u8>]> {
        self.unit_labels
    }

    /// Number of units `K`.
    pub fn n_units(&self) -> usize {
        self.lattice.n_units()
    }

    /// The units a target stands for, in increasing order (never empty).
    ///
    /// # Errors
    /// [`Error::Target`] for a unit or cell outside the map, a class target on an unlabelled
    /// map, or a class that no unit carries; the message says how to fix it.
    pub fn resolve(&self, target: Target) -> Result<Vec<usize>> {
        let k = self.n_units();
        match target {
            Target::Unit(u) if u < k => Ok(vec![u]),
            Target::Unit(u) => Err(Error::Target(format!(
                "unit {u} is outside the map of {k} units. Fix: use a unit index in 0..{k}"
            ))),
            Target::Cell { row, col } => {
                let (rows, cols) = (self.lattice.rows(), self.lattice.cols());
                if row < rows && col < cols {
                    Ok(vec![self.lattice.unit(row, col)])
                } else {
                    Err(Error::Target(format!(
                        "cell ({row}, {col}) is outside the {rows}x{cols} map. \
                         Fix: use row in 0..{rows} and col in 0..{cols}"
                    )))
                }
            }
            Target::Class(c) => {
                let labels = self.unit_labels.ok_or_else(|| {
                    Error::Target(format!(
                        "class {c} needs a labelled map, and this map has no unit labels. \
                         Fix: label the map's units with labelled training data, or target a unit"
                    ))
                })?;
                let units: Vec<usize> = (0..k).filter(|&u| labels[u] == Some(c)).collect();
                if units.is_empty() {
                    let mut present: Vec<u8> = labels.iter().flatten().copied().collect();
                    present.sort_unstable();
                    present.dedup();
                    return Err(Error::Target(format!(
                        "no unit of the map carries class {c}. Fix: use one of the classes {present:?}, \
                         or a larger map"
                    )));
                }
                Ok(units)
            }
        }
    }
}
