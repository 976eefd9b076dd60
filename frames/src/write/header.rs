//! Header content of a product: what is carried over from the input exposure, provenance, step
//! status (`S_*`) and reference (`R_*`) keywords with the official comments.

use std::path::PathBuf;

use crate::refs::cfits::{is_structural, CFits, KeyValue};
use crate::Result;

/// The calibration-software version whose algorithms sloper reproduces (written as CAL_VER).
pub const CAL_VER: &str = "3.0.0";

/// One keyword to write (update in place when it already exists, else append).
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub key: String,
    pub value: KeyValue,
    /// `None`: keep the existing comment, or the official one for known keywords.
    pub comment: Option<String>,
}

impl Card {
    pub fn new(key: &str, value: KeyValue) -> Self {
        Card {
            key: key.to_string(),
            value,
            comment: None,
        }
    }
    pub fn with_comment(key: &str, value: KeyValue, comment: &str) -> Self {
        Card {
            key: key.to_string(),
            value,
            comment: Some(comment.to_string()),
        }
    }
}

/// Everything a writer needs to build the headers of a product.
#[derive(Debug, Clone, Default)]
pub struct ProductHeader {
    /// The input exposure (uncal for Detector1 products, rate/rateints for stage 2): its primary
    /// header, its SCI header and its INT_TIMES/GROUP tables are copied.
    pub input: PathBuf,
    /// Step status keywords, e.g. `("S_DQINIT", "COMPLETE")`, `("S_IPC", "SKIPPED")`.
    pub cal_steps: Vec<(String, String)>,
    /// Reference keywords, e.g. `("R_MASK", "/crds/jwst_nircam_mask_0001.fits")` or `"N/A"`.
    pub ref_files: Vec<(String, String)>,
    /// CRDS_CTX, written only when given.
    pub crds_ctx: Option<String>,
    /// CRDS_VER, written only when given.
    pub crds_ver: Option<String>,
    /// More primary keywords (e.g. PRIMECRS, EXTNCRS from jump).
    pub primary_extra: Vec<Card>,
    /// More SCI keywords (e.g. PHOTMJSR, PHOTUJA2, PIXAR_SR, PIXAR_A2 after photom).
    pub sci_extra: Vec<Card>,
}

/// Official comment of a step-status or reference keyword (stdatamodels schema titles).
pub fn official_comment(key: &str) -> Option<&'static str> {
    Some(match key {
        "S_GRPSCL" => "Group Scale Correction",
        "S_DQINIT" => "Data Quality Initialization",
        "S_SATURA" => "Saturation Checking",
        "S_IPC" => "Interpixel Capacitance Correction",
        "S_SUPERB" => "Superbias Subtraction",
        "S_REFPIX" => "Reference Pixel Correction",
        "S_LINEAR" => "Linearity Correction",
        "S_DARK" => "Dark Subtraction",
        "S_CHGMIG" => "Charge Migration",
        "S_JUMP" => "Jump Detection",
        "S_PCTFRM" => "Picture Frame Correction",
        "S_CLNFNS" => "Clean Flicker Noise",
        "S_PERSIS" => "Persistence Correction",
        "S_RAMP" => "Ramp Fitting",
        "S_GANSCL" => "Gain Scale Correction",
        "S_MIREMI" => "MIRI EMI Correction",
        "S_FRSTFR" => "First Frame Correction",
        "S_LASTFR" => "Last Frame Correction",
        "S_RESET" => "Reset Anomaly Correction",
        "S_RSCD" => "RSCD Correction",
        "S_WCS" => "Assign World Coordinate System",
        "S_FLAT" => "Flat Field Correction",
        "S_PHOTOM" => "Photometric Calibration",
        "S_OUTLIR" => "Outlier Detection",
        "S_TSPHOT" => "TSO Imaging Photometry",
        "S_WHTLIT" => "TSO White-Light Curve",
        "R_MASK" => "Mask reference file name",
        "R_SATURA" => "Saturation reference file name",
        "R_SUPERB" => "Superbias reference file name",
        "R_IPC" => "IPC reference file name",
        "R_REFPIX" => "Reference pixels reference file name",
        "R_SIRSKL" => "SIRS refpix reference file name",
        "R_LINEAR" => "Linearity reference file name",
        "R_DARK" => "Dark reference file name",
        "R_GAIN" => "Gain reference file name",
        "R_READNO" => "Read noise reference file name",
        "R_PERSAT" => "Persistence saturation reference file name",
        "R_TRPDEN" => "Trap density reference file name",
        "R_TRPPAR" => "Trap parameters reference file name",
        "R_RESET" => "Reset reference file name",
        "R_RSCD" => "RSCD reference file name",
        "R_LASTFR" => "Last Frame reference file name",
        "R_MIREMI" => "MIRI EMI correction reference file name",
        "R_FLAT" => "Flat reference file name",
        "R_DFLAT" => "Detector Flat reference file name",
        "R_FFLAT" => "Fore-optics Flat reference file name",
        "R_SFLAT" => "Spectrograph Flat reference file name",
        "R_PHOTOM" => "Photometric reference file name",
        "R_AREA" => "Pixel area reference file name",
        "R_DISTOR" => "Distortion reference file name",
        "R_FILOFF" => "Filter Offset reference file name",
        "R_TSPHOT" => "TSO imaging photometry reference file name",
        "CRDS_CTX" => "CRDS context (.pmap) used to select ref files",
        "CRDS_VER" => "Version of CRDS file selection software used",
        "PRIMECRS" => "Cosmic Ray rate per thousand pixels per second",
        "EXTNCRS" => "Snowballs/showers per million pixels per second",
        "PHOTMJSR" => "Flux density (MJy/steradian) producing 1 cps",
        "PHOTUJA2" => "Flux density (uJy/arcsec2) producing 1 cps",
        "PIXAR_SR" => "Nominal pixel area in steradians",
        "PIXAR_A2" => "Nominal pixel area in arcsec^2",
        "BUNIT" => "physical units of the array values",
        _ => return None,
    })
}

/// Keyword name of a raw 80-column card (columns 1–8, trimmed).
fn card_key(card: &str) -> String {
    card.get(..8).unwrap_or(card).trim().to_ascii_uppercase()
}

/// Copy the non-structural cards of `src`'s current HDU into `dst`'s current HDU, skipping the
/// keywords in `skip` (and the CONTINUE cards of a skipped long string).
pub(crate) fn copy_cards(src: &mut CFits, dst: &mut CFits, skip: &[&str]) -> Result<()> {
    let mut skipping = false;
    for card in src.header_cards()? {
        let key = card_key(&card);
        if key == "CONTINUE" {
            if !skipping {
                dst.append_card(&card)?;
            }
            continue;
        }
        skipping = is_structural(&key) || skip.contains(&key.as_str());
        if !skipping {
            dst.append_card(&card)?;
        }
    }
    Ok(())
}

/// Write `card` with its official comment when the caller gave none.
pub(crate) fn put(dst: &mut CFits, card: &Card) -> Result<()> {
    let comment = card
        .comment
        .as_deref()
        .or_else(|| official_comment(&card.key));
    dst.set_key(&card.key, &card.value, comment)
}

/// Current UTC time as `YYYY-MM-DDThh:mm:ss.sss` (the DATE format of the official products).
pub(crate) fn utc_now_iso() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let millis = now.subsec_millis();
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_format() {
        let s = utc_now_iso();
        assert_eq!(s.len(), 23);
        assert_eq!(&s[4..5], "-");
        assert_eq!(&s[10..11], "T");
        assert!(s.starts_with("20"));
    }

    #[test]
    fn keys_of_cards() {
        assert_eq!(card_key("NAXIS1  =                   32"), "NAXIS1");
        assert_eq!(card_key(""), "");
        assert_eq!(official_comment("S_JUMP"), Some("Jump Detection"));
    }
}
