//! detector1 -> image2 -> tso3 in one process, over any [`PlaneSource`].
//!
//! [`run_chain`] takes the integration planes of one exposure (or segment) from any source and
//! pushes each through image2 (flat_field, photom; written to `_calints`) into the tso3 stages
//! (outlier window -> `_crfints`, photometry or white light), with no intermediate file read
//! back. `sloper run` feeds it from the `_rateints` Detector1 has just written: the exact
//! Detector1 finishes every integration only at the end of its band passes (the jump step and
//! the Poisson variance need the whole exposure per pixel), so the planes flow after it. The
//! online driver (`pipeline::online`) can instead hand over a [`stream::plane::PlaneFeed`] fed
//! as each integration is fitted; the chain does not care which.

use super::image2::{Image2, Image2Settings, Image2Sink};
use super::outlier::RefetchSlot;
use super::source::{ProductInfo, RateProduct};
use super::tso3::{refetch_from, run_member, MemberPlan, MemberReport, Tso3Settings};
use std::path::{Path, PathBuf};
use stream::plane::{drain, PlaneSink, PlaneSource};

/// What to run on one member and where to write it.
pub struct ChainPlan<'a> {
    pub image2: Option<&'a Image2Settings>,
    pub tso3: Option<&'a Tso3Settings>,
    /// Keywords of the rate product the planes come from (meta, BUNIT, XREF/YREF, SIAF...).
    pub info: &'a ProductInfo,
    /// File whose primary/SCI headers and INT_TIMES the products copy (the `_rateints`, or the
    /// raw exposure when no rate product exists on disk).
    pub header_input: &'a Path,
    pub calints_path: PathBuf,
    pub crf_path: PathBuf,
    /// The member's own file, if the photometry may need to read it again (no outlier step).
    pub input_file: Option<PathBuf>,
}

/// What one chained member produced.
#[derive(Debug, Clone, Default)]
pub struct ChainReport {
    pub calints: Option<PathBuf>,
    pub tso3: Option<MemberReport>,
}

/// Run image2 and/or tso3 on every plane of `source`.
pub fn run_chain(plan: &ChainPlan, source: &mut dyn PlaneSource) -> anyhow::Result<ChainReport> {
    let g = source.geometry();
    let image2 = match plan.image2 {
        Some(s) => Some(Image2::prepare(s, plan.info, plan.header_input)?),
        None => None,
    };
    if let (Some(i), Some(s)) = (&image2, plan.image2) {
        if !s.quiet {
            i.report_skips();
        }
    }
    // What the tso3 stages see after image2: its units and photometric keywords.
    let mut info = plan.info.clone();
    let mut crf_header = frames::write::ProductHeader {
        input: plan.header_input.to_path_buf(),
        ..Default::default()
    };
    let mut area = None;
    if let Some(i) = &image2 {
        let b = i.bunit().to_string();
        info.bunit_data = Some(b.clone());
        info.bunit_err = Some(b);
        if let Some(p) = &i.photom {
            info.pixar_sr = p.pixar_sr.or(info.pixar_sr);
            info.pixar_a2 = p.pixar_a2.or(info.pixar_a2);
            area = p.area.clone();
        }
        crf_header = i.header.clone();
    }
    let mut report = ChainReport::default();
    let mut calints = None;
    // The outlier window reads the planes it waits on back from the _calints being written
    // (or, without image2, from the input file) instead of holding them.
    let refetch = RefetchSlot::default();
    if image2.is_none() {
        if let Some(f) = &plan.input_file {
            let product = std::sync::Arc::new(RateProduct::open(f)?);
            if product.nplanes() == g.nints && product.shape() == (g.ny, g.nx) {
                refetch.set(refetch_from(product));
            }
        }
    }
    let mut feed = |sink: Option<&mut dyn PlaneSink>,
                    calints: &mut Option<PathBuf>|
     -> Result<(), stream::plane::PlaneError> {
        match image2.clone() {
            Some(i) => {
                let mut im =
                    Image2Sink::create(i, &plan.calints_path, true, g.nints, g.ny, g.nx, sink)
                        .map_err(|e| stream::plane::PlaneError::Sink(format!("{e:#}")))?;
                if let Some(f) = im.refetch() {
                    refetch.set(f);
                }
                drain(source, &mut im)?;
                *calints = im.output().map(Path::to_path_buf);
                Ok(())
            }
            None => match sink {
                Some(s) => drain(source, s).map(|_| ()),
                None => Ok(()),
            },
        }
    };
    match plan.tso3 {
        Some(t) => {
            let member = MemberPlan {
                settings: t,
                info: &info,
                crf_header,
                crf_path: plan.crf_path.clone(),
                input_file: plan.input_file.clone(),
                bunit: info.bunit_data.clone().unwrap_or_else(|| "DN/s".into()),
                area,
                nints: g.nints,
                ny: g.ny,
                nx: g.nx,
                refetch: refetch.clone(),
            };
            let r = run_member(&member, |sink| feed(Some(sink), &mut calints))?;
            report.tso3 = Some(r);
        }
        None => feed(None, &mut calints).map_err(|e| anyhow::anyhow!("image2: {e}"))?,
    }
    report.calints = calints;
    Ok(report)
}
