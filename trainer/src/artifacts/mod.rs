//! What a run leaves for people to look at: sample grids, the loss and quality plots. (IDX
//! sample files are `trainer sample`'s, in [`crate::sample`].)

pub mod grid;
pub mod plot;
