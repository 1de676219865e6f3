//! Verification keys from an identity provider's JSON Web Key Set.
//!
//! [`KeyCache`] holds the signing keys of one JWKS (a URL, the `jwks_uri`
//! of the issuer's OpenID Connect discovery document, or a local file for
//! development) and keeps them current. Invariants:
//! - a key is used only for the algorithms it can verify that the spec
//!   allows: `kty` (and the curve) must fit the algorithm, a key's `alg`,
//!   when given, must be the token's; keys for other uses (`use` other than
//!   `sig`, `key_ops` without `verify`), symmetric (`oct`) keys and key
//!   types this server does not know are ignored, never an error, so one
//!   odd key cannot take the others down;
//! - the keys are fetched at start-up (the server does not start without
//!   one), refreshed in the background after the provider's `Cache-Control`
//!   `max-age` (bounded by [`MIN_REFRESH`] and [`MAX_REFRESH`], default
//!   [`DEFAULT_REFRESH`]), and refetched at once when a token names an
//!   unknown `kid`, at most once per [`REFETCH_COOLDOWN`] however many such
//!   tokens arrive;
//! - while the provider cannot be reached the last keys stay in use, up
//!   to [`MAX_STALE`] after they were fetched; then every token is refused
//!   until a fetch succeeds (fail closed);
//! - no request waits on the provider longer than [`REQUEST_WAIT`]: a fetch
//!   runs on its own task, bounded by [`FETCH_TIMEOUT`];
//! - keys come over `https://` (plain `http://` only from loopback, for
//!   tests); redirects are not followed; documents over
//!   [`MAX_DOCUMENT_BYTES`] are refused.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use tokio::sync::watch;

use super::auth::TokenError;
use super::config::{Location, check_url};

/// Refresh interval when the provider sends no usable `max-age`.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(600);
/// Shortest refresh interval, whatever `max-age` says (also for `no-cache`).
pub const MIN_REFRESH: Duration = Duration::from_secs(60);
/// Longest refresh interval, whatever `max-age` says.
/// Longest refresh interval, whatever `max-age` says: well below
/// [`MAX_STALE`], so that a provider that is down when a refresh is due
/// leaves the keys in use for at least 18 more hours.
pub const MAX_REFRESH: Duration = Duration::from_secs(6 * 3600);
/// Wait before fetching again after a failed fetch.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);
/// At most one fetch for unknown `kid`s in this period.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// Keys are used at most this long after they were last fetched.
pub const MAX_STALE: Duration = Duration::from_secs(24 * 3600);
/// One whole fetch: connection, TLS, request and body.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Connection set-up within a fetch.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest a request waits for a refetch on an unknown `kid`.
pub const REQUEST_WAIT: Duration = Duration::from_secs(2);
/// Largest JWKS or discovery document read.
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;
/// How long start-up keeps trying to get the first keys.
pub const START_DEADLINE: Duration = Duration::from_secs(15);

/// One usable signing key of a set.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: Option<String>,
    /// The allowed algorithms this key verifies.
    pub algorithms: Vec<Algorithm>,
    pub key: DecodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

/// The usable keys of one fetched document.
#[derive(Debug, Clone)]
pub struct KeySet {
    pub keys: Vec<Arc<SigningKey>>,
    /// Why each other key of the document was left out (for logs).
    pub ignored: Vec<String>,
}

impl KeySet {
    /// Reads a JWKS document, keeping the keys that verify one of
    /// `allowed`. Only a document that is not `{"keys": [...]}` is an error.
    pub fn parse(document: &[u8], allowed: &[Algorithm]) -> Result<KeySet, String> {
        let doc: Value = serde_json::from_slice(document)
            .map_err(|e| format!("the key set is not JSON: {e}"))?;
        let Some(Value::Array(items)) = doc.get("keys") else {
            return Err("the key set has no `keys` array".into());
        };
        let mut set = KeySet {
            keys: Vec::new(),
            ignored: Vec::new(),
        };
        for (i, item) in items.iter().enumerate() {
            let kid = item.get("kid").and_then(Value::as_str);
            let name = kid.map_or_else(|| format!("key {i}"), |k| format!("key `{k}`"));
            match usable(item, allowed) {
                Ok(key) => set.keys.push(Arc::new(key)),
                Err(why) => set.ignored.push(format!("{name}: {why}")),
            }
        }
        Ok(set)
    }

    /// The key that verifies a token of `alg` with header `kid`: the key
    /// with that `kid`; without a `kid`, the set's one key (a set of
    /// several needs the token to say which).
    pub fn find(&self, alg: Algorithm, kid: Option<&str>) -> Result<Arc<SigningKey>, TokenError> {
        let fits = |k: &&Arc<SigningKey>| k.algorithms.contains(&alg);
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(fits)
                .find(|k| k.kid.as_deref() == Some(kid))
                .cloned()
                .ok_or(TokenError::UnknownKey),
            None => match &self.keys[..] {
                [one] if one.algorithms.contains(&alg) => Ok(one.clone()),
                [_] | [] => Err(TokenError::UnknownKey),
                _ => Err(TokenError::KidRequired),
            },
        }
    }
}

/// The key of one JWK when it may verify tokens of some allowed algorithm.
fn usable(item: &Value, allowed: &[Algorithm]) -> Result<SigningKey, String> {
    let jwk: Jwk = serde_json::from_value(item.clone())
        .map_err(|e| format!("not a key this server reads ({e})"))?;
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(other) => return Err(format!("its `use` is {other:?}, not `sig`")),
    }
    if let Some(ops) = &jwk.common.key_operations {
        if !ops.iter().any(|o| matches!(o, KeyOperations::Verify)) {
            return Err("its `key_ops` do not include `verify`".into());
        }
    }
    let fits = |alg: &Algorithm| match (&jwk.algorithm, alg) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384) => p.curve == EllipticCurve::P384,
        (AlgorithmParameters::OctetKeyPair(p), Algorithm::EdDSA) => {
            p.curve == EllipticCurve::Ed25519
        }
        _ => false,
    };
    let named = match item.get("alg") {
        None => None,
        Some(Value::String(name)) => Some(name.as_str()),
        Some(_) => return Err("its `alg` is not a string".into()),
    };
    let algorithms: Vec<Algorithm> = allowed
        .iter()
        .copied()
        .filter(|a| fits(a) && named.is_none_or(|n| n == format!("{a:?}")))
        .collect();
    if algorithms.is_empty() {
        return Err(match named {
            Some(name) => format!("its `alg` {name} is not an allowed algorithm for its key type"),
            None => "its key type verifies none of the allowed algorithms".into(),
        });
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("its key is malformed: {e}"))?;
    Ok(SigningKey {
        kid: jwk.common.key_id.clone(),
        algorithms,
        key,
    })
}

/// The refresh interval a response's `Cache-Control` asks for, bounded.
pub fn refresh_after(headers: &HeaderMap) -> Duration {
    let mut after = None;
    for value in headers.get_all(header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-cache" || lower == "no-store" {
                after = Some(Duration::ZERO);
            } else if let Some(secs) = lower.strip_prefix("max-age=") {
                if let Ok(secs) = secs.trim_matches('"').parse::<u64>() {
                    after = after.or(Some(Duration::from_secs(secs)));
                }
            }
        }
    }
    after
        .unwrap_or(DEFAULT_REFRESH)
        .clamp(MIN_REFRESH, MAX_REFRESH)
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The HTTPS client of every fetch: rustls with `ring`, Mozilla's and the
/// system's roots, HTTP/1, no redirects, a connect timeout.
fn client() -> Result<HttpsClient, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system certificate rustls cannot parse is skipped, as curl does.
        let _ = roots.add(cert);
    }
    // rustls 0.23.48 deprecates `ring` for its lack of post-quantum key
    // exchange; it is still maintained and is the provider chosen here
    // (aws-lc-rs would add minutes to every clean build on two cores), and
    // what travels is a public document whose secrecy does not matter.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// One GET of a JSON document: its bytes and the refresh interval its
/// `Cache-Control` asks for.
async fn get(client: &HttpsClient, url: &str) -> Result<(Bytes, Duration), String> {
    let uri = check_url(url)?;
    let request = Request::get(uri)
        .header(header::ACCEPT, "application/json")
        .header(header::USER_AGENT, "palisade-runtime")
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let fetch = async {
        let response = client.request(request).await.map_err(|e| error_chain(&e))?;
        if response.status() != StatusCode::OK {
            return Err(format!("it answered {}", response.status()));
        }
        let after = refresh_after(response.headers());
        let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
            .collect()
            .await
            .map_err(|e| {
                format!("reading the body failed or it is over {MAX_DOCUMENT_BYTES} bytes: {e}")
            })?;
        Ok((body.to_bytes(), after))
    };
    tokio::time::timeout(FETCH_TIMEOUT, fetch)
        .await
        .map_err(|_| format!("no answer within {FETCH_TIMEOUT:?}"))?
}

/// An error and its sources, joined with `: ` (hyper's own message is
/// only "client error (Connect)").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The current keys, when the fetch that brought them started and when
/// it ended.
#[derive(Debug)]
struct Current {
    set: Arc<KeySet>,
    started: Instant,
    fetched: Instant,
}

/// The state of refetching on unknown `kid`s.
#[derive(Debug, Default)]
struct Refetch {
    /// When the last refetch for an unknown `kid` started.
    last: Option<Instant>,
    in_flight: bool,
}

/// The keys of one JWKS, kept current. Share it in an `Arc`.
pub struct KeyCache {
    location: Location,
    allowed: &'static [Algorithm],
    /// `None` for a file.
    client: Option<HttpsClient>,
    current: RwLock<Current>,
    refetch: Mutex<Refetch>,
    /// Counts finished refetches; requests waiting on one watch it.
    fetches: watch::Sender<u64>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    /// Fetches the first keys, retrying until [`START_DEADLINE`]; fails when
    /// none can be had (no answer, or no usable key), saying why. Returns
    /// the cache and when the answer asks to be refreshed.
    pub async fn start(
        location: Location,
        allowed: &'static [Algorithm],
    ) -> Result<(Arc<KeyCache>, Duration), String> {
        KeyCache::start_within(location, allowed, START_DEADLINE).await
    }

    /// [`KeyCache::start`], giving up after `patience`.
    pub async fn start_within(
        location: Location,
        allowed: &'static [Algorithm],
        patience: Duration,
    ) -> Result<(Arc<KeyCache>, Duration), String> {
        let client = match location {
            Location::File(_) => None,
            _ => Some(client()?),
        };
        let cache = KeyCache {
            location,
            allowed,
            client,
            current: RwLock::new(Current {
                set: Arc::new(KeySet {
                    keys: Vec::new(),
                    ignored: Vec::new(),
                }),
                started: Instant::now(),
                fetched: Instant::now(),
            }),
            refetch: Mutex::new(Refetch::default()),
            fetches: watch::Sender::new(0),
        };
        if let Location::File(path) = &cache.location {
            tracing::warn!(path = %path.display(), "signing keys come from a local file: for development only");
        }
        // A local file is there or not: no retries.
        let patience = match cache.location {
            Location::File(_) => Duration::ZERO,
            _ => patience,
        };
        let deadline = Instant::now() + patience;
        let mut pause = Duration::from_millis(250);
        loop {
            match cache.fetch().await {
                Ok(after) => return Ok((Arc::new(cache), after)),
                Err(e) if Instant::now() + pause >= deadline => {
                    return Err(format!(
                        "no signing key could be had from {}: {e}",
                        cache.location
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "fetching the signing keys failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(4));
                }
            }
        }
    }

    /// Keeps the keys current until the process ends: a fetch after the
    /// interval the last answer asked for, or [`RETRY_AFTER_FAILURE`]
    /// after a failure.
    pub fn spawn_refresh(self: &Arc<KeyCache>, first: Duration) {
        let cache = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut wait = first;
            loop {
                tokio::time::sleep(wait).await;
                let Some(cache) = cache.upgrade() else { return };
                wait = match cache.fetch().await {
                    Ok(after) => after,
                    Err(e) => {
                        tracing::warn!(error = %e, source = %cache.location, "refreshing the signing keys failed; the last keys stay in use");
                        RETRY_AFTER_FAILURE
                    }
                };
            }
        });
    }

    /// Fetches the document and, when it has a usable key, makes it the
    /// current set. Returns the refresh interval the answer asks for.
    /// A fetch that ends after a later-started one has installed its set
    /// installs nothing (the background refresh and a refetch for an
    /// unknown `kid` may overlap; the newer answer wins).
    pub async fn fetch(&self) -> Result<Duration, String> {
        let started = Instant::now();
        let result = self.read().await.and_then(|(bytes, after)| {
            let set = KeySet::parse(&bytes, self.allowed)?;
            if set.keys.is_empty() {
                return Err(format!(
                    "the key set has no key for {:?}{}",
                    self.allowed,
                    if set.ignored.is_empty() {
                        String::new()
                    } else {
                        format!(" (ignored: {})", set.ignored.join("; "))
                    }
                ));
            }
            Ok((set, after))
        });
        result.map(|(set, after)| {
            if !set.ignored.is_empty() {
                tracing::debug!(ignored = ?set.ignored, "keys of the JWKS left out");
            }
            let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
            if current.started <= started {
                *current = Current {
                    set: Arc::new(set),
                    started,
                    fetched: Instant::now(),
                };
            }
            after
        })
    }

    /// The document's bytes, from the file or the URL (through the
    /// discovery document when configured so).
    async fn read(&self) -> Result<(Bytes, Duration), String> {
        let client = self.client.as_ref();
        match (&self.location, client) {
            (Location::File(path), _) => std::fs::read(path)
                .map(|b| (Bytes::from(b), DEFAULT_REFRESH))
                .map_err(|e| format!("cannot read {}: {e}", path.display())),
            (Location::Url(url), Some(client)) => get(client, url).await,
            (Location::Discovery { issuer }, Some(client)) => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                );
                let (doc, _) = get(client, &url).await.map_err(|e| format!("{url}: {e}"))?;
                let doc: Value =
                    serde_json::from_slice(&doc).map_err(|e| format!("{url} is not JSON: {e}"))?;
                // OpenID Connect Discovery 1.0, 4.3: the document's issuer
                // must be the one it was fetched for.
                if doc.get("issuer").and_then(Value::as_str) != Some(issuer.as_str()) {
                    return Err(format!(
                        "{url} names another issuer than {issuer}, so its keys are not used"
                    ));
                }
                let jwks = doc
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{url} has no `jwks_uri`"))?;
                get(client, jwks)
                    .await
                    .map_err(|e| format!("{jwks} (its jwks_uri): {e}"))
            }
            (_, None) => Err("no HTTP client".into()),
        }
    }

    /// The key for a token of `alg` naming `kid`. An unknown `kid` starts
    /// a refetch when none ran in the last [`REFETCH_COOLDOWN`] (or joins
    /// the one that is running), and waits at most [`REQUEST_WAIT`] for it:
    /// the fetch runs on its own task and outlives a request that stops
    /// waiting.
    pub async fn key(
        self: &Arc<KeyCache>,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<Arc<SigningKey>, TokenError> {
        let found = self.lookup(alg, kid);
        if kid.is_none() || !matches!(found, Err(TokenError::UnknownKey)) {
            return found;
        }
        let mut done = self.fetches.subscribe();
        {
            let mut refetch = self.refetch.lock().unwrap_or_else(|e| e.into_inner());
            if !refetch.in_flight {
                if refetch.last.is_some_and(|t| t.elapsed() < REFETCH_COOLDOWN) {
                    // A refetch may have ended since the first look.
                    return self.lookup(alg, kid);
                }
                refetch.last = Some(Instant::now());
                refetch.in_flight = true;
                let cache = Arc::clone(self);
                tokio::spawn(async move {
                    if let Err(e) = cache.fetch().await {
                        tracing::warn!(error = %e, "refetching the signing keys for an unknown kid failed");
                    }
                    // Not in flight before the waiters wake, so a later
                    // unknown kid never waits on a fetch that has ended.
                    cache
                        .refetch
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .in_flight = false;
                    cache.fetches.send_modify(|n| *n += 1);
                });
            }
        }
        match tokio::time::timeout(REQUEST_WAIT, done.changed()).await {
            Ok(Ok(())) => self.lookup(alg, kid),
            _ => Err(TokenError::UnknownKey),
        }
    }

    /// The key in the current set, unless the set is older than [`MAX_STALE`].
    pub fn lookup(&self, alg: Algorithm, kid: Option<&str>) -> Result<Arc<SigningKey>, TokenError> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        if current.fetched.elapsed() > MAX_STALE {
            return Err(TokenError::NoKeys);
        }
        current.set.find(alg, kid)
    }
}

#[cfg(test)]
mod tests {
    use super::super::auth::tests::{ED_PRIVATE, HS};
    use super::super::auth::{AuthSettings, KeySource, Verifier, public_jwk};
    use super::*;
    use axum::http::HeaderValue;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ED_SECOND: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIGV7VvfdtCb0Lmqe4VAvZvG2gLZrqpNymgMb/6KkBeZ2
-----END PRIVATE KEY-----
";
    const P256: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjR29Q0pxoh6yRPw8
EJeu5rQtBDQUu8d0ZUuvBkAImKyhRANCAAQw3PYl8R6twm/GbRJTSXKy1d4UuH53
T3vq5MTHYcFmjb8OPb+EGO+4QpNtu39zJek3jxT5HwGfeRiSCrij0O1u
-----END PRIVATE KEY-----
";
    const P384: &str = "-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDAaSpDFdfBatXSU+YcK
CYqnPT3Yrf+rNpWHR7nbpgBHr3DCg+vAISDnQdDTOPIAcvOhZANiAAQb6bjLlQrx
LjDcsDdjYy3SjopDI5BT4cTxzcQ9xZN+uKcyYFld36sZrw3J6+zS5JzCmXgNz5T1
woLsUNCzwr9jYwHFSdwerdZFa6KAq60zKCm7wqDSkJ9BfoRm01UepnM=
-----END PRIVATE KEY-----
";
    const ALLOWED: &[Algorithm] = &[Algorithm::EdDSA, Algorithm::ES256];

    /// A signing key of the tests: its private half and public JWK.
    struct TestKey {
        private: EncodingKey,
        alg: Algorithm,
        jwk: Value,
    }

    fn key(pem: &str, alg: Algorithm, kid: &str) -> TestKey {
        let private = match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        };
        let mut jwk = serde_json::to_value(public_jwk(&private, alg).unwrap()).unwrap();
        jwk["kid"] = json!(kid);
        TestKey { private, alg, jwk }
    }

    fn set(keys: &[&Value]) -> String {
        json!({ "keys": keys }).to_string()
    }

    fn settings() -> AuthSettings {
        AuthSettings {
            algorithms: ALLOWED,
            keys: KeySource::JwksUrlEnv("JWKS_URL"),
            ..HS
        }
    }

    fn token(key: &TestKey, kid: Option<&str>) -> String {
        let mut header = Header::new(key.alg);
        header.kid = kid.map(str::to_owned);
        let now = jsonwebtoken::get_current_timestamp();
        let claims = json!({"sub": "alice", "iss": "https://issuer.test", "aud": ["other", "api"],
                            "exp": now + 600});
        jsonwebtoken::encode(&header, &claims, &key.private).unwrap()
    }

    #[test]
    fn only_signing_keys_of_allowed_algorithms_are_kept() {
        let ed = key(ED_PRIVATE, Algorithm::EdDSA, "ed");
        let p256 = key(P256, Algorithm::ES256, "p256");
        let p384 = key(P384, Algorithm::ES384, "p384");
        let with = |base: &Value, extra: Value| {
            let mut k = base.clone();
            for (name, value) in extra.as_object().unwrap() {
                k[name] = value.clone();
            }
            k
        };
        let doc = set(&[
            &ed.jwk,
            &p256.jwk,
            // Another use, other operations, another algorithm named.
            &with(&ed.jwk, json!({"kid": "enc", "use": "enc"})),
            &with(&ed.jwk, json!({"kid": "ops", "key_ops": ["encrypt"]})),
            &with(&ed.jwk, json!({"kid": "es", "alg": "ES256"})),
            &with(&ed.jwk, json!({"kid": "none", "alg": "none"})),
            // A curve no allowed algorithm uses, a shared secret, a key
            // type this server does not know, not a key at all.
            &p384.jwk,
            &json!({"kty": "oct", "kid": "hs", "alg": "HS256", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}),
            &json!({"kty": "AKP", "kid": "pq", "alg": "ML-DSA-44", "pub": "AAAA"}),
            &json!("not an object"),
        ]);
        let set = KeySet::parse(doc.as_bytes(), ALLOWED).unwrap();
        let kids: Vec<_> = set.keys.iter().map(|k| k.kid.clone().unwrap()).collect();
        assert_eq!(kids, ["ed", "p256"]);
        assert_eq!(set.ignored.len(), 8, "{:?}", set.ignored);
        assert_eq!(set.keys[1].algorithms, [Algorithm::ES256]);
        // Broken documents are errors; an empty one is a set without keys.
        assert!(KeySet::parse(b"{", ALLOWED).is_err());
        assert!(KeySet::parse(b"{\"keys\": {}}", ALLOWED).is_err());
        assert!(
            KeySet::parse(b"{\"keys\": []}", ALLOWED)
                .unwrap()
                .keys
                .is_empty()
        );
    }

    #[test]
    fn a_set_of_several_keys_needs_the_tokens_kid() {
        let ed = key(ED_PRIVATE, Algorithm::EdDSA, "ed");
        let p256 = key(P256, Algorithm::ES256, "p256");
        let one = KeySet::parse(set(&[&ed.jwk]).as_bytes(), ALLOWED).unwrap();
        assert!(one.find(Algorithm::EdDSA, None).is_ok());
        assert!(one.find(Algorithm::EdDSA, Some("ed")).is_ok());
        assert_eq!(
            one.find(Algorithm::EdDSA, Some("x")).unwrap_err(),
            TokenError::UnknownKey
        );
        // The key's algorithm, not the token's, decides.
        assert_eq!(
            one.find(Algorithm::ES256, None).unwrap_err(),
            TokenError::UnknownKey
        );
        assert_eq!(
            one.find(Algorithm::ES256, Some("ed")).unwrap_err(),
            TokenError::UnknownKey
        );
        let two = KeySet::parse(set(&[&ed.jwk, &p256.jwk]).as_bytes(), ALLOWED).unwrap();
        assert_eq!(
            two.find(Algorithm::EdDSA, None).unwrap_err(),
            TokenError::KidRequired
        );
        assert!(two.find(Algorithm::ES256, Some("p256")).is_ok());
    }

    #[test]
    fn cache_control_sets_the_refresh_within_bounds() {
        let after = |value: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(v) = value {
                h.insert(header::CACHE_CONTROL, HeaderValue::from_str(v).unwrap());
            }
            refresh_after(&h)
        };
        assert_eq!(after(None), DEFAULT_REFRESH);
        assert_eq!(
            after(Some("public, max-age=3600")),
            Duration::from_secs(3600)
        );
        assert_eq!(after(Some("max-age=5")), MIN_REFRESH);
        assert_eq!(after(Some("no-cache")), MIN_REFRESH);
        assert_eq!(after(Some("max-age=99999999")), MAX_REFRESH);
        assert_eq!(after(Some("max-age=soon")), DEFAULT_REFRESH);
    }

    #[test]
    fn keys_come_over_https_or_from_loopback() {
        for ok in [
            "https://id.example.com/jwks",
            "http://127.0.0.1:8081/jwks",
            "http://localhost/jwks",
            "http://[::1]:9/jwks",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://id.example.com/jwks",
            "ftp://id.example.com/jwks",
            "https://user:pw@id.example.com/jwks",
            "https:///jwks",
            "/jwks",
            "http://127.0.0.1.example.com/jwks",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    /// A provider on loopback: serves `doc` with `status` at /jwks and a
    /// discovery document naming `issuer`, counting the key set's fetches.
    #[derive(Clone)]
    struct Provider {
        state: Arc<Mutex<(StatusCode, String, String)>>,
        hits: Arc<AtomicUsize>,
        base: String,
    }

    impl Provider {
        async fn start(doc: String) -> Provider {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let provider = Provider {
                state: Arc::new(Mutex::new((StatusCode::OK, doc, base.clone()))),
                hits: Arc::new(AtomicUsize::new(0)),
                base,
            };
            let p = provider.clone();
            let app = axum::Router::new()
                .route(
                    "/jwks",
                    axum::routing::get(move || {
                        let p = p.clone();
                        async move {
                            p.hits.fetch_add(1, Ordering::SeqCst);
                            let (status, doc, _) = p.state.lock().unwrap().clone();
                            (status, [(header::CACHE_CONTROL, "max-age=120")], doc)
                        }
                    }),
                )
                .route(
                    "/.well-known/openid-configuration",
                    axum::routing::get({
                        let p = provider.clone();
                        move || {
                            let p = p.clone();
                            async move {
                                let issuer = p.state.lock().unwrap().2.clone();
                                json!({"issuer": issuer, "jwks_uri": format!("{}/jwks", p.base)})
                                    .to_string()
                            }
                        }
                    }),
                );
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            provider
        }

        fn serve(&self, doc: String) {
            self.state.lock().unwrap().1 = doc;
        }

        fn fail(&self) {
            self.state.lock().unwrap().0 = StatusCode::SERVICE_UNAVAILABLE;
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }

        fn url(&self) -> Location {
            Location::Url(format!("{}/jwks", self.base))
        }
    }

    async fn verifier(location: Location) -> (Verifier, Duration) {
        let (cache, after) = KeyCache::start_within(location, ALLOWED, Duration::from_secs(2))
            .await
            .unwrap();
        (Verifier::jwks(settings(), cache), after)
    }

    #[tokio::test]
    async fn a_rotation_needs_no_restart_and_unknown_kids_refetch_once() {
        let old = key(ED_PRIVATE, Algorithm::EdDSA, "old");
        let new = key(P256, Algorithm::ES256, "new");
        let provider = Provider::start(set(&[&old.jwk])).await;
        let (v, after) = verifier(provider.url()).await;
        assert_eq!(after, Duration::from_secs(120), "max-age is honoured");
        assert_eq!(
            v.check(&token(&old, Some("old"))).await.unwrap().user,
            "alice"
        );
        // Without a kid, the one key of the set.
        assert!(v.check(&token(&old, None)).await.is_ok());
        assert_eq!(provider.hits(), 1);

        // The provider adds a key and signs with it: the first token of
        // the new kid refetches and passes.
        provider.serve(set(&[&old.jwk, &new.jwk]));
        assert!(v.check(&token(&new, Some("new"))).await.is_ok());
        assert_eq!(provider.hits(), 2);
        // Now that the set has two keys, a token must say which.
        assert_eq!(
            v.check(&token(&old, None)).await.unwrap_err(),
            TokenError::KidRequired
        );
        // Forged kids within the cooldown: no fetch at all.
        for i in 0..20 {
            let forged = token(&new, Some(&format!("forged-{i}")));
            assert_eq!(v.check(&forged).await.unwrap_err(), TokenError::UnknownKey);
        }
        assert_eq!(provider.hits(), 2);
    }

    #[tokio::test]
    async fn many_unknown_kids_at_once_make_one_fetch() {
        let k = key(ED_PRIVATE, Algorithm::EdDSA, "k");
        let provider = Provider::start(set(&[&k.jwk])).await;
        let (v, _) = verifier(provider.url()).await;
        let v = Arc::new(v);
        let tokens: Vec<String> = (0..50).map(|i| token(&k, Some(&format!("x{i}")))).collect();
        let checks = tokens.into_iter().map(|t| {
            let v = v.clone();
            tokio::spawn(async move { v.check(&t).await })
        });
        for check in checks {
            assert_eq!(check.await.unwrap().unwrap_err(), TokenError::UnknownKey);
        }
        assert_eq!(
            provider.hits(),
            2,
            "one fetch at start, one refetch for 50 forged kids"
        );
    }

    #[tokio::test]
    async fn keys_stay_while_the_provider_is_down() {
        let k = key(ED_PRIVATE, Algorithm::EdDSA, "k");
        let provider = Provider::start(set(&[&k.jwk])).await;
        let (cache, _) = KeyCache::start_within(provider.url(), ALLOWED, Duration::from_secs(2))
            .await
            .unwrap();
        let v = Verifier::jwks(settings(), cache.clone());
        provider.fail();
        let e = cache.fetch().await.unwrap_err();
        assert!(e.contains("503"), "{e}");
        assert!(v.check(&token(&k, Some("k"))).await.is_ok());
        // A set without a usable key does not replace the last good one.
        provider.state.lock().unwrap().0 = StatusCode::OK;
        provider.serve(set(&[]));
        assert!(cache.fetch().await.is_err());
        assert!(v.check(&token(&k, Some("k"))).await.is_ok());
        // Too old: refused, fail closed.
        {
            let long_ago = Instant::now()
                .checked_sub(MAX_STALE + Duration::from_secs(1))
                .expect("the monotonic clock goes back a day");
            cache.current.write().unwrap().fetched = long_ago;
            assert_eq!(
                v.check(&token(&k, Some("k"))).await.unwrap_err(),
                TokenError::NoKeys
            );
        }
    }

    #[tokio::test]
    async fn start_up_fails_closed_without_a_key() {
        let other = key(P384, Algorithm::ES384, "p384");
        let provider = Provider::start(set(&[&other.jwk])).await;
        let patience = Duration::from_millis(600);
        let e = KeyCache::start_within(provider.url(), ALLOWED, patience)
            .await
            .unwrap_err();
        assert!(e.contains("no key for") && e.contains("p384"), "{e}");
        provider.fail();
        let e = KeyCache::start_within(provider.url(), ALLOWED, patience)
            .await
            .unwrap_err();
        assert!(e.contains("503"), "{e}");
        let e = KeyCache::start_within(
            Location::Url("http://127.0.0.1:9/jwks".into()),
            ALLOWED,
            patience,
        )
        .await
        .unwrap_err();
        assert!(
            e.starts_with("no signing key could be had from http://127.0.0.1:9/jwks"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn discovery_finds_the_key_set_of_its_issuer_only() {
        let k = key(ED_PRIVATE, Algorithm::EdDSA, "k");
        let provider = Provider::start(set(&[&k.jwk])).await;
        let issuer = provider.base.clone();
        let (v, _) = verifier(Location::Discovery {
            issuer: issuer.clone(),
        })
        .await;
        assert!(v.check(&token(&k, Some("k"))).await.is_ok());
        // A document that names another issuer is not trusted.
        provider.state.lock().unwrap().2 = "https://elsewhere.example.com".into();
        let e = KeyCache::start_within(
            Location::Discovery { issuer },
            ALLOWED,
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        assert!(e.contains("names another issuer"), "{e}");
    }

    /// `dev-jwks` publishes the public half of the key `dev-token` signs
    /// with, under the `kid` the token names; roles and users come from
    /// the claim paths, pointers included.
    #[tokio::test]
    async fn dev_tokens_verify_against_the_dev_key_set() {
        let settings = AuthSettings {
            roles_claim: Some("/realm_access/roles"),
            user_claim: "/user/id",
            ..settings()
        };
        let jwks = super::super::auth::dev_jwks(&settings, P256.as_bytes()).unwrap();
        let doc: Value = serde_json::from_str(&jwks).unwrap();
        assert_eq!(
            doc["keys"][0]["alg"], "ES256",
            "the first allowed algorithm of the key"
        );
        assert_eq!(doc["keys"][0]["use"], "sig");
        let path =
            std::env::temp_dir().join(format!("palisade-dev-jwks-{}.json", std::process::id()));
        std::fs::write(&path, &jwks).unwrap();
        let (cache, _) = KeyCache::start_within(
            Location::File(path.clone()),
            ALLOWED,
            Duration::from_secs(1),
        )
        .await
        .unwrap();
        let v = Verifier::jwks(settings, cache);
        let token = super::super::auth::mint(
            &settings,
            P256.as_bytes(),
            "alice",
            &["admin".into()],
            &[],
            60,
        )
        .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), doc["keys"][0]["kid"].as_str());
        let p = v.check(&token).await.unwrap();
        assert_eq!(
            (p.user.as_str(), p.roles.as_slice()),
            ("alice", &["admin".to_string()][..])
        );
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&token).unwrap();
        assert_eq!(claims["realm_access"]["roles"], json!(["admin"]));
        assert_eq!(claims["user"]["id"], "alice");
        // Another key pair's token is refused: its kid is not in the set.
        let other =
            super::super::auth::mint(&settings, ED_PRIVATE.as_bytes(), "alice", &[], &[], 60)
                .unwrap();
        assert!(v.check(&other).await.is_err());
        std::fs::remove_file(&path).unwrap();
    }

    #[tokio::test]
    async fn a_local_key_set_file_is_read() {
        let k = key(ED_SECOND, Algorithm::EdDSA, "dev");
        let path = std::env::temp_dir().join(format!("palisade-jwks-{}.json", std::process::id()));
        std::fs::write(&path, set(&[&k.jwk])).unwrap();
        let (v, _) = verifier(Location::File(path.clone())).await;
        assert!(v.check(&token(&k, Some("dev"))).await.is_ok());
        std::fs::remove_file(&path).unwrap();
    }
}
