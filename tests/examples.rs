//! Every example spec (and the `init` starter) is valid, is accepted by the
//! published JSON Schema, and lowers to the model recorded in its snapshot.

use std::path::{Path, PathBuf};

use palisade::source::SourceFile;

fn examples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
            .expect("examples/ exists")
            .map(|e| e.expect("readable entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
    files.sort();
    assert!(files.len() >= 3, "at least three examples");
    files
}

fn load(path: &Path) -> SourceFile {
    let name = format!("examples/{}", path.file_name().unwrap().to_string_lossy());
    SourceFile::new(
        name,
        std::fs::read_to_string(path).expect("readable example"),
    )
}

fn schema_validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(palisade::schema::json_schema())
        .expect("the schema is a valid draft 2020-12 schema")
}

fn yaml_to_json(text: &str) -> serde_json::Value {
    serde_yaml::from_str(text).expect("example is YAML")
}

#[test]
fn every_example_is_valid_without_warnings() {
    for path in examples() {
        let compiled = palisade::compile(load(&path)).unwrap_or_else(|report| {
            panic!(
                "{} is invalid:\n{}",
                path.display(),
                report.render(palisade::diagnostic::RenderOptions {
                    color: false,
                    width: 100
                })
            )
        });
        assert!(
            compiled.warnings.is_empty(),
            "{}: {:?}",
            path.display(),
            compiled.warnings
        );
    }
}

#[test]
fn every_example_is_accepted_by_the_json_schema() {
    let validator = schema_validator();
    for path in examples() {
        let instance = yaml_to_json(&std::fs::read_to_string(&path).unwrap());
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}

#[test]
fn the_json_schema_refuses_unknown_keys_and_bad_values() {
    let validator = schema_validator();
    let text = std::fs::read_to_string(examples()[0].clone()).unwrap();
    let mut instance = yaml_to_json(&text);
    instance["service"]["nmae"] = "x".into();
    assert!(!validator.is_valid(&instance), "unknown key accepted");
    let mut instance = yaml_to_json(&text);
    instance["auth"]["jwt"]["algorithm"] = "none".into();
    assert!(!validator.is_valid(&instance), "alg none accepted");
    let mut instance = yaml_to_json(&text);
    instance["throttle"]["anon"] = "30/fortnight".into();
    assert!(!validator.is_valid(&instance), "bad rate accepted");
}

#[test]
fn every_property_of_the_schema_has_a_description() {
    fn walk(value: &serde_json::Value, path: &str, missing: &mut Vec<String>) {
        if let Some(properties) = value.get("properties").and_then(|p| p.as_object()) {
            for (name, schema) in properties {
                let has = schema.get("description").is_some()
                    || schema.get("$ref").is_some_and(|r| {
                        let pointer = r.as_str().unwrap().trim_start_matches('#');
                        palisade::schema::json_schema()
                            .pointer(pointer)
                            .and_then(|s| s.get("description"))
                            .is_some()
                    });
                if !has {
                    missing.push(format!("{path}.{name}"));
                }
                walk(schema, &format!("{path}.{name}"), missing);
            }
        }
        if let Some(defs) = value.get("$defs").and_then(|d| d.as_object()) {
            for (name, schema) in defs {
                walk(schema, name, missing);
            }
        }
    }
    let mut missing = Vec::new();
    walk(palisade::schema::json_schema(), "", &mut missing);
    assert!(
        missing.is_empty(),
        "properties without a description: {missing:?}"
    );
}

#[test]
fn the_init_starter_is_valid_and_schema_clean() {
    let text = palisade::init::starter_spec("notes");
    let compiled = palisade::compile(SourceFile::new("palisade.yaml", text.clone()))
        .expect("starter is valid");
    assert!(compiled.warnings.is_empty());
    assert!(text.starts_with("# yaml-language-server: $schema=palisade.schema.json"));
    assert!(schema_validator().is_valid(&yaml_to_json(&text)));
}

#[test]
fn models_match_their_snapshots() {
    for path in examples() {
        let compiled = palisade::compile(load(&path)).expect("valid");
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        insta::assert_json_snapshot!(format!("model_{name}"), compiled.model);
    }
}

#[test]
fn schema_matches_its_snapshot() {
    insta::assert_snapshot!("schema", palisade::schema::to_string_pretty());
}
