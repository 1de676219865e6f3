//! `palisade audit`: the access matrix and the findings of one spec, in
//! every format.
//!
//! Stage: review. Input: a compiled spec and its positioned tree. Output:
//! an [`AuditReport`] (serialisable: it is the JSON format and the context
//! of the HTML template) and its renderings as a terminal report, Markdown
//! and HTML; SARIF lives in [`super::sarif`]. Invariant: the report is built
//! from the model alone (plus positions), and its output is deterministic:
//! spec order, no clock, no environment.

use std::fmt::Write as _;

use serde::Serialize;

use crate::model;
use crate::yaml::Node;

use super::findings::{Finding, Level, findings};
use super::locate::Locator;
use super::matrix::{FieldAccess, FieldWho, OperationAccess, ResourceAccess, matrix};

/// Everything `palisade audit` reports about one spec.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub tool: &'static str,
    pub version: &'static str,
    pub file: String,
    /// The SHA-256 of the spec's bytes, so a report names the exact spec
    /// it was made from.
    pub spec_sha256: String,
    pub service: ServiceSummary,
    pub matrix: Vec<ResourceAccess>,
    /// Every finding in file order; silenced ones carry `silenced`.
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

/// The service-wide settings a reviewer needs next to the matrix.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceSummary {
    pub name: String,
    pub description: Option<String>,
    pub auth: AuthSummary,
    pub roles: Vec<String>,
    pub cors: Option<CorsSummary>,
    pub throttle: ThrottleSummary,
    pub limits: LimitsSummary,
    pub database: DatabaseSummary,
}

/// The engines a service is served from, and whether row-level security
/// is on as a second lock (PostgreSQL).
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseSummary {
    /// `sqlite`, `postgres`.
    pub engines: Vec<&'static str>,
    /// The owned tables whose rows PostgreSQL itself keeps to the caller
    /// (row-level security, enabled and forced); empty when the service is
    /// not served from PostgreSQL.
    pub row_security: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuthSummary {
    /// The accepted algorithms, e.g. `HS256` or `RS256, ES256`.
    pub algorithm: String,
    /// `shared secret in JWT_SECRET`, `public key in JWT_PUBLIC_KEY`,
    /// `JWKS at https://...`, ...
    pub key: String,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway_seconds: u32,
    pub user_claim: String,
    pub roles_claim: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CorsSummary {
    pub origins: Vec<String>,
    pub credentials: bool,
    pub max_age_seconds: Option<u32>,
    pub methods: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThrottleSummary {
    pub anon: String,
    pub user: String,
    pub trust_proxy_hops: u8,
    /// Set when every replica shares the buckets in Redis; absent, each
    /// replica counts on its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<SharedSummary>,
}

/// The limiter shared in Redis.
#[derive(Debug, Clone, Serialize)]
pub struct SharedSummary {
    pub store: &'static str,
    /// The variable holding the URL.
    pub url_env: String,
    /// `local`, `open` or `closed`.
    pub on_error: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct LimitsSummary {
    pub max_body: String,
    pub max_body_bytes: u64,
    pub default_page_size: u32,
    pub max_page_size: u32,
    pub request_timeout_seconds: u32,
}

/// Counts of the findings that are not silenced, by level.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub resources: usize,
    pub operations: usize,
    pub open: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
    pub silenced: usize,
}

impl AuditReport {
    /// Whether a finding at or above `level` is not silenced.
    pub fn fails(&self, level: Level) -> bool {
        self.open().any(|f| f.severity >= level)
    }

    /// The findings no `allow` accepted.
    pub fn open(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.silenced.is_none())
    }

    pub fn silenced(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.silenced.is_some())
    }
}

/// `64KiB`, `1MiB` or a number of bytes.
pub fn size_text(bytes: u64) -> String {
    if bytes > 0 && bytes % (1024 * 1024) == 0 {
        format!("{}MiB", bytes / (1024 * 1024))
    } else if bytes > 0 && bytes % 1024 == 0 {
        format!("{}KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

fn service_summary(service: &model::Service) -> ServiceSummary {
    let auth = &service.auth;
    ServiceSummary {
        name: service.name.clone(),
        description: service.description.clone(),
        auth: AuthSummary {
            algorithm: auth.algorithm_names(),
            key: auth.key.describe(),
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
            leeway_seconds: auth.leeway_seconds,
            user_claim: auth.user_claim.clone(),
            roles_claim: auth.roles_claim.clone(),
        },
        roles: service.roles.clone(),
        cors: service.cors.as_ref().map(|c| CorsSummary {
            origins: c.origins.iter().map(ToString::to_string).collect(),
            credentials: c.credentials,
            max_age_seconds: c.max_age_seconds,
            methods: c.methods.iter().map(|m| m.as_str()).collect(),
        }),
        throttle: ThrottleSummary {
            anon: service.throttle.anon.to_string(),
            user: service.throttle.user.to_string(),
            trust_proxy_hops: service.throttle.trust_proxy_hops,
            shared: service.throttle.redis.as_ref().map(|r| SharedSummary {
                store: "redis",
                url_env: r.url_env.clone(),
                on_error: r.on_error.name(),
            }),
        },
        database: DatabaseSummary {
            engines: [model::Engine::Sqlite, model::Engine::Postgres]
                .into_iter()
                .filter(|e| service.engines.serves(*e))
                .map(|e| match e {
                    model::Engine::Sqlite => "sqlite",
                    model::Engine::Postgres => "postgres",
                })
                .collect(),
            row_security: if service.engines.serves(model::Engine::Postgres) {
                service
                    .row_security()
                    .into_iter()
                    .map(|t| t.table)
                    .collect()
            } else {
                Vec::new()
            },
        },
        limits: LimitsSummary {
            max_body: size_text(service.limits.max_body_bytes),
            max_body_bytes: service.limits.max_body_bytes,
            default_page_size: service.limits.default_page_size,
            max_page_size: service.limits.max_page_size,
            request_timeout_seconds: service.limits.request_timeout_seconds,
        },
    }
}

/// Audits a compiled spec; `root` is its positioned tree (for locations).
pub fn audit(compiled: &crate::Compiled, root: &Node) -> AuditReport {
    let at = Locator::new(&compiled.source, root);
    let findings = findings(&compiled.model, &compiled.spec, &at);
    let open = |level: Level| {
        findings
            .iter()
            .filter(|f| f.silenced.is_none() && f.severity == level)
            .count()
    };
    let summary = Summary {
        resources: compiled.model.resources.len(),
        operations: compiled
            .model
            .resources
            .iter()
            .map(|r| r.operations.len())
            .sum(),
        open: findings.iter().filter(|f| f.silenced.is_none()).count(),
        high: open(Level::High),
        medium: open(Level::Medium),
        low: open(Level::Low),
        info: open(Level::Info),
        silenced: findings.iter().filter(|f| f.silenced.is_some()).count(),
    };
    AuditReport {
        tool: "palisade",
        version: env!("CARGO_PKG_VERSION"),
        file: compiled.source.name().to_string(),
        spec_sha256: crate::write::sha256(compiled.source.text().as_bytes()),
        service: service_summary(&compiled.model),
        matrix: matrix(&compiled.model),
        findings,
        summary,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn summary_line(report: &AuditReport) -> String {
    let s = &report.summary;
    format!(
        "{}, {}, {} ({} high, {} medium, {} low, {} info), {} silenced",
        plural(s.resources, "resource", "resources"),
        plural(s.operations, "operation", "operations"),
        plural(s.open, "finding", "findings"),
        s.high,
        s.medium,
        s.low,
        s.info,
        s.silenced
    )
}

/// Lines of the service-wide settings: (label, text).
fn service_lines(s: &ServiceSummary) -> Vec<(&'static str, String)> {
    let a = &s.auth;
    let mut auth = format!("{}, {}", a.algorithm, a.key);
    auth.push_str(&match &a.issuer {
        Some(i) => format!("; issuer {i}"),
        None => "; any issuer".to_string(),
    });
    auth.push_str(&match &a.audience {
        Some(i) => format!("; audience {i}"),
        None => "; any audience".to_string(),
    });
    auth.push_str(&format!(
        "; leeway {} s; user claim `{}`",
        a.leeway_seconds, a.user_claim
    ));
    let roles = if s.roles.is_empty() {
        "none".to_string()
    } else {
        format!(
            "{} (claim {})",
            s.roles.join(", "),
            a.roles_claim
                .as_deref()
                .map_or("none: nobody holds a role".to_string(), |c| format!(
                    "`{c}`"
                ))
        )
    };
    let cors = match &s.cors {
        None => "none (same-origin only)".to_string(),
        Some(c) => format!(
            "{}; {}; methods {}{}",
            c.origins.join(", "),
            if c.credentials {
                "with credentials"
            } else {
                "without credentials"
            },
            c.methods.join(", "),
            c.max_age_seconds
                .map(|m| format!("; preflight cached {m} s"))
                .unwrap_or_default()
        ),
    };
    let t = &s.throttle;
    let mut throttle = format!(
        "{} per IP (anonymous and failed authentication), {} per user; {}",
        t.anon,
        t.user,
        if t.trust_proxy_hops == 0 {
            "X-Forwarded-For ignored".to_string()
        } else {
            format!(
                "X-Forwarded-For trusted behind {} prox{}",
                t.trust_proxy_hops,
                if t.trust_proxy_hops == 1 { "y" } else { "ies" }
            )
        }
    );
    if let Some(shared) = &t.shared {
        let down = match shared.on_error {
            "local" => "counted per replica",
            "open" => "not limited",
            _ => "refused with 503",
        };
        throttle.push_str(&format!(
            "; shared by every replica in Redis ({}; while it is down, requests are {down})",
            shared.url_env
        ));
    }
    let l = &s.limits;
    let limits = format!(
        "body {}, pages of {} (at most {}), timeout {} s",
        l.max_body, l.default_page_size, l.max_page_size, l.request_timeout_seconds
    );
    let d = &s.database;
    let engines = d
        .engines
        .iter()
        .map(|e| {
            if *e == "sqlite" {
                "SQLite"
            } else {
                "PostgreSQL"
            }
        })
        .collect::<Vec<_>>()
        .join(" or ");
    let database = if !d.engines.contains(&"postgres") {
        format!(
            "{engines}; no row-level security: the owner condition of every statement is the one lock"
        )
    } else if d.row_security.is_empty() {
        format!("{engines}; no table is owned, so no row-level security is needed")
    } else {
        format!(
            "{engines}; on PostgreSQL, row-level security is a second lock on every owned table ({}): the database itself keeps each caller to its rows",
            d.row_security.join(", ")
        )
    };
    vec![
        ("auth", auth),
        ("roles", roles),
        ("cors", cors),
        ("throttle", throttle),
        ("limits", limits),
        ("database", database),
    ]
}

/// The PII an operation answers with, each field followed by the callers
/// that read it when not all of them do: `contact_email (owner, admin)`.
fn pii_cells(op: &OperationAccess) -> Vec<String> {
    op.pii_readers
        .iter()
        .map(|p| {
            if p.everyone {
                p.field.clone()
            } else {
                format!("{} ({})", p.field, p.who.join(", "))
            }
        })
        .collect()
}

/// Who reads a column: `owner, agent, admin`, or `nobody`.
fn readers_text(f: &FieldAccess) -> String {
    if f.read.is_empty() {
        return "nobody".to_string();
    }
    f.read
        .iter()
        .map(|w| w.label.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who writes a column, with the operations: `owner (create, update),
/// admin (update)`, or `nobody`.
fn writers_text(f: &FieldAccess) -> String {
    if f.write.is_empty() {
        return "nobody".to_string();
    }
    f.write
        .iter()
        .map(|w: &FieldWho| format!("{} ({})", w.label, w.operations.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The name of a column in the field view: the owner column says so.
fn field_name(f: &FieldAccess) -> String {
    if f.origin == "owner" {
        format!("{} (owner column)", f.field)
    } else {
        f.field.clone()
    }
}

fn who_text(op: &OperationAccess) -> String {
    if op.granted {
        op.who
            .iter()
            .map(|w| w.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        "nobody (no route)".to_string()
    }
}

fn dash_join(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_string()
    } else {
        items.join(", ")
    }
}

/// A table with columns padded to their widest cell, two spaces apart.
pub(super) fn table(indent: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::from(indent);
        for (i, cell) in cells.iter().enumerate() {
            text.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                text.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// Terminal styles, empty without colour.
pub(super) struct Style {
    color: bool,
}

impl Style {
    pub(super) fn new(color: bool) -> Style {
        Style { color }
    }

    pub(super) fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    }

    pub(super) fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    fn level(&self, level: Level) -> String {
        let code = match level {
            Level::High => "1;31",
            Level::Medium => "33",
            Level::Low => "36",
            Level::Info => "2",
        };
        self.paint(code, level.name())
    }
}

/// The terminal report: service settings, resources, the matrix, findings.
pub fn render_text(report: &AuditReport, color: bool) -> String {
    let style = Style::new(color);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}): {}",
        style.bold(&report.service.name),
        report.file,
        summary_line(report)
    );
    let _ = writeln!(out, "\n{}", style.bold("service"));
    let lines = service_lines(&report.service);
    let rows: Vec<Vec<String>> = lines
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v])
        .collect();
    out.push_str(&table_body("  ", &rows));

    let _ = writeln!(out, "\n{}", style.bold("resources"));
    let rows: Vec<Vec<String>> = report
        .matrix
        .iter()
        .map(|r| {
            vec![
                r.resource.clone(),
                format!("/{}", r.plural),
                r.scope.clone(),
                format!("pii: {}", dash_join(&r.pii)),
            ]
        })
        .collect();
    out.push_str(&table_body("  ", &rows));

    let _ = writeln!(out, "\n{}", style.bold("access matrix"));
    let mut rows = Vec::new();
    for r in &report.matrix {
        for op in &r.operations {
            rows.push(vec![
                r.resource.clone(),
                op.operation.to_string(),
                op.route.clone().unwrap_or_else(|| "-".into()),
                who_text(op),
                op.rate.as_ref().map_or("-".into(), |r| r.text.clone()),
                dash_join(&pii_cells(op)),
            ]);
        }
    }
    out.push_str(&table(
        "  ",
        &[
            "RESOURCE",
            "OPERATION",
            "ROUTE",
            "WHO (ROWS)",
            "RATE",
            "PII RETURNED",
        ],
        &rows,
    ));

    let _ = writeln!(out, "\n{}", style.bold("field access"));
    let mut rows = Vec::new();
    for r in &report.matrix {
        for f in &r.fields {
            rows.push(vec![
                r.resource.clone(),
                field_name(f),
                if f.pii { "pii" } else { "-" }.to_string(),
                readers_text(f),
                writers_text(f),
            ]);
        }
    }
    if rows.is_empty() {
        out.push_str("  no fields\n");
    } else {
        out.push_str(&table(
            "  ",
            &["RESOURCE", "FIELD", "PII", "READ BY", "WRITTEN BY"],
            &rows,
        ));
    }

    let _ = writeln!(out, "\n{}", style.bold("findings"));
    if report.summary.open == 0 {
        out.push_str("  none\n");
    }
    for f in report.open() {
        let _ = writeln!(
            out,
            "  {}: {}[{}] {}",
            f.location,
            style.level(f.severity),
            f.code,
            f.message
        );
        let _ = writeln!(out, "      why: {}", f.why);
        let _ = writeln!(out, "      fix: {}", f.fix);
    }
    if report.summary.silenced > 0 {
        let _ = writeln!(out, "\n{}", style.bold("silenced"));
        for f in report.silenced() {
            let _ = writeln!(
                out,
                "  {}: {}[{}] {}",
                f.location,
                style.level(f.severity),
                f.code,
                f.message
            );
            if let Some(s) = &f.silenced {
                let _ = writeln!(
                    out,
                    "      allowed by the {} ({}): {}",
                    s.scope, s.location, s.reason
                );
            }
        }
    }
    out
}

/// A table without a header line.
fn table_body(indent: &str, rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let header = vec![""; columns];
    let text = table(indent, &header, rows);
    text.split_once('\n')
        .map_or(String::new(), |(_, rest)| rest.to_string())
}

/// Escapes a Markdown table cell.
pub(super) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Markdown for a design review or a pull request.
pub fn render_markdown(report: &AuditReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Palisade audit: `{}`\n", report.service.name);
    let _ = writeln!(out, "`{}`: {}\n", report.file, summary_line(report));
    let _ = writeln!(out, "### Service\n");
    let _ = writeln!(out, "| Setting | Value |\n|---|---|");
    for (k, v) in service_lines(&report.service) {
        let _ = writeln!(out, "| {k} | {} |", cell(&v));
    }
    let _ = writeln!(out, "\n### Access matrix\n");
    let _ = writeln!(
        out,
        "| Resource | Operation | Route | Who (rows) | Rate | PII returned |\n|---|---|---|---|---|---|"
    );
    for r in &report.matrix {
        for op in &r.operations {
            let route = op
                .route
                .as_ref()
                .map_or("—".to_string(), |r| format!("`{r}`"));
            let who = if op.granted {
                cell(&who_text(op))
            } else {
                "*nobody (no route)*".to_string()
            };
            let rate = op.rate.as_ref().map_or("—".into(), |r| cell(&r.text));
            let pii = if op.pii_readers.is_empty() {
                "—".to_string()
            } else {
                op.pii_readers
                    .iter()
                    .map(|p| {
                        if p.everyone {
                            format!("`{}`", p.field)
                        } else {
                            format!("`{}` ({})", p.field, p.who.join(", "))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {route} | {who} | {rate} | {pii} |",
                r.resource, op.operation
            );
        }
    }
    let _ = writeln!(out, "\n### Field access\n");
    if report.matrix.iter().all(|r| r.fields.is_empty()) {
        let _ = writeln!(out, "No fields.");
    } else {
        let _ = writeln!(
            out,
            "| Resource | Field | PII | Read by | Written by |\n|---|---|---|---|---|"
        );
        for r in &report.matrix {
            for f in &r.fields {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} |",
                    r.resource,
                    if f.origin == "owner" {
                        format!("`{}` (owner column)", f.field)
                    } else {
                        format!("`{}`", f.field)
                    },
                    if f.pii { "**PII**" } else { "—" },
                    cell(&readers_text(f)),
                    cell(&writers_text(f))
                );
            }
        }
    }
    let _ = writeln!(out, "\n### Findings\n");
    if report.summary.open == 0 {
        let _ = writeln!(out, "None.");
    } else {
        let _ = writeln!(
            out,
            "| Severity | Code | Where | Finding | Fix |\n|---|---|---|---|---|"
        );
        for f in report.open() {
            let _ = writeln!(
                out,
                "| **{}** | `{}` | `{}` | {} | {} |",
                f.severity.name(),
                f.code,
                f.location,
                cell(&f.message),
                cell(f.fix)
            );
        }
        let _ = writeln!(out, "\n<details><summary>Why these matter</summary>\n");
        let mut seen = Vec::new();
        for f in report.open() {
            if !seen.contains(&f.code) {
                seen.push(f.code);
                let _ = writeln!(out, "- `{}` ({}): {}", f.code, f.title, f.why);
            }
        }
        let _ = writeln!(out, "\n</details>");
    }
    if report.summary.silenced > 0 {
        let _ = writeln!(out, "\n### Silenced\n");
        let _ = writeln!(
            out,
            "| Severity | Code | Where | Finding | Allowed by | Reason |\n|---|---|---|---|---|---|"
        );
        for f in report.silenced() {
            if let Some(s) = &f.silenced {
                let _ = writeln!(
                    out,
                    "| {} | `{}` | `{}` | {} | {} (`{}`) | {} |",
                    f.severity.name(),
                    f.code,
                    f.location,
                    cell(&f.message),
                    s.scope,
                    s.location,
                    cell(&s.reason)
                );
            }
        }
    }
    out
}

/// The report as one JSON document.
pub fn render_json(report: &AuditReport) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("the report serialises");
    text.push('\n');
    text
}

const HTML_TEMPLATE: &str = include_str!("../../templates/review/audit.html.j2");

/// A self-contained HTML page (inline style, no script, no external
/// resource), for an architect's browser.
pub fn render_html(report: &AuditReport) -> String {
    let mut env = minijinja::Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("a valid syntax configuration"),
    );
    env.add_filter("ticks", ticks);
    env.add_template("audit.html", HTML_TEMPLATE)
        .expect("the audit template parses");
    let levels: Vec<&str> = Level::ALL.iter().map(|l| l.name()).collect();
    let service_lines: Vec<(&str, String)> = service_lines(&report.service);
    // A reader looks for the worst first: by severity, then where in the
    // spec (the sort is stable, so ties keep file order).
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by_key(|f| {
        (
            std::cmp::Reverse(f.severity),
            f.location.line,
            f.location.column,
        )
    });
    env.get_template("audit.html")
        .and_then(|t| {
            t.render(minijinja::context! {
                report => minijinja::Value::from(minijinja::value::Serde(report)),
                levels => levels,
                service_lines => service_lines,
                findings => minijinja::Value::from(minijinja::value::Serde(&findings)),
            })
        })
        .expect("the audit template renders")
}

/// The `ticks` filter: escapes text for HTML and shows `quoted` words as
/// code, as the terminal and Markdown renderings do.
fn ticks(text: &str) -> minijinja::Value {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            c => escaped.push(c),
        }
    }
    if escaped.matches('`').count() % 2 != 0 {
        return minijinja::Value::from_safe_string(escaped);
    }
    let mut out = String::with_capacity(escaped.len() + 16);
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(part);
            out.push_str("</code>");
        } else {
            out.push_str(part);
        }
    }
    minijinja::Value::from_safe_string(out)
}
