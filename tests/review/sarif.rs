//! SARIF output against the official SARIF 2.1.0 JSON Schema.
//!
//! `sarif-schema-2.1.0.json` beside this file is the OASIS schema
//! (`$id` .../oasis-tcs/sarif-spec/.../Schemata/sarif-schema-2.1.0.json),
//! byte for byte as shipped in the serde-sarif 0.8.0 crate; it is vendored
//! so the test needs no network. That copy predates OASIS errata 01, which
//! fixed one typo: the `language` pattern
//! `^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$` (a stray `]`, which is not a
//! valid regular expression, so a validator that checks the schema refuses
//! it) became `^[a-zA-Z]{2}(-[a-zA-Z]{2})?$`. [`validator`] applies that
//! erratum and nothing else.

use palisade::review::{self, AuditFormat};

use super::{audit, examples, load_file, root};

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("tests/review/sarif-schema-2.1.0.json"))
        .expect("the vendored schema is readable");
    let broken = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
    assert_eq!(text.matches(broken).count(), 2, "the erratum applies");
    let text = text.replace(broken, r#""^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#);
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    assert_eq!(
        schema["title"],
        "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    );
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn sarif_of(file: &str) -> serde_json::Value {
    let text = review::render_audit(&audit(&load_file(file)), AuditFormat::Sarif, false);
    serde_json::from_str(&text).expect("SARIF output is JSON")
}

#[test]
fn sarif_of_every_example_is_valid_against_the_2_1_0_schema() {
    let validator = validator();
    let mut files = examples();
    files.push("tests/review/fixtures/silenced.yaml".into());
    for file in files {
        let log = sarif_of(&file);
        let errors: Vec<String> = validator
            .iter_errors(&log)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{file}:\n{}", errors.join("\n"));
    }
}

#[test]
fn the_schema_check_catches_a_broken_log() {
    let validator = validator();
    let mut log = sarif_of("examples/shop.yaml");
    log["runs"][0]["results"][0]["level"] = "severe".into();
    assert!(!validator.is_valid(&log));
    let mut log = sarif_of("examples/shop.yaml");
    log.as_object_mut().unwrap().remove("version");
    assert!(!validator.is_valid(&log));
}

#[test]
fn results_point_at_rules_and_carry_suppressions() {
    let log = sarif_of("tests/review/fixtures/silenced.yaml");
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    let report = audit(&load_file("tests/review/fixtures/silenced.yaml"));
    assert_eq!(results.len(), report.findings.len());
    for (result, finding) in results.iter().zip(&report.findings) {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert_eq!(result["ruleId"], finding.code);
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["startLine"], finding.location.line);
        assert_eq!(region["startColumn"], finding.location.column);
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "tests/review/fixtures/silenced.yaml"
        );
        match &finding.silenced {
            Some(s) => {
                assert_eq!(result["suppressions"][0]["kind"], "inSource");
                assert_eq!(
                    result["suppressions"][0]["justification"],
                    s.reason.as_str()
                );
            }
            None => assert!(result.get("suppressions").is_none()),
        }
    }
    assert!(results.iter().any(|r| r.get("suppressions").is_some()));
    for rule in rules {
        assert_eq!(rule["properties"]["tags"][0], "security");
        assert!(rule["properties"]["security-severity"].is_string());
    }
}

#[test]
fn uris_are_relative_references() {
    assert_eq!(
        palisade::review::sarif::uri_reference("specs\\my spec.yaml"),
        "specs/my%20spec.yaml"
    );
}
