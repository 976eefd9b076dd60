//! `sloper simulate`: synthetic raw exposures and matching reference sets in the official layouts.
