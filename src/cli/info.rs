//! `sloper info FILE` (in progress).

#[derive(Debug, Clone, clap::Args)]
pub struct InfoArgs {
    /// An exposure (`_uncal`, `_ramp`, `_rate`, `_rateints`) or a reference file.
    pub file: std::path::PathBuf,
}

pub fn run(_args: &InfoArgs) -> anyhow::Result<()> {
    anyhow::bail!("info: not implemented yet")
}
