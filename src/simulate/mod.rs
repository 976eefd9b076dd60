//! `sloper simulate`: synthetic raw exposures and matching reference sets in the official layouts.

/// Options of `sloper simulate` (in progress).
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {}

pub fn run(_args: &SimulateArgs) -> anyhow::Result<()> {
    anyhow::bail!("simulate: not implemented yet")
}
