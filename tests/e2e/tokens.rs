//! Tokens as an identity provider would mint them, and as attackers forge
//! them (RFC 8725 pitfalls: `alg: none`, algorithm confusion, expired,
//! wrong audience or issuer, bad signature).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use palisade::model::{Key, Service};
use palisade_runtime::auth::put_claim;

use super::jwks::{Provider, ProviderKey, set};
use serde_json::{Map, Value, json};

const RS256_PRIVATE: &str = include_str!("../fixtures/rs256-private.pem");
const RS256_PUBLIC: &str = include_str!("../fixtures/rs256-public.pem");
/// An RSA key pair the server does not trust (until a test rotates to it).
const RS256_FOREIGN: &str = include_str!("../fixtures/rs256-foreign.pem");
const ES256_PRIVATE: &str = include_str!("../fixtures/es256-private.pem");
const ES256_PUBLIC: &str = include_str!("../fixtures/es256-public.pem");
/// A key pair the server does not trust.
const ES256_FOREIGN: &str = include_str!("../fixtures/es256-foreign.pem");

/// Someone calling the API.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: String,
    pub roles: Vec<String>,
    /// The value of every tenant claim.
    pub tenant: String,
}

impl Principal {
    pub fn new(user: &str, tenant: &str, roles: &[&str]) -> Principal {
        Principal {
            user: user.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            tenant: tenant.into(),
        }
    }
}

pub struct Keys {
    algorithm: Algorithm,
    signing: EncodingKey,
    /// A key of the same kind the server does not trust.
    foreign: EncodingKey,
    secret: Option<String>,
    user_claim: String,
    roles_claim: Option<String>,
    tenant_claims: Vec<String>,
    issuer: Option<String>,
    audience: Option<String>,
    /// The identity provider that publishes the signing key, when the
    /// server takes its keys from a JWKS; and that key.
    provider: Option<(Provider, ProviderKey)>,
    /// The PEM public key of `signing` (the algorithm confusion attack).
    public_pem: &'static str,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Keys {
    pub fn for_model(model: &Service) -> Keys {
        let auth = &model.auth;
        let algorithm: Algorithm = auth.algorithms[0]
            .name()
            .parse()
            .expect("a jsonwebtoken algorithm");
        let mut provider = None;
        let mut public_pem = ES256_PUBLIC;
        let (signing, foreign, secret) = match &auth.key {
            Key::JwksUrlEnv { .. } => {
                let (pem, foreign) = match algorithm {
                    Algorithm::RS256 => (RS256_PRIVATE, RS256_FOREIGN),
                    Algorithm::ES256 => (ES256_PRIVATE, ES256_FOREIGN),
                    other => {
                        panic!("the e2e suite has key fixtures for RS256 and ES256, not {other:?}")
                    }
                };
                if algorithm == Algorithm::RS256 {
                    public_pem = RS256_PUBLIC;
                }
                let key = ProviderKey::new(pem, algorithm, "e2e-signing-key");
                let signing = key.private.clone();
                let foreign = if algorithm == Algorithm::RS256 {
                    EncodingKey::from_rsa_pem(foreign.as_bytes()).unwrap()
                } else {
                    EncodingKey::from_ec_pem(foreign.as_bytes()).unwrap()
                };
                provider = Some((Provider::start(&set(&[&key.jwk])), key));
                (signing, foreign, None)
            }
            Key::JwksUrl { .. } | Key::Discovery { .. } => {
                panic!("the e2e suite serves key sets through `jwks_url_env` only")
            }
            Key::Secret { .. } => {
                // 77 bytes: at least the hash size of every HS* (64 for HS512).
                let secret = format!("e2e-{}-{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
                assert!(secret.len() >= auth.algorithms[0].min_secret_bytes().unwrap_or(0));
                (
                    EncodingKey::from_secret(secret.as_bytes()).unwrap(),
                    EncodingKey::from_secret(b"an-attacker-guessed-this-secret-value!!").unwrap(),
                    Some(secret),
                )
            }
            Key::PublicKey { .. } => {
                assert_eq!(
                    algorithm,
                    Algorithm::ES256,
                    "the e2e suite has key fixtures for ES256 only"
                );
                (
                    EncodingKey::from_ec_pem(ES256_PRIVATE.as_bytes()).unwrap(),
                    EncodingKey::from_ec_pem(ES256_FOREIGN.as_bytes()).unwrap(),
                    None,
                )
            }
        };
        let tenant_claims = model.tenant_claims();
        Keys {
            algorithm,
            signing,
            foreign,
            secret,
            user_claim: auth.user_claim.clone(),
            roles_claim: auth.roles_claim.clone(),
            tenant_claims,
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
            provider,
            public_pem,
        }
    }

    /// The value of the server's key variable: the secret, the PEM public
    /// key, or the URL of the provider's key set.
    pub fn server_key(&self) -> String {
        match (&self.secret, &self.provider) {
            (Some(secret), _) => secret.clone(),
            (None, Some((provider, _))) => provider.url(),
            (None, None) => ES256_PUBLIC.to_string(),
        }
    }

    /// The identity provider publishing the key set, if keys come from one.
    pub fn provider(&self) -> Option<&Provider> {
        self.provider.as_ref().map(|(p, _)| p)
    }

    /// The provider's signing key; panics without a provider.
    pub fn provider_key(&self) -> &ProviderKey {
        &self.provider.as_ref().expect("a provider").1
    }

    /// The `kid` of the signing key, when keys come from a key set.
    fn kid(&self) -> Option<&str> {
        self.provider.as_ref().map(|(_, k)| k.kid())
    }

    pub fn claims(&self, p: &Principal) -> Map<String, Value> {
        let mut c = Map::new();
        put_claim(&mut c, &self.user_claim, json!(p.user));
        if let Some(roles) = &self.roles_claim {
            put_claim(&mut c, roles, json!(p.roles));
        }
        for t in &self.tenant_claims {
            c.insert(t.clone(), json!(p.tenant));
        }
        if let Some(iss) = &self.issuer {
            c.insert("iss".into(), json!(iss));
        }
        if let Some(aud) = &self.audience {
            // Providers put the API's identifier in an array (Auth0 adds
            // its /userinfo); static-key tests keep the plain string.
            let aud = match self.provider {
                Some(_) => json!(["https://id.example.com/userinfo", aud]),
                None => json!(aud),
            };
            c.insert("aud".into(), aud);
        }
        c.insert("iat".into(), json!(now()));
        c.insert("exp".into(), json!(now() + 600));
        c
    }

    pub fn sign(&self, claims: &Map<String, Value>) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = self.kid().map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.signing).unwrap()
    }

    pub fn token(&self, p: &Principal) -> String {
        self.sign(&self.claims(p))
    }

    /// A compact JWS with `header` (any JSON, `alg` included) over
    /// `claims`, signed with the trusted key (or the untrusted one).
    pub fn sign_raw(&self, header: &Value, claims: &Value, trusted: bool) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
        );
        let key = if trusted {
            &self.signing
        } else {
            &self.foreign
        };
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), key, self.algorithm).unwrap();
        format!("{message}.{signature}")
    }

    /// The header the identity provider sends, with `extra` members.
    pub fn header_with(&self, extra: Value) -> Value {
        let mut h = json!({ "alg": format!("{:?}", self.algorithm), "typ": "JWT" });
        if let Some(kid) = self.kid() {
            h["kid"] = json!(kid);
        }
        for (k, v) in extra.as_object().unwrap() {
            h[k] = v.clone();
        }
        h
    }

    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// Tokens signed with the untrusted key that also fail a check needing
    /// no key: what it is, the token, and the reason the server must log
    /// for refusing it (the signature, had it been checked first).
    pub fn cheap_forgeries(&self, p: &Principal) -> Vec<(&'static str, String, &'static str)> {
        let forged = |header: Value, f: &dyn Fn(&mut Map<String, Value>)| {
            let mut c = self.claims(p);
            f(&mut c);
            self.sign_raw(&header, &Value::Object(c), false)
        };
        let jwt = self.header_with(json!({}));
        vec![
            (
                "expired, forged signature",
                forged(jwt.clone(), &|c| {
                    c.insert("exp".into(), json!(now() - 3600));
                }),
                "ExpiredSignature",
            ),
            (
                "not yet valid, forged signature",
                forged(jwt.clone(), &|c| {
                    c.insert("nbf".into(), json!(now() + 3600));
                }),
                "ImmatureSignature",
            ),
            (
                "no exp, forged signature",
                forged(jwt, &|c| {
                    c.remove("exp");
                }),
                "MissingRequiredClaim",
            ),
            (
                "a refresh token, forged signature",
                forged(self.header_with(json!({ "typ": "refresh+jwt" })), &|_| {}),
                "Type",
            ),
        ]
    }

    /// Forged and broken tokens, each of which the server must refuse with
    /// 401: what it is, the catalogue IDs it exercises, the token.
    pub fn attacks(&self, p: &Principal) -> Vec<(&'static str, &'static [&'static str], String)> {
        let claims = self.claims(p);
        let mut out: Vec<(&'static str, &'static [&'static str], String)> = Vec::new();
        let with = |f: &dyn Fn(&mut Map<String, Value>)| {
            let mut c = claims.clone();
            f(&mut c);
            self.sign(&c)
        };
        out.push((
            "bad signature",
            &["AUTH-10"],
            jsonwebtoken::encode(&Header::new(self.algorithm), &claims, &self.foreign).unwrap(),
        ));
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        for alg in ["none", "None", "NONE"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            out.push(("alg none", &["AUTH-06"], format!("{header}.{payload}.")));
        }
        let valid = self.token(p);
        let parts: Vec<&str> = valid.split('.').collect();
        out.push((
            "signature stripped",
            &["AUTH-07"],
            format!("{}.{}.", parts[0], parts[1]),
        ));
        out.push((
            "payload swapped",
            &["AUTH-07"],
            format!(
                "{}.{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode(br#"{"sub":"admin","exp":9999999999}"#),
                parts[2]
            ),
        ));
        out.push((
            "expired",
            &["AUTH-12"],
            with(&|c| {
                c.insert("exp".into(), json!(now() - 300));
            }),
        ));
        out.push((
            "no exp",
            &["AUTH-11"],
            with(&|c| {
                c.remove("exp");
            }),
        ));
        out.push((
            "exp as string",
            &["AUTH-13"],
            with(&|c| {
                c.insert("exp".into(), json!((now() + 600).to_string()));
            }),
        ));
        out.push((
            "not yet valid",
            &["AUTH-14"],
            with(&|c| {
                c.insert("nbf".into(), json!(now() + 3600));
            }),
        ));
        // Another kind of token from the same issuer and key (RFC 8725
        // section 3.11: explicit typing).
        for typ in ["refresh+jwt", "id_token+jwt", "logout+jwt"] {
            out.push((
                "another kind of token",
                &["AUTH-24"],
                self.sign_raw(
                    &self.header_with(json!({ "typ": typ })),
                    &Value::Object(claims.clone()),
                    true,
                ),
            ));
        }
        out.push((
            "wrong audience",
            &["AUTH-16", "AUTH-24"],
            with(&|c| {
                c.insert("aud".into(), json!("someone-else"));
            }),
        ));
        if self.issuer.is_some() {
            out.push((
                "wrong issuer",
                &["AUTH-15"],
                with(&|c| {
                    c.insert("iss".into(), json!("https://evil.example"));
                }),
            ));
            out.push((
                "no issuer",
                &["AUTH-15"],
                with(&|c| {
                    c.remove("iss");
                }),
            ));
        }
        out.push((
            "no user claim",
            &["AUTH-17"],
            with(&|c| {
                c.remove(&self.user_claim);
            }),
        ));
        out.push((
            "empty user claim",
            &["AUTH-17"],
            with(&|c| {
                c.insert(self.user_claim.clone(), json!(""));
            }),
        ));
        if self.secret.is_none() {
            // Algorithm confusion: HS256 with the public key as the secret.
            let confused = jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(self.public_pem.as_bytes()).unwrap(),
            )
            .unwrap();
            out.push(("alg confusion", &["AUTH-09"], confused));
        } else {
            let other = if self.algorithm == Algorithm::HS256 {
                Algorithm::HS512
            } else {
                Algorithm::HS256
            };
            let secret = self.secret.as_deref().unwrap().as_bytes();
            out.push((
                "other HMAC algorithm",
                &["AUTH-08"],
                jsonwebtoken::encode(
                    &Header::new(other),
                    &claims,
                    &EncodingKey::from_secret(secret).unwrap(),
                )
                .unwrap(),
            ));
        }
        out.push(("garbage", &["AUTH-21"], "not.a.token".to_string()));
        out.push(("oversized", &["AUTH-22"], "a".repeat(10_000)));
        // Claims of the wrong type or value (validly signed).
        for exp in [
            json!("9999999999"),
            json!("never"),
            json!(-1),
            json!(1e30),
            Value::Null,
            json!([1]),
        ] {
            out.push((
                "malformed exp",
                &["AUTH-13"],
                with(&|c| {
                    c.insert("exp".into(), exp.clone());
                }),
            ));
        }
        out.push((
            "nbf not a number",
            &["AUTH-14"],
            with(&|c| {
                c.insert("nbf".into(), json!("x"));
            }),
        ));
        if self.issuer.is_some() {
            out.push((
                "issuer not a string",
                &["AUTH-15"],
                with(&|c| {
                    c.insert("iss".into(), json!(5));
                }),
            ));
        }
        let mut auds = vec![json!(""), json!({ "x": 1 }), json!(["other"])];
        if self.audience.is_some() {
            auds.push(Value::Null);
            out.push((
                "no audience",
                &["AUTH-16"],
                with(&|c| {
                    c.remove("aud");
                }),
            ));
        }
        for aud in auds {
            out.push((
                "malformed audience",
                &["AUTH-16"],
                with(&|c| {
                    c.insert("aud".into(), aud.clone());
                }),
            ));
        }
        for user in [
            json!(123),
            json!({}),
            json!("u".repeat(10 * 1024)),
            json!("u".repeat(1024)),
            json!("a\u{0}b"),
        ] {
            let user_claim = self.user_claim.clone();
            out.push((
                "malformed user claim",
                &["AUTH-17"],
                with(&|c| {
                    c.insert(user_claim.clone(), user.clone());
                }),
            ));
        }
        // Header tricks: `kid` injection signed with guessable keys, an
        // 8 KB `kid`, unknown critical extensions (validly signed).
        let body = Value::Object(claims.clone());
        let traversal = URL_SAFE_NO_PAD
            .encode(r#"{"alg":"HS256","typ":"JWT","kid":"../../../../../../dev/null"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        for guess in [&b"x"[..], b"\0", b"' OR '1'='1"] {
            let message = format!("{traversal}.{payload}");
            let signature = jsonwebtoken::crypto::sign(
                message.as_bytes(),
                &EncodingKey::from_secret(guess).unwrap(),
                Algorithm::HS256,
            )
            .unwrap();
            out.push((
                "kid path traversal",
                &["AUTH-18"],
                format!("{message}.{signature}"),
            ));
        }
        out.push((
            "kid injection",
            &["AUTH-18"],
            self.sign_raw(
                &self.header_with(json!({ "kid": "' OR '1'='1" })),
                &body,
                false,
            ),
        ));
        out.push((
            "8 KB kid",
            &["AUTH-18", "AUTH-22"],
            self.sign_raw(
                &self.header_with(json!({ "kid": "k".repeat(8 * 1024) })),
                &body,
                true,
            ),
        ));
        for crit in [json!(["exp"]), json!(["x-unknown"])] {
            out.push((
                "unknown critical extension",
                &["AUTH-19"],
                self.sign_raw(&self.header_with(json!({ "crit": crit })), &body, true),
            ));
        }
        // Structure.
        let seg: Vec<&str> = valid.split('.').collect();
        let structure = [
            format!("{}.{}", seg[0], seg[1]),
            format!("{valid}.{}", seg[2]),
            format!("{valid}.{}.{}", seg[1], seg[2]),
            format!("{}.{}.{}", seg[0], seg[1].replacen('e', "+", 1), seg[2]),
            format!("{}.{}.{}", seg[0], seg[1].replacen('e', "/", 1), seg[2]),
            format!("{valid}=="),
            format!("{}==.{}.{}", seg[0], seg[1], seg[2]),
            self.sign_raw(&self.header_with(json!({})), &json!([]), true),
            self.sign_raw(&self.header_with(json!({})), &json!({}), true),
            {
                let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(b"not json"), seg[1]);
                let signature =
                    jsonwebtoken::crypto::sign(message.as_bytes(), &self.signing, self.algorithm)
                        .unwrap();
                format!("{message}.{signature}")
            },
            ".".into(),
            "..".into(),
        ];
        for t in structure {
            out.push(("malformed structure", &["AUTH-21"], t));
        }
        for size in [16 * 1024, 100 * 1024, 300 * 1024] {
            out.push((
                "huge token",
                &["AUTH-22"],
                format!("{valid}{}", "A".repeat(size)),
            ));
        }
        out
    }
}
