//! The resolved model: what the service is, and who may touch which rows.
//!
//! Stage: model. Input: a validated [`Spec`]. Output: a [`Service`] in which
//! every default is applied and every security decision is made: each
//! resource's columns and scoping rule, and for each operation who may run
//! it ([`Grants`]), which rows each of them reaches ([`Rows`]), which
//! columns it accepts, and which rate applies. Invariants: emitters (Rust,
//! SQL, OpenAPI, audit, tests) read these decisions and never re-derive them;
//! lowering cannot fail on a validated spec; collections are ordered as in
//! the spec, so output is deterministic.

use serde::{Deserialize, Serialize};

use crate::spec::{self, Algorithm, FieldType, OnError, Origin, Owner, Per, Rate, Spec, Unique};

pub use crate::spec::Engine;
pub use crate::spec::Operation as OperationKind;

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;
pub const DEFAULT_MAX_BODY: u64 = 64 * 1024;
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 10;
pub const DEFAULT_HEADER_READ_TIMEOUT_SECONDS: u32 = 10;
pub const DEFAULT_IDLE_TIMEOUT_SECONDS: u32 = 75;
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4096;
pub const DEFAULT_ANON_RATE: Rate = Rate::new(30, Per::Minute);
pub const DEFAULT_USER_RATE: Rate = Rate::new(1000, Per::Hour);
pub const DEFAULT_USER_CLAIM: &str = "sub";
/// The variable of the Redis URL when `throttle.redis` names none.
pub const DEFAULT_REDIS_URL_ENV: &str = "REDIS_URL";

/// The whole service.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    /// The service name, also the crate name of the generated project.
    pub name: String,
    pub description: Option<String>,
    pub auth: Auth,
    pub roles: Vec<String>,
    /// `None`: no CORS headers at all.
    pub cors: Option<Cors>,
    pub throttle: Throttle,
    pub limits: Limits,
    /// The database engines the server serves (`database.engines`).
    pub engines: Engines,
    pub resources: Vec<Resource>,
}

/// Which database engines the generated server serves: both by default,
/// one when `database.engines` names it alone. An engine left out gets no
/// migrations of its own and no code in the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Engines {
    sqlite: bool,
    postgres: bool,
}

impl Engines {
    /// SQLite and PostgreSQL: the default.
    pub const ALL: Engines = Engines {
        sqlite: true,
        postgres: true,
    };

    /// The engines of `list` (at least one: validation refuses an empty
    /// list).
    pub fn of(list: &[Engine]) -> Engines {
        Engines {
            sqlite: list.contains(&Engine::Sqlite),
            postgres: list.contains(&Engine::Postgres),
        }
    }

    pub fn serves(self, engine: Engine) -> bool {
        match engine {
            Engine::Sqlite => self.sqlite,
            Engine::Postgres => self.postgres,
        }
    }

    /// The engines served, SQLite first.
    pub fn list(self) -> Vec<Engine> {
        [Engine::Sqlite, Engine::Postgres]
            .into_iter()
            .filter(|e| self.serves(*e))
            .collect()
    }
}

impl Serialize for Engines {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.list().into_iter().map(Engine::name))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Auth {
    /// The accepted algorithms: the one of a static key, or a JWKS's
    /// allowlist (never HMAC). A token's `alg` outside it is refused.
    #[serde(serialize_with = "serialize_algorithms")]
    pub algorithms: Vec<Algorithm>,
    pub key: Key,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway_seconds: u32,
    /// The claim naming the user.
    pub user_claim: String,
    /// The claim listing role names; `None`: nobody holds a role.
    pub roles_claim: Option<String>,
}

fn serialize_algorithms<S: serde::Serializer>(a: &[Algorithm], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(a.iter().map(|a| a.name()))
}

impl Auth {
    /// Whether tokens are verified with a shared secret (HS*).
    pub fn hmac(&self) -> bool {
        matches!(self.key, Key::Secret { .. })
    }

    /// The accepted algorithms' names, joined with `, `.
    pub fn algorithm_names(&self) -> String {
        self.algorithms
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Where the verification keys come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    /// An HMAC secret in this environment variable.
    Secret { env: String },
    /// A PEM public key in this environment variable.
    PublicKey { env: String },
    /// The provider's JSON Web Key Set at this URL.
    JwksUrl { url: String },
    /// A JSON Web Key Set at the URL in this environment variable.
    JwksUrlEnv { env: String },
    /// The JWKS named by this issuer's OpenID Connect discovery document.
    Discovery { issuer: String },
}

impl Key {
    /// The environment variable the server reads the key or its URL from.
    pub fn env(&self) -> Option<&str> {
        match self {
            Key::Secret { env } | Key::PublicKey { env } | Key::JwksUrlEnv { env } => Some(env),
            Key::JwksUrl { .. } | Key::Discovery { .. } => None,
        }
    }

    /// Whether keys come from a provider's JSON Web Key Set.
    pub fn is_jwks(&self) -> bool {
        matches!(
            self,
            Key::JwksUrl { .. } | Key::JwksUrlEnv { .. } | Key::Discovery { .. }
        )
    }

    /// One line for people: where the keys come from.
    pub fn describe(&self) -> String {
        match self {
            Key::Secret { env } => format!("shared secret in {env}"),
            Key::PublicKey { env } => format!("public key in {env}"),
            Key::JwksUrl { url } => format!("JWKS at {url}"),
            Key::JwksUrlEnv { env } => format!("JWKS at the URL in {env}"),
            Key::Discovery { issuer } => format!("JWKS found by OpenID discovery of {issuer}"),
        }
    }

    /// The URL keys are fetched from over plain `http://` (allowed on
    /// loopback only, for tests), and the spec key that names it.
    pub fn plain_http(&self) -> Option<(&str, &'static str)> {
        let (url, key) = match self {
            Key::JwksUrl { url } => (url, "jwks_url"),
            Key::Discovery { issuer } => (issuer, "issuer"),
            _ => return None,
        };
        url.get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
            .then_some((url.as_str(), key))
    }

    /// The spec key that chose this source, under `auth.jwt`.
    pub fn spec_key(&self) -> &'static str {
        match self {
            Key::Secret { .. } => "secret_env",
            Key::PublicKey { .. } => "public_key_env",
            Key::JwksUrl { .. } => "jwks_url",
            Key::JwksUrlEnv { .. } => "jwks_url_env",
            Key::Discovery { .. } => "discovery",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Cors {
    #[serde(serialize_with = "serialize_display_vec")]
    pub origins: Vec<Origin>,
    pub credentials: bool,
    pub max_age_seconds: Option<u32>,
    /// The HTTP methods of every route some grant allows.
    pub methods: Vec<Method>,
}

fn serialize_display_vec<S: serde::Serializer, T: std::fmt::Display>(
    v: &[T],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(ToString::to_string))
}

fn serialize_rate<S: serde::Serializer>(r: &Rate, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(r)
}

#[derive(Debug, Clone, Serialize)]
pub struct Throttle {
    /// Per client IP: anonymous calls and failed authentication.
    #[serde(serialize_with = "serialize_rate")]
    pub anon: Rate,
    /// Per user: authenticated calls without a per-operation rate.
    #[serde(serialize_with = "serialize_rate")]
    pub user: Rate,
    pub trust_proxy_hops: u8,
    /// `Some`: every bucket is shared by the replicas in Redis; `None`:
    /// each replica counts in its own memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<SharedLimiter>,
}

/// Buckets shared in Redis (`throttle.redis`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedLimiter {
    /// The variable holding the Redis URL.
    pub url_env: String,
    /// What requests get while Redis does not answer.
    pub on_error: OnError,
}

#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    pub max_body_bytes: u64,
    pub default_page_size: u32,
    pub max_page_size: u32,
    pub request_timeout_seconds: u32,
    pub header_read_timeout_seconds: u32,
    pub idle_timeout_seconds: u32,
    pub max_connections: u32,
}

/// One resource: a table and its routes.
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    pub name: String,
    /// The collection path segment: routes are `/{plural}` and `/{plural}/{id}`.
    pub plural: String,
    pub description: Option<String>,
    pub scope: Scope,
    /// Every column of the table: `id`, the owner column, the declared
    /// fields in spec order, `created_at`, `updated_at`.
    pub columns: Vec<Column>,
    /// The operations somebody may run, in the order list, get, create,
    /// update, delete. An operation missing here has no route.
    pub operations: Vec<Operation>,
    /// Columns a list may be filtered on by exact match.
    pub filters: Vec<String>,
    /// Columns a list may be sorted by; always includes `created_at`.
    pub sort: Vec<String>,
    /// Whether a `ref` column of some resource may link to rows of this
    /// one (its [`Link`] reaches some rows), so the resource answers which
    /// of its rows a new row's owner may link to.
    pub referenced: bool,
    /// The ref columns of other resources (or this one) whose rows block
    /// the delete of a row they still name ([`OnDelete::Restrict`]): such
    /// a delete answers 409 naming the first that still refers to it.
    pub referrers: Vec<Referrer>,
    /// The indexes of the table, each name unique in the whole schema and
    /// never a table's name (see [`index_name`]).
    pub indexes: Vec<Index>,
    /// The resource's earlier name (`renamed_from`), for migrations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// A ref column that refers to a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Referrer {
    pub resource: String,
    pub column: String,
}

/// An index of a table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub unique: bool,
    /// Column names, unquoted.
    pub columns: Vec<String>,
}

/// How a `ref` column links to rows of its target (SPEC 3.5): the target
/// must be a row that the *new row's owner* may access, whoever writes it;
/// a role that reads across owners does not widen it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub targets: LinkTargets,
    pub on_delete: OnDelete,
}

/// Which rows of the target a row may link to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkTargets {
    /// Rows of the row's own owner: both resources are owned by the same
    /// claim and the target's `get` grants the owner (the composite
    /// foreign key `(owner, ref) -> (owner, id)` holds it in the schema
    /// too), or both are unowned (rows of nobody, the service's own).
    SameOwner,
    /// Any row: the target's rows are public to everyone (a public `get`).
    Public,
    /// No row: the new row's owner may access none (another owner rule and
    /// no public `get`); every value is refused with 422.
    Nothing,
}

/// What the delete of a target row still named by a ref does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// Refused with 409 naming the referring resource: the referring rows
    /// are the target owner's own (or the service's), so that owner can
    /// always change or delete them first.
    Restrict,
    /// The ref is set to null (an optional ref that may cross owners): the
    /// target's owner is never blocked by rows of another owner.
    SetNull,
    /// Nothing: a required ref that may cross owners keeps the id of the
    /// deleted row (no foreign key), so the target's owner is never
    /// blocked and no other owner's row is changed.
    Keep,
}

/// How rows of a resource are scoped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Scope {
    /// Each row belongs to the value of `claim` in the token of its creator,
    /// stored in `column`; owner grants reach only rows whose `column`
    /// equals the caller's claim.
    Owned {
        column: String,
        claim: String,
        tenant: bool,
    },
    /// No owner: only role and public grants reach the rows.
    Unowned,
}

impl Scope {
    pub fn owner_column(&self) -> Option<&str> {
        match self {
            Scope::Owned { column, .. } => Some(column),
            Scope::Unowned => None,
        }
    }
}

/// Which rows a grant reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rows {
    /// Only rows whose owner column equals the caller's owner claim.
    Own,
    /// Every row.
    All,
}

/// Who may run an operation. Everything not listed is denied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Grants {
    /// The owner may run it on their own rows.
    pub owner: bool,
    /// These roles may run it on every row.
    pub roles: Vec<String>,
    /// Anyone, without a token, may run it on every row (reads only).
    pub public: bool,
}

impl Grants {
    /// Whether nobody at all may run the operation.
    pub fn is_empty(&self) -> bool {
        !self.owner && self.roles.is_empty() && !self.public
    }

    /// Whether everyone `other` grants is granted here too (on the rows
    /// each reaches): a public grant covers everyone.
    pub fn covers(&self, other: &Grants) -> bool {
        self.public
            || (!other.public
                && (!other.owner || self.owner)
                && other.roles.iter().all(|r| self.roles.contains(r)))
    }

    /// Whether these grants name `who`: a public grant names everyone.
    pub fn admits(&self, who: &Grantee) -> bool {
        self.public
            || match who {
                Grantee::Owner => self.owner,
                Grantee::Role(r) => self.roles.contains(r),
                Grantee::Public => false,
            }
    }

    /// The grants a list of the spec names (`owner`, `public`, roles).
    pub fn named(names: &[String]) -> Grants {
        Grants {
            owner: names.iter().any(|w| w == "owner"),
            roles: names
                .iter()
                .filter(|w| *w != "owner" && *w != "public")
                .cloned()
                .collect(),
            public: names.iter().any(|w| w == "public"),
        }
    }

    /// The kinds of callers named, owner first, then roles, then public.
    pub fn grantees(&self) -> Vec<Grantee> {
        self.rows().into_iter().map(|(g, _)| g).collect()
    }

    /// The rows each kind of grant reaches: owners their own, roles and
    /// public callers all.
    pub fn rows(&self) -> Vec<(Grantee, Rows)> {
        let mut out = Vec::new();
        if self.owner {
            out.push((Grantee::Owner, Rows::Own));
        }
        out.extend(
            self.roles
                .iter()
                .map(|r| (Grantee::Role(r.clone()), Rows::All)),
        );
        if self.public {
            out.push((Grantee::Public, Rows::All));
        }
        out
    }
}

/// Someone a grant names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grantee {
    Owner,
    Role(String),
    Public,
}

/// An HTTP method of a generated route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// One operation of a resource that somebody may run.
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    pub kind: OperationKind,
    pub method: Method,
    /// `/{plural}` or `/{plural}/{id}`.
    pub path: String,
    pub grants: Grants,
    pub rate: OperationRate,
    /// For update: who may read the changed row in the answer, the `get`
    /// grants (an `update` grant alone does not read rows); everyone else
    /// gets 204 No Content. `None` for other operations.
    pub replies_with_row: Option<Grants>,
    /// For each kind of caller the operation is granted to, in the order
    /// of [`Grants::grantees`]: the columns its answer shows and its body
    /// may set, with the field rules applied ([`Column::read`],
    /// [`Column::write`]). A caller of several kinds (a role holder on
    /// their own row) gets the union of theirs.
    pub views: Vec<View>,
}

/// What one kind of caller of one operation reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct View {
    pub grantee: Grantee,
    /// The columns of the rows in the answer, in table order (none for a
    /// delete, or an update that answers 204).
    pub reads: Vec<String>,
    /// The columns the body may carry (create and update only).
    pub writes: Vec<String>,
    /// For a list: the filters and sort keys it may use, the columns it
    /// reads on every row the list reaches for it (none for other
    /// operations).
    pub keys: Vec<String>,
}

/// The rate that applies to one operation.
#[derive(Debug, Clone, Serialize)]
pub struct OperationRate {
    /// Per user for authenticated callers.
    #[serde(serialize_with = "serialize_rate")]
    pub user: Rate,
    /// Per IP for anonymous callers: the operation's own rate when it is
    /// public and overridden, else the service's anonymous rate (which also
    /// counts failed authentication, in the shared `default` bucket).
    #[serde(serialize_with = "serialize_rate")]
    pub anon: Rate,
    /// The bucket: operations with their own rate count apart from the
    /// shared `default` bucket.
    pub bucket: String,
    /// Whether the rate is a per-operation override from the spec.
    pub overridden: bool,
}

/// One column of a resource's table.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// The column name, also the JSON key, exactly as written in the spec.
    pub name: String,
    pub ty: ColumnType,
    pub origin: ColumnOrigin,
    /// Never null; must be given on create (for input columns).
    pub required: bool,
    pub default: Option<serde_json::Value>,
    pub unique: Option<Unique>,
    pub pii: bool,
    pub constraints: Constraints,
    /// Accepted in the body of create.
    pub on_create: bool,
    /// Accepted in the body of update.
    pub on_update: bool,
    /// Who sees the column in responses (a field's `read`, the resource's
    /// `hide`, or `owner.read` for the owner column); `None`: everyone the
    /// row is shown to. Anyone else gets rows without it, and may not
    /// filter or sort a list on it.
    pub read: Option<Grants>,
    /// Who may set the column in a body (a field's `write`); `None`:
    /// everyone the create or update is granted to. Anyone else who sends
    /// it gets 422 naming it.
    pub write: Option<Grants>,
    pub description: Option<String>,
    /// For a `ref` column: which target rows it may name, and what their
    /// delete does.
    pub link: Option<Link>,
    /// The column's earlier name (`renamed_from`), for migrations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// The value rows that exist get when the column is added to them:
    /// `backfill`, else `default`; for migrations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfill: Option<serde_json::Value>,
}

/// Where a column's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnOrigin {
    /// A random UUID chosen by the server.
    Id,
    /// The caller's owner claim, set on create.
    Owner,
    CreatedAt,
    UpdatedAt,
    /// A field declared in the spec.
    Field,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ColumnType {
    String,
    Integer,
    Number,
    Boolean,
    Date,
    Datetime,
    Uuid,
    Email,
    Url,
    /// The id of a row of `resource`.
    Ref {
        resource: String,
    },
}

/// A field's constraints. For a `number` field, `min` and `max` are the
/// `f64` values the server compares with (see [`bound`]), so every emitter
/// states the bound that is enforced.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Constraints {
    pub min_length: Option<u32>,
    pub max_length: Option<u32>,
    pub pattern: Option<String>,
    pub values: Option<Vec<String>>,
    pub min: Option<serde_json::Number>,
    pub max: Option<serde_json::Number>,
}

impl Service {
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.name == name)
    }

    /// The claims of the tenant owner rules (`owner: { claim: org }`),
    /// sorted, each once: what a token must carry besides the user.
    pub fn tenant_claims(&self) -> Vec<String> {
        let mut claims: Vec<String> = self
            .resources
            .iter()
            .filter_map(|r| match &r.scope {
                Scope::Owned {
                    claim,
                    tenant: true,
                    ..
                } => Some(claim.clone()),
                _ => None,
            })
            .collect();
        claims.sort();
        claims.dedup();
        claims
    }
}

impl Resource {
    pub fn operation(&self, kind: OperationKind) -> Option<&Operation> {
        self.operations.iter().find(|o| o.kind == kind)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Who sees the owner column (`owner.read`): its column's readers, a
    /// public grant when everyone the row is shown to does, nobody for an
    /// unowned resource.
    pub fn owner_readers(&self) -> Grants {
        match self
            .columns
            .iter()
            .find(|c| c.origin == ColumnOrigin::Owner)
        {
            None => Grants::default(),
            Some(c) => c.read.clone().unwrap_or(Grants {
                public: true,
                ..Grants::default()
            }),
        }
    }

    /// The columns declared in the spec, in spec order.
    pub fn fields(&self) -> impl Iterator<Item = &Column> {
        self.columns
            .iter()
            .filter(|c| c.origin == ColumnOrigin::Field)
    }

    /// The columns an update may change: the fields it accepts and
    /// `updated_at`. Never the id, the owner, the creation time, a
    /// `read_only` or a `write_once` field; on PostgreSQL the service's
    /// role may update no other column.
    pub fn updatable(&self) -> impl Iterator<Item = &Column> {
        self.columns
            .iter()
            .filter(|c| c.on_update || c.origin == ColumnOrigin::UpdatedAt)
    }
}

/// Lowers a validated spec into the model.
///
/// Precondition: [`crate::validate::validate`] reported no error for `spec`.
pub fn lower(spec: &Spec) -> Service {
    let jwt = &spec.auth.jwt;
    let mut algorithms: Vec<Algorithm> = jwt
        .algorithm
        .into_iter()
        .chain(jwt.algorithms.iter().flatten().copied())
        .collect();
    algorithms.dedup();
    let key = if let Some(url) = &jwt.jwks_url {
        Key::JwksUrl { url: url.clone() }
    } else if let Some(env) = &jwt.jwks_url_env {
        Key::JwksUrlEnv { env: env.clone() }
    } else if jwt.discovery == Some(true) {
        Key::Discovery {
            issuer: jwt.issuer.clone().unwrap_or_default(),
        }
    } else if algorithms.iter().any(|a| a.is_hmac()) {
        Key::Secret {
            env: jwt
                .secret_env
                .clone()
                .unwrap_or_else(|| "JWT_SECRET".into()),
        }
    } else {
        Key::PublicKey {
            env: jwt
                .public_key_env
                .clone()
                .unwrap_or_else(|| "JWT_PUBLIC_KEY".into()),
        }
    };
    let user_claim = spec
        .auth
        .user_claim
        .clone()
        .unwrap_or_else(|| DEFAULT_USER_CLAIM.into());
    let auth = Auth {
        algorithms,
        key,
        issuer: jwt.issuer.clone(),
        audience: jwt.audience.clone(),
        leeway_seconds: jwt.leeway_seconds.unwrap_or(0),
        user_claim: user_claim.clone(),
        roles_claim: spec.auth.roles_claim.clone(),
    };
    let throttle_spec = spec.throttle.clone().unwrap_or_default();
    let throttle = Throttle {
        anon: throttle_spec.anon.unwrap_or(DEFAULT_ANON_RATE),
        user: throttle_spec.user.unwrap_or(DEFAULT_USER_RATE),
        trust_proxy_hops: throttle_spec.trust_proxy_hops.unwrap_or(0),
        redis: throttle_spec.redis.as_ref().map(|r| SharedLimiter {
            url_env: r
                .url_env
                .clone()
                .unwrap_or_else(|| DEFAULT_REDIS_URL_ENV.into()),
            on_error: r.on_error.unwrap_or(OnError::Local),
        }),
    };
    let limits_spec = spec.limits.clone().unwrap_or_default();
    let limits = Limits {
        max_body_bytes: limits_spec.max_body.map_or(DEFAULT_MAX_BODY, |s| s.bytes()),
        default_page_size: limits_spec.default_page_size.unwrap_or(DEFAULT_PAGE_SIZE),
        max_page_size: limits_spec.max_page_size.unwrap_or(MAX_PAGE_SIZE),
        request_timeout_seconds: limits_spec
            .request_timeout_seconds
            .unwrap_or(DEFAULT_TIMEOUT_SECONDS),
        header_read_timeout_seconds: limits_spec
            .header_read_timeout_seconds
            .unwrap_or(DEFAULT_HEADER_READ_TIMEOUT_SECONDS),
        idle_timeout_seconds: limits_spec
            .idle_timeout_seconds
            .unwrap_or(DEFAULT_IDLE_TIMEOUT_SECONDS),
        max_connections: limits_spec
            .max_connections
            .unwrap_or(DEFAULT_MAX_CONNECTIONS),
    };
    let mut resources: Vec<Resource> = spec
        .resources
        .iter()
        .map(|(name, r)| lower_resource(name, r, &user_claim, &throttle))
        .collect();
    link_refs(&mut resources);
    for r in &mut resources {
        r.indexes = indexes(r);
    }
    let cors = spec.cors.as_ref().map(|c| {
        let mut methods: Vec<Method> = resources
            .iter()
            .flat_map(|r| r.operations.iter().map(|o| o.method))
            .collect();
        methods.sort();
        methods.dedup();
        Cors {
            origins: c.origins.clone(),
            credentials: c.credentials,
            max_age_seconds: c.max_age_seconds,
            methods,
        }
    });
    Service {
        name: spec.service.name.clone(),
        description: spec.service.description.clone(),
        auth,
        roles: spec.roles.clone(),
        cors,
        throttle,
        limits,
        engines: spec
            .database
            .as_ref()
            .and_then(|d| d.engines.as_deref())
            .map_or(Engines::ALL, Engines::of),
        resources,
    }
}

/// Decides every ref column's [`Link`], and marks what it implies on the
/// targets: `referenced`, `referrers`.
fn link_refs(resources: &mut [Resource]) {
    let mut decided = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        for (j, c) in r.columns.iter().enumerate() {
            let ColumnType::Ref { resource: target } = &c.ty else {
                continue;
            };
            let Some(t) = resources.iter().position(|x| &x.name == target) else {
                continue;
            };
            let link = link(r, c, &resources[t]);
            decided.push((i, j, t, link));
        }
    }
    for (i, j, t, link) in decided {
        let referrer = Referrer {
            resource: resources[i].name.clone(),
            column: resources[i].columns[j].name.clone(),
        };
        if link.targets != LinkTargets::Nothing {
            resources[t].referenced = true;
        }
        if link.on_delete == OnDelete::Restrict && link.targets != LinkTargets::Nothing {
            resources[t].referrers.push(referrer);
        }
        resources[i].columns[j].link = Some(link);
    }
}

/// Which rows of `target` the ref column `column` of `from` may name
/// (SPEC 3.5: rows the new row's owner may access, never widened by the
/// writer's role), and what their delete does.
pub fn link(from: &Resource, column: &Column, target: &Resource) -> Link {
    let get = target.operation(OperationKind::Get).map(|o| &o.grants);
    let targets = match (&from.scope, &target.scope) {
        // Rows of nobody link to rows of nobody: both are the service's.
        (Scope::Unowned, Scope::Unowned) => LinkTargets::SameOwner,
        _ if get.is_some_and(|g| g.public) => LinkTargets::Public,
        (
            Scope::Owned {
                claim: a,
                tenant: ta,
                ..
            },
            Scope::Owned {
                claim: b,
                tenant: tb,
                ..
            },
        ) if a == b && ta == tb && get.is_some_and(|g| g.owner) => LinkTargets::SameOwner,
        _ => LinkTargets::Nothing,
    };
    let on_delete = match targets {
        LinkTargets::Public if column.required => OnDelete::Keep,
        LinkTargets::Public => OnDelete::SetNull,
        LinkTargets::SameOwner | LinkTargets::Nothing => OnDelete::Restrict,
    };
    Link { targets, on_delete }
}

/// The name of an index: `{resource}-{part}-...`. Resource and field names
/// are `[a-z][a-z0-9_]*`, so no name holds a `-`: the parts can be read
/// back from the name, which makes every name unique in the schema by
/// construction, and no index is ever named like a table.
pub fn index_name(resource: &str, parts: &[&str]) -> String {
    let mut name = resource.to_string();
    for p in parts {
        name.push('-');
        name.push_str(p);
    }
    name
}

/// The indexes of a resource's table.
fn indexes(r: &Resource) -> Vec<Index> {
    let owner = r.scope.owner_column();
    let mut out = Vec::new();
    // Lists are read per owner in created_at order; one index serves both.
    out.push(Index {
        name: index_name(&r.name, &["list"]),
        unique: false,
        columns: owner
            .into_iter()
            .chain(["created_at", "id"])
            .map(str::to_string)
            .collect(),
    });
    // The parent key of the composite foreign keys of same-owner refs.
    if let Some(owner) = owner.filter(|_| r.referenced) {
        out.push(Index {
            name: index_name(&r.name, &["owner", "key"]),
            unique: true,
            columns: vec![owner.to_string(), "id".to_string()],
        });
    }
    for c in r.fields() {
        match c.unique {
            Some(Unique::Global) => out.push(Index {
                name: index_name(&r.name, &[&c.name, "unique"]),
                unique: true,
                columns: vec![c.name.clone()],
            }),
            Some(Unique::PerOwner) => out.push(Index {
                name: index_name(&r.name, &[&c.name, "unique"]),
                unique: true,
                columns: owner
                    .into_iter()
                    .chain([c.name.as_str()])
                    .map(str::to_string)
                    .collect(),
            }),
            None => {}
        }
        if matches!(c.ty, ColumnType::Ref { .. }) {
            out.push(Index {
                name: index_name(&r.name, &[&c.name, "ref"]),
                unique: false,
                columns: vec![c.name.clone()],
            });
        }
    }
    out
}

fn lower_resource(
    name: &str,
    r: &spec::Resource,
    user_claim: &str,
    throttle: &Throttle,
) -> Resource {
    let scope = match &r.owner {
        Owner::None => Scope::Unowned,
        Owner::Field(column) => Scope::Owned {
            column: column.clone(),
            claim: user_claim.to_string(),
            tenant: false,
        },
        Owner::Long {
            field, claim: None, ..
        } => Scope::Owned {
            column: field.clone(),
            claim: user_claim.to_string(),
            tenant: false,
        },
        Owner::Long {
            field,
            claim: Some(claim),
            ..
        } => Scope::Owned {
            column: field.clone(),
            claim: claim.clone(),
            tenant: true,
        },
    };
    let server = |name: &str, ty: ColumnType, origin: ColumnOrigin| Column {
        name: name.to_string(),
        ty,
        origin,
        required: true,
        default: None,
        unique: (origin == ColumnOrigin::Id).then_some(Unique::Global),
        pii: false,
        constraints: Constraints::default(),
        on_create: false,
        on_update: false,
        read: None,
        write: None,
        description: None,
        link: None,
        renamed_from: None,
        backfill: None,
    };
    let mut columns = vec![server("id", ColumnType::Uuid, ColumnOrigin::Id)];
    if let Some(owner) = scope.owner_column() {
        columns.push(server(owner, ColumnType::String, ColumnOrigin::Owner));
    }
    for (field_name, f) in &r.fields {
        let ty = column_type(f);
        columns.push(Column {
            name: field_name.clone(),
            ty: ty.clone(),
            origin: ColumnOrigin::Field,
            required: f.required,
            default: f.default.clone(),
            unique: f.unique,
            pii: f.pii,
            constraints: Constraints {
                min_length: f.min_length,
                max_length: f.max_length,
                pattern: f.pattern.clone(),
                values: f.values.clone(),
                min: bound(&ty, f.min.as_ref()),
                max: bound(&ty, f.max.as_ref()),
            },
            on_create: !f.read_only,
            on_update: !f.read_only && !f.write_once,
            read: f.read.as_deref().map(Grants::named).filter(|g| !g.public),
            write: f.write.as_deref().map(Grants::named),
            description: f.description.clone(),
            link: None,
            renamed_from: f.renamed_from.clone(),
            backfill: f.backfill.clone().or_else(|| f.default.clone()),
        });
    }
    columns.push(server(
        "created_at",
        ColumnType::Datetime,
        ColumnOrigin::CreatedAt,
    ));
    columns.push(server(
        "updated_at",
        ColumnType::Datetime,
        ColumnOrigin::UpdatedAt,
    ));

    let access = r.access.clone().unwrap_or_default();
    let plural = r.plural.clone().unwrap_or_else(|| format!("{name}s"));
    let mut operations = OperationKind::ALL
        .into_iter()
        .filter_map(|kind| {
            let grants = Grants {
                owner: scope != Scope::Unowned
                    && access.owner.as_ref().is_none_or(|ops| ops.contains(&kind)),
                roles: access
                    .roles
                    .iter()
                    .filter(|(_, ops)| ops.contains(&kind))
                    .map(|(role, _)| role.clone())
                    .collect(),
                public: kind.is_read() && access.public.contains(&kind),
            };
            if grants.is_empty() {
                return None;
            }
            let overridden = r.throttle.as_ref().and_then(|t| t.get(kind));
            let rate = OperationRate {
                user: overridden.unwrap_or(throttle.user),
                anon: match overridden {
                    Some(rate) if grants.public => rate,
                    _ => throttle.anon,
                },
                bucket: match overridden {
                    Some(_) => format!("{name}.{}", kind.name()),
                    None => "default".to_string(),
                },
                overridden: overridden.is_some(),
            };
            let (method, path) = match kind {
                OperationKind::List => (Method::Get, format!("/{plural}")),
                OperationKind::Create => (Method::Post, format!("/{plural}")),
                OperationKind::Get => (Method::Get, format!("/{plural}/{{id}}")),
                OperationKind::Update => (Method::Patch, format!("/{plural}/{{id}}")),
                OperationKind::Delete => (Method::Delete, format!("/{plural}/{{id}}")),
            };
            Some(Operation {
                kind,
                method,
                path,
                grants,
                rate,
                replies_with_row: None,
                views: Vec::new(),
            })
        })
        .collect::<Vec<_>>();
    // An update answers with the row only to those who may also get it.
    let get_grants = operations
        .iter()
        .find(|o| o.kind == OperationKind::Get)
        .map_or_else(Grants::default, |o| o.grants.clone());
    for op in operations.iter_mut() {
        if op.kind == OperationKind::Update {
            op.replies_with_row = Some(get_grants.clone());
        }
    }
    // The owner column's readers: as the spec says, else the owner and
    // every role that may read rows; public readers never.
    let owner_read = match (&scope, &r.owner) {
        (Scope::Unowned, _) => Grants::default(),
        (
            _,
            Owner::Long {
                read: Some(read), ..
            },
        ) => Grants::named(read),
        _ => {
            let mut roles: Vec<String> = Vec::new();
            for op in operations.iter().filter(|o| o.kind.is_read()) {
                for role in &op.grants.roles {
                    if !roles.contains(role) {
                        roles.push(role.clone());
                    }
                }
            }
            Grants {
                owner: true,
                roles,
                public: false,
            }
        }
    };
    for column in &mut columns {
        match column.origin {
            ColumnOrigin::Owner => column.read = Some(owner_read.clone()).filter(|g| !g.public),
            ColumnOrigin::Field if column.read.is_none() => {
                column.read = hidden(&r.hide, &column.name, &scope, &operations);
            }
            _ => {}
        }
    }
    for op in operations.iter_mut() {
        op.views = views(op, &scope, &columns);
    }
    let mut sort = vec!["created_at".to_string()];
    sort.extend(r.sort.iter().filter(|s| *s != "created_at").cloned());
    if let Some(list) = operations
        .iter_mut()
        .find(|o| o.kind == OperationKind::List)
    {
        list_keys(list, &r.filters, &sort);
    }
    Resource {
        name: name.to_string(),
        plural,
        description: r.description.clone(),
        scope,
        columns,
        operations,
        filters: r.filters.clone(),
        sort,
        referenced: false,
        referrers: Vec::new(),
        indexes: Vec::new(),
        renamed_from: r.renamed_from.clone(),
    }
}

/// The readers of `field` when the resource's `hide` names it: everyone
/// who may run some operation on the resource (the owner of an owned
/// resource, its roles, public callers), less those it is hidden from; a
/// field hidden from a role is hidden from public callers too (or the
/// role's holders would read it without a token). `None` when `hide` does
/// not name the field.
fn hidden(
    hide: &indexmap::IndexMap<String, Vec<String>>,
    field: &str,
    scope: &Scope,
    operations: &[Operation],
) -> Option<Grants> {
    let from: Vec<&str> = hide
        .iter()
        .filter(|(_, fields)| fields.iter().any(|f| f == field))
        .map(|(who, _)| who.as_str())
        .collect();
    if from.is_empty() {
        return None;
    }
    let mut roles: Vec<String> = Vec::new();
    for op in operations {
        for role in &op.grants.roles {
            if !roles.contains(role) && !from.contains(&role.as_str()) {
                roles.push(role.clone());
            }
        }
    }
    Some(Grants {
        owner: *scope != Scope::Unowned && !from.contains(&"owner"),
        public: operations.iter().any(|o| o.grants.public)
            && from.iter().all(|who| *who == "owner"),
        roles,
    })
}

/// The columns each kind of caller of `op` reads in its answer and may set
/// in its body. Whoever creates a row of an owned resource is its owner,
/// so a creator also reads and writes what the owner may.
fn views(op: &Operation, scope: &Scope, columns: &[Column]) -> Vec<View> {
    let owned = *scope != Scope::Unowned;
    let may = |rule: &Option<Grants>, who: &Grantee| {
        rule.as_ref()
            .is_none_or(|g| g.admits(who) || (owned && op.kind == OperationKind::Create && g.owner))
    };
    op.grants
        .grantees()
        .into_iter()
        .map(|who| {
            let answers = match op.kind {
                OperationKind::List | OperationKind::Get | OperationKind::Create => true,
                OperationKind::Update => {
                    op.replies_with_row.as_ref().is_some_and(|g| g.admits(&who))
                }
                OperationKind::Delete => false,
            };
            let reads = columns
                .iter()
                .filter(|c| answers && may(&c.read, &who))
                .map(|c| c.name.clone())
                .collect();
            let writes = columns
                .iter()
                .filter(|c| match op.kind {
                    OperationKind::Create => c.on_create,
                    OperationKind::Update => c.on_update,
                    _ => false,
                })
                .filter(|c| may(&c.write, &who))
                .map(|c| c.name.clone())
                .collect();
            View {
                grantee: who,
                reads,
                writes,
                keys: Vec::new(),
            }
        })
        .collect()
}

/// Each kind of caller's filters and sort keys on `list`: the columns it
/// reads on every row it reaches. A public list reaches every row for
/// everyone, its owners too, so an owner uses only what public callers
/// read; roles and public callers read the same on every row.
fn list_keys(list: &mut Operation, filters: &[String], sort: &[String]) {
    let public: Option<Vec<String>> = list
        .views
        .iter()
        .find(|v| v.grantee == Grantee::Public)
        .map(|v| v.reads.clone());
    for view in &mut list.views {
        let usable = |key: &&String| {
            view.reads.contains(key)
                && (view.grantee != Grantee::Owner
                    || public.as_ref().is_none_or(|p| p.contains(key)))
        };
        let mut keys: Vec<String> = filters.iter().filter(usable).cloned().collect();
        for key in sort.iter().filter(usable) {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
        view.keys = keys;
    }
}

fn column_type(f: &spec::Field) -> ColumnType {
    match f.ty {
        FieldType::String => ColumnType::String,
        FieldType::Integer => ColumnType::Integer,
        FieldType::Number => ColumnType::Number,
        FieldType::Boolean => ColumnType::Boolean,
        FieldType::Date => ColumnType::Date,
        FieldType::Datetime => ColumnType::Datetime,
        FieldType::Uuid => ColumnType::Uuid,
        FieldType::Email => ColumnType::Email,
        FieldType::Url => ColumnType::Url,
        FieldType::Ref => ColumnType::Ref {
            resource: f.resource.clone().unwrap_or_default(),
        },
    }
}

/// A `min`/`max` as the server enforces it. A `number` bound becomes the
/// `f64` the generated code compares with, written as an integer when it
/// is one (|x| <= 2^53, so exact) and else as its shortest decimal: a spec
/// bound no `f64` holds exactly (`max: 9007199254740993`) is documented as
/// the value enforced, and a request number equal to the documented bound
/// in `f64` can be compared with it exactly (the runtime's `check::Number`).
fn bound(ty: &ColumnType, n: Option<&serde_json::Number>) -> Option<serde_json::Number> {
    let n = n?;
    if *ty != ColumnType::Number {
        return Some(n.clone());
    }
    let f = n.as_f64()?;
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if f.fract() == 0.0 && f.abs() <= EXACT {
        // In range and integral: the cast is exact.
        return Some(serde_json::Number::from(f as i64));
    }
    serde_json::Number::from_f64(f)
}

/// Row-level security of an owned table on PostgreSQL, the second lock:
/// who the database itself lets see and change which rows, whatever a
/// statement says. It admits at least what the operations grant (the
/// first lock, in every statement, is the exact one): its owner reaches
/// its own rows for every command, a role every row for a command when
/// some operation of that kind grants it the role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowSecurity {
    pub table: String,
    pub owner_column: String,
    /// The index of the owner's claim among [`Service::tenant_claims`],
    /// or `None` for the user claim.
    pub tenant: Option<usize>,
    /// Roles that read every row: those granted list, get, update or
    /// delete (an UPDATE or DELETE reads the rows it changes), and those
    /// that update rows of another resource naming this one, whose link is
    /// checked against the named row's owner.
    pub read: Vec<String>,
    /// Anyone reads every row (a public list or get).
    pub public_read: bool,
    /// Roles that update every row.
    pub update: Vec<String>,
    /// Roles that delete every row.
    pub delete: Vec<String>,
}

impl Service {
    /// The row-level security of each owned table, in table order.
    pub fn row_security(&self) -> Vec<RowSecurity> {
        let tenants = self.tenant_claims();
        self.resources
            .iter()
            .filter_map(|r| {
                let Scope::Owned {
                    column,
                    claim,
                    tenant,
                } = &r.scope
                else {
                    return None;
                };
                let roles = |kinds: &[OperationKind]| -> Vec<String> {
                    let mut roles: Vec<String> = r
                        .operations
                        .iter()
                        .filter(|o| kinds.contains(&o.kind))
                        .flat_map(|o| o.grants.roles.iter().cloned())
                        .collect();
                    roles.sort();
                    roles.dedup();
                    roles
                };
                let mut read = roles(&[
                    OperationKind::List,
                    OperationKind::Get,
                    OperationKind::Update,
                    OperationKind::Delete,
                ]);
                for referrer in &self.resources {
                    let names_this = referrer.columns.iter().any(|c| {
                        matches!(&c.ty, ColumnType::Ref { resource } if *resource == r.name)
                            && c.link
                                .as_ref()
                                .is_some_and(|l| l.targets == LinkTargets::SameOwner)
                    });
                    if let (true, Some(update)) =
                        (names_this, referrer.operation(OperationKind::Update))
                    {
                        read.extend(update.grants.roles.iter().cloned());
                    }
                }
                read.sort();
                read.dedup();
                let public_read = r.operations.iter().any(|o| {
                    matches!(o.kind, OperationKind::List | OperationKind::Get) && o.grants.public
                });
                Some(RowSecurity {
                    table: r.name.clone(),
                    owner_column: column.clone(),
                    tenant: tenant
                        .then(|| tenants.iter().position(|t| t == claim))
                        .flatten(),
                    read,
                    public_read,
                    update: roles(&[OperationKind::Update]),
                    delete: roles(&[OperationKind::Delete]),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_cover_their_subsets() {
        let g = |owner: bool, roles: &[&str], public: bool| Grants {
            owner,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            public,
        };
        assert!(g(true, &["a", "b"], false).covers(&g(true, &["a"], false)));
        assert!(!g(false, &["a"], false).covers(&g(true, &[], false)));
        assert!(!g(true, &["a"], false).covers(&g(false, &["b"], false)));
        assert!(!g(true, &["a"], false).covers(&g(false, &[], true)));
        assert!(g(false, &[], true).covers(&g(true, &["x"], true)));
    }
    use crate::source::SourceFile;

    const HEAD: &str = "palisade: 1\nservice: { name: t }\nauth:\n  jwt: { algorithm: HS256, secret_env: S }\n  roles_claim: roles\nroles: [admin, support]\n";

    /// Compiles `HEAD` + `resources` and returns the model.
    fn lower_yaml(resources: &str) -> Service {
        let text = format!("{HEAD}{resources}");
        match crate::compile(SourceFile::new("t.yaml", text)) {
            Ok(c) => c.model,
            Err(r) => panic!(
                "{}",
                r.render(crate::diagnostic::RenderOptions {
                    color: false,
                    width: 100
                })
            ),
        }
    }

    fn ops(r: &Resource) -> Vec<&'static str> {
        r.operations.iter().map(|o| o.kind.name()).collect()
    }

    #[test]
    fn owner_gets_every_operation_by_default_on_own_rows() {
        let m = lower_yaml(
            "resources:\n  note:\n    owner: owner_id\n    fields: { t: { type: string } }\n",
        );
        let r = &m.resources[0];
        assert_eq!(ops(r), ["list", "get", "create", "update", "delete"]);
        for op in &r.operations {
            assert_eq!(op.grants.rows(), vec![(Grantee::Owner, Rows::Own)]);
        }
        assert_eq!(
            r.scope,
            Scope::Owned {
                column: "owner_id".into(),
                claim: "sub".into(),
                tenant: false
            }
        );
        let names: Vec<&str> = r.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "owner_id", "t", "created_at", "updated_at"]);
        let owner = r.column("owner_id").unwrap();
        assert!(
            !owner.on_create && !owner.on_update,
            "the owner is never input"
        );
    }

    #[test]
    fn ungranted_operations_have_no_route() {
        let m = lower_yaml(
            "resources:\n  doc:\n    owner: owner_id\n    fields: { t: { type: string } }\n    access:\n      owner: [get, create]\n      roles: { admin: [list, get] }\n",
        );
        let r = &m.resources[0];
        assert_eq!(ops(r), ["list", "get", "create"]);
        let list = r.operation(OperationKind::List).unwrap();
        assert_eq!(
            list.grants,
            Grants {
                owner: false,
                roles: vec!["admin".into()],
                public: false
            }
        );
        assert_eq!(
            list.grants.rows(),
            vec![(Grantee::Role("admin".into()), Rows::All)]
        );
        let get = r.operation(OperationKind::Get).unwrap();
        assert_eq!(
            get.grants.rows(),
            vec![
                (Grantee::Owner, Rows::Own),
                (Grantee::Role("admin".into()), Rows::All)
            ]
        );
        assert!(r.operation(OperationKind::Delete).is_none());
    }

    #[test]
    fn public_reads_and_unowned_resources() {
        let m = lower_yaml(
            "resources:\n  item:\n    owner: none\n    fields: { t: { type: string } }\n    access:\n      roles: { admin: [create, delete] }\n      public: [list]\n",
        );
        let r = &m.resources[0];
        assert_eq!(r.scope, Scope::Unowned);
        assert_eq!(ops(r), ["list", "create", "delete"]);
        let list = r.operation(OperationKind::List).unwrap();
        assert_eq!(list.grants.rows(), vec![(Grantee::Public, Rows::All)]);
        assert_eq!(list.rate.anon, DEFAULT_ANON_RATE);
        assert_eq!(
            r.operation(OperationKind::Create).unwrap().rate.anon,
            DEFAULT_ANON_RATE
        );
        assert!(r.column("owner_id").is_none());
    }

    #[test]
    fn tenant_scope_reads_its_claim() {
        let m = lower_yaml(
            "resources:\n  p:\n    owner: { field: org_id, claim: org }\n    fields: { t: { type: string } }\n",
        );
        assert_eq!(
            m.resources[0].scope,
            Scope::Owned {
                column: "org_id".into(),
                claim: "org".into(),
                tenant: true
            }
        );
    }

    /// `throttle.redis` is the shared limiter with its defaults filled
    /// in; without it, none.
    #[test]
    fn a_shared_limiter_gets_its_defaults() {
        let fields = "resources:\n  n:\n    owner: owner_id\n    fields: { t: { type: string } }\n";
        let m = lower_yaml(&format!("throttle: {{ redis: {{}} }}\n{fields}"));
        assert_eq!(
            m.throttle.redis,
            Some(SharedLimiter {
                url_env: "REDIS_URL".into(),
                on_error: OnError::Local
            })
        );
        let m = lower_yaml(&format!(
            "throttle: {{ redis: {{ url_env: CACHE, on_error: closed }} }}\n{fields}"
        ));
        let shared = m.throttle.redis.unwrap();
        assert_eq!(
            (shared.url_env.as_str(), shared.on_error),
            ("CACHE", OnError::Closed)
        );
        assert_eq!(lower_yaml(fields).throttle.redis, None);
    }

    /// Without `database`, both engines; `engines` names the ones served.
    #[test]
    fn engines_default_to_both() {
        let fields = "resources:\n  n:\n    owner: owner_id\n    fields: { t: { type: string } }\n";
        assert_eq!(lower_yaml(fields).engines, Engines::ALL);
        assert_eq!(
            lower_yaml(&format!("database: {{}}\n{fields}")).engines,
            Engines::ALL
        );
        let only = |list: &str| {
            lower_yaml(&format!("database: {{ engines: [{list}] }}\n{fields}")).engines
        };
        assert_eq!(only("sqlite").list(), [Engine::Sqlite]);
        assert!(!only("sqlite").serves(Engine::Postgres));
        assert_eq!(only("postgres").list(), [Engine::Postgres]);
        assert_eq!(only("postgres, sqlite"), Engines::ALL);
    }

    #[test]
    fn rates_default_and_override_per_operation() {
        let m = lower_yaml(
            "throttle: { user: 10/s }\nresources:\n  n:\n    owner: owner_id\n    fields: { t: { type: string } }\n    throttle: { create: 5/minute }\n",
        );
        assert_eq!(m.throttle.anon, DEFAULT_ANON_RATE);
        let r = &m.resources[0];
        let create = &r.operation(OperationKind::Create).unwrap().rate;
        assert_eq!(
            (create.user, create.bucket.as_str(), create.overridden),
            (Rate::new(5, Per::Minute), "n.create", true)
        );
        let get = &r.operation(OperationKind::Get).unwrap().rate;
        assert_eq!(
            (get.user, get.bucket.as_str(), get.overridden),
            (Rate::new(10, Per::Second), "default", false)
        );
    }

    #[test]
    fn read_only_and_write_once_decide_input() {
        let m = lower_yaml(
            "resources:\n  n:\n    owner: owner_id\n    fields:\n      a: { type: string }\n      b: { type: string, write_once: true }\n      c: { type: string, read_only: true }\n",
        );
        let r = &m.resources[0];
        let input = |name: &str| {
            let c = r.column(name).unwrap();
            (c.on_create, c.on_update)
        };
        assert_eq!(input("a"), (true, true));
        assert_eq!(input("b"), (true, false));
        assert_eq!(input("c"), (false, false));
        for server in ["id", "owner_id", "created_at", "updated_at"] {
            assert_eq!(input(server), (false, false), "{server}");
        }
    }

    #[test]
    fn defaults_apply_and_cors_methods_follow_routes() {
        let m = lower_yaml(
            "cors: { origins: [https://a.example.com] }\nresources:\n  n:\n    owner: owner_id\n    fields: { t: { type: string } }\n    access: { owner: [list, create] }\n    sort: [t]\n",
        );
        assert_eq!(m.limits.default_page_size, DEFAULT_PAGE_SIZE);
        assert_eq!(m.limits.max_body_bytes, DEFAULT_MAX_BODY);
        assert_eq!(m.auth.user_claim, "sub");
        assert_eq!(m.cors.unwrap().methods, vec![Method::Get, Method::Post]);
        assert_eq!(m.resources[0].sort, vec!["created_at", "t"]);
    }

    #[test]
    fn number_bounds_are_the_f64_enforced() {
        let m = lower_yaml(
            "resources:\n  n:\n    owner: owner_id\n    fields:\n      a: { type: number, min: -1.5, max: 9007199254740993 }\n      b: { type: number, min: 0, max: 0.1 }\n      c: { type: integer, min: 1, max: 9007199254740993 }\n",
        );
        let r = &m.resources[0];
        let bounds = |name: &str| {
            let c = &r.column(name).unwrap().constraints;
            let text = |n: &Option<serde_json::Number>| n.as_ref().unwrap().to_string();
            (text(&c.min), text(&c.max))
        };
        // 2^53 + 1 is no f64: the bound is the one the server compares with.
        assert_eq!(bounds("a"), ("-1.5".into(), "9007199254740992".into()));
        assert_eq!(bounds("b"), ("0".into(), "0.1".into()));
        // Integers are compared as i64: their bounds stay as written.
        assert_eq!(bounds("c"), ("1".into(), "9007199254740993".into()));
    }

    #[test]
    fn referenced_resources_are_marked() {
        let m = lower_yaml(
            "resources:\n  a:\n    owner: owner_id\n    fields: { t: { type: string } }\n  b:\n    owner: owner_id\n    fields: { a: { type: ref, resource: a } }\n  c:\n    owner: owner_id\n    fields: { me: { type: ref, resource: c } }\n",
        );
        let marked: Vec<(&str, bool)> = m
            .resources
            .iter()
            .map(|r| (r.name.as_str(), r.referenced))
            .collect();
        assert_eq!(marked, [("a", true), ("b", false), ("c", true)]);
    }

    fn link_of(m: &Service, resource: &str, column: &str) -> (LinkTargets, OnDelete) {
        let l = m
            .resource(resource)
            .unwrap()
            .column(column)
            .unwrap()
            .link
            .clone()
            .unwrap();
        (l.targets, l.on_delete)
    }

    #[test]
    fn links_follow_the_new_rows_owner_never_the_callers_role() {
        let m = lower_yaml(
            "resources:\n  p:\n    owner: { field: org_id, claim: org }\n    fields: { t: { type: string } }\n    access: { roles: { admin: [list, get] } }\n  t:\n    owner: { field: org_id, claim: org }\n    fields: { p: { type: ref, resource: p, required: true } }\n    access: { roles: { admin: [create, update] } }\n  u:\n    owner: owner_id\n    fields: { p: { type: ref, resource: p } }\n  cat:\n    owner: none\n    fields: { t: { type: string } }\n    access: { roles: { admin: [create, delete] }, public: [get] }\n  o:\n    owner: owner_id\n    fields:\n      c: { type: ref, resource: cat, required: true }\n      d: { type: ref, resource: cat }\n  n:\n    owner: none\n    fields: { c: { type: ref, resource: cat } }\n    access: { roles: { admin: [create] } }\n",
        );
        // Same tenant claim and an owner `get`: the owner's own rows only,
        // though `admin` reads every tenant's; the delete is refused.
        assert_eq!(
            link_of(&m, "t", "p"),
            (LinkTargets::SameOwner, OnDelete::Restrict)
        );
        // A user-owned row cannot name a tenant's row.
        assert_eq!(
            link_of(&m, "u", "p"),
            (LinkTargets::Nothing, OnDelete::Restrict)
        );
        // Public rows: any, and their owner is never blocked.
        assert_eq!(link_of(&m, "o", "c"), (LinkTargets::Public, OnDelete::Keep));
        assert_eq!(
            link_of(&m, "o", "d"),
            (LinkTargets::Public, OnDelete::SetNull)
        );
        // Rows of nobody link to rows of nobody.
        assert_eq!(
            link_of(&m, "n", "c"),
            (LinkTargets::SameOwner, OnDelete::Restrict)
        );
        let p = m.resource("p").unwrap();
        assert!(p.referenced);
        assert_eq!(
            p.referrers,
            vec![Referrer {
                resource: "t".into(),
                column: "p".into()
            }]
        );
        let cat = m.resource("cat").unwrap();
        assert_eq!(
            cat.referrers,
            vec![Referrer {
                resource: "n".into(),
                column: "c".into()
            }]
        );
    }

    #[test]
    fn update_replies_only_to_getters_and_owner_column_readers() {
        let m = lower_yaml(
            "resources:\n  a:\n    owner: owner_id\n    fields: { t: { type: string } }\n    access: { roles: { admin: [update], support: [get] }, public: [list] }\n  b:\n    owner: { field: seller_id, read: [public] }\n    fields: { t: { type: string } }\n    access: { public: [get] }\n",
        );
        let a = m.resource("a").unwrap();
        let update = a.operation(OperationKind::Update).unwrap();
        assert_eq!(
            update.replies_with_row,
            Some(Grants {
                owner: true,
                roles: vec!["support".into()],
                public: false
            })
        );
        assert_eq!(
            a.operation(OperationKind::Get).unwrap().replies_with_row,
            None
        );
        // By default the owner and the roles that read; public never.
        assert_eq!(
            a.column("owner_id").unwrap().read,
            Some(Grants {
                owner: true,
                roles: vec!["support".into()],
                public: false
            })
        );
        // Public readers: everyone the row is shown to, no rule at all.
        let b = m.resource("b").unwrap();
        assert_eq!(b.column("seller_id").unwrap().read, None);
        assert_eq!(
            b.scope,
            Scope::Owned {
                column: "seller_id".into(),
                claim: "sub".into(),
                tenant: false
            }
        );
    }

    fn view(r: &Resource, op: OperationKind, who: Grantee) -> &View {
        r.operation(op)
            .unwrap()
            .views
            .iter()
            .find(|v| v.grantee == who)
            .unwrap()
    }

    #[test]
    fn field_rules_decide_each_callers_columns() {
        let m = lower_yaml(
            "resources:\n  t:\n    owner: owner_id\n    fields:\n      subject: { type: string }\n      email: { type: email, read: [owner, admin], write: [owner] }\n      status: { type: string, write: [support, admin] }\n      notes: { type: string, read: [support], write: [support] }\n    access: { owner: [list, get, create, update], roles: { support: [list, get, update], admin: [list, get, update] } }\n",
        );
        let t = m.resource("t").unwrap();
        let owner = Grantee::Owner;
        let support = Grantee::Role("support".into());
        let admin = Grantee::Role("admin".into());
        let cols = |v: &[String]| v.join(" ");
        assert_eq!(
            cols(&view(t, OperationKind::Get, owner.clone()).reads),
            "id owner_id subject email status created_at updated_at"
        );
        assert_eq!(
            cols(&view(t, OperationKind::Get, support.clone()).reads),
            "id owner_id subject status notes created_at updated_at"
        );
        assert_eq!(
            cols(&view(t, OperationKind::List, admin.clone()).reads),
            "id owner_id subject email status created_at updated_at"
        );
        assert_eq!(
            cols(&view(t, OperationKind::Create, owner.clone()).writes),
            "subject email"
        );
        assert_eq!(
            cols(&view(t, OperationKind::Update, support.clone()).writes),
            "subject status notes"
        );
        assert_eq!(
            cols(&view(t, OperationKind::Update, admin).writes),
            "subject status"
        );
        // The update answers the support (it may get), with what it reads.
        assert_eq!(
            view(t, OperationKind::Update, support.clone()).reads,
            view(t, OperationKind::Get, support).reads
        );
    }

    #[test]
    fn list_keys_are_what_each_caller_reads_on_every_row_it_reaches() {
        let spec = |public: &str| {
            lower_yaml(&format!(
                "resources:\n  t:\n    owner: owner_id\n    fields:\n      email: {{ type: email, read: [owner, admin] }}\n      tag: {{ type: string }}\n    filters: [email, tag]\n    sort: [email]\n    access: {{ owner: [list, get, create], roles: {{ admin: [list], support: [list] }}{public} }}\n"
            ))
        };
        let keys = |m: &Service, who: Grantee| {
            view(m.resource("t").unwrap(), OperationKind::List, who)
                .keys
                .join(" ")
        };
        let private = spec("");
        assert_eq!(keys(&private, Grantee::Owner), "email tag created_at");
        assert_eq!(
            keys(&private, Grantee::Role("admin".into())),
            "email tag created_at"
        );
        assert_eq!(
            keys(&private, Grantee::Role("support".into())),
            "tag created_at"
        );
        // A public list reaches every row for its owners too.
        let public = spec(", public: [list]");
        assert_eq!(keys(&public, Grantee::Owner), "tag created_at");
        assert_eq!(keys(&public, Grantee::Public), "tag created_at");
        assert!(
            view(
                public.resource("t").unwrap(),
                OperationKind::Get,
                Grantee::Owner
            )
            .keys
            .is_empty()
        );
    }

    #[test]
    fn hide_removes_readers_and_a_hidden_role_takes_public_with_it() {
        let m = lower_yaml(
            "resources:\n  p:\n    owner: none\n    fields:\n      name: { type: string }\n      cost: { type: integer }\n      supplier: { type: string }\n    hide: { public: [cost], support: [supplier] }\n    access: { roles: { support: [list, get], admin: [list, get, create] }, public: [list, get] }\n",
        );
        let p = m.resource("p").unwrap();
        assert_eq!(
            p.column("cost").unwrap().read,
            Some(Grants {
                owner: false,
                roles: vec!["support".into(), "admin".into()],
                public: false
            })
        );
        assert_eq!(
            p.column("supplier").unwrap().read,
            Some(Grants {
                owner: false,
                roles: vec!["admin".into()],
                public: false
            })
        );
        assert_eq!(p.column("name").unwrap().read, None);
        let public = view(p, OperationKind::List, Grantee::Public);
        assert_eq!(public.reads.join(" "), "id name created_at updated_at");
    }

    #[test]
    fn index_names_never_collide() {
        // `user` + `profile_handle` and `user_profile` + `handle` made the
        // same `user_profile_handle_unique` before.
        let m = lower_yaml(
            "resources:\n  user:\n    owner: owner_id\n    fields: { profile_handle: { type: string, unique: per_owner } }\n  user_profile:\n    owner: owner_id\n    fields: { handle: { type: string, unique: per_owner } }\n  user_profile_handle_unique:\n    owner: owner_id\n    fields: { t: { type: string } }\n",
        );
        let mut names: Vec<&str> = m
            .resources
            .iter()
            .flat_map(|r| r.indexes.iter().map(|i| i.name.as_str()))
            .collect();
        let tables: Vec<&str> = m.resources.iter().map(|r| r.name.as_str()).collect();
        for n in &names {
            assert!(!tables.contains(n), "index `{n}` is named like a table");
        }
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "index names are unique: {names:?}");
    }
}
