//! An association drives stage 3 (issue 8): `sloper tso3 X_tso3_asn.json` resolves its members
//! relative to the association's folder (not the working directory) and names the products
//! after the association: `<member>_<asn_id>_crfints.fits` and `<product>_phot.ecsv`, as
//! calwebb_tso3 does.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

const BASE: &str = "jw01234001001_01101_00001_nrcalong";
const PRODUCT: &str = "jw01234-o001_t001_nircam_f444w-clear-sub64p";

fn unpack(src: &Path, dst: &Path) {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(src).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    std::fs::write(dst, raw).unwrap();
}

#[test]
fn association_names_and_resolves_members() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/stage23");
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    std::fs::create_dir(&data).unwrap();
    unpack(
        &fixtures.join("tsimg_calints.fits.gz"),
        &data.join(format!("{BASE}_calints.fits")),
    );
    unpack(
        &fixtures.join("tsimg_ref_gain.fits.gz"),
        &data.join("ref_gain.fits"),
    );
    let asn = data.join(format!("{PRODUCT}_tso3_asn.json"));
    std::fs::write(
        &asn,
        format!(
            r#"{{"asn_type": "tso3", "asn_id": "o001", "asn_pool": "none",
               "products": [{{"name": "{PRODUCT}",
                 "members": [{{"expname": "{BASE}_calints.fits", "exptype": "science"}}]}}]}}"#
        ),
    )
    .unwrap();
    let out = t.path().join("out");
    // Run from an unrelated working directory: members must resolve next to the association.
    let elsewhere = t.path().join("cwd");
    std::fs::create_dir(&elsewhere).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sloper"))
        .current_dir(&elsewhere)
        .arg("tso3")
        .arg(&asn)
        .arg(format!(
            "--steps.tso_photometry.override_gain={}",
            data.join("ref_gain.fits").display()
        ))
        .arg(format!("--output_dir={}", out.display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        out.join(format!("{BASE}_o001_crfints.fits")).is_file(),
        "{err}"
    );
    let phot = out.join(format!("{PRODUCT}_phot.ecsv"));
    let text =
        std::fs::read_to_string(&phot).unwrap_or_else(|e| panic!("{}: {e}\n{err}", phot.display()));
    let rows = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count();
    assert_eq!(rows, 1 + 28, "header line + one row per integration");
    assert!(text.contains("number_of_integrations"), "calwebb_tso3 meta");
}
