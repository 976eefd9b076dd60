//! Output naming against the official rules: a table made with stpipe's `_make_output_path` and
//! jwst's `remove_suffix` (fixtures/stpipe/naming_cases.json), the per-step and `--output_file`
//! conventions, and association-driven stage 2/3 names.

use serde_json::Value as Json;
use sloper::config::association::Association;
use sloper::config::{parse_run_args, DETECTOR1};
use sloper::pipeline::naming::{self, make_output_path, remove_suffix, OutputNaming};
use std::path::{Path, PathBuf};

fn cases() -> Json {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/stpipe/naming_cases.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn make_output_path_matches_stpipe_table() {
    let cases = cases();
    let table = cases["make_output_path"].as_array().unwrap();
    assert!(table.len() > 100);
    for c in table {
        let comps: Vec<Option<&str>> = c["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str())
            .collect();
        let ours = make_output_path(
            Path::new(c["output_dir"].as_str().unwrap()),
            c["basepath"].as_str().unwrap(),
            Some(c["suffix"].as_str().unwrap()),
            &comps,
            c["ext"].as_str().unwrap(),
        );
        assert_eq!(ours, PathBuf::from(c["path"].as_str().unwrap()), "{c}");
    }
}

#[test]
fn remove_suffix_matches_jwst() {
    let cases = cases();
    for (base, expect) in cases["remove_suffix"].as_object().unwrap() {
        let file = Path::new(base).file_name().unwrap().to_str().unwrap();
        let stem = file.strip_suffix(".fits").unwrap_or(file);
        let (root, sep) = remove_suffix(stem);
        assert_eq!(
            [root, sep],
            [expect[0].as_str().unwrap(), expect[1].as_str().unwrap()],
            "{base}"
        );
    }
}

fn cfg(line: &str) -> sloper::config::RunConfig {
    let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    parse_run_args(DETECTOR1, &args, &[]).unwrap()
}

#[test]
fn pipeline_and_step_outputs() {
    // Default: next to nothing, in the current directory, after the input.
    let n = OutputNaming::from_config(&cfg("/data/jw01_nrcalong_uncal.fits"));
    assert_eq!(n.product("rate"), PathBuf::from("jw01_nrcalong_rate.fits"));
    // --output_file keeps only its file name and still gets the suffix (strun: run7_rate.fits).
    let n = OutputNaming::from_config(&cfg(
        "x_uncal.fits --output_dir=o --output_file=sub/run7.fits",
    ));
    assert_eq!(n.product("rate"), PathBuf::from("o/run7_rate.fits"));
    assert_eq!(n.product("rateints"), PathBuf::from("o/run7_rateints.fits"));
    // Per-step saves: suffix = step name, step output_dir/output_file/suffix honoured.
    let c = cfg("d/x_uncal.fits --output_dir=o --steps.jump.save_results=true --steps.superbias.output_file=sb --steps.linearity.save_results=true --steps.linearity.suffix=lin --steps.linearity.output_dir=l");
    let n = OutputNaming::from_config(&c);
    assert_eq!(
        n.step_output(&c, "jump", "jump"),
        Some(PathBuf::from("o/x_jump.fits"))
    );
    assert_eq!(
        n.step_output(&c, "superbias", "superbias"),
        Some(PathBuf::from("o/sb_superbias.fits"))
    );
    assert_eq!(
        n.step_output(&c, "linearity", "linearity"),
        Some(PathBuf::from("l/x_lin.fits"))
    );
    assert_eq!(n.step_output(&c, "refpix", "refpix"), None);
}

#[test]
fn association_drives_stage3_names() {
    let dir = tempfile::tempdir().unwrap();
    let asn_path = dir
        .path()
        .join("jw01234-o001_t001_nircam_f210m-clear-sub64p_tso3_asn.json");
    std::fs::write(
        &asn_path,
        r#"{"asn_type": "tso3", "asn_rule": "candidate_Asn_Lv3TSO", "asn_id": "o001",
            "asn_pool": "offline_oracle_pool", "program": "01234", "target": "t001", "version_id": null,
            "products": [{"name": "jw01234-o001_t001_nircam_f210m-clear-sub64p",
              "members": [{"expname": "jw01234001001_01101_00001-seg001_nrcalong_calints.fits", "exptype": "science"},
                          {"expname": "jw01234001001_01101_00001-seg002_nrcalong_o001_calints.fits", "exptype": "science"}]}]}"#,
    )
    .unwrap();
    let asn = Association::load_or_singleton(&asn_path).unwrap();
    let product = asn.first_product().unwrap();
    let members: Vec<_> = product.science_members().collect();
    assert_eq!(
        members[0].path,
        dir.path()
            .join("jw01234001001_01101_00001-seg001_nrcalong_calints.fits")
    );
    let out = Path::new("out");
    // calwebb_tso3: crfints per member with the asn id (not doubled), phot after the product.
    assert_eq!(
        naming::crfints_path(out, &members[0].path, asn.asn_id.as_deref()),
        PathBuf::from("out/jw01234001001_01101_00001-seg001_nrcalong_o001_crfints.fits")
    );
    assert_eq!(
        naming::crfints_path(out, &members[1].path, asn.asn_id.as_deref()),
        PathBuf::from("out/jw01234001001_01101_00001-seg002_nrcalong_o001_crfints.fits")
    );
    assert_eq!(
        naming::level3_product_path(out, product.output_base(None), "phot", "ecsv"),
        PathBuf::from("out/jw01234-o001_t001_nircam_f210m-clear-sub64p_phot.ecsv")
    );
    assert_eq!(
        naming::level3_product_path(out, product.output_base(Some("mine.fits")), "whtlt", "ecsv"),
        PathBuf::from("out/mine_whtlt.ecsv")
    );
    // calwebb_image2 on a plain file: the singleton's product name is the file name.
    let single = Association::load_or_singleton(Path::new("d/x_rate.fits")).unwrap();
    let p = &single.products[0];
    assert_eq!(
        naming::level2_product_path(out, p.output_base(None), "cal"),
        PathBuf::from("out/x_cal.fits")
    );
}
