//! JWST file names and segmented exposures.
//!
//! DMS splits large exposures into segment files
//! `jw<ppppp><ooo><vvv>_<gg><s><aa>_<eeeee>-seg<NNN>_<detector>_<suffix>.fits`, each holding
//! integrations `INTSTART..=INTEND` of the exposure (NINTS counts the whole exposure). The
//! official pipeline processes each segment file on its own; [`LogicalExposure`] lets a
//! driver do that (open one file) or see the whole exposure (open every segment), mapping
//! exposure-wide integration indices to (segment file, local integration).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::{FramesError, Result};
use crate::meta::ExposureMeta;
use crate::raw::RawExposure;
use crate::tables::IntTimes;

/// A parsed JWST exposure file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileName {
    /// `ppppp`: program (5 digits).
    pub program: String,
    /// `ooo`: observation (3 digits).
    pub observation: String,
    /// `vvv`: visit (3 digits).
    pub visit: String,
    /// `gg`: visit group (2 digits).
    pub visit_group: String,
    /// `s`: parallel sequence id (1 digit).
    pub parallel_seq: String,
    /// `aa`: activity (2 base-36 characters).
    pub activity: String,
    /// `eeeee`: exposure number (5 digits).
    pub exposure: String,
    /// `NNN` of `-segNNN`, when the file is a segment.
    pub segment: Option<u32>,
    /// Detector, lower case as written (`nrcalong`, `nis`, `nrs1`, `mirimage`).
    pub detector: String,
    /// Product suffix without `.fits` (`uncal`, `ramp`, `rate`, `rateints`, ...).
    pub suffix: String,
}

fn all_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

fn all_alnum(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl FileName {
    /// Parses a file name (not a path). `None` when it does not follow the JWST pattern.
    pub fn parse(name: &str) -> Option<FileName> {
        let stem = name.strip_suffix(".fits")?;
        let mut parts = stem.splitn(5, '_');
        let id = parts.next()?;
        let vg = parts.next()?;
        let exp_seg = parts.next()?;
        let detector = parts.next()?;
        let suffix = parts.next()?;
        let id = id.strip_prefix("jw")?;
        if !all_digits(id, 11) || vg.len() != 5 {
            return None;
        }
        let (visit_group, parallel_seq, activity) = (&vg[0..2], &vg[2..3], &vg[3..5]);
        if !all_digits(visit_group, 2) || !all_digits(parallel_seq, 1) || !all_alnum(activity, 2) {
            return None;
        }
        let (exposure, segment) = match exp_seg.split_once("-seg") {
            Some((e, s)) if all_digits(s, 3) => (e, Some(s.parse().ok()?)),
            Some(_) => return None,
            None => (exp_seg, None),
        };
        if !all_digits(exposure, 5)
            || detector.is_empty()
            || !detector.bytes().all(|b| b.is_ascii_alphanumeric())
            || suffix.is_empty()
        {
            return None;
        }
        Some(FileName {
            program: id[0..5].to_string(),
            observation: id[5..8].to_string(),
            visit: id[8..11].to_string(),
            visit_group: visit_group.to_string(),
            parallel_seq: parallel_seq.to_string(),
            activity: activity.to_string(),
            exposure: exposure.to_string(),
            segment,
            detector: detector.to_string(),
            suffix: suffix.to_string(),
        })
    }

    /// Parses the file-name part of `path`.
    pub fn from_path(path: &Path) -> Option<FileName> {
        FileName::parse(path.file_name()?.to_str()?)
    }

    /// `jw01234001001_01101_00001` (no segment, detector or suffix).
    pub fn exposure_id(&self) -> String {
        format!(
            "jw{}{}{}_{}{}{}_{}",
            self.program,
            self.observation,
            self.visit,
            self.visit_group,
            self.parallel_seq,
            self.activity,
            self.exposure
        )
    }

    /// Product base name as the pipeline writes it: `jw..._00001[-segNNN]_nrcalong`. Products
    /// of a segment file keep its `-segNNN`.
    pub fn base(&self) -> String {
        match self.segment {
            Some(s) => format!("{}-seg{s:03}_{}", self.exposure_id(), self.detector),
            None => format!("{}_{}", self.exposure_id(), self.detector),
        }
    }

    /// The same name with another suffix (`uncal` -> `rateints`).
    pub fn with_suffix(&self, suffix: &str) -> FileName {
        FileName {
            suffix: suffix.to_string(),
            ..self.clone()
        }
    }

    /// The same name with another (or no) segment number.
    pub fn with_segment(&self, segment: Option<u32>) -> FileName {
        FileName {
            segment,
            ..self.clone()
        }
    }

    /// Whether `other` names a file of the same exposure, detector and suffix (any segment).
    pub fn same_exposure(&self, other: &FileName) -> bool {
        self.with_segment(None) == other.with_segment(None)
    }
}

impl fmt::Display for FileName {
    /// The full file name, `<base>_<suffix>.fits`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}.fits", self.base(), self.suffix)
    }
}

/// The segment files of the exposure `path` belongs to, sorted by segment number: every file
/// in the same directory whose name differs from `path`'s only by `-segNNN`. A file that is
/// not a segment (or whose name is not a JWST name) gives just itself.
pub fn find_segments(path: &Path) -> Result<Vec<PathBuf>> {
    let Some(name) = FileName::from_path(path) else {
        return Ok(vec![path.to_path_buf()]);
    };
    if name.segment.is_none() {
        return Ok(vec![path.to_path_buf()]);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let entries = std::fs::read_dir(&dir).map_err(|e| FramesError::io(&dir, e))?;
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| FramesError::io(&dir, e))?;
        let p = entry.path();
        if let Some(other) = FileName::from_path(&p) {
            if let (true, Some(seg)) = (name.same_exposure(&other), other.segment) {
                found.push((seg, p));
            }
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// One exposure seen through one or more segment files, with exposure-wide integration
/// indices. Indices are 0-based: global index `k` is integration number `k + 1` of the
/// exposure (the numbering of INTSTART/INTEND and of `INT_TIMES.integration_number`).
#[derive(Debug)]
pub struct LogicalExposure {
    segments: Vec<RawExposure>,
    /// Global 0-based index of each segment's first integration.
    starts: Vec<usize>,
}

impl LogicalExposure {
    /// Just this file (a whole exposure, or one segment of one).
    pub fn open(path: impl AsRef<Path>) -> Result<LogicalExposure> {
        LogicalExposure::from_files(&[path.as_ref().to_path_buf()])
    }

    /// Every segment of the exposure `path` belongs to (see [`find_segments`]); they must
    /// cover integrations 1..=NINTS without gaps.
    pub fn open_all(path: impl AsRef<Path>) -> Result<LogicalExposure> {
        let files = find_segments(path.as_ref())?;
        let exp = LogicalExposure::from_files(&files)?;
        let first = exp.segments[0].meta();
        let covered = exp.int_range();
        if covered != (0..first.nints) {
            return Err(FramesError::invalid(
                exp.segments[0].path(),
                format!(
                    "the {} segment file(s) found hold integrations {}..={} but NINTS = {}: \
                     segment files are missing",
                    files.len(),
                    covered.start + 1,
                    covered.end,
                    first.nints
                ),
            ));
        }
        if let Some(tot) = first.exseg_tot {
            if tot != files.len() {
                return Err(FramesError::invalid(
                    exp.segments[0].path(),
                    format!(
                        "EXSEGTOT = {tot} but {} segment files were found",
                        files.len()
                    ),
                ));
            }
        }
        Ok(exp)
    }

    /// These files, in order of INTSTART; they must belong to one exposure and hold
    /// consecutive integrations.
    pub fn from_files(paths: &[PathBuf]) -> Result<LogicalExposure> {
        if paths.is_empty() {
            return Err(FramesError::invalid(
                PathBuf::new(),
                "no exposure files given",
            ));
        }
        let mut segments = paths
            .iter()
            .map(RawExposure::open)
            .collect::<Result<Vec<_>>>()?;
        segments.sort_by_key(|s| s.meta().int_start);
        let first = segments[0].meta().clone();
        let mut starts = Vec::with_capacity(segments.len());
        let mut next = first.int_start;
        for seg in &segments {
            let m = seg.meta();
            check_same(seg.path(), &first, m)?;
            if m.int_start != next {
                return Err(FramesError::invalid(
                    seg.path(),
                    format!(
                        "INTSTART = {} but the previous segment ended at integration {}: \
                         segments must be contiguous",
                        m.int_start,
                        next - 1
                    ),
                ));
            }
            starts.push(m.int_start - 1);
            next = m.int_end + 1;
        }
        Ok(LogicalExposure { segments, starts })
    }

    /// Metadata of the first file (exposure-wide keywords agree across segments).
    pub fn meta(&self) -> &ExposureMeta {
        self.segments[0].meta()
    }
    /// The files, in integration order.
    pub fn segments(&self) -> &[RawExposure] {
        &self.segments
    }
    /// Integrations held by the opened files.
    pub fn nints(&self) -> usize {
        self.segments.iter().map(RawExposure::nints).sum()
    }
    /// Global 0-based indices of the integrations held (`INTSTART-1 .. INTEND` overall).
    pub fn int_range(&self) -> Range<usize> {
        let last = self.segments.len() - 1;
        self.starts[0]..self.starts[last] + self.segments[last].nints()
    }
    pub fn ngroups(&self) -> usize {
        self.segments[0].ngroups()
    }
    pub fn ny(&self) -> usize {
        self.segments[0].ny()
    }
    pub fn nx(&self) -> usize {
        self.segments[0].nx()
    }

    /// (segment index, local integration) of global 0-based integration `int`.
    pub fn locate(&self, int: usize) -> Result<(usize, usize)> {
        let range = self.int_range();
        if !range.contains(&int) {
            return Err(FramesError::invalid(
                self.segments[0].path(),
                format!(
                    "integration index {int} (number {}) is not in the opened file(s), which hold \
                     numbers {}..={}",
                    int + 1,
                    range.start + 1,
                    range.end
                ),
            ));
        }
        let seg = self.starts.partition_point(|&s| s <= int) - 1;
        Ok((seg, int - self.starts[seg]))
    }

    /// The file holding global integration `int` and its local index there.
    pub fn segment_of(&self, int: usize) -> Result<(&RawExposure, usize)> {
        let (s, local) = self.locate(int)?;
        Ok((&self.segments[s], local))
    }

    /// Decodes rows `y0..y1` of (global integration `int`, `group`).
    pub fn read_band_u16(
        &self,
        int: usize,
        group: usize,
        y0: usize,
        y1: usize,
        out: &mut [u16],
    ) -> Result<()> {
        let (seg, local) = self.segment_of(int)?;
        seg.read_band_u16(local, group, y0, y1, out)
    }

    /// As [`read_band_u16`](Self::read_band_u16), as f32.
    pub fn read_band_f32(
        &self,
        int: usize,
        group: usize,
        y0: usize,
        y1: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let (seg, local) = self.segment_of(int)?;
        seg.read_band_f32(local, group, y0, y1, out)
    }

    /// The INT_TIMES rows of all opened files, concatenated; `None` if any file lacks the table.
    pub fn int_times(&self) -> Option<IntTimes> {
        let mut rows = Vec::new();
        for s in &self.segments {
            rows.extend_from_slice(&s.int_times()?.rows);
        }
        Some(IntTimes { rows })
    }

    /// Errors if any file shrank since it was opened.
    pub fn check_unchanged(&self) -> Result<()> {
        self.segments
            .iter()
            .try_for_each(RawExposure::check_unchanged)
    }
}

/// Segments of one exposure must agree on everything but their integration range.
fn check_same(path: &Path, a: &ExposureMeta, b: &ExposureMeta) -> Result<()> {
    let pairs: [(&str, String, String); 12] = [
        ("INSTRUME", a.instrument.clone(), b.instrument.clone()),
        ("DETECTOR", a.detector.clone(), b.detector.clone()),
        ("EXP_TYPE", a.exp_type.clone(), b.exp_type.clone()),
        ("READPATT", a.readpatt.clone(), b.readpatt.clone()),
        ("NINTS", a.nints.to_string(), b.nints.to_string()),
        ("NGROUPS", a.ngroups.to_string(), b.ngroups.to_string()),
        ("NFRAMES", a.nframes.to_string(), b.nframes.to_string()),
        ("GROUPGAP", a.groupgap.to_string(), b.groupgap.to_string()),
        ("SUBARRAY", a.subarray.clone(), b.subarray.clone()),
        (
            "SUBSTRT1/SUBSTRT2/SUBSIZE1/SUBSIZE2",
            format!(
                "{}/{}/{}/{}",
                a.substrt1, a.substrt2, a.subsize1, a.subsize2
            ),
            format!(
                "{}/{}/{}/{}",
                b.substrt1, b.substrt2, b.subsize1, b.subsize2
            ),
        ),
        ("TGROUP", a.tgroup.to_string(), b.tgroup.to_string()),
        ("TFRAME", a.tframe.to_string(), b.tframe.to_string()),
    ];
    for (key, va, vb) in pairs {
        if va != vb {
            return Err(FramesError::invalid(
                path,
                format!(
                    "{key} = {vb} differs from the first segment's {va}: not the same exposure"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_segment_names() {
        let f = FileName::parse("jw01234001001_01101_00001_nrcalong_uncal.fits").unwrap();
        assert_eq!(f.program, "01234");
        assert_eq!(f.observation, "001");
        assert_eq!(f.visit, "001");
        assert_eq!(
            (
                f.visit_group.as_str(),
                f.parallel_seq.as_str(),
                f.activity.as_str()
            ),
            ("01", "1", "01")
        );
        assert_eq!(f.exposure, "00001");
        assert_eq!(f.segment, None);
        assert_eq!(f.detector, "nrcalong");
        assert_eq!(f.suffix, "uncal");
        assert_eq!(f.base(), "jw01234001001_01101_00001_nrcalong");
        assert_eq!(
            f.to_string(),
            "jw01234001001_01101_00001_nrcalong_uncal.fits"
        );

        let s = FileName::parse("jw02734002001_04101_00001-seg012_nis_rateints.fits").unwrap();
        assert_eq!(s.segment, Some(12));
        assert_eq!(s.detector, "nis");
        assert_eq!(s.suffix, "rateints");
        assert_eq!(s.base(), "jw02734002001_04101_00001-seg012_nis");
        assert_eq!(
            s.with_suffix("uncal").to_string(),
            "jw02734002001_04101_00001-seg012_nis_uncal.fits"
        );
        assert_eq!(s.with_segment(None).base(), "jw02734002001_04101_00001_nis");
        assert!(s.same_exposure(&s.with_segment(Some(1))));
        assert!(!s.same_exposure(&s.with_suffix("rate")));
        // Activity is base 36.
        assert!(FileName::parse("jw01234001001_0a101_00001_nrs1_cal.fits").is_none());
        assert_eq!(
            FileName::parse("jw01234001001_0111a_00001_nrs1_cal.fits")
                .unwrap()
                .activity,
            "1a"
        );
    }

    #[test]
    fn rejects_other_names() {
        for bad in [
            "ref_gain.fits",
            "jw01234001001_01101_00001_nrcalong_uncal.fit",
            "jw0123400100_01101_00001_nrcalong_uncal.fits",
            "jw01234001001_01101_00001-seg1_nrcalong_uncal.fits",
            "jw01234001001_01101_0001_nrcalong_uncal.fits",
            "jw01234001001_01101_00001_nrcalong.fits",
            "xx01234001001_01101_00001_nrcalong_uncal.fits",
        ] {
            assert!(FileName::parse(bad).is_none(), "{bad}");
        }
    }
}
