//! Validation: the meaning of a spec.
//!
//! Stage: validate. Input: a [`Parsed`] spec (typed values plus the tree
//! they came from), or, when the structure is broken, the parts of the spec
//! that are sound ([`PartialSpec`]) with the [`Trust`] that says which they
//! are. Output: every semantic diagnostic of SPEC.md section 2, each pointing
//! at the key or value that causes it. Invariants: a spec with no error here
//! can be lowered into a [`crate::model::Service`] without failing (the
//! model relies on every check below); a check runs only when every part it
//! reads is sound, so no semantic error is ever caused by a structural one.

use std::collections::{HashMap, HashSet};

use crate::diagnostic::{Code, Diagnostic};
use crate::parse::{Parsed, Trust, quoted_list};
use crate::source::Span;
use crate::spec::{
    self, Access, Algorithm, Field, FieldType, Operation, Origin, Owner, PartialResource,
    PartialSpec, Unique,
};
use crate::suggest::{did_you_mean, name_fix};
use crate::yaml::{Node, Step, Value, non_finite_text};

/// Names of the columns every resource gets from the server.
pub const SERVER_COLUMNS: [&str; 3] = ["id", "created_at", "updated_at"];

/// Crate names that cannot be a service's name: Rust's own crates and the
/// generated project's dependencies.
const RESERVED_CRATE_NAMES: &[&str] = &[
    // The vendored runtime crate of every generated workspace.
    "palisade_runtime",
    "std",
    "core",
    "alloc",
    "proc_macro",
    "test",
    "self",
    "axum",
    "tokio",
    "tower",
    "tower_http",
    "tower-http",
    "sqlx",
    "serde",
    "serde_json",
    "jsonwebtoken",
    "uuid",
    "tracing",
    "tracing_subscriber",
    "tracing-subscriber",
    "governor",
    "regex",
    "time",
    "hyper",
    "http",
];

/// The query parameters of every list, with what they do; a filter is a
/// query parameter named like its field, so it cannot take these names.
const LIST_PARAMETERS: &[(&str, &str)] = &[
    ("limit", "page size"),
    ("sort", "sort order"),
    ("cursor", "next-page cursor"),
];

/// JWT claims that hold times, different in every token; never an owner.
const TIME_CLAIMS: &[&str] = &["exp", "nbf", "iat"];

/// Paths the generated server serves itself.
const RESERVED_PATHS: &[&str] = &["health", "openapi", "openapi.json"];

/// Whether a path of required refs leads from `at` back to `start`
/// through resources at or after `start`; the path (resource, field of
/// its ref) is left in `path`.
fn cycle_from<'a>(
    edges: &[Vec<(&'a str, usize)>],
    start: usize,
    at: usize,
    path: &mut Vec<(usize, &'a str)>,
    seen: &mut Vec<bool>,
) -> bool {
    seen[at] = true;
    for &(field, target) in &edges[at] {
        path.push((at, field));
        if target == start
            || (target > start && !seen[target] && cycle_from(edges, start, target, path, seen))
        {
            return true;
        }
        path.pop();
    }
    false
}

/// Checks the meaning of `parsed`; returns every diagnostic, errors and warnings.
pub fn validate(parsed: &Parsed) -> Vec<Diagnostic> {
    validate_partial(
        &PartialSpec::complete(&parsed.spec),
        &parsed.root,
        &Trust::complete(),
    )
}

/// Checks the meaning of the sound parts of a spec: every check whose
/// inputs `trust` vouches for.
pub fn validate_partial(spec: &PartialSpec, root: &Node, trust: &Trust<'_>) -> Vec<Diagnostic> {
    // Resources are looked up by name for every diagnostic location; a
    // spec may have a thousand of them.
    let resource_nodes = match root.get("resources").map(|n| &n.value) {
        Some(Value::Map(entries)) => entries.iter().map(|e| (e.key.as_str(), &e.value)).collect(),
        _ => HashMap::new(),
    };
    let mut v = Validator {
        root,
        resource_nodes,
        spec,
        trust,
        out: Vec::new(),
    };
    v.version();
    v.service();
    v.auth();
    v.roles();
    v.cors();
    v.throttle();
    v.limits();
    v.database();
    v.resources();
    v.out
}

/// The diagnostic of the format version, when it is not 1.
fn version_error(written: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::UnsupportedVersion,
        format!("format version {written} is not supported; this palisade reads version 1"),
    )
    .at(span, "expected `1`")
    .with_help("write `palisade: 1`")
}

/// The diagnostic of a numeric setting outside its real bounds (see
/// `spec::MAX_LEEWAY_SECONDS` and its neighbours), or `None` when `value`
/// is within them or `path` is not such a setting. The structural pass
/// uses it for values the schema's `minimum`/`maximum` refuse, and the
/// semantic checks below for the same settings, so that each has one
/// message that states the real limit.
pub(crate) fn bound_error(
    path: &[String],
    value: f64,
    written: &str,
    span: Span,
) -> Option<Diagnostic> {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let (key, least, most): (&str, f64, f64) = match p.as_slice() {
        ["palisade"] => {
            return (value != 1.0).then(|| version_error(written, span));
        }
        ["auth", "jwt", "leeway_seconds"] => {
            ("leeway_seconds", 0.0, spec::MAX_LEEWAY_SECONDS.into())
        }
        ["cors", "max_age_seconds"] => ("max_age_seconds", 0.0, spec::MAX_PREFLIGHT_SECONDS.into()),
        ["throttle", "trust_proxy_hops"] => {
            ("trust_proxy_hops", 0.0, spec::MAX_TRUST_PROXY_HOPS.into())
        }
        ["limits", key @ ("default_page_size" | "max_page_size")] => {
            (key, 1.0, spec::PAGE_SIZE_LIMIT.into())
        }
        ["limits", "request_timeout_seconds"] => (
            "request_timeout_seconds",
            1.0,
            spec::MAX_REQUEST_TIMEOUT_SECONDS.into(),
        ),
        ["limits", "header_read_timeout_seconds"] => (
            "header_read_timeout_seconds",
            1.0,
            spec::MAX_HEADER_READ_TIMEOUT_SECONDS.into(),
        ),
        ["limits", "idle_timeout_seconds"] => (
            "idle_timeout_seconds",
            1.0,
            spec::MAX_IDLE_TIMEOUT_SECONDS.into(),
        ),
        ["limits", "max_connections"] => {
            ("max_connections", 1.0, spec::MAX_CONNECTIONS_LIMIT.into())
        }
        ["limits", "max_body"] => ("max_body", 1.0, spec::MAX_BODY_LIMIT as f64),
        ["resources", _, "fields", _, "max_length"] => ("max_length", 1.0, u32::MAX.into()),
        _ => return None,
    };
    if value >= least && value <= most {
        return None;
    }
    let too_large = value > most;
    let d = match key {
        "leeway_seconds" if too_large => Diagnostic::error(
            Code::InvalidLimit,
            format!("a leeway of {written} seconds keeps expired tokens alive too long; at most {most} is allowed"),
        )
        .at(span, "too large")
        .with_help("clock skew between servers is seconds, not minutes: 30 is plenty"),
        "max_age_seconds" if too_large => Diagnostic::error(
            Code::InvalidLimit,
            format!("`max_age_seconds: {written}` is more than a day; browsers cap it far lower"),
        )
        .at(span, format!("at most {most}"))
        .with_help("600 (ten minutes) is a common choice"),
        "trust_proxy_hops" if too_large => Diagnostic::error(
            Code::InvalidLimit,
            format!("{written} trusted proxy hops is not a real deployment; at most {most} is allowed"),
        )
        .at(span, "too many"),
        "max_body" => Diagnostic::error(
            Code::InvalidLimit,
            format!("`max_body: {written}` must be between 1 byte and 64MiB"),
        )
        .at(span, "out of range"),
        "max_length" if value == 0.0 => Diagnostic::error(
            Code::InvalidLimit,
            "`max_length: 0` admits only the empty string",
        )
        .at(span, "zero"),
        "max_length" => Diagnostic::error(
            Code::InvalidLimit,
            format!("`max_length: {written}` must be at least 1"),
        )
        .at(span, "out of range"),
        _ => Diagnostic::error(
            Code::InvalidLimit,
            format!("`{key}: {written}` must be between {least} and {most}"),
        )
        .at(span, "out of range"),
    };
    Some(d)
}

struct Validator<'a> {
    root: &'a Node,
    /// The node of each resource, by name.
    resource_nodes: HashMap<&'a str, &'a Node>,
    spec: &'a PartialSpec,
    trust: &'a Trust<'a>,
    out: Vec<Diagnostic>,
}

/// Builds a path of steps from string keys and indexes.
macro_rules! path {
    ($($step:expr),* $(,)?) => { &[$(Step::from($step)),*][..] };
}

impl<'a> From<&'a str> for Step<'a> {
    fn from(k: &'a str) -> Step<'a> {
        Step::Key(k)
    }
}

impl<'a> From<&'a String> for Step<'a> {
    fn from(k: &'a String) -> Step<'a> {
        Step::Key(k)
    }
}

impl From<usize> for Step<'_> {
    fn from(i: usize) -> Self {
        Step::Index(i)
    }
}

pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// "1 character", "2 characters".
fn characters(n: usize) -> String {
    if n == 1 {
        "1 character".to_string()
    } else {
        format!("{n} characters")
    }
}

impl<'a> Validator<'a> {
    /// Where to start looking for `path`: the root, or the resource it
    /// names, and the steps that remain.
    fn start<'p>(&self, path: &'p [Step<'p>]) -> (&'a Node, &'p [Step<'p>]) {
        if let [Step::Key("resources"), Step::Key(name), rest @ ..] = path {
            if let Some(node) = self.resource_nodes.get(name) {
                return (node, rest);
            }
        }
        (self.root, path)
    }

    fn node(&self, path: &[Step<'_>]) -> Option<&'a Node> {
        let (mut node, path) = self.start(path);
        for step in path {
            node = node.step(*step)?;
        }
        Some(node)
    }

    /// The span of the value at `path`, or of the nearest ancestor present.
    fn value(&self, path: &[Step<'_>]) -> Span {
        let (mut node, path) = self.start(path);
        for step in path {
            match node.step(*step) {
                Some(next) => node = next,
                None => break,
            }
        }
        node.span
    }

    /// The span of the key at the end of `path` (the value's span when the
    /// path ends in a list index).
    fn key(&self, path: &[Step<'_>]) -> Span {
        match path.split_last() {
            Some((Step::Key(k), parent)) => match self.node(parent).and_then(|n| n.entry(k)) {
                Some(entry) => entry.key_span,
                None => self.value(parent),
            },
            _ => self.value(path),
        }
    }

    /// The value at `path` can be trusted (see [`Trust::sound`]).
    fn sound(&self, path: &[Step<'_>]) -> bool {
        self.trust.sound(path)
    }

    /// The value at `path` and everything in it can be trusted.
    fn clean(&self, path: &[Step<'_>]) -> bool {
        self.trust.clean(path)
    }

    fn push(&mut self, d: Diagnostic) {
        self.out.push(d);
    }

    /// The names of the resources (known even when a resource is broken).
    fn resource_names(&self) -> Vec<&str> {
        self.spec
            .resources
            .iter()
            .flat_map(|r| r.keys().map(String::as_str))
            .collect()
    }

    fn version(&mut self) {
        if let Some(version) = self.spec.palisade {
            let span = self.value(path!["palisade"]);
            if let Some(d) = bound_error(
                &["palisade".to_string()],
                f64::from(version),
                &version.to_string(),
                span,
            ) {
                self.push(d);
            }
        }
    }

    fn service(&mut self) {
        let Some(service) = &self.spec.service else {
            return;
        };
        let name = &service.name;
        let normalised = name.replace('-', "_");
        if RESERVED_CRATE_NAMES.contains(&name.as_str())
            || RESERVED_CRATE_NAMES.contains(&normalised.as_str())
        {
            let d = Diagnostic::error(
                Code::ReservedName,
                format!("`{name}` cannot be the service name: the generated crate would clash with a crate of the same name"),
            )
            .at(self.value(path!["service", "name"]), "reserved crate name")
            .with_help(format!("choose another name, such as `{name}-api`"));
            self.push(d);
        }
    }

    fn auth(&mut self) {
        let Some(auth) = &self.spec.auth else {
            return;
        };
        let jwt = &auth.jwt;
        self.jwt_keys(jwt);
        for (key, value) in [("issuer", &jwt.issuer), ("audience", &jwt.audience)] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                let d = Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{key}` is empty; an empty {key} would match nothing"),
                )
                .at(self.value(path!["auth", "jwt", key]), "empty")
                .with_help(format!(
                    "give the expected `{}` value or remove the key",
                    if key == "issuer" { "iss" } else { "aud" }
                ));
                self.push(d);
            }
        }
        if let Some(leeway) = jwt.leeway_seconds {
            let p = path!["auth", "jwt", "leeway_seconds"];
            let names = ["auth", "jwt", "leeway_seconds"].map(String::from);
            if let Some(d) = bound_error(&names, leeway.into(), &leeway.to_string(), self.value(p))
            {
                self.push(d);
            }
        }
        for (key, value) in [
            ("user_claim", &auth.user_claim),
            ("roles_claim", &auth.roles_claim),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                let d = Diagnostic::error(
                    Code::InvalidClaim,
                    format!("`{key}` is empty; it must name a claim of the token"),
                )
                .at(self.value(path!["auth", key]), "empty");
                self.push(d);
            } else if let Some(Err(why)) = value.as_deref().map(spec::claim_pointer) {
                let d = Diagnostic::error(
                    Code::InvalidClaim,
                    format!("`{key}` starts with `/`, so it is a JSON Pointer (RFC 6901), but {why}"),
                )
                .at(self.value(path!["auth", key]), "not a JSON Pointer")
                .with_help("e.g. `/realm_access/roles`; write `~1` for a `/` inside a claim name (`/https:~1~1example.com~1roles`)");
                self.push(d);
            }
        }
        if let Some(claim) = auth.user_claim.as_deref() {
            self.user_claim(claim, auth.roles_claim.as_deref());
        }
    }

    /// The key source and the algorithms of `auth.jwt`: one source; a
    /// static key (`secret_env`, `public_key_env`) with one `algorithm` of
    /// its kind; a JWKS (`jwks_url`, `jwks_url_env`, `discovery`) with an
    /// allowlist that holds no HMAC algorithm, from an `https://` URL.
    fn jwt_keys(&mut self, jwt: &spec::Jwt) {
        // Whether a key is missing is only known when neither it nor a
        // misspelling of it has a problem.
        let keys = [
            "secret_env",
            "public_key_env",
            "jwks_url",
            "jwks_url_env",
            "discovery",
            "algorithm",
            "algorithms",
        ];
        if !keys.iter().all(|k| self.sound(path!["auth", "jwt", *k])) {
            return;
        }
        let sources: Vec<&'static str> = [
            ("secret_env", jwt.secret_env.is_some()),
            ("public_key_env", jwt.public_key_env.is_some()),
            ("jwks_url", jwt.jwks_url.is_some()),
            ("jwks_url_env", jwt.jwks_url_env.is_some()),
            ("discovery", jwt.discovery == Some(true)),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        let mut written = sources.clone();
        written.sort_by_key(|k| self.key(path!["auth", "jwt", *k]).start);
        if let [first, second, ..] = written[..] {
            let d = Diagnostic::error(
                Code::AuthKeyMismatch,
                format!("`auth.jwt` names two sources of keys, `{first}` and `{second}`; tokens are verified with keys from one"),
            )
            .at(self.key(path!["auth", "jwt", second]), "a second source")
            .with_label(self.key(path!["auth", "jwt", first]), "the first")
            .with_help("keep one: a static key (`secret_env`, `public_key_env`) or a JWKS (`jwks_url`, `jwks_url_env`, `discovery: true`)");
            self.push(d);
            return;
        }
        let jwks = matches!(sources[..], ["jwks_url" | "jwks_url_env" | "discovery"]);
        let algorithms: Vec<Algorithm> = match (jwt.algorithm, &jwt.algorithms) {
            (Some(_), Some(_)) => {
                let d = Diagnostic::error(
                    Code::AuthKeyMismatch,
                    "`auth.jwt` has both `algorithm` and `algorithms`",
                )
                .at(
                    self.key(path!["auth", "jwt", "algorithms"]),
                    "the allowlist of a JWKS",
                )
                .with_label(
                    self.key(path!["auth", "jwt", "algorithm"]),
                    "the algorithm of a static key",
                )
                .with_help("keep `algorithms` for keys from a JWKS, `algorithm` for a static key");
                self.push(d);
                return;
            }
            (None, None) => {
                let help = if jwks {
                    "add the algorithms your provider signs with, e.g. `algorithms: [RS256]`"
                } else {
                    "add `algorithm: HS256` with `secret_env`, or `algorithm: ES256` (RS256, EdDSA, ...) with `public_key_env`"
                };
                let d = Diagnostic::error(
                    Code::AuthKeyMismatch,
                    "`auth.jwt` accepts no algorithm: the token's own `alg` never chooses",
                )
                .at(
                    self.key(path!["auth", "jwt"]),
                    "no `algorithm` or `algorithms` here",
                )
                .with_help(help);
                self.push(d);
                return;
            }
            (Some(alg), None) => vec![alg],
            (None, Some(list)) => {
                if list.is_empty() {
                    let d = Diagnostic::error(
                        Code::InvalidValue,
                        "`algorithms` is empty, so no token could ever be accepted",
                    )
                    .at(self.value(path!["auth", "jwt", "algorithms"]), "empty")
                    .with_help("list the algorithms your provider signs with, e.g. `[RS256]`");
                    self.push(d);
                    return;
                }
                for (i, alg) in list.iter().enumerate() {
                    if list[..i].contains(alg) {
                        let d = Diagnostic::error(
                            Code::InvalidValue,
                            format!("{} is listed twice in `algorithms`", alg.name()),
                        )
                        .at(self.value(path!["auth", "jwt", "algorithms", i]), "again");
                        self.push(d);
                    }
                }
                list.clone()
            }
        };
        if jwks && jwt.algorithms.is_none() {
            let d = Diagnostic::error(
                Code::AuthKeyMismatch,
                "keys from a JWKS take an allowlist, `algorithms`, not `algorithm`",
            )
            .at(
                self.key(path!["auth", "jwt", "algorithm"]),
                "one algorithm of a static key",
            )
            .with_help(format!(
                "write `algorithms: [{}]`",
                algorithms
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            self.push(d);
        }
        if jwks {
            self.jwks_source(jwt, sources[0]);
            for (i, alg) in algorithms.iter().enumerate() {
                if alg.is_hmac() {
                    let span = match jwt.algorithm {
                        Some(_) => self.value(path!["auth", "jwt", "algorithm"]),
                        None => self.value(path!["auth", "jwt", "algorithms", i]),
                    };
                    let d = Diagnostic::error(
                        Code::AuthKeyMismatch,
                        format!("{} is never taken from a JWKS: a shared secret in a published key set would let whoever reads it sign tokens", alg.name()),
                    )
                    .at(span, "a shared-secret algorithm")
                    .with_label(self.key(path!["auth", "jwt", sources[0]]), "keys from a JWKS")
                    .with_help("list the provider's asymmetric algorithms (RS256, ES256, EdDSA, ...), or use `secret_env` for a shared secret");
                    self.push(d);
                }
            }
            return;
        }
        if sources.is_empty() && jwt.algorithm.is_none() {
            let d = Diagnostic::error(Code::AuthKeyMismatch, "`auth.jwt` names no source of keys")
                .at(self.key(path!["auth", "jwt"]), "no key here")
                .with_help("take the provider's keys from `jwks_url`, `jwks_url_env` or `discovery: true` with `issuer`; or one static key: `algorithm` with `secret_env` or `public_key_env`");
            self.push(d);
            return;
        }
        let Some(alg) = jwt.algorithm else {
            let d = Diagnostic::error(
                Code::AuthKeyMismatch,
                "`algorithms` is the allowlist of keys from a JWKS; a static key verifies one `algorithm`",
            )
            .at(self.key(path!["auth", "jwt", "algorithms"]), "without a JWKS")
            .with_help(match algorithms[..] {
                [one] => format!("write `algorithm: {}`", one.name()),
                _ => "write `algorithm:` with the key's one algorithm, or take keys from `jwks_url`".into(),
            });
            self.push(d);
            return;
        };
        let alg_span = self.value(path!["auth", "jwt", "algorithm"]);
        if alg.is_hmac() {
            if jwt.secret_env.is_none() {
                let d = Diagnostic::error(
                    Code::AuthKeyMismatch,
                    format!("{} needs `secret_env`: the environment variable that holds the shared secret", alg.name()),
                )
                .at(self.key(path!["auth", "jwt"]), "`secret_env` is missing here")
                .with_label(alg_span, "a shared-secret algorithm")
                .with_help("add `secret_env: JWT_SECRET`");
                self.push(d);
            }
            if jwt.public_key_env.is_some() {
                let d = Diagnostic::error(
                    Code::AuthKeyMismatch,
                    format!(
                        "{} verifies with a shared secret, not a public key",
                        alg.name()
                    ),
                )
                .at(
                    self.key(path!["auth", "jwt", "public_key_env"]),
                    "not used by this algorithm",
                )
                .with_label(alg_span, "a shared-secret algorithm")
                .with_help("use `secret_env`, or choose RS256, ES256 or EdDSA for public keys");
                self.push(d);
            }
        } else {
            if jwt.public_key_env.is_none() {
                let d = Diagnostic::error(
                    Code::AuthKeyMismatch,
                    format!("{} needs `public_key_env`: the environment variable that holds the PEM public key", alg.name()),
                )
                .at(self.key(path!["auth", "jwt"]), "`public_key_env` is missing here")
                .with_label(alg_span, "a public-key algorithm")
                .with_help("add `public_key_env: JWT_PUBLIC_KEY`, or take the provider's keys from `jwks_url`");
                self.push(d);
            }
            if jwt.secret_env.is_some() {
                let d = Diagnostic::error(
                    Code::AuthKeyMismatch,
                    format!(
                        "{} verifies with a public key, not a shared secret",
                        alg.name()
                    ),
                )
                .at(
                    self.key(path!["auth", "jwt", "secret_env"]),
                    "not used by this algorithm",
                )
                .with_label(alg_span, "a public-key algorithm")
                .with_help("use `public_key_env`, or choose HS256 for a shared secret");
                self.push(d);
            }
        }
    }

    /// The JWKS URL of the spec (`jwks_url`, or the issuer of `discovery`)
    /// is `https://`, or `http://` on a loopback host (tests only).
    fn jwks_source(&mut self, jwt: &spec::Jwt, source: &'static str) {
        let (url, key, what) = match source {
            "jwks_url" => (jwt.jwks_url.as_deref(), "jwks_url", "the key set"),
            "discovery" => match jwt.issuer.as_deref() {
                Some(issuer) => (
                    Some(issuer),
                    "issuer",
                    "the issuer (discovery reads `<issuer>/.well-known/openid-configuration`)",
                ),
                None => {
                    let d = Diagnostic::error(
                        Code::AuthKeyMismatch,
                        "`discovery: true` needs the `issuer` whose discovery document names the key set",
                    )
                    .at(self.value(path!["auth", "jwt", "discovery"]), "discovery without an issuer")
                    .with_help("add `issuer: https://your-provider.example.com/` (the `iss` of its tokens)");
                    self.push(d);
                    return;
                }
            },
            _ => return,
        };
        // A blank issuer has an error of its own.
        let Some(url) = url.filter(|u| !u.trim().is_empty()) else {
            return;
        };
        if let Err(why) = spec::fetch_url(url) {
            let d = Diagnostic::error(
                Code::InvalidValue,
                format!("`{url}` cannot be the URL of {what}: {why}"),
            )
            .at(self.value(path!["auth", "jwt", key]), "not a URL keys may come from")
            .with_help("use the provider's `https://` URL; plain `http://` is accepted only on 127.0.0.1, ::1 or localhost, for tests");
            self.push(d);
        }
    }

    /// The user claim must identify the user: a registered claim that
    /// every token of the issuer shares (`iss`, `aud`, `azp`) would make
    /// every caller one owner, and one that changes with every token
    /// (`exp`, `nbf`, `iat`, `jti`) would make each token a new owner who
    /// never finds its rows again.
    /// A pointer is judged by its first step (`/aud/0` is inside `aud`)
    /// and may be neither the roles claim, nor inside it, nor hold it.
    fn user_claim(&mut self, claim: &str, roles_claim: Option<&str>) {
        let steps = spec::claim_steps(claim);
        let roles = roles_claim.map(spec::claim_steps);
        let (whole, claim) = (claim, steps[0].as_str());
        let why = if roles
            .as_ref()
            .is_some_and(|r| r.starts_with(&steps) || steps.starts_with(r))
        {
            "it is `auth.roles_claim`, an array of role names, or a part of it, not a user"
        } else if TIME_CLAIMS.contains(&claim) {
            "it is a time that changes with every token, so no caller would find its rows again"
        } else if claim == "jti" {
            "it is the token's own id, new in every token, so no caller would find its rows again"
        } else if claim == "iss" {
            "every token of the issuer carries the same `iss`, so every caller would be one owner"
        } else if claim == "aud" {
            "every token for this API carries the same `aud`, so every caller would be one owner"
        } else if claim == "azp" {
            "it names the client application, which all of its users share, so they would be one owner"
        } else {
            return;
        };
        let d = Diagnostic::error(
            Code::ReservedClaim,
            format!("`{whole}` cannot be `auth.user_claim`: {why}"),
        )
        .at(self.value(path!["auth", "user_claim"]), "not a user id")
        .with_help("name the claim that identifies the user, such as `sub` (the default)");
        self.push(d);
    }

    /// The roles that some grant gives at least one operation, and whether
    /// every grant of the spec is known (so that "unused" can be told).
    fn used_roles(&self) -> (HashSet<&'a str>, bool) {
        let mut used = HashSet::new();
        let spec: &'a PartialSpec = self.spec;
        let Some(resources) = &spec.resources else {
            return (used, false);
        };
        let mut all_known = true;
        for (name, resource) in resources {
            match &resource.access {
                Some(access) if self.clean(path!["resources", name, "access"]) => {
                    for (role, ops) in access.iter().flat_map(|a| &a.roles) {
                        if !ops.is_empty() {
                            used.insert(role.as_str());
                        }
                    }
                }
                _ => all_known = false,
            }
        }
        (used, all_known)
    }

    fn roles(&mut self) {
        let (used, all_known) = self.used_roles();
        if let Some(roles) = &self.spec.roles {
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for (i, role) in roles.iter().enumerate() {
                let span = self.value(path!["roles", i]);
                if !is_identifier(role) {
                    self.invalid_name("role", role, span);
                }
                if let Some(&first) = seen.get(role.as_str()) {
                    let d = Diagnostic::error(
                        Code::DuplicateEntry,
                        format!("role `{role}` is declared twice"),
                    )
                    .at(span, "again here")
                    .with_label(self.value(path!["roles", first]), "first here");
                    self.push(d);
                    continue;
                }
                seen.insert(role.as_str(), i);
                if all_known && !used.contains(role.as_str()) {
                    let d = Diagnostic::warning(
                        Code::UnusedRole,
                        format!(
                            "role `{role}` is declared but no resource grants it any operation"
                        ),
                    )
                    .at(span, "unused")
                    .with_help("grant it operations under `access.roles` or remove it");
                    self.push(d);
                }
            }
        }
        let claim_known = self.sound(path!["auth", "roles_claim"]);
        let no_claim = self
            .spec
            .auth
            .as_ref()
            .is_some_and(|a| a.roles_claim.is_none());
        if !used.is_empty() && claim_known && no_claim {
            let d = Diagnostic::error(
                Code::InvalidClaim,
                "roles are granted, but `auth.roles_claim` is not set, so no caller could ever hold a role",
            )
            .at(self.key(path!["auth"]), "no `roles_claim` here")
            .with_help("add `roles_claim: roles` (the claim with an array of role names)");
            self.push(d);
        }
    }

    fn cors(&mut self) {
        let Some(Some(cors)) = &self.spec.cors else {
            return;
        };
        if cors.origins.is_empty() {
            let d = Diagnostic::error(
                Code::InvalidOrigin,
                "`cors.origins` is empty; no browser origin would be allowed",
            )
            .at(self.value(path!["cors", "origins"]), "empty")
            .with_help("list the origins, or remove the `cors` section for same-origin only");
            self.push(d);
        }
        let mut seen: HashMap<&Origin, usize> = HashMap::new();
        for (i, origin) in cors.origins.iter().enumerate() {
            let span = self.value(path!["cors", "origins", i]);
            if let Some(&first) = seen.get(origin) {
                let d = Diagnostic::error(
                    Code::DuplicateEntry,
                    format!("origin `{origin}` is listed twice"),
                )
                .at(span, "again here")
                .with_label(self.value(path!["cors", "origins", first]), "first here");
                self.push(d);
            } else {
                seen.insert(origin, i);
            }
            if *origin == Origin::Any {
                if cors.credentials {
                    let d = Diagnostic::error(
                        Code::WildcardWithCredentials,
                        "`*` with `credentials: true` would let every site make authenticated calls",
                    )
                    .at(span, "any origin")
                    .with_label(self.value(path!["cors", "credentials"]), "credentials allowed")
                    .with_help("list the exact origins that need credentials");
                    self.push(d);
                } else if cors.origins.len() > 1 {
                    let d = Diagnostic::error(
                        Code::InvalidOrigin,
                        "`*` already allows every origin; the other entries would be ignored",
                    )
                    .at(span, "any origin")
                    .with_help("keep either `*` alone or only exact origins");
                    self.push(d);
                }
            }
        }
        if let Some(age) = cors.max_age_seconds {
            let names = ["cors", "max_age_seconds"].map(String::from);
            let span = self.value(path!["cors", "max_age_seconds"]);
            if let Some(d) = bound_error(&names, age.into(), &age.to_string(), span) {
                self.push(d);
            }
        }
    }

    fn throttle(&mut self) {
        let Some(Some(throttle)) = &self.spec.throttle else {
            return;
        };
        if let Some(hops) = throttle.trust_proxy_hops {
            let names = ["throttle", "trust_proxy_hops"].map(String::from);
            let span = self.value(path!["throttle", "trust_proxy_hops"]);
            if let Some(d) = bound_error(&names, hops.into(), &hops.to_string(), span) {
                self.push(d);
            }
        }
        if let Some(redis) = &throttle.redis {
            self.redis_url_env(redis);
        }
    }

    /// The variable of the Redis URL is its own: not one that the server
    /// reads for something else (the database, the address, the log
    /// filter, the JWT key, the JWKS URL), which would hand Redis a
    /// secret or the database a Redis URL.
    fn redis_url_env(&mut self, redis: &spec::Redis) {
        if !self.sound(path!["throttle", "redis", "url_env"]) {
            return;
        }
        let var = redis
            .url_env
            .as_deref()
            .unwrap_or(crate::model::DEFAULT_REDIS_URL_ENV);
        let mut taken: Vec<(&str, &str)> = vec![
            ("DATABASE_URL", "the database URL"),
            ("BIND_ADDR", "the listening address"),
            ("RUST_LOG", "the log filter"),
        ];
        if let Some(auth) = &self.spec.auth {
            let keys = [
                ("secret_env", &auth.jwt.secret_env, "the JWT secret"),
                (
                    "public_key_env",
                    &auth.jwt.public_key_env,
                    "the JWT public key",
                ),
                ("jwks_url_env", &auth.jwt.jwks_url_env, "the JWKS URL"),
            ];
            for (key, value, what) in keys {
                if let Some(env) = value.as_deref() {
                    if self.sound(path!["auth", "jwt", key]) {
                        taken.push((env, what));
                    }
                }
            }
        }
        let Some((_, what)) = taken.iter().find(|(name, _)| *name == var) else {
            return;
        };
        let at = if redis.url_env.is_some() {
            self.value(path!["throttle", "redis", "url_env"])
        } else {
            self.key(path!["throttle", "redis"])
        };
        let d = Diagnostic::error(
            Code::ReservedName,
            format!("`{var}` already holds {what}; the Redis URL needs a variable of its own"),
        )
        .at(at, "used for something else")
        .with_help(if var == crate::model::DEFAULT_REDIS_URL_ENV {
            "name another variable in `throttle.redis.url_env`".to_string()
        } else {
            format!("use `url_env: {}`", crate::model::DEFAULT_REDIS_URL_ENV)
        });
        self.push(d);
    }

    fn limits(&mut self) {
        let Some(Some(limits)) = &self.spec.limits else {
            return;
        };
        if let Some(size) = limits.max_body {
            let names = ["limits", "max_body"].map(String::from);
            let span = self.value(path!["limits", "max_body"]);
            if let Some(d) = bound_error(&names, size.bytes() as f64, &size.to_string(), span) {
                self.push(d);
            }
        }
        let mut in_range = true;
        for (key, value) in [
            ("default_page_size", limits.default_page_size),
            ("max_page_size", limits.max_page_size),
            ("request_timeout_seconds", limits.request_timeout_seconds),
            (
                "header_read_timeout_seconds",
                limits.header_read_timeout_seconds,
            ),
            ("idle_timeout_seconds", limits.idle_timeout_seconds),
            ("max_connections", limits.max_connections),
        ] {
            if let Some(value) = value {
                let names = ["limits", key].map(String::from);
                let span = self.value(path!["limits", key]);
                if let Some(d) = bound_error(&names, value.into(), &value.to_string(), span) {
                    in_range &= !key.ends_with("_size");
                    self.push(d);
                }
            }
        }
        let known = self.sound(path!["limits", "default_page_size"])
            && self.sound(path!["limits", "max_page_size"]);
        let default = limits
            .default_page_size
            .unwrap_or(crate::model::DEFAULT_PAGE_SIZE);
        let max = limits.max_page_size.unwrap_or(crate::model::MAX_PAGE_SIZE);
        if known && in_range && default > max {
            let at = if limits.default_page_size.is_some() {
                "default_page_size"
            } else {
                "max_page_size"
            };
            let d = Diagnostic::error(
                Code::InvalidLimit,
                format!("the default page size ({default}) is larger than the largest page allowed ({max})"),
            )
            .at(self.value(path!["limits", at]), "inconsistent")
            .with_help("make `default_page_size` at most `max_page_size`");
            self.push(d);
        }
    }

    /// `database.engines`: at least one engine, each named once.
    fn database(&mut self) {
        let Some(Some(spec::Database {
            engines: Some(engines),
        })) = &self.spec.database
        else {
            return;
        };
        if !self.sound(path!["database", "engines"]) {
            return;
        }
        if engines.is_empty() {
            let d = Diagnostic::error(
                Code::InvalidValue,
                "`database.engines` is empty; the server would serve no database",
            )
            .at(self.value(path!["database", "engines"]), "empty")
            .with_help("name `sqlite`, `postgres` or both, or remove `database` to serve both");
            self.push(d);
        }
        let mut seen: HashMap<spec::Engine, usize> = HashMap::new();
        for (i, engine) in engines.iter().enumerate() {
            if let Some(&first) = seen.get(engine) {
                let d = Diagnostic::error(
                    Code::DuplicateEntry,
                    format!("engine `{}` is listed twice", engine.name()),
                )
                .at(self.value(path!["database", "engines", i]), "again here")
                .with_label(
                    self.value(path!["database", "engines", first]),
                    "first here",
                );
                self.push(d);
            } else {
                seen.insert(*engine, i);
            }
        }
    }

    fn invalid_name(&mut self, what: &str, name: &str, span: Span) {
        if name.is_empty() {
            let help = if what == "owner field" {
                "name the field that holds the owner, such as `owner_id`, or write `owner: none`"
                    .to_string()
            } else {
                format!(
                    "give a {what} name: lowercase letters, digits and `_`, starting with a letter"
                )
            };
            let message = if what == "owner field" {
                "the owner field is empty; it must name the field that holds the owner".to_string()
            } else {
                format!("the {what} name is empty")
            };
            let d = Diagnostic::error(Code::InvalidName, message)
                .at(span, "empty")
                .with_help(help);
            self.push(d);
            return;
        }
        let help = name_fix(name, false)
            .map(|f| format!("did you mean `{f}`?"))
            .unwrap_or_else(|| {
                "use lowercase letters, digits and `_`, starting with a letter".to_string()
            });
        let d = Diagnostic::error(
            Code::InvalidName,
            format!("`{name}` is not a valid {what} name: expected `[a-z][a-z0-9_]*`"),
        )
        .at(span, "invalid name")
        .with_help(help);
        self.push(d);
    }

    fn resources(&mut self) {
        let Some(resources) = &self.spec.resources else {
            return;
        };
        if resources.is_empty() {
            let d = Diagnostic::error(Code::NoResources, "the spec declares no resource")
                .at(self.key(path!["resources"]), "empty")
                .with_help("declare at least one resource with its owner and fields");
            self.push(d);
        }
        let mut plurals: HashMap<String, &str> = HashMap::new();
        for (name, resource) in resources {
            if !is_identifier(name) {
                self.invalid_name("resource", name, self.key(path!["resources", name]));
            }
            // An unknown plural (one with a problem) takes no part in the
            // checks of paths.
            if let Some(explicit) = &resource.plural {
                let plural = explicit.clone().unwrap_or_else(|| format!("{name}s"));
                let plural_span = if explicit.is_some() {
                    self.value(path!["resources", name, "plural"])
                } else {
                    self.key(path!["resources", name])
                };
                if explicit.is_some() && !is_identifier(&plural) {
                    self.invalid_name("plural", &plural, plural_span);
                }
                if RESERVED_PATHS.contains(&plural.as_str()) {
                    let d = Diagnostic::error(
                        Code::ReservedName,
                        format!("the path `/{plural}` is served by the generated server itself"),
                    )
                    .at(plural_span, "reserved path")
                    .with_help("set another `plural`");
                    self.push(d);
                }
                if let Some(first) = plurals.get(&plural) {
                    let d = Diagnostic::error(
                        Code::DuplicatePlural,
                        format!("resources `{first}` and `{name}` both use the path `/{plural}`"),
                    )
                    .at(plural_span, "second use")
                    .with_label(self.key(path!["resources", *first]), "first use")
                    .with_help("give one of them another `plural`");
                    self.push(d);
                } else {
                    plurals.insert(plural, name);
                }
            }
            if let Some(Some(old)) = &resource.renamed_from {
                let span = self.value(path!["resources", name, "renamed_from"]);
                self.renamed_from(
                    span,
                    old,
                    name,
                    resources.keys().map(String::as_str),
                    "resource",
                );
            }
            self.resource(name, resource);
        }
        self.required_ref_cycles(resources);
    }

    /// A resource whose row needs a row of itself, or resources that need
    /// each other's rows, through required refs: no request can ever
    /// create the first of them. Each cycle is reported once, at the
    /// required ref of its first resource in spec order.
    fn required_ref_cycles(&mut self, resources: &indexmap::IndexMap<String, PartialResource>) {
        // The required refs of each resource: (field, target index).
        let edges: Vec<Vec<(&str, usize)>> = resources
            .values()
            .map(|r| {
                r.fields
                    .iter()
                    .flatten()
                    .filter_map(|(name, field)| {
                        let field = field.as_ref()?;
                        let target = field.resource.as_deref()?;
                        (field.ty == FieldType::Ref && field.required)
                            .then(|| Some((name.as_str(), resources.get_index_of(target)?)))
                            .flatten()
                    })
                    .collect()
            })
            .collect();
        for start in 0..resources.len() {
            // Depth-first over resources not before `start`, so a cycle is
            // found from its first resource only.
            let mut path: Vec<(usize, &str)> = Vec::new();
            if !cycle_from(
                &edges,
                start,
                start,
                &mut path,
                &mut vec![false; edges.len()],
            ) {
                continue;
            }
            let names: Vec<&str> = path
                .iter()
                .map(|(at, _)| resources.get_index(*at).map_or("", |(n, _)| n.as_str()))
                .collect();
            let chain = names
                .iter()
                .chain(names.first())
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" -> ");
            let field = path[0].1;
            let first_name = names[0];
            let mut d = Diagnostic::warning(
                Code::RequiredRefCycle,
                format!("no row of `{first_name}` can ever be created: its required refs form a cycle ({chain})"),
            )
            .at(
                self.key(path!["resources", first_name, "fields", field]),
                "required ref",
            )
            .with_help("make one ref of the cycle optional (drop `required`), so its row can be created first");
            for (i, (_, field)) in path.iter().enumerate().skip(1) {
                d = d.with_label(
                    self.key(path!["resources", names[i], "fields", *field]),
                    "required ref",
                );
            }
            self.push(d);
        }
    }

    fn resource(&mut self, name: &str, resource: &PartialResource) {
        let owner_field = match &resource.owner {
            None | Some(Owner::None) => None,
            Some(Owner::Field(f)) => {
                Some((f.as_str(), self.value(path!["resources", name, "owner"])))
            }
            Some(Owner::Long { field, claim, read }) => {
                if let Some(read) = read {
                    self.owner_readers(name, read);
                }
                let claim = claim.as_deref();
                if claim.is_some_and(|c| c.trim().is_empty()) {
                    let d = Diagnostic::error(
                        Code::InvalidClaim,
                        "the owner `claim` is empty; it must name a claim of the token",
                    )
                    .at(
                        self.value(path!["resources", name, "owner", "claim"]),
                        "empty",
                    );
                    self.push(d);
                }
                if let Some(claim) = claim {
                    self.owner_claim(name, claim);
                }
                Some((
                    field.as_str(),
                    self.value(path!["resources", name, "owner", "field"]),
                ))
            }
        };
        if let Some((field, span)) = owner_field {
            if !is_identifier(field) {
                self.invalid_name("owner field", field, span);
            } else if SERVER_COLUMNS.contains(&field) {
                let d = Diagnostic::error(
                    Code::ReservedName,
                    format!("`{field}` is managed by the server and cannot hold the owner"),
                )
                .at(span, "reserved")
                .with_help("use a field such as `owner_id`");
                self.push(d);
            }
            if resource
                .fields
                .as_ref()
                .is_some_and(|f| f.contains_key(field))
            {
                let d = Diagnostic::error(
                    Code::OwnerFieldDeclared,
                    format!("`{field}` is the owner field of `{name}` and is filled from the token; it must not be declared as a field"),
                )
                .at(self.key(path!["resources", name, "fields", field]), "declared here")
                .with_label(span, "owner field")
                .with_help(format!("remove `{field}` from `fields`: the server sets it from the token and never accepts it in a body"));
                self.push(d);
            }
        }
        for (field_name, field) in resource.fields.iter().flatten() {
            let name_span = self.key(path!["resources", name, "fields", field_name]);
            if !is_identifier(field_name) {
                self.invalid_name("field", field_name, name_span);
            } else if SERVER_COLUMNS.contains(&field_name.as_str()) {
                let d = Diagnostic::error(
                    Code::ReservedName,
                    format!("`{field_name}` is managed by the server on every resource"),
                )
                .at(name_span, "reserved")
                .with_help("remove it: every row has `id`, `created_at` and `updated_at` already");
                self.push(d);
            }
            if let Some(field) = field {
                self.field(name, resource, field_name, field);
            }
        }
        self.access(name, resource);
        self.list_options(name, resource);
        self.field_rules(name, resource);
    }

    fn field(
        &mut self,
        resource_name: &str,
        resource: &PartialResource,
        name: &str,
        field: &Field,
    ) {
        let at = |key: &'static str| -> [Step<'_>; 5] {
            [
                Step::Key("resources"),
                Step::Key(resource_name),
                Step::Key("fields"),
                Step::Key(name),
                Step::Key(key),
            ]
        };
        let value_span = |v: &Validator<'_>, key: &'static str| v.value(&at(key));
        let key_span = |v: &Validator<'_>, key: &'static str| v.key(&at(key));
        let name_span = self.key(path!["resources", resource_name, "fields", name]);
        let ty = field.ty;
        let type_span = value_span(self, "type");
        let inapplicable =
            |v: &mut Validator<'_>, key: &'static str, present: bool, applies: bool, to: &str| {
                if present && !applies {
                    let d = Diagnostic::error(
                        Code::InapplicableKey,
                        format!("`{key}` does not apply to a field of type `{}`", ty.name()),
                    )
                    .at(key_span(v, key), format!("only for {to}"))
                    .with_label(type_span, "the field's type");
                    v.push(d);
                }
            };
        let string = ty == FieldType::String;
        inapplicable(
            self,
            "min_length",
            field.min_length.is_some(),
            string,
            "string fields",
        );
        inapplicable(
            self,
            "max_length",
            field.max_length.is_some(),
            ty.is_text(),
            "string, email and url fields",
        );
        inapplicable(
            self,
            "pattern",
            field.pattern.is_some(),
            string,
            "string fields",
        );
        inapplicable(
            self,
            "enum",
            field.values.is_some(),
            string,
            "string fields",
        );
        inapplicable(
            self,
            "min",
            field.min.is_some(),
            ty.is_numeric(),
            "integer and number fields",
        );
        inapplicable(
            self,
            "max",
            field.max.is_some(),
            ty.is_numeric(),
            "integer and number fields",
        );
        inapplicable(
            self,
            "resource",
            field.resource.is_some(),
            ty == FieldType::Ref,
            "ref fields",
        );

        if ty == FieldType::Ref {
            match &field.resource {
                None if self.sound(&at("resource")) => {
                    let d = Diagnostic::error(
                        Code::MissingRefTarget,
                        format!("ref field `{name}` does not say which resource it points at"),
                    )
                    .at(name_span, "no `resource`")
                    .with_label(type_span, "a ref")
                    .with_help("add `resource: NAME`");
                    self.push(d);
                }
                Some(target)
                    if self
                        .spec
                        .resources
                        .as_ref()
                        .is_some_and(|r| !r.contains_key(target)) =>
                {
                    let names = self.resource_names();
                    let suggestion = did_you_mean(target, names.iter().copied());
                    let d = Diagnostic::error(Code::UnknownResource, format!("ref field `{name}` points at `{target}`, which is not a resource of this spec"))
                        .at(value_span(self, "resource"), "unknown resource")
                        .with_help(match suggestion {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("the resources are: {}", quoted_list(&names)),
                        });
                    self.push(d);
                }
                _ => {}
            }
        }

        if let (Some(min), Some(max)) = (field.min_length, field.max_length) {
            if min > max {
                let d = Diagnostic::error(
                    Code::MinGreaterThanMax,
                    format!("`min_length` ({min}) is greater than `max_length` ({max})"),
                )
                .at(value_span(self, "min_length"), "lower bound")
                .with_label(value_span(self, "max_length"), "upper bound");
                self.push(d);
            }
        }
        if let Some(max) = field.max_length {
            let names = at("max_length").map(|s| match s {
                Step::Key(k) => k.to_string(),
                Step::Index(i) => i.to_string(),
            });
            let span = value_span(self, "max_length");
            if let Some(d) = bound_error(&names, max.into(), &max.to_string(), span) {
                self.push(d);
            }
        }
        for key in ["min", "max"] {
            let bound = if key == "min" { &field.min } else { &field.max };
            if let Some(n) = bound {
                if ty == FieldType::Integer && n.as_i64().is_none() {
                    let d = Diagnostic::error(
                        Code::InvalidValue,
                        format!("`{key}: {n}` is not a whole number, but the field is an integer"),
                    )
                    .at(value_span(self, key), "not an integer");
                    self.push(d);
                }
            }
        }
        if let (Some(min), Some(max)) = (&field.min, &field.max) {
            if min.as_f64().unwrap_or(f64::MIN) > max.as_f64().unwrap_or(f64::MAX) {
                let d = Diagnostic::error(
                    Code::MinGreaterThanMax,
                    format!("`min` ({min}) is greater than `max` ({max})"),
                )
                .at(value_span(self, "min"), "lower bound")
                .with_label(value_span(self, "max"), "upper bound");
                self.push(d);
            }
        }
        let pattern = match &field.pattern {
            Some(p) => match regex::Regex::new(&format!("^(?:{p})$")) {
                Ok(r) => Some(r),
                Err(e) => {
                    let message = e.to_string();
                    let reason = message
                        .lines()
                        .last()
                        .unwrap_or(&message)
                        .trim_start_matches("error: ")
                        .to_string();
                    let d = Diagnostic::error(
                        Code::InvalidPattern,
                        format!("`pattern` is not a valid regular expression: {reason}"),
                    )
                    .at(value_span(self, "pattern"), "invalid")
                    .with_help(
                        "patterns use Rust's regex syntax (no look-around or back-references)",
                    );
                    self.push(d);
                    None
                }
            },
            None => None,
        };
        if let Some(values) = &field.values {
            let entry = |v: &Validator<'_>, i: usize| {
                let p = at("enum");
                v.value(&[p[0], p[1], p[2], p[3], p[4], Step::Index(i)])
            };
            if values.is_empty() {
                let d = Diagnostic::error(
                    Code::InvalidValue,
                    "`enum` is empty; no value could ever be stored",
                )
                .at(value_span(self, "enum"), "empty");
                self.push(d);
            }
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for (i, value) in values.iter().enumerate() {
                if let Some(&first) = seen.get(value.as_str()) {
                    let d = Diagnostic::error(
                        Code::DuplicateEntry,
                        format!("`{value}` is listed twice in `enum`"),
                    )
                    .at(entry(self, i), "again here")
                    .with_label(entry(self, first), "first here");
                    self.push(d);
                    continue;
                }
                seen.insert(value.as_str(), i);
                // Every value must be one the field can store.
                let problem = text_problem(field, value, pattern.as_ref(), false);
                if let Err(reason) = problem {
                    let d = Diagnostic::error(
                        Code::InvalidValue,
                        format!("the `enum` value {reason}, so it could never be stored"),
                    )
                    .at(entry(self, i), "cannot be stored");
                    self.push(d);
                }
            }
        }
        // Constraints that no value meets: an `enum` is checked value by
        // value above, and a `min_length` above `max_length` is its own error.
        let lengths_consistent = match (field.min_length, field.max_length) {
            (Some(lo), Some(hi)) => lo <= hi,
            _ => true,
        };
        if field.values.is_none() && lengths_consistent {
            let pattern_source = field.pattern.as_deref().filter(|_| pattern.is_some());
            if let Some((key, reason, help)) = unsatisfiable(field, pattern_source) {
                let consequence = if field.required {
                    format!(
                        "`{name}` is required, so no row of `{resource_name}` can ever be created"
                    )
                } else {
                    format!("`{name}` can only ever be null")
                };
                let mut d = Diagnostic::warning(
                    Code::UnsatisfiableField,
                    format!("{reason}; {consequence}"),
                )
                .at(value_span(self, key), "no value meets this")
                .with_help(help);
                for other in ["min_length", "max_length"] {
                    if other != key && self.node(&at(other)).is_some() {
                        d = d.with_label(value_span(self, other), other);
                    }
                }
                self.push(d);
            }
        }
        if field.read_only && field.write_once {
            let d = Diagnostic::error(Code::ConflictingFlags, format!("`{name}` cannot be both `read_only` (never accepted) and `write_once` (accepted on create)"))
                .at(key_span(self, "write_once"), "contradicts read_only")
                .with_label(key_span(self, "read_only"), "read_only");
            self.push(d);
        }
        if field.read_only && field.required {
            let d = Diagnostic::error(
                Code::ConflictingFlags,
                format!(
                    "`{name}` is `required` but `read_only`, so no request could ever create a row"
                ),
            )
            .at(key_span(self, "required"), "required")
            .with_label(key_span(self, "read_only"), "read_only")
            .with_help("drop `required`, and give a `default` if the server should fill it");
            self.push(d);
        }
        if field.unique == Some(Unique::Global)
            && matches!(resource.owner, Some(Owner::Field(_) | Owner::Long { .. }))
            && !self.allows(resource_name, Code::UniqueAcrossOwners.as_str())
        {
            let d = Diagnostic::warning(
                Code::UniqueAcrossOwners,
                format!(
                    "`{name}` is unique across every owner of `{resource_name}`: a create or update with a value another owner holds answers 409, which tells the caller that the value exists, and the first owner to take a value keeps it from all others"
                ),
            )
            .at(value_span(self, "unique"), "global")
            .with_help(format!(
                "use `unique: per_owner`, or say that it is intended (usernames, public slugs) with `audit: {{ allow: [{}], reason: ... }}` on `{resource_name}`",
                Code::UniqueAcrossOwners.as_str()
            ));
            self.push(d);
        }
        if field.unique == Some(Unique::PerOwner) && resource.owner == Some(Owner::None) {
            let d = Diagnostic::error(
                Code::UniqueWithoutOwner,
                format!("`{name}` is unique per owner, but `{resource_name}` has no owner"),
            )
            .at(value_span(self, "unique"), "per_owner")
            .with_help("use `unique: global`");
            self.push(d);
        }
        // `.inf` and `.nan` reach the typed spec as null (JSON has no such
        // numbers); the tree still knows them.
        let non_finite = self.node(&at("default")).and_then(|n| match n.value {
            Value::Float(f) if !f.is_finite() => Some(non_finite_text(f)),
            _ => None,
        });
        let checked = match (non_finite, &field.default) {
            (Some(text), _) => Some(Err(format!("`{text}` is not a finite number"))),
            (None, Some(default)) => Some(check_default(field, default, pattern.as_ref())),
            (None, None) => None,
        };
        if let Some(Err(reason)) = checked {
            let d = Diagnostic::error(
                Code::InvalidDefault,
                format!("invalid default for `{name}`: {reason}"),
            )
            .at(value_span(self, "default"), "invalid default");
            self.push(d);
        }
        if let Some(backfill) = &field.backfill {
            let non_finite = self.node(&at("backfill")).and_then(|n| match n.value {
                Value::Float(f) if !f.is_finite() => Some(non_finite_text(f)),
                _ => None,
            });
            let checked = match non_finite {
                Some(text) => Err(format!("`{text}` is not a finite number")),
                None => check_default(field, backfill, pattern.as_ref()),
            };
            if let Err(reason) = checked {
                let d = Diagnostic::error(
                    Code::InvalidDefault,
                    format!("invalid backfill for `{name}`: {reason}"),
                )
                .at(value_span(self, "backfill"), "invalid backfill");
                self.push(d);
            } else if !field.required {
                let d = Diagnostic::warning(
                    Code::ConflictingFlags,
                    format!("`{name}` is optional, so its `backfill` is never used: rows that exist get no value (null) when it is added"),
                )
                .at(key_span(self, "backfill"), "never used")
                .with_help("make the field `required`, or give it a `default` for new rows and rows that exist");
                self.push(d);
            } else if field.default.is_some() {
                let d = Diagnostic::warning(
                    Code::ConflictingFlags,
                    format!("`{name}` has both a `default` and a `backfill`; rows that exist get the backfill"),
                )
                .at(key_span(self, "backfill"), "used for rows that exist")
                .with_label(key_span(self, "default"), "used for new rows only")
                .with_help("drop one of them");
                self.push(d);
            }
        }
        if let Some(old) = &field.renamed_from {
            let siblings = resource.fields.iter().flatten().map(|(n, _)| n.as_str());
            let span = self.value(&at("renamed_from"));
            self.renamed_from(span, old, name, siblings, "field");
        }
    }

    /// Checks a `renamed_from` hint: a name the thing could have had,
    /// neither its own name nor one a sibling has now (which would make the
    /// rename ambiguous).
    fn renamed_from<'n>(
        &mut self,
        span: Span,
        old: &str,
        name: &str,
        siblings: impl Iterator<Item = &'n str>,
        what: &str,
    ) {
        let valid = old.starts_with(|c: char| c.is_ascii_lowercase())
            && old
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            let d = Diagnostic::error(
                Code::InvalidName,
                format!(
                    "`renamed_from` of `{name}` is not a {what} name: names are `[a-z][a-z0-9_]*`"
                ),
            )
            .at(span, "not a name");
            self.push(d);
            return;
        }
        if old == name {
            let d = Diagnostic::error(
                Code::InvalidValue,
                format!("`{name}` is renamed from itself"),
            )
            .at(span, "its own name")
            .with_help("drop `renamed_from`, or name the earlier name");
            self.push(d);
            return;
        }
        let mut siblings = siblings;
        if siblings.any(|s| s == old) {
            let d = Diagnostic::error(
                Code::InvalidValue,
                format!("`{name}` is renamed from `{old}`, but a {what} named `{old}` exists: the earlier `{old}` cannot be both"),
            )
            .at(span, "taken")
            .with_help(format!("rename the other `{old}` too, or drop this `renamed_from`"));
            self.push(d);
        }
    }

    fn access(&mut self, name: &str, resource: &PartialResource) {
        let Some(access) = &resource.access else {
            return;
        };
        let default = Access::default();
        let access = access.as_ref().unwrap_or(&default);
        let base = ["resources", name, "access"];
        let op_lists: Vec<(Vec<&str>, &Vec<Operation>)> = access
            .owner
            .iter()
            .map(|ops| (vec!["owner"], ops))
            .chain(
                access
                    .roles
                    .iter()
                    .map(|(role, ops)| (vec!["roles", role.as_str()], ops)),
            )
            .chain(std::iter::once((vec!["public"], &access.public)))
            .collect();
        for (rel, ops) in &op_lists {
            let mut seen: HashMap<Operation, usize> = HashMap::new();
            let list: Vec<Step<'_>> = base
                .iter()
                .chain(rel.iter())
                .map(|s| Step::Key(s))
                .collect();
            let item = |i: usize| {
                let mut steps = list.clone();
                steps.push(Step::Index(i));
                steps
            };
            for (i, op) in ops.iter().enumerate() {
                let span = self.value(&item(i));
                if let Some(&first) = seen.get(op) {
                    let d = Diagnostic::error(
                        Code::DuplicateEntry,
                        format!(
                            "`{}` is listed twice in `access.{}`",
                            op.name(),
                            rel.join(".")
                        ),
                    )
                    .at(span, "again here")
                    .with_label(self.value(&item(first)), "first here");
                    self.push(d);
                } else {
                    seen.insert(*op, i);
                }
                if rel[0] == "public" && !op.is_read() {
                    let d = Diagnostic::error(
                        Code::PublicWrite,
                        format!("`{}` cannot be public: anonymous callers may only read (`list`, `get`)", op.name()),
                    )
                    .at(span, "changes data")
                    .with_help(format!("grant `{}` to the owner or a role instead", op.name()));
                    self.push(d);
                }
            }
        }
        if resource.owner == Some(Owner::None) {
            if let Some(ops) = &access.owner {
                if !ops.is_empty() {
                    let d = Diagnostic::error(
                        Code::OwnerGrantWithoutOwner,
                        format!("`{name}` has `owner: none`, so there is no owner to grant operations to"),
                    )
                    .at(self.key(path!["resources", name, "access", "owner"]), "owner grant")
                    .with_label(self.value(path!["resources", name, "owner"]), "no owner")
                    .with_help("grant the operations to a role or make them public, or give the resource an owner field");
                    self.push(d);
                }
            }
        }
        // Role names are checked from the tree: a role whose list of
        // operations has a problem is still named.
        if let Some(roles) = &self.spec.roles {
            let grants: Vec<&str> = match self
                .node(path!["resources", name, "access", "roles"])
                .map(|n| &n.value)
            {
                Some(Value::Map(entries))
                    if self.sound(path!["resources", name, "access", "roles"]) =>
                {
                    entries.iter().map(|e| e.key.as_str()).collect()
                }
                _ => Vec::new(),
            };
            for role in grants {
                if !roles.iter().any(|r| r == role) {
                    let suggestion = did_you_mean(role, roles.iter().map(String::as_str));
                    let d = Diagnostic::error(
                        Code::UndeclaredRole,
                        format!("role `{role}` is not declared in `roles`"),
                    )
                    .at(
                        self.key(path!["resources", name, "access", "roles", role]),
                        "undeclared",
                    )
                    .with_help(match suggestion {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("add `{role}` to the top-level `roles` list"),
                    });
                    self.push(d);
                }
            }
        }
        // Who reaches the rows is only known when every grant and the owner
        // are.
        let Some(owner) = &resource.owner else {
            return;
        };
        if !self.clean(path!["resources", name, "access"]) {
            return;
        }
        let owner_reaches =
            *owner != Owner::None && access.owner.as_ref().is_none_or(|ops| !ops.is_empty());
        let anyone = owner_reaches
            || access.roles.values().any(|ops| !ops.is_empty())
            || !access.public.is_empty();
        if !anyone {
            let d = Diagnostic::error(
                Code::UnreachableResource,
                format!(
                    "no owner, role or public grant reaches `{name}`: every route would be denied"
                ),
            )
            .at(self.key(path!["resources", name]), "unreachable")
            .with_help("grant operations under `access` (to the owner, a role, or public reads)");
            self.push(d);
        }
        if let Some(Some(rates)) = &resource.throttle {
            for op in Operation::ALL {
                if rates.get(op).is_none() {
                    continue;
                }
                let granted = (owner_reaches
                    && access.owner.as_ref().is_none_or(|ops| ops.contains(&op)))
                    || access.roles.values().any(|ops| ops.contains(&op))
                    || access.public.contains(&op);
                if !granted {
                    let d = Diagnostic::warning(
                        Code::UnusedThrottle,
                        format!(
                            "`{}` has a rate, but nobody may run it on `{name}`",
                            op.name()
                        ),
                    )
                    .at(
                        self.key(path!["resources", name, "throttle", op.name()]),
                        "unused",
                    );
                    self.push(d);
                }
            }
        }
    }

    /// An owner claim must name a claim that holds the owner, not one that
    /// tokens use for something else: a time, the issuer or audience that
    /// every token shares, or the array of role names.
    /// Whether the `audit.allow` of `resource` (or of the whole spec)
    /// accepts `code` on purpose.
    fn allows(&self, resource: &str, code: &str) -> bool {
        let listed = |node: Option<&Node>| {
            matches!(node.map(|n| &n.value), Some(Value::Seq(items))
                if items.iter().any(|i| matches!(&i.value, Value::String(s) if s == code)))
        };
        listed(self.node(path!["resources", resource, "audit", "allow"]))
            || listed(self.node(path!["audit", "allow"]))
    }

    /// Who a field rule names (a field's `read` or `write`, a key of
    /// `hide`, `owner.read`): `owner` (on an owned resource), `public`
    /// (never a writer) or a declared role. `owned` is `None` when the
    /// owner rule is not sound. Whether the name is known to be good: not
    /// when `roles` is unsound, so that no check built on it runs.
    fn rule_name(
        &mut self,
        resource: &str,
        rule: &str,
        who: &str,
        span: Span,
        owned: Option<bool>,
    ) -> bool {
        let spec = self.spec;
        if who == "public" && rule.ends_with("write") {
            let d = Diagnostic::error(
                Code::PublicWrite,
                format!("`public` in `{rule}`: anonymous callers never write"),
            )
            .at(span, "never writes")
            .with_help("name `owner` or roles");
            self.push(d);
            return false;
        }
        if who == "owner" && owned == Some(false) {
            let d = Diagnostic::error(
                Code::OwnerGrantWithoutOwner,
                format!("`owner` in `{rule}`, but `{resource}` has `owner: none`"),
            )
            .at(span, "no owner")
            .with_label(
                self.value(path!["resources", resource, "owner"]),
                "no owner",
            )
            .with_help("name roles (or `public`) instead");
            self.push(d);
            return false;
        }
        if who == "owner" || who == "public" {
            return true;
        }
        let Some(roles) = &spec.roles else {
            return false;
        };
        if roles.iter().any(|r| r == who) {
            return true;
        }
        let suggestion = did_you_mean(
            who,
            ["owner", "public"]
                .into_iter()
                .chain(roles.iter().map(String::as_str)),
        );
        let d = Diagnostic::error(
            Code::UndeclaredRole,
            format!("`{who}` in `{rule}` is not `owner`, `public` or a role declared in `roles`"),
        )
        .at(span, "undeclared")
        .with_help(match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("add `{who}` to the top-level `roles` list"),
        });
        self.push(d);
        false
    }

    /// A list of who (a field's `read` or `write`, `owner.read`): each
    /// name once, each one `rule_name` accepts. Whether every name is
    /// known to be good.
    fn rule_list(
        &mut self,
        base: &[Step<'_>],
        rule: &str,
        list: &[String],
        resource: &str,
        owned: Option<bool>,
    ) -> bool {
        let mut good = true;
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, who) in list.iter().enumerate() {
            let mut at = base.to_vec();
            at.push(Step::Index(i));
            let span = self.value(&at);
            if let Some(&first) = seen.get(who.as_str()) {
                let mut first_at = base.to_vec();
                first_at.push(Step::Index(first));
                let d = Diagnostic::error(
                    Code::DuplicateEntry,
                    format!("`{who}` is listed twice in `{rule}`"),
                )
                .at(span, "again here")
                .with_label(self.value(&first_at), "first here");
                self.push(d);
                continue;
            }
            seen.insert(who, i);
            good &= self.rule_name(resource, rule, who, span, owned);
        }
        good
    }

    /// Field rules: each field's `read` and `write`, and the resource's
    /// `hide`; then, for each field whose rules name only who they may,
    /// [`Validator::field_access`].
    fn field_rules(&mut self, name: &str, resource: &PartialResource) {
        let owned = match &resource.owner {
            None => None,
            Some(Owner::None) => Some(false),
            Some(_) => Some(true),
        };
        let fields = resource.fields.as_ref();
        // The fields whose `read` and `write` name only who they may.
        let mut good: HashSet<&str> = HashSet::new();
        for (field_name, field) in fields.into_iter().flatten() {
            let Some(field) = field else { continue };
            let mut names_good = true;
            for (rule, list) in [("read", &field.read), ("write", &field.write)] {
                let Some(list) = list else { continue };
                let base = path!["resources", name, "fields", field_name, rule];
                names_good &= self.rule_list(
                    base,
                    &format!("fields.{field_name}.{rule}"),
                    list,
                    name,
                    owned,
                );
            }
            if names_good {
                good.insert(field_name);
            }
            if field.read_only && field.write.is_some() {
                let d = Diagnostic::error(
                    Code::ConflictingFlags,
                    format!("`{field_name}` is `read_only`, so nobody ever writes it: its `write` list would never apply"),
                )
                .at(self.key(path!["resources", name, "fields", field_name, "write"]), "never applies")
                .with_label(self.key(path!["resources", name, "fields", field_name, "read_only"]), "read_only")
                .with_help("drop `write`, or `read_only` to let those it names set the field");
                self.push(d);
            }
        }
        let owner_field = match &resource.owner {
            Some(Owner::Field(f) | Owner::Long { field: f, .. }) => Some(f.as_str()),
            _ => None,
        };
        // Who `hide` hides each field from, and where it says so.
        let mut hidden: HashMap<&str, Vec<(&str, usize)>> = HashMap::new();
        for (who, list) in resource.hide.iter().flatten() {
            let key = self.key(path!["resources", name, "hide", who]);
            self.rule_name(name, "hide", who, key, owned);
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for (i, field) in list.iter().enumerate() {
                let span = self.value(path!["resources", name, "hide", who, i]);
                if let Some(&first) = seen.get(field.as_str()) {
                    let d = Diagnostic::error(
                        Code::DuplicateEntry,
                        format!("`{field}` is listed twice in `hide.{who}`"),
                    )
                    .at(span, "again here")
                    .with_label(
                        self.value(path!["resources", name, "hide", who, first]),
                        "first here",
                    );
                    self.push(d);
                    continue;
                }
                seen.insert(field, i);
                if Some(field.as_str()) == owner_field {
                    let d = Diagnostic::error(
                        Code::UnknownField,
                        format!("`{field}` is the owner field of `{name}`; who sees it is said on the owner"),
                    )
                    .at(span, "the owner field")
                    .with_help(format!("use the long owner form: `owner: {{ field: {field}, read: [...] }}`"));
                    self.push(d);
                    continue;
                }
                let Some(fields) = fields else { continue };
                match fields.get(field) {
                    None => {
                        let help = match did_you_mean(field, fields.keys().map(String::as_str)) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!(
                                "the fields of `{name}` are: {}",
                                quoted_list(&fields.keys().map(String::as_str).collect::<Vec<_>>())
                            ),
                        };
                        let d = Diagnostic::error(
                            Code::UnknownField,
                            format!(
                                "`hide.{who}` names `{field}`, which is not a field of `{name}`"
                            ),
                        )
                        .at(span, "unknown field")
                        .with_help(help);
                        self.push(d);
                    }
                    Some(Some(f)) if f.read.is_some() => {
                        let d = Diagnostic::error(
                            Code::ConflictingFlags,
                            format!("`{field}` has its own `read` list, so `hide.{who}` would not apply to it"),
                        )
                        .at(span, "hidden here")
                        .with_label(self.key(path!["resources", name, "fields", field, "read"]), "its readers")
                        .with_help(format!("leave `{who}` out of `fields.{field}.read` instead, and `{field}` out of `hide.{who}`"));
                        self.push(d);
                    }
                    _ => hidden.entry(field).or_default().push((who, i)),
                }
            }
        }
        // The rest reads who may run each operation: only when the owner,
        // the access block, the roles it grants and every field are sound.
        let (Some(owned), Some(Some(fields))) = (
            owned,
            fields.map(|f| f.values().all(Option::is_some).then_some(f)),
        ) else {
            return;
        };
        let (Some(access), Some(roles)) = (&resource.access, &self.spec.roles) else {
            return;
        };
        if !self.clean(path!["resources", name, "access"]) {
            return;
        }
        let access = access.clone().unwrap_or_default();
        if access.roles.keys().any(|r| !roles.contains(r)) {
            return;
        }
        for (field_name, field) in fields {
            let (Some(field), true) = (field, good.contains(field_name.as_str())) else {
                continue;
            };
            let hidden_from = hidden
                .get(field_name.as_str())
                .map_or(&[][..], Vec::as_slice);
            self.field_access(name, owned, &access, field_name, field, hidden_from);
        }
    }

    /// Whether someone who may create a row may write `field` when every
    /// create needs it, and whether its rules (`read`, `write`, `hidden_from`:
    /// who `hide` hides it from, with the index of the entry) let someone
    /// write it who can never read it. Who reads and writes is decided as
    /// the model does: the creator of an owned resource's row is its owner,
    /// and reads the row in the answer to the create; an update answers
    /// with the row only those who may get it.
    fn field_access(
        &mut self,
        name: &str,
        owned: bool,
        access: &Access,
        field_name: &str,
        field: &Field,
        hidden_from: &[(&str, usize)],
    ) {
        let granted = |who: &str, op: Operation| match who {
            "owner" => owned && access.owner.as_ref().is_none_or(|ops| ops.contains(&op)),
            role => access.roles.get(role).is_some_and(|ops| ops.contains(&op)),
        };
        // Whether a rule (`None`: the default, everyone granted) admits
        // `who`, in a create or not.
        let admits = |rule: &Option<Vec<String>>, who: &str, creating: bool| {
            rule.as_ref().is_none_or(|l| {
                l.iter()
                    .any(|w| w == who || w == "public" || (creating && owned && w == "owner"))
            })
        };
        let hidden = |who: &str| hidden_from.iter().any(|(w, _)| *w == who);
        let reads = |who: &str, creating: bool| match &field.read {
            Some(_) => admits(&field.read, who, creating),
            None => !hidden(who) || (creating && owned && !hidden("owner")),
        };
        let mut callers: Vec<&str> = Vec::new();
        if owned {
            callers.push("owner");
        }
        callers.extend(access.roles.keys().map(String::as_str));
        let at = |key: &'static str| path!["resources", name, "fields", field_name, key].to_vec();
        let creators: Vec<&str> = callers
            .iter()
            .copied()
            .filter(|w| granted(w, Operation::Create))
            .collect();
        // A required field is in every create body: its `default` only
        // fills the rows that exist when it is added.
        if field.required
            && !field.read_only
            && !creators.is_empty()
            && !creators.iter().any(|w| admits(&field.write, w, true))
        {
            let d = Diagnostic::error(
                Code::UnwritableField,
                format!("`{field_name}` is required, but nobody who may create a `{name}` may write it, so every create would fail"),
            )
            .at(self.value(&at("write")), "names nobody who creates")
            .with_help(format!(
                "add one who creates ({}) to `write`, or make `{field_name}` optional with a `default`",
                quoted_list(&creators)
            ));
            self.push(d);
        } else if field.required && !field.read_only {
            // Some who create may write it, others never create anything.
            let blocked: Vec<&str> = creators
                .iter()
                .copied()
                .filter(|w| !admits(&field.write, w, true))
                .collect();
            if !blocked.is_empty() {
                let whom = blocked
                    .iter()
                    .map(|w| format!("role `{w}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let d = Diagnostic::warning(
                    Code::UnwritableField,
                    format!("`{field_name}` is required, but {whom} may create a `{name}` without being allowed to write it, so every create of theirs fails"),
                )
                .at(self.value(&at("write")), "leaves out who creates")
                .with_help(format!(
                    "add {} to `write`, make `{field_name}` optional with a `default`, or drop `create` from their grant",
                    quoted_list(&blocked)
                ));
                self.push(d);
            }
        }
        if field.read.is_none() && field.write.is_none() && hidden_from.is_empty() {
            return;
        }
        for who in callers {
            let writes = !field.read_only
                && ((granted(who, Operation::Create) && admits(&field.write, who, true))
                    || (!field.write_once
                        && granted(who, Operation::Update)
                        && admits(&field.write, who, false)));
            let gets = granted(who, Operation::Get) || granted(who, Operation::List);
            let creates = granted(who, Operation::Create);
            let can_read = (gets && reads(who, false)) || (creates && reads(who, true));
            // An update-only grant writes every field blind; that is only
            // the rules' doing when a `write` list names it.
            let named = field
                .write
                .as_ref()
                .is_some_and(|l| l.iter().any(|w| w == who));
            if !writes || can_read || !(gets || creates || named) {
                continue;
            }
            let whom = if who == "owner" {
                "the owner".to_string()
            } else {
                format!("role `{who}`")
            };
            let hide_entry = hidden_from
                .iter()
                .find(|(w, _)| *w == who)
                .map(|&(w, i)| self.value(path!["resources", name, "hide", w, i]));
            let mut d = Diagnostic::warning(
                Code::WriteWithoutRead,
                format!("{whom} may write `{field_name}` of `{name}` but can never read it"),
            );
            d = match (&field.write, &field.read, hide_entry) {
                (Some(_), _, _) => d.at(self.key(&at("write")), "writes blind"),
                (None, Some(_), _) => d.at(self.key(&at("read")), "not among the readers"),
                (None, None, Some(span)) => d.at(span, "hidden here"),
                (None, None, None) => d.at(
                    self.key(path!["resources", name, "fields", field_name]),
                    "writes blind",
                ),
            };
            if field.write.is_some() && (gets || creates) {
                d = match (&field.read, hide_entry) {
                    (Some(_), _) => d.with_label(self.key(&at("read")), "not among the readers"),
                    (None, Some(span)) => d.with_label(span, "hidden here"),
                    (None, None) => d,
                };
            }
            let help = if !(gets || creates) {
                format!(
                    "grant `{who}` `get` on `{name}`, or leave `{who}` out of the field's `write`"
                )
            } else {
                let reader = match &field.read {
                    Some(_) => format!("add `{who}` to the field's `read`"),
                    None => format!("take `{field_name}` out of `hide.{who}`"),
                };
                let writer = match &field.write {
                    Some(_) => format!("leave `{who}` out of its `write`"),
                    None => format!("give it a `write` list without `{who}`"),
                };
                format!("{reader}, or {writer}")
            };
            self.push(d.with_help(help));
        }
    }

    /// `owner.read`: `owner`, `public` or declared role names, each once.
    fn owner_readers(&mut self, name: &str, read: &[String]) {
        let base = path!["resources", name, "owner", "read"];
        self.rule_list(base, "owner.read", read, name, Some(true));
    }

    fn owner_claim(&mut self, name: &str, claim: &str) {
        let span = self.value(path!["resources", name, "owner", "claim"]);
        let auth = self.spec.auth.as_ref();
        let jwt = auth.map(|a| &a.jwt);
        let why = if TIME_CLAIMS.contains(&claim) {
            "it is a time that changes with every token, not an owner"
        } else if claim == "iss" && jwt.is_some_and(|j| j.issuer.is_some()) {
            "`auth.jwt.issuer` requires the same `iss` in every token, so every caller would be one owner"
        } else if claim == "aud" && jwt.is_some_and(|j| j.audience.is_some()) {
            "`auth.jwt.audience` requires the same `aud` in every token, so every caller would be one owner"
        } else if auth.and_then(|a| a.roles_claim.as_deref()) == Some(claim) {
            "it is `auth.roles_claim`, an array of role names, not an owner"
        } else if claim == "jti" {
            "it is new in every token, so no caller would see a row twice"
        } else {
            return;
        };
        let d = Diagnostic::error(
            Code::ReservedClaim,
            format!("`{claim}` cannot be the owner claim of `{name}`: {why}"),
        )
        .at(span, "reserved claim")
        .with_help("name the claim that holds the tenant, such as `org`");
        self.push(d);
    }

    fn list_options(&mut self, name: &str, resource: &PartialResource) {
        for (key, list, extra) in [
            ("filters", &resource.filters, &[][..]),
            ("sort", &resource.sort, &["created_at", "updated_at"][..]),
        ] {
            let Some(list) = list else { continue };
            let fields = resource.fields.as_ref();
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for (i, field) in list.iter().enumerate() {
                let span = self.value(path!["resources", name, key, i]);
                if let Some(&first) = seen.get(field.as_str()) {
                    let d = Diagnostic::error(
                        Code::DuplicateEntry,
                        format!("`{field}` is listed twice in `{key}`"),
                    )
                    .at(span, "again here")
                    .with_label(
                        self.value(path!["resources", name, key, first]),
                        "first here",
                    );
                    self.push(d);
                    continue;
                }
                seen.insert(field.as_str(), i);
                if let Some((_, what)) = LIST_PARAMETERS
                    .iter()
                    .find(|(p, _)| key == "filters" && p == field)
                {
                    let d = Diagnostic::error(
                        Code::ReservedFilter,
                        format!("`{field}` cannot be a filter: `?{field}=` is the {what} of every list"),
                    )
                    .at(span, "list parameter")
                    .with_help(format!(
                        "a filter's query parameter is its field's name: remove `{field}` from `filters`, or rename the field"
                    ));
                    self.push(d);
                    continue;
                }
                // Without sound fields, whether a name is a field is unknown.
                let Some(fields) = fields else { continue };
                if fields.contains_key(field) || extra.contains(&field.as_str()) {
                    continue;
                }
                if key == "filters" && SERVER_COLUMNS.contains(&field.as_str()) {
                    let d = Diagnostic::error(
                        Code::UnknownField,
                        format!("`{field}` is managed by the server and cannot be a filter"),
                    )
                    .at(span, "server-managed column")
                    .with_help(
                        "filters name declared fields; sort keys may also use `created_at` and `updated_at`",
                    );
                    self.push(d);
                    continue;
                }
                let candidates: Vec<&str> = fields
                    .keys()
                    .map(String::as_str)
                    .chain(extra.iter().copied())
                    .collect();
                let help = match did_you_mean(field, candidates.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("the fields of `{name}` are: {}", quoted_list(&candidates)),
                };
                let d = Diagnostic::error(
                    Code::UnknownField,
                    format!("`{key}` names `{field}`, which is not a field of `{name}`"),
                )
                .at(span, "unknown field")
                .with_help(help);
                self.push(d);
            }
        }
    }
}

/// Checks a text value against a field's length, enum and pattern
/// constraints (`with_enum`: the enum too); `Err` says what is wrong,
/// starting with the value.
fn text_problem(
    field: &Field,
    s: &str,
    pattern: Option<&regex::Regex>,
    with_enum: bool,
) -> Result<(), String> {
    let length = s.chars().count();
    if let Some(min) = field.min_length {
        if length < min as usize {
            return Err(format!(
                "`{s}` is {} long, below `min_length` {min}",
                characters(length)
            ));
        }
    }
    if let Some(max) = field.max_length {
        if length > max as usize {
            return Err(format!(
                "`{s}` is {} long, above `max_length` {max}",
                characters(length)
            ));
        }
    }
    if with_enum {
        if let Some(values) = &field.values {
            if !values.iter().any(|v| v == s) {
                return Err(format!(
                    "`{s}` is not one of the `enum` values {}",
                    quoted_list(&values.iter().map(String::as_str).collect::<Vec<_>>())
                ));
            }
        }
    }
    if let Some(p) = pattern {
        if !p.is_match(s) {
            return Err(format!("`{s}` does not match `pattern`"));
        }
    }
    Ok(())
}

/// Why no value can meet `field`'s type and length constraints, if none
/// can: the key to point at, the reason and the fix. `pattern` is the
/// field's pattern when it compiled.
fn unsatisfiable(field: &Field, pattern: Option<&str>) -> Option<(&'static str, String, String)> {
    // The shortest strings the server's own formats accept.
    let shortest = match field.ty {
        FieldType::Email => Some(("email address", "a@b.c")),
        FieldType::Url => Some(("URL", "http://a")),
        _ => None,
    };
    if let (Some((what, example)), Some(max)) = (shortest, field.max_length) {
        let n = example.len();
        if (max as usize) < n {
            return Some((
                "max_length",
                format!(
                    "`max_length: {max}` is shorter than the shortest {what} the server accepts ({n} characters, like `{example}`)"
                ),
                format!("raise `max_length` to at least {n}, or drop it"),
            ));
        }
    }
    let hir = regex_syntax::Parser::new()
        .parse(&format!("^(?:{})$", pattern?))
        .ok()?;
    let Some((lo, hi)) = char_lengths(&hir) else {
        return Some((
            "pattern",
            "`pattern` matches no string at all".to_string(),
            "fix the pattern (an empty character class never matches)".to_string(),
        ));
    };
    if let Some(max) = field.max_length.filter(|m| lo > u64::from(*m)) {
        return Some((
            "pattern",
            format!(
                "`pattern` only matches strings of {} or more, above `max_length: {max}`",
                characters(lo as usize)
            ),
            format!("raise `max_length` to at least {lo}, or change the pattern"),
        ));
    }
    if let (Some(min), Some(hi)) = (field.min_length, hi) {
        if hi < u64::from(min) {
            return Some((
                "pattern",
                format!(
                    "`pattern` only matches strings of at most {}, below `min_length: {min}`",
                    characters(hi as usize)
                ),
                format!("lower `min_length` to at most {hi}, or change the pattern"),
            ));
        }
    }
    None
}

/// The fewest and the most characters of a string that `hir` matches
/// (`None` for no upper bound), or `None` when it matches no string.
fn char_lengths(hir: &regex_syntax::hir::Hir) -> Option<(u64, Option<u64>)> {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some((0, Some(0))),
        HirKind::Literal(lit) => {
            let n = String::from_utf8_lossy(&lit.0).chars().count() as u64;
            Some((n, Some(n)))
        }
        HirKind::Class(Class::Unicode(c)) => (!c.ranges().is_empty()).then_some((1, Some(1))),
        HirKind::Class(Class::Bytes(c)) => (!c.ranges().is_empty()).then_some((1, Some(1))),
        HirKind::Repetition(r) => match char_lengths(&r.sub) {
            // Zero repetitions of what never matches is the empty string.
            None => (r.min == 0).then_some((0, Some(0))),
            Some((lo, hi)) => {
                let max = match (hi, r.max) {
                    (Some(0), _) => Some(0),
                    (Some(h), Some(m)) => Some(h.saturating_mul(u64::from(m))),
                    _ => None,
                };
                Some((lo.saturating_mul(u64::from(r.min)), max))
            }
        },
        HirKind::Capture(c) => char_lengths(&c.sub),
        HirKind::Concat(parts) => parts.iter().try_fold((0u64, Some(0u64)), |(lo, hi), part| {
            let (l, h) = char_lengths(part)?;
            Some((
                lo.saturating_add(l),
                hi.zip(h).map(|(a, b)| a.saturating_add(b)),
            ))
        }),
        HirKind::Alternation(branches) => {
            let lengths: Vec<(u64, Option<u64>)> =
                branches.iter().filter_map(char_lengths).collect();
            let lo = lengths.iter().map(|(l, _)| *l).min()?;
            let hi = lengths
                .iter()
                .try_fold(0u64, |m, (_, h)| h.map(|h| m.max(h)));
            Some((lo, hi))
        }
    }
}

/// Checks a field's default against its type and constraints.
fn check_default(
    field: &Field,
    value: &serde_json::Value,
    pattern: Option<&regex::Regex>,
) -> Result<(), String> {
    use serde_json::Value as J;
    let ty = field.ty;
    match (ty, value) {
        (FieldType::Ref, _) => {
            Err("a ref cannot have a default; the caller must choose the row".to_string())
        }
        (FieldType::Boolean, J::Bool(_)) => Ok(()),
        (FieldType::Integer, J::Number(n)) => {
            let i = n
                .as_i64()
                .ok_or_else(|| format!("`{n}` is not a whole number"))?;
            check_range(field, i as f64)
        }
        (FieldType::Number, J::Number(n)) => check_range(field, n.as_f64().unwrap_or(f64::NAN)),
        (_, J::String(s))
            if ty.is_text()
                || !matches!(
                    ty,
                    FieldType::Boolean | FieldType::Integer | FieldType::Number
                ) =>
        {
            text_problem(field, s, pattern, true)?;
            if s.contains('\0') {
                return Err("it contains a NUL character".to_string());
            }
            crate::formats::check(ty, s).map_err(|e| format!("`{s}` {e}"))
        }
        (_, other) => Err(format!(
            "expected a value of type `{}`, found {}",
            ty.name(),
            json_kind(other)
        )),
    }
}

fn check_range(field: &Field, value: f64) -> Result<(), String> {
    if !value.is_finite() {
        return Err("it is not a finite number".to_string());
    }
    if let Some(min) = field.min.as_ref().and_then(serde_json::Number::as_f64) {
        if value < min {
            return Err(format!("{value} is below `min` {min}"));
        }
    }
    if let Some(max) = field.max.as_ref().and_then(serde_json::Number::as_f64) {
        if value > max {
            return Err(format!("{value} is above `max` {max}"));
        }
    }
    Ok(())
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        for ok in ["a", "order", "amount_cents", "x1"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "A", "1a", "_a", "a-b", "é", "Invoice"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn the_user_claim_must_identify_a_user() {
        let spec = |claim: &str| {
            format!(
                "palisade: 1\nservice: {{ name: s }}\nauth:\n  jwt: {{ algorithm: HS256, secret_env: JWT_SECRET }}\n  user_claim: {claim}\n  roles_claim: groups\nroles: [admin]\nresources:\n  note:\n    owner: owner_id\n    fields: {{ t: {{ type: string }} }}\n    access: {{ roles: {{ admin: [get] }} }}\n"
            )
        };
        let codes = |claim: &str| -> Vec<Code> {
            match crate::compile(crate::source::SourceFile::new("t.yaml", spec(claim))) {
                Ok(compiled) => compiled.warnings.iter().map(|d| d.code).collect(),
                Err(report) => report.diagnostics.iter().map(|d| d.code).collect(),
            }
        };
        for claim in ["iss", "aud", "azp", "exp", "iat", "nbf", "jti", "groups"] {
            assert_eq!(codes(claim), [Code::ReservedClaim], "{claim}");
        }
        for claim in ["sub", "email", "oid", "uid"] {
            assert_eq!(codes(claim), [], "{claim}");
        }
    }

    /// The codes of every diagnostic of a spec, errors or warnings.
    fn codes(spec: &str) -> Vec<Code> {
        match crate::compile(crate::source::SourceFile::new("t.yaml", spec)) {
            Ok(compiled) => compiled.warnings.iter().map(|d| d.code).collect(),
            Err(report) => report.diagnostics.iter().map(|d| d.code).collect(),
        }
    }

    #[test]
    fn field_rules_warn_only_of_the_blind_writes_they_cause() {
        let spec = |fields: &str| {
            format!(
                "palisade: 1\nservice: {{ name: s }}\nauth:\n  jwt: {{ algorithm: HS256, secret_env: JWT_SECRET }}\n  roles_claim: roles\nroles: [support, bot, intake]\nresources:\n  ticket:\n    owner: owner_id\n    fields:\n      subject: {{ type: string, required: true }}\n{fields}    hide: {{ public: [subject] }}\n    access:\n      roles: {{ support: [list, get, update], bot: [update], intake: [create] }}\n      public: [list, get]\n"
            )
        };
        // The bot may only update: it writes every field blind, rules or
        // not. Whoever creates an owned row is its owner and reads, in the
        // answer, what the owner reads; `intake` reads `notes` there.
        for fields in [
            "",
            "      email: { type: email, read: [owner, support] }\n",
            "      notes: { type: string, write: [intake] }\n",
            "      code: { type: string, required: true, write: [owner] }\n",
            "      email: { type: email, read: [owner], write: [owner] }\n",
        ] {
            assert_eq!(codes(&spec(fields)), [], "{fields}");
        }
        for fields in [
            // `support` updates and gets, but may not read it.
            "      email: { type: email, read: [owner] }\n",
            // A `write` list naming the bot says it writes blind.
            "      stamp: { type: string, write: [bot] }\n",
            // `intake` creates and reads the answer, but not `notes`.
            "      notes: { type: string, read: [support], write: [intake, support] }\n",
        ] {
            assert_eq!(codes(&spec(fields)), [Code::WriteWithoutRead], "{fields}");
        }
        // Nobody who creates (the owner, `intake`) may write it.
        assert_eq!(
            codes(&spec(
                "      code: { type: string, required: true, write: [support] }\n"
            )),
            [Code::UnwritableField]
        );
        // The owner may, `intake` (a creator too) may not: a warning.
        let unowned = "palisade: 1\nservice: { name: s }\nauth:\n  jwt: { algorithm: HS256, secret_env: JWT_SECRET }\n  roles_claim: roles\nroles: [clerk, intake]\nresources:\n  form:\n    owner: none\n    fields:\n      code: { type: string, required: true, write: [clerk] }\n    access:\n      roles: { clerk: [list, get, create], intake: [create, get] }\n";
        assert_eq!(codes(unowned), [Code::UnwritableField]);
    }

    #[test]
    fn pattern_lengths_are_counted_in_characters() {
        let lengths = |p: &str| {
            let hir = regex_syntax::Parser::new()
                .parse(&format!("^(?:{p})$"))
                .unwrap();
            char_lengths(&hir)
        };
        assert_eq!(lengths("[A-Z]{3}-[0-9]{4}"), Some((8, Some(8))));
        assert_eq!(lengths("(foo|ba)-\\d{2,}"), Some((5, None)));
        assert_eq!(lengths("ü+|é{2}"), Some((1, None)));
        assert_eq!(lengths("(ab|c)?"), Some((0, Some(2))));
        assert_eq!(lengths("[^\\s\\S]"), None);
        assert_eq!(lengths("[^\\s\\S]*x"), Some((1, Some(1))));
        assert_eq!(lengths("x|[^\\s\\S]"), Some((1, Some(1))));
    }
}
