//! Rectangular and hexagonal lattices, optionally toroidal.
//!
//! Units are numbered row-major: `unit = row * cols + col`. On a hexagonal lattice odd rows are
//! shifted right by half a cell and rows are `sqrt(3)/2` apart, so every unit is at distance
//! exactly 1 from each of its six neighbours. A toroidal lattice wraps both axes; a hexagonal
//! torus needs an even number of rows so the row offsets line up across the seam.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The shape of the cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LatticeKind {
    /// Square cells: 4 neighbours at distance 1, 4 diagonal ones at sqrt(2).
    #[default]
    Rectangular,
    /// Hexagonal cells: 6 neighbours at distance 1.
    Hexagonal,
}

impl std::str::FromStr for LatticeKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "rect" | "rectangular" => Ok(LatticeKind::Rectangular),
            "hex" | "hexagonal" => Ok(LatticeKind::Hexagonal),
            other => Err(Error::InvalidConfig {
                field: "lattice",
                reason: format!("unknown lattice '{other}'. Fix: use 'rectangular' or 'hexagonal'"),
            }),
        }
    }
}

const HEX_ROW_HEIGHT: f64 = 0.866_025_403_784_438_6; // sqrt(3)/2

/// A 2-D lattice of `rows x cols` units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lattice {
    rows: usize,
    cols: usize,
    kind: LatticeKind,
    toroidal: bool,
}

impl Lattice {
    /// A lattice, checked.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a zero dimension or a hexagonal torus with an odd row count.
    pub fn new(rows: usize, cols: usize, kind: LatticeKind, toroidal: bool) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::InvalidConfig {
                field: "map size",
                reason: format!("{rows}x{cols} has no units. Fix: use at least 1 row and 1 column"),
            });
        }
        if toroidal && kind == LatticeKind::Hexagonal && rows % 2 == 1 {
            return Err(Error::InvalidConfig {
                field: "map size",
                reason: format!(
                    "a hexagonal torus needs an even number of rows, got {rows}. Fix: use {} rows",
                    rows + 1
                ),
            });
        }
        Ok(Lattice {
            rows,
            cols,
            kind,
            toroidal,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Cell shape.
    pub fn kind(&self) -> LatticeKind {
        self.kind
    }
    /// Whether both axes wrap.
    pub fn toroidal(&self) -> bool {
        self.toroidal
    }
    /// Number of units, `rows * cols`.
    pub fn n_units(&self) -> usize {
        self.rows * self.cols
    }
    /// The unit at a grid cell.
    pub fn unit(&self, row: usize, col: usize) -> usize {
        row * self.cols + col
    }
    /// The grid cell of a unit.
    pub fn cell(&self, unit: usize) -> (usize, usize) {
        (unit / self.cols, unit % self.cols)
    }

    /// Position of a unit in the plane (unit spacing between neighbours).
    pub fn position(&self, unit: usize) -> [f64; 2] {
        let (r, c) = self.cell(unit);
        match self.kind {
            LatticeKind::Rectangular => [c as f64, r as f64],
            LatticeKind::Hexagonal => [
                c as f64 + if r % 2 == 1 { 0.5 } else { 0.0 },
                r as f64 * HEX_ROW_HEIGHT,
            ],
        }
    }

    /// The periods of the plane embedding when toroidal: (width, height).
    fn periods(&self) -> [f64; 2] {
        match self.kind {
            LatticeKind::Rectangular => [self.cols as f64, self.rows as f64],
            LatticeKind::Hexagonal => [self.cols as f64, self.rows as f64 * HEX_ROW_HEIGHT],
        }
    }

    /// Squared lattice distance between two units (wrap-aware).
    pub fn sq_distance(&self, a: usize, b: usize) -> f64 {
        let pa = self.position(a);
        let pb = self.position(b);
        let mut dx = (pa[0] - pb[0]).abs();
        let mut dy = (pa[1] - pb[1]).abs();
        if self.toroidal {
            let [w, h] = self.periods();
            dx = dx.min(w - dx);
            dy = dy.min(h - dy);
        }
        dx * dx + dy * dy
    }

    /// All squared lattice distances, `K x K` row-major (for dense neighbourhood matrices).
    pub fn sq_distance_matrix(&self) -> Vec<f32> {
        let k = self.n_units();
        let mut d = vec![0.0f32; k * k];
        for i in 0..k {
            for j in 0..k {
                d[i * k + j] = self.sq_distance(i, j) as f32;
            }
        }
        d
    }

    /// Squared distances along each axis separately, for separable kernels on rectangular
    /// lattices: `(rows x rows, cols x cols)` row-major.
    pub fn axis_sq_distances(&self) -> (Vec<f32>, Vec<f32>) {
        let axis = |n: usize| {
            let mut d = vec![0.0f32; n * n];
            for i in 0..n {
                for j in 0..n {
                    let mut t = (i as f64 - j as f64).abs();
                    if self.toroidal {
                        t = t.min(n as f64 - t);
                    }
                    d[i * n + j] = (t * t) as f32;
                }
            }
            d
        };
        (axis(self.rows), axis(self.cols))
    }

    /// Units at lattice distance 1 (4 on a rectangular lattice, 6 on a hexagonal one, fewer on
    /// the border unless toroidal).
    pub fn neighbours(&self, unit: usize) -> Vec<usize> {
        self.units_within(unit, 1.0 + 1e-6)
    }

    /// Units adjacent for the topographic error: the 8 surrounding cells on a rectangular lattice
    /// (as MiniSom and the SOM Toolbox count them), the 6 neighbours on a hexagonal one.
    pub fn adjacent(&self, a: usize, b: usize) -> bool {
        let limit = match self.kind {
            LatticeKind::Rectangular => 2.0 + 1e-6,
            LatticeKind::Hexagonal => 1.0 + 1e-6,
        };
        a != b && self.sq_distance(a, b) <= limit
    }

    /// Units other than `unit` within lattice distance `radius`.
    pub fn units_within(&self, unit: usize, radius: f64) -> Vec<usize> {
        let r2 = radius * radius;
        (0..self.n_units())
            .filter(|&j| j != unit && self.sq_distance(unit, j) <= r2)
            .collect()
    }

    /// A shortest lattice path of units from `from` to `to` (both included), moving one
    /// neighbour at a time, each step to the neighbour closest to `to`.
    pub fn grid_path(&self, from: usize, to: usize) -> Vec<usize> {
        let mut path = vec![from];
        let mut current = from;
        while current != to {
            let next = self
                .neighbours(current)
                .into_iter()
                .min_by(|&a, &b| {
                    self.sq_distance(a, to)
                        .partial_cmp(&self.sq_distance(b, to))
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
                .expect("every unit of a lattice with 2+ units has a neighbour");
            if self.sq_distance(next, to) >= self.sq_distance(current, to) {
                break; // cannot happen on a connected lattice; guards against a loop
            }
            path.push(next);
            current = next;
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rectangular_distances_by_hand() {
        let l = Lattice::new(3, 4, LatticeKind::Rectangular, false).unwrap();
        assert_eq!(l.sq_distance(l.unit(0, 0), l.unit(2, 3)), 4.0 + 9.0);
        assert_eq!(l.neighbours(l.unit(1, 1)).len(), 4);
        assert_eq!(l.neighbours(l.unit(0, 0)), vec![1, 4]);
        assert!(l.adjacent(l.unit(0, 0), l.unit(1, 1)));
        assert!(!l.adjacent(l.unit(0, 0), l.unit(0, 2)));
    }

    #[test]
    fn toroidal_wraps_both_axes() {
        let l = Lattice::new(4, 5, LatticeKind::Rectangular, true).unwrap();
        assert_eq!(l.sq_distance(l.unit(0, 0), l.unit(0, 4)), 1.0);
        assert_eq!(l.sq_distance(l.unit(0, 0), l.unit(3, 4)), 2.0);
        assert_eq!(l.neighbours(l.unit(0, 0)).len(), 4);
    }

    #[test]
    fn hexagonal_neighbours_are_at_unit_distance() {
        let l = Lattice::new(4, 4, LatticeKind::Hexagonal, false).unwrap();
        let u = l.unit(1, 1); // odd row, shifted right
        let n = l.neighbours(u);
        assert_eq!(n.len(), 6);
        for v in n {
            assert!((l.sq_distance(u, v) - 1.0).abs() < 1e-12);
        }
        // (0,0) and (1,0): dx = 0.5, dy = sqrt(3)/2 -> distance 1.
        assert!((l.sq_distance(l.unit(0, 0), l.unit(1, 0)) - 1.0).abs() < 1e-12);
        // (0,0) and (0,2): distance 2.
        assert!((l.sq_distance(l.unit(0, 0), l.unit(0, 2)) - 4.0).abs() < 1e-12);
    }

    #[test]
    fn hexagonal_torus_has_six_neighbours_everywhere() {
        let l = Lattice::new(4, 6, LatticeKind::Hexagonal, true).unwrap();
        for u in 0..l.n_units() {
            assert_eq!(l.neighbours(u).len(), 6, "unit {u}");
        }
        assert!(Lattice::new(5, 6, LatticeKind::Hexagonal, true).is_err());
    }

    #[test]
    fn grid_path_steps_through_neighbours() {
        let l = Lattice::new(5, 5, LatticeKind::Rectangular, false).unwrap();
        let p = l.grid_path(l.unit(0, 0), l.unit(3, 4));
        assert_eq!(p.len(), 8);
        for w in p.windows(2) {
            assert_eq!(l.sq_distance(w[0], w[1]), 1.0);
        }
        assert_eq!(*p.last().unwrap(), l.unit(3, 4));
    }

    #[test]
    fn zero_size_is_an_error() {
        assert!(Lattice::new(0, 3, LatticeKind::Rectangular, false).is_err());
    }
}
