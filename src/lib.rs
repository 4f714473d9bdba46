//! arcsynth: a program-search solver for ARC-AGI tasks. See ARCHITECTURE.md for the map.

pub mod cli;
pub mod coverage;
pub mod dsl;
pub mod enumerate;
pub mod evaluate;
pub mod fsio;
pub mod grid;
pub mod html;
pub mod library;
pub mod llm;
pub mod prompt;
pub mod render;
pub mod report;
pub mod sandbox;
pub mod search;
pub mod submission;
pub mod task;
pub mod ttt;
pub mod watchdog;
