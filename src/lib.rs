//! arcsynth: a program-search solver for ARC-AGI tasks. See ARCHITECTURE.md for the map.

pub mod cli;
pub mod fsio;
pub mod grid;
pub mod render;
pub mod submission;
pub mod task;
