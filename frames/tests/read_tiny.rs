//! Reads the committed official tiny exposure (fixtures/oracle/tiny) and its golden `_ramp`
//! product and compares VALUES with what astropy reads (fixtures/read/tiny_expected.txt, made
//! by fixtures/read/make_expected.py).

use std::collections::HashMap;
use std::path::PathBuf;

use frames::fits::FitsReader;
use frames::raw::{decode_u16_offset_be, RampFile, RawExposure};
use frames::tables::{GroupTable, IntTimes};
use frames::ExposureMeta;

const BASE: &str = "jw01234001001_01101_00001_nrcalong";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
fn uncal_path() -> PathBuf {
    root().join(format!("fixtures/oracle/tiny/{BASE}_uncal.fits"))
}
fn ramp_path() -> PathBuf {
    root().join(format!("fixtures/oracle/tiny/golden/{BASE}_ramp.fits"))
}

/// `key = value` lines of the expected-values file.
struct Expected(HashMap<String, String>);

impl Expected {
    fn load() -> Self {
        let text = std::fs::read_to_string(root().join("fixtures/read/tiny_expected.txt"))
            .expect("fixtures/read/tiny_expected.txt (run fixtures/read/make_expected.py)");
        Expected(
            text.lines()
                .filter_map(|l| l.split_once(" = "))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
    fn s(&self, key: &str) -> &str {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("expected value {key} missing"))
    }
    fn tokens<T: std::str::FromStr>(&self, key: &str) -> Vec<T>
    where
        T::Err: std::fmt::Debug,
    {
        self.s(key)
            .split_whitespace()
            .map(|t| t.parse().expect(key))
            .collect()
    }
    fn one<T: std::str::FromStr>(&self, key: &str) -> T
    where
        T::Err: std::fmt::Debug,
    {
        self.s(key).parse().expect(key)
    }
    fn keys_with_prefix(&self, prefix: &str) -> Vec<&String> {
        let mut v: Vec<&String> = self.0.keys().filter(|k| k.starts_with(prefix)).collect();
        v.sort();
        v
    }
}

/// (int, group, y, x) from a key like `uncal.pixel.1.2.17.5`.
fn pixel_index(key: &str) -> [usize; 4] {
    let parts: Vec<usize> = key
        .rsplitn(5, '.')
        .take(4)
        .map(|t| t.parse().unwrap())
        .collect();
    [parts[3], parts[2], parts[1], parts[0]]
}

#[test]
fn metadata_matches_astropy() {
    let e = Expected::load();
    let m = ExposureMeta::read(uncal_path()).unwrap();
    assert_eq!(m.instrument, e.s("meta.INSTRUME"));
    assert_eq!(m.detector, e.s("meta.DETECTOR"));
    assert_eq!(m.exp_type, e.s("meta.EXP_TYPE"));
    assert_eq!(m.readpatt, e.s("meta.READPATT"));
    assert_eq!(m.subarray, e.s("meta.SUBARRAY"));
    assert_eq!(m.filter.as_deref(), Some(e.s("meta.FILTER")));
    assert_eq!(m.pupil.as_deref(), Some(e.s("meta.PUPIL")));
    assert_eq!(m.nints, e.one::<usize>("meta.NINTS"));
    assert_eq!(m.ngroups, e.one::<usize>("meta.NGROUPS"));
    assert_eq!(m.nframes, e.one::<usize>("meta.NFRAMES"));
    assert_eq!(m.groupgap, e.one::<usize>("meta.GROUPGAP"));
    assert_eq!(m.frame_divisor, Some(e.one::<usize>("meta.FRMDIVSR")));
    assert_eq!(m.drop_frames1, Some(e.one::<usize>("meta.DRPFRMS1")));
    assert_eq!(m.noutputs, e.one::<usize>("meta.NOUTPUTS"));
    assert_eq!(m.int_start, e.one::<usize>("meta.INTSTART"));
    assert_eq!(m.int_end, e.one::<usize>("meta.INTEND"));
    assert_eq!(m.substrt1, e.one::<usize>("meta.SUBSTRT1"));
    assert_eq!(m.substrt2, e.one::<usize>("meta.SUBSTRT2"));
    assert_eq!(m.subsize1, e.one::<usize>("meta.SUBSIZE1"));
    assert_eq!(m.subsize2, e.one::<usize>("meta.SUBSIZE2"));
    assert_eq!(m.fastaxis, e.one::<i32>("meta.FASTAXIS"));
    assert_eq!(m.slowaxis, e.one::<i32>("meta.SLOWAXIS"));
    // Times must be bit-identical to what astropy parsed from the cards.
    assert_eq!(m.tframe.to_bits(), e.one::<f64>("meta.TFRAME").to_bits());
    assert_eq!(m.tgroup.to_bits(), e.one::<f64>("meta.TGROUP").to_bits());
    assert_eq!(
        m.effinttm.map(f64::to_bits),
        Some(e.one::<f64>("meta.EFFINTTM").to_bits())
    );
    assert_eq!(m.expstart, Some(e.one::<f64>("meta.EXPSTART")));
    assert_eq!(m.expend, Some(e.one::<f64>("meta.EXPEND")));
    assert_eq!(m.tso_visit, e.s("meta.TSOVISIT") == "T");
    assert_eq!(m.zero_frame, e.s("meta.ZEROFRAM") == "T");
    assert_eq!(m.datamodel.as_deref(), Some("Level1bModel"));
    assert_eq!(m.exseg_num, None);
    assert_eq!(m.nints_in_file(), 2);
    assert!(m.is_tso() && !m.is_segment());
}

#[test]
fn raw_cube_values_match_astropy() {
    let e = Expected::load();
    let raw = RawExposure::open(uncal_path()).unwrap();
    let shape: Vec<usize> = e.tokens("uncal.shape");
    assert_eq!(raw.shape().to_vec(), shape);
    assert_eq!(
        raw.sci().data_start(),
        e.one::<u64>("uncal.sci_data_offset")
    );
    assert_eq!(raw.sci().data_len(), (2 * 5 * 32 * 32 * 2) as u64);
    assert!(!raw.has_zeroframe());

    // Every (int, group) frame: its sum, plus min/max over the cube.
    let sums: Vec<i64> = e.tokens("uncal.group_sums");
    let mut frame = vec![0u16; raw.ny() * raw.nx()];
    let (mut lo, mut hi) = (u16::MAX, 0u16);
    for i in 0..raw.nints() {
        for g in 0..raw.ngroups() {
            raw.read_group_u16(i, g, &mut frame).unwrap();
            let s: i64 = frame.iter().map(|&v| v as i64).sum();
            assert_eq!(s, sums[i * raw.ngroups() + g], "sum of int {i} group {g}");
            lo = lo.min(*frame.iter().min().unwrap());
            hi = hi.max(*frame.iter().max().unwrap());
        }
    }
    assert_eq!(vec![lo as i64, hi as i64], e.tokens::<i64>("uncal.min_max"));

    // Individual pixels, through single-row bands of both decoders.
    for key in e.keys_with_prefix("uncal.pixel.") {
        let [i, g, y, x] = pixel_index(key);
        let mut row = vec![0u16; raw.nx()];
        raw.read_band_u16(i, g, y, y + 1, &mut row).unwrap();
        assert_eq!(row[x] as i64, e.one::<i64>(key), "{key}");
        let mut rowf = vec![0f32; raw.nx()];
        raw.read_band_f32(i, g, y, y + 1, &mut rowf).unwrap();
        assert_eq!(rowf[x], row[x] as f32, "{key} as f32");
    }

    // A multi-row band: the byte slice and the decoder agree with astropy's sum.
    let band: Vec<usize> = e.tokens("uncal.band");
    let (i, g, y0, y1) = (band[0], band[1], band[2], band[3]);
    let bytes = raw.band_bytes(i, g, y0, y1).unwrap();
    assert_eq!(bytes.len(), (y1 - y0) * raw.nx() * 2);
    let mut vals = vec![0u16; (y1 - y0) * raw.nx()];
    decode_u16_offset_be(bytes, &mut vals);
    assert_eq!(vals.iter().map(|&v| v as usize).sum::<usize>(), band[4]);
    raw.check_unchanged().unwrap();
}

#[test]
fn tables_match_astropy() {
    let e = Expected::load();
    let raw = RawExposure::open(uncal_path()).unwrap();
    let it = raw.int_times().expect("INT_TIMES");
    assert_eq!(it.rows.len(), e.one::<usize>("int_times.nrows"));
    for (r, row) in it.rows.iter().enumerate() {
        let want: Vec<f64> = e.tokens(&format!("int_times.{r}"));
        let got = [
            row.integration_number as f64,
            row.int_start_mjd_utc,
            row.int_mid_mjd_utc,
            row.int_end_mjd_utc,
            row.int_start_bjd_tdb,
            row.int_mid_bjd_tdb,
            row.int_end_bjd_tdb,
        ];
        for (c, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.to_bits(), w.to_bits(), "INT_TIMES row {r} column {c}");
        }
    }
    assert_eq!(it.row(2).map(|r| r.integration_number), Some(2));

    let gt = raw.group_table().expect("GROUP");
    assert_eq!(gt.rows.len(), e.one::<usize>("group.nrows"));
    for (r, row) in gt.rows.iter().enumerate() {
        let k = |c: &str| format!("group.{r}.{c}");
        assert_eq!(
            row.integration_number as i64,
            e.one::<i64>(&k("integration_number"))
        );
        assert_eq!(row.group_number as i64, e.one::<i64>(&k("group_number")));
        assert_eq!(row.end_day as i64, e.one::<i64>(&k("end_day")));
        assert_eq!(
            row.end_milliseconds as i64,
            e.one::<i64>(&k("end_milliseconds"))
        );
        assert_eq!(
            row.end_submilliseconds as i64,
            e.one::<i64>(&k("end_submilliseconds"))
        );
        assert_eq!(row.group_end_time, e.s(&k("group_end_time")));
        assert_eq!(
            row.number_of_columns as i64,
            e.one::<i64>(&k("number_of_columns"))
        );
        assert_eq!(
            row.number_of_rows as i64,
            e.one::<i64>(&k("number_of_rows"))
        );
        assert_eq!(
            row.number_of_gaps as i64,
            e.one::<i64>(&k("number_of_gaps"))
        );
        assert_eq!(
            row.completion_code_number as i64,
            e.one::<i64>(&k("completion_code_number"))
        );
        assert_eq!(row.completion_code_text, e.s(&k("completion_code_text")));
        assert_eq!(
            row.bary_end_time.to_bits(),
            e.one::<f64>(&k("bary_end_time")).to_bits()
        );
        assert_eq!(
            row.helio_end_time.to_bits(),
            e.one::<f64>(&k("helio_end_time")).to_bits()
        );
    }

    // The stand-alone readers give the same, and the rate product has neither GROUP nor
    // (for rate, as opposed to rateints) INT_TIMES.
    let mut r = FitsReader::open(uncal_path()).unwrap();
    assert_eq!(IntTimes::read(&mut r).unwrap().as_ref(), Some(it));
    assert_eq!(GroupTable::read(&mut r).unwrap().as_ref(), Some(gt));
    let mut rate =
        FitsReader::open(root().join(format!("fixtures/oracle/tiny/golden/{BASE}_rate.fits")))
            .unwrap();
    assert_eq!(IntTimes::read(&mut rate).unwrap(), None);
    assert_eq!(GroupTable::read(&mut rate).unwrap(), None);
}

#[test]
fn header_cards_and_hdu_listing() {
    let e = Expected::load();
    let raw = RawExposure::open(uncal_path()).unwrap();
    let cards = raw.primary_cards();
    assert_eq!(cards.len(), e.one::<usize>("uncal.primary_ncards"));
    assert_eq!(cards[5], e.s("uncal.primary_card5"));
    assert!(cards.iter().all(|c| c.len() <= 80));

    let mut r = FitsReader::open(uncal_path()).unwrap();
    let names: Vec<String> = r
        .hdu_summaries()
        .unwrap()
        .into_iter()
        .map(|h| h.name)
        .collect();
    assert_eq!(names, ["PRIMARY", "SCI", "GROUP", "INT_TIMES", "ASDF"]);
    let sci = r.require_hdu("SCI").unwrap();
    let span = r.data_span(sci).unwrap();
    assert_eq!(span.data_start, e.one::<u64>("uncal.sci_data_offset"));
    assert_eq!(
        span.data_end_padded - span.data_start,
        20480 + 2880 - 20480 % 2880
    );
    assert_eq!(r.key::<String>(sci, "BUNIT").unwrap(), None);
    assert_eq!(
        r.require::<f64>(sci, "XPOSURE").unwrap(),
        0.11616000000000001
    );
}

#[test]
fn golden_ramp_values_match_astropy() {
    let e = Expected::load();
    let ramp = RampFile::open(ramp_path()).unwrap();
    assert_eq!(ramp.shape().to_vec(), e.tokens::<usize>("ramp.shape"));
    assert_eq!(ramp.meta().datamodel.as_deref(), Some("RampModel"));

    // Per-frame sums in f64. numpy sums pairwise, we sum sequentially: both are sums of the
    // same exactly-widened f32 values, so they agree to a few ulps of the total.
    let sums: Vec<f64> = e.tokens("ramp.group_sums");
    let dq_sums: Vec<u64> = e.tokens("ramp.groupdq_sums");
    let mut frame = vec![0f32; ramp.ny() * ramp.nx()];
    for i in 0..ramp.nints() {
        for g in 0..ramp.ngroups() {
            ramp.read_band_f32(i, g, 0, ramp.ny(), &mut frame).unwrap();
            let s: f64 = frame.iter().map(|&v| v as f64).sum();
            let want = sums[i * ramp.ngroups() + g];
            assert!(
                (s - want).abs() <= 1e-12 * want.abs(),
                "SCI sum int {i} group {g}: {s} vs {want}"
            );
            let d: u64 = ramp
                .groupdq_band(i, g, 0, ramp.ny())
                .unwrap()
                .iter()
                .map(|&v| v as u64)
                .sum();
            assert_eq!(
                d,
                dq_sums[i * ramp.ngroups() + g],
                "GROUPDQ sum int {i} group {g}"
            );
        }
    }
    for key in e.keys_with_prefix("ramp.pixel.") {
        let [i, g, y, x] = pixel_index(key);
        let mut row = vec![0f32; ramp.nx()];
        ramp.read_band_f32(i, g, y, y + 1, &mut row).unwrap();
        assert_eq!(row[x] as f64, e.one::<f64>(key), "{key}");
    }
    for key in e.keys_with_prefix("ramp.groupdq.") {
        let [i, g, y, x] = pixel_index(key);
        assert_eq!(
            ramp.groupdq_band(i, g, y, y + 1).unwrap()[x] as u64,
            e.one::<u64>(key),
            "{key}"
        );
    }
    for tok in e.s("ramp.groupdq_nonzero").split_whitespace() {
        let v: Vec<usize> = tok.split('.').map(|t| t.parse().unwrap()).collect();
        assert_eq!(
            ramp.groupdq_band(v[0], v[1], v[2], v[2] + 1).unwrap()[v[3]] as usize,
            v[4],
            "{tok}"
        );
    }

    let pdq = ramp.pixeldq();
    assert_eq!(
        pdq.iter().map(|&v| v as u64).sum::<u64>(),
        e.one::<u64>("ramp.pixeldq_sum")
    );
    assert_eq!(pdq[0] as u64, e.one::<u64>("ramp.pixeldq.0.0"));
    assert_eq!(pdq[16 * 32 + 16] as u64, e.one::<u64>("ramp.pixeldq.16.16"));
    for tok in e.s("ramp.pixeldq_special").split_whitespace() {
        let v: Vec<u64> = tok.split('.').map(|t| t.parse().unwrap()).collect();
        assert_eq!(pdq[(v[0] * 32 + v[1]) as usize] as u64, v[2], "{tok}");
    }
    let av = ramp.avdrkcur().expect("AVDRKCUR");
    assert_eq!(av[3 * 32 + 7] as f64, e.one::<f64>("ramp.avdrkcur.3.7"));
    let s: f64 = av.iter().map(|&v| v as f64).sum();
    let want = e.one::<f64>("ramp.avdrkcur_sum");
    assert!((s - want).abs() <= 1e-12 * want.abs());
    assert!(ramp.int_times().is_some() && ramp.group_table().is_some());
}

#[test]
fn a_file_that_shrinks_under_the_map_is_reported_not_faulted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{BASE}_uncal.fits"));
    std::fs::copy(uncal_path(), &path).unwrap();
    let raw = RawExposure::open(&path).unwrap();
    let mut frame = vec![0u16; 32 * 32];
    raw.read_group_u16(1, 4, &mut frame).unwrap();
    // Cut the file in the middle of the SCI data unit.
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(raw.sci().data_start() + 1000).unwrap();
    let err = raw.check_unchanged().unwrap_err().to_string();
    assert!(
        err.contains(&format!("{BASE}_uncal.fits")) && err.contains("shrank"),
        "{err}"
    );
    let err = raw
        .read_group_u16(1, 4, &mut frame)
        .unwrap_err()
        .to_string();
    assert!(err.contains("shrank"), "{err}");
}

#[test]
fn band_and_buffer_misuse_are_errors() {
    let raw = RawExposure::open(uncal_path()).unwrap();
    let mut small = vec![0u16; 10];
    let err = raw
        .read_group_u16(0, 0, &mut small)
        .unwrap_err()
        .to_string();
    assert!(err.contains("output buffer holds 10 values"), "{err}");
    let err = raw.band_bytes(2, 0, 0, 1).unwrap_err().to_string();
    assert!(err.contains("outside"), "{err}");
    let err = raw.band_bytes(0, 0, 30, 33).unwrap_err().to_string();
    assert!(err.contains("outside"), "{err}");
    let mut z = vec![0u16; 32];
    let err = raw
        .read_zeroframe_band_u16(0, 0, 1, &mut z)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no ZEROFRAME"), "{err}");
}

#[test]
fn zeroframe_is_read_when_present() {
    // Append a ZEROFRAME (nints, ny, nx) uint16 HDU to a copy of the tiny uncal with cfitsio
    // (BITPIX 16 + BZERO 32768, as DMS writes it) and read it back band by band.
    use fitsio::images::{ImageDescription, ImageType};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{BASE}_uncal.fits"));
    std::fs::copy(uncal_path(), &path).unwrap();
    let values: Vec<u16> = (0..2 * 32 * 32)
        .map(|i| ((i * 37 + 100) % 65536) as u16)
        .collect();
    {
        let mut f = fitsio::FitsFile::edit(&path).unwrap();
        let desc = ImageDescription {
            data_type: ImageType::UnsignedShort,
            dimensions: &[2, 32, 32],
        };
        let hdu = f.create_image("ZEROFRAME", &desc).unwrap();
        hdu.write_image(&mut f, &values).unwrap();
    }
    let raw = RawExposure::open(&path).unwrap();
    assert!(raw.has_zeroframe());
    let mut band = vec![0u16; 3 * 32];
    raw.read_zeroframe_band_u16(1, 4, 7, &mut band).unwrap();
    assert_eq!(band, values[(32 + 4) * 32..(32 + 7) * 32]);
    let mut bandf = vec![0f32; 32];
    raw.read_zeroframe_band_f32(0, 31, 32, &mut bandf).unwrap();
    assert!(bandf
        .iter()
        .zip(&values[31 * 32..32 * 32])
        .all(|(&f, &v)| f == v as f32));
    // The SCI cube is unaffected.
    let mut frame = vec![0u16; 32 * 32];
    raw.read_group_u16(0, 0, &mut frame).unwrap();
    assert_eq!(frame[0], Expected::load().one::<u16>("uncal.pixel.0.0.0.0"));
}

#[test]
fn absent_optional_keywords_get_the_pipeline_defaults() {
    // Blank out (turn into COMMENT cards) the optional keywords of a copy of the tiny uncal.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{BASE}_uncal.fits"));
    let mut bytes = std::fs::read(uncal_path()).unwrap();
    for key in [
        "TSOVISIT", "FRMDIVSR", "DRPFRMS1", "EFFINTTM", "ZEROFRAM", "INTSTART", "INTEND  ",
        "FILTER  ",
    ] {
        let at = (0..11520)
            .step_by(80)
            .find(|&o| bytes[o..].starts_with(key.as_bytes()))
            .unwrap();
        bytes[at..at + 80].copy_from_slice(format!("{:<80}", "COMMENT removed").as_bytes());
    }
    std::fs::write(&path, bytes).unwrap();
    let m = ExposureMeta::read(&path).unwrap();
    assert!(!m.tso_visit);
    assert_eq!(
        (
            m.frame_divisor,
            m.drop_frames1,
            m.effinttm,
            m.filter.clone()
        ),
        (None, None, None, None)
    );
    assert!(!m.zero_frame);
    assert_eq!((m.int_start, m.int_end), (1, 2));
    // NRC_TSGRISM is a TSO exposure type even without TSOVISIT.
    assert!(m.is_tso());
    RawExposure::open(&path).unwrap();
}
