//! Each kind of change `palisade diff` reports: an edit that causes it, with
//! its class, and the same edit backwards, which reports the mirror kind.

use palisade::review::diff::{Class, DiffReport, Kind, diff};

use super::load;

const BASE: &str = "palisade: 1
service: { name: t }
auth:
  jwt: { algorithm: ES256, public_key_env: K, issuer: https://id.example.com, audience: api, leeway_seconds: 10 }
  roles_claim: roles
roles: [admin, staff]
cors: { origins: [https://a.example.com], credentials: false, max_age_seconds: 60 }
throttle: { anon: 30/minute, user: 1000/hour, trust_proxy_hops: 0 }
limits: { max_body: 64KiB, default_page_size: 20, max_page_size: 100, request_timeout_seconds: 10 }
resources:
  note:
    owner: owner_id
    fields:
      text: { type: string, max_length: 100 }
      email: { type: email, pii: true }
      stamp: { type: date, read_only: true }
    access:
      owner: [list, get, create, update]
      roles: { admin: [get], staff: [list] }
      public: []
    filters: [text]
    throttle: { create: 10/minute }
    audit: { allow: [pii-exposed-to-role], reason: staff lists notes }
";

/// A spec without roles at all (so `roles_claim` can come and go).
const NO_ROLES: &str = "palisade: 1
service: { name: t }
auth:
  jwt: { algorithm: ES256, public_key_env: K }
resources:
  note:
    owner: owner_id
    fields:
      text: { type: string }
";

fn edit(base: &str, edits: &[(&str, &str)]) -> String {
    let mut text = base.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "`{from}` is not in the spec");
        text = text.replacen(from, to, 1);
    }
    text
}

fn run(old: &str, new: &str) -> DiffReport {
    let (old, new) = (load("old.yaml", old), load("new.yaml", new));
    diff(old.side(), new.side())
}

struct Case {
    kind: Kind,
    old: String,
    new: String,
}

fn case(kind: Kind, edits: &[(&str, &str)]) -> Case {
    Case {
        kind,
        old: BASE.to_string(),
        new: edit(BASE, edits),
    }
}

const NEW_RESOURCE: &str = "  memo:
    owner: owner_id
    fields:
      body: { type: string }
    access:
      owner: [get]
      roles: { staff: [list] }
";

fn cases() -> Vec<Case> {
    vec![
        case(Kind::PublicGranted, &[("public: []", "public: [list]")]),
        case(
            Kind::OwnerColumnShown,
            &[(
                "owner: owner_id",
                "owner: { field: owner_id, read: [owner, admin, staff, public] }",
            )],
        ),
        // A role that may update without get starts getting the row back.
        Case {
            kind: Kind::UpdateRowShown,
            old: edit(BASE, &[("staff: [list]", "staff: [list, update]")]),
            new: edit(BASE, &[("staff: [list]", "staff: [list, get, update]")]),
        },
        case(
            Kind::UniqueAcrossOwnersAdded,
            &[(
                "text: { type: string, max_length: 100 }",
                "text: { type: string, max_length: 100, unique: global }",
            )],
        ),
        case(
            Kind::RoleGranted,
            &[("admin: [get]", "admin: [get, delete]")],
        ),
        // A role gaining a whole resource.
        Case {
            kind: Kind::RoleGranted,
            old: BASE.to_string(),
            new: format!("{BASE}{NEW_RESOURCE}"),
        },
        case(
            Kind::OwnerGranted,
            &[(
                "owner: [list, get, create, update]",
                "owner: [list, get, create, update, delete]",
            )],
        ),
        case(
            Kind::OwnerScopeRemoved,
            &[
                ("    owner: owner_id\n", "    owner: none\n"),
                ("      owner: [list, get, create, update]\n", ""),
            ],
        ),
        case(
            Kind::OwnerScopeChanged,
            &[("owner: owner_id", "owner: { field: owner_id, claim: org }")],
        ),
        case(
            Kind::RateLoosened,
            &[("user: 1000/hour", "user: 2000/hour")],
        ),
        case(
            Kind::RateLoosened,
            &[("create: 10/minute", "create: 20/minute")],
        ),
        // The same sustained rate with a larger burst.
        case(
            Kind::RateLoosened,
            &[("anon: 30/minute", "anon: 1800/hour")],
        ),
        case(
            Kind::CorsOriginAdded,
            &[(
                "origins: [https://a.example.com]",
                "origins: [https://a.example.com, https://b.example.com]",
            )],
        ),
        case(
            Kind::CorsCredentialsEnabled,
            &[("credentials: false", "credentials: true")],
        ),
        case(
            Kind::PiiFlagRemoved,
            &[(
                "email: { type: email, pii: true }",
                "email: { type: email }",
            )],
        ),
        case(Kind::LimitRaised, &[("max_body: 64KiB", "max_body: 1MiB")]),
        case(
            Kind::LimitRaised,
            &[("max_page_size: 100", "max_page_size: 200")],
        ),
        case(
            Kind::LimitRaised,
            &[("default_page_size: 20", "default_page_size: 50")],
        ),
        case(
            Kind::LimitRaised,
            &[("request_timeout_seconds: 10", "request_timeout_seconds: 20")],
        ),
        case(
            Kind::FieldWritable,
            &[(
                "stamp: { type: date, read_only: true }",
                "stamp: { type: date }",
            )],
        ),
        // A field rule that lets one more reader of the rows see a field.
        Case {
            kind: Kind::FieldReadersWidened,
            old: edit(
                BASE,
                &[("pii: true }", "pii: true, read: [owner, admin] }")],
            ),
            new: edit(
                BASE,
                &[("pii: true }", "pii: true, read: [owner, admin, staff] }")],
            ),
        },
        // The same through `hide`.
        Case {
            kind: Kind::FieldReadersNarrowed,
            old: BASE.to_string(),
            new: edit(
                BASE,
                &[("    filters:", "    hide: { staff: [email] }\n    filters:")],
            ),
        },
        // A field rule that lets a role that may update set a field.
        Case {
            kind: Kind::FieldWritersWidened,
            old: edit(
                BASE,
                &[
                    ("admin: [get]", "admin: [get, update]"),
                    ("max_length: 100 }", "max_length: 100, write: [owner] }"),
                ],
            ),
            new: edit(
                BASE,
                &[
                    ("admin: [get]", "admin: [get, update]"),
                    (
                        "max_length: 100 }",
                        "max_length: 100, write: [owner, admin] }",
                    ),
                ],
            ),
        },
        case(
            Kind::TokenCheckRemoved,
            &[(", issuer: https://id.example.com", "")],
        ),
        case(
            Kind::TokenCheckChanged,
            &[("audience: api", "audience: other")],
        ),
        case(
            Kind::LeewayRaised,
            &[("leeway_seconds: 10", "leeway_seconds: 60")],
        ),
        case(
            Kind::AlgorithmWeakened,
            &[(
                "algorithm: ES256, public_key_env: K",
                "algorithm: HS256, secret_env: K",
            )],
        ),
        Case {
            kind: Kind::RolesClaimAdded,
            old: NO_ROLES.to_string(),
            new: edit(NO_ROLES, &[("  jwt:", "  roles_claim: roles\n  jwt:")]),
        },
        case(
            Kind::RolesClaimChanged,
            &[("roles_claim: roles", "roles_claim: groups")],
        ),
        case(
            Kind::ProxyHopsRaised,
            &[("trust_proxy_hops: 0", "trust_proxy_hops: 1")],
        ),
        case(
            Kind::LimiterShared,
            &[("trust_proxy_hops: 0 }", "trust_proxy_hops: 0, redis: {} }")],
        ),
        Case {
            kind: Kind::LimiterFallbackLoosened,
            old: edit(
                BASE,
                &[(
                    "trust_proxy_hops: 0 }",
                    "trust_proxy_hops: 0, redis: { on_error: closed } }",
                )],
            ),
            new: edit(
                BASE,
                &[(
                    "trust_proxy_hops: 0 }",
                    "trust_proxy_hops: 0, redis: { on_error: local } }",
                )],
            ),
        },
        // Neutral changes.
        Case {
            kind: Kind::LimiterStoreMoved,
            old: edit(
                BASE,
                &[("trust_proxy_hops: 0 }", "trust_proxy_hops: 0, redis: {} }")],
            ),
            new: edit(
                BASE,
                &[(
                    "trust_proxy_hops: 0 }",
                    "trust_proxy_hops: 0, redis: { url_env: CACHE_URL } }",
                )],
            ),
        },
        case(
            Kind::AlgorithmChanged,
            &[("algorithm: ES256", "algorithm: EdDSA")],
        ),
        case(
            Kind::KeySourceChanged,
            &[("public_key_env: K", "public_key_env: OTHER")],
        ),
        // Another provider: keys from its JWKS instead of a static key.
        case(
            Kind::KeySourceChanged,
            &[(
                "algorithm: ES256, public_key_env: K",
                "algorithms: [ES256], jwks_url: \"https://id.example.com/jwks\"",
            )],
        ),
        Case {
            kind: Kind::AlgorithmsWidened,
            old: edit(
                BASE,
                &[(
                    "algorithm: ES256, public_key_env: K",
                    "algorithms: [ES256], jwks_url_env: K",
                )],
            ),
            new: edit(
                BASE,
                &[(
                    "algorithm: ES256, public_key_env: K",
                    "algorithms: [ES256, RS256], jwks_url_env: K",
                )],
            ),
        },
        case(
            Kind::CorsMaxAgeChanged,
            &[("max_age_seconds: 60", "max_age_seconds: 600")],
        ),
        case(
            Kind::RoleDeclared,
            &[
                ("roles: [admin, staff]", "roles: [admin, staff, audit]"),
                ("staff: [list] }", "staff: [list], audit: [get] }"),
            ],
        ),
        Case {
            kind: Kind::ResourceAdded,
            old: BASE.to_string(),
            new: format!("{BASE}{NEW_RESOURCE}"),
        },
        case(
            Kind::PathChanged,
            &[("  note:\n", "  note:\n    plural: notebook\n")],
        ),
        case(
            Kind::FieldAdded,
            &[("      stamp:", "      tag: { type: string }\n      stamp:")],
        ),
        case(
            Kind::FieldChanged,
            &[(
                "text: { type: string, max_length: 100 }",
                "text: { type: string, max_length: 200 }",
            )],
        ),
        case(
            Kind::QueryChanged,
            &[("filters: [text]", "filters: [text, stamp]")],
        ),
        case(
            Kind::AuditAllowAdded,
            &[(
                "allow: [pii-exposed-to-role]",
                "allow: [pii-exposed-to-role, create-without-throttle]",
            )],
        ),
    ]
}

#[test]
fn every_kind_is_covered_by_a_case_or_its_mirror() {
    let cases = cases();
    for kind in Kind::ALL {
        assert!(
            cases
                .iter()
                .any(|c| c.kind == *kind || c.kind.mirror() == *kind),
            "no case for {}",
            kind.code()
        );
    }
}

#[test]
fn kinds_are_unique_and_mirrors_are_consistent() {
    let mut seen = std::collections::HashSet::new();
    for kind in Kind::ALL {
        assert!(seen.insert(kind.code()), "duplicate {}", kind.code());
        let mirror = kind.mirror();
        assert_eq!(mirror.mirror(), *kind, "{}", kind.code());
        let expected = match (kind.class(), mirror == *kind) {
            (Class::Widening, true) => Class::Widening,
            (Class::Widening, false) => Class::Narrowing,
            (Class::Narrowing, _) => Class::Widening,
            (Class::Neutral, _) => Class::Neutral,
        };
        assert_eq!(mirror.class(), expected, "{}", kind.code());
    }
}

#[test]
fn each_edit_reports_its_kind_and_backwards_its_mirror() {
    for case in cases() {
        let forward = run(&case.old, &case.new);
        let hit = forward
            .changes
            .iter()
            .find(|c| c.kind_enum == case.kind)
            .unwrap_or_else(|| {
                panic!(
                    "{} not reported:\n{}\n{:#?}",
                    case.kind.code(),
                    case.new,
                    forward.changes
                )
            });
        assert_eq!(hit.class, case.kind.class());
        // A removed key is shown where it was.
        let file = if case.kind == Kind::TokenCheckRemoved {
            "old.yaml"
        } else {
            "new.yaml"
        };
        assert_eq!(hit.location.file, file, "{}", case.kind.code());
        // Nothing widens in an edit meant to show only a neutral change.
        if case.kind.class() == Class::Neutral {
            assert!(
                forward.changes.iter().all(|c| c.class != Class::Widening)
                    || case.kind == Kind::ResourceAdded
                    || case.kind == Kind::RoleDeclared,
                "{}: {:#?}",
                case.kind.code(),
                forward.changes
            );
        }
        let backward = run(&case.new, &case.old);
        let mirror = case.kind.mirror();
        let back = backward
            .changes
            .iter()
            .find(|c| c.kind_enum == mirror)
            .unwrap_or_else(|| {
                panic!(
                    "{} (mirror of {}) not reported backwards: {:#?}",
                    mirror.code(),
                    case.kind.code(),
                    backward.changes
                )
            });
        assert_eq!(back.class, mirror.class());
        assert_eq!(
            forward.widens(),
            forward.changes.iter().any(|c| c.class == Class::Widening)
        );
    }
}

#[test]
fn removed_things_are_located_in_the_old_file() {
    let report = run(&edit(BASE, &[("public: []", "public: [get]")]), BASE);
    let revoked = report
        .changes
        .iter()
        .find(|c| c.kind_enum == Kind::PublicRevoked)
        .unwrap();
    assert_eq!(revoked.location.file, "old.yaml");
    assert_eq!((revoked.location.line, revoked.location.column), (20, 16));
}

#[test]
fn writing_defaults_out_is_no_change() {
    let implicit = "palisade: 1
service: { name: t }
auth:
  jwt: { algorithm: HS256, secret_env: JWT_SECRET }
resources:
  note:
    owner: owner_id
    fields:
      text: { type: string }
";
    let explicit = "palisade: 1
service: { name: t }
auth:
  jwt: { algorithm: HS256, secret_env: JWT_SECRET, leeway_seconds: 0 }
  user_claim: sub
throttle: { anon: 30/minute, user: 1000/hour, trust_proxy_hops: 0 }
limits: { max_body: 64KiB, default_page_size: 20, max_page_size: 100, request_timeout_seconds: 10 }
resources:
  note:
    plural: notes
    owner: owner_id
    fields:
      text: { type: string }
    access:
      owner: [list, get, create, update, delete]
";
    let report = run(implicit, explicit);
    assert!(report.changes.is_empty(), "{:#?}", report.changes);
}

#[test]
fn a_removed_resource_revokes_its_grants() {
    let report = run(&format!("{BASE}{NEW_RESOURCE}"), BASE);
    let kinds: Vec<&str> = report.changes.iter().map(|c| c.kind).collect();
    assert!(kinds.contains(&"resource-removed"), "{kinds:?}");
    assert!(kinds.contains(&"owner-revoked"), "{kinds:?}");
    assert!(kinds.contains(&"role-revoked"), "{kinds:?}");
    assert!(!report.widens());
}

#[test]
fn git_revisions_are_read_with_git_show() {
    if !super::in_git() {
        return;
    }
    let source = palisade::review::read_spec("git:HEAD:examples/billing.yaml")
        .expect("examples/billing.yaml is committed");
    assert_eq!(source.name(), "HEAD:examples/billing.yaml");
    assert!(source.text().contains("name: billing"));
    for bad in ["git:HEAD", "git::x.yaml", "git:HEAD:"] {
        assert!(palisade::review::read_spec(bad).is_err(), "{bad}");
    }
    let missing = palisade::review::read_spec("git:HEAD:no/such/file.yaml").unwrap_err();
    assert!(
        missing.contains("cannot read HEAD:no/such/file.yaml"),
        "{missing}"
    );
}

/// An allowlist is a set: its order changes nothing.
#[test]
fn reordered_algorithms_are_no_change() {
    let jwks = |list: &str| {
        edit(
            BASE,
            &[(
                "algorithm: ES256, public_key_env: K",
                &format!("algorithms: {list}, jwks_url_env: K"),
            )],
        )
    };
    let report = run(&jwks("[RS256, ES256]"), &jwks("[ES256, RS256]"));
    assert!(report.changes.is_empty(), "{:#?}", report.changes);
}

/// The helpdesk's field rules, loosened and tightened: a reader or writer
/// a rule adds is widening, one it takes away narrowing, located at the
/// rule (in the old file when the new one dropped it).
#[test]
fn field_rules_widen_and_narrow() {
    let helpdesk = std::fs::read_to_string(super::root().join("examples/helpdesk.yaml")).unwrap();
    let loose = edit(
        &helpdesk,
        &[
            (
                "contact_email:  { type: email, pii: true, read: [owner, admin], write: [owner] }",
                "contact_email:  { type: email, pii: true, write: [owner] }",
            ),
            (
                "default: normal, write: [admin] }",
                "default: normal, write: [admin, agent] }",
            ),
            (
                "    hide:\n      public: [draft_notes]        # readers of the public site never see them\n",
                "",
            ),
        ],
    );
    let report = run(&helpdesk, &loose);
    let seen: Vec<(Class, &str, &str, String)> = report
        .changes
        .iter()
        .map(|c| {
            (
                c.class,
                c.kind,
                c.message.as_str(),
                format!("{}:{}", c.location.file, c.location.line),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                Class::Widening,
                "field-readers-widened",
                "role `agent` now reads PII `contact_email` of the `ticket` rows it reads",
                "old.yaml:27".to_string()
            ),
            (
                Class::Widening,
                "field-writers-widened",
                "role `agent` may now set `priority` of `ticket` rows on update",
                "new.yaml:29".to_string()
            ),
            (
                Class::Widening,
                "field-readers-widened",
                "anyone now reads `draft_notes` of the `article` rows it reads",
                "old.yaml:48".to_string()
            ),
        ]
    );
    assert!(report.widens());

    let back = run(&loose, &helpdesk);
    let kinds: Vec<(Class, &str, &str)> = back
        .changes
        .iter()
        .map(|c| (c.class, c.kind, c.subject.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                Class::Narrowing,
                "field-readers-narrowed",
                "ticket.contact_email.read"
            ),
            (
                Class::Narrowing,
                "field-writers-narrowed",
                "ticket.priority.write"
            ),
            (
                Class::Narrowing,
                "field-readers-narrowed",
                "article.draft_notes.read"
            ),
        ]
    );
    assert!(!back.widens());
}

/// A grant that comes with the field rules already in place is the
/// grant's change only: no field change repeats it.
#[test]
fn a_new_grant_is_not_a_field_change() {
    let helpdesk = std::fs::read_to_string(super::root().join("examples/helpdesk.yaml")).unwrap();
    let wider = edit(
        &helpdesk,
        &[(
            "agent: [list, get, update]",
            "agent: [list, get, update, delete]",
        )],
    );
    let report = run(&helpdesk, &wider);
    let kinds: Vec<&str> = report.changes.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, ["role-granted"]);
    // A rule that names everyone who reads rows changes nothing.
    let same = edit(
        &helpdesk,
        &[(
            "body:           { type: string, max_length: 5000, required: true }",
            "body:           { type: string, max_length: 5000, required: true, read: [owner, agent, admin] }",
        )],
    );
    let report = run(&helpdesk, &same);
    assert!(report.changes.is_empty(), "{:#?}", report.changes);
}

/// fr-reviewer demonstration (fails on main): renaming a field with
/// `renamed_from` keeps its values, so dropping its field rules in the
/// same edit lets `agent` read the existing contact addresses and agents
/// and admins set them; the diff must report that as widening, not as a
/// neutral add and remove.
#[test]
fn a_renamed_field_that_loses_its_rules_widens() {
    let helpdesk = std::fs::read_to_string(super::root().join("examples/helpdesk.yaml")).unwrap();
    let renamed = edit(
        &helpdesk,
        &[
            (
                "contact_email:  { type: email, pii: true, read: [owner, admin], write: [owner] }",
                "contact:  { type: email, pii: true, renamed_from: contact_email }",
            ),
            (
                "filters: [status, priority, contact_email]",
                "filters: [status, priority, contact]",
            ),
            (
                "sort: [priority, contact_email]",
                "sort: [priority, contact]",
            ),
        ],
    );
    let report = run(&helpdesk, &renamed);
    let kinds: Vec<(Class, &str)> = report.changes.iter().map(|c| (c.class, c.kind)).collect();
    assert!(
        report.widens(),
        "agent now reads PII `contact` (was `contact_email`, hidden from it): {kinds:?}"
    );
}
