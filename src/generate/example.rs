//! Example values for columns: valid under every constraint of the model,
//! deterministic for a seed, and different for different seeds (so that
//! `unique` fields do not collide). Used by the generated projects' tests
//! and README.

use regex_syntax::hir::{Class, Hir, HirKind};
use serde_json::{Value, json};

use crate::model::{Column, ColumnType};

/// A valid value for `column`, or `None` when no value can be found (a
/// pattern this generator cannot satisfy within the length bounds).
pub fn value(column: &Column, seed: u32) -> Option<Value> {
    let c = &column.constraints;
    if let Some(values) = &c.values {
        return values
            .get(seed as usize % values.len().max(1))
            .map(|v| json!(v));
    }
    let min_len = c.min_length.unwrap_or(0) as usize;
    let max_len = c.max_length.map_or(usize::MAX, |m| m as usize);
    let sized = |base: String| -> Option<Value> {
        let mut s = base;
        while s.chars().count() < min_len {
            s.push('x');
        }
        let s: String = s.chars().take(max_len).collect();
        (s.chars().count() >= min_len).then(|| json!(s))
    };
    Some(match &column.ty {
        ColumnType::String => match &c.pattern {
            Some(p) => json!(matching(p, min_len, max_len, seed)?),
            None => return sized(format!("{}-{seed}", column.name)),
        },
        ColumnType::Integer => {
            let min = c.min.as_ref().and_then(|n| n.as_i64()).unwrap_or(0);
            let max = c.max.as_ref().and_then(|n| n.as_i64()).unwrap_or(i64::MAX);
            json!(min.saturating_add(
                i64::from(seed) % (max.saturating_sub(min).saturating_add(1)).max(1)
            ))
        }
        ColumnType::Number => {
            let min = c.min.as_ref().and_then(|n| n.as_f64()).unwrap_or(0.0);
            let max = c
                .max
                .as_ref()
                .and_then(|n| n.as_f64())
                .unwrap_or(min + 1000.0);
            json!(min + (max - min) * f64::from(seed % 9 + 1) / 10.0)
        }
        ColumnType::Boolean => json!(seed % 2 == 0),
        ColumnType::Date => json!(format!("2026-01-{:02}", 1 + seed % 28)),
        ColumnType::Datetime => json!(format!("2026-01-{:02}T12:00:00Z", 1 + seed % 28)),
        ColumnType::Uuid | ColumnType::Ref { .. } => {
            json!(format!("00000000-0000-4000-8000-{:012x}", seed))
        }
        ColumnType::Email => return sized(format!("user{seed}@example.com")),
        ColumnType::Url => return sized(format!("https://example.com/{seed}")),
    })
}

/// A string matching `pattern` (anchored) with a length in bounds.
pub fn matching(pattern: &str, min_len: usize, max_len: usize, seed: u32) -> Option<String> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let check = regex::Regex::new(&format!("^(?:{pattern})$")).ok()?;
    (0..64).find_map(|extra| {
        let mut out = String::new();
        generate(&hir, extra, seed, &mut out);
        let n = out.chars().count();
        (n >= min_len && n <= max_len && check.is_match(&out)).then_some(out)
    })
}

/// Appends a string matching `hir`: repetitions run `min + extra` times
/// (within their maximum), classes pick a character by `seed`.
fn generate(hir: &Hir, extra: u32, seed: u32, out: &mut String) {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => out.push_str(&String::from_utf8_lossy(&lit.0)),
        HirKind::Class(Class::Unicode(class)) => {
            let ranges = class.ranges();
            let total: u32 = ranges
                .iter()
                .map(|r| r.end() as u32 - r.start() as u32 + 1)
                .sum();
            let mut pick = seed % total.max(1);
            for r in ranges {
                let span = r.end() as u32 - r.start() as u32 + 1;
                if pick < span {
                    if let Some(c) = char::from_u32(r.start() as u32 + pick) {
                        out.push(c);
                    }
                    return;
                }
                pick -= span;
            }
        }
        HirKind::Class(Class::Bytes(class)) => {
            if let Some(r) = class.ranges().first() {
                out.push(char::from(r.start()));
            }
        }
        HirKind::Repetition(rep) => {
            let count = rep
                .min
                .saturating_add(extra)
                .min(rep.max.unwrap_or(u32::MAX));
            for i in 0..count {
                generate(&rep.sub, extra, seed.wrapping_add(i).wrapping_mul(7), out);
            }
        }
        HirKind::Capture(cap) => generate(&cap.sub, extra, seed, out),
        HirKind::Concat(parts) => {
            for (i, p) in parts.iter().enumerate() {
                generate(p, extra, seed.wrapping_add(i as u32), out);
            }
        }
        HirKind::Alternation(alts) => {
            if let Some(first) = alts.first() {
                generate(first, extra, seed, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_patterns_and_bounds() {
        let cases = [
            ("[a-z0-9-]+", 3, 40),
            ("[A-Z0-9-]{4,20}", 0, usize::MAX),
            ("[a-z]{3}", 0, usize::MAX),
            ("(foo|bar)-[0-9]{2}", 0, 10),
            ("\\d+", 5, 5),
        ];
        for (pattern, min, max) in cases {
            for seed in 0..5 {
                let v = matching(pattern, min, max, seed).unwrap_or_else(|| panic!("{pattern}"));
                let n = v.chars().count();
                assert!(n >= min && n <= max, "{pattern}: {v}");
                assert!(
                    regex::Regex::new(&format!("^(?:{pattern})$"))
                        .unwrap()
                        .is_match(&v),
                    "{pattern}: {v}"
                );
            }
        }
        assert_ne!(matching("[a-z]{3}", 0, 9, 1), matching("[a-z]{3}", 0, 9, 2));
        assert_eq!(matching("[a-z]{3}", 0, 2, 1), None);
    }
}
