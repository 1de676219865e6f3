//! SARIF 2.1.0 output of `palisade audit`, for GitHub code scanning and
//! other SARIF viewers.
//!
//! Stage: review. Input: an [`AuditReport`]. Output: one SARIF log with one
//! run whose driver lists every rule (so viewers can show its help), and one
//! result per finding; a silenced finding carries an `inSource`
//! suppression with the spec's reason. Invariant: the log is valid against
//! the official SARIF 2.1.0 schema (checked in `tests/review`); columns
//! count Unicode code points, as every palisade location does.

use serde_json::{Value, json};

use super::audit::AuditReport;
use super::findings::{Finding, Level, Rule};
use super::locate::Location;

pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn sarif_level(level: Level) -> &'static str {
    match level {
        Level::High => "error",
        Level::Medium => "warning",
        Level::Low | Level::Info => "note",
    }
}

/// GitHub's numeric scale: 7.0 and above is high, 4.0 medium, 0.1 low.
fn security_severity(level: Level) -> &'static str {
    match level {
        Level::High => "8.0",
        Level::Medium => "5.0",
        Level::Low => "3.0",
        Level::Info => "1.0",
    }
}

/// A file name as a relative URI reference: `/` separators, and
/// characters outside the unreserved set percent-encoded.
pub fn uri_reference(path: &str) -> String {
    let mut out = String::new();
    for byte in path.replace('\\', "/").bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn physical_location(location: &Location) -> Value {
    json!({
        "physicalLocation": {
            "artifactLocation": { "uri": uri_reference(&location.file) },
            "region": {
                "startLine": location.line,
                "startColumn": location.column,
                "endLine": location.end_line,
                "endColumn": location.end_column,
            }
        }
    })
}

fn rule(rule: Rule) -> Value {
    json!({
        "id": rule.code(),
        "name": format!("{rule:?}"),
        "shortDescription": { "text": rule.title() },
        "fullDescription": { "text": rule.why() },
        "help": {
            "text": format!("Why: {} Fix: {}", rule.why(), rule.fix()),
            "markdown": format!("**Why:** {}\n\n**Fix:** {}", rule.why(), rule.fix()),
        },
        "defaultConfiguration": { "level": sarif_level(rule.level()) },
        "properties": {
            "tags": ["security"],
            "precision": "high",
            "security-severity": security_severity(rule.level()),
        }
    })
}

fn result(finding: &Finding) -> Value {
    let index = Rule::ALL
        .iter()
        .position(|r| *r == finding.rule)
        .expect("every rule is listed");
    let mut result = json!({
        "ruleId": finding.code,
        "ruleIndex": index,
        "level": sarif_level(finding.severity),
        "message": { "text": finding.message },
        "locations": [physical_location(&finding.location)],
        "partialFingerprints": { "palisadeFinding/v1": finding.fingerprint },
        "properties": { "severity": finding.severity.name() },
    });
    if let Some(s) = &finding.silenced {
        result["suppressions"] = json!([{
            "kind": "inSource",
            "status": "accepted",
            "justification": s.reason,
            "location": physical_location(&s.location),
        }]);
    }
    result
}

/// The SARIF log of an audit.
pub fn sarif(report: &AuditReport) -> Value {
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "palisade",
                    "semanticVersion": report.version,
                    "version": report.version,
                    "rules": Rule::ALL.iter().map(|r| rule(*r)).collect::<Vec<_>>(),
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": report.findings.iter().map(result).collect::<Vec<_>>(),
        }]
    })
}

pub fn render_sarif(report: &AuditReport) -> String {
    let mut text = serde_json::to_string_pretty(&sarif(report)).expect("SARIF serialises");
    text.push('\n');
    text
}
