//! Generation: the model to the files of a complete axum project.
//!
//! Stage: generate. Input: a [`Service`] model and the spec's file name.
//! Output: a [`Project`], an ordered map of relative path to file contents,
//! each marked generated or user-owned. Invariants: generation cannot fail
//! on a model (a failure here is our bug); output depends only on the
//! model, the spec file name and palisade's version (no clock, no
//! environment, no absolute paths, `\n` endings); Rust is built with quote
//! and printed with prettyplease, other files come from the minijinja
//! templates in `templates/project/`, and the runtime support is copied
//! from `templates/runtime/src/`, where it is compiled and tested.

pub mod example;
pub mod ident;
pub mod openapi;
mod plan;
mod readme;
mod row_security;
pub mod rust;
mod tests;

use std::collections::BTreeMap;

use minijinja::{Environment, context};
use proc_macro2::TokenStream;
use quote::quote;
use serde::Serialize;

use crate::model::{Key, Service};

/// The version written into `@generated` headers.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Who owns a file of the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ownership {
    /// Rewritten by every `palisade generate`; starts with `@generated`.
    Generated,
    /// Created once, then the user's: never overwritten.
    User,
    /// A migration: written once, then never rewritten or removed (a
    /// database may have applied it); `check` reports an edit.
    Migration,
}

/// One file of a generated project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub contents: String,
    pub ownership: Ownership,
}

/// A generated project: relative paths (with `/`) to files, ordered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    pub files: BTreeMap<String, File>,
    /// Every migration, the schema each leaves, for the manifest.
    pub migrations: Vec<crate::migrate::Record>,
    /// The migrations written by earlier runs (not in `files`: they are
    /// never written again), with their hash as palisade wrote them.
    pub frozen: BTreeMap<String, String>,
}

impl Project {
    fn generated(&mut self, path: impl Into<String>, contents: String) {
        self.files.insert(
            path.into(),
            File {
                contents,
                ownership: Ownership::Generated,
            },
        );
    }

    fn user(&mut self, path: impl Into<String>, contents: String) {
        self.files.insert(
            path.into(),
            File {
                contents,
                ownership: Ownership::User,
            },
        );
    }
}

/// The runtime crate's source files, vendored into every project's `runtime/src/`.
const RUNTIME: &[(&str, &str)] = &[
    (
        "access",
        include_str!("../../templates/runtime/src/access.rs"),
    ),
    ("auth", include_str!("../../templates/runtime/src/auth.rs")),
    ("body", include_str!("../../templates/runtime/src/body.rs")),
    (
        "check",
        include_str!("../../templates/runtime/src/check.rs"),
    ),
    ("cli", include_str!("../../templates/runtime/src/cli.rs")),
    ("db", include_str!("../../templates/runtime/src/db.rs")),
    (
        "config",
        include_str!("../../templates/runtime/src/config.rs"),
    ),
    (
        "fields",
        include_str!("../../templates/runtime/src/fields.rs"),
    ),
    (
        "formats",
        include_str!("../../templates/runtime/src/formats.rs"),
    ),
    ("jwks", include_str!("../../templates/runtime/src/jwks.rs")),
    ("page", include_str!("../../templates/runtime/src/page.rs")),
    (
        "postgres",
        include_str!("../../templates/runtime/src/postgres.rs"),
    ),
    (
        "problem",
        include_str!("../../templates/runtime/src/problem.rs"),
    ),
    (
        "resource",
        include_str!("../../templates/runtime/src/resource.rs"),
    ),
    ("lib", include_str!("../../templates/runtime/src/lib.rs")),
    ("row", include_str!("../../templates/runtime/src/row.rs")),
    (
        "server",
        include_str!("../../templates/runtime/src/server.rs"),
    ),
    (
        "service",
        include_str!("../../templates/runtime/src/service.rs"),
    ),
    (
        "testkit",
        include_str!("../../templates/runtime/src/testkit.rs"),
    ),
    (
        "testkit/security",
        include_str!("../../templates/runtime/src/testkit/security.rs"),
    ),
    (
        "throttle",
        include_str!("../../templates/runtime/src/throttle.rs"),
    ),
    (
        "throttle/redis",
        include_str!("../../templates/runtime/src/throttle/redis.rs"),
    ),
];

/// The runtime crate's manifest: its `[dependencies]` are the generated
/// project's, so the two can never disagree.
const RUNTIME_MANIFEST: &str = include_str!("../../templates/runtime/Cargo.toml");

/// The lock file of a project whose dependencies are exactly the runtime's:
/// this repository's resolution of them (the versions its tests build and
/// run), for a package named [`LOCK_ROOT`]. `tests/golden.rs` proves it
/// current and regenerates it (`PALISADE_UPDATE_LOCK=1`).
pub const LOCK: &str = include_str!("../../templates/project/Cargo.lock");
/// The package name of [`LOCK`]'s own package.
pub const LOCK_ROOT: &str = "palisade-project";

/// [`LOCK`] for the workspace of the package `package`: the entries of the
/// template's root package and of its API crate (`<root>-api`) renamed,
/// the root's dependency list re-sorted, and both put where Cargo puts
/// them (by name, then version). When a dependency has the service's name
/// (a service called `url`), Cargo tells the two apart by version: the
/// dependency's bare references become `"url 2.5.8"`, as Cargo writes
/// them. `None` if the template lacks an entry of its own (a broken build).
pub fn lock_file(package: &str) -> Option<String> {
    let start = LOCK.find("[[package]]\n")?;
    let (head, body) = LOCK.split_at(start);
    let field = |block: &str, key: &str| -> String {
        let prefix = format!("{key} = \"");
        block
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap_or_default()
            .to_string()
    };
    let mut blocks: Vec<String> = body
        .split("[[package]]\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| b.trim_end().to_string())
        .collect();
    let (api_root, api) = (format!("{LOCK_ROOT}-api"), format!("{package}-api"));
    let mut take = |name: &str| -> Option<String> {
        let at = blocks.iter().position(|b| field(b, "name") == name)?;
        Some(blocks.remove(at))
    };
    let own_api = take(&api_root)?.replacen(
        &format!("name = \"{api_root}\""),
        &format!("name = \"{api}\""),
        1,
    );
    let own = sorted_dependencies(
        &take(LOCK_ROOT)?
            .replacen(
                &format!("name = \"{LOCK_ROOT}\""),
                &format!("name = \"{package}\""),
                1,
            )
            .replacen(&format!(" \"{api_root}\","), &format!(" \"{api}\","), 1),
    );
    let namesakes: Vec<String> = blocks
        .iter()
        .filter(|b| field(b, "name") == package)
        .map(|b| field(b, "version"))
        .collect();
    let key = |b: &str| (field(b, "name"), version_key(&field(b, "version")));
    for entry in [own, own_api] {
        let own_key = key(&entry);
        let at = blocks
            .iter()
            .position(|b| key(b) > own_key)
            .unwrap_or(blocks.len());
        blocks.insert(at, entry);
    }
    if let [version] = namesakes.as_slice() {
        // One version was referred to by its bare name; now it needs its
        // version.
        let bare = format!(" \"{package}\",");
        let qualified = format!(" \"{package} {version}\",");
        for block in blocks.iter_mut() {
            *block = block
                .lines()
                .map(|l| if l == bare { qualified.as_str() } else { l })
                .collect::<Vec<_>>()
                .join("\n");
        }
    }
    let body: Vec<String> = blocks
        .iter()
        .map(|b| format!("[[package]]\n{b}\n"))
        .collect();
    Some(format!("{head}{}", body.join("\n")))
}

/// `block` with the lines of its `dependencies` list in Cargo's order.
fn sorted_dependencies(block: &str) -> String {
    let mut lines: Vec<&str> = block.lines().collect();
    if let Some(open) = lines.iter().position(|l| *l == "dependencies = [") {
        if let Some(len) = lines[open + 1..].iter().position(|l| *l == "]") {
            lines[open + 1..open + 1 + len].sort();
        }
    }
    lines.join("\n")
}

/// A version's numeric parts, for Cargo's order (`0.10.0` after `0.9.1`);
/// a pre-release or build suffix is left out (none in the template).
fn version_key(version: &str) -> Vec<u64> {
    version
        .split(['-', '+'])
        .next()
        .unwrap_or_default()
        .split('.')
        .map(|n| n.parse().unwrap_or(0))
        .collect()
}

/// The spec's file name as the header comment of every generated file
/// shows it: every byte outside `[A-Za-z0-9._+-]` percent-encoded, so that
/// no name (a newline, `-->`, `*/`, a Unicode line separator) can end the
/// comment and put text of its own into a generated file.
pub fn shown_file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn header(spec_file: &str) -> String {
    format!(
        "// @generated by palisade {VERSION} from {spec_file}. Do not edit: change the spec and run `palisade generate`.\n"
    )
}

fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("a valid syntax configuration"),
    );
    for (name, source) in [
        (
            "Cargo.toml",
            include_str!("../../templates/project/Cargo.toml.j2"),
        ),
        (
            "README.md",
            include_str!("../../templates/project/README.md.j2"),
        ),
        (
            "env.example",
            include_str!("../../templates/project/env.example.j2"),
        ),
        (
            "gitignore",
            include_str!("../../templates/project/gitignore.j2"),
        ),
        (
            "cargo-config.toml",
            include_str!("../../templates/project/cargo-config.toml.j2"),
        ),
        (
            "migration.sql",
            include_str!("../../templates/project/migration.sql.j2"),
        ),
        (
            "postgres-migration.sql",
            include_str!("../../templates/project/postgres-migration.sql.j2"),
        ),
        (
            "hooks.rs",
            include_str!("../../templates/project/hooks.rs.j2"),
        ),
        (
            "api-Cargo.toml",
            include_str!("../../templates/project/api-Cargo.toml.j2"),
        ),
        (
            "main.rs",
            include_str!("../../templates/project/main.rs.j2"),
        ),
        ("lib.rs", include_str!("../../templates/project/lib.rs.j2")),
        (
            "rustfmt.toml",
            include_str!("../../templates/project/rustfmt.toml.j2"),
        ),
    ] {
        env.add_template(name, source)
            .expect("project templates parse");
    }
    env
}

fn render(env: &Environment<'_>, name: &str, ctx: minijinja::Value) -> String {
    env.get_template(name)
        .and_then(|t| t.render(ctx))
        .expect("project templates render")
}

/// The runtime's optional features the spec needs (`features`, for the API
/// crate's manifest) and why (`features_why`): the JWKS key cache when keys
/// come from a key set, the Redis client when limits are shared.
fn runtime_features(service: &Service) -> (Vec<&'static str>, String) {
    let mut features = Vec::new();
    let mut why = Vec::new();
    if engines(service).contains(&"Postgres") {
        features.push("postgres");
        why.push("its PostgreSQL driver (the service may be served from PostgreSQL)");
    }
    if service.auth.key.is_jwks() {
        features.push("jwks");
        why.push("its JWKS key cache (keys come from an identity provider's key set)");
    }
    if service.throttle.redis.is_some() {
        features.push("redis");
        why.push("its Redis client (rate limits are shared in Redis)");
    }
    (features, why.join(" and\n# "))
}

/// The engines the service may be served from, as the runtime's
/// `db::Engine` variants name them.
fn engines(service: &Service) -> Vec<&'static str> {
    let mut engines = Vec::new();
    if service.engines.serves(crate::model::Engine::Sqlite) {
        engines.push("Sqlite");
    }
    if service.engines.serves(crate::model::Engine::Postgres) {
        engines.push("Postgres");
    }
    engines
}

/// The runtime crate's version (`runtime/Cargo.toml`), which the generated
/// API crate requires exactly.
pub fn runtime_version() -> &'static str {
    RUNTIME_MANIFEST
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("the runtime manifest has a version")
}

/// The crates the generated API code names itself, with the runtime's
/// requirement for each (so the two always resolve to one version).
const API_DEPENDENCIES: &[&str] = &["axum", "serde", "serde_json", "sqlx", "uuid"];

/// The `[dependencies]` lines of the API crate: the runtime's own line for
/// each of [`API_DEPENDENCIES`].
fn api_dependencies() -> String {
    let start = RUNTIME_MANIFEST
        .find("[dependencies]\n")
        .expect("runtime manifest has dependencies");
    let table = &RUNTIME_MANIFEST[start..];
    let table = &table[..table[1..].find("\n[").map_or(table.len(), |i| i + 1)];
    API_DEPENDENCIES
        .iter()
        .map(|name| {
            table
                .lines()
                .find(|l| l.starts_with(&format!("{name} = ")))
                .expect("the runtime depends on every crate the API names")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Generates a new project for `service`, whose spec is `spec_file`: its
/// first migration creates the schema.
pub fn generate(service: &Service, spec_file: &str) -> Project {
    let migrations = crate::migrate::next(crate::migrate::History::default(), service, false)
        .expect("a first migration is never refused");
    generate_migrated(service, spec_file, &migrations)
}

/// Generates the project for `service`, whose spec is `spec_file`, with
/// its `migrations` (the history, and the next migration if one is due).
pub fn generate_migrated(
    service: &Service,
    spec_file: &str,
    migrations: &crate::migrate::Migrations,
) -> Project {
    let spec_file = &shown_file_name(spec_file);
    let mut project = Project::default();
    let env = templates();
    let auth = &service.auth;
    let hmac = auth.hmac();
    // A newcomer's README makes a secret as long as the algorithm's hash
    // (RFC 7518 3.2), in hex; for public-key algorithms, a local
    // development key pair with these `openssl genpkey` arguments.
    let first = auth.algorithms[0];
    let genpkey = first.genpkey().unwrap_or_default();
    // Tokens of the provider's own keys cannot be minted here.
    let dev_token = match &auth.key {
        Key::Secret { .. } => Some("cargo run -q -- dev-token"),
        Key::JwksUrl { .. } | Key::Discovery { .. } => None,
        _ => Some("cargo run -q -- dev-token --private-key dev-key.pem"),
    };
    let (jwks_url, issuer) = match &auth.key {
        Key::JwksUrl { url } => (Some(url.as_str()), None),
        Key::Discovery { issuer } => (None, Some(issuer.as_str())),
        _ => (None, None),
    };
    let base = context! {
        version => VERSION,
        spec_file => spec_file,
        name => &service.name,
        description => &service.description,
        algorithm => auth.algorithm_names(),
        key_kind => auth.key.spec_key(),
        key_env => auth.key.env(),
        jwks_url => jwks_url,
        issuer => issuer,
        hmac => hmac,
        jwks => auth.key.is_jwks(),
        secret_bytes => first.min_secret_bytes(),
        genpkey => genpkey,
        redis_env => service.throttle.redis.as_ref().map(|r| r.url_env.as_str()),
        on_error => service.throttle.redis.as_ref().map(|r| r.on_error.name()),
        field_rules => service
            .resources
            .iter()
            .any(|r| r.fields().any(|c| c.read.is_some() || c.write.is_some())),
        postgres => engines(service).contains(&"Postgres"),
        sqlite => engines(service).contains(&"Sqlite"),
    };

    let package = ident::package(&service.name);
    let api_package = format!("{package}-api");
    let api_krate = ident::internal(&api_package.replace('-', "_"));
    let workspace = context! {
        package => &package,
        api_package => &api_package,
        api_krate => api_krate.to_string(),
        krate => ident::krate(&service.name).to_string(),
        runtime_version => runtime_version(),
        ..base.clone()
    };
    // The team's: created once, then never rewritten or compared.
    project.user("Cargo.toml", render(&env, "Cargo.toml", workspace.clone()));
    project.user("src/main.rs", render(&env, "main.rs", workspace.clone()));
    project.user("src/lib.rs", render(&env, "lib.rs", workspace.clone()));
    project.user(".gitignore", render(&env, "gitignore", base.clone()));
    // The versions this repository builds and tests, for the first build;
    // the project's own from then on (cargo updates it, palisade never does).
    if let Some(lock) = lock_file(&package) {
        project.user("Cargo.lock", lock);
    }
    let (features, features_why) = runtime_features(service);
    project.generated(
        "api/Cargo.toml",
        render(
            &env,
            "api-Cargo.toml",
            context! { dependencies => api_dependencies(), features => features, features_why => features_why, ..workspace.clone() },
        ),
    );
    project.generated(
        "api/rustfmt.toml",
        render(&env, "rustfmt.toml", base.clone()),
    );
    project.generated(
        ".cargo/config.toml",
        render(&env, "cargo-config.toml", base.clone()),
    );
    project.generated(".env.example", render(&env, "env.example", base.clone()));
    if let Some(next) = &migrations.next {
        let header = if next.record.version == 1 {
            render(&env, "migration.sql", base.clone())
        } else {
            migration_header(spec_file, &service.name, next)
        };
        project.files.insert(
            next.record.file(),
            File {
                contents: format!("{header}{}", next.sql),
                ownership: Ownership::Migration,
            },
        );
    }
    if let Some(postgres) = &migrations.postgres {
        let header = match &migrations.next {
            Some(next) if !postgres.baseline && next.record.version > 1 => {
                postgres_migration_header(spec_file, &service.name, next)
            }
            _ => render(
                &env,
                "postgres-migration.sql",
                context! { baseline => postgres.baseline.then_some(postgres.version), ..base.clone() },
            ),
        };
        project.files.insert(
            postgres.file.clone(),
            File {
                contents: format!("{header}{}", postgres.sql),
                ownership: Ownership::Migration,
            },
        );
    }
    project.migrations = migrations.records().into_iter().cloned().collect();
    project.frozen = migrations.history.files.clone();
    project.generated("README.md", render(&env, "README.md", context! { resources => minijinja::Value::from(minijinja::value::Serde(readme_resources(service))), session => minijinja::Value::from(minijinja::value::Serde(readme::session(service, dev_token))), ..workspace.clone() }));
    // The three large outputs are independent: the security tests and the
    // OpenAPI document are made on threads of their own while the resource
    // modules are printed (themselves on every core), so no core idles
    // through a serial stage. Each thread builds its own tokens (they are
    // not `Send`) and the bytes do not depend on the scheduling.
    // The module of each resource, named once for every file that names it.
    let modules = ident::modules(service.resources.iter().map(|r| r.name.as_str()));
    let (security_tests, openapi, printed) = std::thread::scope(|scope| {
        let security_tests = scope.spawn(|| {
            // The tests name the generated API crate.
            let tests_view = Service {
                name: api_package.replace('-', "_"),
                ..service.clone()
            };
            tests::security_tests(&tests_view, &modules)
        });
        let openapi = scope.spawn(|| openapi::text(service, VERSION));
        let printed = resource_modules(service, &modules);
        let join = "generation threads do not panic";
        (
            security_tests.join().expect(join),
            openapi.join().expect(join),
            printed,
        )
    });
    project.generated("openapi.json", openapi);

    let head = header(spec_file);
    // The API crate is not formatted by rustfmt (`api/rustfmt.toml`): its
    // files are prettyplease's, so `cargo fmt` can never make them drift.
    project.generated("api/tests/security.rs", format!("{head}{security_tests}"));
    project.generated(
        "api/src/lib.rs",
        format!(
            "{head}{}",
            rust::print(api_lib(service, &modules, migrations))
        ),
    );
    if service.engines.serves(crate::model::Engine::Postgres) {
        project.generated(
            "api/src/row_security.sql",
            row_security::sql(service, &sql_header(spec_file)),
        );
    }
    let hooks = hook_files(&modules);
    for ((((resource, module), code), hook), file) in service
        .resources
        .iter()
        .zip(&modules)
        .zip(printed)
        .zip(&hooks)
        .zip(api_files(&modules))
    {
        project.generated(format!("api/src/{file}.rs"), format!("{head}{code}"));
        project.user(
            format!("src/hooks/{hook}.rs"),
            render(&env, "hooks.rs", context! { resource => &resource.name, module => module, file => &file, ..workspace.clone() }),
        );
    }
    project.generated(
        "src/hooks/mod.rs",
        format!("{head}{}", rust::print(hooks_mod(&modules, &api_krate))),
    );

    // The runtime crate, vendored at its version; `cargo fmt` leaves it as
    // it is too (a team's own rustfmt.toml cannot make it drift).
    project.generated(
        "runtime/Cargo.toml",
        format!(
            "# @generated by palisade {VERSION} from {spec_file}. Do not edit: change the spec and run `palisade generate`.\n{RUNTIME_MANIFEST}"
        ),
    );
    project.generated(
        "runtime/rustfmt.toml",
        render(&env, "rustfmt.toml", base.clone()),
    );
    for (name, source) in RUNTIME {
        project.generated(format!("runtime/src/{name}.rs"), format!("{head}{source}"));
    }
    project
}

/// The header of a generated SQL file that is rewritten when the spec
/// changes.
fn sql_header(spec_file: &str) -> String {
    format!(
        "-- @generated by palisade {VERSION} from {spec_file}. Do not edit: change the spec and run `palisade generate`.\n"
    )
}

/// The header of a migration after the first: what made it, that it is
/// never rewritten, and what it changes.
fn migration_header(spec_file: &str, service: &str, next: &crate::migrate::Next) -> String {
    let mut out = format!(
        "-- @generated by palisade {VERSION} from {spec_file}. Never edited and never rewritten: change the spec and run `palisade generate` for the next migration.\n-- Migration {} of {service}, applied by the server at start-up in one transaction\n-- (foreign keys checked before it commits). It changes:\n",
        next.record.version
    );
    for change in &next.changes {
        out.push_str(&format!(
            "--   {} ({})\n",
            change.what,
            change.class.describe()
        ));
    }
    out
}

/// The header of a PostgreSQL migration after the first: the SQLite
/// header's, with how PostgreSQL applies it.
fn postgres_migration_header(
    spec_file: &str,
    service: &str,
    next: &crate::migrate::Next,
) -> String {
    let mut out = format!(
        "-- @generated by palisade {VERSION} from {spec_file}. Never edited and never rewritten: change the spec and run `palisade generate` for the next migration.\n-- Migration {} of {service} on PostgreSQL, applied by the server at start-up in one transaction\n-- under an advisory lock (so replicas that start together apply it once). It changes:\n",
        next.record.version
    );
    for change in &next.changes {
        out.push_str(&format!(
            "--   {} ({})\n",
            change.what,
            change.class.describe()
        ));
    }
    out
}

/// The printed module of every resource, in spec order. Parsing and
/// printing dominate generation and each module is independent, so they
/// are spread over the available cores; token streams are not `Send`, so
/// each thread builds its own from the model, and the output is the same
/// bytes whatever the number of threads.
fn resource_modules(service: &Service, modules: &[String]) -> Vec<String> {
    let count = service.resources.len();
    let batch = |indices: Vec<usize>| -> Vec<(usize, String)> {
        indices
            .into_iter()
            .map(|i| {
                let plan = plan::ResourcePlan::new(service, i, modules);
                (i, rust::resource_module(&plan))
            })
            .collect()
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(count);
    let mut printed: Vec<(usize, String)> = if threads <= 1 || count < 4 {
        batch((0..count).collect())
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let batch = &batch;
                    scope.spawn(move || batch((t..count).step_by(threads).collect()))
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("module generation does not panic"))
                .collect()
        })
    };
    printed.sort_by_key(|(i, _)| *i);
    printed.into_iter().map(|(_, code)| code).collect()
}

fn api_lib(
    service: &Service,
    modules: &[String],
    migrations: &crate::migrate::Migrations,
) -> TokenStream {
    let files = api_files(modules);
    let modules: Vec<syn::Ident> = modules.iter().map(|m| ident::module(m)).collect();
    let auth = &service.auth;
    let algorithms = auth.algorithms.iter().map(|a| ident::internal(a.name()));
    let keys = match &auth.key {
        Key::Secret { env } => quote!(KeySource::Secret(#env)),
        Key::PublicKey { env } => quote!(KeySource::PublicKey(#env)),
        Key::JwksUrl { url } => quote!(KeySource::JwksUrl(#url)),
        Key::JwksUrlEnv { env } => quote!(KeySource::JwksUrlEnv(#env)),
        Key::Discovery { .. } => quote!(KeySource::Discovery),
    };
    let opt = |v: &Option<String>| match v {
        Some(s) => quote!(Some(#s)),
        None => quote!(None),
    };
    let (issuer, audience, roles_claim) = (
        opt(&auth.issuer),
        opt(&auth.audience),
        opt(&auth.roles_claim),
    );
    let leeway = u64::from(auth.leeway_seconds);
    let user_claim = &auth.user_claim;
    let tenant = service.tenant_claims();
    let rate = |r: crate::spec::Rate| {
        let (c, p) = (r.count, r.per.seconds());
        quote!(Rate::new(#c, #p))
    };
    let (anon, user) = (rate(service.throttle.anon), rate(service.throttle.user));
    let hops = service.throttle.trust_proxy_hops;
    let redis = match &service.throttle.redis {
        None => quote!(None),
        Some(r) => {
            let url_env = &r.url_env;
            let on_error = ident::internal(match r.on_error {
                crate::spec::OnError::Local => "Local",
                crate::spec::OnError::Open => "Open",
                crate::spec::OnError::Closed => "Closed",
            });
            quote!(Some(::palisade_runtime::throttle::RedisSettings { url_env: #url_env, on_error: ::palisade_runtime::throttle::OnError::#on_error }))
        }
    };
    let max_body = service.limits.max_body_bytes as usize;
    let timeout = u64::from(service.limits.request_timeout_seconds);
    let header_timeout = u64::from(service.limits.header_read_timeout_seconds);
    let idle_timeout = u64::from(service.limits.idle_timeout_seconds);
    let max_connections = service.limits.max_connections as usize;
    let cors = match &service.cors {
        None => quote!(None),
        Some(c) => {
            let origins: Vec<String> = c.origins.iter().map(ToString::to_string).collect();
            let methods: Vec<&str> = c.methods.iter().map(|m| m.as_str()).collect();
            let credentials = c.credentials;
            let age = u64::from(c.max_age_seconds.unwrap_or(0));
            quote!(Some(::palisade_runtime::server::CorsSettings { origins: &[#(#origins),*], credentials: #credentials, methods: &[#(#methods),*], max_age_seconds: #age }))
        }
    };
    let name = &service.name;
    let database = format!("sqlite://{name}.db?mode=rwc");
    // Each engine's files, in order. SQLite's are always there: the
    // project's own tests run on an in-memory SQLite database.
    let list = |records: Vec<&crate::migrate::Record>,
                file: fn(&crate::migrate::Record) -> String| {
        let items = records.into_iter().map(|m| {
            let version = proc_macro2::Literal::u32_unsuffixed(m.version);
            let (name, file) = (&m.name, format!("../../{}", file(m)));
            quote!(Migration { version: #version, name: #name, sql: include_str!(#file) })
        });
        quote!(&[#(#items),*])
    };
    let sqlite = list(migrations.records(), crate::migrate::Record::file);
    let postgres = list(
        migrations.postgres_records(),
        crate::migrate::Record::postgres_file,
    );
    let row_security = if service.engines.serves(crate::model::Engine::Postgres) {
        quote!(include_str!("row_security.sql"))
    } else {
        quote!("")
    };
    let engines = engines(service)
        .into_iter()
        .map(|e| syn::Ident::new(e, proc_macro2::Span::call_site()));
    let merges = modules.iter().map(|m| quote!(.merge(#m::routes(app))));
    // A resource named `api` is the module `api::api`; `::axum` stays the
    // crate when a resource is named `axum`.
    let declarations = modules.iter().zip(files).map(|(m, file)| {
        let path = (m.to_string().trim_start_matches("r#") != file).then(|| {
            let path = format!("{file}.rs");
            quote!(#[path = #path])
        });
        quote!(#path pub mod #m;)
    });
    let bounds: Vec<TokenStream> = modules.iter().map(|m| quote!(#m::Hooks)).collect();
    let table_fields = modules
        .iter()
        .map(|m| quote!(#m: ::palisade_runtime::resource::HookFns<#m::Row>));
    let table_values = modules.iter().map(|m| quote!(#m: #m::hooks::<H>()));
    let doc = format!(" The `{name}` API.");
    let description = service
        .description
        .as_deref()
        .map(rust::description)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let d = format!(" {d}");
            quote!(#![doc = ""] #![doc = #d])
        });
    quote! {
        #![doc = #doc]
        #description
        //!
        //! Generated by palisade from the spec: the service's settings, its
        //! migrations, one module per resource and the router. The team's
        //! code (hooks, routes of its own, `main`) lives in the package
        //! above; this crate is regenerated, never edited.

        use ::axum::Router;
        use ::palisade_runtime::auth::{Algorithm, AuthSettings, KeySource};
        use ::palisade_runtime::db::Engine;
        use ::palisade_runtime::server::{App, Migration, Migrations, Settings};
        use ::palisade_runtime::throttle::Rate;
        use ::palisade_runtime::Service;

        #(#declarations)*

        /// The team's business logic: every resource's `Hooks`, implemented
        /// for one type in the service's `src/hooks/`.
        pub trait Hooks: #(#bounds)+* {}

        impl<H: #(#bounds)+*> Hooks for H {}

        /// Everything the spec says about the service as a whole.
        pub static SETTINGS: Settings = Settings {
            service: #name,
            default_database_url: #database,
            auth: AuthSettings {
                algorithms: &[#(Algorithm::#algorithms),*],
                keys: #keys,
                issuer: #issuer,
                audience: #audience,
                leeway_seconds: #leeway,
                user_claim: #user_claim,
                roles_claim: #roles_claim,
                tenant_claims: &[#(#tenant),*],
            },
            anon_rate: #anon,
            user_rate: #user,
            trust_proxy_hops: #hops,
            redis: #redis,
            max_body_bytes: #max_body,
            request_timeout_seconds: #timeout,
            header_read_timeout_seconds: #header_timeout,
            idle_timeout_seconds: #idle_timeout,
            max_connections: #max_connections,
            cors: #cors,
            engines: &[#(Engine::#engines),*],
        };

        /// The schema, each engine's migrations applied in order at
        /// start-up, and the row-level security policies on PostgreSQL.
        pub static MIGRATIONS: Migrations = Migrations { sqlite: #sqlite, postgres: #postgres, row_security: #row_security };

        /// The team's hooks of every resource, as the handlers call them.
        struct HookTable {
            #(#table_fields,)*
        }

        /// Every route the spec grants, and no other.
        pub fn routes(app: &App) -> Router<App> {
            // A service built with another table fails here, at start-up,
            // not in a request.
            let _ = app.hooks::<HookTable>();
            Router::new() #(#merges)*
        }

        /// The service as the spec declares it, with the hooks of `H`: what
        /// the team's `main` extends and runs.
        pub fn service<H: Hooks>() -> Service {
            let hooks = HookTable {
                #(#table_values,)*
            };
            Service::new(&SETTINGS, &MIGRATIONS, routes, hooks)
        }
    }
}

/// The file stem of each resource's hook file in `src/hooks/`: its module's
/// name, except that a resource named `mod` cannot have `src/hooks/mod.rs`
/// (the hooks module's own file): it gets `_mod`, a name no resource can
/// have (they start with a letter), so it never changes with the others.
fn hook_files(modules: &[String]) -> Vec<String> {
    files_avoiding(modules, &["mod"])
}

/// The file stem of each resource's module in `api/src/`: its name, except
/// that `lib.rs` is the crate's root and `main.rs` would be taken for a
/// binary: those are `_lib` and `_main`.
pub fn api_files(modules: &[String]) -> Vec<String> {
    files_avoiding(modules, &["lib", "main"])
}

/// Each module's file stem (its name without `r#`), a name of `taken`
/// prefixed with `_`.
fn files_avoiding(modules: &[String], taken: &[&str]) -> Vec<String> {
    modules
        .iter()
        .map(|m| {
            let stem = m.trim_start_matches("r#").to_string();
            if taken.contains(&stem.as_str()) {
                format!("_{stem}")
            } else {
                stem
            }
        })
        .collect()
}

fn hooks_mod(modules: &[String], api: &syn::Ident) -> TokenStream {
    // rustfmt formats this module (it is the parent of user files), and
    // orders `mod` items by name: so do we, or `cargo fmt` would rewrite it.
    let mut mods: Vec<(&String, String)> = modules.iter().zip(hook_files(modules)).collect();
    mods.sort_by_key(|(m, _)| m.trim_start_matches("r#").to_string());
    // A resource named `hooks` is the module `hooks::hooks`.
    let mods = mods.into_iter().map(|(m, file)| {
        let m = ident::module(m);
        let inception = (m == "hooks").then(|| quote!(#[allow(clippy::module_inception)]));
        let path = (m.to_string().trim_start_matches("r#") != file).then(|| {
            let path = format!("{file}.rs");
            quote!(#[path = #path])
        });
        quote!(#inception #path pub mod #m;)
    });
    quote! {
        //! Business logic: one file per resource, each created once by
        //! palisade and then yours (it is never overwritten). This module
        //! only declares them, and is regenerated with the spec.

        #(#mods)*

        /// The type your hooks are implemented for.
        pub struct Custom;

        /// The service as the spec declares it, with your hooks: what
        /// `main` extends and runs.
        #[rustfmt::skip]
        pub fn service() -> palisade_runtime::Service {
            #api::service::<Custom>()
        }
    }
}

#[derive(Serialize)]
struct ReadmeOperation {
    method: &'static str,
    path: String,
    who: String,
}

#[derive(Serialize)]
struct ReadmeResource {
    operations: Vec<ReadmeOperation>,
}

fn readme_resources(service: &Service) -> Vec<ReadmeResource> {
    service
        .resources
        .iter()
        .map(|r| ReadmeResource {
            operations: r
                .operations
                .iter()
                .map(|o| {
                    let mut who: Vec<String> = Vec::new();
                    if o.grants.owner {
                        who.push("owner (own rows)".into());
                    }
                    who.extend(o.grants.roles.iter().map(|r| format!("`{r}` (all rows)")));
                    if o.grants.public {
                        who.push("anyone".into());
                    }
                    ReadmeOperation {
                        method: o.method.as_str(),
                        path: o.path.clone(),
                        who: who.join(", "),
                    }
                })
                .collect(),
        })
        .collect()
}
