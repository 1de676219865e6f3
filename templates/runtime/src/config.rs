//! Start-up configuration read from the environment, failing closed.
//!
//! Variables come from the process environment, else from a `.env` file
//! in the working directory when there is one (read with dotenvy, never
//! written back into the environment): the environment wins, so a
//! deployment's settings are never overridden by a stray file, and the
//! server and `dev-token` read the same secret on a developer's machine.
//!
//! Invariant: the server never starts with a configuration it cannot
//! enforce. A missing or short JWT secret, an unreadable or malformed
//! public key, a database URL this build cannot open or a bad bind address
//! is a [`ConfigError`] whose message names the variable and the fix; there
//! are no insecure fallbacks (only `DATABASE_URL` and `BIND_ADDR` have
//! defaults, and those are local).

use std::collections::HashMap;
use std::env::VarError;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use axum::http::Uri;
use jsonwebtoken::Algorithm;

use super::auth::{AuthSettings, KeySource, Verifier};

/// Smallest accepted HMAC secret, in bytes, for HS256 (RFC 8725 §3.5, RFC
/// 7518 §3.2); see [`min_secret_bytes`] for the others.
pub const MIN_SECRET_BYTES: usize = 32;

/// Smallest accepted secret for `algorithm`: RFC 7518 §3.2 asks for a key
/// at least as long as the hash, so 32 bytes for HS256, 48 for HS384 and
/// 64 for HS512.
pub fn min_secret_bytes(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => MIN_SECRET_BYTES,
    }
}

/// Why the server refused to start.
#[derive(Debug)]
pub enum ConfigError {
    /// A required variable is not set (or is empty).
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    /// A variable is set but its value cannot be used.
    Invalid { var: &'static str, reason: String },
    /// The HMAC secret is shorter than [`min_secret_bytes`] (`min`).
    SecretTooShort {
        var: &'static str,
        len: usize,
        min: usize,
    },
    /// The public key cannot be read or is not a key for the pinned algorithm.
    BadKey { var: &'static str, reason: String },
    /// No verification key could be had from the JWKS.
    Jwks(String),
    /// The database could not be opened or migrated.
    Database(String),
    /// The listening socket could not be bound.
    Bind { addr: SocketAddr, reason: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Missing { var, hint } => write!(f, "{var} is not set: {hint}"),
            ConfigError::Invalid { var, reason } => write!(f, "{var} is invalid: {reason}"),
            ConfigError::SecretTooShort { var, len, min } => write!(
                f,
                "{var} is {len} bytes long; this algorithm needs a secret of at least {min} \
                 random bytes (e.g. `openssl rand -hex {min}`)"
            ),
            ConfigError::BadKey { var, reason } => {
                write!(f, "{var} does not hold a usable public key: {reason}")
            }
            ConfigError::Jwks(reason) => write!(
                f,
                "{reason}; the server does not start without a signing key (check the URL, the network and that the key set has a `sig` key of an accepted algorithm)"
            ),
            ConfigError::Database(reason) => write!(f, "database: {reason}"),
            ConfigError::Bind { addr, reason } => write!(f, "cannot listen on {addr}: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// What the server reads from the environment.
#[derive(Debug)]
pub struct Config {
    pub database_url: String,
    pub bind_addr: SocketAddr,
    pub key: KeyMaterial,
}

/// The verification keys, as the environment and the spec name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// HMAC secret bytes (HS*) or PEM public key bytes (RS*, PS*, ES*, EdDSA).
    Static(Vec<u8>),
    /// A JSON Web Key Set.
    Jwks(Location),
}

/// Where the key set is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A JWKS document at this `https://` (or loopback `http://`) URL.
    Url(String),
    /// The `jwks_uri` of this issuer's discovery document.
    Discovery { issuer: String },
    /// A JWKS file (`file:PATH` in the URL variable; local development).
    File(PathBuf),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Url(url) => write!(f, "{url}"),
            Location::Discovery { issuer } => write!(f, "the discovery document of {issuer}"),
            Location::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Whether keys may be fetched from `url`: `https://`, or `http://` on a
/// loopback host (`127.0.0.0/8`, `[::1]`, `localhost`), with a host and
/// no credentials (the compiler holds the spec's URLs to the same rule).
pub fn check_url(url: &str) -> Result<Uri, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("`{url}` has no host"))?;
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(format!("`{url}` carries credentials"));
    }
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("https") => Ok(uri),
        Some("http") if loopback => Ok(uri),
        Some("http") => Err(format!(
            "`{url}` is plain http, which anyone on the way can read and change (http is accepted only on loopback, for tests)"
        )),
        _ => Err(format!("`{url}` is not an https:// URL")),
    }
}

/// Default listening address: loopback only.
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";

/// The file of variables read when the environment lacks them.
pub const DOTENV_FILE: &str = ".env";

/// The variables of [`DOTENV_FILE`] in the working directory, read once.
fn dotenv() -> &'static Result<HashMap<String, String>, String> {
    static FILE: OnceLock<Result<HashMap<String, String>, String>> = OnceLock::new();
    FILE.get_or_init(|| read_dotenv(DOTENV_FILE.as_ref()))
}

/// The variables of a `.env` file: empty when there is no such file, an
/// error naming the line when it cannot be parsed.
fn read_dotenv(path: &std::path::Path) -> Result<HashMap<String, String>, String> {
    match dotenvy::from_path_iter(path) {
        Err(e) if e.not_found() => Ok(HashMap::new()),
        Err(e) => Err(e.to_string()),
        Ok(vars) => vars.collect::<Result<_, _>>().map_err(|e| e.to_string()),
    }
}

/// `found` (the environment's answer for `name`) unless the variable is
/// not set there, then the file's value.
fn layered(
    found: Result<String, VarError>,
    file: &Result<HashMap<String, String>, String>,
    name: &str,
) -> Result<String, VarError> {
    match found {
        Err(VarError::NotPresent) => file
            .as_ref()
            .ok()
            .and_then(|vars| vars.get(name).cloned())
            .ok_or(VarError::NotPresent),
        found => found,
    }
}

/// The variable `name` from the environment, else from [`DOTENV_FILE`].
pub fn var(name: &str) -> Result<String, VarError> {
    layered(std::env::var(name), dotenv(), name)
}

impl Config {
    /// Reads `DATABASE_URL` (default `default_database_url`), `BIND_ADDR`
    /// (default [`DEFAULT_BIND_ADDR`]) and the key variable named by `auth`,
    /// from the environment or [`DOTENV_FILE`]; a `.env` that cannot be
    /// parsed is an error, never skipped.
    pub fn from_env(
        auth: &AuthSettings,
        default_database_url: &str,
    ) -> Result<Config, ConfigError> {
        if let Err(reason) = dotenv() {
            return Err(ConfigError::Invalid {
                var: DOTENV_FILE,
                reason: reason.clone(),
            });
        }
        Config::load(auth, default_database_url, var)
    }

    /// [`Config::from_env`] with the environment passed in (for tests).
    pub fn load(
        auth: &AuthSettings,
        default_database_url: &str,
        env: impl Fn(&str) -> Result<String, VarError>,
    ) -> Result<Config, ConfigError> {
        let database_url =
            optional(&env, "DATABASE_URL")?.unwrap_or_else(|| default_database_url.to_owned());
        if super::db::Engine::of_url(&database_url).is_none() {
            return Err(ConfigError::Invalid {
                var: "DATABASE_URL",
                reason: "must be a sqlite: URL (e.g. sqlite://app.db?mode=rwc or \
                         sqlite::memory:) or a postgres:// URL"
                    .into(),
            });
        }
        let bind_addr = optional(&env, "BIND_ADDR")?
            .as_deref()
            .unwrap_or(DEFAULT_BIND_ADDR)
            .parse()
            .map_err(|e| ConfigError::Invalid {
                var: "BIND_ADDR",
                reason: format!("{e} (want IP:PORT, e.g. {DEFAULT_BIND_ADDR})"),
            })?;
        let key = key_material(auth, &env)?;
        Ok(Config {
            database_url,
            bind_addr,
            key,
        })
    }
}

/// The keys of `auth.keys`: the secret itself for HS*; for a public key,
/// the PEM text or the path of a PEM file in the variable; for a JWKS, its
/// URL (from the spec or the variable, held to [`check_url`]; `file:PATH`
/// in the variable names a local key set, for development) or the issuer
/// to discover it from.
pub fn key_material(
    auth: &AuthSettings,
    env: &impl Fn(&str) -> Result<String, VarError>,
) -> Result<KeyMaterial, ConfigError> {
    let var = match auth.keys {
        KeySource::Secret(var) => {
            let secret = optional(env, var)?.ok_or(ConfigError::Missing {
                var,
                hint: "set it, in the environment or in .env, to a random secret of at least \
                       32 bytes for HS256, 48 for HS384, 64 for HS512 (e.g. `openssl rand -hex 32`, \
                       64 characters)",
            })?;
            let algorithm = auth.algorithms.first().copied().unwrap_or(Algorithm::HS256);
            check_secret(var, algorithm, secret.as_bytes())?;
            return Ok(KeyMaterial::Static(secret.into_bytes()));
        }
        KeySource::JwksUrl(url) => {
            check_url(url).map_err(|reason| ConfigError::Invalid {
                var: "auth.jwt.jwks_url",
                reason,
            })?;
            return Ok(KeyMaterial::Jwks(Location::Url(url.to_owned())));
        }
        KeySource::Discovery => {
            let issuer = auth.issuer.unwrap_or_default();
            check_url(issuer).map_err(|reason| ConfigError::Invalid {
                var: "auth.jwt.issuer",
                reason,
            })?;
            return Ok(KeyMaterial::Jwks(Location::Discovery {
                issuer: issuer.to_owned(),
            }));
        }
        KeySource::JwksUrlEnv(var) => {
            let url = optional(env, var)?.ok_or(ConfigError::Missing {
                var,
                hint: "set it, in the environment or in .env, to your identity provider's \
                       JWKS URL (https://...), or to file:PATH for a local development key \
                       set (`dev-jwks`)",
            })?;
            if let Some(path) = url.strip_prefix("file:") {
                let path = path.strip_prefix("//").unwrap_or(path);
                return Ok(KeyMaterial::Jwks(Location::File(path.into())));
            }
            check_url(&url).map_err(|reason| ConfigError::Invalid { var, reason })?;
            return Ok(KeyMaterial::Jwks(Location::Url(url)));
        }
        KeySource::PublicKey(var) => var,
    };
    let value = optional(env, var)?.ok_or(ConfigError::Missing {
        var,
        hint: "set it, in the environment or in .env, to the issuer's PEM public key \
               or to the path of a PEM file",
    })?;
    if value.trim_start().starts_with("-----BEGIN") {
        return Ok(KeyMaterial::Static(value.into_bytes()));
    }
    std::fs::read(&value)
        .map(KeyMaterial::Static)
        .map_err(|e| ConfigError::BadKey {
            var,
            reason: format!("not PEM text, and reading it as a file path failed: {e}"),
        })
}

/// The verifier of `material`: the static key checked, or the JWKS's
/// first keys fetched (start-up fails closed without one) and kept current
/// by a background task.
pub async fn verifier(auth: AuthSettings, material: &KeyMaterial) -> Result<Verifier, ConfigError> {
    match material {
        KeyMaterial::Static(key) => Verifier::new(auth, key),
        #[cfg(feature = "jwks")]
        KeyMaterial::Jwks(location) => {
            let (cache, refresh) = super::jwks::KeyCache::start(location.clone(), auth.algorithms)
                .await
                .map_err(ConfigError::Jwks)?;
            cache.spawn_refresh(refresh);
            Ok(Verifier::jwks(auth, cache))
        }
        #[cfg(not(feature = "jwks"))]
        KeyMaterial::Jwks(_) => Err(ConfigError::Jwks(
            "this build of palisade-runtime lacks its `jwks` feature (the generated API enables it when the spec takes keys from a JWKS)".into(),
        )),
    }
}

/// Refuses HMAC secrets shorter than [`min_secret_bytes`] of `algorithm`.
pub fn check_secret(
    var: &'static str,
    algorithm: Algorithm,
    secret: &[u8],
) -> Result<(), ConfigError> {
    let min = min_secret_bytes(algorithm);
    if secret.len() < min {
        return Err(ConfigError::SecretTooShort {
            var,
            len: secret.len(),
            min,
        });
    }
    Ok(())
}

/// `Ok(None)` when unset or empty; non-Unicode is an error, not "unset".
fn optional(
    env: &impl Fn(&str) -> Result<String, VarError>,
    var: &'static str,
) -> Result<Option<String>, ConfigError> {
    match env(var) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(_)) => Err(ConfigError::Invalid {
            var,
            reason: "the value is not valid UTF-8".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::auth::tests::{ED_PUBLIC, HS, eddsa, only};
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Result<String, VarError> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
                .ok_or(VarError::NotPresent)
        }
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_are_local() {
        let c = Config::load(
            &HS,
            "sqlite://t.db?mode=rwc",
            env(&[("JWT_SECRET", SECRET)]),
        )
        .unwrap();
        assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://t.db?mode=rwc");
    }

    #[test]
    fn fails_closed() {
        let err =
            |vars: &[(&str, &str)]| Config::load(&HS, "sqlite::memory:", env(vars)).unwrap_err();
        assert!(matches!(
            err(&[]),
            ConfigError::Missing {
                var: "JWT_SECRET",
                ..
            }
        ));
        assert!(matches!(
            err(&[("JWT_SECRET", "")]),
            ConfigError::Missing { .. }
        ));
        assert!(matches!(
            err(&[("JWT_SECRET", "short")]),
            ConfigError::SecretTooShort { len: 5, .. }
        ));
        let e = err(&[("JWT_SECRET", SECRET), ("DATABASE_URL", "mysql://x")]);
        assert!(e.to_string().starts_with("DATABASE_URL is invalid"), "{e}");
        let e = err(&[("JWT_SECRET", SECRET), ("BIND_ADDR", "localhost")]);
        assert!(e.to_string().starts_with("BIND_ADDR is invalid"), "{e}");
        let msg = err(&[("JWT_SECRET", "short")]).to_string();
        assert!(
            !msg.contains("short"),
            "the secret itself is never printed: {msg}"
        );
    }

    /// RFC 7518 §3.2: a key at least as long as the hash.
    #[test]
    fn longer_hashes_need_longer_secrets() {
        for (algorithm, min) in [
            (Algorithm::HS256, 32),
            (Algorithm::HS384, 48),
            (Algorithm::HS512, 64),
        ] {
            let auth = AuthSettings {
                algorithms: only(algorithm),
                ..HS
            };
            let load = |secret: &str| {
                Config::load(&auth, "sqlite::memory:", env(&[("JWT_SECRET", secret)]))
            };
            let short = "s".repeat(min - 1);
            let e = load(&short).unwrap_err();
            assert!(
                matches!(e, ConfigError::SecretTooShort { len, min: m, .. } if len == min - 1 && m == min),
                "{algorithm:?}: {e}"
            );
            assert!(e.to_string().contains(&format!("at least {min} ")), "{e}");
            assert!(load(&"s".repeat(min)).is_ok(), "{algorithm:?}");
        }
    }

    #[test]
    fn the_environment_wins_over_the_dotenv_file() {
        let dir = std::env::temp_dir().join(format!("palisade-dotenv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".env");
        std::fs::write(&path, "# a comment\nJWT_SECRET=from-file\nRUST_LOG=debug\n").unwrap();
        let file = read_dotenv(&path);
        let unset = || Err(VarError::NotPresent);
        assert_eq!(layered(unset(), &file, "JWT_SECRET").unwrap(), "from-file");
        assert_eq!(
            layered(Ok("from-env".into()), &file, "JWT_SECRET").unwrap(),
            "from-env"
        );
        // Set but empty in the environment is the environment's answer too.
        assert_eq!(layered(Ok(String::new()), &file, "JWT_SECRET").unwrap(), "");
        assert_eq!(
            layered(unset(), &file, "BIND_ADDR"),
            Err(VarError::NotPresent)
        );
        // No file: nothing from it; a broken file: an error naming the line.
        assert_eq!(read_dotenv(&dir.join("missing")), Ok(HashMap::new()));
        std::fs::write(&path, "JWT_SECRET=ok\nnot a line\n").unwrap();
        let e = read_dotenv(&path).unwrap_err();
        assert!(e.contains("not a line"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn public_key_from_text_or_file() {
        let settings = eddsa();
        let pem = ED_PUBLIC;
        let c = Config::load(
            &settings,
            "sqlite::memory:",
            env(&[("JWT_PUBLIC_KEY", pem)]),
        )
        .unwrap();
        assert_eq!(c.key, KeyMaterial::Static(pem.as_bytes().to_vec()));
        let e = Config::load(
            &settings,
            "sqlite::memory:",
            env(&[("JWT_PUBLIC_KEY", "/no/such/key.pem")]),
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::BadKey { .. }), "{e}");
    }
}
