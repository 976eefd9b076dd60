//! stpipe-style configuration: the official step and parameter names with their defaults, and the
//! `strun` command-line syntax (`--steps.<step>.<param>=VALUE`), so users paste what they know.
//!
//! Unknown steps or parameters are errors, never silently ignored.

pub mod registry;
pub mod strun_args;
pub mod value;

pub use registry::{PipelineSpec, StepSpec, DETECTOR1};
pub use strun_args::{parse_strun_args, RunConfig};
pub use value::{Kind, Value};
