//! astropy's fast sigma clipping (the path stcal's sigma-clip mode takes) reproduced bit for bit:
//! final bounds for random columns with outliers, ties and NaNs (fixtures/jump/sigclip_bounds.txt,
//! made by fixtures/jump/make_golden.py). Exact agreement needs the Wirth selection's buffer
//! permutation, since the mean and variance are summed in that order.

use std::path::Path;

use sloper::steps::jump::sigma_clip::{clip_bounds, MAXITERS};

#[test]
fn bounds_match_astropy_bit_for_bit() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/jump/sigclip_bounds.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    let mut n_cols = 0;
    for (line_no, line) in text.lines().enumerate() {
        let f: Vec<f64> = line
            .split_whitespace()
            .map(|s| s.parse().unwrap())
            .collect();
        let n = f[0] as usize;
        let (lower, upper) = (f[1], f[2]);
        let values = &f[3..];
        assert_eq!(values.len(), n);
        let mut buf: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let (lo, hi) = clip_bounds(&mut buf, 4.0, MAXITERS);
        assert!(
            same(lo, lower) && same(hi, upper),
            "column {line_no}: ours ({lo:?}, {hi:?}) astropy ({lower:?}, {upper:?})"
        );
        n_cols += 1;
    }
    assert_eq!(n_cols, 200);
}
