//! What a run leaves for people to look at: sample grids, the loss plot, IDX sample files.

pub mod grid;
pub mod plot;
