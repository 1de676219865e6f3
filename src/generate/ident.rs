//! Identifiers of generated code: every name from the spec made safe for
//! Rust and SQL, in one place.
//!
//! Spec names are `[a-z][a-z0-9_]*`. In Rust, keywords become raw
//! identifiers (`r#type`), and the four that cannot be raw (`self`, `super`,
//! `crate`, `Self`) get a trailing underscore, with the JSON key kept by a
//! serde rename. In SQL every identifier is double-quoted, so `order` or
//! `user` are ordinary names.

use proc_macro2::{Ident, Span};

/// Rust keywords of every edition, strict and reserved.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be written as raw identifiers.
const NOT_RAW: &[&str] = &["self", "super", "crate", "Self", "_"];

/// A Rust identifier for a spec name, and whether it differs from the name
/// (so that serde needs a `rename`).
pub fn rust(name: &str) -> (Ident, bool) {
    if NOT_RAW.contains(&name) {
        (Ident::new(&format!("{name}_"), Span::call_site()), true)
    } else if KEYWORDS.contains(&name) {
        (Ident::new_raw(name, Span::call_site()), false)
    } else {
        (Ident::new(name, Span::call_site()), false)
    }
}

/// The Rust identifier for a spec name.
pub fn rust_ident(name: &str) -> Ident {
    rust(name).0
}

/// The package name of the generated project: the service name, except
/// that a Rust keyword that cannot be a raw identifier (`crate`, `super`)
/// gets a trailing underscore, since no code could name a library called
/// that. Other keywords stay (`match` is named `r#match` in code).
pub fn package(service: &str) -> String {
    if NOT_RAW.contains(&service) {
        format!("{service}_")
    } else {
        service.to_string()
    }
}

/// How the generated binary and tests name the generated library:
/// `billing`, `my_api` for `my-api`, `r#match`, `crate_`.
pub fn krate(service: &str) -> Ident {
    rust_ident(&package(service).replace('-', "_"))
}

/// A plain identifier built by the generator itself (never from the spec).
pub fn internal(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// An upper-case constant name for a spec name (`amount_cents` -> `AMOUNT_CENTS`).
pub fn constant(prefix: &str, name: &str) -> Ident {
    Ident::new(
        &format!("{prefix}{}", name.to_ascii_uppercase()),
        Span::call_site(),
    )
}

/// Module names for resources (and the field names of one resource), as
/// written in code (`r#type` for `type`): the escaped name, made unique if
/// escaping made two names collide (`self` and `self_`). Computed once per project; strings, so that the
/// threads that print modules can share them ([`module`] makes each one an
/// identifier).
pub fn modules<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut taken: Vec<String> = Vec::new();
    let names: Vec<&str> = names.into_iter().collect();
    for name in &names {
        let mut candidate = rust_ident(name).to_string();
        while taken.contains(&candidate)
            || (candidate.ends_with('_')
                && names.contains(&candidate.as_str())
                && candidate != *name)
        {
            candidate.push('_');
        }
        taken.push(candidate);
    }
    taken
}

/// The identifier of a module name from [`modules`].
pub fn module(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        let cases = [
            ("amount", "amount", false),
            ("type", "r#type", false),
            ("match", "r#match", false),
            ("order", "order", false),
            ("self", "self_", true),
            ("crate", "crate_", true),
            ("gen", "r#gen", false),
        ];
        for (name, expected, renamed) in cases {
            let (ident, r) = rust(name);
            assert_eq!(
                (ident.to_string().as_str(), r),
                (expected, renamed),
                "{name}"
            );
        }
        assert_eq!(crate::migrate::sqlite::quote("order"), "\"order\"");
    }

    #[test]
    fn crate_names() {
        let cases = [
            ("billing", "billing", "billing"),
            ("my-api", "my-api", "my_api"),
            ("match", "match", "r#match"),
            ("gen", "gen", "r#gen"),
            ("crate", "crate_", "crate_"),
            ("super", "super_", "super_"),
        ];
        for (service, package_name, path) in cases {
            assert_eq!(package(service), package_name, "{service}");
            assert_eq!(krate(service).to_string(), path, "{service}");
        }
    }

    #[test]
    fn module_names_stay_unique() {
        let mods = modules(["self", "self_", "type"]);
        assert_eq!(mods, ["self__", "self_", "r#type"]);
        assert_eq!(module(&mods[2]).to_string(), "r#type");
    }
}
