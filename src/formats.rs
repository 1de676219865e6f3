//! Checks of the string formats a field can have (date, datetime, uuid,
//! email, url), used to validate defaults in the spec.

use crate::spec::FieldType;

/// Checks `s` against the format of `ty`; `Err` says what is wrong.
pub fn check(ty: FieldType, s: &str) -> Result<(), String> {
    let ok = match ty {
        FieldType::Date => is_date(s),
        FieldType::Datetime => is_datetime(s),
        FieldType::Uuid => is_uuid(s),
        FieldType::Email => is_email(s),
        FieldType::Url => is_url(s),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("is not a valid {}", ty.name()))
    }
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

pub fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts[..] else { return false };
    let (Some(y), Some(m), Some(d)) = (digits(y, 4), digits(m, 2), digits(d, 2)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

pub fn is_datetime(s: &str) -> bool {
    let Some((date, rest)) = s.split_once(['T', 't']) else {
        return false;
    };
    if !is_date(date) || rest.len() < 9 {
        return false;
    }
    let (time, zone) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, "")
    } else if rest.len() > 6 && matches!(rest.as_bytes()[rest.len() - 6], b'+' | b'-') {
        rest.split_at(rest.len() - 6)
    } else {
        return false;
    };
    if !zone.is_empty() {
        let (Some(h), Some(m)) = (digits(&zone[1..3], 2), digits(&zone[4..6], 2)) else {
            return false;
        };
        if &zone[3..4] != ":" || h > 23 || m > 59 {
            return false;
        }
    }
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let parts: Vec<&str> = hms.split(':').collect();
    let [h, m, sec] = parts[..] else { return false };
    matches!((digits(h, 2), digits(m, 2), digits(sec, 2)), (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s <= 60)
        && !fraction.is_empty()
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

pub fn is_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !r.contains(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_date("2024-02-29"));
        assert!(!is_date("2023-02-29"));
        assert!(!is_date("2023-13-01"));
        assert!(is_datetime("2026-01-31T12:00:00Z"));
        assert!(is_datetime("2026-01-31T12:00:00.123+02:00"));
        assert!(!is_datetime("2026-01-31 12:00"));
        assert!(is_uuid("6f1c1f8e-33b9-4c59-9d6a-6a4f7c6a1d2e"));
        assert!(!is_uuid("6f1c1f8e33b94c599d6a6a4f7c6a1d2e"));
        assert!(is_email("a@example.com"));
        assert!(!is_email("a@b"));
        assert!(is_url("https://example.com/x"));
        assert!(!is_url("ftp://example.com"));
        assert_eq!(
            check(FieldType::Date, "x"),
            Err("is not a valid date".into())
        );
    }
}
