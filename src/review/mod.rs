//! Reviewing specs: `palisade audit` (what a spec exposes) and `palisade
//! diff` (what a change widens). Both read only the resolved model.

use clap::Subcommand;

/// The review commands.
#[derive(Debug, Subcommand)]
pub enum Review {}

/// Runs a review command; returns the exit code.
pub fn run(review: Review, _color: bool) -> u8 {
    match review {}
}
