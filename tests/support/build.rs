//! Building generated projects from tests: the one target directory they
//! share and the cargo invocation, for the e2e suite and the random specs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target directory every generated project of the tests builds in
/// (`target/e2e`, or `PALISADE_E2E_TARGET`), so dependencies compile once.
pub fn target_dir() -> PathBuf {
    std::env::var_os("PALISADE_E2E_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e"))
}

/// Runs cargo with `args` in `dir` (a generated project) in the shared
/// target directory, without the caller's RUSTFLAGS; the combined output
/// on failure.
pub fn cargo(dir: &Path, args: &[&str]) -> Result<(), String> {
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
