//! Bearer JWT authentication: who is calling.
//!
//! [`Verifier::authenticate`] turns the `Authorization` header into a
//! [`Caller`]. Invariants: the algorithm comes from the spec, never from the
//! token (exactly one is accepted, so `none` and algorithm confusion fail);
//! `exp` is required, `nbf` is checked, `iss` and `aud` are required and
//! checked when configured, the user claim must be a non-empty string, and
//! a `typ` header, when present, must be one an access token carries
//! (`JWT`, `at+jwt`, `JOSE`), so a token typed as another kind (logout,
//! DPoP proof, security event, refresh) is refused; providers that type
//! every token `JWT` are told apart by `aud` and `iss`.
//! No header means [`Caller::Anonymous`]; a header that is present but not a
//! valid bearer token is always a 401, never downgraded to anonymous. The
//! reason a token was refused is logged at debug level and never sent.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, header, request::Parts};
use jsonwebtoken::{AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

pub use jsonwebtoken::Algorithm;

use super::config::{ConfigError, check_secret, min_secret_bytes};
use super::problem::Problem;

/// `Authorization` values longer than this are refused before decoding.
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;
/// Longest accepted user, role or tenant claim value, in bytes.
pub const MAX_CLAIM_BYTES: usize = 256;

/// The `auth` section of the spec, as constants of the generated code.
#[derive(Debug, Clone, Copy)]
pub struct AuthSettings {
    /// The accepted algorithms: the one of a static key, or the allowlist
    /// of a JWKS (never HMAC). A token's `alg` outside it is refused.
    pub algorithms: &'static [Algorithm],
    /// Where the verification keys come from.
    pub keys: KeySource,
    /// Required `iss` value, when configured.
    pub issuer: Option<&'static str>,
    /// Required `aud` member, when configured. Without it, a token that
    /// carries any `aud` is refused (it was meant for someone else).
    pub audience: Option<&'static str>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway_seconds: u64,
    /// The claim naming the user (usually `sub`); must be a non-empty string.
    pub user_claim: &'static str,
    /// Optional array-of-strings claim with role names.
    pub roles_claim: Option<&'static str>,
    /// Claims used for tenant scoping (`owner: { claim: org }`); copied into
    /// [`Principal::claims`] when present (strings or integers).
    pub tenant_claims: &'static [&'static str],
}

/// Where the verification keys come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The HMAC secret in this environment variable.
    Secret(&'static str),
    /// The PEM public key (or its file's path) in this environment variable.
    PublicKey(&'static str),
    /// The JSON Web Key Set at this URL.
    JwksUrl(&'static str),
    /// The JSON Web Key Set at the URL in this environment variable
    /// (`file:PATH` names a local key set, for development).
    JwksUrlEnv(&'static str),
    /// The JSON Web Key Set named by the issuer's OpenID Connect discovery
    /// document.
    Discovery,
}

impl KeySource {
    /// The variable the key or its URL is read from.
    pub fn env(self) -> Option<&'static str> {
        match self {
            KeySource::Secret(v) | KeySource::PublicKey(v) | KeySource::JwksUrlEnv(v) => Some(v),
            KeySource::JwksUrl(_) | KeySource::Discovery => None,
        }
    }

    /// Whether keys come from a JSON Web Key Set.
    pub fn is_jwks(self) -> bool {
        matches!(
            self,
            KeySource::JwksUrl(_) | KeySource::JwksUrlEnv(_) | KeySource::Discovery
        )
    }
}

/// The value at a claim path: a JSON Pointer (RFC 6901) when it starts
/// with `/`, else a top-level claim name.
pub fn claim<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    if path.starts_with('/') {
        claims.pointer(path)
    } else {
        claims.get(path)
    }
}

/// Sets the claim at `path` (as [`claim`] reads it), making the objects a
/// pointer passes through.
pub fn put_claim(claims: &mut Map<String, Value>, path: &str, value: Value) {
    let Some(steps) = path.strip_prefix('/') else {
        claims.insert(path.to_owned(), value);
        return;
    };
    let steps: Vec<String> = steps
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, parents)) = steps.split_last() else {
        return;
    };
    let mut map = claims;
    for step in parents {
        let entry = map
            .entry(step.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else {
            return;
        };
        map = next;
    }
    map.insert(last.clone(), value);
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
    pub roles: Vec<String>,
    /// The configured tenant claims that the token carries, as text.
    pub claims: BTreeMap<String, String>,
}

impl Principal {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Who sent the request, as decided once per request by the middleware.
/// Extract it in a handler; if the middleware did not run the request is
/// refused (500) rather than treated as anonymous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    User(Principal),
}

impl Caller {
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Caller::Anonymous => None,
            Caller::User(p) => Some(p),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            Problem::internal(&"Caller requested but the auth middleware did not run")
        })
    }
}

/// Why a token was refused (logged, never sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// More than one `Authorization` header, not `Bearer`, too long, or
    /// characters outside the base64url alphabet and `.`.
    Malformed,
    /// Signature, algorithm, `exp`, `nbf`, `iss`, `aud` or structure.
    Jwt(jsonwebtoken::errors::ErrorKind),
    /// The user claim is missing, empty, too long or not a string.
    User,
    /// The roles claim is not an array of strings.
    Roles,
    /// A tenant claim is neither a string nor an integer.
    Tenant(&'static str),
    /// The header's `typ` names another kind of token than an access token
    /// (RFC 8725 section 3.11: a refresh, ID, logout or DPoP token of the
    /// same issuer and key is not a credential for this API).
    Type,
    /// No key of the JWKS has the token's `kid` (after a refetch, when the
    /// cooldown allowed one) and fits its algorithm.
    UnknownKey,
    /// The JWKS holds several keys and the token names none (`kid`).
    KidRequired,
    /// The JWKS keys are older than the longest they may be used.
    NoKeys,
}

/// Checks tokens against the spec's algorithms and keys.
pub struct Verifier {
    settings: AuthSettings,
    keys: Keys,
    /// One validation per accepted algorithm (jsonwebtoken wants every
    /// algorithm of a validation to be of the key's family).
    validations: Vec<(Algorithm, Validation)>,
}

/// The verification keys.
enum Keys {
    /// One key, of the one algorithm.
    Static(DecodingKey),
    /// The keys of a JSON Web Key Set, kept current.
    #[cfg(feature = "jwks")]
    Jwks(std::sync::Arc<super::jwks::KeyCache>),
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("algorithms", &self.settings.algorithms)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier of one static key: `key` is the HMAC secret (at least
    /// the hash size: 32, 48 or 64 bytes) for HS*, else a PEM public key
    /// of the algorithm's family. The key is exercised once here, so a
    /// malformed key stops the server at start-up, not at the first
    /// request.
    pub fn new(settings: AuthSettings, key: &[u8]) -> Result<Verifier, ConfigError> {
        let (var, algorithm) = match (settings.keys, settings.algorithms) {
            (KeySource::Secret(var) | KeySource::PublicKey(var), &[algorithm]) => (var, algorithm),
            _ => {
                return Err(ConfigError::Invalid {
                    var: "auth",
                    reason: "a static key verifies exactly one algorithm".into(),
                });
            }
        };
        let bad = |e: jsonwebtoken::errors::Error| ConfigError::BadKey {
            var,
            reason: e.to_string(),
        };
        let key = match algorithm.family() {
            AlgorithmFamily::Hmac => {
                check_secret(var, algorithm, key)?;
                DecodingKey::from_secret(key).map_err(bad)?
            }
            AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(key).map_err(bad)?,
            AlgorithmFamily::Ec => DecodingKey::from_ec_pem(key).map_err(bad)?,
            AlgorithmFamily::Ed => DecodingKey::from_ed_pem(key).map_err(bad)?,
        };
        // Key parsing of the EC and Ed backends happens when a verifier is
        // built: do it now with a dummy signature (Ok(false) is expected).
        jsonwebtoken::crypto::verify("AAAA", b"x", &key, algorithm).map_err(bad)?;
        Ok(Verifier::with(settings, Keys::Static(key)))
    }

    /// A verifier of the keys of a JSON Web Key Set.
    #[cfg(feature = "jwks")]
    pub fn jwks(settings: AuthSettings, cache: std::sync::Arc<super::jwks::KeyCache>) -> Verifier {
        Verifier::with(settings, Keys::Jwks(cache))
    }

    fn with(settings: AuthSettings, keys: Keys) -> Verifier {
        let validations = settings
            .algorithms
            .iter()
            .map(|&alg| (alg, validation(&settings, alg)))
            .collect();
        Verifier {
            settings,
            keys,
            validations,
        }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// The caller named by the request headers. With a JWKS, a token of
    /// an unknown `kid` may wait (boundedly) for the keys to be refetched.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Problem> {
        let verified = match bearer(headers) {
            Ok(None) => return Ok(Caller::Anonymous),
            Ok(Some(token)) => self.check(token).await,
            Err(e) => Err(e),
        };
        verified.map(Caller::User).map_err(|reason| {
            tracing::debug!(?reason, "bearer token refused");
            Problem::invalid_token()
        })
    }

    /// Verifies one compact JWS and extracts the principal. A token that
    /// fails a check needing no key ([`Verifier::precheck`]) is refused
    /// before any key is looked up; with a JWKS, an unknown `kid` may
    /// refetch the keys ([`super::jwks::KeyCache::key`]).
    pub async fn check(&self, token: &str) -> Result<Principal, TokenError> {
        let header = self.precheck(token)?;
        match &self.keys {
            Keys::Static(key) => self.decode(token, header.alg, key),
            #[cfg(feature = "jwks")]
            Keys::Jwks(cache) => {
                let key = cache.key(header.alg, header.kid.as_deref()).await?;
                self.decode(token, header.alg, &key.key)
            }
        }
    }

    /// [`Verifier::check`] with the keys at hand: the static key, or the
    /// JWKS's current keys, never refetched.
    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let header = self.precheck(token)?;
        match &self.keys {
            Keys::Static(key) => self.decode(token, header.alg, key),
            #[cfg(feature = "jwks")]
            Keys::Jwks(cache) => {
                let key = cache.lookup(header.alg, header.kid.as_deref())?;
                self.decode(token, header.alg, &key.key)
            }
        }
    }

    /// The signature and claims of a token of `alg`, checked with `key`.
    fn decode(
        &self,
        token: &str,
        alg: Algorithm,
        key: &DecodingKey,
    ) -> Result<Principal, TokenError> {
        let validation = self
            .validations
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, v)| v)
            .ok_or(TokenError::Jwt(
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm,
            ))?;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, validation)
            .map_err(|e| TokenError::Jwt(e.into_kind()))?;
        if data
            .header
            .typ
            .as_deref()
            .is_some_and(|t| !is_access_token_type(t))
        {
            return Err(TokenError::Type);
        }
        let claims = Value::Object(data.claims);
        let user = match claim(&claims, self.settings.user_claim) {
            Some(Value::String(s)) if valid_claim_text(s) => s.clone(),
            _ => return Err(TokenError::User),
        };
        let roles = match self.settings.roles_claim.and_then(|c| claim(&claims, c)) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|r| match r {
                    Value::String(s) if valid_claim_text(s) => Ok(s.clone()),
                    _ => Err(TokenError::Roles),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(TokenError::Roles),
        };
        let mut tenant = BTreeMap::new();
        for &name in self.settings.tenant_claims {
            let text = match claims.get(name) {
                None => continue,
                Some(Value::String(s)) if valid_claim_text(s) => s.clone(),
                Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
                Some(_) => return Err(TokenError::Tenant(name)),
            };
            tenant.insert(name.to_owned(), text);
        }
        Ok(Principal {
            user,
            roles,
            claims: tenant,
        })
    }
}

/// What every token of `alg` must pass: `exp` (required), `nbf`, and
/// `iss`, `aud` and `sub` (as the user claim) when configured; `aud` may
/// be a string or an array that holds the configured value.
fn validation(settings: &AuthSettings, alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = settings.leeway_seconds;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.validate_aud = true;
    let mut required = vec!["exp"];
    if let Some(iss) = settings.issuer {
        v.set_issuer(&[iss]);
        required.push("iss");
    }
    if let Some(aud) = settings.audience {
        v.set_audience(&[aud]);
        required.push("aud");
    }
    if settings.user_claim == "sub" {
        required.push("sub");
    }
    v.set_required_spec_claims(&required);
    v
}

impl Verifier {
    /// The checks that need no key, each of which the full verification
    /// would fail too: the structure (three parts, a JSON header and a
    /// JSON object of claims), the header's `alg` (the pinned one) and
    /// `typ`, and `exp` (present, a number, not past) and `nbf` (not in
    /// the future), with the leeway. A failed authentication is thus
    /// paid for with a signature check only by a token that could be
    /// valid. Returns the header. (With one static key `kid` is not
    /// checked: any `kid` names it, RFC 7515 section 4.1.4.)
    pub fn precheck(&self, token: &str) -> Result<Header, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        let jwt = |e: jsonwebtoken::errors::Error| TokenError::Jwt(e.into_kind());
        if token.split('.').count() != 3 {
            return Err(TokenError::Jwt(ErrorKind::InvalidToken));
        }
        let header = jsonwebtoken::decode_header(token).map_err(jwt)?;
        if !self.settings.algorithms.contains(&header.alg) {
            return Err(TokenError::Jwt(ErrorKind::InvalidAlgorithm));
        }
        if header
            .typ
            .as_deref()
            .is_some_and(|t| !is_access_token_type(t))
        {
            return Err(TokenError::Type);
        }
        let claims: Map<String, Value> =
            jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(jwt)?;
        let now = jsonwebtoken::get_current_timestamp() as f64;
        let leeway = self.settings.leeway_seconds as f64;
        match claims.get("exp") {
            None | Some(Value::Null) => {
                return Err(TokenError::Jwt(ErrorKind::MissingRequiredClaim(
                    "exp".into(),
                )));
            }
            Some(Value::Number(exp)) => {
                // Rounded to whole seconds, as jsonwebtoken reads a
                // fraction: never stricter than the full check.
                if exp.as_f64().is_some_and(|exp| exp.round() < now - leeway) {
                    return Err(TokenError::Jwt(ErrorKind::ExpiredSignature));
                }
            }
            Some(_) => return Err(TokenError::Jwt(ErrorKind::InvalidClaimFormat("exp".into()))),
        }
        if let Some(Value::Number(nbf)) = claims.get("nbf") {
            if nbf.as_f64().is_some_and(|nbf| nbf.round() > now + leeway) {
                return Err(TokenError::Jwt(ErrorKind::ImmatureSignature));
            }
        }
        Ok(header)
    }
}

/// A `typ` an access token may carry: `JWT` (RFC 7519), `at+jwt` (RFC
/// 9068) or `JOSE` (RFC 7515, compact JWS), with or without
/// `application/`, in any case. A token without `typ` is accepted too
/// (most providers omit it).
fn is_access_token_type(typ: &str) -> bool {
    let t = typ
        .get(..12)
        .filter(|p| p.eq_ignore_ascii_case("application/"));
    let t = if t.is_some() { &typ[12..] } else { typ };
    ["jwt", "at+jwt", "jose"]
        .iter()
        .any(|known| t.eq_ignore_ascii_case(known))
}

/// Non-empty, at most [`MAX_CLAIM_BYTES`], no control characters.
fn valid_claim_text(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_CLAIM_BYTES && !s.chars().any(char::is_control)
}

/// The token of `Authorization: Bearer <token>`, `None` without the header.
/// The scheme is case-insensitive (RFC 9110 §11.1) and may be followed by
/// several spaces; anything else is [`TokenError::Malformed`].
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, TokenError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() || value.len() > MAX_AUTHORIZATION_BYTES {
        return Err(TokenError::Malformed);
    }
    let value = value.to_str().map_err(|_| TokenError::Malformed)?;
    let (scheme, rest) = value.split_once(' ').ok_or(TokenError::Malformed)?;
    let token = rest.trim_matches(' ');
    let token_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || !token.bytes().all(token_char)
    {
        return Err(TokenError::Malformed);
    }
    Ok(Some(token))
}

/// Why [`mint`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MintError {
    /// Shorter than the algorithm needs (the minimum, in bytes).
    SecretTooShort(usize),
    /// The private key is not a PEM key of the algorithm's family.
    BadPrivateKey(String),
    EmptyUser,
    /// Roles were given but the spec has no `roles_claim`.
    NoRolesClaim,
    /// A claim that is not one of the spec's tenant claims.
    UnknownClaim(String),
    Encode(String),
}

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MintError::SecretTooShort(min) => write!(f, "the secret is shorter than {min} bytes"),
            MintError::BadPrivateKey(e) => write!(f, "the private key cannot be used: {e}"),
            MintError::EmptyUser => write!(f, "the user must not be empty"),
            MintError::NoRolesClaim => write!(f, "roles given, but the spec has no roles_claim"),
            MintError::UnknownClaim(c) => {
                write!(f, "claim {c:?} is not a tenant claim of the spec")
            }
            MintError::Encode(e) => write!(f, "cannot encode the token: {e}"),
        }
    }
}

impl std::error::Error for MintError {}

/// Mints a token that this service accepts (for the generated `dev-token`
/// command): user claim, roles, tenant claims, `iat`, `exp = now + ttl`,
/// and `iss`/`aud` when configured. `key` is the service's HMAC secret for
/// HS*, else a PEM private key of the algorithm's family (the private half
/// of a local development key pair: the server itself never holds one).
pub fn mint(
    settings: &AuthSettings,
    key: &[u8],
    user: &str,
    roles: &[String],
    claims: &[(String, String)],
    ttl_seconds: u64,
) -> Result<String, MintError> {
    let signer = Signer::new(settings, key)?;
    if !valid_claim_text(user) {
        return Err(MintError::EmptyUser);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut body = Map::new();
    put_claim(&mut body, settings.user_claim, user.into());
    body.insert("iat".into(), now.into());
    body.insert("exp".into(), now.saturating_add(ttl_seconds).into());
    if let Some(iss) = settings.issuer {
        body.insert("iss".into(), iss.into());
    }
    if let Some(aud) = settings.audience {
        body.insert("aud".into(), aud.into());
    }
    if !roles.is_empty() {
        let claim = settings.roles_claim.ok_or(MintError::NoRolesClaim)?;
        put_claim(&mut body, claim, roles.into());
    }
    for (name, value) in claims {
        if !settings.tenant_claims.contains(&name.as_str()) {
            return Err(MintError::UnknownClaim(name.clone()));
        }
        body.insert(name.clone(), value.as_str().into());
    }
    let mut header = Header::new(signer.algorithm);
    header.kid = signer.kid;
    jsonwebtoken::encode(&header, &body, &signer.key).map_err(|e| MintError::Encode(e.to_string()))
}

/// A key that signs tokens this service accepts: the secret (HS*), or the
/// private half of a local development key pair for one of the accepted
/// algorithms, with the `kid` of its public half when keys come from a
/// JWKS (its RFC 7638 thumbprint, as [`dev_jwks`] publishes it).
struct Signer {
    algorithm: Algorithm,
    key: EncodingKey,
    kid: Option<String>,
}

impl Signer {
    fn new(settings: &AuthSettings, key: &[u8]) -> Result<Signer, MintError> {
        if let KeySource::Secret(var) = settings.keys {
            let algorithm = *settings
                .algorithms
                .first()
                .ok_or(MintError::BadPrivateKey("no algorithm".into()))?;
            check_secret(var, algorithm, key)
                .map_err(|_| MintError::SecretTooShort(min_secret_bytes(algorithm)))?;
            let key =
                EncodingKey::from_secret(key).map_err(|e| MintError::Encode(e.to_string()))?;
            return Ok(Signer {
                algorithm,
                key,
                kid: None,
            });
        }
        // The first accepted algorithm whose family reads the PEM key.
        let mut last = String::from("no accepted algorithm signs with a private key");
        for &algorithm in settings.algorithms {
            let parsed = match algorithm.family() {
                AlgorithmFamily::Hmac => continue,
                AlgorithmFamily::Rsa => EncodingKey::from_rsa_pem(key),
                AlgorithmFamily::Ec => EncodingKey::from_ec_pem(key),
                AlgorithmFamily::Ed => EncodingKey::from_ed_pem(key),
            };
            let key = match parsed {
                Ok(key) => key,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let kid = match settings.keys.is_jwks() {
                false => None,
                true => match public_jwk(&key, algorithm) {
                    Ok(jwk) => Some(jwk.common.key_id.unwrap_or_default()),
                    // An EC key of another curve than this algorithm's.
                    Err(e) => {
                        last = e;
                        continue;
                    }
                },
            };
            return Ok(Signer {
                algorithm,
                key,
                kid,
            });
        }
        Err(MintError::BadPrivateKey(last))
    }
}

/// The public JWK of a private key, for `algorithm`, with `use: sig` and
/// its RFC 7638 thumbprint as `kid`.
pub(crate) fn public_jwk(
    key: &EncodingKey,
    algorithm: Algorithm,
) -> Result<jsonwebtoken::jwk::Jwk, String> {
    use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
    let mut jwk = Jwk::from_encoding_key(key, algorithm).map_err(|e| e.to_string())?;
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| e.to_string())?;
    jwk.common.key_id = Some(kid);
    Ok(jwk)
}

/// The JSON Web Key Set that publishes the public half of a local
/// development key pair (the `dev-jwks` command): the server reads it from
/// `file:PATH` in its JWKS URL variable, and [`mint`] signs with the
/// private half under the same `kid`.
pub fn dev_jwks(settings: &AuthSettings, private_key: &[u8]) -> Result<String, MintError> {
    let signer = Signer::new(settings, private_key)?;
    let jwk = public_jwk(&signer.key, signer.algorithm).map_err(MintError::BadPrivateKey)?;
    let set = jsonwebtoken::jwk::JwkSet { keys: vec![jwk] };
    serde_json::to_string_pretty(&set).map_err(|e| MintError::Encode(e.to_string()))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use jsonwebtoken::errors::ErrorKind;
    use serde_json::json;

    pub(crate) const HS: AuthSettings = AuthSettings {
        algorithms: &[Algorithm::HS256],
        keys: KeySource::Secret("JWT_SECRET"),
        issuer: Some("https://issuer.test"),
        audience: Some("api"),
        leeway_seconds: 5,
        user_claim: "sub",
        roles_claim: Some("roles"),
        tenant_claims: &["org"],
    };
    pub(crate) const SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

    pub(crate) const ED_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJgLd0x/l+faeIYY/x2DuEkyGxUkGqcRL7hyWr6LHGic=
-----END PUBLIC KEY-----
";
    pub(crate) const ED_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIDpaMrzjuipLhMxAC5B4xY9YNZsWrJAUsLHTbMlWCpuM
-----END PRIVATE KEY-----
";

    pub(crate) fn eddsa() -> AuthSettings {
        AuthSettings {
            algorithms: &[Algorithm::EdDSA],
            keys: KeySource::PublicKey("JWT_PUBLIC_KEY"),
            ..HS
        }
    }

    /// A one-algorithm list that lives as long as the test run.
    pub(crate) fn only(algorithm: Algorithm) -> &'static [Algorithm] {
        Box::leak(Box::new([algorithm]))
    }

    pub(crate) fn verifier() -> Verifier {
        Verifier::new(HS, SECRET).unwrap()
    }

    fn now() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    /// Claims that pass, to be broken one at a time.
    fn good() -> Value {
        json!({"sub": "alice", "iss": "https://issuer.test", "aud": "api",
               "exp": now() + 600, "roles": ["admin"], "org": 42})
    }

    fn sign(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
    }

    fn hs(claims: &Value) -> String {
        sign(
            Algorithm::HS256,
            &EncodingKey::from_secret(SECRET).unwrap(),
            claims,
        )
    }

    fn with(change: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut c = good();
        change(c.as_object_mut().unwrap());
        hs(&c)
    }

    fn kind(token: &str) -> TokenError {
        verifier().verify(token).unwrap_err()
    }

    #[test]
    fn accepts_a_good_token() {
        let p = verifier().verify(&hs(&good())).unwrap();
        assert_eq!(p.user, "alice");
        assert_eq!(p.roles, ["admin"]);
        assert_eq!(p.claims["org"], "42");
    }

    #[test]
    fn refuses_alg_none_and_other_algorithms() {
        let b64 = |v: &Value| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        for alg in ["none", "None", "NONE"] {
            let t = format!(
                "{}.{}.",
                b64(&json!({"alg": alg, "typ": "JWT"})),
                b64(&good())
            );
            assert!(verifier().verify(&t).is_err(), "{alg}");
        }
        let key = EncodingKey::from_secret(SECRET).unwrap();
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            assert_eq!(
                kind(&sign(alg, &key, &good())),
                TokenError::Jwt(ErrorKind::InvalidAlgorithm)
            );
        }
        // Signature stripped, and payload swapped under A's signature.
        let t = hs(&good());
        let (head, _) = t.rsplit_once('.').unwrap();
        assert!(verifier().verify(&format!("{head}.")).is_err());
        let forged = with(|c| {
            c.insert("sub".into(), "bob".into());
        });
        let parts: Vec<_> = t.split('.').collect();
        let mixed = format!(
            "{}.{}.{}",
            parts[0],
            forged.split('.').nth(1).unwrap(),
            parts[2]
        );
        assert_eq!(kind(&mixed), TokenError::Jwt(ErrorKind::InvalidSignature));
    }

    #[test]
    fn refuses_algorithm_confusion() {
        let v = Verifier::new(eddsa(), ED_PUBLIC.as_bytes()).unwrap();
        let ed = EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).unwrap();
        assert_eq!(
            v.verify(&sign(Algorithm::EdDSA, &ed, &good()))
                .unwrap()
                .user,
            "alice"
        );
        // HS256 signed with the public key bytes as the HMAC secret.
        let confused = sign(
            Algorithm::HS256,
            &EncodingKey::from_secret(ED_PUBLIC.as_bytes()).unwrap(),
            &good(),
        );
        assert_eq!(
            v.verify(&confused).unwrap_err(),
            TokenError::Jwt(ErrorKind::InvalidAlgorithm)
        );
    }

    /// A token that fails a check needing no key is refused for that
    /// reason, before its signature is looked at (these signatures are
    /// all forged: a signature check would have refused them first).
    #[test]
    fn cheap_checks_come_before_the_signature() {
        let forged = |header: Value, claims: Value| {
            let b64 = |v: &Value| {
                use base64::Engine as _;
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
            };
            format!("{}.{}.Zm9yZ2Vk", b64(&header), b64(&claims))
        };
        let jwt = json!({"alg": "HS256", "typ": "JWT"});
        let mut expired = good();
        expired["exp"] = json!(now() - 60);
        let mut early = good();
        early["nbf"] = json!(now() + 600);
        let mut no_exp = good();
        no_exp.as_object_mut().unwrap().remove("exp");
        let mut text_exp = good();
        text_exp["exp"] = json!("9999999999");
        let cases = [
            (
                forged(jwt.clone(), expired),
                TokenError::Jwt(ErrorKind::ExpiredSignature),
            ),
            (
                forged(jwt.clone(), early),
                TokenError::Jwt(ErrorKind::ImmatureSignature),
            ),
            (
                forged(jwt.clone(), no_exp),
                TokenError::Jwt(ErrorKind::MissingRequiredClaim("exp".into())),
            ),
            (
                forged(jwt.clone(), text_exp),
                TokenError::Jwt(ErrorKind::InvalidClaimFormat("exp".into())),
            ),
            (
                forged(json!({"alg": "HS512"}), good()),
                TokenError::Jwt(ErrorKind::InvalidAlgorithm),
            ),
            (
                forged(json!({"alg": "HS256", "typ": "refresh+jwt"}), good()),
                TokenError::Type,
            ),
        ];
        for (token, reason) in cases {
            assert_eq!(verifier().precheck(&token), Err(reason.clone()), "{token}");
            assert_eq!(kind(&token), reason, "{token}");
        }
        // A well-formed token is always verified: a forged signature is
        // what refuses it, and a valid one passes.
        let t = forged(jwt, good());
        assert!(verifier().precheck(&t).is_ok());
        assert_eq!(kind(&t), TokenError::Jwt(ErrorKind::InvalidSignature));
        assert!(verifier().precheck(&hs(&good())).is_ok());
        // Never stricter than the full check: a fractional exp or nbf is
        // read in whole seconds, as jsonwebtoken rounds it.
        let mut edge = good();
        edge["exp"] = json!(now() as f64 - 5.4);
        edge["nbf"] = json!(now() as f64 + 5.4);
        let edge = hs(&edge);
        assert!(verifier().precheck(&edge).is_ok());
        assert!(verifier().verify(&edge).is_ok());
        for broken in [
            "a.b",
            "a.b.c.d",
            "!.b.c",
            "e30.e30.c",
            "eyJhbGciOiJIUzI1NiJ9.W10.c",
        ] {
            assert!(verifier().precheck(broken).is_err(), "{broken}");
        }
    }

    #[test]
    fn refuses_expired_and_not_yet_valid() {
        let t = with(|c| {
            c.insert("exp".into(), (now() - 30).into());
        });
        assert_eq!(kind(&t), TokenError::Jwt(ErrorKind::ExpiredSignature));
        let t = with(|c| {
            c.remove("exp");
        });
        assert!(matches!(
            kind(&t),
            TokenError::Jwt(ErrorKind::MissingRequiredClaim(_))
        ));
        let t = with(|c| {
            c.insert("exp".into(), "9999999999".into());
        });
        assert!(verifier().verify(&t).is_err());
        let t = with(|c| {
            c.insert("nbf".into(), (now() + 300).into());
        });
        assert_eq!(kind(&t), TokenError::Jwt(ErrorKind::ImmatureSignature));
        // Within the leeway of 5 s.
        let t = with(|c| {
            c.insert("exp".into(), (now() - 2).into());
        });
        assert!(verifier().verify(&t).is_ok());
    }

    #[test]
    fn refuses_wrong_or_missing_iss_and_aud() {
        let cases: [(&str, Option<Value>); 6] = [
            ("iss", Some("https://evil.test".into())),
            ("iss", None),
            ("iss", Some(5.into())),
            ("aud", Some("other".into())),
            ("aud", None),
            ("aud", Some("".into())),
        ];
        for (claim, value) in cases {
            let t = with(|c| match &value {
                Some(v) => {
                    c.insert(claim.into(), v.clone());
                }
                None => {
                    c.remove(claim);
                }
            });
            assert!(verifier().verify(&t).is_err(), "{claim} = {value:?}");
        }
        let t = with(|c| {
            c.insert("aud".into(), json!(["other", "api"]));
        });
        assert!(verifier().verify(&t).is_ok());
    }

    #[test]
    fn without_configured_audience_any_aud_is_refused() {
        let v = Verifier::new(
            AuthSettings {
                audience: None,
                ..HS
            },
            SECRET,
        )
        .unwrap();
        assert!(
            v.verify(&hs(&good())).is_err(),
            "a token meant for someone else"
        );
        let t = with(|c| {
            c.remove("aud");
        });
        assert!(v.verify(&t).is_ok());
    }

    #[test]
    fn refuses_bad_user_roles_and_tenant_claims() {
        for sub in [None, Some(json!("")), Some(json!(123)), Some(json!({}))] {
            let t = with(|c| match &sub {
                Some(v) => {
                    c.insert("sub".into(), v.clone());
                }
                None => {
                    c.remove("sub");
                }
            });
            assert!(verifier().verify(&t).is_err(), "sub = {sub:?}");
        }
        let long = "x".repeat(MAX_CLAIM_BYTES + 1);
        assert_eq!(
            kind(&with(|c| {
                c.insert("sub".into(), long.into());
            })),
            TokenError::User
        );
        let t = with(|c| {
            c.insert("roles".into(), "admin".into());
        });
        assert_eq!(kind(&t), TokenError::Roles);
        let t = with(|c| {
            c.insert("org".into(), json!(["a"]));
        });
        assert_eq!(kind(&t), TokenError::Tenant("org"));
        let t = with(|c| {
            c.remove("org");
            c.remove("roles");
        });
        let p = verifier().verify(&t).unwrap();
        assert!(p.roles.is_empty() && p.claims.is_empty());
    }

    #[test]
    fn refuses_short_secret_and_bad_keys() {
        assert!(matches!(
            Verifier::new(HS, b"too short"),
            Err(ConfigError::SecretTooShort { len: 9, .. })
        ));
        // RFC 7518 §3.2: HS384 and HS512 keys are at least their hash long.
        for (algorithm, min) in [(Algorithm::HS384, 48), (Algorithm::HS512, 64)] {
            let settings = AuthSettings {
                algorithms: only(algorithm),
                ..HS
            };
            assert!(matches!(
                Verifier::new(settings, &[b'k'; 32]),
                Err(ConfigError::SecretTooShort { len: 32, min: m, .. }) if m == min
            ));
            assert!(Verifier::new(settings, &vec![b'k'; min]).is_ok());
            assert_eq!(
                mint(&settings, &[b'k'; 32], "bob", &[], &[], 60),
                Err(MintError::SecretTooShort(min))
            );
        }
        assert!(Verifier::new(eddsa(), b"not a pem").is_err());
        // An RSA-shaped PEM for an EdDSA service.
        let rsa = AuthSettings {
            algorithms: &[Algorithm::RS256],
            keys: KeySource::PublicKey("JWT_PUBLIC_KEY"),
            ..HS
        };
        assert!(Verifier::new(rsa, ED_PUBLIC.as_bytes()).is_err());
    }

    #[tokio::test]
    async fn authorization_header_shapes() {
        let v = verifier();
        let token = hs(&good());
        let call = async |values: &[&str]| {
            let mut h = HeaderMap::new();
            for value in values {
                h.append(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            }
            v.authenticate(&h).await
        };
        assert_eq!(call(&[]).await.unwrap(), Caller::Anonymous);
        for ok in [
            format!("Bearer {token}"),
            format!("bearer  {token}"),
            format!("BEARER {token} "),
        ] {
            assert!(matches!(call(&[&ok]).await, Ok(Caller::User(_))), "{ok}");
        }
        let huge = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION_BYTES));
        let bad = [
            "Bearer".to_owned(),
            "Bearer ".to_owned(),
            "Basic dXNlcjpwYXNz".to_owned(),
            format!("Token {token}"),
            format!("Bearer\t{token}"),
            format!("Bearer {token}=="),
            "Bearer a.b".to_owned(),
            huge,
        ];
        for value in &bad {
            let p = call(&[value]).await.unwrap_err();
            assert_eq!(p.status, axum::http::StatusCode::UNAUTHORIZED);
        }
        let twice = format!("Bearer {token}");
        assert!(call(&[&twice, &twice]).await.is_err());
    }

    #[test]
    fn other_kinds_of_token_are_refused() {
        let typed = |typ: &str| {
            let mut header = Header::new(Algorithm::HS256);
            header.typ = Some(typ.to_string());
            jsonwebtoken::encode(&header, &good(), &EncodingKey::from_secret(SECRET).unwrap())
                .unwrap()
        };
        for ok in [
            "JWT",
            "jwt",
            "at+jwt",
            "application/at+jwt",
            "APPLICATION/JWT",
            "JOSE",
            "application/jose",
        ] {
            assert!(verifier().verify(&typed(ok)).is_ok(), "{ok}");
        }
        for other in [
            "refresh+jwt",
            "id_token",
            "dpop+jwt",
            "logout+jwt",
            "JWE",
            "",
            "application/",
        ] {
            assert_eq!(kind(&typed(other)), TokenError::Type, "{other}");
        }
        // No `typ` at all is an access token too.
        let mut header = Header::new(Algorithm::HS256);
        header.typ = None;
        let t = jsonwebtoken::encode(&header, &good(), &EncodingKey::from_secret(SECRET).unwrap());
        assert!(verifier().verify(&t.unwrap()).is_ok());
    }

    #[test]
    fn minted_tokens_verify() {
        let t = mint(
            &HS,
            SECRET,
            "bob",
            &["support".into()],
            &[("org".into(), "acme".into())],
            60,
        )
        .unwrap();
        let p = verifier().verify(&t).unwrap();
        assert_eq!((p.user.as_str(), p.claims["org"].as_str()), ("bob", "acme"));
        assert!(p.has_role("support"));
        // Asymmetric algorithms sign with a PEM private key of their family.
        let ed = eddsa();
        let t = mint(&ed, ED_PRIVATE.as_bytes(), "bob", &[], &[], 60).unwrap();
        let v = Verifier::new(ed, ED_PUBLIC.as_bytes()).unwrap();
        assert_eq!(v.verify(&t).unwrap().user, "bob");
        assert!(matches!(
            mint(&ed, SECRET, "bob", &[], &[], 60),
            Err(MintError::BadPrivateKey(_))
        ));
        assert_eq!(
            mint(&HS, SECRET, "bob", &[], &[("team".into(), "x".into())], 60),
            Err(MintError::UnknownClaim("team".into()))
        );
        assert_eq!(
            mint(&HS, b"short", "bob", &[], &[], 60),
            Err(MintError::SecretTooShort(32))
        );
    }
}
