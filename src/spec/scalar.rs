//! Typed scalar values of the spec language: rates, sizes, origins.
//!
//! Stage: parse. Each type is written in the YAML as one string and parsed
//! here into a typed value, so later stages never see the raw text. Every
//! type exposes the regular expression that editors (through the JSON Schema)
//! use, and a `FromStr` whose error message is what a user reads in a
//! diagnostic when the string does not match.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The unit of a [`Rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Per {
    Second,
    Minute,
    Hour,
    Day,
}

impl Per {
    /// The length of the unit in seconds.
    pub fn seconds(self) -> u32 {
        match self {
            Per::Second => 1,
            Per::Minute => 60,
            Per::Hour => 3600,
            Per::Day => 86_400,
        }
    }

    /// The long name used in canonical output (`30/minute`).
    pub fn name(self) -> &'static str {
        match self {
            Per::Second => "second",
            Per::Minute => "minute",
            Per::Hour => "hour",
            Per::Day => "day",
        }
    }
}

/// A request rate such as `30/minute` or `5/s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// Requests allowed per period; never zero.
    pub count: u32,
    pub per: Per,
}

impl Rate {
    /// The pattern the JSON Schema publishes for editors.
    pub const PATTERN: &'static str =
        r"^[0-9]+ ?/ ?(second|seconds|sec|s|minute|minutes|min|m|hour|hours|h|day|days|d)$";

    pub const fn new(count: u32, per: Per) -> Rate {
        Rate { count, per }
    }

    /// Requests per second, for comparing rates of different units.
    pub fn per_second(self) -> f64 {
        f64::from(self.count) / f64::from(self.per.seconds())
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.per.name())
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Rate, String> {
        let expected = "expected a rate such as `30/minute` (units: second, minute, hour, day or s, min, h, d)";
        let Some((count, unit)) = s.split_once('/') else {
            return Err(format!("`{s}` is not a rate: {expected}"));
        };
        let count = count.trim();
        let count: u32 = match count.parse() {
            Ok(n) => n,
            Err(_) if !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(format!(
                    "the count of `{s}` is too large (at most {})",
                    u32::MAX
                ));
            }
            Err(_) => {
                return Err(format!(
                    "`{s}` does not start with a whole number: {expected}"
                ));
            }
        };
        if count == 0 {
            return Err(format!(
                "`{s}` allows no request at all; a rate needs a count of at least 1"
            ));
        }
        let per = match unit.trim() {
            "second" | "seconds" | "sec" | "s" => Per::Second,
            "minute" | "minutes" | "min" | "m" => Per::Minute,
            "hour" | "hours" | "h" => Per::Hour,
            "day" | "days" | "d" => Per::Day,
            other => {
                let hint = crate::suggest::did_you_mean(
                    other,
                    ["second", "minute", "hour", "day"].iter().copied(),
                )
                .map(|s| format!("; did you mean `{count}/{s}`?"))
                .unwrap_or_default();
                return Err(format!("`{other}` is not a unit of time: {expected}{hint}"));
            }
        };
        Ok(Rate { count, per })
    }
}

/// A size in bytes, written `65536`, `64KiB` or `1MiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size(pub u64);

impl Size {
    pub const PATTERN: &'static str = r"^[0-9]+ ?(B|KiB|MiB)?$";

    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b != 0 && b % (1024 * 1024) == 0 {
            write!(f, "{}MiB", b / (1024 * 1024))
        } else if b != 0 && b % 1024 == 0 {
            write!(f, "{}KiB", b / 1024)
        } else {
            write!(f, "{b}")
        }
    }
}

impl FromStr for Size {
    type Err = String;

    fn from_str(s: &str) -> Result<Size, String> {
        let t = s.trim();
        let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(digits_end);
        if num.is_empty() {
            return Err(format!(
                "`{s}` is not a size: expected a number of bytes with an optional `KiB` or `MiB` suffix, such as `64KiB`"
            ));
        }
        let factor: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1024,
            "MiB" => 1024 * 1024,
            "KB" | "kB" | "kb" | "K" | "k" | "kib" => {
                return Err(format!(
                    "`{unit}` is not a supported unit; did you mean `{num}KiB`?"
                ));
            }
            "MB" | "mb" | "M" | "m" | "mib" => {
                return Err(format!(
                    "`{unit}` is not a supported unit; did you mean `{num}MiB`?"
                ));
            }
            other => {
                return Err(format!(
                    "`{other}` is not a size unit: expected bytes with an optional `KiB` or `MiB` suffix"
                ));
            }
        };
        num.parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(factor))
            .map(Size)
            .ok_or_else(|| format!("`{s}` is too large"))
    }
}

/// A CORS origin: `*` or an exact `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// Any origin (never allowed together with credentials).
    Any,
    Exact {
        scheme: Scheme,
        host: String,
        /// Only when it differs from the scheme's default port.
        port: Option<u16>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    Http,
    Https,
}

impl Origin {
    /// The shape editors check: `*`, or `http`/`https`, a lowercase DNS
    /// host (or a bracketed IP literal) and an optional port, with nothing
    /// after it (no path, no trailing slash). [`Origin::from_str`] is the
    /// real check and accepts nothing this pattern refuses; it also refuses
    /// a default port, which the pattern admits.
    pub const PATTERN: &'static str = r"^(\*|https?://([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*|\[[^/?#@*]*\])(:[0-9]+)?)$";
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Any => f.write_str("*"),
            Origin::Exact { scheme, host, port } => {
                let scheme = match scheme {
                    Scheme::Http => "http",
                    Scheme::Https => "https",
                };
                write!(f, "{scheme}://{host}")?;
                if let Some(port) = port {
                    write!(f, ":{port}")?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for Origin {
    type Err = String;

    fn from_str(s: &str) -> Result<Origin, String> {
        if s == "*" {
            return Ok(Origin::Any);
        }
        if s.eq_ignore_ascii_case("null") {
            return Err(
                "`null` is not an origin that can be trusted: sandboxed frames and local files all send it"
                    .to_string(),
            );
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(format!(
                "`{s}` is not an origin: expected `scheme://host[:port]`, such as `https://app.example.com`"
            ));
        };
        let scheme = match scheme {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            other if other.eq_ignore_ascii_case("https") || other.eq_ignore_ascii_case("http") => {
                return Err(format!(
                    "browsers send the scheme in lowercase; write `{}://{rest}`",
                    other.to_ascii_lowercase()
                ));
            }
            other => {
                return Err(format!(
                    "`{other}` is not a web scheme: expected `http` or `https`"
                ));
            }
        };
        if rest.ends_with('/') && !rest[..rest.len() - 1].contains(['/', '?', '#']) {
            return Err(format!(
                "an origin has no trailing slash; write `{}`",
                s.trim_end_matches('/')
            ));
        }
        if rest.contains(['/', '?', '#']) {
            return Err(format!(
                "`{s}` has a path, query or fragment; an origin is only `scheme://host[:port]`"
            ));
        }
        if rest.contains('@') {
            return Err(format!(
                "`{s}` carries credentials; an origin is only `scheme://host[:port]`"
            ));
        }
        if rest.contains('*') {
            return Err(format!(
                "`{s}` contains a wildcard; list each origin exactly (pattern matching of origins is how suffix and prefix tricks get in)"
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => {
                let port: u16 = p
                    .parse()
                    .ok()
                    .filter(|n| *n != 0 && p.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| format!("`{p}` is not a port number (1-65535)"))?;
                (h, Some(port))
            }
            _ => (rest, None),
        };
        if host.is_empty() {
            return Err(format!("`{s}` has no host"));
        }
        let valid_host = (host.starts_with('[') && host.ends_with(']'))
            || host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !valid_host {
            return Err(format!("`{host}` is not a valid host name"));
        }
        if host.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "browsers send the host in lowercase, so `{host}` would never match; write `{}`",
                s.to_ascii_lowercase()
            ));
        }
        let default_port = match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        if port == Some(default_port) {
            return Err(format!(
                "browsers omit the default port, so `{s}` would never match; write `{}`",
                s.trim_end_matches(&format!(":{default_port}"))
            ));
        }
        Ok(Origin::Exact {
            scheme,
            host: host.to_string(),
            port,
        })
    }
}

macro_rules! string_scalar {
    ($ty:ty, $name:literal, $description:literal, $shape:literal) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }

            // Inline, so that an optional one is `"type": ["string",
            // "null"]` with the pattern beside it: a malformed value then
            // fails on the pattern (and editors show `patternErrorMessage`,
            // what the value looks like), not on an `anyOf` whose last
            // branch says it "is not of type 'null'".
            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": <$ty>::PATTERN,
                    "patternErrorMessage": $shape,
                    "description": $description,
                })
            }
        }
    };
}

string_scalar!(
    Rate,
    "Rate",
    "A request rate: `N/second|minute|hour|day` (or `s|min|h|d`), such as `30/minute`.",
    "a rate is a whole number of requests, `/` and a unit of time, such as `30/minute` (units: second, minute, hour, day or s, min, h, d)"
);
string_scalar!(
    Origin,
    "Origin",
    "An exact origin `scheme://host[:port]` (lowercase, no path, no default port), or `*` without credentials.",
    "an origin is exactly `http` or `https`, `://`, a lowercase host and an optional port, with no path and no trailing slash, such as `https://app.example.com`"
);

// Sizes are also accepted as plain integers (bytes).
impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Bytes(n) => Ok(Size(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl JsonSchema for Size {
    fn schema_name() -> Cow<'static, str> {
        "Size".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A size in bytes, with an optional `KiB` or `MiB` suffix, such as `64KiB`.",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": Size::PATTERN }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_long_and_short_forms() {
        let cases = [
            ("30/minute", Some((30, Per::Minute))),
            ("5/s", Some((5, Per::Second))),
            ("1000/hour", Some((1000, Per::Hour))),
            ("2/d", Some((2, Per::Day))),
            ("10 / min", Some((10, Per::Minute))),
            ("0/minute", None),
            ("30/minit", None),
            ("minute", None),
            ("x/s", None),
            ("99999999999/s", None),
        ];
        for (text, expected) in cases {
            let got = text.parse::<Rate>().ok().map(|r| (r.count, r.per));
            assert_eq!(got, expected, "{text}");
        }
        assert!(
            "30/minit"
                .parse::<Rate>()
                .unwrap_err()
                .contains("did you mean `30/minute`")
        );
        assert_eq!("5/s".parse::<Rate>().unwrap().to_string(), "5/second");
    }

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        let cases = [
            ("64KiB", Some(65_536)),
            ("1MiB", Some(1_048_576)),
            ("100", Some(100)),
            ("100B", Some(100)),
            ("64KB", None),
            ("KiB", None),
            ("99999999999999999999MiB", None),
        ];
        for (text, expected) in cases {
            assert_eq!(
                text.parse::<Size>().ok().map(Size::bytes),
                expected,
                "{text}"
            );
        }
        assert!("64KB".parse::<Size>().unwrap_err().contains("`64KiB`"));
        assert_eq!(Size(65_536).to_string(), "64KiB");
    }

    /// The pattern editors check admits every origin `validate` accepts
    /// (else the structural pass would refuse it), and refuses the shapes
    /// of a mistake: a trailing slash, a path, a wildcard, uppercase.
    #[test]
    fn the_origin_pattern_admits_every_valid_origin() {
        let pattern = regex::Regex::new(Origin::PATTERN).unwrap();
        let cases = [
            "*",
            "https://app.example.com",
            "http://localhost:3000",
            "https://a-b.example.com:8443",
            "http://127.0.0.1:8080",
            "https://[::1]:8443",
            "https://xn--bcher-kva.example",
            "http://localhost:08080",
            "https://app.example.com/",
            "http://localhost:3000/",
            "https://app.example.com/path",
            "https://app.example.com?x",
            "https://app.example.com#x",
            "https://*.example.com",
            "HTTPS://app.example.com",
            "https://App.Example.com",
            "https://app.example.com:443",
            "https://app.example.com:+8443",
            "https://user@example.com",
            "https://-a.example.com",
            "https://a..example.com",
            "ftp://example.com",
            "null",
            "",
        ];
        for text in cases {
            let valid = text.parse::<Origin>().is_ok();
            assert!(
                !valid || pattern.is_match(text),
                "{text}: valid, but refused by the pattern"
            );
            if text.ends_with('/') || text.contains(['?', '#', '*']) && text != "*" {
                assert!(!pattern.is_match(text), "{text}: admitted by the pattern");
            }
        }
    }

    #[test]
    fn origins_are_exact() {
        let ok = [
            "https://app.example.com",
            "http://localhost:3000",
            "https://a-b.example.com:8443",
            "*",
        ];
        for text in ok {
            let origin: Origin = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(origin.to_string(), text);
        }
        let bad = [
            "null",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://*.example.com",
            "ftp://example.com",
            "HTTPS://app.example.com",
            "https://App.Example.com",
            "https://app.example.com:443",
            "http://example.com:80",
            "https://user@example.com",
            "app.example.com",
            "https://",
            "https://exa mple.com",
            "https://example.com:99999",
        ];
        for text in bad {
            assert!(text.parse::<Origin>().is_err(), "{text} should be refused");
        }
    }
}
