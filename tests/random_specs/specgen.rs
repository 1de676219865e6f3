//! A generator of random *valid* specs, as YAML text, covering the whole
//! language: 1-4 resources named with Rust and SQL keywords and with names
//! the generated code uses itself, every field type, every flag, every
//! constraint (with defaults and enum values that satisfy them), refs
//! between resources (to unowned resources, optional self-refs, cycles),
//! the three owner forms, owner/role/public grants (public only on reads,
//! every resource reachable), field rules (`read` and `write` per field,
//! `hide` per resource), filters and sort keys naming real fields,
//! per-operation throttles, CORS, every JWT algorithm, limits and audit
//! allowances; and, in the text, block and flow style and quoted keys.
//!
//! The generator reads its choices from a list of numbers ([`Dice`]); any
//! list gives a valid spec, and a choice of 0 is always the simplest
//! option, so proptest shrinks a failing spec towards a small one by
//! shrinking the numbers.

/// The random choices a spec is built from: 0 when the list runs out.
pub struct Dice<'a> {
    raw: &'a [u32],
    at: usize,
}

impl<'a> Dice<'a> {
    pub fn new(raw: &'a [u32]) -> Self {
        Dice { raw, at: 0 }
    }

    fn next(&mut self) -> u32 {
        let v = self.raw.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        v
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { self.next() as usize % n }
    }

    /// True with the given probability; a choice of 0 is false.
    fn chance(&mut self, percent: u32) -> bool {
        self.next() % 100 >= 100 - percent.min(100)
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    /// Each item with the given probability, in a random order.
    fn subset<T: Clone>(&mut self, items: &[T], percent: u32) -> Vec<T> {
        let mut out: Vec<T> = items
            .iter()
            .filter(|_| self.chance(percent))
            .cloned()
            .collect();
        for i in (1..out.len()).rev() {
            let j = self.below(i + 1);
            out.swap(i, j);
        }
        out
    }
}

// ---------------------------------------------------------------- pools

/// Service names (the crate name of the generated project).
const SERVICE_NAMES: &[&str] = &[
    "svc", "billing", "my-api", "x_y-z", "api-v2", "a", "palisade", "runtime", "hooks", "main",
];

/// Names of resources, fields, owner fields and roles: plain words, Rust
/// keywords (strict, reserved, and those that cannot be raw), SQL keywords,
/// names of the generated code's own items and of its dependencies, YAML
/// 1.1 booleans, and names ending in `_` next to their escaped forms.
const NAMES: &[&str] = &[
    // plain
    "name",
    "title",
    "amount",
    "note",
    "a1",
    "z9_z",
    "x",
    "a_very_long_identifier_with_many_parts_that_goes_on_and_on",
    // Rust keywords
    "type",
    "match",
    "self",
    "super",
    "crate",
    "fn",
    "async",
    "await",
    "gen",
    "where",
    "impl",
    "mod",
    "use",
    "ref",
    "move",
    "dyn",
    "loop",
    "box",
    "yield",
    "try",
    "static",
    "const",
    "enum",
    "struct",
    "trait",
    "true",
    "false",
    "in",
    "as",
    "let",
    "mut",
    "pub",
    "return",
    "unsafe",
    "extern",
    "abstract",
    "final",
    "macro",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "become",
    "do",
    "break",
    "continue",
    "else",
    "for",
    "if",
    "while",
    "union",
    // escaped forms next to keywords
    "self_",
    "type_",
    "super_",
    "crate_",
    "r_type",
    // SQL keywords
    "order",
    "user",
    "select",
    "from",
    "group",
    "table",
    "index",
    "key",
    "primary",
    "column",
    "offset",
    "values",
    "default",
    "check",
    "references",
    "null",
    "like",
    "between",
    "join",
    "having",
    "desc",
    "asc",
    "count",
    "rowid",
    "oid",
    "transaction",
    "exists",
    "case",
    "when",
    "then",
    "end",
    "all",
    "distinct",
    "and",
    "or",
    "not",
    "is",
    "on",
    "set",
    "insert",
    "returning",
    // the generated code's own names and its dependencies
    "app",
    "row",
    "rows",
    "body",
    "item",
    "items",
    "token",
    "reply",
    "seed",
    "json",
    "value",
    "map",
    "input",
    "scope",
    "access",
    "page",
    "query",
    "state",
    "router",
    "routes",
    "settings",
    "migrations",
    "hooks",
    "runtime",
    "api",
    "store",
    "problem",
    "create",
    "update",
    "list",
    "get",
    "delete",
    "new",
    "patch",
    "std",
    "core",
    "alloc",
    "serde",
    "sqlx",
    "axum",
    "tokio",
    "tracing",
    "uuid",
    "time",
    "regex",
    "string",
    "vec",
    "option",
    "result",
    "ok",
    "err",
    "some",
    "none",
    "db",
    "qb",
    "filter",
    "c",
    "v",
    "health",
    "openapi",
    "custom",
    "make",
    "test",
    "main",
    "lib",
    "checker",
    "target",
    "tests",
    "security",
    "cases",
    "validate",
    "fields",
    // YAML 1.1 booleans, which are strings in YAML 1.2
    "yes",
    "no",
    "y",
    "n",
    "off",
];

/// List query parameters: a field with one of these names as a filter
/// would be shadowed.
const QUERY_PARAMS: &[&str] = &["limit", "sort", "cursor"];

const OWNER_FIELDS: &[&str] = &[
    "owner_id",
    "owner",
    "where",
    "self",
    "type",
    "user",
    "tenant",
    "org_id",
    "match",
    "crate",
    "user_id",
    "sub",
    "row",
    "created_by",
    "owner_",
    "super",
    "order",
    "select",
];

const ROLE_NAMES: &[&str] = &[
    "admin", "support", "staff", "select", "type", "self", "order", "auditor", "r1", "match",
];

const PLURALS: &[&str] = &[
    "people",
    "data",
    "selves",
    "users_table",
    "order",
    "type",
    "health_checks",
    "x",
    "self",
    "match",
    "crate",
];

const TEXTS: &[&str] = &[
    "A sentence.",
    "quotes \" and ' and `backticks`",
    "ünïcødé ✓ 日本語 😀",
    "*/ /* -- ; DROP TABLE x; --",
    "{{ name }} {% if x %}{# c #}",
    "line one\nline two\n\nline four",
    "trailing backslash \\",
    "#not a comment: really",
    "<b>html</b> &amp; <script>alert(1)</script>",
    "$(rm -rf /) ${HOME} %s %n {0}",
    "tab\there and \r carriage",
    "]]> \"\"\" ''' r#\"raw\"#",
    "   leading and trailing spaces   ",
    "@generated",
];

const ENV_NAMES: &[&str] = &[
    "JWT_SECRET",
    "JWT_PUBLIC_KEY",
    "K",
    "_KEY_2",
    "APP_JWT_KEY",
    "SECRET",
];

const ALGORITHMS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "PS256", "ES256", "ES384", "EdDSA",
];
/// Algorithms a JWKS allowlist may add to the first.
const JWKS_ALGORITHMS: &[&str] = &["RS256", "PS256", "ES256", "EdDSA"];

const USER_CLAIMS: &[&str] = &[
    "sub",
    "email",
    "uid",
    "https://example.com/user",
    "/user/id",
];
const ROLE_CLAIMS: &[&str] = &[
    "roles",
    "/realm_access/roles",
    "/https:~1~1example.com~1roles",
    "groups",
    "https://example.com/roles",
    "scope_roles",
];
const TENANT_CLAIMS: &[&str] = &["org", "tenant", "team", "https://example.com/org", "org_id"];

const ISSUERS: &[&str] = &[
    "https://auth.example.com",
    "issuer with \"quotes\" and 'single' \\ back",
    "ünï",
    "urn:x:y",
];

const OPS: &[&str] = &["list", "get", "create", "update", "delete"];
const READS: &[&str] = &["list", "get"];

const RATES: &[&str] = &[
    "30/minute",
    "1/second",
    "5/s",
    "30/min",
    "100/m",
    "1000/hour",
    "1000/h",
    "10/day",
    "10/d",
    "4294967295/second",
    "1/day",
    "2 / minute",
    "7/seconds",
];

const ORIGINS: &[&str] = &[
    "https://app.example.com",
    "http://localhost:3000",
    "https://a.b.example.org:8443",
    "http://[::1]:8080",
    "https://xn--bcher-kva.example",
    "http://127.0.0.1:65535",
];

const SIZES: &[&str] = &["64KiB", "1MiB", "512", "1024B", "64MiB", "100000"];
/// Bodies too small for the generated tests' own requests.
const TINY_SIZES: &[&str] = &["1", "2"];

const AUDIT_CODES: &[&str] = &[
    "public-operation",
    "public-pii-read",
    "role-deletes-across-owners",
    "role-updates-across-owners",
    "unowned-resource",
    "missing-issuer",
    "missing-audience",
    "shared-secret",
    "cors-credentials",
    "create-without-throttle",
    "loose-rate",
    "large-body-limit",
    "large-page-limit",
    "long-request-timeout",
    "pii-exposed-to-role",
    "trusted-proxy-hops",
];

/// Safe patterns, each with strings that match it.
const PATTERNS: &[(&str, &[&str])] = &[
    ("[a-z]+", &["abc", "hello", "x", "zzzzzzzzzzzz"]),
    ("[A-Z0-9-]{4,20}", &["AB-12", "SKU-0001", "ZZZZ"]),
    ("[a-z]{3}", &["abc", "xyz"]),
    ("\\d+", &["0", "42", "1234567"]),
    ("(foo|bar)-[0-9]{2}", &["foo-01", "bar-99"]),
    ("[a-z0-9_.-]+", &["a.b-c_d", "v1.2.3"]),
    ("[^\"'\\\\]+", &["no quotes here", "ünï"]),
    ("\\$[0-9]+(\\.[0-9]{2})?", &["$5", "$10.00"]),
    (".*", &["", "anything \" goes ' \\ here"]),
    ("[A-Za-z ]{1,30}", &["Hello World", "x"]),
    ("a|b|c", &["a", "b", "c"]),
    ("#[0-9a-f]{6}", &["#00ff00", "#abcdef"]),
    ("[a-z]+(-[a-z]+)*", &["kebab-case-name", "one"]),
];

/// Strings for defaults and enum values of fields without a pattern.
const FREE_STRINGS: &[&str] = &[
    "EUR",
    "USD",
    "draft",
    "it's",
    "say \"hi\"",
    "back\\slash",
    "ünïcødé ✓",
    "",
    "with space",
    "true",
    "null",
    "123",
    "{{ x }}",
    "a,b",
    "#hash",
    "-dash",
    "multi\nline",
    "tab\there",
    "ＦＵＬＬ",
    "a-b",
    "CamelCase",
    "x_y",
    "bell\u{7}",
    "Robert'); DROP TABLE students;--",
    "*/",
];

const INT_BOUNDS: &[i64] = &[0, -1000, 1, 5, 100, -1, 2_147_483_648, i64::MIN, i64::MAX];

const NUMBER_BOUNDS: &[&str] = &[
    "0", "-1.5", "0.1", "2.5", "100", "1e300", "-1e300", "3", "5e-324",
];

const HUGE_NUMBER: &str = "1.7976931348623157e308";

const NUMBER_DEFAULTS: &[&str] = &["0", "0.5", "-2.25", "1e10", "3", "42"];
const DATES: &[&str] = &[
    "2026-01-31",
    "2024-02-29",
    "1970-01-01",
    "9999-12-31",
    "0001-01-01",
];
const DATETIMES: &[&str] = &[
    "2026-01-31T12:00:00Z",
    "2026-01-31T12:00:00.123+02:00",
    "1970-01-01t00:00:00z",
    "2016-12-31T23:59:60Z",
    "2026-06-01T00:00:00-05:30",
];
const UUIDS: &[&str] = &[
    "6f1c1f8e-33b9-4c59-9d6a-6a4f7c6a1d2e",
    "00000000-0000-0000-0000-000000000000",
    "6F1C1F8E-33B9-4C59-9D6A-6A4F7C6A1D2E",
];
const EMAILS: &[&str] = &[
    "a@b.co",
    "user.name+tag@example.com",
    "x@localhost.localdomain",
];
const URLS: &[&str] = &[
    "https://example.com",
    "http://a.b/c?d=1#e",
    // Non-ASCII is percent-encoded: the server (and so `validate`)
    // refuses raw `ünï` in a URL.
    "https://example.com/%C3%BCn%C3%AF",
];

const TYPES: &[&str] = &[
    "string", "integer", "number", "boolean", "date", "datetime", "uuid", "email", "url", "ref",
];

// ---------------------------------------------------------------- the spec

#[derive(Debug, Clone)]
pub struct Spec {
    pub service: String,
    description: Option<String>,
    algorithm: &'static str,
    /// Keys from a JWKS at the URL in `key_env`, with these algorithms
    /// allowed besides `algorithm` (never for HMAC).
    jwks: Option<Vec<&'static str>>,
    key_env: &'static str,
    issuer: Option<&'static str>,
    audience: Option<&'static str>,
    leeway: Option<u32>,
    user_claim: Option<&'static str>,
    roles_claim: Option<&'static str>,
    roles: Vec<String>,
    cors: Option<Cors>,
    throttle: Option<Throttle>,
    limits: Option<Limits>,
    pub resources: Vec<Resource>,
    audit: Option<Audit>,
}

#[derive(Debug, Clone)]
struct Cors {
    origins: Vec<&'static str>,
    credentials: Option<bool>,
    max_age: Option<u32>,
}

#[derive(Debug, Clone)]
struct Throttle {
    anon: Option<&'static str>,
    user: Option<&'static str>,
    hops: Option<u8>,
    /// `redis: { url_env, on_error }`, each key optional.
    redis: Option<(Option<&'static str>, Option<&'static str>)>,
}

#[derive(Debug, Clone)]
struct Limits {
    max_body: Option<&'static str>,
    default_page_size: Option<u32>,
    max_page_size: Option<u32>,
    timeout: Option<u32>,
}

#[derive(Debug, Clone)]
struct Audit {
    allow: Vec<&'static str>,
    reason: &'static str,
}

#[derive(Debug, Clone)]
pub enum Owner {
    None,
    Short(String),
    Long { field: String, claim: &'static str },
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub name: String,
    plural: Option<String>,
    description: Option<&'static str>,
    pub owner: Owner,
    pub fields: Vec<Field>,
    access: Option<Access>,
    /// `hide`: who, and the fields hidden from them.
    hide: Vec<(String, Vec<String>)>,
    filters: Vec<String>,
    sort: Vec<String>,
    throttle: Vec<(&'static str, &'static str)>,
    audit: Option<Audit>,
    /// The resource's earlier name (a migration hint).
    renamed_from: Option<String>,
    /// What [`mutate`] did to it so far.
    edit: Edit,
}

#[derive(Debug, Clone, Default)]
struct Access {
    owner: Option<Vec<&'static str>>,
    roles: Vec<(String, Vec<&'static str>)>,
    public: Vec<&'static str>,
}

#[derive(Debug, Clone, Default)]
pub struct Field {
    pub name: String,
    pub ty: &'static str,
    description: Option<&'static str>,
    pub required: bool,
    /// YAML text of the default.
    default: Option<String>,
    unique: Option<&'static str>,
    read_only: bool,
    write_once: bool,
    pii: bool,
    min_length: Option<u32>,
    max_length: Option<u32>,
    pattern: Option<&'static str>,
    values: Option<Vec<&'static str>>,
    /// YAML text of the bounds.
    min: Option<String>,
    max: Option<String>,
    pub resource: Option<String>,
    /// Who reads it (`owner`, `public`, roles).
    read: Option<Vec<String>>,
    /// Who writes it (`owner`, roles).
    write: Option<Vec<String>>,
    /// The field's earlier name (a migration hint).
    renamed_from: Option<String>,
    /// YAML text of the value rows that exist get when the field is added.
    backfill: Option<String>,
    /// What [`mutate`] did to it so far.
    edit: Edit,
}

/// What one call of [`mutate`] did to a resource or a field: a thing it
/// added has no earlier name, and one it renamed keeps its first one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Edit {
    #[default]
    Kept,
    Added,
    Renamed,
}

/// Picks a name from `pool` that is not in `taken` (adding a number when
/// the pool's pick is taken).
fn fresh(d: &mut Dice<'_>, pool: &[&str], taken: &[String]) -> String {
    let base = d.pick(pool).to_string();
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|i| format!("{base}{i}"))
        .find(|n| !taken.contains(n))
        .expect("a free name")
}

/// Generates a valid spec from `raw` choices; `service` overrides the
/// service name.
pub fn generate(raw: &[u32], service: Option<&str>) -> Spec {
    let d = &mut Dice::new(raw);
    // Sometimes a service named like a Rust keyword: `r#match` in code,
    // the package `crate_` for `crate`.
    let service_name = if d.chance(10) {
        d.pick(&["match", "fn", "type", "crate", "super", "gen", "async"])
    } else {
        d.pick(SERVICE_NAMES)
    }
    .to_string();
    let description = d.chance(30).then(|| d.pick(TEXTS).to_string());
    let algorithm = d.pick(ALGORITHMS);
    let jwks = (!algorithm.starts_with("HS") && d.chance(30)).then(|| {
        let mut more: Vec<&str> = JWKS_ALGORITHMS
            .iter()
            .copied()
            .filter(|a| *a != algorithm && d.chance(20))
            .collect();
        more.dedup();
        more
    });
    let key_env = d.pick(ENV_NAMES);
    let issuer = d.chance(30).then(|| d.pick(ISSUERS));
    let audience = d.chance(30).then(|| d.pick(ISSUERS));
    let leeway = d.chance(30).then(|| d.pick(&[0, 1, 30, 300]));
    let user_claim = d.chance(30).then(|| d.pick(USER_CLAIMS));
    let mut roles: Vec<String> = Vec::new();
    for _ in 0..d.below(4) {
        let role = fresh(d, ROLE_NAMES, &roles);
        roles.push(role);
    }
    let roles_claim = if roles.is_empty() {
        d.chance(10).then(|| d.pick(ROLE_CLAIMS))
    } else {
        // Declared roles without a claim: the tests have no role users.
        d.chance(85).then(|| d.pick(ROLE_CLAIMS))
    };
    // Roles can be granted only when some claim carries them.
    let grantable: Vec<String> = if roles_claim.is_some() {
        roles.clone()
    } else {
        Vec::new()
    };

    // Resource names, then their plurals (unique, never a served path).
    let count = 1 + d.below(4);
    let mut names: Vec<String> = Vec::new();
    for _ in 0..count {
        let name = fresh(d, NAMES, &names);
        names.push(name);
    }
    let mut plurals: Vec<String> = Vec::new();
    let mut explicit: Vec<Option<String>> = Vec::new();
    for name in &names {
        let mut plural = d
            .chance(30)
            .then(|| {
                if d.chance(50) {
                    d.pick(PLURALS).to_string()
                } else {
                    format!("{name}_list")
                }
            })
            .filter(|p| !plurals.contains(p));
        let effective = plural.clone().unwrap_or_else(|| format!("{name}s"));
        if plurals.contains(&effective) || ["health", "openapi"].contains(&effective.as_str()) {
            let unique = (0..)
                .map(|i| format!("{name}_items{i}"))
                .find(|p| !plurals.contains(p))
                .expect("a free plural");
            plural = Some(unique);
        }
        plurals.push(plural.clone().unwrap_or_else(|| format!("{name}s")));
        explicit.push(plural);
    }

    let mut resources = Vec::new();
    for (name, plural) in names.iter().zip(explicit) {
        resources.push(resource(d, name, plural, &names, &grantable));
    }

    // Names that made schema objects collide: resource `x` with a unique
    // `pair_key` and resource `x_pair` with a unique `key` both made the
    // index `x_pair_key_unique`; a resource `x_list` shared its name with
    // `x`'s list index.
    if d.chance(15) {
        collide(d, &mut resources, &plurals);
    }

    let cors = d.chance(40).then(|| {
        if d.chance(15) {
            Cors {
                origins: vec!["*"],
                credentials: d.chance(30).then_some(false),
                max_age: d.chance(50).then(|| d.pick(&[0, 600, 86_400])),
            }
        } else {
            let mut origins = d.subset(ORIGINS, 40);
            if origins.is_empty() {
                origins.push(d.pick(ORIGINS));
            }
            Cors {
                origins,
                credentials: d.chance(60).then(|| d.chance(50)),
                max_age: d.chance(50).then(|| d.pick(&[0, 600, 86_400])),
            }
        }
    });
    let throttle = d.chance(40).then(|| Throttle {
        anon: d.chance(60).then(|| d.pick(RATES)),
        user: d.chance(60).then(|| d.pick(RATES)),
        hops: d.chance(30).then(|| d.pick(&[0, 1, 2, 10])),
        redis: d.chance(25).then(|| {
            (
                d.chance(50)
                    .then(|| d.pick(&["REDIS_URL", "SHARED_LIMITS_URL"])),
                d.chance(60).then(|| d.pick(&["local", "open", "closed"])),
            )
        }),
    });
    let limits = d.chance(40).then(|| {
        let max_page_size = d.chance(50).then(|| d.pick(&[100, 1, 5, 1000]));
        let mut default_page_size = d.chance(50).then(|| d.pick(&[20, 1, 5, 100, 1000]));
        if default_page_size.unwrap_or(20) > max_page_size.unwrap_or(100) {
            default_page_size = None;
        }
        if default_page_size.unwrap_or(20) > max_page_size.unwrap_or(100) {
            default_page_size = max_page_size;
        }
        // Sometimes a body limit below the size of the tests' bodies.
        let max_body = d.chance(50).then(|| {
            if d.chance(20) {
                d.pick(TINY_SIZES)
            } else {
                d.pick(SIZES)
            }
        });
        Limits {
            max_body,
            default_page_size,
            max_page_size,
            timeout: d.chance(40).then(|| d.pick(&[10, 1, 600])),
        }
    });
    let audit = d.chance(15).then(|| audit(d));
    Spec {
        service: service.map_or(service_name, str::to_string),
        description,
        algorithm,
        jwks,
        key_env,
        issuer,
        audience,
        leeway,
        user_claim,
        roles_claim,
        roles,
        cors,
        throttle,
        limits,
        resources,
        audit,
    }
}

/// A random resource named `name` (with an explicit `plural`), whose refs
/// point at `names` (its own name among them).
fn resource(
    d: &mut Dice<'_>,
    name: &str,
    plural: Option<String>,
    names: &[String],
    grantable: &[String],
) -> Resource {
    let owner = match d.below(4) {
        0 | 1 => Owner::Short(d.pick(OWNER_FIELDS).to_string()),
        2 => Owner::None,
        _ => Owner::Long {
            field: d.pick(OWNER_FIELDS).to_string(),
            // Not a claim that tokens use for something else
            // (`reserved-claim`).
            claim: d.pick(TENANT_CLAIMS),
        },
    };
    let owned = !matches!(owner, Owner::None);
    let mut taken: Vec<String> = ["id", "created_at", "updated_at"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Owner::Short(f) | Owner::Long { field: f, .. } = &owner {
        taken.push(f.clone());
    }
    let field_count = if d.chance(5) { 0 } else { 1 + d.below(6) };
    let mut fields = Vec::new();
    for _ in 0..field_count {
        let field_name = if d.chance(5) {
            fresh(d, QUERY_PARAMS, &taken)
        } else {
            fresh(d, NAMES, &taken)
        };
        taken.push(field_name.clone());
        fields.push(field(d, field_name, name, names, owned));
    }
    let access = access(d, owned, grantable);
    let hide = field_rules(d, &mut fields, owned, grantable, access.as_ref());
    let field_names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
    // A filter cannot be named like a list parameter (`reserved-filter`).
    let filterable: Vec<String> = field_names
        .iter()
        .filter(|f| !QUERY_PARAMS.contains(&f.as_str()))
        .cloned()
        .collect();
    let filters = d.subset(&filterable, 30);
    let mut sortable = field_names.clone();
    sortable.extend(["created_at".to_string(), "updated_at".to_string()]);
    let sort = d.subset(&sortable, 25);
    let throttle = if d.chance(35) {
        d.subset(OPS, 40)
            .into_iter()
            .map(|op| (op, d.pick(RATES)))
            .collect()
    } else {
        Vec::new()
    };
    Resource {
        name: name.to_string(),
        plural,
        description: d.chance(20).then(|| d.pick(TEXTS)),
        owner,
        fields,
        access,
        hide,
        filters,
        sort,
        throttle,
        audit: d.chance(10).then(|| audit(d)),
        renamed_from: None,
        edit: Edit::Kept,
    }
}

fn audit(d: &mut Dice<'_>) -> Audit {
    let mut allow = d.subset(AUDIT_CODES, 15);
    if allow.is_empty() {
        allow.push(d.pick(AUDIT_CODES));
    }
    Audit {
        allow,
        reason: d.pick(TEXTS),
    }
}

fn access(d: &mut Dice<'_>, owned: bool, grantable: &[String]) -> Option<Access> {
    if owned && !d.chance(70) {
        return None;
    }
    let mut a = Access::default();
    if owned {
        if d.chance(80) {
            a.owner = Some(d.subset(OPS, 60));
        }
    } else if d.chance(10) {
        a.owner = Some(Vec::new());
    }
    for role in grantable {
        if d.chance(50) {
            a.roles.push((role.clone(), d.subset(OPS, 50)));
        }
    }
    a.public = d.subset(READS, 30);
    let owner_reaches = owned && a.owner.as_ref().is_none_or(|o| !o.is_empty());
    let anyone =
        owner_reaches || a.roles.iter().any(|(_, o)| !o.is_empty()) || !a.public.is_empty();
    if !anyone {
        if owned {
            a.owner = Some(vec![d.pick(OPS)]);
        } else if let Some(role) = grantable.first() {
            let mut ops = d.subset(OPS, 60);
            if ops.is_empty() {
                ops.push(d.pick(OPS));
            }
            a.roles.retain(|(r, _)| r != role);
            a.roles.push((role.clone(), ops));
        } else {
            a.public = vec![d.pick(READS)];
        }
    }
    Some(a)
}

/// Field rules: now and then a field's `read` or `write` list, and the
/// resource's `hide`, naming `owner` (of an owned resource), roles that
/// tokens can carry, and `public` (never a writer). A `read_only` field
/// gets no `write`; a `write` names one who may create when anyone may
/// (an owned resource's creator is the owner, so `owner` does), so a
/// field made `required` by [`mutate`] can still be set on create; `hide`
/// names only fields without their own `read`.
fn field_rules(
    d: &mut Dice<'_>,
    fields: &mut [Field],
    owned: bool,
    grantable: &[String],
    access: Option<&Access>,
) -> Vec<(String, Vec<String>)> {
    let mut writers: Vec<String> = Vec::new();
    if owned {
        writers.push("owner".into());
    }
    writers.extend(grantable.iter().cloned());
    let mut readers = writers.clone();
    readers.push("public".into());
    // Who may create (`owner` standing for every creator of an owned row).
    let owner_creates =
        owned && access.is_none_or(|a| a.owner.as_ref().is_none_or(|o| o.contains(&"create")));
    let mut creators: Vec<String> = Vec::new();
    if owner_creates {
        creators.push("owner".into());
    }
    for (role, ops) in access.map(|a| a.roles.as_slice()).unwrap_or_default() {
        if ops.contains(&"create") {
            creators.push(if owned { "owner".into() } else { role.clone() });
        }
    }
    for f in fields.iter_mut() {
        if d.chance(20) {
            let mut read = d.subset(&readers, 40);
            if read.is_empty() {
                read.push(d.pick(&readers));
            }
            f.read = Some(read);
        }
        if !f.read_only && !writers.is_empty() && d.chance(20) {
            let mut write = d.subset(&writers, 40);
            if !creators.is_empty() && !write.iter().any(|w| creators.contains(w)) {
                write.push(d.pick(&creators));
            }
            if write.is_empty() {
                write.push(d.pick(&writers));
            }
            f.write = Some(write);
        }
    }
    let hideable: Vec<String> = fields
        .iter()
        .filter(|f| f.read.is_none())
        .map(|f| f.name.clone())
        .collect();
    let mut hide = Vec::new();
    if !hideable.is_empty() && d.chance(15) {
        for who in d.subset(&readers, 40) {
            let hidden = d.subset(&hideable, 50);
            if !hidden.is_empty() {
                hide.push((who, hidden));
            }
        }
    }
    hide
}

fn chars(s: &str) -> u32 {
    s.chars().count() as u32
}

fn json(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// Adds the resources and unique fields whose schema names collided.
fn collide(d: &mut Dice<'_>, resources: &mut Vec<Resource>, plurals: &[String]) {
    let base = resources[0].name.clone();
    let names: Vec<String> = resources.iter().map(|r| r.name.clone()).collect();
    let pair = format!("{base}_pair");
    let list = format!("{base}_list");
    let free = |n: &String| {
        !names.contains(n) && !plurals.contains(&format!("{n}s")) && !plurals.contains(n)
    };
    if !free(&pair) || !free(&list) {
        return;
    }
    let unique = |name: &str| Field {
        name: name.to_string(),
        ty: "string",
        unique: Some("global"),
        ..Field::default()
    };
    let first = &mut resources[0];
    if !first.fields.iter().any(|f| f.name == "pair_key")
        && !matches!(&first.owner, Owner::Short(f) | Owner::Long { field: f, .. } if f == "pair_key")
    {
        first.fields.push(unique("pair_key"));
    }
    for (name, field) in [(pair, "key"), (list, "value")] {
        let owned = d.chance(50);
        resources.push(Resource {
            name,
            plural: None,
            description: None,
            owner: if owned {
                Owner::Short("owner_id".into())
            } else {
                Owner::None
            },
            fields: vec![unique(field)],
            access: (!owned).then(|| Access {
                public: vec!["list"],
                ..Access::default()
            }),
            hide: Vec::new(),
            filters: Vec::new(),
            sort: Vec::new(),
            throttle: Vec::new(),
            audit: None,
            renamed_from: None,
            edit: Edit::Kept,
        });
    }
}

fn field(
    d: &mut Dice<'_>,
    name: String,
    resource: &str,
    resources: &[String],
    owned: bool,
) -> Field {
    let ty = d.pick(TYPES);
    field_of_type(d, name, ty, resource, resources, owned)
}

/// A random field of type `ty`, its constraints and default valid.
fn field_of_type(
    d: &mut Dice<'_>,
    name: String,
    ty: &'static str,
    resource: &str,
    resources: &[String],
    owned: bool,
) -> Field {
    let mut f = Field {
        name,
        ty,
        description: d.chance(15).then(|| d.pick(TEXTS)),
        required: d.chance(35),
        unique: d.chance(20).then(|| {
            if owned && d.chance(50) {
                "per_owner"
            } else {
                "global"
            }
        }),
        pii: d.chance(20),
        ..Field::default()
    };
    match d.below(6) {
        0 if !f.required => f.read_only = true,
        1 => f.write_once = true,
        _ => {}
    }
    let want_default = d.chance(30);
    match ty {
        "string" => {
            let pattern = d.chance(35).then(|| d.pick(PATTERNS));
            f.pattern = pattern.map(|(p, _)| p);
            f.min_length = d.chance(25).then(|| d.pick(&[0, 1, 2, 3, 8]));
            f.max_length = d
                .chance(35)
                .then(|| d.pick(&[120, 1, 3, 5, 20, 4000, u32::MAX]));
            if let (Some(lo), Some(hi)) = (f.min_length, f.max_length) {
                if lo > hi {
                    f.min_length = Some(hi);
                    f.max_length = Some(lo);
                }
            }
            let fits = |s: &&str| {
                f.min_length.is_none_or(|m| chars(s) >= m)
                    && f.max_length.is_none_or(|m| chars(s) <= m)
            };
            let candidates: Vec<&str> = pattern
                .map_or(FREE_STRINGS, |(_, samples)| samples)
                .iter()
                .copied()
                .filter(fits)
                .collect();
            if !candidates.is_empty() && d.chance(25) {
                let mut values = d.subset(&candidates, 40);
                if values.is_empty() {
                    values.push(d.pick(&candidates));
                }
                f.values = Some(values);
            }
            if want_default {
                let pool = f.values.clone().unwrap_or(candidates);
                if !pool.is_empty() {
                    f.default = Some(json(d.pick(&pool)));
                }
            }
        }
        "integer" => {
            let mut lo = d.chance(35).then(|| d.pick(INT_BOUNDS));
            let mut hi = d.chance(35).then(|| d.pick(INT_BOUNDS));
            if let (Some(a), Some(b)) = (lo, hi) {
                if a > b {
                    (lo, hi) = (Some(b), Some(a));
                }
            }
            let (a, b) = (lo.unwrap_or(i64::MIN), hi.unwrap_or(i64::MAX));
            let mid = ((i128::from(a) + i128::from(b)) / 2) as i64;
            let inside: Vec<i64> = [0, 1, -1, 42, a, b, mid]
                .into_iter()
                .filter(|v| (a..=b).contains(v))
                .collect();
            f.min = lo.map(|v| v.to_string());
            f.max = hi.map(|v| v.to_string());
            if want_default {
                f.default = Some(d.pick(&inside).to_string());
            }
        }
        "number" => {
            // Bounds as far apart as f64 allows, too.
            let bounds: &[&str] = &[NUMBER_BOUNDS, &[HUGE_NUMBER]].concat();
            let mut lo = d.chance(35).then(|| d.pick(bounds));
            let mut hi = d.chance(35).then(|| d.pick(bounds));
            let value = |s: &str| s.parse::<f64>().expect("a number");
            if let (Some(a), Some(b)) = (lo, hi) {
                if value(a) > value(b) {
                    (lo, hi) = (Some(b), Some(a));
                }
            }
            let (a, b) = (lo.map_or(f64::MIN, value), hi.map_or(f64::MAX, value));
            let inside: Vec<&str> = NUMBER_DEFAULTS
                .iter()
                .copied()
                .chain(lo)
                .chain(hi)
                .filter(|v| (a..=b).contains(&value(v)))
                .collect();
            f.min = lo.map(str::to_string);
            f.max = hi.map(str::to_string);
            if want_default && !inside.is_empty() {
                f.default = Some(d.pick(&inside).to_string());
            }
        }
        "boolean" => {
            if want_default {
                f.default = Some(d.pick(&["false", "true"]).to_string());
            }
        }
        "date" | "datetime" | "uuid" => {
            let pool = match ty {
                "date" => DATES,
                "datetime" => DATETIMES,
                _ => UUIDS,
            };
            if want_default {
                f.default = Some(json(d.pick(pool)));
            }
        }
        "email" | "url" => {
            let pool = if ty == "email" { EMAILS } else { URLS };
            // Sometimes a `max_length` too short for the usual examples.
            f.max_length = d.chance(30).then(|| {
                if d.chance(30) {
                    d.pick(&[3, 10])
                } else {
                    d.pick(&[254, 64, 2048, 30])
                }
            });
            let fits: Vec<&str> = pool
                .iter()
                .copied()
                .filter(|s| f.max_length.is_none_or(|m| chars(s) <= m))
                .collect();
            if want_default && !fits.is_empty() {
                f.default = Some(json(d.pick(&fits)));
            }
        }
        _ => {
            // ref: any resource, itself included (a required self-ref is
            // valid, if useless: no row could ever be created).
            let target = d.pick(resources);
            if target == resource && f.required && !d.chance(10) {
                f.required = false;
            }
            f.resource = Some(target);
        }
    }
    f
}

// ---------------------------------------------------------------- edits

/// The types a column of each type widens to (every value fits, so the
/// migration needs no check); `mutate` picks them half the time.
fn widenings(ty: &str) -> &'static [&'static str] {
    match ty {
        "integer" => &["number"],
        "boolean" => &["integer"],
        "uuid" | "email" | "url" | "date" | "datetime" => &["string"],
        "ref" => &["string", "uuid"],
        _ => &[],
    }
}

/// The YAML texts of values `f` accepts (for a `default` or `backfill`).
fn valid_values(f: &Field) -> Vec<String> {
    match f.ty {
        "string" => {
            let samples: &[&str] = match (&f.values, f.pattern) {
                (Some(values), _) => values,
                (None, Some(p)) => PATTERNS
                    .iter()
                    .find(|(q, _)| *q == p)
                    .map_or(&[][..], |(_, s)| s),
                (None, None) => FREE_STRINGS,
            };
            samples
                .iter()
                .filter(|s| {
                    f.min_length.is_none_or(|m| chars(s) >= m)
                        && f.max_length.is_none_or(|m| chars(s) <= m)
                })
                .map(|s| json(s))
                .collect()
        }
        "integer" => {
            let bound = |b: &Option<String>, or: i64| {
                b.as_ref().map_or(or, |v| v.parse().expect("an integer"))
            };
            let (a, b) = (bound(&f.min, i64::MIN), bound(&f.max, i64::MAX));
            let mid = ((i128::from(a) + i128::from(b)) / 2) as i64;
            [0, 1, -1, 42, a, b, mid]
                .into_iter()
                .filter(|v| (a..=b).contains(v))
                .map(|v| v.to_string())
                .collect()
        }
        "number" => {
            let value = |s: &str| s.parse::<f64>().expect("a number");
            let a = f.min.as_deref().map_or(f64::MIN, value);
            let b = f.max.as_deref().map_or(f64::MAX, value);
            NUMBER_DEFAULTS
                .iter()
                .copied()
                .chain(f.min.as_deref())
                .chain(f.max.as_deref())
                .filter(|v| (a..=b).contains(&value(v)))
                .map(str::to_string)
                .collect()
        }
        "boolean" => vec!["false".into(), "true".into()],
        "date" => DATES.iter().map(|s| json(s)).collect(),
        "datetime" => DATETIMES.iter().map(|s| json(s)).collect(),
        "uuid" => UUIDS.iter().map(|s| json(s)).collect(),
        "email" | "url" => {
            let pool = if f.ty == "email" { EMAILS } else { URLS };
            pool.iter()
                .filter(|s| f.max_length.is_none_or(|m| chars(s) <= m))
                .map(|s| json(s))
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Gives a required field a value for the rows that exist when it is
/// added: its `default` (kept or new) or a `backfill`. Constraints no value
/// meets are dropped first.
fn fill(d: &mut Dice<'_>, f: &mut Field) {
    if f.ty == "ref" || !f.required {
        return;
    }
    let mut values = valid_values(f);
    if values.is_empty() {
        (f.pattern, f.values, f.min_length, f.max_length) = (None, None, None, None);
        (f.min, f.max) = (None, None);
        values = valid_values(f);
    }
    let value = d.pick(&values);
    if f.default.is_some() && d.chance(50) {
        f.backfill = None;
    } else if d.chance(50) {
        f.default = Some(value);
        f.backfill = None;
    } else {
        f.default = None;
        f.backfill = Some(value);
    }
}

/// The names a new or renamed field of `r` may not take: the server's
/// columns, the owner field, the fields and their earlier names.
fn field_names_taken(r: &Resource) -> Vec<String> {
    let mut taken: Vec<String> = ["id", "created_at", "updated_at"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Owner::Short(f) | Owner::Long { field: f, .. } = &r.owner {
        taken.push(f.clone());
    }
    for f in &r.fields {
        taken.push(f.name.clone());
        taken.extend(f.renamed_from.clone());
    }
    taken
}

/// The path of each resource (its plural).
fn plural_of(r: &Resource) -> String {
    r.plural.clone().unwrap_or_else(|| format!("{}s", r.name))
}

/// A path free for a resource named `name` among `others`' paths: none
/// (the default `{name}s`) when it is free, else one made up.
fn free_plural(name: &str, others: &[String]) -> Option<String> {
    let free = |p: &String| !others.contains(p) && !["health", "openapi"].contains(&p.as_str());
    let default = format!("{name}s");
    if free(&default) {
        return None;
    }
    (0..).map(|i| format!("{name}_items{i}")).find(free)
}

/// Removes field `name` of resource `at`, and its filter and sort key.
fn drop_field(s: &mut Spec, at: usize, name: &str) {
    let r = &mut s.resources[at];
    r.fields.retain(|f| f.name != name);
    r.filters.retain(|f| f != name);
    r.sort.retain(|f| f != name);
    for (_, hidden) in &mut r.hide {
        hidden.retain(|f| f != name);
    }
    r.hide.retain(|(_, hidden)| !hidden.is_empty());
}

/// A valid spec changed by 1-4 random edits, as a team changes its spec
/// from one release to the next: fields and resources added, dropped and
/// renamed (with `renamed_from`), new required fields with a `default` or
/// `backfill`, types widened or narrowed, `required` and `unique` toggled.
/// The hints of the previous change are kept half the time (a migration
/// must ignore them once they are history).
pub fn mutate(spec: &Spec, raw: &[u32]) -> Spec {
    let d = &mut Dice::new(raw);
    let mut s = spec.clone();
    let stale = d.chance(50);
    for r in &mut s.resources {
        r.edit = Edit::Kept;
        if !stale {
            r.renamed_from = None;
        }
        for f in &mut r.fields {
            f.edit = Edit::Kept;
            if !stale {
                (f.renamed_from, f.backfill) = (None, None);
            }
        }
    }
    let grantable: Vec<String> = if s.roles_claim.is_some() {
        s.roles.clone()
    } else {
        Vec::new()
    };
    // Edits that find nothing to act on (a field of a resource without
    // fields) are tried again, a bounded number of times.
    let edits = 1 + d.below(4);
    let mut done = 0;
    for _ in 0..edits * 10 {
        if done == edits {
            break;
        }
        done += 1;
        let names: Vec<String> = s.resources.iter().map(|r| r.name.clone()).collect();
        let at = d.below(s.resources.len());
        let owned = !matches!(s.resources[at].owner, Owner::None);
        let rname = names[at].clone();
        let field_at = d.below(s.resources[at].fields.len());
        match d.below(10) {
            // Add a field, optional or required with a value for the rows
            // that exist.
            kind @ (0 | 1) => {
                let r = &mut s.resources[at];
                let name = if d.chance(5) {
                    fresh(d, QUERY_PARAMS, &field_names_taken(r))
                } else {
                    fresh(d, NAMES, &field_names_taken(r))
                };
                let ty = if kind == 0 {
                    d.pick(TYPES)
                } else {
                    d.pick(&TYPES[..TYPES.len() - 1])
                };
                let mut f = field_of_type(d, name.clone(), ty, &rname, &names, owned);
                f.edit = Edit::Added;
                if kind == 0 {
                    f.required = false;
                } else {
                    f.required = true;
                    f.read_only = false;
                    fill(d, &mut f);
                }
                let at_field = d.below(r.fields.len() + 1);
                r.fields.insert(at_field, f);
                if !QUERY_PARAMS.contains(&name.as_str()) && d.chance(30) {
                    r.filters.push(name.clone());
                }
                if d.chance(25) {
                    r.sort.push(name);
                }
            }
            // Drop a field.
            2 => {
                let Some(f) = s.resources[at].fields.get(field_at) else {
                    done -= 1;
                    continue;
                };
                let name = f.name.clone();
                drop_field(&mut s, at, &name);
            }
            // Rename a field.
            3 => {
                let r = &mut s.resources[at];
                if r.fields.is_empty() {
                    done -= 1;
                    continue;
                }
                let new = fresh(d, NAMES, &field_names_taken(r));
                let f = &mut r.fields[field_at];
                let old = std::mem::replace(&mut f.name, new.clone());
                match f.edit {
                    Edit::Kept => {
                        f.renamed_from = Some(old.clone());
                        f.edit = Edit::Renamed;
                    }
                    Edit::Added | Edit::Renamed => {}
                }
                let hidden = r.hide.iter_mut().flat_map(|(_, h)| h);
                for name in r.filters.iter_mut().chain(&mut r.sort).chain(hidden) {
                    if *name == old {
                        *name = new.clone();
                    }
                }
            }
            // Rename a resource.
            4 => {
                let mut taken = names.clone();
                taken.extend(s.resources.iter().filter_map(|r| r.renamed_from.clone()));
                let new = fresh(d, NAMES, &taken);
                let others: Vec<String> = s
                    .resources
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != at)
                    .map(|(_, r)| plural_of(r))
                    .collect();
                let keep_plural = d.chance(50);
                let r = &mut s.resources[at];
                let old = std::mem::replace(&mut r.name, new.clone());
                if r.edit == Edit::Kept {
                    r.renamed_from = Some(old.clone());
                    r.edit = Edit::Renamed;
                }
                if r.plural.is_none() || !keep_plural {
                    r.plural = free_plural(&new, &others);
                }
                for f in s.resources.iter_mut().flat_map(|r| &mut r.fields) {
                    if f.resource.as_deref() == Some(old.as_str()) {
                        f.resource = Some(new.clone());
                    }
                }
            }
            // Add a resource.
            5 => {
                let mut taken = names.clone();
                taken.extend(s.resources.iter().filter_map(|r| r.renamed_from.clone()));
                let name = fresh(d, NAMES, &taken);
                let plurals: Vec<String> = s.resources.iter().map(plural_of).collect();
                let plural = free_plural(&name, &plurals);
                let mut names = names.clone();
                names.push(name.clone());
                let mut r = resource(d, &name, plural, &names, &grantable);
                r.edit = Edit::Added;
                for f in &mut r.fields {
                    f.edit = Edit::Added;
                }
                let at = d.below(s.resources.len() + 1);
                s.resources.insert(at, r);
            }
            // Drop a resource, and the refs to it.
            6 => {
                if s.resources.len() < 2 {
                    done -= 1;
                    continue;
                }
                s.resources.remove(at);
                for i in 0..s.resources.len() {
                    let refs: Vec<String> = s.resources[i]
                        .fields
                        .iter()
                        .filter(|f| f.resource.as_deref() == Some(rname.as_str()))
                        .map(|f| f.name.clone())
                        .collect();
                    for name in refs {
                        drop_field(&mut s, i, &name);
                    }
                }
            }
            // Change a field's type: a widening half the time, else any
            // other type (constraints and default made anew).
            7 => {
                let Some(old) = s.resources[at].fields.get(field_at).cloned() else {
                    done -= 1;
                    continue;
                };
                let wider = widenings(old.ty);
                let ty = if !wider.is_empty() && d.chance(50) {
                    d.pick(wider)
                } else {
                    let others: Vec<&'static str> =
                        TYPES.iter().copied().filter(|t| *t != old.ty).collect();
                    d.pick(&others)
                };
                let mut f = field_of_type(d, old.name.clone(), ty, &rname, &names, owned);
                (f.renamed_from, f.edit) = (old.renamed_from, old.edit);
                if d.chance(60) {
                    f.required = old.required;
                    if f.required {
                        f.read_only = false;
                    }
                    if ty == "ref" && f.resource.as_deref() == Some(rname.as_str()) {
                        f.required = false;
                    }
                }
                if f.edit == Edit::Added {
                    fill(d, &mut f);
                }
                s.resources[at].fields[field_at] = f;
            }
            // Make a field required, or optional.
            8 => {
                let Some(f) = s.resources[at].fields.get_mut(field_at) else {
                    done -= 1;
                    continue;
                };
                if f.ty == "ref" {
                    done -= 1;
                    continue;
                }
                f.required = !f.required;
                if f.required {
                    f.read_only = false;
                    if f.edit == Edit::Added {
                        fill(d, f);
                    }
                } else {
                    f.backfill = None;
                }
            }
            // Make a field unique, or not.
            _ => {
                let Some(f) = s.resources[at].fields.get_mut(field_at) else {
                    done -= 1;
                    continue;
                };
                f.unique = match f.unique {
                    Some(_) => None,
                    None if owned && d.chance(50) => Some("per_owner"),
                    None => Some("global"),
                };
            }
        }
    }
    s
}

// ---------------------------------------------------------------- YAML

/// A YAML value: scalars are already rendered; maps and lists are in flow
/// (`{}`/`[]`) or block style.
enum Y {
    S(String),
    L(Vec<Y>, bool),
    M(Vec<(String, Y)>, bool),
}

fn is_plain(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|c| c.is_ascii_alphabetic())
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "nan" | "inf"
        )
}

/// A string scalar: plain when it can be, else double-quoted.
fn text(s: &str) -> Y {
    Y::S(if is_plain(s) { s.to_string() } else { json(s) })
}

fn raw(s: impl ToString) -> Y {
    Y::S(s.to_string())
}

fn list(d: &mut Dice<'_>, items: impl IntoIterator<Item = Y>) -> Y {
    let items: Vec<Y> = items.into_iter().collect();
    let flow = items.is_empty() || !d.chance(25);
    Y::L(items, flow)
}

fn emit(y: &Y, indent: usize, out: &mut String) {
    match y {
        Y::S(s) => {
            out.push(' ');
            out.push_str(s);
            out.push('\n');
        }
        Y::L(..) | Y::M(..) if is_flow(y) => {
            out.push(' ');
            flow(y, out);
            out.push('\n');
        }
        Y::L(items, _) => {
            out.push('\n');
            for item in items {
                out.push_str(&" ".repeat(indent));
                out.push('-');
                emit(item, indent + 2, out);
            }
        }
        Y::M(entries, _) => {
            out.push('\n');
            block(entries, indent, out);
        }
    }
}

fn is_flow(y: &Y) -> bool {
    match y {
        Y::S(_) => true,
        Y::L(items, flow) => *flow || items.is_empty(),
        Y::M(entries, flow) => *flow || entries.is_empty(),
    }
}

fn block(entries: &[(String, Y)], indent: usize, out: &mut String) {
    for (k, v) in entries {
        out.push_str(&" ".repeat(indent));
        out.push_str(k);
        out.push(':');
        emit(v, indent + 2, out);
    }
}

fn flow(y: &Y, out: &mut String) {
    match y {
        Y::S(s) => out.push_str(s),
        Y::L(items, _) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow(item, out);
            }
            out.push(']');
        }
        Y::M(entries, _) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                out.push_str(if i > 0 { ", " } else { " " });
                out.push_str(k);
                out.push_str(": ");
                flow(v, out);
            }
            out.push_str(if entries.is_empty() { "}" } else { " }" });
        }
    }
}

impl Spec {
    /// The spec as YAML text; `style` chooses block or flow style and
    /// quoting (any list of numbers).
    pub fn to_yaml(&self, style: &[u32]) -> String {
        let d = &mut Dice::new(style);
        // A key: plain, or double-quoted now and then (and when it must be).
        let key = |d: &mut Dice<'_>, k: &str| {
            if is_plain(k) && !d.chance(10) {
                k.to_string()
            } else {
                json(k)
            }
        };
        let map = |d: &mut Dice<'_>, entries: Vec<(String, Y)>| {
            let flow = d.chance(20);
            Y::M(entries, flow)
        };
        let mut top: Vec<(String, Y)> = vec![("palisade".into(), raw(1))];
        let mut service = vec![("name".to_string(), text(&self.service))];
        if let Some(desc) = &self.description {
            service.push(("description".into(), Y::S(json(desc))));
        }
        top.push(("service".into(), map(d, service)));
        let mut jwt = match &self.jwks {
            Some(more) => {
                let list = std::iter::once(self.algorithm)
                    .chain(more.iter().copied())
                    .map(raw)
                    .collect();
                vec![
                    ("algorithms".to_string(), Y::L(list, d.chance(70))),
                    ("jwks_url_env".to_string(), text(self.key_env)),
                ]
            }
            None => {
                let key_name = if ["HS256", "HS384", "HS512"].contains(&self.algorithm) {
                    "secret_env"
                } else {
                    "public_key_env"
                };
                vec![
                    ("algorithm".to_string(), raw(self.algorithm)),
                    (key_name.into(), text(self.key_env)),
                ]
            }
        };
        if let Some(i) = self.issuer {
            jwt.push(("issuer".into(), Y::S(json(i))));
        }
        if let Some(a) = self.audience {
            jwt.push(("audience".into(), Y::S(json(a))));
        }
        if let Some(l) = self.leeway {
            jwt.push(("leeway_seconds".into(), raw(l)));
        }
        let mut auth = vec![("jwt".to_string(), map(d, jwt))];
        if let Some(c) = self.user_claim {
            auth.push(("user_claim".into(), text(c)));
        }
        if let Some(c) = self.roles_claim {
            auth.push(("roles_claim".into(), text(c)));
        }
        top.push(("auth".into(), map(d, auth)));
        if !self.roles.is_empty() || d.chance(5) {
            let roles: Vec<Y> = self.roles.iter().map(|r| text(r)).collect();
            top.push(("roles".into(), list(d, roles)));
        }
        if let Some(c) = &self.cors {
            let origins: Vec<Y> = c.origins.iter().map(|o| Y::S(json(o))).collect();
            let mut cors = vec![("origins".to_string(), list(d, origins))];
            if let Some(cr) = c.credentials {
                cors.push(("credentials".into(), raw(cr)));
            }
            if let Some(a) = c.max_age {
                cors.push(("max_age_seconds".into(), raw(a)));
            }
            top.push(("cors".into(), map(d, cors)));
        }
        if let Some(t) = &self.throttle {
            let mut throttle = Vec::new();
            if let Some(r) = t.anon {
                throttle.push(("anon".to_string(), Y::S(json(r))));
            }
            if let Some(r) = t.user {
                throttle.push(("user".to_string(), raw(r).quoted_if(r.contains(' '))));
            }
            if let Some(h) = t.hops {
                throttle.push(("trust_proxy_hops".into(), raw(h)));
            }
            if let Some((url_env, on_error)) = t.redis {
                let mut redis = Vec::new();
                if let Some(v) = url_env {
                    redis.push(("url_env".to_string(), text(v)));
                }
                if let Some(v) = on_error {
                    redis.push(("on_error".to_string(), text(v)));
                }
                throttle.push(("redis".into(), map(d, redis)));
            }
            top.push(("throttle".into(), map(d, throttle)));
        }
        if let Some(l) = &self.limits {
            let mut limits = Vec::new();
            if let Some(b) = l.max_body {
                limits.push(("max_body".to_string(), raw(b)));
            }
            if let Some(n) = l.default_page_size {
                limits.push(("default_page_size".into(), raw(n)));
            }
            if let Some(n) = l.max_page_size {
                limits.push(("max_page_size".into(), raw(n)));
            }
            if let Some(n) = l.timeout {
                limits.push(("request_timeout_seconds".into(), raw(n)));
            }
            top.push(("limits".into(), map(d, limits)));
        }
        let mut resources = Vec::new();
        for r in &self.resources {
            resources.push((key(d, &r.name), r.to_yaml(d, &key)));
        }
        top.push(("resources".into(), Y::M(resources, false)));
        if let Some(a) = &self.audit {
            top.push(("audit".into(), a.to_yaml(d)));
        }
        let mut out = String::from("# A random valid spec (tests/random_specs.rs).\n");
        block(&top, 0, &mut out);
        out
    }
}

impl Y {
    fn quoted_if(self, quote: bool) -> Y {
        match self {
            Y::S(s) if quote => Y::S(json(&s)),
            other => other,
        }
    }
}

impl Audit {
    fn to_yaml(&self, d: &mut Dice<'_>) -> Y {
        let allow: Vec<Y> = self.allow.iter().map(raw).collect();
        let allow = list(d, allow);
        Y::M(
            vec![
                ("allow".into(), allow),
                ("reason".into(), Y::S(json(self.reason))),
            ],
            d.chance(50),
        )
    }
}

impl Resource {
    fn to_yaml(&self, d: &mut Dice<'_>, key: &dyn Fn(&mut Dice<'_>, &str) -> String) -> Y {
        let mut r: Vec<(String, Y)> = Vec::new();
        if let Some(p) = &self.plural {
            r.push(("plural".into(), text(p)));
        }
        if let Some(old) = &self.renamed_from {
            r.push(("renamed_from".into(), text(old)));
        }
        if let Some(desc) = self.description {
            r.push(("description".into(), Y::S(json(desc))));
        }
        let owner = match &self.owner {
            Owner::None => raw("none"),
            Owner::Short(f) => text(f),
            Owner::Long { field, claim } => Y::M(
                vec![("field".into(), text(field)), ("claim".into(), text(claim))],
                d.chance(60),
            ),
        };
        r.push(("owner".into(), owner));
        let mut fields = Vec::new();
        for f in &self.fields {
            fields.push((key(d, &f.name), f.to_yaml(d)));
        }
        r.push(("fields".into(), Y::M(fields, false)));
        if let Some(a) = &self.access {
            let mut access = Vec::new();
            if let Some(o) = &a.owner {
                let ops = o.iter().map(raw).collect::<Vec<_>>();
                access.push(("owner".to_string(), list(d, ops)));
            }
            if !a.roles.is_empty() {
                let mut roles = Vec::new();
                for (role, ops) in &a.roles {
                    let ops = ops.iter().map(raw).collect::<Vec<_>>();
                    roles.push((key(d, role), list(d, ops)));
                }
                access.push(("roles".into(), Y::M(roles, d.chance(30))));
            }
            if !a.public.is_empty() || d.chance(20) {
                let ops = a.public.iter().map(raw).collect::<Vec<_>>();
                access.push(("public".into(), list(d, ops)));
            }
            r.push(("access".into(), Y::M(access, d.chance(10))));
        }
        if !self.hide.is_empty() {
            let mut hide = Vec::new();
            for (who, fields) in &self.hide {
                let fields = fields.iter().map(|f| text(f)).collect::<Vec<_>>();
                hide.push((key(d, who), list(d, fields)));
            }
            r.push(("hide".into(), Y::M(hide, d.chance(30))));
        }
        if !self.filters.is_empty() {
            let names = self.filters.iter().map(|f| text(f)).collect::<Vec<_>>();
            r.push(("filters".into(), list(d, names)));
        }
        if !self.sort.is_empty() {
            let names = self.sort.iter().map(|f| text(f)).collect::<Vec<_>>();
            r.push(("sort".into(), list(d, names)));
        }
        if !self.throttle.is_empty() {
            let rates = self
                .throttle
                .iter()
                .map(|(op, rate)| (op.to_string(), raw(rate).quoted_if(rate.contains(' '))))
                .collect();
            r.push(("throttle".into(), Y::M(rates, d.chance(50))));
        }
        if let Some(a) = &self.audit {
            r.push(("audit".into(), a.to_yaml(d)));
        }
        Y::M(r, false)
    }
}

impl Field {
    fn to_yaml(&self, d: &mut Dice<'_>) -> Y {
        let mut f: Vec<(String, Y)> = vec![("type".into(), raw(self.ty))];
        if let Some(desc) = self.description {
            f.push(("description".into(), Y::S(json(desc))));
        }
        if self.required {
            f.push(("required".into(), raw(true)));
        } else if d.chance(10) {
            f.push(("required".into(), raw(false)));
        }
        if let Some(v) = &self.default {
            f.push(("default".into(), raw(v)));
        }
        if let Some(v) = &self.backfill {
            f.push(("backfill".into(), raw(v)));
        }
        if let Some(old) = &self.renamed_from {
            f.push(("renamed_from".into(), text(old)));
        }
        if let Some(u) = self.unique {
            f.push(("unique".into(), raw(u)));
        }
        for (k, v) in [
            ("read_only", self.read_only),
            ("write_once", self.write_once),
            ("pii", self.pii),
        ] {
            if v {
                f.push((k.into(), raw(true)));
            }
        }
        if let Some(n) = self.min_length {
            f.push(("min_length".into(), raw(n)));
        }
        if let Some(n) = self.max_length {
            f.push(("max_length".into(), raw(n)));
        }
        if let Some(p) = self.pattern {
            f.push(("pattern".into(), Y::S(json(p))));
        }
        if let Some(values) = &self.values {
            let values = values.iter().map(|v| Y::S(json(v))).collect::<Vec<_>>();
            f.push(("enum".into(), list(d, values)));
        }
        if let Some(n) = &self.min {
            f.push(("min".into(), raw(n)));
        }
        if let Some(n) = &self.max {
            f.push(("max".into(), raw(n)));
        }
        if let Some(r) = &self.resource {
            f.push(("resource".into(), text(r)));
        }
        for (k, who) in [("read", &self.read), ("write", &self.write)] {
            if let Some(who) = who {
                let who = who.iter().map(|w| text(w)).collect::<Vec<_>>();
                f.push((k.into(), list(d, who)));
            }
        }
        // Shuffle the keys now and then: their order must not matter.
        if d.chance(20) {
            for i in (1..f.len()).rev() {
                let j = d.below(i + 1);
                f.swap(i, j);
            }
        }
        Y::M(f, d.chance(70))
    }
}
