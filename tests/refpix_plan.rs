//! Plan decisions of the refpix kernel that need no golden data: which path the official step
//! takes, when it is skipped, and which configurations are refused with a clear error.

use std::path::Path;

use sloper::frames::{dq, ExposureMeta};
use sloper::steps::refpix::{
    Frame, Precision, RefpixAlgorithm, RefpixMode, RefpixParams, RefpixPlan, RefpixStatus,
};

fn meta(ny: usize, nx: usize, substrt: (usize, usize), noutputs: usize) -> ExposureMeta {
    ExposureMeta {
        instrument: "NIRCAM".into(),
        detector: "NRCA1".into(),
        nints: 1,
        ngroups: 2,
        noutputs,
        int_start: 1,
        int_end: 1,
        subarray: "SUBTEST".into(),
        substrt1: substrt.0,
        substrt2: substrt.1,
        subsize1: nx,
        subsize2: ny,
        fastaxis: -1,
        slowaxis: 2,
        ..ExposureMeta::default()
    }
}

fn plan(m: &ExposureMeta, pdq: &[u32], p: &RefpixParams) -> Result<RefpixPlan, String> {
    RefpixPlan::new(Path::new("x_uncal.fits"), m, pdq, p).map_err(|e| e.to_string())
}

#[test]
fn subarray_outside_the_detector_is_skipped() {
    let m = meta(8, 8, (2045, 1), 1);
    let p = plan(&m, &[0; 64], &RefpixParams::default()).unwrap();
    assert_eq!(p.mode(), RefpixMode::Skipped);
    assert!(matches!(p.status(), RefpixStatus::Skipped(r) if r.contains("doesn't fit")));
    let mut data = vec![1.5f32; 64];
    p.correct_frame(
        Frame::Group {
            integration: 0,
            group: 0,
        },
        &mut data,
    )
    .unwrap();
    assert!(data.iter().all(|&v| v == 1.5));
}

#[test]
fn miri_subarray_skipped_and_miri_full_frame_refused() {
    let mut m = meta(8, 8, (1, 1), 1);
    m.instrument = "MIRI".into();
    m.detector = "MIRIMAGE".into();
    assert_eq!(
        plan(&m, &[0; 64], &RefpixParams::default()).unwrap().mode(),
        RefpixMode::Skipped
    );
    let mut m = meta(1024, 1032, (1, 1), 4);
    m.instrument = "MIRI".into();
    m.detector = "MIRIMAGE".into();
    let err = plan(&m, &vec![0; 1024 * 1032], &RefpixParams::default()).unwrap_err();
    assert!(
        err.contains("x_uncal.fits") && err.contains("MIRI"),
        "{err}"
    );
}

#[test]
fn unsupported_configurations_are_clear_errors() {
    let m = meta(2048, 3200, (1, 1), 4);
    let err = plan(&m, &vec![0; 2048 * 3200], &RefpixParams::default()).unwrap_err();
    assert!(err.contains("IRS2"), "{err}");

    let mut full = meta(2048, 2048, (1, 1), 4);
    full.subarray = "FULL".into();
    let sirs = RefpixParams {
        refpix_algorithm: RefpixAlgorithm::Sirs,
        ..Default::default()
    };
    let err = plan(&full, &vec![0; 2048 * 2048], &sirs).unwrap_err();
    assert!(err.contains("sirs"), "{err}");
    assert_eq!(RefpixAlgorithm::parse("sirs"), Some(RefpixAlgorithm::Sirs));
    assert_eq!(RefpixAlgorithm::parse("mean"), None);

    // For subarrays the official step ignores 'sirs' and runs the running median.
    let sub = meta(16, 2048, (1, 1), 4);
    assert_eq!(
        plan(&sub, &vec![0; 16 * 2048], &sirs).unwrap().mode(),
        RefpixMode::FourAmp
    );

    let mut bad_axes = meta(8, 8, (1, 1), 1);
    bad_axes.fastaxis = 0;
    assert!(plan(&bad_axes, &[0; 64], &RefpixParams::default())
        .unwrap_err()
        .contains("FASTAXIS"));

    let short = RefpixParams {
        side_smoothing_length: 1,
        ..Default::default()
    };
    let err = plan(&sub, &vec![0; 16 * 2048], &short).unwrap_err();
    assert!(err.contains("side_smoothing_length"), "{err}");

    let err = plan(&sub, &[0; 10], &RefpixParams::default()).unwrap_err();
    assert!(err.contains("PIXELDQ"), "{err}");
}

#[test]
fn one_amp_without_reference_pixels_changes_nothing_but_zeroframe_signs() {
    let m = meta(8, 8, (100, 100), 1);
    let p = plan(&m, &[0; 64], &RefpixParams::default()).unwrap();
    assert_eq!(p.mode(), RefpixMode::OneAmpNoReferencePixels);
    assert_eq!(p.status(), RefpixStatus::Complete);
    assert!(p.rows_needed().is_empty());
    let mut data: Vec<f32> = (0..64).map(|i| i as f32 * 0.5).collect();
    data[5] = -0.0;
    let before = data.clone();
    p.correct_frame(
        Frame::Group {
            integration: 0,
            group: 1,
        },
        &mut data,
    )
    .unwrap();
    assert_eq!(
        data.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        before.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    // The official ZEROFRAME restore writes +0 wherever the input compared equal to 0.
    p.correct_frame(Frame::ZeroFrame { integration: 0 }, &mut data)
        .unwrap();
    assert_eq!(data[5].to_bits(), 0);
}

#[test]
fn one_amp_with_references_in_one_parity_only_is_refused() {
    // A single usable reference column: the official odd/even split indexes with an empty list.
    let m = meta(8, 8, (100, 100), 1);
    let mut pdq = vec![0u32; 64];
    for y in 0..8 {
        pdq[y * 8 + 3] = dq::REFERENCE_PIXEL;
    }
    let err = plan(&m, &pdq, &RefpixParams::default()).unwrap_err();
    assert!(err.contains("odd_even_columns"), "{err}");
    let single = RefpixParams {
        odd_even_columns: false,
        ..Default::default()
    };
    let p = plan(&m, &pdq, &single).unwrap();
    assert_eq!(p.mode(), RefpixMode::OneAmp);
    assert_eq!(p.rows_needed(), &[0, 1, 2, 3, 4, 5, 6, 7]);
    // Every value minus the plain mean of the reference column.
    let mut data: Vec<f32> = (0..64).map(|i| (i % 8) as f32 + (i / 8) as f32).collect();
    p.correct_frame(
        Frame::Group {
            integration: 0,
            group: 0,
        },
        &mut data,
    )
    .unwrap();
    // Reference column 3 holds 3..=10: mean 6.5.
    assert_eq!(data[0], 0.0 - 6.5);
    assert_eq!(data[63], 14.0 - 6.5);
}

#[test]
fn four_amp_precision_follows_the_official_buffer_type() {
    let sub = meta(16, 2048, (1, 1), 4);
    let p = plan(&sub, &vec![0; 16 * 2048], &RefpixParams::default()).unwrap();
    assert_eq!(
        p.precision(Frame::Group {
            integration: 0,
            group: 0
        }),
        Precision::Float32
    );
    assert_eq!(
        p.precision(Frame::Group {
            integration: 0,
            group: 1
        }),
        Precision::Float64
    );
    assert_eq!(
        p.precision(Frame::Group {
            integration: 1,
            group: 0
        }),
        Precision::Float64
    );
    assert_eq!(
        p.precision(Frame::ZeroFrame { integration: 0 }),
        Precision::Float64
    );
    // Bottom reference rows 0..3 and the side columns of every row are read.
    assert_eq!(p.rows_needed().len(), 16);
    let no_side = RefpixParams {
        use_side_ref_pixels: false,
        ..Default::default()
    };
    let p = plan(&sub, &vec![0; 16 * 2048], &no_side).unwrap();
    assert_eq!(
        p.precision(Frame::Group {
            integration: 0,
            group: 1
        }),
        Precision::Float32
    );
    assert_eq!(p.rows_needed(), &[0, 1, 2, 3]);
}
