//! Writing a generated project to disk, atomically and without ever
//! destroying the user's work.
//!
//! Stage: write. Input: a [`Project`] and a target directory. Output: the
//! files on disk and a [`WriteReport`] of what changed. Invariants:
//! - a new project is written into a temporary sibling directory and renamed
//!   into place, so a failure leaves nothing half-written;
//! - in an existing project, every new or changed file is first staged next
//!   to its target; only when all are staged are they renamed into place, so
//!   a failure before that point leaves the previous project exactly as it
//!   was;
//! - user-owned files are created when missing and never overwritten; the
//!   one exception is a file an earlier palisade generated that is the
//!   team's from this version on (the manifest and workspace files of the
//!   workspace layout): left unedited, it is replaced once by its first
//!   team version; edited by hand, the whole write is refused;
//! - a non-empty directory that palisade did not generate (no manifest) is
//!   refused unless forced;
//! - every path stays inside the target directory, and no symbolic link
//!   inside it is followed (nor anything but regular files and directories
//!   touched): such a project is refused before anything is written.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::generate::{File, Ownership, Project, VERSION};

/// Where the manifest lives inside a generated project.
pub const MANIFEST: &str = ".palisade/manifest.json";

/// The record of one generation: which files palisade wrote, with hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub palisade: String,
    pub spec: String,
    pub spec_sha256: String,
    pub files: BTreeMap<String, ManifestEntry>,
    /// Every migration with the schema it leaves, in order: what the next
    /// migration starts from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub migrations: Vec<crate::migrate::Record>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub ownership: Ownership,
    /// Hash of the contents palisade wrote (for user files: the first version).
    pub sha256: String,
}

pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Manifest {
    /// The manifest describing `project`, generated from `spec` (its bytes).
    pub fn of(project: &Project, spec_file: &str, spec: &[u8]) -> Manifest {
        Manifest {
            palisade: VERSION.to_string(),
            spec: spec_file.to_string(),
            spec_sha256: sha256(spec),
            files: project
                .files
                .iter()
                .map(|(path, file)| {
                    (
                        path.clone(),
                        ManifestEntry {
                            ownership: file.ownership,
                            sha256: sha256(file.contents.as_bytes()),
                        },
                    )
                })
                .chain(project.frozen.iter().map(|(path, sha)| {
                    (
                        path.clone(),
                        ManifestEntry {
                            ownership: Ownership::Migration,
                            sha256: sha.clone(),
                        },
                    )
                }))
                .collect(),
            migrations: project.migrations.clone(),
        }
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("manifest serialises");
        text.push('\n');
        text
    }

    pub fn read(dir: &Path) -> Result<Option<Manifest>> {
        let path = plain_path(dir, MANIFEST)?;
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
                format!("{} is not a palisade manifest", path.display())
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

/// The migrations of the project in `dir`, as `previous` (its manifest)
/// records them. A project generated before the manifest kept schema
/// snapshots has one migration, `migrations/0001_init.sql`: its snapshot
/// is read back from the file, applied to an in-memory SQLite.
pub fn history(
    dir: &Path,
    previous: Option<&Manifest>,
    service: &crate::model::Service,
) -> Result<crate::migrate::History> {
    let Some(previous) = previous else {
        return Ok(crate::migrate::History::default());
    };
    let mut history = crate::migrate::History {
        records: previous.migrations.clone(),
        files: BTreeMap::new(),
    };
    if history.records.is_empty() {
        const FIRST: &str = "migrations/0001_init.sql";
        if !previous.files.contains_key(FIRST) {
            return Ok(history);
        }
        let path = plain_path(dir, FIRST)?;
        let sql = fs::read_to_string(&path).with_context(|| {
            format!("cannot read {}, the schema the project's database has: restore it (from version control) and run `palisade generate` again", path.display())
        })?;
        let schema = crate::migrate::sqlite::read_back(&sql, service)
            .map_err(|e| anyhow::anyhow!("cannot read the schema of {}: {e}", path.display()))?;
        history.records.push(crate::migrate::Record {
            version: 1,
            name: "init".into(),
            schema,
        });
    }
    for record in &history.records {
        let file = record.file();
        let sha = match previous.files.get(&file) {
            Some(entry) => entry.sha256.clone(),
            None => bail!(
                "{MANIFEST} records migration {} but not its file {file}; restore the manifest (from version control)",
                record.version
            ),
        };
        history.files.insert(file, sha);
    }
    // PostgreSQL files are optional (a project may predate them, or not
    // serve PostgreSQL): each one the manifest records stays frozen.
    for (path, entry) in &previous.files {
        if path.starts_with("migrations/postgres/") && entry.ownership == Ownership::Migration {
            history.files.insert(path.clone(), entry.sha256.clone());
        }
    }
    Ok(history)
}

/// What a write changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    /// User-owned files that already existed and were left alone.
    pub kept: Vec<String>,
    /// Generated files of an earlier generation that the spec no longer needs.
    pub removed: Vec<String>,
    /// User files of an earlier generation for something the spec no longer
    /// has: left in place, reported.
    pub orphaned: Vec<String>,
    /// Files an earlier palisade generated that are the team's from now on:
    /// replaced once by their first team version.
    pub handed_over: Vec<String>,
    /// Generated files the spec no longer needs that were edited by hand
    /// since: left in place, reported.
    pub edited_left: Vec<String>,
}

/// Options of [`write`].
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Write into a non-empty directory that palisade did not generate.
    pub force: bool,
}

/// Checks that a project path is relative and stays inside its root.
fn safe_path(root: &Path, relative: &str) -> Result<PathBuf> {
    let path = Path::new(relative);
    let ok = !relative.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    if !ok {
        bail!("refusing to write `{relative}`: it would leave the output directory");
    }
    Ok(root.join(path))
}

/// The path of a project file inside `root`, refused when it, or a
/// directory on the way to it, is a symbolic link (or anything but a
/// directory on the way and a regular file at the end): palisade reads,
/// writes and compares only real files of the output tree, so a link there
/// can neither make `generate` write outside it nor make `check` print a
/// file from elsewhere in its diff. `root` itself may be a link (the user
/// chose it). A path that does not exist yet is fine.
pub fn plain_path(root: &Path, relative: &str) -> Result<PathBuf> {
    let target = safe_path(root, relative)?;
    let parts: Vec<Component<'_>> = Path::new(relative).components().collect();
    let mut current = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        current.push(part);
        let meta = match fs::symlink_metadata(&current) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", current.display())),
        };
        let last = i + 1 == parts.len();
        if meta.file_type().is_symlink() {
            bail!(
                "{} is a symbolic link; palisade does not follow links inside the output directory: replace it with the {} itself",
                current.display(),
                if last { "file" } else { "directory" }
            );
        }
        if last && !meta.is_file() {
            bail!(
                "{} is not a regular file; palisade reads and writes only regular files inside the output directory",
                current.display()
            );
        }
        if !last && !meta.is_dir() {
            bail!("{} is not a directory", current.display());
        }
    }
    Ok(target)
}

fn is_empty_dir(dir: &Path) -> Result<bool> {
    Ok(fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .next()
        .is_none())
}

/// Writes `project` (with its `manifest`) into `out`.
pub fn write(
    project: &Project,
    manifest: &Manifest,
    out: &Path,
    options: WriteOptions,
) -> Result<WriteReport> {
    let mut files: BTreeMap<String, File> = project.files.clone();
    files.insert(
        MANIFEST.to_string(),
        File {
            contents: manifest.to_json(),
            ownership: Ownership::Generated,
        },
    );
    for path in files.keys() {
        safe_path(out, path)?;
    }
    if !out.exists() || (out.is_dir() && is_empty_dir(out)?) {
        return write_fresh(&files, out);
    }
    if !out.is_dir() {
        bail!("{} exists and is not a directory", out.display());
    }
    // Every path this run may read, write or remove, before any of it.
    for path in files.keys() {
        plain_path(out, path)?;
    }
    let previous = Manifest::read(out)?;
    if previous.is_none() && !options.force {
        bail!(
            "{} is not empty and was not generated by palisade (no {MANIFEST}); choose an empty directory, or pass --force to write into it anyway",
            out.display()
        );
    }
    for path in previous.iter().flat_map(|p| p.files.keys()) {
        plain_path(out, path)?;
    }
    update(&files, &project.frozen, previous.unwrap_or_default(), out)
}

fn write_file(path: &Path, contents: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    // A new file, never one that exists: a link planted at a staging
    // name is not followed.
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(contents)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// How many threads write a new project's files.
const WRITERS: usize = 16;

/// Writes every file under `root`. Creating, writing and syncing files is
/// kernel work that grows with their number (two per resource), so it is
/// spread over [`WRITERS`] threads; the first error is returned (the
/// caller then discards `root`).
fn write_all(root: &Path, files: &BTreeMap<String, File>) -> Result<()> {
    let files: Vec<(PathBuf, &str)> = files
        .iter()
        .map(|(path, file)| Ok((safe_path(root, path)?, file.contents.as_str())))
        .collect::<Result<_>>()?;
    // Each file is synced (`write_file`), and a sync waits on the disk,
    // not the CPU: more writers than cores let the filesystem commit many
    // syncs at once (generate at 100 resources: 89 ms with one writer per
    // core on two cores, 55 ms with 16).
    let threads = WRITERS;
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> Result<()> {
                    for (path, contents) in part {
                        write_file(path, contents.as_bytes())?;
                        fail_point("fresh")?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            // A panic is an error too, so the caller still removes `root`.
            h.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a writer thread panicked")))
        })
    })
}

/// A new project: everything into a temporary sibling, then one rename.
fn write_fresh(files: &BTreeMap<String, File>, out: &Path) -> Result<WriteReport> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    let staging = parent.join(format!(".{name}.palisade-{}", std::process::id()));
    let result = (|| -> Result<()> {
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        write_all(&staging, files)?;
        if out.exists() {
            fs::remove_dir(out).with_context(|| format!("cannot replace {}", out.display()))?;
        }
        fs::rename(&staging, out)
            .with_context(|| format!("cannot move the project into {}", out.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result?;
    Ok(WriteReport {
        created: files.keys().cloned().collect(),
        ..WriteReport::default()
    })
}

/// An existing project: stage every change, then rename them all into place.
fn update(
    files: &BTreeMap<String, File>,
    frozen: &BTreeMap<String, String>,
    previous: Manifest,
    out: &Path,
) -> Result<WriteReport> {
    let mut report = WriteReport::default();
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let stage_suffix = format!(".palisade-new-{}", std::process::id());
    let result = (|| -> Result<()> {
        for (path, file) in files {
            let target = plain_path(out, path)?;
            let existing = read_if_present(&target)?;
            let was_generated = previous
                .files
                .get(path)
                .filter(|e| e.ownership == Ownership::Generated);
            match (file.ownership, existing) {
                (Ownership::User, Some(bytes)) if was_generated.is_some() => {
                    // Unedited: as the earlier palisade wrote it, or already
                    // the first team version (an interrupted earlier run).
                    let edited = was_generated.is_some_and(|e| e.sha256 != sha256(&bytes))
                        && bytes != file.contents.as_bytes();
                    if edited {
                        bail!(
                            "{path} was generated by palisade {} and has been edited since; from palisade {VERSION} on it is yours, and palisade writes its first version once. Move your edits aside (for example with `git stash`), run `palisade generate` again, then apply them to the new file",
                            previous.palisade
                        );
                    }
                    let stage = PathBuf::from(format!("{}{stage_suffix}", target.display()));
                    staged.push((stage.clone(), target));
                    write_file(&stage, file.contents.as_bytes())?;
                    fail_point("update")?;
                    report.handed_over.push(path.clone());
                }
                (Ownership::User, Some(_)) => report.kept.push(path.clone()),
                (Ownership::Migration, Some(bytes)) if bytes != file.contents.as_bytes() => {
                    bail!(
                        "{path} exists and is not the migration palisade writes for this change; palisade never overwrites a migration: move the file aside and run `palisade generate` again"
                    );
                }
                (Ownership::User, None) if removed_by_team(Some(&previous), path) => {}
                (_, Some(bytes)) if bytes == file.contents.as_bytes() => {
                    report.unchanged.push(path.clone())
                }
                (_, existing) => {
                    let stage = PathBuf::from(format!("{}{stage_suffix}", target.display()));
                    staged.push((stage.clone(), target));
                    write_file(&stage, file.contents.as_bytes())?;
                    fail_point("update")?;
                    if existing.is_some() {
                        report.updated.push(path.clone())
                    } else {
                        report.created.push(path.clone())
                    }
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        for (stage, _) in &staged {
            let _ = fs::remove_file(stage);
        }
        return Err(e);
    }
    // Commit: renames within one directory tree, the manifest last, so
    // that it never records a state the files are not in yet.
    staged.sort_by_key(|(_, target)| target.ends_with(MANIFEST));
    for (stage, target) in &staged {
        fs::rename(stage, target)
            .with_context(|| format!("cannot replace {}", target.display()))?;
    }
    for (path, entry) in &previous.files {
        // A migration stays: a database may have applied it.
        if files.contains_key(path)
            || frozen.contains_key(path)
            || entry.ownership == Ownership::Migration
        {
            continue;
        }
        let target = plain_path(out, path)?;
        if fs::symlink_metadata(&target).is_err() {
            continue;
        }
        match entry.ownership {
            Ownership::Generated
                if read_if_present(&target)?
                    .is_some_and(|bytes| sha256(&bytes) != entry.sha256) =>
            {
                // Edited by hand since palisade wrote it: not ours to
                // delete, and no longer ours to compile (a file under
                // `tests/` would still be a Cargo target): moved aside.
                let aside = plain_path(out, &format!("{path}.orig"))?;
                if fs::symlink_metadata(&aside).is_err() {
                    fs::rename(&target, &aside)
                        .with_context(|| format!("cannot move {} aside", target.display()))?;
                    report.edited_left.push(format!("{path}.orig"));
                } else {
                    report.edited_left.push(path.clone());
                }
            }
            Ownership::Generated => {
                fs::remove_file(&target)
                    .with_context(|| format!("cannot remove {}", target.display()))?;
                report.removed.push(path.clone());
                remove_empty_parents(out, path);
            }
            Ownership::User => report.orphaned.push(path.clone()),
            Ownership::Migration => {}
        }
    }
    Ok(report)
}

/// The bytes of `path`, `None` if there is no such file; any other
/// failure to read it is an error (an unreadable file is never taken for
/// an absent one, which would be overwritten).
fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Whether `path`, a team file of an earlier generation, is now absent by
/// the team's choice (moved, renamed, deleted): then palisade neither
/// recreates nor reports it. Hook files are the exception (the generated
/// `src/hooks/mod.rs` declares each of them, so a missing one is created),
/// and so is `Cargo.lock` (created again with the versions palisade is
/// tested with, as in a new project).
pub fn removed_by_team(previous: Option<&Manifest>, path: &str) -> bool {
    !path.starts_with("src/hooks/")
        && path != "Cargo.lock"
        && previous
            .and_then(|p| p.files.get(path))
            .is_some_and(|e| e.ownership == Ownership::User)
}

/// Removes the directories above `path` (inside `root`) that its removal
/// left empty, deepest first; stops at the first one that is not empty.
fn remove_empty_parents(root: &Path, path: &str) {
    let mut dir = Path::new(path).parent();
    while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
        if fs::remove_dir(root.join(d)).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Test hook: `PALISADE_FAIL_AFTER=N` makes the N-th staged write fail, to
/// prove that a failure mid-write leaves the previous tree intact.
fn fail_point(_stage: &str) -> Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    if let Some(limit) = std::env::var("PALISADE_FAIL_AFTER")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        if WRITES.fetch_add(1, Ordering::SeqCst) + 1 >= limit {
            bail!("injected failure after {limit} writes (PALISADE_FAIL_AFTER)");
        }
    }
    Ok(())
}
