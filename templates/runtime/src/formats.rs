// The string formats the server checks: the patterns the OpenAPI document
// states and the functions that decide a value. This is the one
// implementation of each format: the server's checks call these
// functions, and Palisade itself includes this very file (its `formats`
// module), so the spec's defaults, the document's `pattern`s and the
// generated examples are decided by the same code as requests and cannot
// disagree. Each pattern is written in the common subset of ECMA-262 (JSON
// Schema) and Rust `regex` syntax: no lookaround, no backreferences, `$`
// only at the end. The file depends on std and `regex` only.

use std::sync::LazyLock;

use regex::Regex;

/// `local@domain`: dot-atoms of at most 64 characters each, then a domain
/// of at least two DNS labels (letters, digits, inner hyphens, 1 to 63
/// characters each). 254 characters in all (`EMAIL_MAX_LENGTH`).
pub const EMAIL_PATTERN: &str = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64})*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";

/// The longest email address accepted (RFC 5321's path limit less the
/// angle brackets).
pub const EMAIL_MAX_LENGTH: usize = 254;

/// An absolute `http` or `https` URL (scheme in any case) with a DNS host
/// name (no user info, no IP literal in brackets), an optional port from 0
/// to 65535, then a path and query, and a fragment, of the characters
/// RFC 3986 allows there (unreserved, sub-delims, `:`, `@`, `/`, `?`, and
/// `%` only before two hex digits: no spaces, controls, brackets, braces,
/// quotes, `\`, `^`, `` ` `` or `|`, which must be percent-encoded).
pub const URL_PATTERN: &str = r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(:([0-9]{1,4}|[0-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?([/?]([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?(#([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$";

/// The longest URL accepted.
pub const URL_MAX_LENGTH: usize = 2048;

/// RFC 3339 `full-date` with a year from 0001 to 9999 (the document's
/// `format: date` alone would admit year 0000): month 01 to 12, day 01 to
/// 31. [`is_date`] also checks that the day exists in its month.
pub const DATE_PATTERN: &str = r"^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

/// RFC 3339 `date-time`, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, with
/// the year of [`DATE_PATTERN`], a second of 00 to 60 (a leap second), at
/// most nine digits of fraction (nanoseconds; `format: date-time` alone
/// would admit any number) and `T`/`Z` in either case.
pub const DATETIME_PATTERN: &str = r"^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$";

fn compiled(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the format patterns compile (tested)")
}

/// An email address: [`EMAIL_PATTERN`], at most [`EMAIL_MAX_LENGTH`]
/// characters.
pub fn is_email(v: &str) -> bool {
    static EMAIL: LazyLock<Regex> = LazyLock::new(|| compiled(EMAIL_PATTERN));
    v.len() <= EMAIL_MAX_LENGTH && EMAIL.is_match(v)
}

/// An absolute http or https URL: [`URL_PATTERN`], at most
/// [`URL_MAX_LENGTH`] characters.
pub fn is_url(v: &str) -> bool {
    static URL: LazyLock<Regex> = LazyLock::new(|| compiled(URL_PATTERN));
    v.len() <= URL_MAX_LENGTH && URL.is_match(v)
}

/// Hyphenated `8-4-4-4-12` hex, in either case.
pub fn is_uuid(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Whether the `YYYY-MM-DD` at the start of `v` (already matched by a
/// pattern) is a day of the calendar: no 30 February, 29 February only in
/// leap years.
fn day_exists(v: &str) -> bool {
    let number = |s: &str| s.parse::<u32>().unwrap_or(0);
    let (y, m, d) = (number(&v[..4]), number(&v[5..7]), number(&v[8..10]));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 31,
    };
    d <= days
}

/// A calendar date: [`DATE_PATTERN`], on a day that exists.
pub fn is_date(v: &str) -> bool {
    static DATE: LazyLock<Regex> = LazyLock::new(|| compiled(DATE_PATTERN));
    DATE.is_match(v) && day_exists(v)
}

/// An RFC 3339 date-time: [`DATETIME_PATTERN`], on a day that exists,
/// whose instant falls in the years 0001 to 9999 in UTC too (so that every
/// engine stores it, and answers it in UTC, alike).
pub fn is_datetime(v: &str) -> bool {
    static DATETIME: LazyLock<Regex> = LazyLock::new(|| compiled(DATETIME_PATTERN));
    // The pattern is ASCII only, so the date is the first ten bytes.
    DATETIME.is_match(v) && day_exists(v) && utc_in_range(v)
}

/// Whether a matched date-time stays within 0001-01-01 and 9999-12-31
/// once its offset is applied.
fn utc_in_range(v: &str) -> bool {
    let number = |s: &str| s.parse::<i32>().unwrap_or(0);
    let offset = match v.as_bytes()[v.len() - 1] {
        b'Z' | b'z' => 0,
        _ => {
            let o = &v[v.len() - 6..];
            let minutes = number(&o[1..3]) * 60 + number(&o[4..6]);
            if o.starts_with('-') {
                -minutes
            } else {
                minutes
            }
        }
    };
    let utc = number(&v[11..13]) * 60 + number(&v[14..16]) - offset;
    match &v[..10] {
        "0001-01-01" => utc >= 0,
        "9999-12-31" => utc < 24 * 60,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        for ok in ["a@b.co", "first.last+tag@sub.example.com"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.co",
            "a@@b.co",
            "a..b@c.co",
            "a..b@example.com",
            ".a@b.co",
            "a.@b.co",
            "a b@c.co",
            "a@-b.co",
            "a@b.co\0",
            "a@b.co\n",
            "\u{e4}@b.co",
        ] {
            assert!(!is_email(bad), "{bad:?}");
        }
        for ok in [
            "https://example.com",
            "http://a.b:8080/x?y#z",
            "HTTPS://example.com:443/",
            "https://localhost",
            "http://x.y:65535",
            "https://x.y/a-b_c.d~e/%20?q=1&r=a,b;c=d:e@f/g?h#frag/?:@!$&'()*+,;=",
        ] {
            assert!(is_url(ok), "{ok}");
        }
        for bad in [
            "ftp://x.y",
            "file:///etc/passwd",
            "https://",
            "https://user:pw@x.y/",
            "https://x y.z",
            "https://x.y:99999",
            "https://x.y:65536",
            "https://[::1]/",
            "https://ex\u{e4}mple.com",
            "https://x.y/\u{e4}",
            "https://x.y/\n",
            "https://x.y\n",
            "HtTp://M.E?n[Q,U",
            "https://x.y/a b",
            "https://x.y/{a}",
            "https://x.y/%zz",
            "https://x.y/#a#b",
            "https://x.y/\"",
            "https://x.y:",
            "//x.y",
            "javascript:alert(1)",
        ] {
            assert!(!is_url(bad), "{bad:?}");
        }
        assert!(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_uuid("123e4567e89b12d3a456426614174000"));
        assert!(!is_uuid("{123e4567-e89b-12d3-a456-426614174000}"));
        for ok in ["2024-02-29", "2000-02-29", "0001-01-01", "9999-12-31"] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2024-04-31",
            "2024-13-01",
            "0000-01-01",
            "2024-1-01",
            "+024-01-01",
            "2024-01-01T",
            "2024-02-30",
            "10000-01-01",
            "2024-01-01\n",
            "２０２４-01-01",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
        for ok in [
            "2024-05-01T12:00:00Z",
            "2024-05-01t12:00:00.123456789+02:00",
            "2016-12-31T23:59:60-00:00",
            "0001-01-01T00:00:00.1Z",
            "9999-12-31T23:59:59.999999999z",
            "0001-01-01T01:00:00+01:00",
            "9999-12-31T18:59:00-05:00",
        ] {
            assert!(is_datetime(ok), "{ok}");
        }
        for bad in [
            "2024-05-01 12:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:00",
            "2024-05-01T12:00:00+2:00",
            "2024-05-01T12:00:00.Z",
            "2024-02-30T12:00:00Z",
            "2024-05-01T12:00Z",
            "2024-05-01T12:00:00é",
            "0000-01-01T00:00:00Z",
            "2024-05-01T12:00:00.1234567890Z",
            "2024-05-01T12:00:61Z",
            "2024-05-01T12:00:00+24:00",
            "2024-05-01T12:00:00Z\n",
            // Outside the years 0001 to 9999 in UTC.
            "0001-01-01T00:30:00+01:00",
            "9999-12-31T23:00:00-05:00",
        ] {
            assert!(!is_datetime(bad), "{bad}");
        }
    }

    /// Every pattern is ECMA-262 as well as Rust syntax: the constructs
    /// that differ between the two are absent.
    #[test]
    fn patterns_are_portable() {
        for pattern in [EMAIL_PATTERN, URL_PATTERN, DATE_PATTERN, DATETIME_PATTERN] {
            assert!(pattern.starts_with('^') && pattern.ends_with('$'));
            for construct in ["(?", "\\d", "\\w", "\\s", "\\b", "\\p", "\\A", "\\z"] {
                assert!(!pattern.contains(construct), "{construct} in {pattern}");
            }
        }
    }
}
