//! The map's geometry: where units sit on the lattice, how strongly a unit pulls its neighbours,
//! and how the neighbourhood width and learning rate decay during training.

mod lattice;
mod neighbourhood;
mod schedule;

pub use lattice::{Lattice, LatticeKind};
pub use neighbourhood::Neighbourhood;
pub use schedule::Schedule;
