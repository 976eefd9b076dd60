//! `stream`: the plumbing every sloper driver and consumer runs on — memory budgets and tiling,
//! metrics, and for live data frame sources and a bounded live feed with back-pressure.
//!
//! The crate knows nothing about FITS or JWST: the file-backed source (a memory-mapped raw
//! exposure) is an adapter in the `sloper` crate over `frames`.

pub mod budget;
pub mod context;
pub mod frame;
pub mod metrics;
pub mod plane;
pub mod source;

pub use budget::{plan_tiles, tiles_of, MemoryBudget, Tile, TilePlan};
pub use frame::{Frame, FrameGeometry};
pub use metrics::{Latency, StageTimes};
pub use source::{live_feed, FeedProducer, FrameSource, LiveSource, StreamError, TryFrame};
