//! Command-line front end: argument types and the thin `run` functions behind each subcommand.

pub mod detector1;
pub mod info;
