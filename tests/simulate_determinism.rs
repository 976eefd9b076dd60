//! `sloper simulate` is a pure function of its options: the same seed gives byte-identical files
//! (apart from the DATE card) — the raw exposure, the truth and all eleven references (Detector1's
//! and Stage 2's flat, photom and area) — whatever the number of threads, and a segmented
//! exposure holds exactly the integrations of the unsegmented one.

use std::path::{Path, PathBuf};

use sloper::simulate::{simulate, SimulateArgs};

fn args(outdir: &Path, extra: &[&str]) -> SimulateArgs {
    let mut words: Vec<String> = vec!["--outdir".into(), outdir.display().to_string()];
    words.extend(extra.iter().map(|s| s.to_string()));
    SimulateArgs::from_words(words).expect("valid options")
}

/// File bytes with the value of every `DATE    =` card blanked (the creation time).
fn bytes_without_date(p: &Path) -> Vec<u8> {
    let mut b = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut k = 0;
    while k + 80 <= b.len() {
        if &b[k..k + 10] == b"DATE    = " {
            for c in &mut b[k + 10..k + 80] {
                *c = b' ';
            }
        }
        k += 80;
    }
    b
}

fn fits_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "fits"))
        .collect();
    v.sort();
    v
}

fn assert_same_files(a: &Path, b: &Path) {
    let fa = fits_files(a);
    let fb = fits_files(b);
    assert_eq!(
        fa.iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect::<Vec<_>>(),
        fb.iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect::<Vec<_>>()
    );
    let names: Vec<String> = fa
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for r in [
        "mask",
        "saturation",
        "superbias",
        "linearity",
        "dark",
        "gain",
        "readnoise",
        "ipc",
        "flat",
        "photom",
        "area",
    ] {
        assert!(
            names.contains(&format!("ref_{r}.fits")),
            "ref_{r}.fits missing from {names:?}"
        );
    }
    assert!(
        fa.len() >= 13,
        "uncal, 11 refs and truth expected, got {fa:?}"
    );
    for (x, y) in fa.iter().zip(&fb) {
        assert!(
            bytes_without_date(x) == bytes_without_date(y),
            "{} differs from {}",
            x.display(),
            y.display()
        );
    }
}

#[test]
fn same_seed_same_bytes_and_other_seed_differs() {
    let t = tempfile::tempdir().unwrap();
    let (a, b, c) = (t.path().join("a"), t.path().join("b"), t.path().join("c"));
    let opts = [
        "--nints",
        "2",
        "--ngroups",
        "4",
        "--ny",
        "24",
        "--nx",
        "40",
        "--seed",
        "5",
    ];
    simulate(&args(&a, &opts)).unwrap();
    simulate(&args(&b, &opts)).unwrap();
    assert_same_files(&a, &b);
    let mut other = opts.to_vec();
    other[9] = "6";
    simulate(&args(&c, &other)).unwrap();
    let name = "jw01234001001_01101_00001_nrcalong_uncal.fits";
    assert!(bytes_without_date(&a.join(name)) != bytes_without_date(&c.join(name)));
}

#[test]
fn thread_count_does_not_matter() {
    let t = tempfile::tempdir().unwrap();
    // nx = 2048 gives 4 outputs (per-amplifier drift); BRIGHT2 exercises frame averaging.
    let opts = [
        "--nints",
        "2",
        "--ngroups",
        "3",
        "--ny",
        "12",
        "--nx",
        "2048",
        "--readpatt",
        "BRIGHT2",
        "--seed",
        "9",
    ];
    for n in [1usize, 2, 3] {
        let dir = t.path().join(format!("t{n}"));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap();
        let a = args(&dir, &opts);
        pool.install(|| simulate(&a)).unwrap();
    }
    assert_same_files(&t.path().join("t1"), &t.path().join("t2"));
    assert_same_files(&t.path().join("t1"), &t.path().join("t3"));
}

fn read_sci(p: &Path) -> (Vec<u16>, i64, i64) {
    let mut f = fitsio::FitsFile::open(p).unwrap();
    let prim = f.primary_hdu().unwrap();
    let i0: i64 = prim.read_key(&mut f, "INTSTART").unwrap();
    let i1: i64 = prim.read_key(&mut f, "INTEND").unwrap();
    let hdu = f.hdu("SCI").unwrap();
    (hdu.read_image(&mut f).unwrap(), i0, i1)
}

#[test]
fn segments_split_the_same_exposure() {
    let t = tempfile::tempdir().unwrap();
    let (whole, split) = (t.path().join("whole"), t.path().join("split"));
    let opts = [
        "--nints",
        "5",
        "--ngroups",
        "3",
        "--ny",
        "16",
        "--nx",
        "16",
        "--seed",
        "3",
        "--no-refs",
    ];
    simulate(&args(&whole, &opts)).unwrap();
    let mut seg_opts = opts.to_vec();
    seg_opts.extend(["--segments", "2"]);
    let r = simulate(&args(&split, &seg_opts)).unwrap();
    let names: Vec<String> = r
        .uncal
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into())
        .collect();
    assert_eq!(
        names,
        [
            "jw01234001001_01101_00001-seg001_nrcalong_uncal.fits",
            "jw01234001001_01101_00001-seg002_nrcalong_uncal.fits"
        ]
    );
    let (all, _, _) = read_sci(&whole.join("jw01234001001_01101_00001_nrcalong_uncal.fits"));
    let per_int = 3 * 16 * 16;
    let mut next = 1;
    for (k, (p, _)) in r.uncal.iter().enumerate() {
        let (data, i0, i1) = read_sci(p);
        assert_eq!(
            i0, next,
            "INTSTART of segment {k} must follow the previous INTEND"
        );
        assert_eq!(data.len(), (i1 - i0 + 1) as usize * per_int);
        let lo = (i0 - 1) as usize * per_int;
        assert!(
            data == all[lo..lo + data.len()],
            "segment {k} differs from the whole exposure"
        );
        let mut f = fitsio::FitsFile::open(p).unwrap();
        let prim = f.primary_hdu().unwrap();
        assert_eq!(
            prim.read_key::<i64>(&mut f, "EXSEGNUM").unwrap(),
            k as i64 + 1
        );
        assert_eq!(prim.read_key::<i64>(&mut f, "EXSEGTOT").unwrap(), 2);
        assert_eq!(prim.read_key::<i64>(&mut f, "NINTS").unwrap(), 5);
        let it = f.hdu("INT_TIMES").unwrap();
        let nums: Vec<i32> = it.read_col(&mut f, "integration_number").unwrap();
        assert_eq!(nums, (i0 as i32..=i1 as i32).collect::<Vec<_>>());
        next = i1 + 1;
    }
    assert_eq!(next, 6);
}

#[test]
fn full_frame_refs_cut_to_the_subarray_refs() {
    let t = tempfile::tempdir().unwrap();
    let (sub, full) = (t.path().join("sub"), t.path().join("full"));
    let opts = [
        "--nints",
        "1",
        "--ngroups",
        "2",
        "--ny",
        "8",
        "--nx",
        "10",
        "--substrt1",
        "2037",
        "--substrt2",
        "101",
    ];
    simulate(&args(&sub, &opts)).unwrap();
    let mut f_opts = opts.to_vec();
    f_opts.push("--full-frame-refs");
    simulate(&args(&full, &f_opts)).unwrap();
    let (x0, y0, ny, nx) = (2036usize, 100usize, 8usize, 10usize);
    for (file, ext) in [
        ("ref_mask.fits", "DQ"),
        ("ref_saturation.fits", "SCI"),
        ("ref_superbias.fits", "SCI"),
        ("ref_gain.fits", "SCI"),
        ("ref_readnoise.fits", "SCI"),
        ("ref_linearity.fits", "COEFFS"),
        ("ref_flat.fits", "SCI"),
        ("ref_flat.fits", "DQ"),
        ("ref_flat.fits", "ERR"),
        ("ref_area.fits", "SCI"),
    ] {
        let mut fs = fitsio::FitsFile::open(sub.join(file)).unwrap();
        let mut ff = fitsio::FitsFile::open(full.join(file)).unwrap();
        let hs = fs.hdu(ext).unwrap();
        let hf = ff.hdu(ext).unwrap();
        let small: Vec<f64> = hs.read_image(&mut fs).unwrap();
        let big: Vec<f64> = hf.read_image(&mut ff).unwrap();
        // The AREA map always starts at detector pixel (1, 1): the subarray one covers rows and
        // columns 1 .. far corner of the subarray.
        let (sy0, sx0, sny, snx) = if file == "ref_area.fits" {
            (y0, x0, y0 + ny, x0 + nx)
        } else {
            (0, 0, ny, nx)
        };
        let planes = small.len() / (sny * snx);
        assert_eq!(small.len(), planes * sny * snx, "{file}");
        assert_eq!(big.len(), planes * 2048 * 2048, "{file}");
        for p in 0..planes {
            for y in 0..ny {
                for x in 0..nx {
                    let s = small[(p * sny + sy0 + y) * snx + sx0 + x];
                    let b = big[(p * 2048 + y0 + y) * 2048 + x0 + x];
                    assert!(
                        s == b || (s.is_nan() && b.is_nan()),
                        "{file} plane {p} ({y},{x}): {s} vs {b}"
                    );
                }
            }
        }
        let prim = ff.primary_hdu().unwrap();
        assert_eq!(
            prim.read_key::<String>(&mut ff, "SUBARRAY").unwrap(),
            "FULL"
        );
    }
    // The raw data do not depend on how the references are laid out.
    let name = "jw01234001001_01101_00001_nrcalong_uncal.fits";
    assert_eq!(read_sci(&sub.join(name)).0, read_sci(&full.join(name)).0);
}
