//! The exposure plan: everything derived from the command line before any pixel is made
//! (readout pattern, subarray name and corner, frame/group times, segment split, file names).
//! The rules follow the oracle's `make_synthetic.py` so both generators describe the same
//! exposure for the same options.

use std::path::PathBuf;

use super::{ExpType, ReadPatt, SimulateArgs};

/// Full-frame size of a NIRCam detector and the width of its reference-pixel border.
pub const FULL: usize = 2048;
pub const NREF: usize = 4;

/// Start of the exposure: 2024-03-01T00:00:00 UTC.
pub const T0_MJD: f64 = 60370.0;
/// Arbitrary light-time offset of the BJD_TDB columns (days).
pub const BJD_OFFSET_DAYS: f64 = 0.0008;

/// One output file of the exposure (DMS splits big exposures into segments).
#[derive(Debug, Clone)]
pub struct Segment {
    /// 1-based segment number and total (only written when the exposure is segmented).
    pub number: usize,
    pub total: usize,
    /// 0-based integration range [int0, int1) held by this file.
    pub int0: usize,
    pub int1: usize,
    /// Exposure basename of this file (without `_uncal.fits`).
    pub name: String,
}

impl Segment {
    pub fn file_name(&self) -> String {
        format!("{}_uncal.fits", self.name)
    }
}

/// The derived, validated description of the exposure to simulate.
#[derive(Debug, Clone)]
pub struct Plan {
    pub seed: u64,
    pub outdir: PathBuf,
    pub name: String,
    pub nints: usize,
    pub ngroups: usize,
    pub ny: usize,
    pub nx: usize,
    pub readpatt: ReadPatt,
    pub nframes: usize,
    pub groupgap: usize,
    pub frame_divisor: usize,
    pub noutputs: usize,
    pub subarray: String,
    /// 1-based full-frame corner of the subarray (SUBSTRT1 = column, SUBSTRT2 = row).
    pub xstart: usize,
    pub ystart: usize,
    pub exp_type: ExpType,
    pub filter: String,
    pub pupil: String,
    pub cr_rate: f64,
    pub gainfact: Option<f64>,
    pub tframe: f64,
    pub tgroup: f64,
    /// Frames spanned by one integration after its reset (reads and dropped frames).
    pub nframes_total: usize,
    pub segments: Vec<Segment>,
    pub full_frame_refs: bool,
    pub write_refs: bool,
    pub dark_extra_groups: usize,
    pub star_x: f64,
    pub star_y: f64,
    pub star_peak: f64,
    pub star_sigma: f64,
    pub transit_depth: f64,
}

impl Plan {
    pub fn from_args(a: &SimulateArgs) -> anyhow::Result<Plan> {
        anyhow::ensure!(a.ngroups >= 2, "--ngroups must be >= 2 (got {})", a.ngroups);
        anyhow::ensure!(a.nints >= 1, "--nints must be >= 1");
        anyhow::ensure!(
            (1..=FULL).contains(&a.ny) && (1..=FULL).contains(&a.nx),
            "--ny and --nx must be in 1..=2048 (got {} x {})",
            a.ny,
            a.nx
        );
        anyhow::ensure!(
            a.substrt1 >= 1 && a.substrt2 >= 1,
            "--substrt1/--substrt2 are 1-based"
        );
        anyhow::ensure!(
            a.substrt1 - 1 + a.nx <= FULL && a.substrt2 - 1 + a.ny <= FULL,
            "the subarray (corner {},{} size {}x{}) does not fit on the 2048x2048 detector",
            a.substrt1,
            a.substrt2,
            a.nx,
            a.ny
        );
        anyhow::ensure!(a.segments >= 1, "--segments must be >= 1");
        anyhow::ensure!(a.cr_rate >= 0.0, "--cr-rate must be >= 0");
        let imaging = a.exp_type.is_imaging();
        let (nframes, groupgap) = a.readpatt.frames_and_gap();
        let frame_divisor = a.frame_divisor.unwrap_or(nframes);
        anyhow::ensure!(frame_divisor >= 1, "--frame-divisor must be >= 1");
        let noutputs = a.noutputs.unwrap_or(if a.nx == FULL { 4 } else { 1 });
        anyhow::ensure!(noutputs == 1 || noutputs == 4, "--noutputs must be 1 or 4");
        anyhow::ensure!(noutputs == 1 || a.nx == FULL, "NOUTPUTS=4 needs --nx 2048");
        let subarray = subarray_name(a.ny, a.nx, imaging);
        let tframe = nircam_frame_time(a.ny, a.nx, noutputs);
        let tgroup = (nframes + groupgap) as f64 * tframe;
        let nframes_total = a.ngroups * nframes + (a.ngroups - 1) * groupgap;
        let segments = split_segments(&a.name, a.nints, a.segments);
        let pupil = a.pupil.clone().unwrap_or_else(|| {
            if a.exp_type == ExpType::NrcTsgrism {
                "GRISMR"
            } else {
                "CLEAR"
            }
            .to_string()
        });
        Ok(Plan {
            seed: a.seed,
            outdir: a.outdir.clone(),
            name: a.name.clone(),
            nints: a.nints,
            ngroups: a.ngroups,
            ny: a.ny,
            nx: a.nx,
            readpatt: a.readpatt,
            nframes,
            groupgap,
            frame_divisor,
            noutputs,
            subarray,
            xstart: a.substrt1,
            ystart: a.substrt2,
            exp_type: a.exp_type,
            filter: a.filter.clone(),
            pupil,
            cr_rate: a.cr_rate,
            gainfact: a.gainfact,
            tframe,
            tgroup,
            nframes_total,
            segments,
            full_frame_refs: a.full_frame_refs,
            write_refs: !a.no_refs,
            dark_extra_groups: a.dark_extra_groups,
            star_x: a.star_x.unwrap_or(a.nx as f64 / 2.0 - 0.5 + 0.3),
            star_y: a.star_y.unwrap_or(a.ny as f64 / 2.0 - 0.5 - 0.4),
            star_peak: a.star_peak,
            star_sigma: a.star_sigma,
            transit_depth: a.transit_depth,
        })
    }

    pub fn imaging(&self) -> bool {
        self.exp_type.is_imaging()
    }

    /// 1-based frame index (counted from the reset) of read `f` of group `g` (both 0-based).
    pub fn read_frame(&self, g: usize, f: usize) -> usize {
        g * (self.nframes + self.groupgap) + f + 1
    }

    /// Frames simulated to produce group `g`: from the one after the previous group's last read
    /// (so the dropped GROUPGAP frames in between are included) to this group's last read.
    pub fn group_frames(&self, g: usize) -> std::ops::RangeInclusive<usize> {
        let first = if g == 0 {
            1
        } else {
            self.read_frame(g - 1, self.nframes - 1) + 1
        };
        first..=self.read_frame(g, self.nframes - 1)
    }

    /// Is frame `fr` (1-based) read out, i.e. part of a group?
    pub fn is_read(&self, fr: usize) -> bool {
        let period = self.nframes + self.groupgap;
        (fr - 1) % period < self.nframes
    }

    /// Time between groups' first and last read: EFFINTTM.
    pub fn t_int_eff(&self) -> f64 {
        (self.ngroups - 1) as f64 * self.tgroup
    }

    /// Wall time of one integration including its reset frame.
    pub fn t_int_total(&self) -> f64 {
        self.nframes_total as f64 * self.tframe + self.tframe
    }

    /// Time of the last read after the reset: the scene is scaled to a fraction of the full
    /// well reached at this time.
    pub fn t_last(&self) -> f64 {
        self.nframes_total as f64 * self.tframe
    }

    /// MJD of the start, middle and end of integration `i` (0-based).
    pub fn int_times(&self, i: usize) -> (f64, f64, f64) {
        let start = T0_MJD + (self.tframe + i as f64 * self.t_int_total()) / 86400.0;
        let end = start + self.t_last() / 86400.0;
        (start, 0.5 * (start + end), end)
    }

    /// Transit light curve of the imaging star in integration `i`: a box of 40 % of the exposure
    /// span centred on its middle, with linear ingress/egress of 5 % each.
    pub fn lightcurve(&self, i: usize) -> f64 {
        let t = self.int_times(i).1;
        let t_first = self.int_times(0).1;
        let t_end = self.int_times(self.nints - 1).1;
        let span = if self.nints > 1 { t_end - t_first } else { 1.0 };
        let tc = 0.5 * (t_first + t_end);
        let (half, ingress) = (0.2 * span, 0.05 * span);
        let x = ((half - (t - tc).abs()) / ingress.max(1e-30)).clamp(0.0, 1.0);
        1.0 - self.transit_depth * x
    }
}

/// NIRCam frame time: (columns per output + 12) x (rows + 1) x 10 us. FULL with 4 outputs gives
/// 10.73676 s.
pub fn nircam_frame_time(ny: usize, nx: usize, noutputs: usize) -> f64 {
    (nx / noutputs + 12) as f64 * (ny + 1) as f64 * 10.0e-6
}

/// SUBARRAY name: FULL, the grism TSO SUBGRISM64/128/256, the point-source imaging
/// SUB64P/SUB160P/SUB400P, otherwise GENERIC.
pub fn subarray_name(ny: usize, nx: usize, imaging: bool) -> String {
    if ny == FULL && nx == FULL {
        "FULL".into()
    } else if nx == FULL && [64, 128, 256].contains(&ny) && !imaging {
        format!("SUBGRISM{ny}")
    } else if imaging && ny == nx && [64, 160, 400].contains(&ny) {
        format!("SUB{ny}P")
    } else {
        "GENERIC".into()
    }
}

/// Split `nints` integrations into at most `nseg` files of ceil(nints/nseg) integrations, named
/// `<prefix>-segNNN_<detector>` as DMS does (`EXSEGTOT` is the number of files actually made).
pub fn split_segments(name: &str, nints: usize, nseg: usize) -> Vec<Segment> {
    if nseg <= 1 {
        return vec![Segment {
            number: 1,
            total: 1,
            int0: 0,
            int1: nints,
            name: name.to_string(),
        }];
    }
    let per = nints.div_ceil(nseg);
    let total = nints.div_ceil(per);
    let (head, tail) = match name.rfind("_nrc") {
        Some(p) => (&name[..p], &name[p..]),
        None => (name, ""),
    };
    (0..total)
        .map(|k| Segment {
            number: k + 1,
            total,
            int0: k * per,
            int1: ((k + 1) * per).min(nints),
            name: format!("{head}-seg{:03}{tail}", k + 1),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_times() {
        assert_eq!(subarray_name(2048, 2048, false), "FULL");
        assert_eq!(subarray_name(256, 2048, false), "SUBGRISM256");
        assert_eq!(subarray_name(64, 64, true), "SUB64P");
        assert_eq!(subarray_name(64, 64, false), "GENERIC");
        assert!((nircam_frame_time(2048, 2048, 4) - 10.73676).abs() < 1e-9);
        assert!((nircam_frame_time(32, 32, 1) - 0.01452).abs() < 1e-12);
        let s = split_segments("jw01234001001_01101_00001_nrcalong", 3, 2);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].int0, s[0].int1, s[1].int0, s[1].int1), (0, 2, 2, 3));
        assert_eq!(s[1].name, "jw01234001001_01101_00001-seg002_nrcalong");
    }
}
