//! `stream`: the plumbing every sloper driver and consumer runs on — memory budgets and tiling,
//! metrics, and (for live data) sources, sinks and bounded channels with back-pressure.

pub mod budget;
pub mod metrics;

pub use budget::{plan_tiles, MemoryBudget, Tile, TilePlan};
pub use metrics::{Latency, StageTimes};
