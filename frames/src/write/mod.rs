//! Product writers in the official JWST layouts (oracle README "File layouts"), streaming and
//! bounded in memory: each writer creates its file at a temporary name with every HDU at its
//! final shape, accepts row bands in any order, and on `finish` writes CHECKSUM/DATASUM on every
//! HDU and renames atomically. Dropping an unfinished writer deletes the temporary file, except
//! for a resumable writer (`create_resumable`, for `--resume`): its partial file keeps a fixed
//! name ([`resumable_temp_path`]) and stays on disk so a later run can `reopen` it.
//!
//! Headers: the input exposure's primary header is carried over (non-structural cards) with
//! DATE, FILENAME, DATAMODL, CAL_VER = [`CAL_VER`] (the algorithm version reproduced) and
//! CAL_VCS = `sloper <version>` (honest provenance), CRDS_CTX/CRDS_VER when given, and the
//! caller's `S_*`/`R_*` keywords with the official comments. The SCI header carries the input
//! SCI header's non-structural keywords (XPOSURE, TELAPSE, WCS...). No ASDF extension is
//! written: `jwst.datamodels.open` reads these files from their FITS headers alone.

mod cal;
mod datasum;
mod header;
mod product;
mod ramp;
mod rate;

pub use crate::refs::cfits::KeyValue;
pub use cal::{CalBand, CalWriter, CalintsWriter};
pub use header::{official_comment, Card, ProductHeader, CAL_VER};
pub use product::{resumable_temp_path, verify_checksums};
pub use ramp::{RampExtras, RampWriter};
pub use rate::{RateBand, RateWriter, RateintsWriter};
