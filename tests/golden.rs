//! Golden files: the project generated from each example, compared file by
//! file with the copy committed under `tests/golden/<example>/`, and
//! generation is deterministic.
//!
//! To accept a change, run with `PALISADE_UPDATE_GOLDEN=1`: the files are
//! rewritten and the test still fails, so a change is never accepted by
//! accident. The runtime files copied from `templates/runtime/src` are left
//! out: they are compiled and tested in their own crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use palisade::source::SourceFile;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn examples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn generate(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let compiled =
        palisade::compile(SourceFile::new(name.clone(), text)).expect("example is valid");
    palisade::generate::generate(&compiled.model, &name)
        .files
        .into_iter()
        .map(|(p, f)| (p, f.contents))
        .collect()
}

fn is_golden(path: &str) -> bool {
    !path.starts_with("src/runtime/") || path == "src/runtime/mod.rs"
}

fn read_tree(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_tree(&path, base, out);
        } else {
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn generated_projects_match_the_golden_files() {
    let update = std::env::var_os("PALISADE_UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for example in examples() {
        let stem = example.file_stem().unwrap().to_string_lossy().into_owned();
        let golden_dir = root().join("tests/golden").join(&stem);
        let generated: BTreeMap<String, String> = generate(&example)
            .into_iter()
            .filter(|(p, _)| is_golden(p))
            .collect();
        let mut committed = BTreeMap::new();
        read_tree(&golden_dir, &golden_dir, &mut committed);
        if generated == committed {
            continue;
        }
        for (path, contents) in &generated {
            match committed.get(path) {
                None => failures.push(format!("{stem}: {path} is new")),
                Some(old) if old != contents => failures.push(format!("{stem}: {path} differs")),
                Some(_) => {}
            }
        }
        for path in committed.keys().filter(|p| !generated.contains_key(*p)) {
            failures.push(format!("{stem}: {path} is no longer generated"));
        }
        if update {
            let _ = std::fs::remove_dir_all(&golden_dir);
            for (path, contents) in &generated {
                let target = golden_dir.join(path);
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::write(target, contents).unwrap();
            }
        }
    }
    assert!(
        failures.is_empty(),
        "generated output differs from tests/golden{}:\n{}",
        if update {
            " (rewritten; review with git diff)"
        } else {
            "; rerun with PALISADE_UPDATE_GOLDEN=1 to rewrite"
        },
        failures.join("\n")
    );
}

#[test]
fn generation_is_deterministic() {
    for example in examples() {
        let first = generate(&example);
        for _ in 0..9 {
            assert_eq!(generate(&example), first, "{}", example.display());
        }
    }
}

#[test]
fn every_generated_file_but_user_files_is_marked_generated() {
    for example in examples() {
        let text = std::fs::read_to_string(&example).unwrap();
        let compiled = palisade::compile(SourceFile::new("x.yaml", text)).unwrap();
        let project = palisade::generate::generate(&compiled.model, "x.yaml");
        for (path, file) in &project.files {
            let marked = file
                .contents
                .lines()
                .take(2)
                .any(|l| l.contains("@generated"));
            match file.ownership {
                palisade::generate::Ownership::Generated if path != ".gitignore" => {
                    assert!(
                        marked || path == "openapi.json",
                        "{path} lacks the @generated header"
                    )
                }
                palisade::generate::Ownership::User => {
                    assert!(!marked, "{path} is user-owned but marked generated")
                }
                _ => {}
            }
            assert!(!file.contents.contains('\r'), "{path} has CR line endings");
            assert!(
                !file.contents.contains("/tmp") && !file.contents.contains("/work/"),
                "{path} has an absolute path"
            );
        }
    }
}
