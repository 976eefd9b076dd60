//! Reference files in the CRDS layouts, loaded and cut to the science subarray (spec §2.1), with
//! the preparation each step applies before using them (spec §5–§10, §12.1–12.2, §13, §14).
//!
//! Every loader is `XxxRef::load(path, &ExposureMeta)`; it checks REFTYPE (when present) and the
//! array shapes, and accepts the older layouts seen in real CRDS files (DQ stored as uint8,
//! int32 or uint32; extra UNC extension; no ASDF, DQ_DEF or ERR). DQ values are decoded through
//! the file's DQ_DEF table as stdatamodels does on open. The 2-D references live in memory; the
//! dark is memory-mapped ([`dark`]).

pub(crate) mod cfits;
mod common;

pub mod area;
pub mod dark;
pub mod flat;
pub mod gain;
pub mod ipc;
pub mod linearity;
pub mod mask;
pub mod photom;
pub mod readnoise;
pub mod saturation;
pub mod superbias;

pub use area::AreaRef;
pub use common::Window;
pub use dark::{DarkRef, DarkStatus};
pub use flat::{FlatLoad, FlatPrep, FlatRef};
pub use gain::GainRef;
pub use ipc::{IpcKernel, IpcRef};
pub use linearity::{LinearityPrep, LinearityRef};
pub use mask::MaskRef;
pub use photom::{PhotomRef, PhotomRow, TimeExponential, TimeLinear, TimePowerlaw};
pub use readnoise::ReadnoiseRef;
pub use saturation::{SaturationPrep, SaturationRef, NO_SAT_THRESHOLD};
pub use superbias::SuperbiasRef;
