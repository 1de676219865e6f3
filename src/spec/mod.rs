//! The spec language: Rust types that mirror the YAML file one to one.
//!
//! Stage: parse. Input: YAML text (through [`crate::parse`]). Output: a
//! [`Spec`] whose typed scalars (rates, sizes, origins) are already parsed.
//! Invariant: these types know nothing of Rust code, axum or SQL, and refuse
//! unknown keys everywhere; the JSON Schema published by `palisade schema` is
//! derived from them (doc comments become the descriptions editors show).

mod partial;
mod scalar;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use partial::{PartialResource, PartialSpec};
pub use scalar::{Origin, Per, Rate, Scheme, Size};

/// What a service name looks like (it becomes a crate name).
pub const SERVICE_NAME_PATTERN: &str = r"^[a-z][a-z0-9_-]*$";
/// What the name of an environment variable looks like.
pub const ENV_NAME_PATTERN: &str = r"^[A-Z_][A-Z0-9_]*$";

// The real bounds of numeric settings: the JSON Schema publishes them (so
// editors and the structural pass refuse what the server would), and the
// semantic checks use the same numbers.

/// Most seconds of clock skew tolerated on `exp` and `nbf`.
pub const MAX_LEEWAY_SECONDS: u32 = 300;
/// Longest preflight cache, in seconds (a day; browsers cap it lower).
pub const MAX_PREFLIGHT_SECONDS: u32 = 86_400;
/// Most reverse proxies whose `X-Forwarded-For` entry may be trusted.
pub const MAX_TRUST_PROXY_HOPS: u8 = 10;
/// Largest value of `default_page_size` and `max_page_size`.
pub const PAGE_SIZE_LIMIT: u32 = 1000;
/// Longest request timeout, in seconds.
pub const MAX_REQUEST_TIMEOUT_SECONDS: u32 = 600;
/// Longest header-read timeout, in seconds.
pub const MAX_HEADER_READ_TIMEOUT_SECONDS: u32 = 300;
/// Longest keep-alive idle timeout, in seconds.
pub const MAX_IDLE_TIMEOUT_SECONDS: u32 = 3600;
/// Largest connection cap.
pub const MAX_CONNECTIONS_LIMIT: u32 = 1_000_000;
/// Largest `max_body` (64MiB).
pub const MAX_BODY_LIMIT: u64 = 64 * 1024 * 1024;

/// A Palisade spec: one service, its authentication, and its resources.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Palisade spec")]
pub struct Spec {
    /// Version of the spec format. Only `1` exists.
    #[schemars(range(min = 1, max = 1))]
    pub palisade: u32,
    /// The service: its name becomes the crate name of the generated project.
    pub service: Service,
    /// How callers authenticate: bearer JWTs.
    pub auth: Auth,
    /// Every role that access grants name. A role acts on every owner's rows,
    /// for the operations it is granted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Cross-origin access for browsers. Omitted: no CORS headers at all
    /// (same-origin only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    /// Default request rates for every operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Throttle>,
    /// Bounds on request bodies, pages and time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// Where the rows are kept: the database engines the server can serve.
    /// Omitted: SQLite and PostgreSQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<Database>,
    /// The resources of the API, by name. Each becomes a table and a set of
    /// routes under `/{plural}`.
    pub resources: IndexMap<String, Resource>,
    /// Audit findings accepted for the whole spec, with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditAllow>,
}

/// The service being described.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The service name; becomes the crate name. Lowercase letters, digits,
    /// `_` and `-`, starting with a letter.
    #[schemars(regex(pattern = SERVICE_NAME_PATTERN))]
    pub name: String,
    /// A sentence about the service, shown in the generated README and OpenAPI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Authentication: every non-public operation needs a valid bearer JWT.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// How tokens are verified.
    pub jwt: Jwt,
    /// The claim that names the user (default `sub`): a top-level claim
    /// name, or a JSON Pointer (RFC 6901) when it starts with `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_claim: Option<String>,
    /// The claim holding the caller's role names, an array of strings: a
    /// top-level claim name, or a JSON Pointer (RFC 6901) when it starts
    /// with `/` (`/realm_access/roles`, `/https:~1~1example.com~1roles`).
    /// Without it no caller has a role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles_claim: Option<String>,
}

/// Verification of bearer JWTs: one static key (`secret_env` or
/// `public_key_env`, with one `algorithm`), or the signing keys an identity
/// provider publishes as a JSON Web Key Set (`jwks_url`, `jwks_url_env` or
/// `discovery: true` with `issuer`, with an `algorithms` allowlist).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Jwt {
    /// The one algorithm accepted with a static key; the token's own `alg`
    /// header never chooses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
    /// The algorithms accepted from a JWKS (never HS*): a key whose `alg`,
    /// `kty` or curve disagrees with the token's algorithm is never used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithms: Option<Vec<Algorithm>>,
    /// HS256/HS384/HS512: the environment variable holding the shared secret
    /// (the server refuses to start with fewer bytes than the hash: 32 for
    /// HS256, 48 for HS384, 64 for HS512).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ENV_NAME_PATTERN))]
    pub secret_env: Option<String>,
    /// RS256/ES256/EdDSA: the environment variable holding the PEM public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ENV_NAME_PATTERN))]
    pub public_key_env: Option<String>,
    /// The provider's JSON Web Key Set: `https://` (plain `http://` only on
    /// loopback, for tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// The environment variable holding the JWKS URL (staging and
    /// production providers differ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ENV_NAME_PATTERN))]
    pub jwks_url_env: Option<String>,
    /// `true`: the JWKS URL is the `jwks_uri` of the issuer's OpenID
    /// Connect discovery document (`<issuer>/.well-known/openid-configuration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<bool>,
    /// Required value of the `iss` claim; checked when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Required value of the `aud` claim; checked when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds (default 0, at most 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = MAX_LEEWAY_SECONDS))]
    pub leeway_seconds: Option<u32>,
}

/// Whether keys may be fetched from `url`: `https://`, or plain `http://`
/// when the host is loopback (`127.0.0.0/8`, `[::1]`, `localhost`: a test's
/// provider), with a host and no credentials. The generated runtime holds
/// URLs read from the environment to the same rule.
pub fn fetch_url(url: &str) -> Result<(), String> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains spaces or control characters".into());
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("it is not an absolute URL (`https://...`)")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("it carries credentials (`user@`)".into());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (ip, after) = v6.split_once(']').ok_or("its IPv6 host has no `]`")?;
            (&authority[..ip.len() + 2], after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err("it has no host".into());
    }
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err("its port is not a number".into());
    }
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("plain `http://` can be read and changed on the way, so anyone on the network could swap in keys of their own".into()),
        other => Err(format!("`{other}://` is not `https://`")),
    }
}

/// The problem of a claim path that starts with `/` (a JSON Pointer, RFC
/// 6901): an empty step, or a `~` that is not `~0` or `~1`.
pub fn claim_pointer(claim: &str) -> Result<(), String> {
    let Some(steps) = claim.strip_prefix('/') else {
        return Ok(());
    };
    for step in steps.split('/') {
        if step.is_empty() {
            return Err("it has an empty step (`//`, or a `/` at the end)".into());
        }
        let mut chars = step.chars();
        while let Some(c) = chars.next() {
            if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
                return Err("a `~` must be `~0` (for `~`) or `~1` (for `/`)".into());
            }
        }
    }
    Ok(())
}

/// The steps of a claim path: the name itself, or the unescaped steps of
/// a pointer (`/realm_access/roles` is `realm_access`, `roles`).
pub fn claim_steps(claim: &str) -> Vec<String> {
    match claim.strip_prefix('/') {
        None => vec![claim.to_owned()],
        Some(steps) => steps
            .split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect(),
    }
}

/// A JWT signature algorithm. `none` does not exist here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
pub enum Algorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl Algorithm {
    /// Shared-secret (HMAC) algorithms.
    pub fn is_hmac(self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }

    /// The shortest secret the server accepts for an HMAC algorithm: the
    /// hash size (RFC 7518 section 3.2), 32, 48 or 64 bytes.
    pub fn min_secret_bytes(self) -> Option<usize> {
        match self {
            Algorithm::HS256 => Some(32),
            Algorithm::HS384 => Some(48),
            Algorithm::HS512 => Some(64),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// The `openssl genpkey` arguments of a local development key pair
    /// for this algorithm; `None` for HMAC.
    pub fn genpkey(self) -> Option<&'static str> {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => None,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Some("-algorithm RSA -pkeyopt rsa_keygen_bits:2048"),
            Algorithm::ES256 => Some("-algorithm EC -pkeyopt ec_paramgen_curve:P-256"),
            Algorithm::ES384 => Some("-algorithm EC -pkeyopt ec_paramgen_curve:P-384"),
            Algorithm::EdDSA => Some("-algorithm ed25519"),
        }
    }
}

/// Cross-origin resource sharing for browser clients.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    /// Exact origins allowed to call the API: `scheme://host[:port]`.
    pub origins: Vec<Origin>,
    /// Allow cookies and Authorization from the browser (never with `*`).
    #[serde(default)]
    pub credentials: bool,
    /// How long browsers may cache a preflight answer, in seconds (at most a
    /// day, 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = MAX_PREFLIGHT_SECONDS))]
    pub max_age_seconds: Option<u32>,
}

/// Default request rates.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Per client IP, for anonymous calls and failed authentication
    /// (default `30/minute`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anon: Option<Rate>,
    /// Per authenticated user (default `1000/hour`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Rate>,
    /// Reverse proxies in front of the server whose `X-Forwarded-For` entry
    /// is trusted. 0 (default) ignores the header, so it cannot be spoofed;
    /// at most 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = MAX_TRUST_PROXY_HOPS))]
    pub trust_proxy_hops: Option<u8>,
    /// Share every bucket between the replicas of the service in one
    /// Redis (GCRA on Redis's clock). Omitted: each replica counts in its
    /// own memory, so N replicas allow N times the rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<Redis>,
}

/// Rate limits shared in Redis.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Redis {
    /// The environment variable holding the Redis URL, `redis://` or
    /// `rediss://` for TLS (default `REDIS_URL`); the server refuses to
    /// start without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ENV_NAME_PATTERN))]
    pub url_env: Option<String>,
    /// What requests get while Redis does not answer within 100 ms:
    /// `local` (default) counts them in each replica's memory, `open`
    /// allows them, `closed` refuses them with 503.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<OnError>,
}

/// What a shared limiter does while its store does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Count in each replica's memory (limits per replica), and log it.
    Local,
    /// Allow every request: no limit at all while Redis is down.
    Open,
    /// Refuse every counted request with 503 and `Retry-After`.
    Closed,
}

impl OnError {
    pub fn name(self) -> &'static str {
        match self {
            OnError::Local => "local",
            OnError::Open => "open",
            OnError::Closed => "closed",
        }
    }
}

/// The database engines of the service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// The engines the server can serve, each named once; the one it
    /// serves is chosen at start by `DATABASE_URL` (`sqlite:` or
    /// `postgres://`). Default `[sqlite, postgres]`; naming one saves the
    /// other's build time and migrations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engines: Option<Vec<Engine>>,
}

/// A database engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// SQLite, embedded in the server (`sqlite:` URLs): the default.
    Sqlite,
    /// PostgreSQL (`postgres://` URLs), with row-level security as a
    /// second lock.
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// Bounds that keep one client from exhausting the server.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest request body accepted (default `64KiB`); larger gets 413.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body: Option<Size>,
    /// Items per page when the client does not ask (default 20, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = PAGE_SIZE_LIMIT))]
    pub default_page_size: Option<u32>,
    /// Most items per page, whatever the client asks (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = PAGE_SIZE_LIMIT))]
    pub max_page_size: Option<u32>,
    /// Time allowed for one request, in seconds (default 10, at most 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_REQUEST_TIMEOUT_SECONDS))]
    pub request_timeout_seconds: Option<u32>,
    /// Time a client has to send a request head, in seconds: from the
    /// connection's start, or from the first byte of a later request on a
    /// kept-alive connection (default 10, at most 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_HEADER_READ_TIMEOUT_SECONDS))]
    pub header_read_timeout_seconds: Option<u32>,
    /// Time a kept-alive connection may wait for its next request, in
    /// seconds (default 75, longer than the 60 s of common load balancers;
    /// at most 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_IDLE_TIMEOUT_SECONDS))]
    pub idle_timeout_seconds: Option<u32>,
    /// Connections served at once; more wait to be accepted (default 4096,
    /// lowered at start-up to what the open-file limit allows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_CONNECTIONS_LIMIT))]
    pub max_connections: Option<u32>,
}

/// One resource: a table of rows and the routes that reach them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// The path segment of the collection (default: the name with an `s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plural: Option<String>,
    /// A sentence about the resource, shown in OpenAPI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who owns each row: a field filled from the user claim (`owner_id`),
    /// `{field, claim}` to scope by another claim (tenants), or `none`.
    pub owner: Owner,
    /// The fields of a row, besides the server-managed `id`, `created_at`,
    /// `updated_at` and the owner field.
    pub fields: IndexMap<String, Field>,
    /// Who may run which operation. Omitted: the owner may run every
    /// operation on their own rows, and nobody else anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// Fields hidden from some callers, by who they are hidden from
    /// (`owner`, role names, `public`):
    /// `{public: [cost_price], support: [email]}`. A field named here is
    /// read by everyone who may read the row but them; a field hidden from
    /// a role is hidden from public callers too. A field with its own
    /// `read` list cannot be named here.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub hide: IndexMap<String, Vec<String>>,
    /// Fields a list may be filtered on by exact match (`?paid=true`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
    /// Fields a list may be sorted by (`?sort=-amount_cents`), besides `created_at`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sort: Vec<String>,
    /// Per-operation rates replacing the default `throttle.user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<OperationRates>,
    /// Audit findings accepted for this resource, with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditAllow>,
    /// The resource's earlier name, when it was renamed: the next migration
    /// renames its table and keeps its rows (without it, a rename is a drop
    /// and an add). Harmless once the rename has been migrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// The ownership rule of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// `owner: none`: no owner; only roles and public grants reach the rows.
    None,
    /// `owner: owner_id`: the field holds the user claim of the creator.
    Field(String),
    /// The long form, `owner: { field: org_id, claim: org, read: [...] }`:
    /// the field holds the given claim (the user claim when `claim` is
    /// absent); `read` names who sees the owner column in responses.
    Long {
        field: String,
        claim: Option<String>,
        read: Option<Vec<String>>,
    },
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct OwnerLong {
    /// The field that holds the owner value.
    field: String,
    /// The token claim whose value scopes the rows (e.g. a tenant id); the user claim when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim: Option<String>,
    /// Who sees the owner column in responses: `owner`, role names, `public`. Default: the owner and the roles that may read the rows; public readers never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    read: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for Owner {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Name(String),
            Long(OwnerLong),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Name(n) if n == "none" => Ok(Owner::None),
            Raw::Name(n) => Ok(Owner::Field(n)),
            Raw::Long(OwnerLong { field, claim, read }) => Ok(Owner::Long { field, claim, read }),
        }
    }
}

impl Serialize for Owner {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Owner::None => serializer.serialize_str("none"),
            Owner::Field(f) => serializer.serialize_str(f),
            Owner::Long { field, claim, read } => OwnerLong {
                field: field.clone(),
                claim: claim.clone(),
                read: read.clone(),
            }
            .serialize(serializer),
        }
    }
}

impl JsonSchema for Owner {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Owner".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let long = generator.subschema_for::<OwnerLong>();
        schemars::json_schema!({
            "description": "Who owns each row: the name of a field filled from the user claim, `{field, claim, read}` to scope by another claim or to say who sees the owner column, or `none`.",
            "anyOf": [
                { "type": "string", "description": "`none`, or the owner field filled from the user claim" },
                long
            ]
        })
    }
}

/// An operation of a resource.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    List,
    Get,
    Create,
    Update,
    Delete,
}

impl Operation {
    pub const ALL: [Operation; 5] = [
        Operation::List,
        Operation::Get,
        Operation::Create,
        Operation::Update,
        Operation::Delete,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::List => "list",
            Operation::Get => "get",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }

    /// Reads change nothing; only they may be public.
    pub fn is_read(self) -> bool {
        matches!(self, Operation::List | Operation::Get)
    }
}

/// Access grants of a resource. Everything not granted is denied.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Access {
    /// Operations the owner may run on their own rows (default: all five
    /// when the resource has an owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Vec<Operation>>,
    /// Operations each role may run on every owner's rows.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub roles: IndexMap<String, Vec<Operation>>,
    /// Operations anyone may run without a token; `list` and `get` only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public: Vec<Operation>,
}

/// Per-operation rates, per user (per IP for anonymous callers).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperationRates {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Rate of `GET /{plural}`.
    pub list: Option<Rate>,
    /// Rate of `GET /{plural}/{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get: Option<Rate>,
    /// Rate of `POST /{plural}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<Rate>,
    /// Rate of `PATCH /{plural}/{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Rate>,
    /// Rate of `DELETE /{plural}/{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<Rate>,
}

impl OperationRates {
    pub fn get(&self, op: Operation) -> Option<Rate> {
        match op {
            Operation::List => self.list,
            Operation::Get => self.get,
            Operation::Create => self.create,
            Operation::Update => self.update,
            Operation::Delete => self.delete,
        }
    }
}

/// The type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Text; `min_length`, `max_length`, `pattern`, `enum` apply.
    String,
    /// A whole number (64-bit); `min`, `max` apply.
    Integer,
    /// A finite floating-point number; `min`, `max` apply.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A date and time in RFC 3339, such as `2026-01-31T12:00:00Z`.
    Datetime,
    /// A UUID such as `6f1c1f8e-33b9-4c59-9d6a-6a4f7c6a1d2e`.
    Uuid,
    /// An email address.
    Email,
    /// An absolute http or https URL.
    Url,
    /// The id of a row of another resource (`resource` names it).
    Ref,
}

impl FieldType {
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::Uuid => "uuid",
            FieldType::Email => "email",
            FieldType::Url => "url",
            FieldType::Ref => "ref",
        }
    }

    /// Text-valued types, to which length limits apply.
    pub fn is_text(self) -> bool {
        matches!(self, FieldType::String | FieldType::Email | FieldType::Url)
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, FieldType::Integer | FieldType::Number)
    }
}

/// Scope of a uniqueness constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unique {
    /// No two rows anywhere share the value.
    Global,
    /// No two rows of the same owner share the value.
    PerOwner,
}

/// One field of a resource.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The type of the value.
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// A sentence about the field, shown in OpenAPI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Must be given on create (and can never be null).
    #[serde(default)]
    pub required: bool,
    /// Value used when create does not give one, and the value rows that
    /// exist get when the field is added to them; must satisfy the field's
    /// constraints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// The value rows that exist get when this required field is added to
    /// them (new rows must give one): for a field with no sensible default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<serde_json::Value>,
    /// The field's earlier name, when it was renamed: the next migration
    /// renames its column and keeps its values (without it, a rename is a
    /// drop and an add). Harmless once the rename has been migrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// No two rows (`global`) or no two rows of one owner (`per_owner`) share the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<Unique>,
    /// Server-managed: never accepted in input (a `default` gives its value).
    #[serde(default)]
    pub read_only: bool,
    /// Accepted on create, refused on update.
    #[serde(default)]
    pub write_once: bool,
    /// Personal data: redacted from logs and listed by `palisade audit`.
    #[serde(default)]
    pub pii: bool,
    /// Who sees the field in responses (`owner`, role names, `public`).
    /// Default: everyone who may read the row, less those the resource's
    /// `hide` names. Anyone else gets rows without the field (absent, not
    /// null) and may not filter or sort on it. A caller with several roles
    /// sees what any of them may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Vec<String>>,
    /// Who may set the field in a create or update body (`owner`, role
    /// names; never `public`). Default: everyone the operation is granted
    /// to. Anyone else who sends it gets 422 naming it. In a create,
    /// `owner` means the creator, who becomes the row's owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<Vec<String>>,
    /// Fewest characters (string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    /// Most characters (string, email, url); at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_length: Option<u32>,
    /// A regular expression the whole value must match (string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The only values allowed (string).
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// Smallest value (integer, number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<serde_json::Number>,
    /// Largest value (integer, number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<serde_json::Number>,
    /// The resource a `ref` field points at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// Audit findings accepted on purpose.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditAllow {
    /// Finding codes to silence here.
    pub allow: Vec<String>,
    /// Why these findings are accepted; shown in the report.
    pub reason: String,
}
