//! Command-line front end: argument types and the thin `run` functions behind each subcommand.

pub mod demo;
pub mod detector1;
pub mod image2;
pub mod info;
pub mod replay;
pub mod run;
pub mod strun;
pub mod tso3;
