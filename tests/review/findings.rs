//! Each finding code: a spec that triggers it, located at the key that
//! causes it, and a close spec that does not; silencing with `allow`.

use palisade::review::findings::{Finding, Level, Rule};

use super::{audit, load};

const AUTH: &str = "  jwt: { algorithm: ES256, public_key_env: K, issuer: https://id.example.com, audience: api }\n  roles_claim: roles\n";
const NOTE: &str = "    owner: owner_id\n    fields:\n      text: { type: string, max_length: 100 }\n    access:\n      roles: { admin: [get] }\n    throttle: { create: 10/minute }\n";

/// A spec with `auth` lines, top-level lines and the body of resource `note`.
fn spec(auth: &str, top: &str, note: &str) -> String {
    format!(
        "palisade: 1\nservice: {{ name: t }}\nauth:\n{auth}roles: [admin]\n{top}resources:\n  note:\n{note}"
    )
}

fn findings_of(text: &str) -> Vec<Finding> {
    audit(&load("t.yaml", text)).findings
}

/// The word (letters, digits, `_`, `-`) at a 1-based line and column.
fn token_at(text: &str, line: usize, column: usize) -> String {
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    line_text
        .chars()
        .skip(column - 1)
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

struct Case {
    code: &'static str,
    trigger: String,
    /// The word at the finding's location.
    at: &'static str,
    clean: String,
}

fn case(code: &'static str, trigger: String, at: &'static str, clean: String) -> Case {
    Case {
        code,
        trigger,
        at,
        clean,
    }
}

fn note_with(extra: &str) -> String {
    format!("    owner: owner_id\n    fields:\n      text: {{ type: string }}\n{extra}")
}

fn cases() -> Vec<Case> {
    let base = || spec(AUTH, "", NOTE);
    let pii_fields = "    owner: owner_id\n    fields:\n      text: { type: string }\n      email: { type: email, pii: true }\n    throttle: { create: 10/minute }\n";
    vec![
        case(
            "public-operation",
            spec(
                AUTH,
                "",
                &note_with(
                    "    access:\n      roles: { admin: [get] }\n      public: [list]\n    throttle: { create: 10/minute }\n",
                ),
            ),
            "list",
            base(),
        ),
        case(
            "public-pii-read",
            spec(
                AUTH,
                "",
                &format!(
                    "{pii_fields}    access:\n      roles: {{ admin: [create] }}\n      public: [get]\n"
                ),
            ),
            "get",
            spec(
                AUTH,
                "",
                &format!("{pii_fields}    access:\n      roles: {{ admin: [create] }}\n"),
            ),
        ),
        case(
            "role-deletes-across-owners",
            spec(
                AUTH,
                "",
                &note_with(
                    "    access:\n      roles: { admin: [get, delete] }\n    throttle: { create: 10/minute }\n",
                ),
            ),
            "delete",
            // On a resource without owner a role's delete crosses no owner.
            spec(
                AUTH,
                "",
                "    owner: none\n    fields:\n      text: { type: string }\n    access:\n      roles: { admin: [get, delete] }\n",
            ),
        ),
        case(
            "role-updates-across-owners",
            spec(
                AUTH,
                "",
                &note_with(
                    "    access:\n      roles: { admin: [update] }\n    throttle: { create: 10/minute }\n",
                ),
            ),
            "update",
            spec(
                AUTH,
                "",
                "    owner: none\n    fields:\n      text: { type: string }\n    access:\n      roles: { admin: [update] }\n",
            ),
        ),
        // A field a role may set on every owner's rows: located at the
        // field's `write` rule; clean when the rule keeps it the owner's.
        case(
            "role-writes-field-across-owners",
            spec(
                AUTH,
                "",
                "    owner: owner_id\n    fields:\n      text: { type: string, write: [owner, admin] }\n    access:\n      roles: { admin: [get, update] }\n    throttle: { create: 10/minute }\n",
            ),
            "write",
            spec(
                AUTH,
                "",
                "    owner: owner_id\n    fields:\n      text: { type: string, write: [owner] }\n    access:\n      roles: { admin: [get, update] }\n    throttle: { create: 10/minute }\n",
            ),
        ),
        case(
            "unowned-resource",
            spec(
                AUTH,
                "",
                "    owner: none\n    fields:\n      text: { type: string }\n    access:\n      roles: { admin: [get] }\n",
            ),
            "owner",
            base(),
        ),
        case(
            "missing-issuer",
            spec(
                "  jwt: { algorithm: ES256, public_key_env: K, audience: api }\n  roles_claim: roles\n",
                "",
                NOTE,
            ),
            "jwt",
            base(),
        ),
        case(
            "missing-audience",
            spec(
                "  jwt: { algorithm: ES256, public_key_env: K, issuer: https://id.example.com }\n  roles_claim: roles\n",
                "",
                NOTE,
            ),
            "jwt",
            base(),
        ),
        case(
            "shared-secret",
            spec(
                "  jwt: { algorithm: HS256, secret_env: S, issuer: https://id.example.com, audience: api }\n  roles_claim: roles\n",
                "",
                NOTE,
            ),
            "algorithm",
            base(),
        ),
        case(
            "jwks-over-http",
            spec(
                "  jwt: { algorithms: [ES256], jwks_url: \"http://127.0.0.1:8081/jwks\", issuer: https://id.example.com, audience: api }\n  roles_claim: roles\n",
                "",
                NOTE,
            ),
            "jwks_url",
            spec(
                "  jwt: { algorithms: [ES256], jwks_url: \"https://id.example.com/jwks\", issuer: https://id.example.com, audience: api }\n  roles_claim: roles\n",
                "",
                NOTE,
            ),
        ),
        case(
            "broad-algorithms",
            spec(
                "  jwt: { algorithms: [RS256, PS256, ES256], jwks_url_env: JWKS_URL, issuer: https://id.example.com, audience: api }\n  roles_claim: roles\n",
                "",
                NOTE,
            ),
            "algorithms",
            spec(
                "  jwt: { algorithms: [RS256], jwks_url_env: JWKS_URL, issuer: https://id.example.com, audience: api }\n  roles_claim: roles\n",
                "",
                NOTE,
            ),
        ),
        case(
            "cors-credentials",
            spec(
                AUTH,
                "cors: { origins: [https://app.example.com], credentials: true }\n",
                NOTE,
            ),
            "credentials",
            spec(
                AUTH,
                "cors: { origins: [https://app.example.com], credentials: false }\n",
                NOTE,
            ),
        ),
        case(
            "create-without-throttle",
            spec(
                AUTH,
                "",
                &note_with("    access:\n      roles: { admin: [get] }\n"),
            ),
            "note",
            // Nobody may create: no route, nothing to throttle.
            spec(
                AUTH,
                "",
                &note_with(
                    "    access:\n      owner: [list, get]\n      roles: { admin: [get] }\n",
                ),
            ),
        ),
        case(
            "loose-rate",
            spec(AUTH, "throttle: { anon: 2/second }\n", NOTE),
            "anon",
            spec(
                AUTH,
                "throttle: { anon: 60/minute, user: 3600/hour }\n",
                NOTE,
            ),
        ),
        case(
            "large-body-limit",
            spec(AUTH, "limits: { max_body: 2MiB }\n", NOTE),
            "max_body",
            spec(AUTH, "limits: { max_body: 1MiB }\n", NOTE),
        ),
        case(
            "large-page-limit",
            spec(AUTH, "limits: { max_page_size: 500 }\n", NOTE),
            "max_page_size",
            spec(AUTH, "limits: { max_page_size: 100 }\n", NOTE),
        ),
        case(
            "long-request-timeout",
            spec(AUTH, "limits: { request_timeout_seconds: 120 }\n", NOTE),
            "request_timeout_seconds",
            spec(AUTH, "limits: { request_timeout_seconds: 30 }\n", NOTE),
        ),
        case(
            "pii-exposed-to-role",
            spec(
                AUTH,
                "",
                &format!("{pii_fields}    access:\n      roles: {{ admin: [list] }}\n"),
            ),
            "admin",
            spec(
                AUTH,
                "",
                &format!("{pii_fields}    access:\n      roles: {{ admin: [create] }}\n"),
            ),
        ),
        case(
            "trusted-proxy-hops",
            spec(AUTH, "throttle: { trust_proxy_hops: 1 }\n", NOTE),
            "trust_proxy_hops",
            spec(AUTH, "throttle: { trust_proxy_hops: 0 }\n", NOTE),
        ),
        case(
            "limiter-fails-open",
            spec(AUTH, "throttle: { redis: { on_error: open } }\n", NOTE),
            "on_error",
            spec(AUTH, "throttle: { redis: { on_error: local } }\n", NOTE),
        ),
        case(
            "unknown-audit-code",
            spec(
                AUTH,
                "audit: { allow: [sharedsecret], reason: one verifier }\n",
                NOTE,
            ),
            "sharedsecret",
            spec(
                "  jwt: { algorithm: HS256, secret_env: S, issuer: https://id.example.com, audience: api }\n  roles_claim: roles\n",
                "audit: { allow: [shared-secret], reason: one verifier }\n",
                NOTE,
            ),
        ),
        case(
            "owner-column-public",
            spec(
                AUTH,
                "",
                "    owner: { field: owner_id, read: [public] }\n    fields:\n      text: { type: string }\n    access:\n      roles: { admin: [get] }\n      public: [get]\n    throttle: { create: 10/minute }\n",
            ),
            "read",
            spec(
                AUTH,
                "",
                "    owner: { field: owner_id, read: [owner, admin] }\n    fields:\n      text: { type: string }\n    access:\n      roles: { admin: [get] }\n      public: [get]\n    throttle: { create: 10/minute }\n",
            ),
        ),
        case(
            "update-without-read",
            spec(
                AUTH,
                "",
                &note_with(
                    "    access:\n      owner: [create, get]\n      roles: { admin: [update] }\n    throttle: { create: 10/minute }\n",
                ),
            ),
            "access",
            spec(
                AUTH,
                "",
                &note_with(
                    "    access:\n      owner: [create, get]\n      roles: { admin: [get, update] }\n    throttle: { create: 10/minute }\n",
                ),
            ),
        ),
        case(
            "unlinkable-ref",
            format!(
                "{}  doc:\n    owner: {{ field: org_id, claim: org }}\n    fields:\n      note: {{ type: ref, resource: note }}\n    throttle: {{ create: 10/minute }}\n",
                spec(AUTH, "", NOTE)
            ),
            "resource",
            format!(
                "{}  doc:\n    owner: owner_id\n    fields:\n      note: {{ type: ref, resource: note }}\n    throttle: {{ create: 10/minute }}\n",
                spec(AUTH, "", NOTE)
            ),
        ),
        case(
            "unique-across-owners",
            spec(
                AUTH,
                "",
                "    owner: owner_id\n    fields:\n      text: { type: string, unique: global }\n    access:\n      roles: { admin: [get] }\n    throttle: { create: 10/minute }\n",
            ),
            "unique",
            spec(
                AUTH,
                "",
                "    owner: owner_id\n    fields:\n      text: { type: string, unique: per_owner }\n    access:\n      roles: { admin: [get] }\n    throttle: { create: 10/minute }\n",
            ),
        ),
        case(
            "unused-allow",
            spec(
                AUTH,
                "audit: { allow: [shared-secret], reason: one verifier }\n",
                NOTE,
            ),
            "shared-secret",
            spec(
                "  jwt: { algorithm: HS256, secret_env: S, issuer: https://id.example.com, audience: api }\n  roles_claim: roles\n",
                "audit: { allow: [shared-secret], reason: one verifier }\n",
                NOTE,
            ),
        ),
        case(
            "empty-allow-reason",
            spec(
                "  jwt: { algorithm: HS256, secret_env: S, issuer: https://id.example.com, audience: api }\n  roles_claim: roles\n",
                "audit:\n  allow: [shared-secret]\n  reason: \" \"\n",
                NOTE,
            ),
            "reason",
            spec(
                "  jwt: { algorithm: HS256, secret_env: S, issuer: https://id.example.com, audience: api }\n  roles_claim: roles\n",
                "audit:\n  allow: [shared-secret]\n  reason: one verifier\n",
                NOTE,
            ),
        ),
    ]
}

#[test]
fn the_base_spec_has_no_finding() {
    let findings = findings_of(&spec(AUTH, "", NOTE));
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn codes_are_unique_kebab_case_and_documented() {
    let mut seen = std::collections::HashSet::new();
    for rule in Rule::ALL {
        let code = rule.code();
        assert!(seen.insert(code), "duplicate code {code}");
        assert!(
            code.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                && !code.starts_with('-')
                && !code.ends_with('-'),
            "{code} is not kebab-case"
        );
        assert_eq!(Rule::from_code(code), Some(*rule));
        for text in [rule.title(), rule.why(), rule.fix()] {
            assert!(!text.is_empty() && !text.ends_with('.'), "{code}: {text:?}");
        }
    }
}

#[test]
fn every_code_has_a_trigger_and_a_clean_case() {
    let cases = cases();
    for rule in Rule::ALL {
        assert!(
            cases.iter().any(|c| c.code == rule.code()),
            "no case for {}",
            rule.code()
        );
    }
}

#[test]
fn each_code_fires_at_its_key_and_not_on_the_clean_spec() {
    for case in cases() {
        let found = findings_of(&case.trigger);
        let hit = found
            .iter()
            .find(|f| f.code == case.code)
            .unwrap_or_else(|| panic!("{} not found in:\n{}\n{found:#?}", case.code, case.trigger));
        assert_eq!(hit.severity, Rule::from_code(case.code).unwrap().level());
        assert_eq!(
            token_at(&case.trigger, hit.location.line, hit.location.column),
            case.at,
            "{} at {}:\n{}",
            case.code,
            hit.location,
            case.trigger
        );
        assert!(!hit.message.is_empty());
        let clean = findings_of(&case.clean);
        assert!(
            clean.iter().all(|f| f.code != case.code),
            "{} fires on the clean spec:\n{}\n{clean:#?}",
            case.code,
            case.clean
        );
    }
}

#[test]
fn unknown_codes_suggest_the_closest() {
    let text = spec(
        AUTH,
        "audit: { allow: [missing-isuer], reason: typo }\n",
        NOTE,
    );
    let found = findings_of(&text);
    let unknown = found
        .iter()
        .find(|f| f.code == "unknown-audit-code")
        .unwrap();
    assert!(
        unknown.message.contains("did you mean `missing-issuer`?"),
        "{}",
        unknown.message
    );
    // Findings about `allow` itself cannot be silenced.
    let text = spec(
        AUTH,
        "audit: { allow: [unused-allow], reason: quiet }\n",
        NOTE,
    );
    let found = findings_of(&text);
    assert!(
        found
            .iter()
            .any(|f| f.code == "unknown-audit-code" && f.message.contains("cannot be silenced")),
        "{found:#?}"
    );
}

const HS: &str = "  jwt: { algorithm: HS256, secret_env: S, issuer: https://id.example.com, audience: api }\n  roles_claim: roles\n";

#[test]
fn a_spec_level_allow_silences_everywhere_with_its_reason() {
    let text = spec(
        HS,
        "audit:\n  allow: [shared-secret, create-without-throttle]\n  reason: one verifier\n",
        &note_with("    access:\n      roles: { admin: [get] }\n"),
    );
    let found = findings_of(&text);
    for code in ["shared-secret", "create-without-throttle"] {
        let f = found.iter().find(|f| f.code == code).unwrap();
        let s = f.silenced.as_ref().expect("silenced");
        assert_eq!(s.scope, "spec");
        assert_eq!(s.reason, "one verifier");
        assert_eq!(token_at(&text, s.location.line, s.location.column), code);
    }
    assert!(found.iter().all(|f| f.silenced.is_some()), "{found:#?}");
}

#[test]
fn a_resource_allow_wins_over_the_spec_and_stays_in_its_resource() {
    let text = format!(
        "{}  other:\n{}",
        spec(
            AUTH,
            "audit: { allow: [create-without-throttle], reason: everywhere }\n",
            &note_with(
                "    access:\n      roles: { admin: [get] }\n    audit: { allow: [create-without-throttle], reason: notes are rare }\n"
            ),
        ),
        note_with("    access:\n      roles: { admin: [get] }\n"),
    );
    let found = findings_of(&text);
    let reason = |resource: &str| {
        found
            .iter()
            .find(|f| {
                f.code == "create-without-throttle" && f.resource.as_deref() == Some(resource)
            })
            .and_then(|f| f.silenced.as_ref())
            .map(|s| (s.scope.clone(), s.reason.clone()))
    };
    assert_eq!(
        reason("note"),
        Some(("resource note".into(), "notes are rare".into()))
    );
    assert_eq!(reason("other"), Some(("spec".into(), "everywhere".into())));
}

#[test]
fn a_resource_cannot_allow_a_service_wide_finding() {
    let text = spec(
        HS,
        "",
        &note_with(
            "    access:\n      roles: { admin: [get] }\n    throttle: { create: 1/second }\n    audit: { allow: [shared-secret], reason: no }\n",
        ),
    );
    let found = findings_of(&text);
    let secret = found.iter().find(|f| f.code == "shared-secret").unwrap();
    assert!(secret.silenced.is_none());
    let unused = found.iter().find(|f| f.code == "unused-allow").unwrap();
    assert!(
        unused
            .message
            .contains("only the top-level `audit` can allow it"),
        "{}",
        unused.message
    );
}

#[test]
fn deny_counts_only_what_is_not_silenced() {
    let silenced = spec(
        HS,
        "audit: { allow: [shared-secret], reason: one verifier }\n",
        NOTE,
    );
    let report = audit(&load("t.yaml", &silenced));
    assert!(!report.fails(Level::Info), "{:#?}", report.findings);
    let open = spec(HS, "", NOTE);
    let report = audit(&load("t.yaml", &open));
    assert!(report.fails(Level::Low));
    assert!(!report.fails(Level::Medium));
}

#[test]
fn fingerprints_are_unique_within_a_report() {
    for file in super::examples() {
        let report = audit(&super::load_file(&file));
        let mut seen = std::collections::HashSet::new();
        for f in &report.findings {
            assert!(seen.insert(&f.fingerprint), "{file}: {}", f.fingerprint);
        }
    }
}

fn open<'a>(found: &'a [Finding], code: &str) -> Vec<&'a Finding> {
    found
        .iter()
        .filter(|f| f.code == code && f.silenced.is_none())
        .collect()
}

/// In the helpdesk, `contact_email` is `read: [owner, admin]`: role
/// `agent` lists and gets every ticket but never reads it, so only `admin`
/// is reported as reading PII across owners, and the matrix says so.
#[test]
fn pii_exposed_to_role_follows_the_field_rules() {
    let report = audit(&super::load_file("examples/helpdesk.yaml"));
    let pii = open(&report.findings, "pii-exposed-to-role");
    let messages: Vec<&str> = pii.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "role `admin` reads PII `contact_email` of every owner's `ticket` rows (list, get, update)"
        ]
    );
    let ticket = report
        .matrix
        .iter()
        .find(|r| r.resource == "ticket")
        .unwrap();
    let email = ticket
        .fields
        .iter()
        .find(|f| f.field == "contact_email")
        .unwrap();
    assert!(email.pii);
    let readers: Vec<&str> = email.read.iter().map(|w| w.label.as_str()).collect();
    assert_eq!(readers, ["owner", "admin"]);
    let writers: Vec<(&str, Vec<&str>)> = email
        .write
        .iter()
        .map(|w| (w.label.as_str(), w.operations.clone()))
        .collect();
    assert_eq!(writers, [("owner", vec!["create", "update"])]);
    // The owner column: `owner.read: [owner, admin]`, set by nobody.
    let owner = &ticket.fields[0];
    assert_eq!(
        (owner.field.as_str(), owner.origin),
        ("customer_id", "owner")
    );
    let readers: Vec<&str> = owner.read.iter().map(|w| w.label.as_str()).collect();
    assert_eq!(readers, ["owner", "admin"]);
    assert!(owner.write.is_empty());
    // PII returned by a list: to the owner and admins, not agents.
    let list = &ticket.operations[0];
    assert_eq!(list.operation, "list");
    assert_eq!(list.pii_returned, ["contact_email"]);
    assert_eq!(list.pii_readers[0].who, ["owner", "admin"]);
    assert!(!list.pii_readers[0].everyone);
    let text = palisade::review::render_audit(&report, palisade::review::AuditFormat::Text, false);
    assert!(
        text.contains("contact_email (owner, admin)"),
        "the PII RETURNED cell names who reads it:\n{text}"
    );
}

/// A field hidden from public callers is not a public read of PII.
#[test]
fn public_pii_read_follows_the_field_rules() {
    let note = |hide: &str| {
        format!(
            "    owner: none\n    fields:\n      text: {{ type: string }}\n      email: {{ type: email, pii: true }}\n{hide}    access:\n      roles: {{ admin: [list, get] }}\n      public: [list]\n"
        )
    };
    let shown = findings_of(&spec(AUTH, "", &note("")));
    assert_eq!(open(&shown, "public-pii-read").len(), 1, "{shown:#?}");
    let text = spec(AUTH, "", &note("    hide: { public: [email] }\n"));
    let hidden = findings_of(&text);
    assert!(open(&hidden, "public-pii-read").is_empty(), "{hidden:#?}");
    let public = open(&hidden, "public-operation");
    assert_eq!(public.len(), 1, "{hidden:#?}");
    assert!(
        public[0].message.ends_with("hidden from it: `email`"),
        "{}",
        public[0].message
    );
    // Hidden from the role: no PII read by it either.
    let text = spec(AUTH, "", &note("    hide: { admin: [email] }\n"));
    let found = findings_of(&text);
    assert!(open(&found, "pii-exposed-to-role").is_empty(), "{found:#?}");
}

/// `role-writes-field-across-owners`: one finding per field a role may set
/// on every owner's rows, naming the roles; none for what only the owner
/// sets; located at the field when it has no `write` rule; silenced by
/// `allow` like every other finding.
#[test]
fn fields_written_across_owners_are_named_and_can_be_allowed() {
    let report = audit(&super::load_file("examples/helpdesk.yaml"));
    let written: Vec<&str> = open(&report.findings, "role-writes-field-across-owners")
        .iter()
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(
        written,
        [
            "roles `agent`, `admin` may set `subject` on every owner's `ticket` rows (PATCH /tickets/{id})",
            "roles `agent`, `admin` may set `body` on every owner's `ticket` rows (PATCH /tickets/{id})",
            "roles `agent`, `admin` may set `status` on every owner's `ticket` rows (PATCH /tickets/{id})",
            "role `admin` may set `priority` on every owner's `ticket` rows (PATCH /tickets/{id})",
            "roles `agent`, `admin` may set `internal_notes` on every owner's `ticket` rows (PATCH /tickets/{id})",
        ]
    );
    // `contact_email` is `write: [owner]`; the unowned `article` has no
    // owners to cross.
    assert!(
        report
            .findings
            .iter()
            .all(|f| !(f.code == "role-writes-field-across-owners"
                && (f.message.contains("contact_email") || f.message.contains("article")))),
        "{:#?}",
        report.findings
    );
    let text = std::fs::read_to_string(super::root().join("examples/helpdesk.yaml")).unwrap();
    let subject = report
        .findings
        .iter()
        .find(|f| f.code == "role-writes-field-across-owners")
        .unwrap();
    assert_eq!(
        token_at(&text, subject.location.line, subject.location.column),
        "subject"
    );
    let status = report
        .findings
        .iter()
        .find(|f| f.code == "role-writes-field-across-owners" && f.message.contains("`status`"))
        .unwrap();
    assert_eq!(
        token_at(&text, status.location.line, status.location.column),
        "write"
    );

    let anchor = "    filters: [status, priority, contact_email]\n";
    assert!(text.contains(anchor));
    let allowed = text.replacen(
        anchor,
        &format!(
            "{anchor}    audit: {{ allow: [role-writes-field-across-owners], reason: staff work every ticket }}\n"
        ),
        1,
    );
    let report = audit(&load("helpdesk.yaml", &allowed));
    let all: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.code == "role-writes-field-across-owners")
        .collect();
    assert_eq!(all.len(), 5);
    for f in all {
        let s = f.silenced.as_ref().expect("silenced");
        assert_eq!(s.scope, "resource ticket");
        assert_eq!(s.reason, "staff work every ticket");
    }
    assert!(
        report.findings.iter().all(|f| f.code != "unused-allow"),
        "{:#?}",
        report.findings
    );
}
