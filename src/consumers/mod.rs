//! Stage 2/3 consumers of rate products: image2 (flat_field, photom) and tso3
//! (outlier_detection, tso_photometry, a quick-look white light), all streaming integration
//! planes ([`stream::plane`]) so memory stays bounded: one plane, or the outlier window.
//!
//! * [`source`]: `_rate`/`_rateints`/`_calints` files read plane by plane from a memory map.
//! * [`image2`]: flat_field ([`flat_field`]) then photom ([`photom`]) -> `_cal`/`_calints`.
//! * [`outlier`]: TSO outlier detection as a sliding window (rolling median of 25) ->
//!   `_crfints`.
//! * [`tso_photometry`]: centroids, Gaussian PRF, exact-overlap aperture photometry
//!   ([`aperture`], [`centroid`]) -> `_phot.ecsv` ([`ecsv`]) + PNG light curve ([`plot`]).
//! * [`white_light`]: sloper's box-extraction white light for spectroscopic TSOs (not the
//!   official product) -> `_whtlt.ecsv`.
//! * [`tso3`]: the tso3 stages per member and the stacked catalogue; [`chain`]: detector1 ->
//!   image2 -> tso3 in one process over any plane source.
//!
//! Parity: every array of `_cal`, `_calints`, `_crfints` is bit-identical with jwst 3.0.0 on
//! the golden cases of `fixtures/stage23`; the photometry catalogue agrees column by column
//! (tests/consumers_*.rs).

pub mod aperture;
pub mod centroid;
pub mod chain;
pub mod ecsv;
pub mod flat_field;
pub mod image2;
pub mod nanmatch;
pub mod numeric;
pub mod offload;
pub mod outlier;
pub mod photom;
pub mod plot;
pub mod pool;
pub mod source;
pub mod specs;
pub mod trf;
pub mod tso3;
pub mod tso_photometry;
pub mod wcs;
pub mod white_light;
