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

use serde::Serialize;

use crate::spec::{self, Algorithm, FieldType, Origin, Owner, Per, Rate, Spec, Unique};

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
    pub resources: Vec<Resource>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Auth {
    #[serde(serialize_with = "serialize_algorithm")]
    pub algorithm: Algorithm,
    pub key: Key,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway_seconds: u32,
    /// The claim naming the user.
    pub user_claim: String,
    /// The claim listing role names; `None`: nobody holds a role.
    pub roles_claim: Option<String>,
}

fn serialize_algorithm<S: serde::Serializer>(a: &Algorithm, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a.name())
}

/// Where the verification key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    /// An HMAC secret in this environment variable.
    Secret { env: String },
    /// A PEM public key in this environment variable.
    PublicKey { env: String },
}

impl Key {
    pub fn env(&self) -> &str {
        match self {
            Key::Secret { env } | Key::PublicKey { env } => env,
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
    /// Whether a `ref` column of some resource points at this one: a ref
    /// may only name a row its writer may read (this resource's `get`
    /// grants and scope), so the resource answers that question.
    pub referenced: bool,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    pub description: Option<String>,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

impl Resource {
    pub fn operation(&self, kind: OperationKind) -> Option<&Operation> {
        self.operations.iter().find(|o| o.kind == kind)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The columns declared in the spec, in spec order.
    pub fn fields(&self) -> impl Iterator<Item = &Column> {
        self.columns
            .iter()
            .filter(|c| c.origin == ColumnOrigin::Field)
    }
}

/// Lowers a validated spec into the model.
///
/// Precondition: [`crate::validate::validate`] reported no error for `spec`.
pub fn lower(spec: &Spec) -> Service {
    let jwt = &spec.auth.jwt;
    let key = if jwt.algorithm.is_hmac() {
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
        algorithm: jwt.algorithm,
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
    let targets: std::collections::HashSet<String> = resources
        .iter()
        .flat_map(|r| &r.columns)
        .filter_map(|c| match &c.ty {
            ColumnType::Ref { resource } => Some(resource.clone()),
            _ => None,
        })
        .collect();
    for r in &mut resources {
        r.referenced = targets.contains(&r.name);
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
        resources,
    }
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
        Owner::Claim { field, claim } => Scope::Owned {
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
        description: None,
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
            description: f.description.clone(),
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
    let operations = OperationKind::ALL
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
            })
        })
        .collect();
    let mut sort = vec!["created_at".to_string()];
    sort.extend(r.sort.iter().filter(|s| *s != "created_at").cloned());
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

#[cfg(test)]
mod tests {
    use super::*;
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
}
