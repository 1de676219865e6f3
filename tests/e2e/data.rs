//! Valid values for columns, derived from their constraints in the model,
//! so a new example needs no new test code.

use palisade::model::{Column, ColumnType};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A string of `len` characters within the column's length bounds.
fn sized(column: &Column, base: String) -> String {
    let min = column.constraints.min_length.unwrap_or(0) as usize;
    let max = column
        .constraints
        .max_length
        .map_or(usize::MAX, |m| m as usize);
    let mut s = base;
    while s.chars().count() < min {
        s.push('x');
    }
    s.chars().take(max).collect()
}

/// A valid value for `column`; `refs` gives the id for a ref column.
pub fn valid(column: &Column, seed: usize) -> Value {
    let c = &column.constraints;
    if let Some(values) = &c.values {
        return json!(values[seed % values.len()]);
    }
    match &column.ty {
        ColumnType::String => match &c.pattern {
            Some(pattern) => json!(from_pattern(column, pattern)),
            None => json!(sized(column, format!("v{seed}-{}", unique()))),
        },
        ColumnType::Integer => {
            let min = c.min.as_ref().and_then(|n| n.as_i64()).unwrap_or(1);
            let max = c
                .max
                .as_ref()
                .and_then(|n| n.as_i64())
                .unwrap_or(min.saturating_add(1000));
            json!(min + (seed as i64 % (max - min + 1).max(1)))
        }
        ColumnType::Number => {
            let min = c.min.as_ref().and_then(|n| n.as_f64()).unwrap_or(0.0);
            let max = c
                .max
                .as_ref()
                .and_then(|n| n.as_f64())
                .unwrap_or(min + 1000.0);
            json!(min + (max - min) * ((seed % 7) as f64 + 1.0) / 10.0)
        }
        ColumnType::Boolean => json!(seed % 2 == 0),
        ColumnType::Date => json!(format!("2026-0{}-1{}", 1 + seed % 9, seed % 10)),
        ColumnType::Datetime => json!(format!("2026-01-1{}T12:3{}:00Z", seed % 10, seed % 10)),
        ColumnType::Uuid => json!(uuid::Uuid::new_v4().to_string()),
        ColumnType::Email => json!(sized(column, format!("u{}@example.com", &unique()[..12]))),
        ColumnType::Url => json!(sized(
            column,
            format!("https://example.com/{}", &unique()[..12])
        )),
        ColumnType::Ref { .. } => panic!("refs are chosen by the caller"),
    }
}

/// A string matching `pattern` and the column's length bounds.
fn from_pattern(column: &Column, pattern: &str) -> String {
    let anchored = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
    let min = column.constraints.min_length.unwrap_or(0) as usize;
    let max = column
        .constraints
        .max_length
        .map_or(usize::MAX, |m| m as usize);
    let strategy =
        proptest::string::string_regex(pattern).expect("a pattern proptest can generate from");
    let mut runner = TestRunner::default();
    for _ in 0..1000 {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        let n = s.chars().count();
        if anchored.is_match(&s) && n >= min && n <= max && !s.contains('\0') {
            return s;
        }
    }
    panic!("could not generate a value for pattern {pattern}");
}

/// A value of the wrong type for `column`.
pub fn wrong_type(column: &Column) -> Value {
    match column.ty {
        ColumnType::Integer | ColumnType::Number | ColumnType::Boolean => json!("a string"),
        _ => json!(12345),
    }
}
