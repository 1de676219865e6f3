//! Small helpers for generated row code: the three states of a field in a
//! PATCH body, and server timestamps.
//!
//! Invariant: a PATCH field that is absent leaves the column as it is; an
//! explicit `null` clears it (refused by the generated checks for required
//! fields); a value sets it. `Option<T>` cannot tell the first two apart.

use std::time::{SystemTime, UNIX_EPOCH};

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Deserializer, Serialize};

use super::db::{Kind, Sql, ToValue};

/// One field of a PATCH body.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    /// Not in the body: unchanged.
    #[default]
    Absent,
    /// `null`: set to NULL.
    Null,
    /// A new value.
    Value(T),
}

impl<T> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }

    /// The new value as an `Option` (`None` for `Null`); `None` for `Absent` too.
    pub fn as_option(&self) -> Option<&T> {
        match self {
            Patch::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Appends `, column = ?` (the value bound) or `, column = NULL` to an
    /// UPDATE's assignments, and nothing when the field was absent.
    /// `column` is a quoted SQL identifier from the generated code, of
    /// `kind`.
    pub fn push_set(&self, qb: &mut Sql, column: &str, kind: Kind)
    where
        T: ToValue,
    {
        match self {
            Patch::Absent => {}
            Patch::Null => {
                qb.push(", ").push(column).push(" = NULL");
            }
            Patch::Value(v) => {
                qb.push(", ").push(column).push(" = ").bind(v, kind);
            }
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(v) => Patch::Value(v),
            None => Patch::Null,
        })
    }
}

/// The value of a field marked `pii: true`: the same in JSON and SQL as
/// the value it wraps, and `[redacted]` in `Debug`, so that a row or a
/// body logged or printed in a panic never shows it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pii<T>(pub T);

impl<T> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> Deref for Pii<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Pii<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: AsRef<str>> AsRef<str> for Pii<T> {
    fn as_ref(&self) -> &str {
        self.0.as_ref()
    }
}

impl<T> From<T> for Pii<T> {
    fn from(value: T) -> Pii<T> {
        Pii(value)
    }
}

/// The current time as RFC 3339 UTC with milliseconds
/// (`2026-01-31T12:00:00.000Z`), which sorts as text in time order.
pub fn now() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_timestamp(since.as_secs(), since.subsec_millis())
}

fn format_timestamp(secs: u64, millis: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{d:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default)]
        a: Patch<i64>,
    }

    #[test]
    fn patch_tells_absent_from_null() {
        let parse = |s: &str| serde_json::from_str::<Body>(s).unwrap().a;
        assert_eq!(parse("{}"), Patch::Absent);
        assert_eq!(parse(r#"{"a":null}"#), Patch::Null);
        assert_eq!(parse(r#"{"a":3}"#), Patch::Value(3));
        assert!(serde_json::from_str::<Body>(r#"{"a":"x"}"#).is_err());
    }

    #[test]
    fn patch_sets_only_what_was_sent() {
        use crate::db::Engine;
        for (engine, set) in [(Engine::Sqlite, "?"), (Engine::Postgres, "$1::date")] {
            let mut qb = Sql::new(engine, "UPDATE t SET \"updated_at\" = 'now'");
            Patch::<String>::Absent.push_set(&mut qb, "\"a\"", Kind::Text);
            Patch::<String>::Null.push_set(&mut qb, "\"b\"", Kind::Uuid);
            Patch::Value("2026-01-01".to_string()).push_set(&mut qb, "\"c\"", Kind::Date);
            assert_eq!(
                qb.text(),
                format!("UPDATE t SET \"updated_at\" = 'now', \"b\" = NULL, \"c\" = {set}")
            );
        }
    }

    #[test]
    fn pii_is_transparent_but_never_printed() {
        let v: Pii<String> = serde_json::from_str("\"ada@example.com\"").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"ada@example.com\"");
        assert_eq!(format!("{v:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(v.clone())), "Some([redacted])");
        assert_eq!(v.len(), 15);
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_timestamp(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_timestamp(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(
            format_timestamp(1_798_761_599, 999),
            "2026-12-31T23:59:59.999Z"
        );
        assert!(now().ends_with('Z'));
        // What the OpenAPI document promises for `created_at`/`updated_at`.
        assert!(super::super::formats::is_datetime(&now()));
        assert!(super::super::formats::is_datetime(&format_timestamp(0, 0)));
    }
}
