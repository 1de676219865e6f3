//! `palisade init`: a commented starter spec and the JSON Schema beside it.
//!
//! Invariant: never overwrites a file. Both files are checked first and
//! created with `create_new`, so a concurrent writer cannot be clobbered
//! either; if the second cannot be created, the first is removed again.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::validate::is_identifier;

pub const SPEC_FILE: &str = "palisade.yaml";
pub const SCHEMA_FILE: &str = "palisade.schema.json";

const TEMPLATE: &str = include_str!("../templates/init/palisade.yaml.j2");

/// The starter spec for a service called `name`.
pub fn starter_spec(name: &str) -> String {
    let env = minijinja::Environment::new();
    env.render_str(TEMPLATE, minijinja::context! { name })
        .expect("the starter template renders")
}

/// A service name derived from a directory name.
pub fn name_from_dir(dir: &Path) -> String {
    let raw = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    name = name.trim_matches('_').to_string();
    if is_identifier(&name) {
        name
    } else {
        "my_service".to_string()
    }
}

/// Writes the starter files into `dir`; returns the paths written.
pub fn init(dir: &Path, name: Option<&str>) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = match name {
        Some(n) => {
            let ok = n.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !ok {
                bail!(
                    "`{n}` is not a valid service name: use lowercase letters, digits, `_` and `-`, starting with a letter"
                );
            }
            n.to_string()
        }
        None => name_from_dir(dir),
    };
    let files = [
        (dir.join(SPEC_FILE), starter_spec(&name)),
        (dir.join(SCHEMA_FILE), crate::schema::to_string_pretty()),
    ];
    for (path, _) in &files {
        if path.exists() {
            bail!(
                "{} already exists; palisade init never overwrites a file",
                path.display()
            );
        }
    }
    let mut written = Vec::new();
    for (path, contents) in &files {
        let result = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| f.write_all(contents.as_bytes()));
        if let Err(error) = result {
            for done in &written {
                let _ = std::fs::remove_file(done);
            }
            return Err(error).with_context(|| format!("cannot create {}", path.display()));
        }
        written.push(path.clone());
    }
    Ok(written)
}
