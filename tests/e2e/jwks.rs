//! An identity provider on loopback that publishes a JSON Web Key Set,
//! and the tests of a server that takes its keys from one: a rotation
//! without a restart or a failed request, forged `kid`s that cannot make
//! the server hammer the provider, keys that must never verify, and a
//! provider that goes down.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::http::{Request, fresh_source};
use super::server::start;
use super::tokens::Principal;

/// What the provider answers at `/jwks`.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    body: String,
    /// Waited before answering (a slow provider).
    delay: Duration,
    /// A `location` header (a redirect).
    location: Option<String>,
}

impl Answer {
    fn of(body: String) -> Answer {
        Answer {
            status: 200,
            body,
            delay: Duration::ZERO,
            location: None,
        }
    }
}

/// A JWKS endpoint at `http://127.0.0.1:PORT/jwks`, counting its fetches.
pub struct Provider {
    addr: SocketAddr,
    answer: Arc<Mutex<Answer>>,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Provider {
    pub fn start(keys: &JwkSet) -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let provider = Provider {
            addr,
            answer: Arc::new(Mutex::new(Answer::of(serde_json::to_string(keys).unwrap()))),
            hits: Arc::new(AtomicUsize::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (answer, hits, stop) = (
            provider.answer.clone(),
            provider.hits.clone(),
            provider.stop.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let answer = answer.lock().unwrap().clone();
                if reply(stream, &answer).is_ok() {
                    hits.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        provider
    }

    /// The key set's URL (plain http: loopback is allowed for tests).
    pub fn url(&self) -> String {
        format!("http://{}/jwks", self.addr)
    }

    pub fn publish(&self, keys: &JwkSet) {
        *self.answer.lock().unwrap() = Answer::of(serde_json::to_string(keys).unwrap());
    }

    /// A provider that answers every fetch with `body` (any text),
    /// after `delay`, with `status` and an optional `location`.
    pub fn hostile(
        status: u16,
        body: String,
        delay: Duration,
        location: Option<String>,
    ) -> Provider {
        let provider = Provider::start(&set(&[]));
        *provider.answer.lock().unwrap() = Answer {
            status,
            body,
            delay,
            location,
        };
        provider
    }

    /// Every fetch from now on answers `status`.
    pub fn fail(&self, status: u16) {
        self.answer.lock().unwrap().status = status;
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Reads one request head and answers it; the connection is closed.
fn reply(stream: TcpStream, answer: &Answer) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if !line.starts_with("GET /jwks ") {
        return Err(std::io::Error::other("not the key set"));
    }
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    std::thread::sleep(answer.delay);
    let mut stream = stream;
    let location = answer
        .location
        .as_ref()
        .map(|l| format!("location: {l}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncache-control: max-age=600\r\n{location}content-length: {}\r\nconnection: close\r\n\r\n{}",
        answer.status,
        answer.body.len(),
        answer.body
    )?;
    stream.flush()
}

/// A signing key of the tests' provider: its private half, its algorithm
/// and its public JWK under `kid`.
#[derive(Clone)]
pub struct ProviderKey {
    pub private: EncodingKey,
    pub algorithm: Algorithm,
    pub jwk: Jwk,
}

impl ProviderKey {
    pub fn new(pem: &str, algorithm: Algorithm, kid: &str) -> ProviderKey {
        let private = match algorithm {
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem.as_bytes()),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()),
            _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .unwrap();
        let mut jwk = Jwk::from_encoding_key(&private, algorithm).unwrap();
        jwk.common.key_id = Some(kid.into());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        ProviderKey {
            private,
            algorithm,
            jwk,
        }
    }

    pub fn kid(&self) -> &str {
        self.jwk.common.key_id.as_deref().unwrap()
    }
}

pub fn set(keys: &[&Jwk]) -> JwkSet {
    JwkSet {
        keys: keys.iter().map(|k| (*k).clone()).collect(),
    }
}

const RS256_SECOND: &str = include_str!("../fixtures/rs256-foreign.pem");
const ES256_PRIVATE: &str = include_str!("../fixtures/es256-private.pem");

/// A provider (the library example's: Keycloak-shaped tokens from a JWKS)
/// rotates its keys while the server runs.
#[test]
fn a_provider_rotates_its_keys_without_a_restart() {
    let server = start("examples/library.yaml");
    let provider = server
        .keys
        .provider()
        .expect("the example takes keys from a JWKS");
    let first = server.keys.provider_key().clone();
    let alice = Principal::new("alice", "acme", &[]);
    let get = |token: &str| {
        Request::new("GET", "/loans")
            .bearer(token)
            .from(fresh_source())
            .send(server.addr)
    };
    let signed = |key: &ProviderKey, kid: Option<&str>| {
        let mut header = Header::new(key.algorithm);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, &server.keys.claims(&alice), &key.private).unwrap()
    };
    assert_eq!(get(&signed(&first, Some(first.kid()))).status, 200);
    let at_start = provider.hits();
    assert_eq!(at_start, 1, "the key set is fetched once at start-up");

    // The provider publishes a second key and signs with it: the first
    // token of the new kid refetches the set and passes.
    let second = ProviderKey::new(RS256_SECOND, Algorithm::RS256, "second");
    provider.publish(&set(&[&first.jwk, &second.jwk]));
    for _ in 0..3 {
        let r = get(&signed(&second, Some("second")));
        assert_eq!(r.status, 200, "a token of the new key: {}", r.text());
    }
    assert_eq!(provider.hits(), at_start + 1, "one refetch for the new kid");
    // Two keys: a token must say which one signed it.
    assert_eq!(get(&signed(&second, None)).status, 401);

    // The old key is retired; tokens of the new one keep passing.
    provider.publish(&set(&[&second.jwk]));
    assert_eq!(get(&signed(&second, Some("second"))).status, 200);

    // Forged kids, however many, refetch at most once per cooldown (here:
    // not at all, the last refetch was just now), and never pass.
    let before = provider.hits();
    for i in 0..40 {
        let r = get(&signed(&second, Some(&format!("forged-{i}"))));
        assert_eq!(r.status, 401, "forged kid {i}");
    }
    assert!(
        provider.hits() <= before + 1,
        "{} fetches for forged kids",
        provider.hits() - before
    );

    // After the cooldown, a key set that also carries keys that must never
    // verify: a shared secret, an encryption key, an `alg: none` key and
    // keys of algorithms the spec does not allow. Their tokens are 401,
    // whatever `alg` they claim (the HS256 and ES256 tokens are refused by
    // the allowlist already; the others reach the key set).
    std::thread::sleep(Duration::from_secs(31));
    let secret = b"a-shared-secret-that-a-jwks-must-never-carry-0123456789";
    let oct: Jwk = serde_json::from_value(json!({
        "kty": "oct", "kid": "hs", "alg": "HS256", "use": "sig",
        "k": base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, secret),
    }))
    .unwrap();
    let enc = ProviderKey::new(
        include_str!("../fixtures/rs256-private.pem"),
        Algorithm::RS256,
        "enc",
    );
    let es = ProviderKey::new(ES256_PRIVATE, Algorithm::ES256, "es");
    let with = |key: &Jwk, changes: Value| {
        let mut value = serde_json::to_value(key).unwrap();
        for (k, v) in changes.as_object().unwrap() {
            value[k] = v.clone();
        }
        value
    };
    let document = json!({ "keys": [
        second.jwk,
        oct,
        es.jwk,
        with(&enc.jwk, json!({ "use": "enc" })),
        with(&second.jwk, json!({ "kid": "none", "alg": "none" })),
        // An RSA key for PS256, which the spec does not allow: an RS256
        // token under its kid passes the allowlist and reaches the set.
        with(&enc.jwk, json!({ "kid": "ps", "alg": "PS256" })),
    ]});
    *provider.answer.lock().unwrap() = Answer::of(document.to_string());
    let claims = server.keys.claims(&alice);
    let hs = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("hs".into());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret).unwrap()).unwrap()
    };
    let forged = [
        ("an HS256 token under the shared secret's kid", hs),
        ("a token of the encryption key", signed(&enc, Some("enc"))),
        (
            "a token of a key of another algorithm",
            signed(&es, Some("es")),
        ),
        (
            "a token of the `alg: none` key",
            signed(&second, Some("none")),
        ),
        (
            "an RS256 token under a PS256 key's kid",
            signed(&enc, Some("ps")),
        ),
    ];
    for (what, token) in &forged {
        let r = get(token);
        assert_eq!(r.status, 401, "{what}: {}", r.text());
    }
    assert!(
        provider.hits() > before,
        "the set with the odd keys was fetched"
    );
    assert_eq!(
        get(&signed(&second, Some("second"))).status,
        200,
        "the good key still verifies"
    );

    // The provider goes down: the keys it served last stay in use.
    provider.fail(503);
    std::thread::sleep(Duration::from_secs(31));
    assert_eq!(get(&signed(&second, Some("unknown-now"))).status, 401);
    for _ in 0..5 {
        assert_eq!(
            get(&signed(&second, Some("second"))).status,
            200,
            "stale keys verify"
        );
    }
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(!log.contains("panicked"), "{log}");
}
