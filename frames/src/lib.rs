//! `frames`: the JWST file layer of sloper.
//!
//! It knows FITS, the JWST data-model layouts and the CRDS reference layouts, and nothing about
//! how the data are processed. Raw ramps are memory-mapped ([`raw`]), metadata are typed
//! ([`meta`]), reference files are loaded and cut to the science subarray ([`refs`]), and
//! products are written in the layouts the official pipeline writes ([`write`]).

pub mod dq;
pub mod error;
pub mod fits;
pub mod meta;
pub mod raw;
pub mod refs;
pub mod segments;
pub mod tables;
pub mod write;

pub use error::{FramesError, Result};
pub use meta::ExposureMeta;
