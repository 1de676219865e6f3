//! Random valid specs (see `random_specs/specgen.rs` for what they cover)
//! go through the whole compiler:
//!
//! - `random_valid_specs_compile_and_generate` (256 cases, fast): each spec
//!   compiles, lowers to a model, and generates a project deterministically
//!   (same bytes twice, same model twice) whose Rust files all parse and
//!   whose `openapi.json` is JSON with no operation declaring a parameter
//!   twice;
//! - `random_spec_changes_migrate_to_the_fresh_schema` (128 cases, fast):
//!   a spec A, changed by random edits into B and C
//!   ([`specgen::mutate`]: fields and resources added, dropped, renamed
//!   with `renamed_from`, required fields added with a `default` or
//!   `backfill`, types widened and narrowed, `required` and `unique`
//!   toggled); the migrations of A, B and C (destructive changes allowed),
//!   applied one after the other to an empty SQLite database as the
//!   generated server applies them, leave the schema (normalized
//!   `sqlite_master`) that C's own first migration makes, and C needs no
//!   further migration;
//! - `random_specs_build` (3 cases per run, slow): each case's spec C
//!   (its A changed twice, as above) is generated into a temporary
//!   directory three times, as `palisade generate --allow-destructive`
//!   does after each release (A, then B, then C: the migrations of A and B
//!   frozen, C's added), and the project must pass `cargo build`, `cargo
//!   clippy --workspace --all-targets -- -D warnings`, `cargo fmt --all
//!   --check` and its own `cargo test --test security` (on a database
//!   migrated through every migration), in the shared target directory of the
//!   e2e suite (`target/e2e`). The seed changes every run and is printed;
//!   `PALISADE_RANDOM_SEED=N` replays a run and `PALISADE_RANDOM_CASES=N`
//!   changes the number of cases. The packages are named
//!   `random-spec-0`, `-1`, ... so that their artifacts replace those of the
//!   previous run instead of piling up.
//!
//! The bugs this found (valid specs whose projects did not build, lint
//! or pass their own tests) are fixed, and the generator steers clear of
//! none of them. A project's own tests leave out the cases its spec
//! cannot express (no row can be created, no token carries a role, a
//! body would exceed the limit) instead of emitting tests that cannot
//! fail.

#[path = "support/build.rs"]
mod build;
#[path = "random_specs/specgen.rs"]
mod specgen;

use build::cargo;
use std::collections::HashSet;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use palisade::diagnostic::RenderOptions;
use palisade::generate::Project;
use palisade::source::SourceFile;
use proptest::prelude::*;

const FILE: &str = "random.yaml";

/// Compiles `text`, which must be valid, and generates its project.
fn front_end(text: &str) -> (palisade::Compiled, Project) {
    let compiled = match palisade::compile(SourceFile::new(FILE, text)) {
        Ok(c) => c,
        Err(report) => panic!(
            "a valid random spec was refused:\n{}\n--- spec ---\n{text}",
            report.render(RenderOptions {
                color: false,
                width: 100
            })
        ),
    };
    let project = palisade::generate::generate(&compiled.model, FILE);
    (compiled, project)
}

/// Everything but building: the model, determinism, Rust syntax, OpenAPI.
fn check(text: &str, spec: &specgen::Spec) {
    let (compiled, project) = front_end(text);
    let model = &compiled.model;
    let names: Vec<&str> = model.resources.iter().map(|r| r.name.as_str()).collect();
    let expected: Vec<&str> = spec.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, expected, "the model keeps the resources in order");
    for (r, s) in model.resources.iter().zip(&spec.resources) {
        assert!(!r.operations.is_empty(), "`{}` is reachable", r.name);
        assert_eq!(r.fields().count(), s.fields.len(), "fields of `{}`", r.name);
    }

    // Deterministic: the same model and the same bytes again.
    let (again, project2) = front_end(text);
    assert_eq!(
        serde_json::to_value(model).unwrap(),
        serde_json::to_value(&again.model).unwrap(),
        "the model is deterministic"
    );
    if project != project2 {
        let differ: Vec<&String> = project
            .files
            .iter()
            .filter(|(path, file)| project2.files.get(*path) != Some(file))
            .map(|(path, _)| path)
            .collect();
        panic!("generation is not deterministic: {differ:?}\n--- spec ---\n{text}");
    }

    // The runtime is copied verbatim (and compiled in this repository);
    // every other Rust file depends on the spec.
    for (path, file) in &project.files {
        if path.ends_with(".rs") && !path.starts_with("runtime/src/") {
            if let Err(e) = syn::parse_file(&file.contents) {
                panic!(
                    "{path} does not parse: {e}\n--- {path} ---\n{}\n--- spec ---\n{text}",
                    file.contents
                );
            }
        }
    }
    for r in &model.resources {
        let module = palisade::generate::ident::modules([r.name.as_str()])[0].to_string();
        let file = module.trim_start_matches("r#");
        assert!(
            (project.files.contains_key(&format!("api/src/{file}.rs"))
                || matches!(file, "lib" | "main")
                    && project.files.contains_key(&format!("api/src/_{file}.rs")))
                && (project.files.contains_key(&format!("src/hooks/{file}.rs"))
                    || file == "mod" && project.files.contains_key("src/hooks/_mod.rs")),
            "`{}` has its module and hooks",
            r.name
        );
    }

    indexes_exist(model, &project, text);

    let openapi: serde_json::Value = serde_json::from_str(&project.files["openapi.json"].contents)
        .unwrap_or_else(|e| panic!("openapi.json is not JSON: {e}\n--- spec ---\n{text}"));
    for (path, item) in openapi["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let mut seen = HashSet::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let key = (p["name"].to_string(), p["in"].to_string());
                assert!(
                    seen.insert(key.clone()),
                    "{method} {path} declares the parameter {key:?} twice\n--- spec ---\n{text}"
                );
            }
        }
    }
}

/// Every index the model asks for exists in a database migrated with the
/// project's migration, on its table, with its columns and uniqueness: an
/// index named like another (or like a table) would be skipped by `IF NOT
/// EXISTS` (or stop the migration), and a `unique` would silently vanish.
fn indexes_exist(model: &palisade::model::Service, project: &Project, text: &str) {
    let migration = &project.files["migrations/0001_init.sql"].contents;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
        let opts = "sqlite::memory:"
            .parse::<SqliteConnectOptions>()
            .unwrap()
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .unwrap();
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(migration.as_str())).execute(&pool).await {
            panic!("the migration fails: {e}\n--- migration ---\n{migration}\n--- spec ---\n{text}");
        }
        for r in &model.resources {
            for index in &r.indexes {
                let found: Option<(String, i64)> = sqlx::query_as(
                    "SELECT m.tbl_name, l.\"unique\" FROM sqlite_master m \
                     JOIN pragma_index_list(m.tbl_name) l ON l.name = m.name \
                     WHERE m.type = 'index' AND m.name = ?",
                )
                .bind(&index.name)
                .fetch_optional(&pool)
                .await
                .unwrap();
                let columns: Vec<(String,)> =
                    sqlx::query_as("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                        .bind(&index.name)
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                let columns: Vec<String> = columns.into_iter().map(|(c,)| c).collect();
                assert_eq!(
                    (found, columns),
                    (Some((r.name.clone(), i64::from(index.unique))), index.columns.clone()),
                    "index `{}` of `{}` in the migrated database\n--- migration ---\n{migration}\n--- spec ---\n{text}",
                    index.name,
                    r.name
                );
            }
            // Every `unique` of the spec is a unique index of the model
            // (with the owner column first for `per_owner`).
            for column in r.fields().filter(|c| c.unique.is_some()) {
                let mut columns: Vec<String> = match (&column.unique, r.scope.owner_column()) {
                    (Some(palisade::spec::Unique::PerOwner), Some(owner)) => vec![owner.to_string()],
                    _ => Vec::new(),
                };
                columns.push(column.name.clone());
                assert!(
                    r.indexes.iter().any(|i| i.unique && i.columns == columns),
                    "`{}.{}` is unique in the spec, but no unique index of the model is on {columns:?}\n--- spec ---\n{text}",
                    r.name,
                    column.name
                );
            }
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        // Shrinking a list of a thousand numbers could take many minutes;
        // the failure message already shows the whole spec.
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_valid_specs_compile_and_generate(
        raw in prop::collection::vec(any::<u32>(), 0..1200),
        style in prop::collection::vec(any::<u32>(), 0..300),
    ) {
        let spec = specgen::generate(&raw, None);
        let text = spec.to_yaml(&style);
        check(&text, &spec);
    }
}

/// The model of `text`, which must be valid (`what` says which spec of
/// a case it is, for the message).
fn model_of(text: &str, what: &str) -> palisade::model::Service {
    match palisade::compile(SourceFile::new(FILE, text)) {
        Ok(c) => c.model,
        Err(report) => panic!(
            "{what} was refused:\n{}\n--- spec ---\n{text}",
            report.render(RenderOptions {
                color: false,
                width: 100
            })
        ),
    }
}

/// The history of `models` migrated one after the other (destructive
/// changes allowed), as `palisade generate --allow-destructive` records it
/// after each, with every migration's SQL.
fn chain(
    models: &[&palisade::model::Service],
    texts: &[&str],
) -> (palisade::migrate::History, Vec<String>) {
    let mut history = palisade::migrate::History::default();
    let mut sql = Vec::new();
    for model in models {
        let m = palisade::migrate::next(history, model, true).unwrap_or_else(|refusals| {
            panic!(
                "the migration to this spec is refused with --allow-destructive: {refusals:#?}\n{}",
                specs(texts)
            )
        });
        history = m.history;
        if let Some(n) = m.next {
            history.files.insert(n.record.file(), String::new());
            history.records.push(n.record);
            sql.push(n.sql);
        }
    }
    (history, sql)
}

/// The specs of a case, for a failure message.
fn specs(texts: &[&str]) -> String {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| format!("--- spec {} ---\n{t}", ["A", "B", "C"][i.min(2)]))
        .collect::<Vec<_>>()
        .join("")
}

/// An in-memory database with `sql` applied, each migration as the
/// generated server applies it.
fn migrated(sql: &[String], texts: &[&str]) -> rusqlite::Connection {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    for (i, s) in sql.iter().enumerate() {
        if let Err(e) = palisade::migrate::sqlite::apply(&db, s) {
            panic!(
                "migration {} fails: {e}\n--- migration ---\n{s}\n{}",
                i + 1,
                specs(texts)
            );
        }
    }
    db
}

/// A random spec A, changed twice by random edits into B and C: the
/// migrations of A, B and C, applied one after the other to an empty
/// database, leave the schema C's first migration makes on its own, and C
/// needs no migration after them.
fn changes_migrate_to_the_fresh_schema(a: &specgen::Spec, e1: &[u32], e2: &[u32], style: &[u32]) {
    let b = specgen::mutate(a, e1);
    let c = specgen::mutate(&b, e2);
    let texts = [a.to_yaml(style), b.to_yaml(style), c.to_yaml(style)];
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let models: Vec<palisade::model::Service> = texts
        .iter()
        .zip([
            "spec A (generated)",
            "spec B (mutated A)",
            "spec C (mutated B)",
        ])
        .map(|(t, what)| model_of(t, what))
        .collect();
    let models: Vec<&palisade::model::Service> = models.iter().collect();
    let (history, sql) = chain(&models, &texts);
    let db = migrated(&sql, &texts);
    let (_, fresh_sql) = chain(&models[2..], &texts[2..]);
    let fresh = migrated(&fresh_sql, &texts[2..]);
    let (got, want) = (
        palisade::migrate::sqlite::dump(&db).unwrap(),
        palisade::migrate::sqlite::dump(&fresh).unwrap(),
    );
    if got != want {
        panic!(
            "the migrated schema is not C's fresh one\n--- migrated ---\n{got}--- fresh ---\n{want}--- migrations ---\n{}\n{}",
            sql.join("\n-- next migration\n"),
            specs(&texts)
        );
    }
    let again = palisade::migrate::next(history, models[2], false).unwrap_or_else(|r| {
        panic!(
            "C after its own migration is refused: {r:#?}\n{}",
            specs(&texts)
        )
    });
    assert!(
        again.next.is_none(),
        "C needs another migration after its own: {:#?}\n{}",
        again.next.map(|n| n.changes),
        specs(&texts)
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_spec_changes_migrate_to_the_fresh_schema(
        raw in prop::collection::vec(any::<u32>(), 0..1200),
        e1 in prop::collection::vec(any::<u32>(), 0..200),
        e2 in prop::collection::vec(any::<u32>(), 0..200),
        style in prop::collection::vec(any::<u32>(), 0..300),
    ) {
        let a = specgen::generate(&raw, None);
        changes_migrate_to_the_fresh_schema(&a, &e1, &e2, &style);
    }
}

/// Found by `random_spec_changes_migrate_to_the_fresh_schema`: dropping
/// the global `unique` of a ref field made no migration (the field's
/// `-ref` index has the same columns as its `-unique` one, so the plan
/// recorded no change and counted as empty), and the migrated database
/// kept the unique index.
#[test]
fn dropping_the_unique_of_a_ref_field_is_a_migration() {
    let a = "palisade: 1\nservice: { name: shop }\nauth: { jwt: { algorithm: HS256, secret_env: JWT_SECRET } }\nresources:\n  customer:\n    owner: owner_id\n    fields: { name: { type: string } }\n  invoice:\n    owner: none\n    access: { public: [list] }\n    fields: { customer: { type: ref, resource: customer, unique: global } }\n";
    let b = a.replace(", unique: global", "");
    let texts = [a, b.as_str()];
    let (a, b) = (model_of(texts[0], "A"), model_of(texts[1], "B"));
    let (history, sql) = chain(&[&a, &b], &texts);
    assert_eq!(
        history.records.len(),
        2,
        "a migration drops the unique index"
    );
    let (_, fresh) = chain(&[&b], &texts[1..]);
    assert_eq!(
        palisade::migrate::sqlite::dump(&migrated(&sql, &texts)).unwrap(),
        palisade::migrate::sqlite::dump(&migrated(&fresh, &texts[1..])).unwrap()
    );
}

/// `n` numbers from `seed` and `stream` (splitmix64).
fn numbers(seed: u64, stream: u64, n: usize) -> Vec<u32> {
    let mut state = seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F);
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 32) as u32
        })
        .collect()
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

#[test]
fn random_specs_build() {
    let seed = env_number("PALISADE_RANDOM_SEED").unwrap_or_else(|| {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        now.as_secs() ^ u64::from(now.subsec_nanos()) << 20
    });
    let cases = env_number("PALISADE_RANDOM_CASES").unwrap_or(3);
    eprintln!("random_specs_build: {cases} specs from PALISADE_RANDOM_SEED={seed}");
    for case in 0..cases {
        let started = Instant::now();
        let raw = numbers(seed, 2 * case, 1200);
        let style = numbers(seed, 2 * case + 1, 300);
        let spec = specgen::generate(&raw, Some(&format!("random-spec-{case}")));
        // Two releases later: the spec changed twice by random edits.
        let (e1, e2) = (
            numbers(seed, 1000 + 2 * case, 200),
            numbers(seed, 1001 + 2 * case, 200),
        );
        let b = specgen::mutate(&spec, &e1);
        let c = specgen::mutate(&b, &e2);
        let texts = [spec.to_yaml(&style), b.to_yaml(&style), c.to_yaml(&style)];
        eprintln!(
            "--- case {case} (PALISADE_RANDOM_SEED={seed}) ---\n{}",
            specs(&texts.each_ref().map(String::as_str))
        );
        check(&texts[0], &spec);
        check(&texts[2], &c);
        changes_migrate_to_the_fresh_schema(&spec, &e1, &e2, &style);
        // The project as `palisade generate --allow-destructive` leaves it
        // after each release: C's, with the migrations of A and B frozen.
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(model_of(&texts[0], "spec A").name);
        let mut versions = 0;
        for text in &texts {
            let model = model_of(text, "a spec of the case");
            let previous = out
                .is_dir()
                .then(|| palisade::write::Manifest::read(&out).unwrap())
                .flatten();
            let history = palisade::write::history(&out, previous.as_ref(), &model).unwrap();
            let migrations = palisade::migrate::next(history, &model, true)
                .unwrap_or_else(|r| panic!("refused: {r:#?}\n--- spec ---\n{text}"));
            let project = palisade::generate::generate_migrated(&model, FILE, &migrations);
            versions = project.migrations.len();
            let manifest = palisade::write::Manifest::of(&project, FILE, text.as_bytes());
            palisade::write::write(&project, &manifest, &out, Default::default())
                .expect("project written");
            std::fs::write(out.join(FILE), text).unwrap();
        }
        let text = &texts[2];
        // Each engine's (random specs serve both).
        for dir in ["migrations", "migrations/postgres"] {
            let files = std::fs::read_dir(out.join(dir))
                .unwrap()
                .filter(|e| e.as_ref().unwrap().path().is_file())
                .count();
            assert_eq!(files, versions, "a file per migration in {dir}");
        }
        eprintln!("case {case}: {versions} migrations");
        for args in [
            // --locked: the shipped Cargo.lock fits any service name.
            &["build", "--quiet", "--locked"][..],
            &[
                "clippy",
                "--quiet",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
            &["fmt", "--all", "--check"],
            // The API's security tests (the root's default members).
            &["test", "--quiet", "--test", "security"],
        ] {
            if let Err(output) = cargo(&out, args) {
                // Keep the project for a look.
                let kept = dir.keep();
                panic!(
                    "`cargo {}` failed for case {case} of PALISADE_RANDOM_SEED={seed} (project kept in {}):\n{output}\n--- spec ---\n{text}",
                    args.join(" "),
                    kept.display()
                );
            }
        }
        eprintln!("case {case}: built and tested in {:.0?}", started.elapsed());
    }
}
