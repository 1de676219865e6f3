//! Test support for a generated project's own tests (`api/tests/`): the real router
//! with a fresh in-memory database, tokens signed with a test key, and
//! requests sent without a network.
//!
//! Invariant: everything but the token check is the production code path
//! (the same routes, guards, store and middleware). Tokens are verified with
//! HS256 and a test secret instead of the spec's key, so that tests of
//! public-key services need no private key; the token checks themselves are
//! tested in palisade's runtime.
//!
//! [`security`] holds the procedures of the generated security tests,
//! which the generated file drives with one table per resource.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt as _;

use super::auth::{Algorithm, AuthSettings, KeySource, Verifier, mint};
use super::server::{App, connect, migrate, router};
use super::service::Service;
use super::throttle::{Check, Decision, Limiter, Rate};

pub mod security;

/// A limiter that allows everything: the tests prove isolation and grants,
/// not rates.
struct Unlimited;

impl Limiter for Unlimited {
    fn check<'a>(&'a self, _key: &'a str, rate: Rate) -> Check<'a> {
        Box::pin(std::future::ready(Ok(Decision {
            allowed: true,
            limit: rate.count,
            remaining: rate.count,
            reset_seconds: 0,
            retry_after_seconds: 0,
        })))
    }
}

/// 64 bytes or more: long enough for every HS* (HS512 needs 64).
const SECRET: &[u8] = b"palisade-generated-tests-secret-not-for-production-0123456789abcdef";

/// The service's router over an in-memory database.
pub struct TestApp {
    router: Router,
    auth: AuthSettings,
}

/// A response: status and JSON body (`Null` when empty).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: serde_json::Value,
    pub raw: Vec<u8>,
}

impl TestApp {
    /// Builds the app of `service` (the spec's routes and any the team
    /// added): migrations applied to a new in-memory database. Background
    /// tasks are not started.
    pub async fn new(mut service: Service) -> TestApp {
        let (settings, migrations) = (service.settings(), service.migrations);
        let auth = AuthSettings {
            algorithms: &[Algorithm::HS256],
            keys: KeySource::Secret("PALISADE_TEST_SECRET"),
            ..settings.auth
        };
        let verifier = Verifier::new(auth, SECRET).expect("the test key is valid");
        let db = connect("sqlite::memory:")
            .await
            .expect("an in-memory database");
        migrate(&db.sqlite().expect("SQLite").write, migrations.sqlite)
            .await
            .expect("the migrations apply");
        let app = App {
            db,
            verifier: Arc::new(verifier),
            limiter: Arc::new(Unlimited),
            settings,
            hooks: service.hooks.clone(),
        };
        let routes = service.routes(&app);
        let router = router(app, routes).expect("the router builds");
        TestApp { router, auth }
    }

    /// A token for `user` with `roles`, and `tenant` as the value of every
    /// tenant claim.
    pub fn token(&self, user: &str, roles: &[&str], tenant: &str) -> String {
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        let claims: Vec<(String, String)> = self
            .auth
            .tenant_claims
            .iter()
            .map(|c| (c.to_string(), tenant.to_string()))
            .collect();
        mint(&self.auth, SECRET, user, &roles, &claims, 600).expect("a test token")
    }

    /// Creates a row: POSTs `body` (a JSON object, as text) to `path` as
    /// the holder of `token`, each `(field, row)` of `refs` adding the
    /// field with that row's `id`; panics unless the answer is 201, and
    /// returns the row.
    pub async fn create(
        &self,
        path: &str,
        token: &str,
        body: &str,
        refs: &[(&str, &serde_json::Value)],
    ) -> serde_json::Value {
        let mut body: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(body).expect("a JSON object");
        for (field, row) in refs {
            body.insert(field.to_string(), row["id"].clone());
        }
        let reply = self
            .call(
                "POST",
                path,
                Some(token),
                Some(serde_json::Value::Object(body)),
            )
            .await;
        assert_eq!(reply.status, 201, "create {path}: {}", reply.body);
        reply.body
    }

    /// Sends one request through the whole stack.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                request = request.header("content-type", "application/json");
                Body::from(serde_json::to_vec(&v).expect("JSON"))
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).expect("a valid request"))
            .await
            .expect("the router never fails");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let raw = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a readable body")
            .to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null);
        Reply {
            status,
            headers,
            body,
            raw,
        }
    }
}
