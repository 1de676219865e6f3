//! Audit findings: what a spec exposes that a reviewer should look at.
//!
//! Stage: review. Input: the resolved model, the `audit: { allow, reason }`
//! blocks of the spec, and a [`Locator`] for positions. Output: every
//! [`Finding`], each with a stable kebab-case code ([`Rule`]), a
//! [`Level`], the location of the key that causes it, and whether an
//! `allow` in the spec silenced it (and why). Invariants: every finding is
//! derived from the model's decisions, never from the YAML; an `allow` that
//! names an unknown code, or silences nothing, is itself a finding, so a
//! typo can never silently silence nothing; findings about `allow` itself
//! cannot be silenced.

use serde::Serialize;

use crate::model::{self, Grantee, Key, OperationKind, Rows, Scope};
use crate::source::Span;
use crate::spec::{self, AuditAllow, Per, Rate};

use super::locate::{Location, Locator};
use super::matrix::{column_users, pii_fields};

/// How much a finding matters, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing; rarely a risk by itself.
    Info,
    /// A risk in some deployments.
    Low,
    /// A risk that needs a reason to accept.
    Medium,
    /// Data exposed to anyone.
    High,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::High, Level::Medium, Level::Low, Level::Info];

    pub fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }
}

macro_rules! rules {
    ($($variant:ident => $code:literal, $level:ident, $title:literal,
       why: $why:literal, fix: $fix:literal;)*) => {
        /// A kind of finding, with its stable code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule { $($variant),* }

        impl Rule {
            pub const ALL: &'static [Rule] = &[$(Rule::$variant),*];

            /// The kebab-case code shown to users, used in `allow` and SARIF.
            pub fn code(self) -> &'static str {
                match self { $(Rule::$variant => $code),* }
            }

            pub fn level(self) -> Level {
                match self { $(Rule::$variant => Level::$level),* }
            }

            /// A short name of the rule.
            pub fn title(self) -> &'static str {
                match self { $(Rule::$variant => $title),* }
            }

            /// Why this matters.
            pub fn why(self) -> &'static str {
                match self { $(Rule::$variant => $why),* }
            }

            /// How to fix it (or accept it).
            pub fn fix(self) -> &'static str {
                match self { $(Rule::$variant => $fix),* }
            }
        }
    };
}

rules! {
    PublicOperation => "public-operation", Low, "public operation",
        why: "anyone on the network may run this operation without a token and reads every row, so whatever the rows hold is published",
        fix: "remove the operation from `access.public` unless the data is meant to be public; grant it to the owner or a role instead";
    PublicPiiRead => "public-pii-read", High, "public read of PII",
        why: "an anonymous caller can read personal data of every row: this is a data leak unless the fields are truly public",
        fix: "remove the operation from `access.public`, hide the PII fields from public callers (`hide: { public: [...] }` or a field's `read`), or move them to a resource that is not public";
    RoleDeletesAcrossOwners => "role-deletes-across-owners", Medium, "role deletes across owners",
        why: "every holder of the role may delete any owner's rows; a stolen or over-issued role token destroys data of every user",
        fix: "drop `delete` from the role's grant, or keep it only for a narrowly held role and give it a per-operation throttle";
    RoleUpdatesAcrossOwners => "role-updates-across-owners", Medium, "role updates across owners",
        why: "every holder of the role may change any owner's rows, a wide write privilege that bypasses owner scoping",
        fix: "drop `update` from the role's grant unless support staff really must edit users' data";
    RoleWritesFieldAcrossOwners => "role-writes-field-across-owners", Low, "field written across owners",
        why: "every holder of the roles named may change this field on every owner's rows, not only their own: a stolen or over-issued role token rewrites it everywhere (`role-updates-across-owners` reports the grant; this names each field the grant lets the role set)",
        fix: "list in the field's `write` only those who must set it (`write: [owner]` keeps it the owner's); accept it with a reason when the field is the staff's to set, such as a ticket's status";
    UnownedResource => "unowned-resource", Info, "resource without owner",
        why: "rows are not scoped to anybody: every grant on the resource reaches all rows, so only roles and public grants decide who sees what",
        fix: "declare `owner: FIELD` if rows belong to users or tenants; keep `owner: none` only for shared data such as a catalogue";
    MissingIssuer => "missing-issuer", Medium, "no token issuer check",
        why: "without `issuer`, a token signed with the same key by any other issuer (another environment or service) is accepted",
        fix: "set `auth.jwt.issuer` to the `iss` value of your identity provider";
    MissingAudience => "missing-audience", Medium, "no token audience check",
        why: "without `audience`, a token minted for another API that shares the key is accepted here (token replay across services)",
        fix: "set `auth.jwt.audience` to the `aud` value your identity provider puts in tokens for this API";
    SharedSecret => "shared-secret", Low, "shared HMAC secret",
        why: "with an HS* algorithm every service that verifies tokens holds the secret that signs them, so any of them can mint tokens for all",
        fix: "in multi-service setups use an asymmetric algorithm (ES256, EdDSA or RS256) with `public_key_env`, so verifiers cannot sign";
    JwksOverHttp => "jwks-over-http", Medium, "keys over plain http",
        why: "verification keys fetched over plain http can be swapped on the way, and whoever swaps them signs tokens for any user; http is accepted only from loopback, for tests",
        fix: "fetch the provider's keys over `https://`";
    BroadAlgorithms => "broad-algorithms", Low, "several token algorithms",
        why: "each algorithm in `algorithms` is another kind of key and signature the server accepts; a provider signs with one (two while it moves to another), so each extra one only widens what a leaked or planted key can sign",
        fix: "list only the algorithms your provider signs with";
    CorsCredentials => "cors-credentials", Low, "CORS with credentials",
        why: "browsers send cookies and Authorization headers cross-origin to this API from the listed origins; a compromised or careless origin acts as the user",
        fix: "set `cors.credentials: false` unless a listed origin needs cookies; keep the origin list short and exact";
    CreateWithoutThrottle => "create-without-throttle", Low, "create without its own rate",
        why: "create shares the generous default per-user bucket, so one account can fill the table with rows quickly",
        fix: "add `throttle: { create: N/minute }` to the resource with a rate that fits real use";
    LooseRate => "loose-rate", Medium, "loose rate",
        why: "a rate above 60/minute per IP or 3600/hour per user lets one client enumerate, scrape or brute-force far faster than people use an API",
        fix: "lower the rate; raise it only for operations that clients really call in bursts, with the reason in `audit.allow`";
    LargeBodyLimit => "large-body-limit", Low, "large body limit",
        why: "request bodies above 1MiB are accepted, so a few clients can tie up memory and bandwidth with huge payloads",
        fix: "lower `limits.max_body` to the largest real request (the default is 64KiB)";
    LargePageLimit => "large-page-limit", Low, "large page size",
        why: "pages of more than 100 rows make scraping cheap and single requests expensive",
        fix: "lower `limits.max_page_size` to 100 or less";
    LongRequestTimeout => "long-request-timeout", Low, "long request timeout",
        why: "requests may run for more than 30 seconds, so slow clients and heavy queries hold connections and database time",
        fix: "lower `limits.request_timeout_seconds` (the default is 10)";
    PiiExposedToRole => "pii-exposed-to-role", Medium, "PII readable by a role",
        why: "every holder of the role reads personal data of all rows, not only their own; role tokens become a path to bulk PII",
        fix: "grant the role only what it needs, hide the PII fields from it (a field's `read`, or `hide: { ROLE: [...] }`), or keep PII in a resource the role cannot read";
    OwnerColumnPublic => "owner-column-public", Medium, "owner ids published",
        why: "anonymous readers see the owner column of every row they read: a public list enumerates every user or tenant id that owns a row",
        fix: "drop `public` from `owner.read` unless owner ids are meant to be public (a seller's public profile id)";
    UpdateWithoutRead => "update-without-read", Info, "update without read",
        why: "these callers may change rows they may not read; the update answers 204 No Content, never the row, so an `update` grant does not read data",
        fix: "nothing to fix; grant `get` as well if the caller should see the changed row in the answer";
    UnlinkableRef => "unlinkable-ref", Medium, "ref that can name no row",
        why: "a ref names only rows that the new row's owner may access: the owner's own rows (both resources owned by the same claim, with an owner `get` on the target) or rows public to everyone; this one can name none, so every value is refused with 422 and, if it is required, no row can be created",
        fix: "give both resources the same owner rule and the owner a `get` on the target, or make the target's `get` public";
    UniqueAcrossOwners => "unique-across-owners", Low, "unique across owners",
        why: "a create or update with a value that another owner holds answers 409: callers learn which values other owners use, and the first owner to take a value keeps it from everyone else",
        fix: "use `unique: per_owner`, or accept it with a reason when one namespace is the point (usernames, public slugs)";
    TrustedProxyHops => "trusted-proxy-hops", Low, "X-Forwarded-For trusted",
        why: "client IPs (and so anonymous rate limits) come from X-Forwarded-For; deployed without exactly that many proxies in front, clients spoof their IP and evade the limits",
        fix: "keep `trust_proxy_hops` equal to the number of proxies that always sit in front, or set it to 0";
    LimiterFailsOpen => "limiter-fails-open", Medium, "rate limits off while Redis is down",
        why: "with `on_error: open` every request is allowed while the limiter's Redis does not answer: an outage of Redis, or anyone who can make it slow, lifts every per-IP and per-user limit, brute-force protection included",
        fix: "use `on_error: local` (each replica keeps counting on its own) or `closed` (503 while Redis is down); accept it in `audit.allow` only when availability matters more than the limits";
    UnknownAuditCode => "unknown-audit-code", Medium, "unknown code in allow",
        why: "an `allow` entry that names no finding code silences nothing, so the finding it meant to accept is still reported (and a typo hides that)",
        fix: "use the code that `palisade audit` shows in brackets for the finding, or remove the entry";
    UnusedAllow => "unused-allow", Low, "allow that silences nothing",
        why: "an `allow` entry for a finding that does not occur here is stale; it would silently accept the finding if it came back later",
        fix: "remove the entry, or move it to where the finding occurs (service-wide findings can only be allowed in the top-level `audit`)";
    EmptyAllowReason => "empty-allow-reason", Low, "allow without a reason",
        why: "a silenced finding without a reason leaves reviewers unable to tell an accepted risk from an oversight",
        fix: "write why the findings are accepted in `reason`";
}

/// Looser than this per IP (anonymous callers) is a `loose-rate`.
pub const SENSIBLE_ANON_RATE: Rate = Rate::new(60, Per::Minute);
/// Looser than this per user is a `loose-rate`.
pub const SENSIBLE_USER_RATE: Rate = Rate::new(3600, Per::Hour);
/// Larger than this is a `large-body-limit`.
pub const SENSIBLE_MAX_BODY: u64 = 1024 * 1024;
/// Larger than this is a `large-page-limit`.
pub const SENSIBLE_MAX_PAGE_SIZE: u32 = 100;
/// Longer than this is a `long-request-timeout`.
pub const SENSIBLE_TIMEOUT_SECONDS: u32 = 30;

impl Rule {
    /// Findings about `allow` itself: never silenced.
    pub fn is_meta(self) -> bool {
        matches!(
            self,
            Rule::UnknownAuditCode | Rule::UnusedAllow | Rule::EmptyAllowReason
        )
    }

    /// Rules that only concern the whole service, never one resource.
    pub fn is_service_wide(self) -> bool {
        matches!(
            self,
            Rule::MissingIssuer
                | Rule::MissingAudience
                | Rule::SharedSecret
                | Rule::CorsCredentials
                | Rule::LargeBodyLimit
                | Rule::LargePageLimit
                | Rule::LongRequestTimeout
                | Rule::TrustedProxyHops
                | Rule::LimiterFailsOpen
        )
    }

    pub fn from_code(code: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.code() == code)
    }
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Level,
    pub title: &'static str,
    pub message: String,
    pub why: &'static str,
    pub fix: &'static str,
    /// The resource it concerns; `None` for service-wide findings.
    pub resource: Option<String>,
    pub operation: Option<&'static str>,
    pub location: Location,
    /// Stable across edits that move lines: code, resource, operation, role.
    pub fingerprint: String,
    /// Set when an `allow` in the spec accepts the finding.
    pub silenced: Option<Silence>,
    #[serde(skip)]
    pub rule: Rule,
}

/// An `allow` that accepted a finding.
#[derive(Debug, Clone, Serialize)]
pub struct Silence {
    /// `spec` or `resource invoice`.
    pub scope: String,
    pub reason: String,
    /// The `allow` entry that names the code.
    pub location: Location,
}

/// Where `audit` blocks sit in a spec.
#[derive(Debug, Clone)]
struct AllowSite<'a> {
    /// `None` for the top-level block.
    resource: Option<&'a str>,
    allow: &'a AuditAllow,
    /// Whether each entry silenced something.
    used: Vec<bool>,
}

impl AllowSite<'_> {
    fn path(&self) -> Vec<&str> {
        match self.resource {
            None => vec!["audit"],
            Some(r) => vec!["resources", r, "audit"],
        }
    }

    fn scope(&self) -> String {
        match self.resource {
            None => "spec".to_string(),
            Some(r) => format!("resource {r}"),
        }
    }
}

/// A finding before silencing.
struct Raw {
    rule: Rule,
    message: String,
    resource: Option<String>,
    operation: Option<OperationKind>,
    span: Span,
    /// What distinguishes it from other findings of the same rule.
    subject: Vec<String>,
}

impl Raw {
    fn new(rule: Rule, span: Span, message: String) -> Raw {
        Raw {
            rule,
            message,
            resource: None,
            operation: None,
            span,
            subject: Vec::new(),
        }
    }

    fn on(mut self, resource: &str, operation: Option<OperationKind>) -> Raw {
        self.resource = Some(resource.to_string());
        self.operation = operation;
        self.subject.push(resource.to_string());
        if let Some(op) = operation {
            self.subject.push(op.name().to_string());
        }
        self
    }

    fn about(mut self, what: &str) -> Raw {
        self.subject.push(what.to_string());
        self
    }
}

fn looser(rate: Rate, than: Rate) -> bool {
    rate.per_second() > than.per_second()
}

fn list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every finding of the service, before silencing, in model order.
fn evaluate(service: &model::Service, at: &Locator<'_>) -> Vec<Raw> {
    let mut out = Vec::new();
    let auth = &service.auth;
    if auth.issuer.is_none() {
        out.push(Raw::new(
            Rule::MissingIssuer,
            at.key_span(&["auth", "jwt", "issuer"]),
            "tokens are accepted from any issuer: `auth.jwt.issuer` is not set".into(),
        ));
    }
    if auth.audience.is_none() {
        out.push(Raw::new(
            Rule::MissingAudience,
            at.key_span(&["auth", "jwt", "audience"]),
            "tokens are accepted for any audience: `auth.jwt.audience` is not set".into(),
        ));
    }
    if let Key::Secret { env } = &auth.key {
        out.push(Raw::new(
            Rule::SharedSecret,
            at.key_span(&["auth", "jwt", "algorithm"]),
            format!(
                "tokens are verified with {} and the shared secret in `{env}`",
                auth.algorithm_names()
            ),
        ));
    }
    if let Some((url, key)) = auth.key.plain_http() {
        out.push(Raw::new(
            Rule::JwksOverHttp,
            at.key_span(&["auth", "jwt", key]),
            format!("verification keys are fetched over plain http from `{url}`"),
        ));
    }
    if auth.algorithms.len() > 1 {
        out.push(Raw::new(
            Rule::BroadAlgorithms,
            at.key_span(&["auth", "jwt", "algorithms"]),
            format!(
                "tokens of {} algorithms are accepted: {}",
                auth.algorithms.len(),
                auth.algorithm_names()
            ),
        ));
    }
    if let Some(cors) = service.cors.as_ref().filter(|c| c.credentials) {
        let origins: Vec<String> = cors.origins.iter().map(ToString::to_string).collect();
        out.push(Raw::new(
            Rule::CorsCredentials,
            at.key_span(&["cors", "credentials"]),
            format!(
                "browsers send credentials cross-origin from {}",
                list(&origins)
            ),
        ));
    }
    let throttle = &service.throttle;
    if looser(throttle.anon, SENSIBLE_ANON_RATE) {
        out.push(
            Raw::new(
                Rule::LooseRate,
                at.key_span(&["throttle", "anon"]),
                format!(
                    "anonymous callers get {} per IP, looser than {SENSIBLE_ANON_RATE}",
                    throttle.anon
                ),
            )
            .about("throttle.anon"),
        );
    }
    if looser(throttle.user, SENSIBLE_USER_RATE) {
        out.push(
            Raw::new(
                Rule::LooseRate,
                at.key_span(&["throttle", "user"]),
                format!(
                    "authenticated callers get {} per user, looser than {SENSIBLE_USER_RATE}",
                    throttle.user
                ),
            )
            .about("throttle.user"),
        );
    }
    if throttle.trust_proxy_hops > 0 {
        out.push(Raw::new(
            Rule::TrustedProxyHops,
            at.key_span(&["throttle", "trust_proxy_hops"]),
            format!(
                "client IPs are read from X-Forwarded-For behind {} trusted prox{}",
                throttle.trust_proxy_hops,
                if throttle.trust_proxy_hops == 1 {
                    "y"
                } else {
                    "ies"
                }
            ),
        ));
    }
    if let Some(shared) = throttle
        .redis
        .as_ref()
        .filter(|r| r.on_error == spec::OnError::Open)
    {
        out.push(Raw::new(
            Rule::LimiterFailsOpen,
            at.key_span(&["throttle", "redis", "on_error"]),
            format!(
                "every request is allowed without limits while the Redis in `{}` does not answer",
                shared.url_env
            ),
        ));
    }
    let limits = &service.limits;
    if limits.max_body_bytes > SENSIBLE_MAX_BODY {
        out.push(Raw::new(
            Rule::LargeBodyLimit,
            at.key_span(&["limits", "max_body"]),
            format!(
                "request bodies up to {} bytes are accepted, more than {SENSIBLE_MAX_BODY}",
                limits.max_body_bytes
            ),
        ));
    }
    if limits.max_page_size > SENSIBLE_MAX_PAGE_SIZE {
        out.push(Raw::new(
            Rule::LargePageLimit,
            at.key_span(&["limits", "max_page_size"]),
            format!(
                "a page may hold {} rows, more than {SENSIBLE_MAX_PAGE_SIZE}",
                limits.max_page_size
            ),
        ));
    }
    if limits.request_timeout_seconds > SENSIBLE_TIMEOUT_SECONDS {
        out.push(Raw::new(
            Rule::LongRequestTimeout,
            at.key_span(&["limits", "request_timeout_seconds"]),
            format!(
                "a request may run for {} seconds, more than {SENSIBLE_TIMEOUT_SECONDS}",
                limits.request_timeout_seconds
            ),
        ));
    }
    for resource in &service.resources {
        evaluate_resource(resource, at, &mut out);
    }
    out
}

fn evaluate_resource(resource: &model::Resource, at: &Locator<'_>, out: &mut Vec<Raw>) {
    let name = resource.name.as_str();
    let pii = pii_fields(resource);
    let owned = resource.scope != Scope::Unowned;
    if !owned {
        out.push(
            Raw::new(
                Rule::UnownedResource,
                at.key_span(&["resources", name, "owner"]),
                format!("`{name}` rows belong to nobody: every grant reaches all of them"),
            )
            .on(name, None),
        );
    }
    let rows_of = if owned {
        format!("every owner's `{name}` rows")
    } else {
        format!("every `{name}` row")
    };
    for op in &resource.operations {
        let kind = op.kind;
        let route = format!("{} {}", op.method.as_str(), op.path);
        if let Some(view) = op.views.iter().find(|v| v.grantee == Grantee::Public) {
            let public = ["resources", name, "access", "public"];
            // What the field rules keep from anonymous callers: the PII
            // they read, and the fields hidden from them.
            let read_pii: Vec<String> = pii
                .iter()
                .filter(|p| view.reads.contains(p))
                .cloned()
                .collect();
            let hidden: Vec<String> = resource
                .fields()
                .filter(|c| !view.reads.contains(&c.name))
                .map(|c| c.name.clone())
                .collect();
            let hidden = if hidden.is_empty() {
                String::new()
            } else {
                format!("; hidden from it: {}", list(&hidden))
            };
            let raw = if read_pii.is_empty() {
                Raw::new(
                    Rule::PublicOperation,
                    at.item_span(&public, kind.name()),
                    format!(
                        "anyone may `{}` {rows_of} without a token ({route}){hidden}",
                        kind.name()
                    ),
                )
            } else {
                Raw::new(
                    Rule::PublicPiiRead,
                    at.item_span(&public, kind.name()),
                    format!(
                        "anyone may `{}` {rows_of} without a token, with PII {} ({route}){hidden}",
                        kind.name(),
                        list(&read_pii)
                    ),
                )
            };
            out.push(raw.on(name, Some(kind)));
        }
        if owned && matches!(kind, OperationKind::Delete | OperationKind::Update) {
            for (grantee, rows) in op.grants.rows() {
                let model::Grantee::Role(role) = grantee else {
                    continue;
                };
                debug_assert_eq!(rows, Rows::All);
                let rule = if kind == OperationKind::Delete {
                    Rule::RoleDeletesAcrossOwners
                } else {
                    Rule::RoleUpdatesAcrossOwners
                };
                out.push(
                    Raw::new(
                        rule,
                        at.item_span(&["resources", name, "access", "roles", &role], kind.name()),
                        format!("role `{role}` may `{}` {rows_of} ({route})", kind.name()),
                    )
                    .on(name, Some(kind))
                    .about(&role),
                );
            }
        }
        if kind == OperationKind::Create && !op.rate.overridden {
            out.push(
                Raw::new(
                    Rule::CreateWithoutThrottle,
                    at.key_span(&["resources", name, "throttle"]),
                    format!(
                        "`create` on `{name}` has no rate of its own: it shares the default {} per user",
                        op.rate.user
                    ),
                )
                .on(name, Some(kind)),
            );
        }
        if op.rate.overridden {
            let mut loose = Vec::new();
            if looser(op.rate.user, SENSIBLE_USER_RATE) {
                loose.push(format!(
                    "{} per user (looser than {SENSIBLE_USER_RATE})",
                    op.rate.user
                ));
            }
            if op.grants.public && looser(op.rate.anon, SENSIBLE_ANON_RATE) {
                loose.push(format!(
                    "{} per IP for anonymous callers (looser than {SENSIBLE_ANON_RATE})",
                    op.rate.anon
                ));
            }
            if !loose.is_empty() {
                out.push(
                    Raw::new(
                        Rule::LooseRate,
                        at.key_span(&["resources", name, "throttle", kind.name()]),
                        format!(
                            "`{}` on `{name}` allows {}",
                            kind.name(),
                            loose.join(" and ")
                        ),
                    )
                    .on(name, Some(kind)),
                );
            }
        }
    }
    if let Some(column) = resource.scope.owner_column() {
        if resource.owner_readers().public && resource.operations.iter().any(|o| o.grants.public) {
            out.push(
                Raw::new(
                    Rule::OwnerColumnPublic,
                    at.key_span(&["resources", name, "owner", "read"]),
                    format!(
                        "anyone reads the owner column `{column}` of every `{name}` row it may read"
                    ),
                )
                .on(name, None),
            );
        }
    }
    if let Some(update) = resource.operation(OperationKind::Update) {
        let reply = update.replies_with_row.clone().unwrap_or(model::Grants {
            owner: false,
            roles: Vec::new(),
            public: false,
        });
        let mut blind: Vec<String> = Vec::new();
        if update.grants.owner && !reply.owner {
            blind.push("the owner".into());
        }
        blind.extend(
            update
                .grants
                .roles
                .iter()
                .filter(|r| !reply.roles.contains(r))
                .map(|r| format!("role `{r}`")),
        );
        if !blind.is_empty() {
            out.push(
                Raw::new(
                    Rule::UpdateWithoutRead,
                    at.key_span(&["resources", name, "access"]),
                    format!(
                        "{} may `update` `{name}` rows without `get`: the update answers 204 without the row",
                        blind.join(", ")
                    ),
                )
                .on(name, Some(OperationKind::Update)),
            );
        }
    }
    for c in resource.fields() {
        let (Some(link), model::ColumnType::Ref { resource: target }) = (&c.link, &c.ty) else {
            continue;
        };
        if link.targets == model::LinkTargets::Nothing {
            out.push(
                Raw::new(
                    Rule::UnlinkableRef,
                    at.key_span(&["resources", name, "fields", &c.name, "resource"]),
                    format!(
                        "`{}` of `{name}` can name no `{target}` row: the owner of a new `{name}` row may access none",
                        c.name
                    ),
                )
                .on(name, None)
                .about(&c.name),
            );
        }
    }
    if owned {
        for c in resource
            .fields()
            .filter(|c| c.unique == Some(spec::Unique::Global))
        {
            out.push(
                Raw::new(
                    Rule::UniqueAcrossOwners,
                    at.key_span(&["resources", name, "fields", &c.name, "unique"]),
                    format!(
                        "`{}` of `{name}` is unique across owners: a duplicate answers 409 for a value another owner holds",
                        c.name
                    ),
                )
                .on(name, None)
                .about(&c.name),
            );
        }
    }
    if owned {
        if let Some(update) = resource.operation(OperationKind::Update) {
            let route = format!("{} {}", update.method.as_str(), update.path);
            for c in resource.fields() {
                // Roles reach every row: a role that may set the field
                // sets it on every owner's rows.
                let roles: Vec<String> = column_users(resource, &c.name, true)
                    .into_iter()
                    .filter(|(_, ops)| ops.contains(&OperationKind::Update))
                    .filter_map(|(g, _)| match g {
                        Grantee::Role(r) => Some(r),
                        _ => None,
                    })
                    .collect();
                let who = match roles.as_slice() {
                    [] => continue,
                    [one] => format!("role `{one}`"),
                    several => format!("roles {}", list(several)),
                };
                let field = ["resources", name, "fields", c.name.as_str()];
                let rule = ["resources", name, "fields", c.name.as_str(), "write"];
                let span = at.find(&rule).unwrap_or_else(|| at.key_span(&field));
                out.push(
                    Raw::new(
                        Rule::RoleWritesFieldAcrossOwners,
                        span,
                        format!(
                            "{who} may set {}`{}` on {rows_of} ({route})",
                            if c.pii { "PII " } else { "" },
                            c.name
                        ),
                    )
                    .on(name, Some(OperationKind::Update))
                    .about(&c.name),
                );
            }
        }
    }
    if !pii.is_empty() {
        // Roles in the order they first appear, with the reads in which
        // their view shows PII (an update reads where it answers with the
        // row; a create answers only with the caller's own new row).
        let mut roles: Vec<(String, Vec<String>, Vec<&'static str>)> = Vec::new();
        for op in resource
            .operations
            .iter()
            .filter(|o| o.kind != OperationKind::Create)
        {
            for view in &op.views {
                let Grantee::Role(role) = &view.grantee else {
                    continue;
                };
                let read: Vec<&String> = pii.iter().filter(|p| view.reads.contains(p)).collect();
                if read.is_empty() {
                    continue;
                }
                let at = match roles.iter().position(|(r, _, _)| r == role) {
                    Some(i) => i,
                    None => {
                        roles.push((role.clone(), Vec::new(), Vec::new()));
                        roles.len() - 1
                    }
                };
                let (_, fields, ops) = &mut roles[at];
                ops.push(op.kind.name());
                for p in read {
                    if !fields.contains(p) {
                        fields.push(p.clone());
                    }
                }
            }
        }
        for (role, mut fields, ops) in roles {
            fields.sort_by_key(|f| pii.iter().position(|p| p == f));
            out.push(
                Raw::new(
                    Rule::PiiExposedToRole,
                    at.key_span(&["resources", name, "access", "roles", &role]),
                    format!(
                        "role `{role}` reads PII {} of {rows_of} ({})",
                        list(&fields),
                        ops.join(", ")
                    ),
                )
                .on(name, None)
                .about(&role),
            );
        }
    }
}

/// Every finding of a compiled spec, silenced where an `allow` accepts it,
/// plus the findings about the `allow` blocks themselves; sorted by
/// position in the file.
pub fn findings(service: &model::Service, spec: &spec::Spec, at: &Locator<'_>) -> Vec<Finding> {
    let mut sites: Vec<AllowSite<'_>> = Vec::new();
    if let Some(allow) = &spec.audit {
        sites.push(AllowSite {
            resource: None,
            allow,
            used: vec![false; allow.allow.len()],
        });
    }
    for (name, resource) in &spec.resources {
        if let Some(allow) = &resource.audit {
            sites.push(AllowSite {
                resource: Some(name),
                allow,
                used: vec![false; allow.allow.len()],
            });
        }
    }

    let mut out = Vec::new();
    for raw in evaluate(service, at) {
        let code = raw.rule.code();
        // The most specific `allow` wins: the resource's, then the spec's.
        let mut silenced = None;
        let order = sites
            .iter()
            .enumerate()
            .filter(|(_, s)| s.resource.is_some() && s.resource == raw.resource.as_deref())
            .chain(
                sites
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.resource.is_none()),
            )
            .map(|(i, _)| i)
            .collect::<Vec<_>>();
        for i in order {
            let site = &mut sites[i];
            if let Some(entry) = site.allow.allow.iter().position(|c| c == code) {
                site.used[entry] = true;
                silenced = Some(Silence {
                    scope: site.scope(),
                    reason: if site.allow.reason.trim().is_empty() {
                        "(no reason given)".to_string()
                    } else {
                        site.allow.reason.clone()
                    },
                    location: at.item(
                        &site
                            .path()
                            .iter()
                            .copied()
                            .chain(["allow"])
                            .collect::<Vec<_>>(),
                        code,
                    ),
                });
                break;
            }
        }
        out.push(finish(raw, at, silenced));
    }

    for site in &sites {
        let mut allow_path = site.path();
        allow_path.push("allow");
        for (entry, code) in site.allow.allow.iter().enumerate() {
            let span = at.item_span(&allow_path, code);
            let raw = match Rule::from_code(code) {
                None => {
                    let hint = crate::suggest::did_you_mean(
                        code,
                        Rule::ALL.iter().filter(|r| !r.is_meta()).map(|r| r.code()),
                    )
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                    Raw::new(
                        Rule::UnknownAuditCode,
                        span,
                        format!("`{code}` is not a finding code, so it silences nothing{hint}"),
                    )
                }
                Some(rule) if rule.is_meta() => Raw::new(
                    Rule::UnknownAuditCode,
                    span,
                    format!("`{code}` reports on `allow` itself and cannot be silenced"),
                ),
                Some(rule) if !site.used[entry] => {
                    let hint = if site.resource.is_some() && rule.is_service_wide() {
                        "; it concerns the whole service, so only the top-level `audit` can allow it"
                    } else {
                        ""
                    };
                    Raw::new(
                        Rule::UnusedAllow,
                        span,
                        format!(
                            "`{code}` is allowed for the {} but no such finding occurs there{hint}",
                            site.scope()
                        ),
                    )
                }
                Some(_) => continue,
            };
            let raw = match site.resource {
                Some(r) => raw.on(r, None),
                None => raw,
            };
            out.push(finish(raw.about(code), at, None));
        }
        if site.allow.reason.trim().is_empty() {
            let mut reason_path = site.path();
            reason_path.push("reason");
            let raw = Raw::new(
                Rule::EmptyAllowReason,
                at.key_span(&reason_path),
                format!("the `allow` of the {} gives no reason", site.scope()),
            );
            let raw = match site.resource {
                Some(r) => raw.on(r, None),
                None => raw,
            };
            out.push(finish(raw, at, None));
        }
    }
    out.sort_by(|a, b| {
        (a.location.line, a.location.column, a.code, &a.fingerprint).cmp(&(
            b.location.line,
            b.location.column,
            b.code,
            &b.fingerprint,
        ))
    });
    out
}

fn finish(raw: Raw, at: &Locator<'_>, silenced: Option<Silence>) -> Finding {
    let mut fingerprint = raw.rule.code().to_string();
    for part in &raw.subject {
        fingerprint.push(':');
        fingerprint.push_str(part);
    }
    Finding {
        code: raw.rule.code(),
        severity: raw.rule.level(),
        title: raw.rule.title(),
        message: raw.message,
        why: raw.rule.why(),
        fix: raw.rule.fix(),
        resource: raw.resource,
        operation: raw.operation.map(OperationKind::name),
        location: at.location(raw.span),
        fingerprint,
        silenced,
        rule: raw.rule,
    }
}
