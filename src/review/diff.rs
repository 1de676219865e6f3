//! `palisade diff`: what a change of spec widens, narrows or merely moves.
//!
//! Stage: review. Input: two compiled specs (old and new) with their
//! positioned trees. Output: a [`DiffReport`] listing every change that
//! affects security, each with a stable kind ([`Kind`]), its class
//! (widening, narrowing, neutral) and the location of the key that causes
//! it (in the new file, or in the old one for what was removed). Invariant:
//! every decision compares the two resolved models (grants, scopes, rates,
//! columns, the views each kind of caller has of each operation, CORS,
//! limits); defaults are already applied there, so writing a default out or
//! leaving it implicit is no change.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde::Serialize;

use crate::model::{self, Column, Grantee, Grants, OperationKind, Scope};
use crate::spec::{self, Rate};

use super::audit::{Style, cell, size_text};
use super::locate::{Location, Locator};
use super::matrix::column_users;

/// How a change moves what the service exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Somebody may now do or see more, or a check became weaker.
    Widening,
    /// Somebody may now do or see less, or a check became stronger.
    Narrowing,
    /// Worth knowing, neither wider nor narrower.
    Neutral,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Widening => "widening",
            Class::Narrowing => "narrowing",
            Class::Neutral => "neutral",
        }
    }
}

macro_rules! kinds {
    ($($variant:ident => $code:literal, $class:ident, $mirror:ident;)*) => {
        /// A kind of change, with its stable code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind { $($variant),* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            pub fn code(self) -> &'static str {
                match self { $(Kind::$variant => $code),* }
            }

            pub fn class(self) -> Class {
                match self { $(Kind::$variant => Class::$class),* }
            }

            /// The kind the same edit made the other way round reports.
            pub fn mirror(self) -> Kind {
                match self { $(Kind::$variant => Kind::$mirror),* }
            }
        }
    };
}

kinds! {
    PublicGranted => "public-granted", Widening, PublicRevoked;
    PublicRevoked => "public-revoked", Narrowing, PublicGranted;
    RoleGranted => "role-granted", Widening, RoleRevoked;
    RoleRevoked => "role-revoked", Narrowing, RoleGranted;
    OwnerGranted => "owner-granted", Widening, OwnerRevoked;
    OwnerRevoked => "owner-revoked", Narrowing, OwnerGranted;
    OwnerScopeRemoved => "owner-scope-removed", Widening, OwnerScopeAdded;
    OwnerScopeAdded => "owner-scope-added", Narrowing, OwnerScopeRemoved;
    OwnerScopeChanged => "owner-scope-changed", Widening, OwnerScopeChanged;
    RateLoosened => "rate-loosened", Widening, RateTightened;
    RateTightened => "rate-tightened", Narrowing, RateLoosened;
    CorsOriginAdded => "cors-origin-added", Widening, CorsOriginRemoved;
    CorsOriginRemoved => "cors-origin-removed", Narrowing, CorsOriginAdded;
    CorsCredentialsEnabled => "cors-credentials-enabled", Widening, CorsCredentialsDisabled;
    CorsCredentialsDisabled => "cors-credentials-disabled", Narrowing, CorsCredentialsEnabled;
    PiiFlagRemoved => "pii-flag-removed", Widening, PiiFlagAdded;
    PiiFlagAdded => "pii-flag-added", Narrowing, PiiFlagRemoved;
    LimitRaised => "limit-raised", Widening, LimitLowered;
    LimitLowered => "limit-lowered", Narrowing, LimitRaised;
    FieldWritable => "field-writable", Widening, FieldReadOnly;
    FieldReadOnly => "field-read-only", Narrowing, FieldWritable;
    FieldReadersWidened => "field-readers-widened", Widening, FieldReadersNarrowed;
    FieldReadersNarrowed => "field-readers-narrowed", Narrowing, FieldReadersWidened;
    FieldWritersWidened => "field-writers-widened", Widening, FieldWritersNarrowed;
    FieldWritersNarrowed => "field-writers-narrowed", Narrowing, FieldWritersWidened;
    TokenCheckRemoved => "token-check-removed", Widening, TokenCheckAdded;
    TokenCheckAdded => "token-check-added", Narrowing, TokenCheckRemoved;
    TokenCheckChanged => "token-check-changed", Widening, TokenCheckChanged;
    LeewayRaised => "leeway-raised", Widening, LeewayLowered;
    LeewayLowered => "leeway-lowered", Narrowing, LeewayRaised;
    AlgorithmWeakened => "algorithm-weakened", Widening, AlgorithmStrengthened;
    AlgorithmStrengthened => "algorithm-strengthened", Narrowing, AlgorithmWeakened;
    AlgorithmsWidened => "algorithms-widened", Widening, AlgorithmsNarrowed;
    AlgorithmsNarrowed => "algorithms-narrowed", Narrowing, AlgorithmsWidened;
    RolesClaimAdded => "roles-claim-added", Widening, RolesClaimRemoved;
    RolesClaimRemoved => "roles-claim-removed", Narrowing, RolesClaimAdded;
    RolesClaimChanged => "roles-claim-changed", Widening, RolesClaimChanged;
    ProxyHopsRaised => "proxy-hops-raised", Widening, ProxyHopsLowered;
    ProxyHopsLowered => "proxy-hops-lowered", Narrowing, ProxyHopsRaised;
    LimiterUnshared => "limiter-unshared", Widening, LimiterShared;
    LimiterShared => "limiter-shared", Narrowing, LimiterUnshared;
    LimiterFallbackLoosened => "limiter-fallback-loosened", Widening, LimiterFallbackTightened;
    LimiterFallbackTightened => "limiter-fallback-tightened", Narrowing, LimiterFallbackLoosened;
    LimiterStoreMoved => "limiter-store-moved", Neutral, LimiterStoreMoved;
    AlgorithmChanged => "algorithm-changed", Neutral, AlgorithmChanged;
    KeySourceChanged => "key-source-changed", Neutral, KeySourceChanged;
    CorsMaxAgeChanged => "cors-max-age-changed", Neutral, CorsMaxAgeChanged;
    RoleDeclared => "role-declared", Neutral, RoleUndeclared;
    RoleUndeclared => "role-undeclared", Neutral, RoleDeclared;
    ResourceAdded => "resource-added", Neutral, ResourceRemoved;
    ResourceRemoved => "resource-removed", Neutral, ResourceAdded;
    PathChanged => "path-changed", Neutral, PathChanged;
    FieldAdded => "field-added", Neutral, FieldRemoved;
    FieldRemoved => "field-removed", Neutral, FieldAdded;
    FieldChanged => "field-changed", Neutral, FieldChanged;
    QueryChanged => "query-changed", Neutral, QueryChanged;
    OwnerColumnShown => "owner-column-shown", Widening, OwnerColumnHidden;
    OwnerColumnHidden => "owner-column-hidden", Narrowing, OwnerColumnShown;
    UpdateRowShown => "update-row-shown", Widening, UpdateRowHidden;
    UpdateRowHidden => "update-row-hidden", Narrowing, UpdateRowShown;
    UniqueAcrossOwnersAdded => "unique-across-owners-added", Widening, UniqueAcrossOwnersRemoved;
    UniqueAcrossOwnersRemoved => "unique-across-owners-removed", Narrowing, UniqueAcrossOwnersAdded;
    AuditAllowAdded => "audit-allow-added", Neutral, AuditAllowRemoved;
    AuditAllowRemoved => "audit-allow-removed", Neutral, AuditAllowAdded;
}

/// One change.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub class: Class,
    pub kind: &'static str,
    /// What changed: `invoice.delete`, `cors`, `limits.max_body`, ...
    pub subject: String,
    pub message: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The key that causes it: in the new file, or in the old one when the
    /// new file no longer has it.
    pub location: Location,
    #[serde(skip)]
    pub kind_enum: Kind,
}

/// Everything `palisade diff` reports.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub tool: &'static str,
    pub version: &'static str,
    pub old: String,
    pub new: String,
    pub service: String,
    pub summary: DiffSummary,
    /// Widening first, then narrowing, then neutral; spec order within each.
    pub changes: Vec<Change>,
    /// What the next migration does to the rows (SPEC 5): dropped columns
    /// and tables, renames, new `unique` or `required`, new columns.
    pub data: Vec<DataChange>,
}

/// A change of the schema, as the migration between the two specs makes it.
#[derive(Debug, Clone, Serialize)]
pub struct DataChange {
    /// `applied`, `hinted` (by `renamed_from`, a `default` or `backfill`)
    /// or `destructive` (needs `--allow-destructive`).
    pub class: crate::migrate::Class,
    pub message: String,
    pub why: String,
    pub location: Location,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiffSummary {
    pub widening: usize,
    pub narrowing: usize,
    pub neutral: usize,
}

impl DiffReport {
    pub fn widens(&self) -> bool {
        self.summary.widening > 0
    }

    pub fn of_class(&self, class: Class) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(move |c| c.class == class)
    }
}

/// One side of the comparison.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    pub model: &'a model::Service,
    pub spec: &'a spec::Spec,
    pub at: Locator<'a>,
}

struct Out<'a> {
    old: Side<'a>,
    new: Side<'a>,
    changes: Vec<Change>,
}

/// Where a change is located.
enum At<'p> {
    New(&'p [&'p str]),
    Old(&'p [&'p str]),
    NewItem(&'p [&'p str], &'p str),
    OldItem(&'p [&'p str], &'p str),
    /// Already located.
    Exact(Location),
}

impl Out<'_> {
    fn push(
        &mut self,
        kind: Kind,
        subject: impl Into<String>,
        message: String,
        before: Option<String>,
        after: Option<String>,
        at: At<'_>,
    ) {
        let location = match at {
            At::New(path) => self.new.at.key(path),
            // Still written in the new file (as `false`, say): point there.
            At::Old(path) => match self.new.at.find(path) {
                Some(span) => self.new.at.location(span),
                None => self.old.at.key(path),
            },
            At::NewItem(path, item) => self.new.at.item(path, item),
            At::OldItem(path, item) => match self.new.at.find_item(path, item) {
                Some(span) => self.new.at.location(span),
                None => self.old.at.item(path, item),
            },
            At::Exact(location) => location,
        };
        self.changes.push(Change {
            class: kind.class(),
            kind: kind.code(),
            subject: subject.into(),
            message,
            before,
            after,
            location,
            kind_enum: kind,
        });
    }
}

/// Orders rates by sustained rate, then by burst (the count).
fn compare_rates(a: Rate, b: Rate) -> Ordering {
    a.per_second()
        .partial_cmp(&b.per_second())
        .unwrap_or(Ordering::Equal)
        .then(a.count.cmp(&b.count))
}

fn rate_change(out: &mut Out<'_>, subject: &str, what: &str, old: Rate, new: Rate, path: &[&str]) {
    let kind = match compare_rates(old, new) {
        Ordering::Less => Kind::RateLoosened,
        Ordering::Greater => Kind::RateTightened,
        Ordering::Equal => return,
    };
    let verb = if kind == Kind::RateLoosened {
        "loosened"
    } else {
        "tightened"
    };
    out.push(
        kind,
        subject,
        format!("{what} {verb} from {old} to {new}"),
        Some(old.to_string()),
        Some(new.to_string()),
        At::New(path),
    );
}

/// A setting whose value can be raised or lowered; the subject is the
/// path of its key.
fn number_change<T: Ord + Copy>(
    out: &mut Out<'_>,
    (raised, lowered): (Kind, Kind),
    what: &str,
    old: T,
    new: T,
    show: impl Fn(T) -> String,
    path: &[&str],
) {
    let (kind, verb) = match old.cmp(&new) {
        Ordering::Less => (raised, "raised"),
        Ordering::Greater => (lowered, "lowered"),
        Ordering::Equal => return,
    };
    out.push(
        kind,
        path.join("."),
        format!("{what} {verb} from {} to {}", show(old), show(new)),
        Some(show(old)),
        Some(show(new)),
        At::New(path),
    );
}

/// How permissive a limiter is while its store is down: a limiter in
/// memory never loses its store, so it ranks like `local` (it always
/// counts, per replica).
fn fallback_rank(shared: Option<&model::SharedLimiter>) -> (u8, &'static str) {
    match shared.map(|s| s.on_error) {
        Some(spec::OnError::Closed) => (0, "refused with 503"),
        None | Some(spec::OnError::Local) => (1, "counted per replica"),
        Some(spec::OnError::Open) => (2, "not limited"),
    }
}

/// The limiter's store (each replica's memory, or Redis shared by all)
/// and what it does while Redis is down (`on_error`).
fn limiter_changes(
    out: &mut Out<'_>,
    old: Option<&model::SharedLimiter>,
    new: Option<&model::SharedLimiter>,
) {
    let at_redis: &[&str] = &["throttle", "redis"];
    match (old, new) {
        (None, Some(n)) => out.push(
            Kind::LimiterShared,
            "throttle.redis",
            format!(
                "rate limits are shared by every replica in Redis (`{}`) instead of counted by each",
                n.url_env
            ),
            Some("per replica".into()),
            Some("shared".into()),
            At::New(at_redis),
        ),
        (Some(o), None) => out.push(
            Kind::LimiterUnshared,
            "throttle.redis",
            format!(
                "each replica counts rate limits on its own instead of sharing them in Redis (`{}`): \
                 N replicas allow N times each rate",
                o.url_env
            ),
            Some("shared".into()),
            Some("per replica".into()),
            At::Old(at_redis),
        ),
        (Some(o), Some(n)) if o.url_env != n.url_env => out.push(
            Kind::LimiterStoreMoved,
            "throttle.redis.url_env",
            format!(
                "the Redis URL is read from `{}` instead of `{}`",
                n.url_env, o.url_env
            ),
            Some(o.url_env.clone()),
            Some(n.url_env.clone()),
            At::New(&["throttle", "redis", "url_env"]),
        ),
        _ => {}
    }
    let ((before, was), (after, is)) = (fallback_rank(old), fallback_rank(new));
    if before == after {
        return;
    }
    let kind = if after > before {
        Kind::LimiterFallbackLoosened
    } else {
        Kind::LimiterFallbackTightened
    };
    let at = if new.is_some() {
        At::New(&["throttle", "redis", "on_error"])
    } else {
        At::Old(&["throttle", "redis", "on_error"])
    };
    out.push(
        kind,
        "throttle.redis.on_error",
        format!("while Redis does not answer, requests are {is} instead of {was}"),
        Some(was.into()),
        Some(is.into()),
        at,
    );
}

/// A claim check (issuer, audience) before and after.
fn check_change(out: &mut Out<'_>, key: &str, old: &Option<String>, new: &Option<String>) {
    let subject = format!("auth.jwt.{key}");
    let path = ["auth", "jwt", key];
    match (old, new) {
        (Some(o), None) => out.push(
            Kind::TokenCheckRemoved,
            subject,
            format!("tokens are no longer checked for `{key}` (was `{o}`)"),
            Some(o.clone()),
            None,
            At::Old(&path),
        ),
        (None, Some(n)) => out.push(
            Kind::TokenCheckAdded,
            subject,
            format!("tokens must now carry {key} `{n}`"),
            None,
            Some(n.clone()),
            At::New(&path),
        ),
        (Some(o), Some(n)) if o != n => out.push(
            Kind::TokenCheckChanged,
            subject,
            format!("tokens with {key} `{n}` are now accepted (was `{o}`)"),
            Some(o.clone()),
            Some(n.clone()),
            At::New(&path),
        ),
        _ => {}
    }
}

fn service_changes(out: &mut Out<'_>) {
    let (old, new) = (out.old.model, out.new.model);
    let (oa, na) = (&old.auth, &new.auth);
    check_change(out, "issuer", &oa.issuer, &na.issuer);
    check_change(out, "audience", &oa.audience, &na.audience);
    number_change(
        out,
        (Kind::LeewayRaised, Kind::LeewayLowered),
        "clock leeway on `exp` and `nbf`",
        oa.leeway_seconds,
        na.leeway_seconds,
        |s| format!("{s} s"),
        &["auth", "jwt", "leeway_seconds"],
    );
    let sorted = |a: &[crate::spec::Algorithm]| {
        let mut names: Vec<&str> = a.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names
    };
    if sorted(&oa.algorithms) != sorted(&na.algorithms) {
        let (before, after) = (oa.algorithm_names(), na.algorithm_names());
        let kind = if !oa.hmac() && na.hmac() {
            Kind::AlgorithmWeakened
        } else if oa.hmac() && !na.hmac() {
            Kind::AlgorithmStrengthened
        } else if oa.algorithms.iter().all(|a| na.algorithms.contains(a)) {
            Kind::AlgorithmsWidened
        } else if na.algorithms.iter().all(|a| oa.algorithms.contains(a)) {
            Kind::AlgorithmsNarrowed
        } else {
            Kind::AlgorithmChanged
        };
        let note = match kind {
            Kind::AlgorithmWeakened => ": verifiers now hold the secret that signs tokens",
            Kind::AlgorithmStrengthened => ": verifiers no longer hold a signing secret",
            Kind::AlgorithmsWidened => ": tokens of more kinds of key are accepted",
            _ => "",
        };
        let key = if na.key.is_jwks() {
            "algorithms"
        } else {
            "algorithm"
        };
        out.push(
            kind,
            format!("auth.jwt.{key}"),
            format!("tokens are verified with {after} instead of {before}{note}"),
            Some(before),
            Some(after),
            At::New(&["auth", "jwt", key]),
        );
    }
    if oa.key != na.key {
        let key = na.key.spec_key();
        out.push(
            Kind::KeySourceChanged,
            format!("auth.jwt.{key}"),
            format!(
                "verification keys come from the {} instead of the {}",
                na.key.describe(),
                oa.key.describe()
            ),
            Some(oa.key.describe()),
            Some(na.key.describe()),
            At::New(&["auth", "jwt", key]),
        );
    }
    match (&oa.roles_claim, &na.roles_claim) {
        (None, Some(n)) => out.push(
            Kind::RolesClaimAdded,
            "auth.roles_claim",
            format!("role grants now take effect: roles are read from claim `{n}`"),
            None,
            Some(n.clone()),
            At::New(&["auth", "roles_claim"]),
        ),
        (Some(o), None) => out.push(
            Kind::RolesClaimRemoved,
            "auth.roles_claim",
            format!("nobody holds a role any more (roles were read from claim `{o}`)"),
            Some(o.clone()),
            None,
            At::Old(&["auth", "roles_claim"]),
        ),
        (Some(o), Some(n)) if o != n => out.push(
            Kind::RolesClaimChanged,
            "auth.roles_claim",
            format!("roles are read from claim `{n}` instead of `{o}`"),
            Some(o.clone()),
            Some(n.clone()),
            At::New(&["auth", "roles_claim"]),
        ),
        _ => {}
    }
    for role in &new.roles {
        if !old.roles.contains(role) {
            out.push(
                Kind::RoleDeclared,
                format!("roles.{role}"),
                format!("role `{role}` is declared"),
                None,
                None,
                At::NewItem(&["roles"], role),
            );
        }
    }
    for role in &old.roles {
        if !new.roles.contains(role) {
            out.push(
                Kind::RoleUndeclared,
                format!("roles.{role}"),
                format!("role `{role}` is no longer declared"),
                None,
                None,
                At::OldItem(&["roles"], role),
            );
        }
    }
    cors_changes(out);
    let (ot, nt) = (&old.throttle, &new.throttle);
    rate_change(
        out,
        "throttle.anon",
        "the anonymous rate per IP",
        ot.anon,
        nt.anon,
        &["throttle", "anon"],
    );
    rate_change(
        out,
        "throttle.user",
        "the default rate per user",
        ot.user,
        nt.user,
        &["throttle", "user"],
    );
    number_change(
        out,
        (Kind::ProxyHopsRaised, Kind::ProxyHopsLowered),
        "trusted X-Forwarded-For hops",
        ot.trust_proxy_hops,
        nt.trust_proxy_hops,
        |n| n.to_string(),
        &["throttle", "trust_proxy_hops"],
    );
    limiter_changes(out, ot.redis.as_ref(), nt.redis.as_ref());
    let (ol, nl) = (&old.limits, &new.limits);
    let limit = (Kind::LimitRaised, Kind::LimitLowered);
    number_change(
        out,
        limit,
        "the body limit",
        ol.max_body_bytes,
        nl.max_body_bytes,
        size_text,
        &["limits", "max_body"],
    );
    number_change(
        out,
        limit,
        "the default page size",
        ol.default_page_size,
        nl.default_page_size,
        |n| n.to_string(),
        &["limits", "default_page_size"],
    );
    number_change(
        out,
        limit,
        "the largest page",
        ol.max_page_size,
        nl.max_page_size,
        |n| n.to_string(),
        &["limits", "max_page_size"],
    );
    number_change(
        out,
        limit,
        "the request timeout",
        ol.request_timeout_seconds,
        nl.request_timeout_seconds,
        |n| format!("{n} s"),
        &["limits", "request_timeout_seconds"],
    );
    number_change(
        out,
        limit,
        "the header-read timeout",
        ol.header_read_timeout_seconds,
        nl.header_read_timeout_seconds,
        |n| format!("{n} s"),
        &["limits", "header_read_timeout_seconds"],
    );
    number_change(
        out,
        limit,
        "the keep-alive idle timeout",
        ol.idle_timeout_seconds,
        nl.idle_timeout_seconds,
        |n| format!("{n} s"),
        &["limits", "idle_timeout_seconds"],
    );
    number_change(
        out,
        limit,
        "the connection cap",
        ol.max_connections,
        nl.max_connections,
        |n| n.to_string(),
        &["limits", "max_connections"],
    );
}

fn cors_changes(out: &mut Out<'_>) {
    let origins = |c: Option<&model::Cors>| -> Vec<String> {
        c.map(|c| c.origins.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    };
    let (oc, nc) = (out.old.model.cors.as_ref(), out.new.model.cors.as_ref());
    let (oo, no) = (origins(oc), origins(nc));
    for origin in &no {
        if !oo.contains(origin) {
            out.push(
                Kind::CorsOriginAdded,
                "cors.origins",
                format!("browsers on `{origin}` may now call the API cross-origin"),
                None,
                Some(origin.clone()),
                At::NewItem(&["cors", "origins"], origin),
            );
        }
    }
    for origin in &oo {
        if !no.contains(origin) {
            out.push(
                Kind::CorsOriginRemoved,
                "cors.origins",
                format!("browsers on `{origin}` may no longer call the API cross-origin"),
                Some(origin.clone()),
                None,
                At::OldItem(&["cors", "origins"], origin),
            );
        }
    }
    let credentials = |c: Option<&model::Cors>| c.is_some_and(|c| c.credentials);
    match (credentials(oc), credentials(nc)) {
        (false, true) => out.push(
            Kind::CorsCredentialsEnabled,
            "cors.credentials",
            "browsers now send cookies and Authorization cross-origin".into(),
            Some("false".into()),
            Some("true".into()),
            At::New(&["cors", "credentials"]),
        ),
        (true, false) => out.push(
            Kind::CorsCredentialsDisabled,
            "cors.credentials",
            "browsers no longer send cookies and Authorization cross-origin".into(),
            Some("true".into()),
            Some("false".into()),
            At::Old(&["cors", "credentials"]),
        ),
        _ => {}
    }
    let max_age = match (oc, nc) {
        (Some(o), Some(n)) if o.max_age_seconds != n.max_age_seconds => Some((o, n)),
        _ => None,
    };
    if let Some((o, n)) = max_age {
        let show = |m: Option<u32>| m.map_or("unset".to_string(), |m| format!("{m} s"));
        out.push(
            Kind::CorsMaxAgeChanged,
            "cors.max_age_seconds",
            format!(
                "preflight answers are cached {} (was {})",
                show(n.max_age_seconds),
                show(o.max_age_seconds)
            ),
            Some(show(o.max_age_seconds)),
            Some(show(n.max_age_seconds)),
            At::New(&["cors", "max_age_seconds"]),
        );
    }
}

fn scope_words(scope: &Scope) -> String {
    match scope {
        Scope::Owned { column, claim, .. } => format!("`{column}` = token `{claim}`"),
        Scope::Unowned => "no owner".to_string(),
    }
}

/// Changes of who may run one operation.
fn grant_changes(
    out: &mut Out<'_>,
    resource: &str,
    kind: OperationKind,
    old: &Grants,
    new: &Grants,
    new_scope: &Scope,
    old_scope: &Scope,
) {
    let op = kind.name();
    let subject = format!("{resource}.{op}");
    let access = ["resources", resource, "access"];
    let owner_path = ["resources", resource, "access", "owner"];
    let rows = |scope: &Scope| match scope {
        Scope::Owned { .. } => format!("every owner's `{resource}` rows"),
        Scope::Unowned => format!("every `{resource}` row"),
    };
    if !old.owner && new.owner {
        let at = if out.new.at.key_span(&owner_path) == out.new.at.key_span(&access) {
            At::New(&["resources", resource, "owner"])
        } else {
            At::NewItem(&owner_path, op)
        };
        out.push(
            Kind::OwnerGranted,
            subject.clone(),
            format!("owners may now `{op}` their own `{resource}` rows"),
            None,
            None,
            at,
        );
    }
    if old.owner && !new.owner {
        out.push(
            Kind::OwnerRevoked,
            subject.clone(),
            format!("owners may no longer `{op}` their own `{resource}` rows"),
            None,
            None,
            At::OldItem(&owner_path, op),
        );
    }
    for role in &new.roles {
        if !old.roles.contains(role) {
            out.push(
                Kind::RoleGranted,
                format!("{subject}.{role}"),
                format!("role `{role}` may now `{op}` {}", rows(new_scope)),
                None,
                None,
                At::NewItem(&["resources", resource, "access", "roles", role], op),
            );
        }
    }
    for role in &old.roles {
        if !new.roles.contains(role) {
            out.push(
                Kind::RoleRevoked,
                format!("{subject}.{role}"),
                format!("role `{role}` may no longer `{op}` {}", rows(old_scope)),
                None,
                None,
                At::OldItem(&["resources", resource, "access", "roles", role], op),
            );
        }
    }
    let public = ["resources", resource, "access", "public"];
    if !old.public && new.public {
        out.push(
            Kind::PublicGranted,
            subject.clone(),
            format!("anyone may now `{op}` {} without a token", rows(new_scope)),
            None,
            None,
            At::NewItem(&public, op),
        );
    }
    if old.public && !new.public {
        out.push(
            Kind::PublicRevoked,
            subject,
            format!("anonymous callers may no longer `{op}` `{resource}` rows"),
            None,
            None,
            At::OldItem(&public, op),
        );
    }
}

/// The column's type and constraints in words, without the flags that
/// have changes of their own (pii, input).
fn column_shape(c: &Column) -> String {
    let mut parts = vec![match &c.ty {
        model::ColumnType::Ref { resource } => format!("ref to {resource}"),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
            .unwrap_or_default(),
    }];
    if c.required {
        parts.push("required".into());
    }
    if let Some(u) = c.unique {
        parts.push(match u {
            spec::Unique::Global => "unique".into(),
            spec::Unique::PerOwner => "unique per owner".into(),
        });
    }
    if let Some(d) = &c.default {
        parts.push(format!("default {d}"));
    }
    let k = &c.constraints;
    if let Some(n) = k.min_length {
        parts.push(format!("min_length {n}"));
    }
    if let Some(n) = k.max_length {
        parts.push(format!("max_length {n}"));
    }
    if let Some(p) = &k.pattern {
        parts.push(format!("pattern {p}"));
    }
    if let Some(v) = &k.values {
        parts.push(format!("enum [{}]", v.join(", ")));
    }
    if let Some(n) = &k.min {
        parts.push(format!("min {n}"));
    }
    if let Some(n) = &k.max {
        parts.push(format!("max {n}"));
    }
    parts.join(", ")
}

fn input_words(c: &Column) -> &'static str {
    match (c.on_create, c.on_update) {
        (true, true) => "accepted on create and update",
        (true, false) => "accepted on create only",
        (false, true) => "accepted on update only",
        (false, false) => "never accepted in input",
    }
}

fn column_changes(out: &mut Out<'_>, old: &model::Resource, new: &model::Resource) {
    let r = new.name.as_str();
    for c in new.fields() {
        let path = ["resources", r, "fields", c.name.as_str()];
        let subject = format!("{r}.{}", c.name);
        let Some(o) = old.fields().find(|o| o.name == c.name) else {
            out.push(
                Kind::FieldAdded,
                subject,
                format!(
                    "field `{}` of `{r}` is added ({}; {}{})",
                    c.name,
                    column_shape(c),
                    input_words(c),
                    if c.pii { "; PII" } else { "" }
                ),
                None,
                Some(column_shape(c)),
                At::New(&path),
            );
            continue;
        };
        if o.pii && !c.pii {
            out.push(
                Kind::PiiFlagRemoved,
                subject.clone(),
                format!(
                    "`{}` of `{r}` is no longer PII: it is no longer redacted from logs nor listed by audit",
                    c.name
                ),
                Some("pii".into()),
                None,
                At::New(&path),
            );
        }
        if !o.pii && c.pii {
            out.push(
                Kind::PiiFlagAdded,
                subject.clone(),
                format!("`{}` of `{r}` is now PII", c.name),
                None,
                Some("pii".into()),
                At::New(&["resources", r, "fields", c.name.as_str(), "pii"]),
            );
        }
        let wider: Vec<&str> = [
            (!o.on_create && c.on_create).then_some("create"),
            (!o.on_update && c.on_update).then_some("update"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let narrower: Vec<&str> = [
            (o.on_create && !c.on_create).then_some("create"),
            (o.on_update && !c.on_update).then_some("update"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !wider.is_empty() {
            out.push(
                Kind::FieldWritable,
                subject.clone(),
                format!(
                    "`{}` of `{r}` is now accepted on {}",
                    c.name,
                    wider.join(" and ")
                ),
                Some(input_words(o).into()),
                Some(input_words(c).into()),
                At::New(&path),
            );
        }
        if !narrower.is_empty() {
            out.push(
                Kind::FieldReadOnly,
                subject.clone(),
                format!(
                    "`{}` of `{r}` is no longer accepted on {}",
                    c.name,
                    narrower.join(" and ")
                ),
                Some(input_words(o).into()),
                Some(input_words(c).into()),
                At::New(&path),
            );
        }
        let (before, after) = (column_shape(o), column_shape(c));
        if before != after {
            out.push(
                Kind::FieldChanged,
                subject,
                format!("`{}` of `{r}` is now {after} (was {before})", c.name),
                Some(before),
                Some(after),
                At::New(&path),
            );
        }
    }
    for o in old.fields() {
        if !new.fields().any(|c| c.name == o.name) {
            out.push(
                Kind::FieldRemoved,
                format!("{r}.{}", o.name),
                format!("field `{}` of `{r}` is removed", o.name),
                Some(column_shape(o)),
                None,
                At::Old(&["resources", r, "fields", o.name.as_str()]),
            );
        }
    }
    for (what, o, n) in [
        ("filters", &old.filters, &new.filters),
        ("sort", &old.sort, &new.sort),
    ] {
        let added: Vec<&String> = n.iter().filter(|x| !o.contains(x)).collect();
        let removed: Vec<&String> = o.iter().filter(|x| !n.contains(x)).collect();
        if added.is_empty() && removed.is_empty() {
            continue;
        }
        let mut parts = Vec::new();
        for a in &added {
            parts.push(format!("+{a}"));
        }
        for x in &removed {
            parts.push(format!("-{x}"));
        }
        out.push(
            Kind::QueryChanged,
            format!("{r}.{what}"),
            format!("{what} of `{r}`: {}", parts.join(", ")),
            Some(o.join(", ")),
            Some(n.join(", ")),
            At::New(&["resources", r, what]),
        );
    }
}

fn resource_changes(out: &mut Out<'_>, old: Option<&model::Resource>, new: &model::Resource) {
    let r = new.name.as_str();
    let empty = Grants {
        owner: false,
        roles: Vec::new(),
        public: false,
    };
    let old_scope = old.map_or(Scope::Unowned, |o| o.scope.clone());
    match old {
        None => out.push(
            Kind::ResourceAdded,
            r,
            format!("resource `{r}` is added at /{}", new.plural),
            None,
            None,
            At::New(&["resources", r]),
        ),
        Some(o) => {
            if o.plural != new.plural {
                out.push(
                    Kind::PathChanged,
                    format!("{r}.plural"),
                    format!("`{r}` moves from /{} to /{}", o.plural, new.plural),
                    Some(format!("/{}", o.plural)),
                    Some(format!("/{}", new.plural)),
                    At::New(&["resources", r, "plural"]),
                );
            }
            let owner = ["resources", r, "owner"];
            match (&o.scope, &new.scope) {
                (Scope::Owned { .. }, Scope::Unowned) => out.push(
                    Kind::OwnerScopeRemoved,
                    format!("{r}.owner"),
                    format!(
                        "`{r}` rows are no longer scoped to an owner (were {})",
                        scope_words(&o.scope)
                    ),
                    Some(scope_words(&o.scope)),
                    Some(scope_words(&new.scope)),
                    At::New(&owner),
                ),
                (Scope::Unowned, Scope::Owned { .. }) => out.push(
                    Kind::OwnerScopeAdded,
                    format!("{r}.owner"),
                    format!("`{r}` rows are now scoped by {}", scope_words(&new.scope)),
                    Some(scope_words(&o.scope)),
                    Some(scope_words(&new.scope)),
                    At::New(&owner),
                ),
                (a, b) if a != b => out.push(
                    Kind::OwnerScopeChanged,
                    format!("{r}.owner"),
                    format!(
                        "`{r}` rows are now scoped by {} (were {}): existing rows may match other callers",
                        scope_words(b),
                        scope_words(a)
                    ),
                    Some(scope_words(a)),
                    Some(scope_words(b)),
                    At::New(&owner),
                ),
                _ => {}
            }
        }
    }
    for kind in OperationKind::ALL {
        let old_op = old.and_then(|o| o.operation(kind));
        let new_op = new.operation(kind);
        grant_changes(
            out,
            r,
            kind,
            old_op.map_or(&empty, |o| &o.grants),
            new_op.map_or(&empty, |o| &o.grants),
            &new.scope,
            &old_scope,
        );
        let rated = match (old_op, new_op) {
            (Some(o), Some(n)) if o.rate.overridden || n.rate.overridden => Some((o, n)),
            _ => None,
        };
        if let Some((o, n)) = rated {
            let path = ["resources", r, "throttle", kind.name()];
            let subject = format!("{r}.{}", kind.name());
            rate_change(
                out,
                &subject,
                &format!("the per-user rate of `{}` on `{r}`", kind.name()),
                o.rate.user,
                n.rate.user,
                &path,
            );
            if o.grants.public && n.grants.public {
                rate_change(
                    out,
                    &subject,
                    &format!("the per-IP rate of `{}` on `{r}`", kind.name()),
                    o.rate.anon,
                    n.rate.anon,
                    &path,
                );
            }
        }
    }
    if let Some(o) = old {
        column_changes(out, o, new);
        field_rule_changes(out, o, new);
        reader_changes(out, o, new);
    }
}

/// A kind of caller in words: `the owner`, `role R`, `anyone`.
fn grantee_words(g: &Grantee) -> String {
    match g {
        Grantee::Owner => "the owner".to_string(),
        Grantee::Role(r) => format!("role `{r}`"),
        Grantee::Public => "anyone".to_string(),
    }
}

/// The kinds of callers that read rows of a resource in some answer.
fn row_readers(r: &model::Resource) -> Vec<Grantee> {
    let mut out: Vec<Grantee> = Vec::new();
    for view in r.operations.iter().flat_map(|o| &o.views) {
        if !view.reads.is_empty() && !out.contains(&view.grantee) {
            out.push(view.grantee.clone());
        }
    }
    out
}

/// Where a field rule is written: the field's `read` or `write` key, or
/// for readers the `hide` list that names the field, in the new spec, else
/// in the old one (a rule that was dropped); the field itself otherwise.
fn field_rule_at(out: &Out<'_>, r: &str, field: &str, key: &str) -> Location {
    let rule = ["resources", r, "fields", field, key];
    for side in [&out.new, &out.old] {
        if let Some(span) = side.at.find(&rule) {
            return side.at.location(span);
        }
        if key != "read" {
            continue;
        }
        let hide = side
            .spec
            .resources
            .get(r)
            .into_iter()
            .flat_map(|res| &res.hide)
            .find(|(_, fields)| fields.iter().any(|f| f == field));
        if let Some((who, _)) = hide {
            let path = ["resources", r, "hide", who.as_str()];
            if let Some(span) = side.at.find_item(&path, field) {
                return side.at.location(span);
            }
        }
    }
    out.new.at.key(&["resources", r, "fields", field])
}

/// Changes of who reads and who writes each declared field, as the views
/// of the two models show them (field `read` and `write` rules, `hide`).
/// Only callers the other changes leave alone count: a reader of rows on
/// both sides that now sees a field it did not (or no longer sees it), a
/// caller of a create or update on both sides that may now set a field
/// (or no longer may) while the operation accepts the field on both. A
/// grant that comes or goes, or a field that becomes read-only, is
/// reported by its own kind.
fn field_rule_changes(out: &mut Out<'_>, old: &model::Resource, new: &model::Resource) {
    let r = new.name.as_str();
    let both_read: Vec<Grantee> = {
        let was = row_readers(old);
        row_readers(new)
            .into_iter()
            .filter(|g| was.contains(g))
            .collect()
    };
    for c in new.fields() {
        let Some(o) = was_column(old, c) else {
            continue;
        };
        let f = c.name.as_str();
        let what = if c.pii {
            format!("PII `{f}`")
        } else {
            format!("`{f}`")
        };
        let readers = |res: &model::Resource, name: &str| -> Vec<Grantee> {
            column_users(res, name, false)
                .into_iter()
                .map(|(g, _)| g)
                .filter(|g| both_read.contains(g))
                .collect()
        };
        let (was, now) = (readers(old, &o.name), readers(new, f));
        for g in now.iter().filter(|g| !was.contains(g)) {
            let who = grantee_words(g);
            let at = At::Exact(field_rule_at(out, r, f, "read"));
            out.push(
                Kind::FieldReadersWidened,
                format!("{r}.{f}.read"),
                format!("{who} now reads {what} of the `{r}` rows it reads"),
                None,
                Some(who),
                at,
            );
        }
        for g in was.iter().filter(|g| !now.contains(g)) {
            let who = grantee_words(g);
            let at = At::Exact(field_rule_at(out, r, f, "read"));
            out.push(
                Kind::FieldReadersNarrowed,
                format!("{r}.{f}.read"),
                format!("{who} no longer reads {what} of `{r}` rows"),
                Some(who),
                None,
                at,
            );
        }
        // Per kind of caller, the operations in which it may now (or no
        // longer) set the field.
        let mut wider: Vec<(Grantee, Vec<&'static str>)> = Vec::new();
        let mut narrower: Vec<(Grantee, Vec<&'static str>)> = Vec::new();
        for kind in [OperationKind::Create, OperationKind::Update] {
            let accepted = |col: &Column| match kind {
                OperationKind::Create => col.on_create,
                _ => col.on_update,
            };
            let (Some(oo), Some(no)) = (old.operation(kind), new.operation(kind)) else {
                continue;
            };
            if accepted(o) != accepted(c) {
                continue;
            }
            for nv in &no.views {
                let Some(ov) = oo.views.iter().find(|v| v.grantee == nv.grantee) else {
                    continue;
                };
                let (before, after) = (
                    ov.writes.contains(&o.name),
                    nv.writes.iter().any(|w| w == f),
                );
                let list = match (before, after) {
                    (false, true) => &mut wider,
                    (true, false) => &mut narrower,
                    _ => continue,
                };
                match list.iter_mut().find(|(g, _)| *g == nv.grantee) {
                    Some((_, ops)) => ops.push(kind.name()),
                    None => list.push((nv.grantee.clone(), vec![kind.name()])),
                }
            }
        }
        for (g, ops) in wider {
            let who = grantee_words(&g);
            let at = At::Exact(field_rule_at(out, r, f, "write"));
            out.push(
                Kind::FieldWritersWidened,
                format!("{r}.{f}.write"),
                format!(
                    "{who} may now set {what} of `{r}` rows on {}",
                    ops.join(" and ")
                ),
                None,
                Some(format!("{who} ({})", ops.join(", "))),
                at,
            );
        }
        for (g, ops) in narrower {
            let who = grantee_words(&g);
            let at = At::Exact(field_rule_at(out, r, f, "write"));
            out.push(
                Kind::FieldWritersNarrowed,
                format!("{r}.{f}.write"),
                format!(
                    "{who} may no longer set {what} of `{r}` rows on {}",
                    ops.join(" and ")
                ),
                Some(format!("{who} ({})", ops.join(", "))),
                None,
                at,
            );
        }
    }
}

/// The column of `old` that `c` was: the one of its name, or the one it
/// is renamed from (`renamed_from` keeps its values, so its rules compare).
fn was_column<'m>(old: &'m model::Resource, c: &Column) -> Option<&'m Column> {
    old.fields().find(|o| o.name == c.name).or_else(|| {
        let from = c.renamed_from.as_deref()?;
        old.fields().find(|o| o.name == from)
    })
}

/// The grantees of `g`, as words: `owner`, `role R`, `public`.
fn grantees(g: &Grants) -> Vec<String> {
    let mut out = Vec::new();
    if g.owner {
        out.push("the owner".to_string());
    }
    out.extend(g.roles.iter().map(|r| format!("role `{r}`")));
    if g.public {
        out.push("anyone".to_string());
    }
    out
}

/// Who receives the changed row from an update (an update grantee that
/// may also get it).
fn update_readers(r: &model::Resource) -> Vec<String> {
    let Some(update) = r.operation(OperationKind::Update) else {
        return Vec::new();
    };
    let Some(reply) = &update.replies_with_row else {
        return Vec::new();
    };
    let both = Grants {
        owner: update.grants.owner && reply.owner,
        roles: update
            .grants
            .roles
            .iter()
            .filter(|r| reply.roles.contains(r))
            .cloned()
            .collect(),
        public: update.grants.public && reply.public,
    };
    grantees(&both)
}

/// Changes of who sees the owner column, who reads rows through an update,
/// and of uniqueness across owners.
fn reader_changes(out: &mut Out<'_>, old: &model::Resource, new: &model::Resource) {
    let r = new.name.as_str();
    if let (Some(column), Some(_)) = (new.scope.owner_column(), old.scope.owner_column()) {
        let (was, now) = (
            grantees(&old.owner_readers()),
            grantees(&new.owner_readers()),
        );
        for who in now.iter().filter(|w| !was.contains(w)) {
            out.push(
                Kind::OwnerColumnShown,
                format!("{r}.owner.read"),
                format!("{who} now sees the owner column `{column}` of the `{r}` rows it reads"),
                None,
                Some(who.clone()),
                At::New(&["resources", r, "owner"]),
            );
        }
        for who in was.iter().filter(|w| !now.contains(w)) {
            out.push(
                Kind::OwnerColumnHidden,
                format!("{r}.owner.read"),
                format!("{who} no longer sees the owner column `{column}` of `{r}` rows"),
                Some(who.clone()),
                None,
                At::New(&["resources", r, "owner"]),
            );
        }
    }
    let (was, now) = (update_readers(old), update_readers(new));
    for who in now.iter().filter(|w| !was.contains(w)) {
        out.push(
            Kind::UpdateRowShown,
            format!("{r}.update"),
            format!("an update of `{r}` by {who} now answers with the whole row"),
            None,
            Some(who.clone()),
            At::New(&["resources", r, "access"]),
        );
    }
    for who in was.iter().filter(|w| !now.contains(w)) {
        out.push(
            Kind::UpdateRowHidden,
            format!("{r}.update"),
            format!("an update of `{r}` by {who} no longer answers with the row (204)"),
            Some(who.clone()),
            None,
            At::New(&["resources", r, "access"]),
        );
    }
    let across = |res: &model::Resource, c: &Column| {
        res.scope != Scope::Unowned && c.unique == Some(spec::Unique::Global)
    };
    for c in new.fields() {
        let Some(o) = was_column(old, c) else {
            continue;
        };
        let path = ["resources", r, "fields", c.name.as_str()];
        match (across(old, o), across(new, c)) {
            (false, true) => out.push(
                Kind::UniqueAcrossOwnersAdded,
                format!("{r}.{}", c.name),
                format!(
                    "`{}` of `{r}` is now unique across owners: a 409 tells a caller that another owner holds a value",
                    c.name
                ),
                None,
                Some("unique across owners".into()),
                At::New(&path),
            ),
            (true, false) => out.push(
                Kind::UniqueAcrossOwnersRemoved,
                format!("{r}.{}", c.name),
                format!("`{}` of `{r}` is no longer unique across owners", c.name),
                Some("unique across owners".into()),
                None,
                At::New(&path),
            ),
            _ => {}
        }
    }
}

fn removed_resource(out: &mut Out<'_>, old: &model::Resource) {
    let r = old.name.as_str();
    out.push(
        Kind::ResourceRemoved,
        r,
        format!("resource `{r}` at /{} is removed", old.plural),
        None,
        None,
        At::Old(&["resources", r]),
    );
    let empty = Grants {
        owner: false,
        roles: Vec::new(),
        public: false,
    };
    for op in &old.operations {
        grant_changes(
            out,
            r,
            op.kind,
            &op.grants,
            &empty,
            &Scope::Unowned,
            &old.scope,
        );
    }
}

/// The `allow` lists of a spec: (path to the `audit` block, scope, codes).
fn allows(spec: &spec::Spec) -> Vec<(Option<String>, Vec<String>)> {
    let mut out = Vec::new();
    if let Some(a) = &spec.audit {
        out.push((None, a.allow.clone()));
    }
    for (name, r) in &spec.resources {
        if let Some(a) = &r.audit {
            out.push((Some(name.clone()), a.allow.clone()));
        }
    }
    out
}

fn allow_changes(out: &mut Out<'_>) {
    let (old, new) = (allows(out.old.spec), allows(out.new.spec));
    let codes = |list: &[(Option<String>, Vec<String>)], scope: &Option<String>| -> Vec<String> {
        list.iter()
            .filter(|(s, _)| s == scope)
            .flat_map(|(_, c)| c.clone())
            .collect()
    };
    let scopes: Vec<Option<String>> = {
        let mut s: Vec<Option<String>> = new.iter().map(|(s, _)| s.clone()).collect();
        for (o, _) in &old {
            if !s.contains(o) {
                s.push(o.clone());
            }
        }
        s
    };
    for scope in scopes {
        let (o, n) = (codes(&old, &scope), codes(&new, &scope));
        let path: Vec<&str> = match &scope {
            None => vec!["audit", "allow"],
            Some(r) => vec!["resources", r, "audit", "allow"],
        };
        let place = match &scope {
            None => "the spec".to_string(),
            Some(r) => format!("resource `{r}`"),
        };
        for code in n.iter().filter(|c| !o.contains(c)) {
            out.push(
                Kind::AuditAllowAdded,
                format!("audit.{code}"),
                format!("audit finding `{code}` is now allowed for {place}"),
                None,
                Some(code.clone()),
                At::NewItem(&path, code),
            );
        }
        for code in o.iter().filter(|c| !n.contains(c)) {
            out.push(
                Kind::AuditAllowRemoved,
                format!("audit.{code}"),
                format!("audit finding `{code}` is no longer allowed for {place}"),
                Some(code.clone()),
                None,
                At::OldItem(&path, code),
            );
        }
    }
}

/// Compares two compiled specs.
pub fn diff(old: Side<'_>, new: Side<'_>) -> DiffReport {
    let mut out = Out {
        old,
        new,
        changes: Vec::new(),
    };
    service_changes(&mut out);
    for r in &new.model.resources {
        resource_changes(&mut out, old.model.resource(&r.name), r);
    }
    for r in &old.model.resources {
        if new.model.resource(&r.name).is_none() {
            removed_resource(&mut out, r);
        }
    }
    allow_changes(&mut out);
    // Stable: spec order is kept within each class.
    out.changes.sort_by_key(|c| c.class);
    let count = |class| out.changes.iter().filter(|c| c.class == class).count();
    DiffReport {
        tool: "palisade",
        version: env!("CARGO_PKG_VERSION"),
        old: old.at.source.name().to_string(),
        new: new.at.source.name().to_string(),
        service: new.model.name.clone(),
        summary: DiffSummary {
            widening: count(Class::Widening),
            narrowing: count(Class::Narrowing),
            neutral: count(Class::Neutral),
        },
        data: data_changes(&old, &new),
        changes: out.changes,
    }
}

/// The schema changes between the two specs, located at the resource or
/// field they are about (in the new spec; in the old one for what it
/// drops), with a likely rename that lacks its `renamed_from` among them.
fn data_changes(old: &Side<'_>, new: &Side<'_>) -> Vec<DataChange> {
    // Where the new spec has the resource (and field), there; otherwise
    // where the old one had it (a dropped field, a dropped resource).
    let locate = |resource: &str, field: Option<&str>| {
        let has = |side: &Side<'_>| {
            side.model
                .resource(resource)
                .is_some_and(|r| field.is_none_or(|f| r.column(f).is_some()))
        };
        let side = if has(new) || !has(old) { new } else { old };
        let mut path = vec!["resources", resource];
        path.extend(field.into_iter().flat_map(|f| ["fields", f]));
        side.at.key(&path)
    };
    let changes = crate::migrate::changes(old.model, new.model).unwrap_or_default();
    let mut data: Vec<DataChange> = changes
        .into_iter()
        .map(|c| DataChange {
            class: c.class,
            location: locate(&c.resource, c.field.as_deref()),
            message: c.what,
            why: c.why,
        })
        .collect();
    let unhinted = crate::migrate::changes::plan(
        &crate::migrate::Schema::of(old.model),
        &crate::migrate::Schema::of(new.model),
        &crate::migrate::changes::Hints::of(new.model),
        false,
    )
    .err()
    .unwrap_or_default();
    for r in unhinted
        .into_iter()
        .filter(|r| r.message.starts_with("did you rename"))
    {
        data.push(DataChange {
            class: crate::migrate::Class::Destructive,
            location: locate(&r.resource, r.field.as_deref()),
            message: r.message,
            why: r.help,
        });
    }
    data
}

/// A class as the migration's header names it, with the flag a
/// destructive change needs.
fn data_class(class: crate::migrate::Class) -> String {
    match class {
        crate::migrate::Class::Destructive => {
            format!("{}: needs --allow-destructive", class.describe())
        }
        other => other.describe().to_string(),
    }
}

fn summary_line(report: &DiffReport) -> String {
    let s = &report.summary;
    format!(
        "{} widening, {} narrowing, {} neutral",
        s.widening, s.narrowing, s.neutral
    )
}

const CLASSES: [(Class, &str, &str); 3] = [
    (Class::Widening, "+", "1;31"),
    (Class::Narrowing, "-", "32"),
    (Class::Neutral, "~", "2"),
];

/// The terminal rendering.
pub fn render_text(report: &DiffReport, color: bool) -> String {
    let style = Style::new(color);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} -> {} ({}): {}",
        report.old,
        report.new,
        style.bold(&report.service),
        summary_line(report)
    );
    if report.changes.is_empty() {
        out.push_str("no change that affects security\n");
    }
    for (class, sign, paint) in CLASSES {
        let changes: Vec<&Change> = report.of_class(class).collect();
        if changes.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n{}",
            style.paint(paint, &format!("{} ({})", class.name(), changes.len()))
        );
        for c in changes {
            let _ = writeln!(
                out,
                "  {} {}: [{}] {}",
                style.paint(paint, sign),
                c.location,
                c.kind,
                c.message
            );
        }
    }
    if !report.data.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            style.bold(&format!(
                "data: what the migration does to rows ({})",
                report.data.len()
            ))
        );
        for d in &report.data {
            let _ = writeln!(
                out,
                "  {}: [{}] {}: {}",
                d.location,
                data_class(d.class),
                d.message,
                d.why
            );
        }
    }
    out
}

/// Markdown for a pull-request comment.
pub fn render_markdown(report: &DiffReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Palisade diff: `{}`\n", report.service);
    let s = &report.summary;
    let widening = if s.widening > 0 {
        format!("**{} widening**", s.widening)
    } else {
        "0 widening".to_string()
    };
    let _ = writeln!(
        out,
        "`{}` → `{}`: {widening}, {} narrowing, {} neutral",
        report.old, report.new, s.narrowing, s.neutral
    );
    if report.changes.is_empty() {
        let _ = writeln!(out, "\nNo change that affects security.");
    }
    for (class, title) in [
        (Class::Widening, "Widening: who may do or see more"),
        (Class::Narrowing, "Narrowing"),
        (Class::Neutral, "Neutral"),
    ] {
        let changes: Vec<&Change> = report.of_class(class).collect();
        if changes.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n### {title} ({})\n", changes.len());
        let _ = writeln!(out, "| Change | What | Where |\n|---|---|---|");
        for c in changes {
            let _ = writeln!(
                out,
                "| `{}` | {} | `{}` |",
                c.kind,
                cell(&c.message),
                c.location
            );
        }
    }
    if !report.data.is_empty() {
        let _ = writeln!(
            out,
            "\n### Data: what the migration does to rows ({})\n",
            report.data.len()
        );
        let _ = writeln!(out, "| Migration | What | Where |\n|---|---|---|");
        for d in &report.data {
            let _ = writeln!(
                out,
                "| {} | {}: {} | `{}` |",
                data_class(d.class),
                cell(&d.message),
                cell(&d.why),
                d.location
            );
        }
    }
    out
}

pub fn render_json(report: &DiffReport) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("the diff serialises");
    text.push('\n');
    text
}
