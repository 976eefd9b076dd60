//! [`RefpixPlan`]: the per-exposure decisions (path, usable reference pixels in numpy's order,
//! rows to read) and the per-group summary computation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use frames::{dq, ExposureMeta, FramesError};

use super::clipmean::{clipmean, Sample};
use super::geometry::{DetectorDq, Embedding, Orientation, AMP_WIDTH, BORDER, FULL};
use super::side::{combine, running_median, SideWindow, SIDE_WIDTH};
use super::{
    Frame, GroupCorrection, Precision, RefSignal, RefValue, RefpixAlgorithm, RefpixMode,
    RefpixParams, RefpixStatus, RowSource,
};

/// NIRSpec subarrays that reach no detector edge; the official step makes their first and last
/// four DMS columns reference pixels.
const NRS_EDGELESS_SUBARRAYS: [&str; 3] = ["SUB512", "SUB512S", "SUB32"];

const TOP: usize = 0;
const BOTTOM: usize = 1;
/// Detector rows of the top and bottom reference rows.
const EDGE_ROWS: [std::ops::Range<usize>; 2] = [FULL - BORDER..FULL, 0..BORDER];
/// First detector column of the left and right side blocks, and the amplifier each belongs to.
const SIDE_BLOCKS: [(usize, usize); 2] = [(0, 0), (FULL - BORDER, 3)];
/// Marks a side-block cell that holds no usable pixel.
const NO_SLOT: u32 = u32::MAX;

/// One DMS row the summary needs, with the (column, slot) pairs to copy out of it.
#[derive(Debug, Clone)]
struct RowRead {
    y: usize,
    taps: Vec<(u32, u32)>,
}

/// Assigns each needed subarray pixel a slot in the per-group value buffer (a pixel used twice,
/// e.g. a corner pixel in both a reference row and a side column, is read once).
#[derive(Default)]
struct SlotTable {
    slots: HashMap<(usize, usize), u32>,
}

impl SlotTable {
    fn slot(&mut self, y: usize, x: usize) -> u32 {
        let next = self.slots.len() as u32;
        *self.slots.entry((y, x)).or_insert(next)
    }

    fn into_reads(self) -> (Vec<RowRead>, usize) {
        let nslots = self.slots.len();
        let mut taps: Vec<(usize, usize, u32)> = self
            .slots
            .into_iter()
            .map(|((y, x), s)| (y, x, s))
            .collect();
        taps.sort_unstable();
        let mut reads: Vec<RowRead> = Vec::new();
        for (y, x, s) in taps {
            match reads.last_mut() {
                Some(r) if r.y == y => r.taps.push((x as u32, s)),
                _ => reads.push(RowRead {
                    y,
                    taps: vec![(x as u32, s)],
                }),
            }
        }
        (reads, nslots)
    }
}

/// The 4-amplifier layout: usable top/bottom reference pixels per amplifier, edge and column
/// parity in detector row-major order, and the side blocks.
#[derive(Debug, Clone)]
struct FourAmp {
    odd_even_columns: bool,
    /// `sections[amp][edge][parity]`: slots; parity = detector column % 2 (only 0 is used
    /// without `odd_even_columns`, holding the whole 4×512 block).
    sections: [[[Vec<u32>; 2]; 2]; 4],
    side: Option<SideLayout>,
}

#[derive(Debug, Clone)]
struct SideLayout {
    /// `cells[block][row * 4 + k]`: slot of detector (row, block column k), or `NO_SLOT`.
    cells: [Vec<u32>; 2],
    /// Running-median window.
    window: SideWindow,
    /// Detector row of each subarray line (row for |FASTAXIS| = 1, column for 2).
    line_rows: Vec<usize>,
}

/// The 1-amplifier layout: usable reference pixels in detector row-major order, split by
/// detector column parity (`sets[0]` even index, `sets[1]` odd) or all in `sets[0]`.
#[derive(Debug, Clone)]
struct OneAmp {
    odd_even_columns: bool,
    sets: Vec<Vec<u32>>,
}

#[derive(Debug, Clone)]
enum Layout {
    Skipped(String),
    OneAmpNoRefs,
    FourAmp(Box<FourAmp>),
    OneAmp(OneAmp),
}

/// Per-exposure refpix plan; see the module documentation for how a driver uses it.
#[derive(Debug, Clone)]
pub struct RefpixPlan {
    path: PathBuf,
    embedding: Embedding,
    layout: Layout,
    siglimit: f64,
    side_gain: f64,
    reads: Vec<RowRead>,
    rows_needed: Vec<usize>,
    nslots: usize,
    /// Detector column of each subarray column (|FASTAXIS| = 1) or row (|FASTAXIS| = 2): the
    /// coordinate that decides amplifier and column parity.
    amp_axis: Vec<usize>,
}

impl RefpixPlan {
    /// Decide how the official step treats this exposure and prepare the reference-pixel sets.
    ///
    /// `pixeldq` is the exposure's PIXELDQ (SUBSIZE2 × SUBSIZE1, DMS order) as it stands when
    /// refpix runs; `path` names the exposure in error messages. Errors: malformed metadata,
    /// and the configurations this port does not implement (IRS2, SIRS kernels on full frames,
    /// MIRI full frames) or in which the official step itself fails.
    pub fn new(
        path: &Path,
        meta: &ExposureMeta,
        pixeldq: &[u32],
        params: &RefpixParams,
    ) -> Result<RefpixPlan, FramesError> {
        let bad = |problem: String| FramesError::invalid(path, format!("refpix: {problem}"));
        let (nrows, ncols) = (meta.subsize2, meta.subsize1);
        if nrows == 0 || ncols == 0 {
            return Err(bad(format!(
                "empty frame (SUBSIZE1={ncols}, SUBSIZE2={nrows})"
            )));
        }
        if pixeldq.len() != nrows * ncols {
            return Err(bad(format!(
                "PIXELDQ has {} values, expected SUBSIZE2×SUBSIZE1 = {nrows}×{ncols}",
                pixeldq.len()
            )));
        }
        let orientation = Orientation::new(meta.fastaxis, meta.slowaxis).ok_or_else(|| {
            bad(format!(
                "FASTAXIS={} / SLOWAXIS={} must each be ±1 or ±2",
                meta.fastaxis, meta.slowaxis
            ))
        })?;

        let skipped = |reason: &str, embedding: Embedding| RefpixPlan {
            path: path.to_path_buf(),
            embedding,
            layout: Layout::Skipped(reason.to_string()),
            siglimit: params.siglimit,
            side_gain: params.side_gain,
            reads: Vec::new(),
            rows_needed: Vec::new(),
            nslots: 0,
            amp_axis: Vec::new(),
        };
        let placeholder = Embedding {
            row0: 0,
            col0: 0,
            nrows,
            ncols,
            orientation,
        };

        if meta.instrument == "MIRI" || meta.detector.starts_with("MIR") {
            let miri_subarray = ncols < 1032 || nrows < 1024;
            if meta.instrument.eq_ignore_ascii_case("MIRI") && miri_subarray {
                return Ok(skipped(
                    "Refpix correction skipped for MIRI subarrays",
                    placeholder,
                ));
            }
            return Err(bad(
                "MIRI reference-pixel correction is not implemented".into()
            ));
        }
        if nrows > FULL || ncols > FULL {
            return Err(bad(format!(
                "{nrows}×{ncols} frames are IRS2 data; the IRS2 correction is not implemented"
            )));
        }
        let is_subarray = nrows < FULL || ncols < FULL;
        if params.refpix_algorithm == RefpixAlgorithm::Sirs && meta.subarray.contains("FULL") {
            // For subarrays the official step ignores 'sirs' and runs the running median.
            return Err(bad(
                "refpix_algorithm='sirs' (SIRS convolution kernel) is not implemented".into(),
            ));
        }

        let embedding = if is_subarray {
            let fits = meta.substrt1 >= 1
                && meta.substrt2 >= 1
                && meta.substrt1 - 1 + ncols <= FULL
                && meta.substrt2 - 1 + nrows <= FULL;
            if !fits {
                return Ok(skipped(
                    "Subarray doesn't fit in full-sized array",
                    placeholder,
                ));
            }
            Embedding {
                row0: meta.substrt2 - 1,
                col0: meta.substrt1 - 1,
                nrows,
                ncols,
                orientation,
            }
        } else {
            placeholder
        };
        let detector_dq = DetectorDq {
            embedding,
            pixeldq,
            edgeless: is_subarray && NRS_EDGELESS_SUBARRAYS.contains(&meta.subarray.as_str()),
        };

        let mut slots = SlotTable::default();
        let layout = if !is_subarray || meta.noutputs == 4 {
            Layout::FourAmp(Box::new(
                build_four_amp(&detector_dq, params, &mut slots).map_err(bad)?,
            ))
        } else {
            build_one_amp(&detector_dq, params.odd_even_columns, &mut slots).map_err(bad)?
        };
        let (reads, nslots) = slots.into_reads();
        let rows_needed = reads.iter().map(|r| r.y).collect();
        let amp_axis = if orientation.transposed() {
            (0..nrows).map(|y| embedding.to_detector(y, 0).1).collect()
        } else {
            (0..ncols).map(|x| embedding.to_detector(0, x).1).collect()
        };
        Ok(RefpixPlan {
            path: path.to_path_buf(),
            embedding,
            layout,
            siglimit: params.siglimit,
            side_gain: params.side_gain,
            reads,
            rows_needed,
            nslots,
            amp_axis,
        })
    }

    /// The path the official step takes for this exposure.
    pub fn mode(&self) -> RefpixMode {
        match self.layout {
            Layout::Skipped(_) => RefpixMode::Skipped,
            Layout::OneAmpNoRefs => RefpixMode::OneAmpNoReferencePixels,
            Layout::FourAmp(_) => RefpixMode::FourAmp,
            Layout::OneAmp(_) => RefpixMode::OneAmp,
        }
    }

    /// `meta.cal_step.refpix` as the official step sets it.
    pub fn status(&self) -> RefpixStatus {
        match &self.layout {
            Layout::Skipped(reason) => RefpixStatus::Skipped(reason.clone()),
            _ => RefpixStatus::Complete,
        }
    }

    /// DMS rows (0-based, ascending) that [`Self::summarize`] reads from each frame.
    pub fn rows_needed(&self) -> &[usize] {
        &self.rows_needed
    }

    /// Frame shape (rows, columns) the plan was made for.
    pub fn frame_shape(&self) -> (usize, usize) {
        (self.embedding.nrows, self.embedding.ncols)
    }

    pub(super) fn embedding(&self) -> &Embedding {
        &self.embedding
    }
    pub(super) fn amp_axis(&self) -> &[usize] {
        &self.amp_axis
    }
    pub(super) fn side_gain(&self) -> f64 {
        self.side_gain
    }
    pub(super) fn changes_data(&self) -> bool {
        !matches!(self.layout, Layout::Skipped(_))
    }

    /// The arithmetic the official step uses for `frame` (see [`Precision`]).
    pub fn precision(&self, frame: Frame) -> Precision {
        match &self.layout {
            Layout::FourAmp(l) if l.side.is_some() => {
                if frame
                    == (Frame::Group {
                        integration: 0,
                        group: 0,
                    })
                {
                    Precision::Float32
                } else {
                    Precision::Float64
                }
            }
            _ => Precision::Float32,
        }
    }

    /// Compute the correction of one group (or ZEROFRAME) from its reference pixels, reading
    /// exactly the rows of [`Self::rows_needed`] in ascending order.
    pub fn summarize<S: RowSource + ?Sized>(
        &self,
        frame: Frame,
        source: &mut S,
    ) -> Result<GroupCorrection, FramesError> {
        let precision = self.precision(frame);
        let mut correction = GroupCorrection {
            frame,
            precision,
            signals: Vec::new(),
            offsets: [[0.0; 2]; 4],
            side: Vec::new(),
        };
        let mut values = vec![0f32; self.nslots];
        let mut row = vec![0f32; self.embedding.ncols];
        for read in &self.reads {
            source.read_taps(read.y, &read.taps, &mut row, &mut values)?;
        }
        match &self.layout {
            Layout::Skipped(_) | Layout::OneAmpNoRefs => {}
            Layout::OneAmp(l) => self.summarize_one_amp(l, &values, &mut correction),
            Layout::FourAmp(l) => match precision {
                Precision::Float32 => self.summarize_four_amp::<f32>(l, &values, &mut correction),
                Precision::Float64 => self.summarize_four_amp::<f64>(l, &values, &mut correction),
            },
        }
        Ok(correction)
    }

    /// Correct a whole frame held in memory: [`Self::summarize`] then [`Self::apply_band`].
    pub fn correct_frame(
        &self,
        frame: Frame,
        data: &mut [f32],
    ) -> Result<GroupCorrection, FramesError> {
        let (nrows, ncols) = self.frame_shape();
        if data.len() != nrows * ncols {
            return Err(FramesError::invalid(
                &self.path,
                format!(
                    "refpix: frame has {} values, expected {nrows}×{ncols}",
                    data.len()
                ),
            ));
        }
        let correction = self.summarize(frame, &mut super::FrameRows { data, ncols })?;
        self.apply_band(&correction, 0, data);
        Ok(correction)
    }

    fn summarize_one_amp(&self, l: &OneAmp, values: &[f32], out: &mut GroupCorrection) {
        // This path never runs a side correction, so the group buffer stays float32.
        let mut scratch = Vec::new();
        let mut clip = |set: &[u32]| {
            let mut v: Vec<f32> = set.iter().map(|&s| values[s as usize]).collect();
            clipmean(&mut v, self.siglimit, &mut scratch)
        };
        if l.odd_even_columns {
            let even_index = clip(&l.sets[0]);
            let odd_index = clip(&l.sets[1]);
            // Both sets are non-empty lists of usable pixels (checked in `new`), so both exist.
            let e = even_index.map_or(f64::NAN, RefValue::value);
            let o = odd_index.map_or(f64::NAN, RefValue::value);
            out.offsets = [[e, o]; 4];
            out.signals = vec![RefSignal::Split {
                even_index,
                odd_index,
            }];
        } else {
            let all = clip(&l.sets[0]);
            let a = all.map_or(f64::NAN, RefValue::value);
            out.offsets = [[a, a]; 4];
            out.signals = vec![RefSignal::Single(all)];
        }
    }

    fn summarize_four_amp<T: Sample>(
        &self,
        l: &FourAmp,
        values: &[f32],
        out: &mut GroupCorrection,
    ) {
        let mut scratch = Vec::new();
        let mut clip = |set: &[u32]| {
            let mut v: Vec<T> = set
                .iter()
                .map(|&s| T::from_f64(values[s as usize] as f64))
                .collect();
            clipmean(&mut v, self.siglimit, &mut scratch)
        };
        for (amp, sections) in l.sections.iter().enumerate() {
            if l.odd_even_columns {
                let mut level = |parity: usize| {
                    let top = clip(&sections[TOP][parity]);
                    let bottom = clip(&sections[BOTTOM][parity]);
                    RefValue::average(top, bottom)
                };
                let (even_index, odd_index) = (level(0), level(1));
                if let (Some(e), Some(o)) = (even_index, odd_index) {
                    out.offsets[amp] = [e.value(), o.value()];
                }
                out.signals.push(RefSignal::Split {
                    even_index,
                    odd_index,
                });
            } else {
                let all = RefValue::average(clip(&sections[TOP][0]), clip(&sections[BOTTOM][0]));
                if let Some(a) = all {
                    out.offsets[amp] = [a.value(), a.value()];
                }
                out.signals.push(RefSignal::Single(all));
            }
        }
        let Some(side) = &l.side else { return };
        // The side medians see the group after the top/bottom correction, in the same
        // arithmetic: rounded to float32 in float32 mode, exact float64 otherwise.
        let adjusted: Vec<Vec<Option<T>>> = SIDE_BLOCKS
            .iter()
            .zip(&side.cells)
            .map(|(&(col0, amp), cells)| {
                cells
                    .iter()
                    .enumerate()
                    .map(|(i, &slot)| {
                        (slot != NO_SLOT).then(|| {
                            let offset = out.offsets[amp][(col0 + i % SIDE_WIDTH) % 2];
                            T::from_f64(values[slot as usize] as f64 - offset)
                        })
                    })
                    .collect()
            })
            .collect();
        let mut scratch = Vec::new();
        out.side = side
            .line_rows
            .iter()
            .map(|&r| {
                let left = running_median(&adjusted[0], r, &side.window, &mut scratch);
                let right = running_median(&adjusted[1], r, &side.window, &mut scratch);
                combine(left, right)
            })
            .collect();
    }
}

fn build_four_amp(
    dq: &DetectorDq,
    params: &RefpixParams,
    slots: &mut SlotTable,
) -> Result<FourAmp, String> {
    let emb = &dq.embedding;
    let mut sections: [[[Vec<u32>; 2]; 2]; 4] = Default::default();
    for (amp, amp_sections) in sections.iter_mut().enumerate() {
        for (edge, rows) in EDGE_ROWS.iter().enumerate() {
            for r in rows.clone() {
                for c in amp * AMP_WIDTH..(amp + 1) * AMP_WIDTH {
                    let Some((y, x)) = emb.to_subarray(r, c) else {
                        continue;
                    };
                    if dq.usable(r, c) {
                        let parity = if params.odd_even_columns { c % 2 } else { 0 };
                        amp_sections[edge][parity].push(slots.slot(y, x));
                    }
                }
            }
        }
    }
    let side = if params.use_side_ref_pixels {
        let window = SideWindow::new(params.side_smoothing_length).ok_or_else(|| {
            format!(
                "side_smoothing_length={} must lie between 2 and {} (the official padding \
                 fails outside)",
                params.side_smoothing_length,
                2 * FULL - 1
            )
        })?;
        let cells = SIDE_BLOCKS.map(|(col0, _)| {
            let mut cells = vec![NO_SLOT; FULL * SIDE_WIDTH];
            for r in 0..FULL {
                for k in 0..SIDE_WIDTH {
                    let c = col0 + k;
                    if let Some((y, x)) = emb.to_subarray(r, c) {
                        if dq.usable(r, c) {
                            cells[r * SIDE_WIDTH + k] = slots.slot(y, x);
                        }
                    }
                }
            }
            cells
        });
        let line_rows = if emb.orientation.transposed() {
            (0..emb.ncols).map(|x| emb.to_detector(0, x).0).collect()
        } else {
            (0..emb.nrows).map(|y| emb.to_detector(y, 0).0).collect()
        };
        Some(SideLayout {
            cells,
            window,
            line_rows,
        })
    } else {
        None
    };
    Ok(FourAmp {
        odd_even_columns: params.odd_even_columns,
        sections,
        side,
    })
}

fn build_one_amp(
    dq: &DetectorDq,
    odd_even_columns: bool,
    slots: &mut SlotTable,
) -> Result<Layout, String> {
    let emb = &dq.embedding;
    // numpy.where over the detector-orientation PIXELDQ: row-major detector order.
    let mut refs: Vec<(usize, usize, usize, usize)> = Vec::new();
    for y in 0..emb.nrows {
        for x in 0..emb.ncols {
            let (r, c) = emb.to_detector(y, x);
            let flags = dq.at(r, c);
            if flags & dq::REFERENCE_PIXEL != 0 && flags & dq::DO_NOT_USE == 0 {
                refs.push((r, c, y, x));
            }
        }
    }
    if refs.is_empty() {
        return Ok(Layout::OneAmpNoRefs);
    }
    refs.sort_unstable();
    let mut sets = if odd_even_columns {
        vec![Vec::new(), Vec::new()]
    } else {
        vec![Vec::new()]
    };
    for &(_, c, y, x) in &refs {
        let set = if odd_even_columns { c % 2 } else { 0 };
        sets[set].push(slots.slot(y, x));
    }
    if let Some(p) = sets.iter().position(Vec::is_empty) {
        return Err(format!(
            "all usable reference pixels lie in {} detector columns; the official step fails \
             on this subarray with odd_even_columns=True (IndexError)",
            if p == 0 { "odd" } else { "even" }
        ));
    }
    Ok(Layout::OneAmp(OneAmp {
        odd_even_columns,
        sets,
    }))
}
