//! `sloper replay` (in progress).

/// Arguments of `sloper replay` (strun-style; parsed by the module, not clap).
#[derive(Debug, Clone, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

pub fn run(_a: &Args) -> anyhow::Result<()> {
    anyhow::bail!("replay: not implemented yet")
}
