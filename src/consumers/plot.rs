//! Light-curve plots as PNG: the catalogue's flux (net aperture sum, or white light) normalised
//! by its median against time since the first integration (s, min or hours), with error bars,
//! axes, ticks, axis labels, the flux unit and median in the subtitle. Drawn on a
//! small RGB canvas with a built-in 5x7 pixel font and encoded with the `png` crate, so no
//! font or graphics library is needed.

use super::ecsv::Table;
use std::path::Path;

const W: usize = 960;
const H: usize = 540;

struct Canvas {
    px: Vec<u8>,
}

/// Letters with a descender: their 7 rows start 2 rows lower (x-height at rows 0-4, tail at
/// rows 5-6), so the tail hangs below the line.
fn descender(c: char) -> Option<[u8; 7]> {
    Some(match c {
        'g' => [15, 17, 17, 17, 15, 1, 14],
        'p' => [30, 17, 17, 17, 30, 16, 16],
        'q' => [15, 17, 17, 17, 15, 1, 1],
        'y' => [17, 17, 17, 17, 15, 1, 14],
        _ => return None,
    })
}

/// A glyph and the rows it is shifted down by.
fn glyph_at(c: char) -> ([u8; 7], i64) {
    match descender(c) {
        Some(g) => (g, 2),
        None => (glyph(c), 0),
    }
}

/// 5x7 glyphs (rows top to bottom, 5 bits each, MSB = left column); upper and lower case,
/// digits and the punctuation the labels use.
fn glyph(c: char) -> [u8; 7] {
    match c {
        'a' => [0, 0, 14, 1, 15, 17, 15],
        'b' => [16, 16, 22, 25, 17, 17, 30],
        'c' => [0, 0, 14, 16, 16, 17, 14],
        'd' => [1, 1, 13, 19, 17, 17, 15],
        'e' => [0, 0, 14, 17, 31, 16, 14],
        'f' => [6, 9, 8, 28, 8, 8, 8],
        'h' => [16, 16, 22, 25, 17, 17, 17],
        'i' => [4, 0, 12, 4, 4, 4, 14],
        'j' => [2, 0, 6, 2, 2, 18, 12],
        'k' => [16, 16, 18, 20, 24, 20, 18],
        'l' => [12, 4, 4, 4, 4, 4, 14],
        'm' => [0, 0, 26, 21, 21, 17, 17],
        'n' => [0, 0, 22, 25, 17, 17, 17],
        'o' => [0, 0, 14, 17, 17, 17, 14],
        'r' => [0, 0, 22, 25, 16, 16, 16],
        's' => [0, 0, 14, 16, 14, 1, 30],
        't' => [8, 8, 28, 8, 8, 9, 6],
        'u' => [0, 0, 17, 17, 17, 19, 13],
        'v' => [0, 0, 17, 17, 17, 10, 4],
        'w' => [0, 0, 17, 17, 21, 21, 10],
        'x' => [0, 0, 17, 10, 4, 10, 17],
        'z' => [0, 0, 31, 2, 4, 8, 31],
        '%' => [24, 25, 2, 4, 8, 19, 3],
        '[' => [14, 8, 8, 8, 8, 8, 14],
        ']' => [14, 2, 2, 2, 2, 2, 14],
        '<' => [2, 4, 8, 16, 8, 4, 2],
        '>' => [8, 4, 2, 1, 2, 4, 8],
        ';' => [0, 12, 12, 0, 12, 4, 8],
        '\'' => [4, 4, 8, 0, 0, 0, 0],
        _ => glyph_upper(c.to_ascii_uppercase()),
    }
}

fn glyph_upper(c: char) -> [u8; 7] {
    match c {
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        '+' => [0, 4, 4, 31, 4, 4, 0],
        ':' => [0, 12, 12, 0, 12, 12, 0],
        '(' => [2, 4, 8, 8, 8, 4, 2],
        ')' => [8, 4, 2, 2, 2, 4, 8],
        '/' => [1, 1, 2, 4, 8, 16, 16],
        '_' => [0, 0, 0, 0, 0, 0, 31],
        '=' => [0, 0, 31, 0, 31, 0, 0],
        ',' => [0, 0, 0, 0, 12, 4, 8],
        'A' => [14, 17, 17, 31, 17, 17, 17],
        'B' => [30, 17, 17, 30, 17, 17, 30],
        'C' => [14, 17, 16, 16, 16, 17, 14],
        'D' => [28, 18, 17, 17, 17, 18, 28],
        'E' => [31, 16, 16, 30, 16, 16, 31],
        'F' => [31, 16, 16, 30, 16, 16, 16],
        'G' => [14, 17, 16, 23, 17, 17, 15],
        'H' => [17, 17, 17, 31, 17, 17, 17],
        'I' => [14, 4, 4, 4, 4, 4, 14],
        'J' => [7, 2, 2, 2, 2, 18, 12],
        'K' => [17, 18, 20, 24, 20, 18, 17],
        'L' => [16, 16, 16, 16, 16, 16, 31],
        'M' => [17, 27, 21, 21, 17, 17, 17],
        'N' => [17, 17, 25, 21, 19, 17, 17],
        'O' => [14, 17, 17, 17, 17, 17, 14],
        'P' => [30, 17, 17, 30, 16, 16, 16],
        'Q' => [14, 17, 17, 17, 21, 18, 13],
        'R' => [30, 17, 17, 30, 20, 18, 17],
        'S' => [15, 16, 16, 14, 1, 1, 30],
        'T' => [31, 4, 4, 4, 4, 4, 4],
        'U' => [17, 17, 17, 17, 17, 17, 14],
        'V' => [17, 17, 17, 17, 17, 10, 4],
        'W' => [17, 17, 17, 21, 21, 21, 10],
        'X' => [17, 17, 10, 4, 10, 17, 17],
        'Y' => [17, 17, 10, 4, 4, 4, 4],
        'Z' => [31, 1, 2, 4, 8, 16, 31],
        _ => [0; 7],
    }
}

impl Canvas {
    fn new() -> Canvas {
        Canvas {
            px: vec![255; W * H * 3],
        }
    }
    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < W && (y as usize) < H {
            let i = (y as usize * W + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }
    fn line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3]) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.set(x, y, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }
    fn disc(&mut self, x: i64, y: i64, r: i64, c: [u8; 3]) {
        for dy in -r..=r {
            for dx in -r..=r {
                if dx * dx + dy * dy <= r * r {
                    self.set(x + dx, y + dy, c);
                }
            }
        }
    }
    /// Text with its top-left corner at (x, y), glyphs scaled by `s`.
    fn text(&mut self, x: i64, y: i64, s: i64, t: &str, c: [u8; 3]) {
        for (k, ch) in t.chars().enumerate() {
            let (g, down) = glyph_at(ch);
            let ox = x + k as i64 * 6 * s;
            for (r, bits) in g.iter().enumerate() {
                let r = r as i64 + down;
                for col in 0..5 {
                    if bits & (16 >> col) != 0 {
                        for a in 0..s {
                            for b in 0..s {
                                self.set(ox + col * s + a, y + r * s + b, c);
                            }
                        }
                    }
                }
            }
        }
    }
    fn text_width(t: &str, s: i64) -> i64 {
        t.chars().count() as i64 * 6 * s
    }
    /// Text rotated a quarter turn anticlockwise (read bottom to top), its baseline on the
    /// left: the glyphs' top rows face left. (x, y) is the bottom-left corner of the first
    /// glyph.
    fn text_up(&mut self, x: i64, y: i64, s: i64, t: &str, c: [u8; 3]) {
        for (k, ch) in t.chars().enumerate() {
            let (g, down) = glyph_at(ch);
            let oy = y - k as i64 * 6 * s;
            for (r, bits) in g.iter().enumerate() {
                let r = r as i64 + down;
                for col in 0..5 {
                    if bits & (16 >> col) != 0 {
                        for a in 0..s {
                            for b in 0..s {
                                self.set(x + r * s + b, oy - col * s - a, c);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// "Nice" tick positions covering [lo, hi].
fn ticks(lo: f64, hi: f64) -> (Vec<f64>, f64) {
    let span = (hi - lo).max(1e-12);
    let raw = span / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut v = Vec::new();
    let mut t = (lo / step).ceil() * step;
    while t <= hi + 1e-9 * step {
        v.push(t);
        t += step;
    }
    (v, step)
}

/// A value with 4 significant digits, in exponent form when very large or small.
fn sci(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-2 || v.abs() >= 1e5) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

fn label(v: f64, step: f64) -> String {
    let v = if v.abs() < step * 1e-6 { 0.0 } else { v };
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{v:.decimals$}")
}

/// Draw the light curve of `table` (`kind` = "phot" or "whtlt") into `path`.
pub fn light_curve(table: &Table, kind: &str, title: &str, path: &Path) -> anyhow::Result<()> {
    let (fname, ename) = if kind == "whtlt" {
        ("whitelight_flux", "whitelight_flux_err")
    } else {
        ("net_aperture_sum", "net_aperture_sum_err")
    };
    let flux = table
        .column(fname)
        .ok_or_else(|| anyhow::anyhow!("catalogue has no {fname} column"))?;
    let err = table.column(ename);
    let mjd = table.column("MJD");
    let n = flux.values.len();
    let t0 = mjd
        .and_then(|c| c.values.iter().copied().find(|v| v.is_finite()))
        .unwrap_or(f64::NAN);
    let (xs, xlabel): (Vec<f64>, &str) = if t0.is_finite() {
        let days: Vec<f64> = mjd
            .map(|c| c.values.iter().map(|v| v - t0).collect())
            .unwrap_or_default();
        let span_h = days
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max)
            * 24.0;
        let (k, what) = if span_h < 0.05 {
            (86400.0, "s")
        } else if span_h < 2.0 {
            (1440.0, "min")
        } else {
            (24.0, "hours")
        };
        (days.iter().map(|d| d * k).collect(), what)
    } else {
        ((0..n).map(|i| i as f64).collect(), "")
    };
    let xlabel = if t0.is_finite() {
        format!("Time since the first integration (MJD {t0:.5}) [{xlabel}]")
    } else {
        "Integration (0-based; the catalogue has no MJD)".to_string()
    };
    let xlabel = xlabel.as_str();
    let mut finite: Vec<f64> = flux
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    finite.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let med = if finite.is_empty() {
        1.0
    } else {
        finite[finite.len() / 2]
    };
    let norm = if med != 0.0 && med.is_finite() {
        med
    } else {
        1.0
    };
    let ys: Vec<f64> = flux.values.iter().map(|v| v / norm).collect();
    let es: Vec<f64> = (0..n)
        .map(|i| err.map_or(0.0, |e| (e.values[i] / norm).abs()))
        .collect();
    let good: Vec<usize> = (0..n)
        .filter(|&i| ys[i].is_finite() && xs[i].is_finite())
        .collect();
    let (mut ylo, mut yhi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &i in &good {
        let e = if es[i].is_finite() { es[i] } else { 0.0 };
        ylo = ylo.min(ys[i] - e);
        yhi = yhi.max(ys[i] + e);
    }
    if !ylo.is_finite() {
        (ylo, yhi) = (0.99, 1.01);
    }
    let pad = ((yhi - ylo) * 0.08).max(1e-4);
    let (ylo, yhi) = (ylo - pad, yhi + pad);
    let (mut xlo, mut xhi) = good
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &i| {
            (a.min(xs[i]), b.max(xs[i]))
        });
    if !xlo.is_finite() || xhi <= xlo {
        (xlo, xhi) = (0.0, 1.0);
    }
    let xpad = (xhi - xlo) * 0.03;
    let (xlo, xhi) = (xlo - xpad, xhi + xpad);

    let (l, r, t, b) = (150i64, W as i64 - 30, 84i64, H as i64 - 80);
    let px = |x: f64| l + ((x - xlo) / (xhi - xlo) * (r - l) as f64).round() as i64;
    let py = |y: f64| b - ((y - ylo) / (yhi - ylo) * (b - t) as f64).round() as i64;
    let mut cv = Canvas::new();
    let black = [0, 0, 0];
    let grey = [200, 200, 200];
    let (xt, xs_step) = ticks(xlo, xhi);
    let (yt, ys_step) = ticks(ylo, yhi);
    for &v in &xt {
        let x = px(v);
        cv.line(x, t, x, b, grey);
        cv.line(x, b, x, b + 6, black);
        let s = label(v, xs_step);
        cv.text(x - Canvas::text_width(&s, 2) / 2, b + 12, 2, &s, black);
    }
    for &v in &yt {
        let y = py(v);
        cv.line(l, y, r, y, grey);
        cv.line(l - 6, y, l, y, black);
        let s = label(v, ys_step);
        cv.text(l - 10 - Canvas::text_width(&s, 2), y - 7, 2, &s, black);
    }
    cv.line(l, t, r, t, black);
    cv.line(l, b, r, b, black);
    cv.line(l, t, l, b, black);
    cv.line(r, t, r, b, black);
    let blue = [31, 90, 180];
    for &i in &good {
        let (x, y) = (px(xs[i]), py(ys[i]));
        if es[i].is_finite() && es[i] > 0.0 {
            let (y0, y1) = (py(ys[i] - es[i]), py(ys[i] + es[i]));
            cv.line(x, y0, x, y1, [150, 170, 210]);
        }
        cv.disc(x, y, 3, blue);
    }
    let (heading, what) = if kind == "whtlt" {
        (
            "White-light curve (sloper box-extraction quick look, not the official product)",
            "white light",
        )
    } else {
        ("TSO aperture photometry", "net aperture sum")
    };
    let unit = flux.unit.as_deref().unwrap_or("");
    let grey_text = [80, 80, 80];
    cv.text(12, 10, 2, heading, black);
    cv.text(12, 32, 2, &format!("{title}, {n} integrations"), grey_text);
    cv.text(
        12,
        54,
        2,
        &format!("median {what} = {} {unit}; error bars: 1 sigma", sci(med)),
        grey_text,
    );
    let ylabel = format!("{what} / median");
    cv.text_up(
        16,
        (t + b) / 2 + Canvas::text_width(&ylabel, 2) / 2,
        2,
        &ylabel,
        black,
    );
    cv.text(
        (l + r) / 2 - Canvas::text_width(xlabel, 2) / 2,
        H as i64 - 40,
        2,
        xlabel,
        black,
    );
    let f = std::fs::File::create(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), W as u32, H as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut wr = enc
        .write_header()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    wr.write_image_data(&cv.px)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(())
}
