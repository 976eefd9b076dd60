//! A minimal raster plot of the white-light curve: frame, grid, line and points, with the
//! y range and the integration range labelled in a tiny built-in 3×5 digit font (no font
//! files, no plotting library).

/// An RGB8 raster.
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

const WHITE: [u8; 3] = [255, 255, 255];
const GRID: [u8; 3] = [225, 225, 225];
const AXIS: [u8; 3] = [60, 60, 60];
const LINE: [u8; 3] = [70, 110, 200];
const POINT: [u8; 3] = [20, 40, 140];
const LATEST: [u8; 3] = [200, 40, 40];

impl Canvas {
    pub fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            rgb: WHITE.repeat(width * height),
        }
    }

    pub fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let o = (y as usize * self.width + x as usize) * 3;
            self.rgb[o..o + 3].copy_from_slice(&c);
        }
    }

    pub fn get(&self, x: usize, y: usize) -> [u8; 3] {
        let o = (y * self.width + x) * 3;
        [self.rgb[o], self.rgb[o + 1], self.rgb[o + 2]]
    }

    /// Bresenham line.
    pub fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: [u8; 3]) {
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

    pub fn dot(&mut self, x: i64, y: i64, r: i64, c: [u8; 3]) {
        for dy in -r..=r {
            for dx in -r..=r {
                if dx * dx + dy * dy <= r * r {
                    self.set(x + dx, y + dy, c);
                }
            }
        }
    }

    /// Text in the 3×5 font, `scale` pixels per font pixel, top-left at (x, y).
    pub fn text(&mut self, x: i64, y: i64, s: &str, scale: i64, c: [u8; 3]) {
        for (n, ch) in s.chars().enumerate() {
            let Some(rows) = glyph(ch) else { continue };
            let gx = x + n as i64 * 4 * scale;
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..3 {
                    if bits >> (2 - col) & 1 == 1 {
                        for a in 0..scale {
                            for b in 0..scale {
                                self.set(gx + col * scale + a, y + r as i64 * scale + b, c);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// 3×5 glyphs (each row's 3 low bits, left pixel = bit 2).
fn glyph(c: char) -> Option<[u8; 5]> {
    Some(match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        '+' => [0, 2, 7, 2, 0],
        'e' => [0, 7, 7, 4, 7],
        ' ' => [0, 0, 0, 0, 0],
        _ => return None,
    })
}

/// Plot `(integration, flux)` points for an exposure of `nints` integrations: x spans all
/// integrations (so the curve grows to the right as data arrive), y spans the data with a
/// 5 % margin. The latest point is red.
pub fn draw_light_curve(
    points: &[(usize, f64)],
    nints: usize,
    width: usize,
    height: usize,
) -> Canvas {
    let mut c = Canvas::new(width, height);
    let (left, right, top, bottom) = (110i64, width as i64 - 20, 20i64, height as i64 - 30);
    let finite: Vec<f64> = points
        .iter()
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .collect();
    let (mut lo, mut hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let span = (hi - lo).max(hi.abs() * 1e-6).max(1e-12);
    let (ylo, yhi) = (lo - 0.05 * span, hi + 0.05 * span);
    let xmax = nints.max(2) - 1;
    let px = |i: usize| left + ((right - left) as f64 * i as f64 / xmax as f64).round() as i64;
    let py = |v: f64| bottom - ((bottom - top) as f64 * (v - ylo) / (yhi - ylo)).round() as i64;
    for k in 0..=4 {
        let y = top + (bottom - top) * k / 4;
        c.line((left, y), (right, y), GRID);
        let x = left + (right - left) * k / 4;
        c.line((x, top), (x, bottom), GRID);
    }
    c.line((left, top), (left, bottom), AXIS);
    c.line((left, bottom), (right, bottom), AXIS);
    let label = |v: f64| format!("{v:.4e}");
    c.text(4, top, &label(yhi), 2, AXIS);
    c.text(4, bottom - 10, &label(ylo), 2, AXIS);
    c.text(left, bottom + 8, "1", 2, AXIS);
    let n = format!("{nints}");
    c.text(right - 8 * n.len() as i64, bottom + 8, &n, 2, AXIS);
    let mut prev: Option<(i64, i64)> = None;
    for &(i, v) in points {
        if !v.is_finite() {
            prev = None;
            continue;
        }
        let p = (px(i), py(v));
        if let Some(q) = prev {
            c.line(q, p, LINE);
        }
        prev = Some(p);
    }
    for (k, &(i, v)) in points.iter().enumerate() {
        if v.is_finite() {
            let colour = if k + 1 == points.len() { LATEST } else { POINT };
            c.dot(px(i), py(v), 2, colour);
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_points_land_where_expected() {
        let pts = vec![(0, 10.0), (1, 20.0), (2, 15.0)];
        let c = draw_light_curve(&pts, 3, 200, 100);
        // Plot area: x 110..180, y 20..70.
        // First point: left edge, near the bottom (lowest value); second: right middle? top.
        assert_eq!(
            c.get(110, 100 - 30 - 4),
            POINT,
            "lowest point near the bottom-left"
        );
        // The latest point is drawn in red at the right edge.
        let y = {
            let (top, bottom): (f64, f64) = (20.0, 70.0);
            let (lo, hi) = (10.0 - 0.5, 20.0 + 0.5);
            (bottom - (bottom - top) * (15.0 - lo) / (hi - lo)).round() as usize
        };
        assert_eq!(c.get(180, y), LATEST);
        // Labels are drawn in the axis colour somewhere in the left margin.
        assert!((0..100).any(|x| (20..30).any(|y| c.get(x, y) == AXIS)));
    }

    #[test]
    fn empty_and_nan_curves_do_not_panic() {
        let _ = draw_light_curve(&[], 10, 100, 60);
        let _ = draw_light_curve(&[(0, f64::NAN)], 1, 100, 60);
    }
}
