//! Snowball flagging (`expand_large_events`, spec §11.7 step 4). Work in progress.

use super::exposure::CubeShape;
use super::params::JumpError;
use super::setup::SnowballSetup;

/// Snowball flagging over a whole exposure cube (`[int][group][row][col]`).
pub fn flag_large_events(
    _setup: &SnowballSetup,
    _shape: CubeShape,
    _gdq: &mut [u8],
) -> Result<u64, JumpError> {
    Err(JumpError::Unsupported(
        "expand_large_events = True (snowball flagging)",
    ))
}
