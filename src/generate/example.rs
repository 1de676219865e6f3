//! Example values for columns: valid under every constraint of the model,
//! deterministic for a seed, and different for different seeds (so that
//! `unique` fields do not collide). Used by the generated projects' tests
//! and README.

use regex_syntax::hir::{Class, Hir, HirKind};
use serde_json::{Value, json};

use crate::formats;
use crate::model::{Column, ColumnType};

/// A valid value for `column`, or `None` when no value can be found (a
/// pattern this generator cannot satisfy within the length bounds, an
/// email or URL longer than `max_length` however short).
pub fn value(column: &Column, seed: u32) -> Option<Value> {
    let c = &column.constraints;
    if let Some(values) = &c.values {
        return values
            .get(seed as usize % values.len().max(1))
            .map(|v| json!(v));
    }
    let min_len = c.min_length.unwrap_or(0) as usize;
    let max_len = c.max_length.map_or(usize::MAX, |m| m as usize);
    let fits = |s: &String| (min_len..=max_len).contains(&s.chars().count());
    Some(match &column.ty {
        ColumnType::String => match &c.pattern {
            Some(p) => json!(matching(p, min_len, max_len, seed)?),
            None => {
                // The name and the seed; only the seed when that is too
                // long, so that seeds still give different values.
                let named = format!("{}-{seed}", column.name);
                let base = if named.chars().count() <= max_len {
                    named
                } else {
                    seed.to_string()
                };
                let mut s: String = base.chars().take(max_len).collect();
                while s.chars().count() < min_len {
                    s.push('x');
                }
                return fits(&s).then(|| json!(s));
            }
        },
        ColumnType::Integer => {
            let max = c.max.as_ref().and_then(|n| n.as_i64()).unwrap_or(i64::MAX);
            // Without `min`, from 0, or from `max` when that is negative.
            let min = c
                .min
                .as_ref()
                .and_then(|n| n.as_i64())
                .unwrap_or(0.min(max));
            json!(min.saturating_add(
                i64::from(seed) % (max.saturating_sub(min)).saturating_add(1).max(1)
            ))
        }
        ColumnType::Number => {
            let bound = |n: &Option<serde_json::Number>| n.as_ref().and_then(|n| n.as_f64());
            let (min, max) = match (bound(&c.min), bound(&c.max)) {
                (Some(min), Some(max)) => (min, max),
                (Some(min), None) => (min, min + 1000.0),
                (None, Some(max)) => (0f64.min(max - 1000.0), max),
                (None, None) => (0.0, 1000.0),
            };
            // Between the bounds, without computing `max - min` (which
            // overflows when the bounds are far apart).
            let t = f64::from(seed % 9 + 1) / 10.0;
            let v = (min * (1.0 - t) + max * t).clamp(min, max);
            json!(v)
        }
        ColumnType::Boolean => json!(seed % 2 == 0),
        ColumnType::Date => json!(format!("2026-01-{:02}", 1 + seed % 28)),
        ColumnType::Datetime => json!(format!("2026-01-{:02}T12:00:00Z", 1 + seed % 28)),
        ColumnType::Uuid | ColumnType::Ref { .. } => {
            json!(format!("00000000-0000-4000-8000-{:012x}", seed))
        }
        // The longest candidate that fits and that the server's own
        // pattern accepts (never a truncated address).
        ColumnType::Email => {
            let candidates = [
                format!("user{seed}@example.com"),
                format!("u{seed}@ex.co"),
                format!("{seed}@a.co"),
                format!("{seed}@a.b"),
            ];
            return first_valid(&candidates, formats::is_email, fits);
        }
        ColumnType::Url => {
            let candidates = [
                format!("https://example.com/{seed}"),
                format!("http://ex.co/{seed}"),
                format!("http://a/{seed}"),
                format!("http://{seed}"),
            ];
            return first_valid(&candidates, formats::is_url, fits);
        }
    })
}

/// The first of `candidates` that `fits` and that the server's own
/// format check (`valid`) accepts.
fn first_valid(
    candidates: &[String],
    valid: fn(&str) -> bool,
    fits: impl Fn(&String) -> bool,
) -> Option<Value> {
    candidates
        .iter()
        .find(|s| fits(s) && valid(s))
        .map(|s| json!(s))
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
    use crate::model::Constraints;

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

    fn column(ty: ColumnType, constraints: Constraints) -> Column {
        Column {
            name: "field".into(),
            ty,
            origin: crate::model::ColumnOrigin::Field,
            required: true,
            default: None,
            unique: None,
            pii: false,
            constraints,
            on_create: true,
            on_update: true,
            read: None,
            write: None,
            description: None,
            link: None,
            renamed_from: None,
            backfill: None,
        }
    }

    fn number(v: f64) -> Option<serde_json::Number> {
        serde_json::Number::from_f64(v)
    }

    #[test]
    fn numbers_stay_within_far_apart_or_negative_bounds() {
        let cases = [
            (Some(-f64::MAX), Some(f64::MAX)),
            (Some(-1e300), Some(f64::MAX)),
            (None, Some(-1.5)),
            (None, Some(-1e300)),
            (None, Some(5e-324)),
            (Some(f64::MAX), None),
            (Some(-1.5), None),
            (None, None),
        ];
        for (min, max) in cases {
            let c = Constraints {
                min: min.and_then(number),
                max: max.and_then(number),
                ..Constraints::default()
            };
            for seed in 0..10 {
                let v = value(&column(ColumnType::Number, c.clone()), seed);
                let v = v
                    .and_then(|v| v.as_f64())
                    .unwrap_or_else(|| panic!("{min:?} {max:?}"));
                assert!(v.is_finite(), "{min:?} {max:?}: {v}");
                assert!(
                    min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m),
                    "{min:?} {max:?}: {v}"
                );
            }
        }
    }

    #[test]
    fn integers_without_min_stay_below_a_negative_max() {
        for (min, max) in [
            (None, Some(-5)),
            (None, Some(i64::MIN)),
            (Some(i64::MIN), Some(i64::MAX)),
            (Some(3), Some(3)),
        ] {
            let c = Constraints {
                min: min.map(serde_json::Number::from),
                max: max.map(serde_json::Number::from),
                ..Constraints::default()
            };
            for seed in 0..10 {
                let v = value(&column(ColumnType::Integer, c.clone()), seed)
                    .and_then(|v| v.as_i64())
                    .unwrap();
                assert!(
                    min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m),
                    "{min:?} {max:?}: {v}"
                );
            }
        }
    }

    #[test]
    fn emails_and_urls_are_valid_within_max_length_or_none() {
        for (ty, pattern, shortest) in [
            (ColumnType::Email, formats::EMAIL_PATTERN, 4),
            (ColumnType::Url, formats::URL_PATTERN, 7),
        ] {
            let pattern = regex::Regex::new(pattern).unwrap();
            for max_length in [
                None,
                Some(3),
                Some(5),
                Some(8),
                Some(10),
                Some(12),
                Some(30),
            ] {
                let c = Constraints {
                    max_length,
                    ..Constraints::default()
                };
                for seed in [0, 1, 9, 12345] {
                    let v = value(&column(ty.clone(), c.clone()), seed);
                    match v.as_ref().and_then(|v| v.as_str()) {
                        Some(s) => {
                            assert!(pattern.is_match(s), "{ty:?} {max_length:?}: {s}");
                            assert!(
                                max_length.is_none_or(|m| s.len() <= m as usize),
                                "{ty:?} {max_length:?}: {s}"
                            );
                        }
                        // Only when even the shortest candidate is too long.
                        None => assert!(
                            max_length
                                .is_some_and(|m| (m as usize) < shortest + seed.to_string().len()),
                            "{ty:?} {max_length:?} {seed}: no value"
                        ),
                    }
                }
            }
        }
    }

    #[test]
    fn short_strings_still_differ_by_seed() {
        let c = Constraints {
            max_length: Some(3),
            ..Constraints::default()
        };
        let a = value(&column(ColumnType::String, c.clone()), 1);
        let b = value(&column(ColumnType::String, c), 2);
        assert_ne!(a, b);
    }
}
