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
