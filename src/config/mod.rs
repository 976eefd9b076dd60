//! stpipe conventions: the official step and parameter names with their defaults, the `strun`
//! command-line syntax (`--steps.<step>.<param>=VALUE`), parameter files (ASDF and legacy
//! `.cfg`), pipeline and step aliases, association files and exit statuses, so users paste what
//! they know.
//!
//! Unknown steps or parameters are errors, never silently ignored.

pub mod aliases;
pub mod association;
pub mod exit;
pub mod paramfile;
pub mod registry;
pub mod strun_args;
pub mod value;

pub use exit::{exit_code_of, ExitStatus};
pub use registry::{PipelineSpec, StepSpec, DETECTOR1};
pub use strun_args::{parse_run_args, parse_strun_args, RunConfig, Session};
pub use value::{Kind, Value};
