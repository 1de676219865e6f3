// The patterns of the string formats the server checks. Palisade's OpenAPI
// emitter includes this very file, so the document's `pattern` and the
// server's check are one regex and cannot disagree. Each is written in the
// common subset of ECMA-262 (JSON Schema) and Rust `regex` syntax: no
// lookaround, no backreferences, `$` only at the end.

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
