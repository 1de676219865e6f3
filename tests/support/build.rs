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

/// How every build of a generated project in the tests runs: in the
/// shared target directory, without the caller's RUSTFLAGS, and without
/// what only fills the disk there (incremental state, debug info: about
/// 5 GB of the 10 a run took with them); the README session's `cargo run`
/// uses the same, so it reuses the build.
pub fn configure(cmd: &mut Command) -> &mut Command {
    cmd.env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_INCREMENTAL", "0")
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env("CARGO_PROFILE_TEST_DEBUG", "0")
        .env_remove("RUSTFLAGS")
}

/// Runs cargo with `args` in `dir` (a generated project), [`configure`]d;
/// the combined output on failure.
pub fn cargo(dir: &Path, args: &[&str]) -> Result<(), String> {
    let output = configure(Command::new(env!("CARGO")).args(args).current_dir(dir))
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
