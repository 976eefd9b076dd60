//! Stage 2/3 consumers of rate products: image2 (flat_field, photom) and tso3
//! (outlier_detection, tso_photometry, a quick-look white light), all streaming integration
//! planes ([`stream::plane`]) so memory stays bounded: one plane, or the outlier window.

pub mod flat_field;
pub mod image2;
pub mod nanmatch;
pub mod numeric;
pub mod photom;
pub mod source;
pub mod specs;
