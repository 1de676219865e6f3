//! The compiler and the generated server agree on every string format: a
//! spec `default` is accepted exactly when the server accepts the value in
//! a request, and the OpenAPI document's patterns are the server's. One
//! table of edge cases, decided by the compiler (`palisade::formats`, what
//! `validate` checks defaults with) and by the server's own checks
//! (`palisade_runtime::check::Checker`, what generated handlers call).

use palisade::spec::FieldType;
use palisade_runtime::check::Checker;

/// Edge cases of each format, valid and invalid ones mixed.
const CASES: &[(FieldType, &[&str])] = &[
    (
        FieldType::Email,
        &[
            "a@b.co",
            "a@b.c",
            "first.last+tag@sub.example.com",
            "a..b@example.com",
            ".a@example.com",
            "a.@example.com",
            "a@b",
            "a@-b.co",
            "a@b-.co",
            "a@b..co",
            "a b@c.co",
            "\u{e4}@b.co",
            "a@b.co\n",
            "a@@b.co",
            "\"quoted\"@example.com",
            "a@[127.0.0.1]",
        ],
    ),
    (
        FieldType::Url,
        &[
            "https://example.com",
            "http://a",
            "HTTPS://example.com:443/",
            "http://x.y:65535",
            "https://x.y:65536",
            "https://user:pw@x.y/",
            "https://[::1]/",
            "https://x.y/a b",
            "https://x.y/%zz",
            "https://x.y/\u{e4}",
            "ftp://x.y",
            "https://",
            "javascript:alert(1)",
        ],
    ),
    (
        FieldType::Uuid,
        &[
            "123e4567-e89b-12d3-a456-426614174000",
            "123E4567-E89B-12D3-A456-426614174000",
            "123e4567e89b12d3a456426614174000",
            "{123e4567-e89b-12d3-a456-426614174000}",
            "123e4567-e89b-12d3-a456-42661417400g",
        ],
    ),
    (
        FieldType::Date,
        &[
            "2024-02-29",
            "2023-02-29",
            "1900-02-29",
            "2000-02-29",
            "0001-01-01",
            "0000-01-01",
            "9999-12-31",
            "10000-01-01",
            "2024-13-01",
            "2024-04-31",
            "2024-1-01",
            "+024-01-01",
            "2024-01-01T00:00:00Z",
        ],
    ),
    (
        FieldType::Datetime,
        &[
            "2024-05-01T12:00:00Z",
            "2024-05-01t12:00:00z",
            "2024-05-01T12:00:00.123456789+02:00",
            "2024-05-01T12:00:00.1234567890Z",
            "2024-05-01T12:00:00.000000000000000000001Z",
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "2016-12-31T23:59:60Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:00",
            "2024-05-01 12:00:00Z",
            "2024-02-30T12:00:00Z",
            "2024-05-01T12:00:00+24:00",
            "2024-05-01T12:00:00.Z",
        ],
    ),
];

/// Whether the generated server accepts `v` for a field of type `ty`.
fn server_accepts(ty: FieldType, v: &str) -> bool {
    let mut c = Checker::new();
    match ty {
        FieldType::Email => c.email("f", v),
        FieldType::Url => c.url("f", v),
        FieldType::Uuid => c.uuid("f", v),
        FieldType::Date => c.date("f", v),
        FieldType::Datetime => c.datetime("f", v),
        _ => unreachable!("not a format"),
    }
}

#[test]
fn the_compiler_and_the_server_accept_the_same_values() {
    let mut disagreements = Vec::new();
    for (ty, values) in CASES {
        let (mut accepted, mut refused) = (0, 0);
        for v in *values {
            let compiler = palisade::formats::check(*ty, v).is_ok();
            let server = server_accepts(*ty, v);
            if compiler != server {
                disagreements.push(format!(
                    "{} {v:?}: compiler {compiler}, server {server}",
                    ty.name()
                ));
            }
            if server {
                accepted += 1;
            } else {
                refused += 1;
            }
        }
        assert!(
            accepted > 0 && refused > 0,
            "{}: a one-sided table",
            ty.name()
        );
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

/// A spec default the server would refuse is refused by `validate`.
#[test]
fn a_default_the_server_refuses_is_invalid() {
    for (ty, value) in [
        ("email", "a..b@example.com"),
        ("date", "0000-01-01"),
        ("datetime", "2024-05-01T12:00:00.1234567890Z"),
    ] {
        let text = format!(
            "palisade: 1\nservice: {{ name: s }}\nauth:\n  jwt: {{ algorithm: HS256, secret_env: JWT_SECRET }}\nresources:\n  note:\n    owner: owner_id\n    fields:\n      f: {{ type: {ty}, default: \"{value}\" }}\n"
        );
        let report = palisade::compile(palisade::source::SourceFile::new("t.yaml", text))
            .err()
            .unwrap_or_else(|| panic!("{ty} default {value:?} accepted"));
        let codes: Vec<&str> = report.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["invalid-default"], "{ty} {value:?}");
    }
}
