//! libFuzzer target: arbitrary bytes as a FITS file, through every reader of `frames` — the
//! header/HDU reader (`FitsReader`: HDU walk, summaries, data spans), exposure metadata, the
//! memory-mapped raw exposure and ramp readers, every CRDS reference loader and the checksum
//! verifier. Any panic or abort is a bug: readers must return a clean error.
//!
//! The readers take paths (cfitsio and the memory maps work on files), so each input is written
//! to one scratch file per process, under the system's temporary directory.
#![no_main]

use frames::fits::FitsReader;
use frames::meta::ExposureMeta;
use frames::refs;
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The exposure the reference loaders cut their arrays for: the committed tiny official one.
fn meta() -> &'static ExposureMeta {
    static META: OnceLock<ExposureMeta> = OnceLock::new();
    META.get_or_init(|| {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/oracle/tiny/jw01234001001_01101_00001_nrcalong_uncal.fits");
        ExposureMeta::read(&p).expect("the tiny fixture's metadata")
    })
}

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("sloper-fuzz-{}.fits", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    if std::fs::write(path, data).is_err() {
        return;
    }
    let m = meta();
    if let Ok(mut r) = FitsReader::open(path) {
        let _ = r.hdu_summaries();
        if let Ok(n) = r.num_hdus() {
            for i in 0..n.min(16) {
                let _ = r.cards(i);
                let _ = r.data_span(i);
                let _ = r.image_layout(i).and_then(|l| l.data_len(path));
            }
        }
    }
    let _ = ExposureMeta::read(path);
    if let Ok(raw) = frames::raw::RawExposure::open(path) {
        let mut row = vec![0f32; raw.nx()];
        if raw.ny() > 0 && raw.nints() > 0 && raw.ngroups() > 0 {
            let _ = raw.read_band_f32(
                raw.nints() - 1,
                raw.ngroups() - 1,
                raw.ny() - 1,
                raw.ny(),
                &mut row,
            );
        }
    }
    let _ = frames::raw::RampFile::open(path);
    let _ = frames::write::verify_checksums(path);
    let _ = refs::DarkRef::load(path, m);
    let _ = refs::GainRef::load(path, m);
    let _ = refs::IpcRef::load(path, m);
    let _ = refs::LinearityRef::load(path, m);
    let _ = refs::MaskRef::load(path, m);
    let _ = refs::ReadnoiseRef::load(path, m);
    let _ = refs::SaturationRef::load(path, m);
    let _ = refs::SuperbiasRef::load(path, m);
    let _ = refs::FlatRef::load(path, m);
    let _ = refs::AreaRef::load(path, m);
    let _ = refs::PhotomRef::load(path);
});
