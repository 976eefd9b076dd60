//! sloper: streaming, bounded-memory JWST Stage 1 (ramps to slopes) and its downstream consumers.
//!
//! Layering: [`frames`] reads and writes files; [`steps`] holds pure per-pixel kernels that never
//! know how they are driven; the pipelines compose those kernels on the [`stream`] crate; the CLI
//! only parses and calls.

pub mod allocator;
pub mod cli;
pub mod config;
pub mod consumers;
pub mod interrupt;
pub mod logging;
pub mod pipeline;
pub mod quicklook;
pub mod simulate;
pub mod steps;

pub use frames;
pub use stream;
