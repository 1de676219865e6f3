//! The JSON Schema of the spec format.
//!
//! Stage: parse. Derived with schemars from the [`crate::spec`] types, so the
//! schema editors use and the structure the compiler accepts cannot drift.
//! The same schema drives the structural validation pass in [`crate::parse`].

use std::sync::OnceLock;

use schemars::generate::SchemaSettings;

use crate::spec::Spec;

/// The schema as a JSON value (draft 2020-12).
pub fn json_schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let generator = SchemaSettings::draft2020_12()
            .for_deserialize()
            .into_generator();
        let schema = generator.into_root_schema_for::<Spec>();
        let mut value = schema.to_value();
        if let Some(object) = value.as_object_mut() {
            object.insert(
                "$id".into(),
                serde_json::Value::String(format!(
                    "https://palisade.dev/schema/v{}/palisade.schema.json",
                    env!("CARGO_PKG_VERSION_MAJOR")
                )),
            );
        }
        value
    })
}

/// The schema as pretty-printed JSON text with a final newline.
pub fn to_string_pretty() -> String {
    let mut text =
        serde_json::to_string_pretty(json_schema()).expect("a JSON value always serialises");
    text.push('\n');
    text
}

/// The subschema at a JSON pointer into the schema, following `$ref`s.
pub fn resolve(pointer: &str) -> Option<&'static serde_json::Value> {
    let root = json_schema();
    let mut node = root;
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        node = follow_ref(root, node);
        node = match node {
            serde_json::Value::Object(map) => map.get(&segment)?,
            serde_json::Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(follow_ref(root, node))
}

fn follow_ref<'a>(
    root: &'a serde_json::Value,
    mut node: &'a serde_json::Value,
) -> &'a serde_json::Value {
    for _ in 0..16 {
        match node
            .get("$ref")
            .and_then(|r| r.as_str())
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(pointer) => match root.pointer(pointer) {
                Some(target) => node = target,
                None => break,
            },
            None => break,
        }
    }
    node
}

#[cfg(test)]
mod tests {
    use jsonschema::ValidationError;
    use jsonschema::error::ValidationErrorKind;
    use serde_json::json;

    use super::*;

    /// A valid spec as JSON, with `extra` merged into its top level.
    fn spec_with(extra: serde_json::Value) -> serde_json::Value {
        let mut spec = json!({
            "palisade": 1,
            "service": { "name": "s" },
            "auth": { "jwt": { "algorithm": "HS256", "secret_env": "JWT_SECRET" } },
            "resources": { "note": { "owner": "owner_id", "fields": { "t": { "type": "string" } } } }
        });
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        spec
    }

    /// One problem an editor can show for a value: where (the instance's
    /// JSON pointer), whether it is a `pattern` error, its text, and the
    /// `patternErrorMessage` of the schema that raised it.
    #[derive(Debug)]
    struct Problem {
        at: String,
        pattern: bool,
        text: String,
        shape: String,
    }

    /// Every leaf error of `instance` against the published schema: the
    /// branches of an `anyOf` are opened, as editors do to pick the
    /// message they show.
    fn problems(instance: &serde_json::Value) -> Vec<Problem> {
        fn leaves(e: &ValidationError<'_>, out: &mut Vec<Problem>) {
            if let ValidationErrorKind::AnyOf { context }
            | ValidationErrorKind::OneOfNotValid { context } = e.kind()
            {
                for e in context.iter().flatten() {
                    leaves(e, out);
                }
                return;
            }
            let path = e.schema_path().as_str().to_string();
            let owner = path.rsplit_once('/').map_or("", |(p, _)| p).to_string();
            out.push(Problem {
                at: e.instance_path().as_str().to_string(),
                pattern: matches!(e.kind(), ValidationErrorKind::Pattern { .. }),
                text: e.to_string(),
                shape: resolve(&owner)
                    .and_then(|o| o.get("patternErrorMessage"))
                    .and_then(|m| m.as_str())
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        let validator = jsonschema::draft202012::new(json_schema()).unwrap();
        let mut out = Vec::new();
        for e in validator.iter_errors(instance) {
            leaves(&e, &mut out);
        }
        out
    }

    /// The problems at `at`, which must all be pattern errors that say
    /// what the value should look like (`expected` in it).
    fn only_pattern_errors_at(instance: serde_json::Value, at: &str, expected: &str) {
        let problems = problems(&instance);
        let here: Vec<&Problem> = problems.iter().filter(|p| p.at == at).collect();
        assert!(!here.is_empty(), "no problem at {at}: {problems:#?}");
        for p in here {
            assert!(p.pattern, "{at}: {p:#?}");
            assert!(p.shape.contains(expected), "{at}: {p:#?}");
        }
    }

    /// A malformed rate fails on the rate's pattern, whose message says
    /// what a rate looks like, not on an `anyOf` whose other branch says
    /// the value "is not of type 'null'".
    #[test]
    fn a_malformed_rate_says_what_a_rate_looks_like() {
        assert!(problems(&spec_with(json!({}))).is_empty());
        for (key, rate) in [("anon", "30 per minute"), ("user", "30/fortnight")] {
            only_pattern_errors_at(
                spec_with(json!({ "throttle": { key: rate } })),
                &format!("/throttle/{key}"),
                "`30/minute`",
            );
        }
        let resource = json!({ "owner": "owner_id", "fields": { "t": { "type": "string" } }, "throttle": { "create": "5 a minute" } });
        only_pattern_errors_at(
            spec_with(json!({ "resources": { "note": resource } })),
            "/resources/note/throttle/create",
            "`30/minute`",
        );
        // A rate that is not a string is a type error that names a string.
        let problems = problems(&spec_with(json!({ "throttle": { "anon": 30 } })));
        let here: Vec<&Problem> = problems
            .iter()
            .filter(|p| p.at == "/throttle/anon")
            .collect();
        assert_eq!(here.len(), 1, "{problems:#?}");
        assert!(here[0].text.contains("string"), "{here:#?}");
        let valid = spec_with(json!({ "throttle": { "anon": null, "user": "1000/hour" } }));
        assert!(self::problems(&valid).is_empty());
    }

    /// `validate` refuses an origin with a trailing slash; the schema
    /// editors check does too, and says why.
    #[test]
    fn an_origin_with_a_trailing_slash_is_refused() {
        for origin in ["https://app.example.com/", "http://localhost:3000/"] {
            only_pattern_errors_at(
                spec_with(json!({ "cors": { "origins": [origin] } })),
                "/cors/origins/0",
                "no trailing slash",
            );
        }
        let fine = spec_with(
            json!({ "cors": { "origins": ["https://app.example.com", "http://localhost:3000"] } }),
        );
        assert!(problems(&fine).is_empty());
    }
}
