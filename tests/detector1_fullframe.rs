//! Full-frame (2048 x 2048, 4 amplifiers, reference pixels on all four edges) detector1 parity.
//!
//! The input is made by `sloper simulate` with the arguments in fixtures/parity_fullframe/ARGS
//! (deterministic: tests/simulate_determinism.rs), and the official jwst 3.0.0 products of that
//! same input are represented by SHA-256 digests of every array (fixtures/parity_fullframe/make.sh
//! and hash_products.py), so equal digests mean bit-identical arrays.

mod common;

use common::{detector1, images, repo, Data};
use sha2::{Digest, Sha256};

fn digest(d: &Data) -> (usize, String) {
    let mut h = Sha256::new();
    let n = match d {
        Data::F32(v) | Data::U32(v) => {
            for x in v {
                h.update(x.to_le_bytes());
            }
            v.len()
        }
        Data::U8(v) => {
            h.update(v);
            v.len()
        }
    };
    (n, format!("{:x}", h.finalize()))
}

#[test]
fn full_frame_matches_official_digests() {
    let dir = repo().join("fixtures/parity_fullframe");
    let args = std::fs::read_to_string(dir.join("ARGS")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let mut words: Vec<String> = args.split_whitespace().map(str::to_string).collect();
    words.extend(["--outdir".to_string(), input.display().to_string()]);
    let sim = sloper::simulate::SimulateArgs::from_words(words).unwrap();
    let report = sloper::simulate::simulate(&sim).unwrap();
    let uncal = &report.uncal[0].0;
    let out = tmp.path().join("out");
    detector1(&[
        uncal.display().to_string(),
        "--refs".into(),
        input.display().to_string(),
        format!("--output_dir={}", out.display()),
        "--save_calibrated_ramp=true".into(),
        "--quiet".into(),
    ]);
    let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
    let mut checked = 0;
    for kind in ["ramp", "rate", "rateints"] {
        let path = out.join(format!("jw01234001001_01101_00001_nrcalong_{kind}.fits"));
        let arrays = images(&path);
        for line in expected
            .lines()
            .filter(|l| l.starts_with(&format!("{kind} ")))
        {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (_, data) = arrays
                .iter()
                .find(|(n, _)| n == f[1])
                .unwrap_or_else(|| panic!("{kind}: no {} HDU", f[1]));
            let (n, sha) = digest(data);
            assert_eq!(n.to_string(), f[2], "{kind}[{}] size", f[1]);
            assert_eq!(
                sha, f[3],
                "{kind}[{}] differs from the official product",
                f[1]
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 14);
}
