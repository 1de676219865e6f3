//! The server: state, middleware stack, per-operation guard, start-up.
//!
//! Request path, outermost first: [`envelope`] (request id, tracing, body
//! limit, timeout, security headers, every error as problem+json) → CORS
//! (only when configured: [`cors_only_for_allowed`] around tower-http's
//! layer, which answers preflights itself) → [`authenticate`]
//! (one [`Caller`] per request; a refused token is 401 and counts against
//! the client's anonymous bucket) → router → [`Guard`] on each operation
//! (throttle, then [`authorize`]; the handler receives the resulting
//! [`Access`]) → handler. Invariants: a handler behind a guard cannot run
//! without an `Access` (its extractor fails closed with 500 when the guard
//! is missing, never open); nothing logs bodies, query strings or headers;
//! the server starts only after configuration, key and database checks
//! pass and migrations ran.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::Limited;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection as _, SqlitePool};
use tower::{Layer, Service};
use tower_http::cors::{AllowMethods, AllowOrigin, CorsLayer};
use tracing::Instrument as _;

use super::access::{Access, Grants, OwnerClaim, authorize};
use super::auth::{AuthSettings, Caller, Verifier};
use super::body::BodyLimit;
use super::config::{self, Config, ConfigError};
use super::db::{Engine, Identity, Pools, Session, SqlitePools};
use super::problem::Problem;
use super::throttle::{
    DEFAULT_MAX_KEYS, Decision, Limiter, MemoryLimiter, OnError, Rate, RedisSettings, Store,
    Unavailable, client_ip, ip_key, spawn_housekeeping,
};

/// The spec's service-wide settings, as a `static` of the generated code.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Service name (logs, the default database file).
    pub service: &'static str,
    /// `DATABASE_URL` when unset, e.g. `sqlite://billing.db?mode=rwc`.
    pub default_database_url: &'static str,
    pub auth: AuthSettings,
    /// Per client IP, for anonymous calls and failed authentication.
    pub anon_rate: Rate,
    /// Per user, for authenticated calls.
    pub user_rate: Rate,
    /// Proxies in front of the server whose `X-Forwarded-For` is trusted.
    pub trust_proxy_hops: u8,
    /// `Some`: every bucket is shared by the replicas in Redis
    /// ([`RedisSettings`]); `None`: counted in this process's memory.
    pub redis: Option<RedisSettings>,
    pub max_body_bytes: usize,
    pub request_timeout_seconds: u64,
    /// Time a client has to send a whole request head: from the
    /// connection's start, or from the first byte of a later request on a
    /// kept-alive connection.
    pub header_read_timeout_seconds: u64,
    /// Time a kept-alive connection may wait for the first byte of its
    /// next request.
    pub idle_timeout_seconds: u64,
    /// Connections served at once (lowered to what the open-file limit
    /// allows); more wait in the listen queue.
    pub max_connections: usize,
    /// `None`: no CORS headers at all.
    pub cors: Option<CorsSettings>,
    /// The engines the service may be served from (`DATABASE_URL` names
    /// one of them).
    pub engines: &'static [Engine],
}

#[derive(Debug, Clone, Copy)]
pub struct CorsSettings {
    /// Exact origins (`scheme://host[:port]`).
    pub origins: &'static [&'static str],
    pub credentials: bool,
    /// Methods the routes use, e.g. `&["GET", "POST", "PATCH", "DELETE"]`.
    pub methods: &'static [&'static str],
    pub max_age_seconds: u64,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub verifier: Arc<Verifier>,
    pub limiter: Arc<dyn Limiter>,
    pub settings: &'static Settings,
    /// The generated API's table of the team's hooks (its type is the
    /// API's own; its handlers look it up with [`App::hooks`]).
    pub hooks: Arc<dyn std::any::Any + Send + Sync>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("service", &self.settings.service)
            .finish_non_exhaustive()
    }
}

pub use super::db::{Db, HEALTH_TTL};

/// The client address as decided by [`envelope`] (see
/// [`client_ip`]); `0.0.0.0` when the server was not started with connect
/// info, so that all such requests share one anonymous bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// One operation's static description, decided by the generator's model.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// `resource.operation`, for logs.
    pub name: &'static str,
    pub grants: Grants,
    /// The resource's owner rule; `None` for `owner: none`.
    pub owner: Option<OwnerClaim>,
    /// The operation's own throttle bucket and rates where the spec sets
    /// them; `None` counts it in the `default` bucket at the service's
    /// rates ([`Settings::user_rate`], [`Settings::anon_rate`]).
    pub throttle: Option<Throttle>,
}

/// A throttle bucket and its rates per signed-in user and per anonymous
/// client address.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    pub bucket: &'static str,
    pub user_rate: Rate,
    pub anon_rate: Rate,
}

impl Operation {
    /// The operation `name` (`resource.operation`) under `grants`, on a
    /// resource with the owner rule `owner`, in the default bucket.
    pub const fn new(name: &'static str, grants: Grants, owner: Option<OwnerClaim>) -> Operation {
        Operation {
            name,
            grants,
            owner,
            throttle: None,
        }
    }

    /// This operation counted in a bucket of its own, `bucket`, at these
    /// rates.
    pub const fn throttle(
        self,
        bucket: &'static str,
        user_rate: Rate,
        anon_rate: Rate,
    ) -> Operation {
        Operation {
            throttle: Some(Throttle {
                bucket,
                user_rate,
                anon_rate,
            }),
            ..self
        }
    }

    /// The bucket and rates this operation counts in under `settings`.
    fn throttle_in(&self, settings: &Settings) -> Throttle {
        self.throttle.unwrap_or(Throttle {
            bucket: "default",
            user_rate: settings.user_rate,
            anon_rate: settings.anon_rate,
        })
    }
}

impl App {
    /// The hooks table of type `T` that the service was built with.
    ///
    /// # Panics
    ///
    /// When the service was built with a table of another type: a
    /// generated API always finds its own.
    pub fn hooks<T: 'static>(&self) -> &T {
        self.hooks
            .downcast_ref()
            .expect("the service's hooks table is the generated API's own")
    }

    /// The guard layer of one operation:
    /// `get(list_items.layer(app.guard(&LIST_ITEMS)))`.
    pub fn guard(&self, op: &'static Operation) -> Guard {
        Guard {
            app: self.clone(),
            op,
        }
    }
}

/// Throttles, then authorizes one operation, and hands the handler its
/// [`Access`] (a tower layer, so it can wrap a single handler).
#[derive(Clone)]
pub struct Guard {
    app: App,
    op: &'static Operation,
}

impl<S> Layer<S> for Guard {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded {
            guard: self.clone(),
            inner,
        }
    }
}

/// The service made by [`Guard`].
#[derive(Clone)]
pub struct Guarded<S> {
    guard: Guard,
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<Request> for Guarded<S>
where
    S: Service<Request, Error = Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> BoxFuture<Result<Response, Infallible>> {
        // The clone is not ready yet; keep the ready one (tower's pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let Guard { app, op } = self.guard.clone();
        Box::pin(async move {
            let Some(caller) = req.extensions().get::<Caller>().cloned() else {
                return Ok(Problem::internal(&"guard without the auth middleware").into_response());
            };
            let throttle = op.throttle_in(app.settings);
            let bucket = throttle.bucket;
            let (key, rate) = bucket_key(
                &req,
                &caller,
                bucket,
                throttle.user_rate,
                throttle.anon_rate,
            );
            let decision = match admit(&app, &key, rate, bucket).await {
                Ok(decision) => decision,
                Err(refused) => {
                    tracing::info!(
                        operation = op.name,
                        status = refused.status().as_u16(),
                        "throttled"
                    );
                    return Ok(refused);
                }
            };
            let mut res = match authorize(&caller, &op.grants, op.owner) {
                Ok(reach) => {
                    // Only PostgreSQL's policies read the identity.
                    let identity = match app.db.engine() {
                        Engine::Sqlite => Identity::default(),
                        Engine::Postgres => Identity::of(&caller, app.settings.auth.tenant_claims),
                    };
                    let session = Session::new(app.db.clone(), identity);
                    let access = Access::new(caller, reach, op.grants, session);
                    req.extensions_mut().insert(access);
                    inner.call(req).await.into_response()
                }
                Err(problem) => problem.into_response(),
            };
            for (name, value) in decision.headers(bucket, rate) {
                res.headers_mut().insert(name, value);
            }
            Ok(res)
        })
    }
}

/// The key and rate `caller` is counted under in `bucket` ([`admit`]
/// counts it): per user for a signed-in caller, per client address for
/// an anonymous one.
pub(crate) fn bucket_key(
    req: &Request,
    caller: &Caller,
    bucket: &str,
    user_rate: Rate,
    anon_rate: Rate,
) -> (String, Rate) {
    let (key, rate) = match caller {
        Caller::User(p) => (format!("user:{bucket}:{}", p.user), user_rate),
        Caller::Anonymous => {
            let ip = req
                .extensions()
                .get::<ClientIp>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0);
            (format!("anon:{bucket}:{}", ip_key(ip)), anon_rate)
        }
    };
    (key, rate)
}

/// Counts one request for `key` against `rate` (the bucket `bucket`):
/// the decision, whose headers go on the response, or the response that
/// refuses the request: 429 when the bucket is empty ([`throttled`]), 503
/// when the shared store is down under `on_error: closed`
/// ([`unavailable`]).
pub(crate) async fn admit(
    app: &App,
    key: &str,
    rate: Rate,
    bucket: &str,
) -> Result<Decision, Response> {
    match app.limiter.check(key, rate).await {
        Ok(d) if d.allowed => Ok(d),
        Ok(d) => Err(throttled(&d, bucket, rate)),
        Err(u) => Err(unavailable(u)),
    }
}

/// The 503 of a request the limiter could not count: its shared store is
/// down and the spec says `on_error: closed` (the contract's one
/// documented 5xx), with `Retry-After`.
pub(crate) fn unavailable(u: Unavailable) -> Response {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the rate limiter is unavailable; retry later",
    )
    .with_header(
        header::RETRY_AFTER,
        HeaderValue::from(u.retry_after_seconds.max(1)),
    )
    .into_response()
}

/// Takes what the guard decided (a handler takes it once); 500 if the
/// route has no guard.
impl<S: Send + Sync> FromRequestParts<S> for Access {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        parts.extensions.remove::<Access>().ok_or_else(|| {
            Problem::internal(&"Access requested twice, or on a route without a guard")
        })
    }
}

/// The 429 of a refused `d`, with its rate-limit headers.
pub(crate) fn throttled(d: &Decision, bucket: &str, rate: Rate) -> Response {
    let mut res = Problem::new(StatusCode::TOO_MANY_REQUESTS, "too many requests").into_response();
    for (name, value) in d.headers(bucket, rate) {
        res.headers_mut().insert(name, value);
    }
    res
}

/// Resolves the caller once. A refused token is 401 (or 429 once the
/// client's anonymous bucket is empty), never anonymous.
pub async fn authenticate(State(app): State<App>, mut req: Request, next: Next) -> Response {
    match app.verifier.authenticate(req.headers()).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(problem) => {
            let ip = req
                .extensions()
                .get::<ClientIp>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0);
            let key = format!("anon:default:{}", ip_key(ip));
            match admit(&app, &key, app.settings.anon_rate, "default").await {
                Ok(_) => problem.into_response(),
                Err(refused) => refused,
            }
        }
    }
}

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client-supplied request id is kept when it is short and plain.
fn request_id(req: &Request) -> HeaderValue {
    let plain = |v: &&HeaderValue| {
        (1..=64).contains(&v.len())
            && v.as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    match req.headers().get(&X_REQUEST_ID).filter(plain) {
        Some(v) => v.clone(),
        None => HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
            .unwrap_or(HeaderValue::from_static("-")),
    }
}

/// The outermost middleware: request id, client IP, body limit, timeout,
/// one log line per request (method, path, status, latency: no query, no
/// headers, no body), security headers, and problem+json for every error.
pub async fn envelope(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let ip = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| {
        client_ip(p, req.headers(), app.settings.trust_proxy_hops)
    });
    let span = tracing::info_span!(
        "request",
        id = id.to_str().unwrap_or("-"),
        method = %req.method(),
        path = req.uri().path(),
    );
    let limit = app.settings.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let mut res = if declared.is_some_and(|n| n > limit as u64) {
        Problem::payload_too_large().into_response()
    } else {
        req.extensions_mut().insert(ClientIp(ip));
        req.extensions_mut().insert(BodyLimit(limit));
        let req = req.map(|b| Body::new(Limited::new(b, limit)));
        let timeout = Duration::from_secs(app.settings.request_timeout_seconds.max(1));
        match tokio::time::timeout(timeout, next.run(req).instrument(span.clone())).await {
            Ok(res) => res,
            Err(_) => Problem::timeout().into_response(),
        }
    };
    if res.status().as_u16() >= 400 && !is_problem(&res) {
        res = as_problem(res);
    }
    let h = res.headers_mut();
    h.insert(X_REQUEST_ID.clone(), id);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.remove(header::SERVER);
    span.in_scope(|| {
        tracing::info!(
            status = res.status().as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "response"
        );
    });
    res
}

fn is_problem(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"))
}

/// Replaces the body of an error produced outside the handlers (axum's
/// 405, a path rejection) with a generic problem, keeping headers such as
/// `Allow`.
fn as_problem(res: Response) -> Response {
    let (mut parts, _) = res.into_parts();
    let problem = Problem::for_status(parts.status);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    Response::from_parts(parts, Body::from(problem.body()))
}

/// CORS from the spec: an exact origin list (echoed only on a byte-exact
/// match) or `*` alone (answered with `*`, never with the request's
/// origin, and never with credentials); the given methods; only the
/// `Authorization` and `Content-Type` request headers; `Vary: Origin` on
/// every response. [`router`] wraps it in [`cors_only_for_allowed`], so a
/// response to a request without an allowed `Origin` carries no
/// `Access-Control-*` header at all.
pub fn cors_layer(c: &CorsSettings) -> Result<CorsLayer, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        var: "cors (spec)",
        reason,
    };
    let any = c.origins.contains(&"*");
    if any && c.origins.len() > 1 {
        return Err(invalid(
            "\"*\" cannot be combined with other origins".to_owned(),
        ));
    }
    if any && c.credentials {
        return Err(invalid(
            "\"*\" cannot be combined with credentials".to_owned(),
        ));
    }
    let allow_origin = if any {
        AllowOrigin::any()
    } else {
        let mut origins = Vec::new();
        for o in c.origins {
            let exact = o.contains("://")
                && !o.eq_ignore_ascii_case("null")
                && !o.ends_with('/')
                && !o.contains('*');
            if !exact {
                return Err(invalid(format!("{o:?} is not an exact origin")));
            }
            origins.push(HeaderValue::from_str(o).map_err(|e| invalid(format!("{o:?}: {e}")))?);
        }
        AllowOrigin::list(origins)
    };
    let mut methods = Vec::new();
    for m in c.methods {
        methods.push(Method::from_str(m).map_err(|e| invalid(format!("{m:?}: {e}")))?);
    }
    Ok(CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods(AllowMethods::list(methods))
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([
            header::LOCATION,
            header::RETRY_AFTER,
            HeaderName::from_static("ratelimit"),
            HeaderName::from_static("ratelimit-policy"),
            X_REQUEST_ID.clone(),
        ])
        .allow_credentials(c.credentials)
        .max_age(Duration::from_secs(c.max_age_seconds))
        .vary([header::ORIGIN]))
}

/// Runs outside [`cors_layer`]: a response gets `Access-Control-*`
/// headers only when the request carried an `Origin` and the layer
/// allowed it. tower-http itself adds `Access-Control-Allow-Credentials`
/// and `Access-Control-Expose-Headers` to every response, and lists the
/// allowed methods and headers in the answer to any preflight, whatever
/// the origin; a disallowed origin should learn nothing.
pub async fn cors_only_for_allowed(req: Request, next: Next) -> Response {
    let has_origin = req.headers().contains_key(header::ORIGIN);
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if !has_origin || !h.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        let cors: Vec<HeaderName> = h
            .keys()
            .filter(|n| n.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in cors {
            h.remove(name);
        }
    }
    res
}

/// 404 for unknown paths (the router's fallback). Counted against the
/// caller's `default` bucket like any call, so probing paths is throttled.
pub async fn not_found(State(app): State<App>, req: Request) -> Response {
    unrouted(&app, req, Problem::not_found()).await
}

/// 405 for a method the path does not declare (axum adds `Allow`).
/// Counted against the caller's `default` bucket like any call, so
/// probing methods is throttled.
pub async fn method_not_allowed(State(app): State<App>, req: Request) -> Response {
    unrouted(
        &app,
        req,
        Problem::for_status(StatusCode::METHOD_NOT_ALLOWED),
    )
    .await
}

/// `problem`, once the caller's `default` bucket (its user, or its
/// address when anonymous) has paid for the request; 429 when it is empty.
async fn unrouted(app: &App, req: Request, problem: Problem) -> Response {
    let (key, rate) = match req.extensions().get::<Caller>() {
        Some(Caller::User(p)) => (format!("user:default:{}", p.user), app.settings.user_rate),
        _ => {
            let ip = req
                .extensions()
                .get::<ClientIp>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0);
            (
                format!("anon:default:{}", ip_key(ip)),
                app.settings.anon_rate,
            )
        }
    };
    let decision = match admit(app, &key, rate, "default").await {
        Ok(d) => d,
        Err(refused) => return refused,
    };
    let mut res = problem.into_response();
    for (name, value) in decision.headers("default", rate) {
        res.headers_mut().insert(name, value);
    }
    res
}

/// Per address, for `GET /health` (a bucket of its own: load balancers
/// are not refused because of the address's other calls).
pub const HEALTH_RATE: Rate = Rate::new(600, 60);

/// Per address, for CORS preflights (a bucket of its own: browsers are
/// not refused because of the address's other calls, and a flood of
/// preflights is bounded too).
pub const PREFLIGHT_RATE: Rate = Rate::new(600, 60);

/// The address [`envelope`] decided for `req`.
fn client_of(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ClientIp>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0)
}

/// `GET /health`: 200 when the database answers, else 503; the answer is
/// at most [`HEALTH_TTL`] old ([`Db::healthy`]), and each address has a
/// bucket of [`HEALTH_RATE`] for it. A limiter that shares its buckets
/// says where they are: `{"status": "ok", "limiter": "shared"}`; while
/// its store does not answer, `{"status": "degraded", "limiter":
/// "local"}` (counted per replica) or `"open"` (not counted), still 200:
/// the replica serves. Under `on_error: closed` it does not, and the
/// answer is its 503 with `Retry-After`.
pub async fn health(State(app): State<App>, req: Request) -> Response {
    let key = format!("health:{}", ip_key(client_of(&req)));
    if let Err(refused) = admit(&app, &key, HEALTH_RATE, "health").await {
        return refused;
    }
    if !app.db.healthy().await {
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is unavailable",
        )
        .into_response();
    }
    let body = match app.limiter.store() {
        Store::Memory => serde_json::json!({"status": "ok"}),
        Store::Shared => serde_json::json!({"status": "ok", "limiter": "shared"}),
        Store::Unreachable(OnError::Closed) => {
            return unavailable(Unavailable {
                retry_after_seconds: 1,
            });
        }
        Store::Unreachable(on_error) => {
            serde_json::json!({"status": "degraded", "limiter": on_error.name()})
        }
    };
    super::body::reply(StatusCode::OK, &body)
}

/// Outside the CORS layer, which answers every `OPTIONS` itself: each
/// address has a bucket of [`PREFLIGHT_RATE`] for them, apart from its
/// anonymous one.
pub async fn throttle_preflights(State(app): State<App>, req: Request, next: Next) -> Response {
    if req.method() != Method::OPTIONS {
        return next.run(req).await;
    }
    let key = format!("preflight:{}", ip_key(client_of(&req)));
    if let Err(refused) = admit(&app, &key, PREFLIGHT_RATE, "preflight").await {
        tracing::info!("preflight throttled");
        return refused;
    }
    next.run(req).await
}

/// Adds `/health`, the 404 and 405 fallbacks and the middleware stack to
/// the generated routes.
pub fn router(app: App, routes: Router<App>) -> Result<Router, ConfigError> {
    let mut r = routes
        .route("/health", get(health))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), authenticate));
    if let Some(c) = &app.settings.cors {
        r = r
            .layer(cors_layer(c)?)
            .layer(middleware::from_fn(cors_only_for_allowed))
            .layer(middleware::from_fn_with_state(
                app.clone(),
                throttle_preflights,
            ));
    }
    Ok(
        r.layer(middleware::from_fn_with_state(app.clone(), envelope))
            .with_state(app),
    )
}

/// One embedded migration (generated SQL, applied once, in order).
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The migrations of each engine (the same numbers; an engine the spec
/// leaves out has none).
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    pub sqlite: &'static [Migration],
    pub postgres: &'static [Migration],
    /// The row-level security policies on PostgreSQL: derived from the
    /// spec, applied at every start, never a migration.
    pub row_security: &'static str,
}

/// Opens the database `url` names (`sqlite:` or `postgres://`), if
/// `engines` include its engine.
pub async fn open(url: &str, engines: &[Engine]) -> Result<Db, ConfigError> {
    let engine = Engine::of_url(url).ok_or_else(|| ConfigError::Invalid {
        var: "DATABASE_URL",
        reason: "must be a sqlite: URL (e.g. sqlite://app.db?mode=rwc) \
                 or a postgres:// URL"
            .into(),
    })?;
    let names = || {
        let names: Vec<&str> = engines.iter().map(|e| e.name()).collect();
        names.join(", ")
    };
    if !engines.contains(&engine) {
        return Err(ConfigError::Invalid {
            var: "DATABASE_URL",
            reason: format!(
                "names {}, and this service is served only from {} (the spec's database.engines)",
                engine.name(),
                names()
            ),
        });
    }
    match engine {
        Engine::Sqlite => connect(url).await,
        #[cfg(feature = "postgres")]
        Engine::Postgres => super::postgres::connect(url).await,
        #[cfg(not(feature = "postgres"))]
        Engine::Postgres => Err(ConfigError::Invalid {
            var: "DATABASE_URL",
            reason: "names postgres, and this build has no PostgreSQL driver \
                     (the runtime's `postgres` feature)"
                .into(),
        }),
    }
}

/// Applies the migrations of `db`'s engine; on PostgreSQL, then sets up
/// row-level security, and answers the database whose requests run as the
/// service's role.
/// `timeout` bounds each statement of a request there.
pub async fn migrate_db(
    db: Db,
    migrations: &Migrations,
    timeout: Duration,
) -> Result<Db, ConfigError> {
    match db.pools() {
        Pools::Sqlite(p) => {
            migrate(&p.write, migrations.sqlite).await?;
            Ok(db)
        }
        #[cfg(feature = "postgres")]
        Pools::Postgres(pool) => {
            let role =
                super::postgres::set_up(pool, migrations.postgres, migrations.row_security).await?;
            Ok(db.with_role(&role, timeout))
        }
    }
}

/// Opens the database: file created if missing, WAL, `synchronous =
/// NORMAL`, foreign keys on, busy timeout 5 s; one writer connection and
/// [`read_connections`] read-only ones (see [`Db`]). An in-memory
/// database gets one connection that never closes (each connection would
/// otherwise see its own empty database), used for reads and writes.
pub async fn connect(url: &str) -> Result<Db, ConfigError> {
    let (read, write) = connect_sqlite(url).await?;
    Ok(Db::new(Pools::Sqlite(SqlitePools { read, write })))
}

async fn connect_sqlite(url: &str) -> Result<(SqlitePool, SqlitePool), ConfigError> {
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| ConfigError::Invalid {
            var: "DATABASE_URL",
            reason: e.to_string(),
        })?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let open = |e: sqlx::Error| ConfigError::Database(format!("cannot open {url}: {e}"));
    if url.contains(":memory:") || url.contains("mode=memory") {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts)
            .await
            .map_err(open)?;
        return Ok((pool.clone(), pool));
    }
    // The writer first: it creates the file and switches it to WAL. That
    // switch takes the file's exclusive lock without SQLite's busy
    // handler, so replicas opening a new file at once may find it locked:
    // they try again for up to 10 s.
    let mut tries = 0;
    let write = loop {
        let opened = sqlite_pool(1)
            .connect_with(
                opts.clone()
                    .pragma("journal_size_limit", WAL_LIMIT_BYTES.to_string()),
            )
            .await;
        match opened {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("5") && tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            opened => break opened.map_err(open)?,
        }
    };
    let read = sqlite_pool(read_connections())
        .connect_with(opts.read_only(true).create_if_missing(false))
        .await
        .map_err(open)?;
    Ok((read, write))
}

/// A pool of `n` connections to a local SQLite file, all opened at start
/// and kept for the life of the process. A file does not drop
/// connections, so none is tested before use: sqlx's default test is a
/// ping, one more round trip to the connection's own thread before each
/// statement, which the statement waits for (sqlx still pings each
/// connection as it returns to the pool, after the statement's answer;
/// the hand-offs are much of a point read's cost: BENCHMARKS.md).
fn sqlite_pool(n: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(n)
        .min_connections(n)
        .test_before_acquire(false)
        .idle_timeout(None)
        .max_lifetime(None)
}

/// The size above which [`checkpoint`] resets the write-ahead log, and
/// to which SQLite truncates the file after a reset.
pub const WAL_LIMIT_BYTES: u64 = 16 << 20;

/// How often [`spawn_checkpoints`] runs [`checkpoint`]. With 16 MiB
/// and a quarter of a second, creates at saturation kept the log between
/// 20 and 30 MB with a p99 of 45 ms; with 64 MiB and a second, the log
/// reached 145 MB and each reset held the writer long enough to make the
/// p99 140 ms (both on 2 busy cores; without any, the log grew to
/// gigabytes).
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// What one [`checkpoint`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Frames in the write-ahead log before the checkpoint.
    pub frames: i64,
    /// Whether the log was over [`WAL_LIMIT_BYTES`] and was reset.
    pub truncated: bool,
}

/// Copies the write-ahead log back into the database (`PASSIVE`: it waits
/// for nobody), and when the log is over `limit_bytes`, resets and
/// truncates it (`TRUNCATE`: it waits for readers, up to the busy
/// timeout). SQLite's automatic checkpoint cannot reset a log that
/// readers keep using, so under continuous reads and writes the log grew
/// by gigabytes (BENCHMARKS.md) and every read that missed a
/// connection's cache searched a growing index. Runs on the writer.
pub async fn checkpoint(write: &SqlitePool, limit_bytes: u64) -> Result<Checkpoint, sqlx::Error> {
    let (_, frames, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(write)
        .await?;
    let page: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(write)
        .await?;
    let bytes = u64::try_from(frames.max(0) * (page + 24)).unwrap_or(u64::MAX);
    let truncated = bytes > limit_bytes;
    if truncated {
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(write)
            .await?;
        if busy != 0 {
            tracing::warn!(
                frames,
                "the write-ahead log could not be reset: readers kept it busy"
            );
            return Ok(Checkpoint {
                frames,
                truncated: false,
            });
        }
    }
    Ok(Checkpoint { frames, truncated })
}

/// Runs [`checkpoint`] on the writer `every` interval, for the life of
/// the process (a failure is logged and retried at the next tick).
pub fn spawn_checkpoints(write: SqlitePool, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if write.is_closed() {
                return;
            }
            if let Err(e) = checkpoint(&write, WAL_LIMIT_BYTES).await {
                tracing::warn!(error = %e, "checkpoint failed");
            }
        }
    });
}

/// Read connections: two per core, at least 4 (each connection runs its
/// queries on a thread of its own, and a few more than the cores hide the
/// hand-off between that thread and the async tasks), at most 16.
pub fn read_connections() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores * 2).unwrap_or(16).clamp(4, 16)
}

/// 64-bit FNV-1a, to notice a migration edited after it was applied.
pub(crate) fn checksum(sql: &str) -> String {
    let h = sql.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{h:016x}")
}

/// Refuses migrations whose versions do not increase (a build's mistake).
pub(crate) fn increasing(migrations: &[Migration]) -> Result<(), ConfigError> {
    let mut last = i64::MIN;
    for m in migrations {
        if m.version <= last {
            return Err(ConfigError::Database(format!(
                "migration versions must increase (found {} after {last})",
                m.version
            )));
        }
        last = m.version;
    }
    Ok(())
}

/// Refuses a database whose applied migrations (`(version, checksum)`)
/// include one this build does not know, or one whose file changed since
/// (named by `file`).
pub(crate) fn known_as_applied(
    migrations: &[Migration],
    applied: &[(i64, String)],
    file: fn(&Migration) -> String,
) -> Result<(), ConfigError> {
    for (version, sum) in applied {
        match migrations.iter().find(|known| known.version == *version) {
            None => {
                return Err(ConfigError::Database(format!(
                    "the database has migration {version}, which this build does not know \
                     (was it created by a newer version of the service?)"
                )));
            }
            Some(known) if checksum(known.sql) != *sum => {
                return Err(ConfigError::Database(format!(
                    "{} changed after it was applied to this database; a migration is never \
                     edited: restore it, and put the change in the spec (`palisade generate` \
                     writes the next migration)",
                    file(known)
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The file a migration comes from, for messages.
pub(crate) fn migration_file(m: &Migration) -> String {
    format!("migrations/{:04}_{}.sql", m.version, m.name)
}

/// Applies the migrations not yet recorded in `_palisade_migrations`, in
/// order, each once and each in its own transaction. Refuses a database
/// that has a migration this build does not know, or whose applied
/// migration changed.
///
/// Each transaction is `BEGIN IMMEDIATE`: it takes the database's write
/// lock before it reads which migrations are applied, so replicas that
/// start at once apply each migration once (the others wait for the lock,
/// then find it applied; they wait up to 10 minutes). Foreign keys are
/// off while a migration runs
/// (SQLite's table rebuild procedure: `PRAGMA foreign_keys` cannot change
/// inside a transaction, and a rebuilt table's drop would otherwise fire
/// the `ON DELETE` actions of the rows that refer to it), and `PRAGMA
/// foreign_key_check` must find nothing before it commits; they are on
/// again afterwards, whatever happened.
pub async fn migrate(pool: &SqlitePool, migrations: &[Migration]) -> Result<(), ConfigError> {
    let db = |e: sqlx::Error| ConfigError::Database(format!("migration: {e}"));
    increasing(migrations)?;
    let mut conn = pool.acquire().await.map_err(db)?;
    // A replica that starts while another migrates waits for it: a
    // rebuild of a large table takes longer than a request's 5 s.
    sqlx::raw_sql("PRAGMA foreign_keys = OFF; PRAGMA busy_timeout = 600000")
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let result = apply_pending(&mut conn, migrations).await;
    let restored = sqlx::raw_sql("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000")
        .execute(&mut *conn)
        .await;
    if restored.is_err() {
        // Never hand a connection without foreign keys back to the pool.
        conn.close_on_drop();
    }
    result?;
    restored.map_err(db)?;
    Ok(())
}

async fn apply_pending(
    conn: &mut sqlx::SqliteConnection,
    migrations: &[Migration],
) -> Result<(), ConfigError> {
    let db = |e: sqlx::Error| ConfigError::Database(format!("migration: {e}"));
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS \"_palisade_migrations\" (\
         version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, checksum TEXT NOT NULL, \
         applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    )
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    loop {
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let applied: Vec<(i64, String)> = sqlx::query_as(
            "SELECT version, checksum FROM \"_palisade_migrations\" ORDER BY version",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        known_as_applied(migrations, &applied, migration_file)?;
        let Some(m) = migrations
            .iter()
            .find(|m| !applied.iter().any(|(v, _)| *v == m.version))
        else {
            tx.commit().await.map_err(db)?;
            return Ok(());
        };
        let file = migration_file(m);
        let failed = |e: sqlx::Error| {
            ConfigError::Database(format!(
                "{file} failed, and the database was left as it was: {}",
                e.as_database_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_string())
            ))
        };
        sqlx::raw_sql(m.sql)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        let broken: Vec<(String, Option<i64>, String)> =
            sqlx::query_as("SELECT \"table\", rowid, parent FROM pragma_foreign_key_check")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        if let Some((table, rowid, parent)) = broken.first() {
            return Err(ConfigError::Database(format!(
                "{file} failed, and the database was left as it was: {} row(s) refer to rows that do not exist or are not allowed (the first: row {} of `{table}` names a row of `{parent}`)",
                broken.len(),
                rowid.map_or_else(|| "?".to_string(), |r| r.to_string())
            )));
        }
        sqlx::query(
            "INSERT INTO \"_palisade_migrations\" (version, name, checksum) VALUES (?, ?, ?)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(checksum(m.sql))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
    }
}

/// Reads the configuration, checks the key, opens and migrates the
/// database and builds the state. Everything that can be wrong with the
/// environment fails here, before the socket is opened.
pub async fn start(
    settings: &'static Settings,
    migrations: &Migrations,
    hooks: Arc<dyn std::any::Any + Send + Sync>,
) -> Result<(App, SocketAddr), ConfigError> {
    let config = Config::from_env(&settings.auth, settings.default_database_url)?;
    let verifier = config::verifier(settings.auth, &config.key).await?;
    let limiter = limiter(settings).await?;
    let db = open(&config.database_url, settings.engines).await?;
    let timeout = Duration::from_secs(settings.request_timeout_seconds);
    let db = migrate_db(db, migrations, timeout).await?;
    if let Some(sqlite) = db.sqlite()
        && !config.database_url.contains(":memory:")
        && !config.database_url.contains("mode=memory")
    {
        spawn_checkpoints(sqlite.write.clone(), CHECKPOINT_EVERY);
    }
    spawn_housekeeping(limiter.clone(), Duration::from_secs(30));
    let app = App {
        db,
        verifier: Arc::new(verifier),
        limiter,
        settings,
        hooks,
    };
    Ok((app, config.bind_addr))
}

/// The limiter `settings` declare: in this process's memory, or shared
/// in Redis (refused when its variable is unset or not a `redis://` URL,
/// or Redis refuses this server; see
/// `throttle::redis::RedisLimiter::connect` for why a Redis that
/// does not answer is not refused).
async fn limiter(settings: &Settings) -> Result<Arc<dyn Limiter>, ConfigError> {
    let Some(redis) = settings.redis else {
        return Ok(Arc::new(MemoryLimiter::new(DEFAULT_MAX_KEYS)));
    };
    let url = redis.url(super::config::var)?;
    #[cfg(feature = "redis")]
    {
        let shared =
            super::throttle::redis::RedisLimiter::connect(redis, settings.service, &url).await?;
        Ok(Arc::new(shared))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = url;
        Err(ConfigError::Invalid {
            var: redis.url_env,
            reason: "this build has no Redis client: palisade-runtime's `redis` feature is off \
                     (`palisade generate` turns it on in the API crate when the spec names Redis)"
                .into(),
        })
    }
}

/// Serves until Ctrl-C or SIGTERM, then drains in-flight requests and
/// closes the pool. The open-file limit is raised first
/// ([`raise_open_files_limit`]) and the connection cap lowered to what it
/// allows.
pub async fn serve(app: App, routes: Router<App>, addr: SocketAddr) -> Result<(), ConfigError> {
    let db = app.db.clone();
    let settings = app.settings;
    let service = settings.service;
    let mut limits = Connections::of(settings);
    if let Some(files) = raise_open_files_limit() {
        let room = usize::try_from(files.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX);
        if room < limits.max_connections {
            tracing::warn!(
                open_files = files,
                max_connections = room,
                "the open-file limit allows fewer connections than limits.max_connections"
            );
            limits.max_connections = room.max(1);
        }
    }
    let router = router(app, routes)?;
    let bind = |e: std::io::Error| ConfigError::Bind {
        addr,
        reason: e.to_string(),
    };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(bind)?;
    tracing::info!(
        service,
        %addr,
        max_connections = limits.max_connections,
        "listening"
    );
    serve_on(listener, router, limits, shutdown_signal()).await;
    db.close().await;
    tracing::info!(service, "stopped");
    Ok(())
}

/// Files kept free of connections under the open-file limit (database,
/// log, listener, and the descriptors a runtime keeps).
pub const RESERVED_FILES: u64 = 64;

/// Raises the soft limit on open files to the hard limit, and returns the
/// new soft limit (`None` if it cannot be read). Every connection is a
/// file: on the usual soft limit of 1024, a thousand clients that never
/// finish their request would make `accept()` fail for everyone else.
pub fn raise_open_files_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            None
        }
    }
}

/// What the connection loop enforces (from [`Settings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    /// From the connection's start, or from the first byte of a later
    /// request, to the end of the request head.
    pub header_read_timeout: Duration,
    /// Between a response and the first byte of the next request.
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// How long shutdown waits for open connections to finish.
    pub drain: Duration,
}

impl Connections {
    pub fn of(settings: &Settings) -> Connections {
        let header = Duration::from_secs(settings.header_read_timeout_seconds.max(1));
        Connections {
            header_read_timeout: header,
            idle_timeout: Duration::from_secs(settings.idle_timeout_seconds.max(1)),
            max_connections: settings.max_connections.max(1),
            drain: Duration::from_secs(settings.request_timeout_seconds.max(1)) + header,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting, lets each connection finish its request (at most
/// `limits.drain`) and returns.
///
/// Each connection is hyper's HTTP/1 with a timer, under a watch of its
/// own: a request head must be complete `header_read_timeout` after the
/// connection started (or, on a kept-alive connection, after its first
/// byte), and a kept-alive connection with no request for `idle_timeout`
/// is closed. At most `max_connections` are served at once: a connection
/// accepted when all are open closes the one that has waited longest for
/// a request (idle, or still sending its head; never one whose request is
/// being served), so clients that open connections and leave them idle
/// cannot keep others out; when every connection is serving a request,
/// the next waits for one to finish. A request, once its head is read, is
/// bounded by the request timeout of [`envelope`].
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Connections,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let open = Arc::new(std::sync::Mutex::new(Open::default()));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper's own head timer (it starts when a head is awaited, idle time
    // included) is a backstop behind the watch: it never fires first.
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout + limits.idle_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::Interrupted
                    ) {
                        // Out of files or memory: wait before trying again.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(tokio::sync::TryAcquireError::Closed) => break,
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                // Full: make room by closing the connection that has
                // waited longest for a request, then take its slot.
                if let Some(victim) = lock(&open).longest_waiting() {
                    victim.notify_one();
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let activity = Arc::new(Activity::new());
        let close = Arc::new(tokio::sync::Notify::new());
        let registered = Registered::new(&open, activity.clone(), close.clone());
        let io = hyper_util::rt::TokioIo::new(Tracked {
            io: stream,
            activity: activity.clone(),
        });
        let router = router.clone();
        let requests = activity.clone();
        let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let busy = Busy::start(requests.clone());
            let served = tower::ServiceExt::oneshot(router.clone(), req.map(Body::new));
            async move {
                let res = served.await;
                drop(busy);
                res
            }
        });
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            let _slot = slot;
            let _registered = registered;
            tokio::select! {
                done = connection => {
                    if let Err(e) = done {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                why = activity.expired(limits) => {
                    tracing::debug!(%peer, why, "connection closed");
                }
                () = close.notified() => {
                    tracing::debug!(%peer, "connection closed to make room for another");
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.drain) => {
            tracing::warn!("connections still open after the drain period: closed");
        }
    }
}

/// What one connection is doing, for its watch: shared by the socket
/// wrapper ([`Tracked`]), the requests ([`Busy`]) and
/// [`Activity::expired`]. Times are milliseconds since the connection
/// started.
struct Activity {
    started: tokio::time::Instant,
    /// Requests in flight (their head is read).
    busy: std::sync::atomic::AtomicUsize,
    /// Responses finished on this connection.
    served: std::sync::atomic::AtomicU64,
    /// When the last response finished.
    idle_since: std::sync::atomic::AtomicU64,
    /// 1 + when the first byte of the next head arrived; 0: none yet.
    head_since: std::sync::atomic::AtomicU64,
    changed: tokio::sync::Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            started: tokio::time::Instant::now(),
            busy: 0.into(),
            served: 0.into(),
            idle_since: 0.into(),
            head_since: 0.into(),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Since when the connection has waited for a request (its start, or
    /// its last response), `None` while a request is being served.
    fn waiting_since(&self) -> Option<tokio::time::Instant> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.busy.load(SeqCst) > 0 {
            return None;
        }
        Some(self.started + Duration::from_millis(self.idle_since.load(SeqCst)))
    }

    /// Bytes arrived: the first ones between requests start the head timer.
    fn read(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        if self.busy.load(SeqCst) == 0 && self.head_since.load(SeqCst) == 0 {
            self.head_since.store(self.now() + 1, SeqCst);
            self.changed.notify_one();
        }
    }

    /// Completes when the connection has been waiting too long: for the
    /// first head (from the start), for a later head (from its first
    /// byte), or for a next request (idle). Never while a request runs.
    async fn expired(&self, limits: Connections) -> &'static str {
        use std::sync::atomic::Ordering::SeqCst;
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        loop {
            let changed = self.changed.notified();
            let (deadline, why) = if self.busy.load(SeqCst) > 0 {
                (None, "")
            } else {
                match self.head_since.load(SeqCst) {
                    // The first head: from the connection's start, however
                    // its bytes trickle in.
                    _ if self.served.load(SeqCst) == 0 => (
                        Some(ms(limits.header_read_timeout)),
                        "no request head within the header-read timeout",
                    ),
                    0 => (
                        Some(self.idle_since.load(SeqCst) + ms(limits.idle_timeout)),
                        "idle for the keep-alive timeout",
                    ),
                    first => (
                        Some(first - 1 + ms(limits.header_read_timeout)),
                        "request head not finished within the header-read timeout",
                    ),
                }
            };
            let Some(deadline) = deadline else {
                changed.await;
                continue;
            };
            if self.now() >= deadline {
                return why;
            }
            let at = self.started + Duration::from_millis(deadline);
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = changed => {}
            }
        }
    }
}

/// The open connections, so that a full server can close the one that has
/// waited longest for a request.
#[derive(Default)]
struct Open {
    next: u64,
    connections: std::collections::HashMap<u64, (Arc<Activity>, Arc<tokio::sync::Notify>)>,
}

impl Open {
    /// The close signal of the connection that has waited longest for a
    /// request; `None` when every connection is serving one. A scan, run
    /// only when every slot is taken.
    fn longest_waiting(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.connections
            .values()
            .filter_map(|(activity, close)| Some((activity.waiting_since()?, close)))
            .min_by_key(|(since, _)| *since)
            .map(|(_, close)| close.clone())
    }
}

fn lock(open: &std::sync::Mutex<Open>) -> std::sync::MutexGuard<'_, Open> {
    open.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A connection's entry in [`Open`], removed when the connection ends.
struct Registered {
    open: Arc<std::sync::Mutex<Open>>,
    id: u64,
}

impl Registered {
    fn new(
        open: &Arc<std::sync::Mutex<Open>>,
        activity: Arc<Activity>,
        close: Arc<tokio::sync::Notify>,
    ) -> Registered {
        let mut o = lock(open);
        let id = o.next;
        o.next += 1;
        o.connections.insert(id, (activity, close));
        Registered {
            open: open.clone(),
            id,
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.open).connections.remove(&self.id);
    }
}

/// A request in flight on a connection (from its head to its response).
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: Arc<Activity>) -> Busy {
        use std::sync::atomic::Ordering::SeqCst;
        activity.busy.fetch_add(1, SeqCst);
        activity.head_since.store(0, SeqCst);
        activity.changed.notify_one();
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering::SeqCst;
        let a = &self.0;
        a.idle_since.store(a.now(), SeqCst);
        a.served.fetch_add(1, SeqCst);
        a.busy.fetch_sub(1, SeqCst);
        a.changed.notify_one();
    }
}

/// The socket, telling its [`Activity`] when bytes arrive.
struct Tracked {
    io: tokio::net::TcpStream,
    activity: Arc<Activity>,
}

impl tokio::io::AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl tokio::io::AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// [`start`], then the team's background tasks, then [`serve`] the
/// service's routes.
pub async fn run(mut service: super::service::Service) -> Result<(), ConfigError> {
    let (app, addr) = start(service.settings, service.migrations, service.hooks.clone()).await?;
    service.spawn_tasks(&app);
    let routes = service.routes(&app);
    serve(app, routes, addr).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

/// Logs to stderr, filtered by `RUST_LOG` (from the environment or
/// `.env`; default `info`).
pub fn init_tracing() {
    let filter = super::config::var("RUST_LOG")
        .ok()
        .and_then(|directives| tracing_subscriber::EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::super::access::Scope;
    use super::super::auth::mint;
    use super::super::auth::tests::{HS, SECRET};
    use super::super::body::Json;
    use super::*;
    use axum::handler::Handler as _;
    use axum::routing::post;
    use tower::ServiceExt as _;

    const USER: Rate = Rate::new(1000, 3600);
    const ANON: Rate = Rate::new(3, 60);

    fn settings(cors: Option<CorsSettings>, timeout: u64) -> &'static Settings {
        Box::leak(Box::new(Settings {
            service: "test",
            default_database_url: "sqlite::memory:",
            auth: HS,
            anon_rate: ANON,
            user_rate: USER,
            trust_proxy_hops: 0,
            redis: None,
            max_body_bytes: 256,
            request_timeout_seconds: timeout,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 75,
            max_connections: 4096,
            cors,
            engines: &[Engine::Sqlite],
        }))
    }

    static LIST: Operation = Operation {
        name: "item.list",
        grants: Grants {
            owner: true,
            roles: &["admin"],
            public: false,
        },
        owner: Some(OwnerClaim::User),
        throttle: None,
    };
    static CREATE: Operation = Operation {
        name: "item.create",
        ..LIST
    }
    .throttle("item.create", Rate::new(2, 60), ANON);
    static PUBLIC: Operation = Operation {
        name: "item.public",
        grants: Grants {
            owner: false,
            roles: &[],
            public: true,
        },
        ..LIST
    };

    async fn list(access: Access) -> Response {
        let scope = match access.rows {
            Scope::All => "all".to_owned(),
            Scope::Owned(o) => format!("owned:{o}"),
        };
        super::super::body::reply(StatusCode::OK, &serde_json::json!({ "scope": scope }))
    }

    async fn create(access: Access, Json(v): Json<serde_json::Value>) -> Response {
        let owner = access.require_owner().map(str::to_owned);
        super::super::body::reply(
            StatusCode::CREATED,
            &serde_json::json!({"owner": owner.ok(), "v": v}),
        )
    }

    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "late"
    }

    async fn app(cors: Option<CorsSettings>, timeout: u64) -> Router {
        app_with(cors, timeout, Arc::new(MemoryLimiter::new(1000))).await
    }

    async fn app_with(
        cors: Option<CorsSettings>,
        timeout: u64,
        limiter: Arc<dyn Limiter>,
    ) -> Router {
        let settings = settings(cors, timeout);
        let db = connect("sqlite::memory:").await.unwrap();
        let app = App {
            db,
            verifier: Arc::new(Verifier::new(settings.auth, SECRET).unwrap()),
            limiter,
            settings,
            hooks: Arc::new(()),
        };
        let routes = Router::new()
            .route(
                "/items",
                get(list.layer(app.guard(&LIST))).post(create.layer(app.guard(&CREATE))),
            )
            .route("/public", get(list.layer(app.guard(&PUBLIC))))
            .route("/slow", post(slow.layer(app.guard(&PUBLIC))));
        router(app, routes).unwrap()
    }

    fn token(user: &str, roles: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        mint(&HS, SECRET, user, &roles, &[], 600).unwrap()
    }

    /// A request from a client of its own (a fresh address each time).
    fn req(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Request {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        req_from(Ipv4Addr::from(0x0a00_0000 + n), method, uri, headers, body)
    }

    fn req_from(
        ip: Ipv4Addr,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Request {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut r = b.body(Body::from(body.to_owned())).unwrap();
        r.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 4000))));
        r
    }

    async fn send(
        router: &Router,
        r: Request,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let res = router.clone().oneshot(r).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (parts.status, parts.headers, json)
    }

    #[tokio::test]
    async fn stack_end_to_end() {
        let r = app(None, 10).await;
        let alice = format!("Bearer {}", token("alice", &[]));
        let admin = format!("Bearer {}", token("root", &["admin"]));

        // Deny by default: no token is 401 with a Bearer challenge.
        let (s, h, body) = send(&r, req("GET", "/items", &[], "")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(h[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(h[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert!(h.contains_key("x-request-id") && !h.contains_key(header::SERVER));
        assert_eq!(body["status"], 401);

        // Owner scope from the token; roles reach all rows; RateLimit fields.
        let (s, h, body) = send(&r, req("GET", "/items", &[("authorization", &alice)], "")).await;
        assert_eq!(
            (s, body["scope"].as_str()),
            (StatusCode::OK, Some("owned:alice"))
        );
        assert_eq!(h["ratelimit-policy"], "\"default\";q=1000;w=3600");
        assert!(
            h["ratelimit"]
                .to_str()
                .unwrap()
                .starts_with("\"default\";r=999;")
        );
        let (_, _, body) = send(&r, req("GET", "/items", &[("authorization", &admin)], "")).await;
        assert_eq!(body["scope"], "all");

        // Public operation without a token.
        let (s, _, body) = send(&r, req("GET", "/public", &[], "")).await;
        assert_eq!((s, body["scope"].as_str()), (StatusCode::OK, Some("all")));

        // A client request id is echoed; a weird one is replaced.
        let (s, h, _) = send(&r, req("GET", "/public", &[("x-request-id", "abc-1")], "")).await;
        assert_eq!(
            (s, &h["x-request-id"]),
            (StatusCode::OK, &HeaderValue::from_static("abc-1"))
        );
        let (_, h, _) = send(&r, req("GET", "/public", &[("x-request-id", "a b")], "")).await;
        assert_ne!(h["x-request-id"], "a b");

        // Unknown route, wrong method: problem+json, Allow kept.
        let (s, h, body) = send(&r, req("GET", "/nope", &[], "")).await;
        assert_eq!(
            (s, body["status"].as_u64()),
            (StatusCode::NOT_FOUND, Some(404))
        );
        assert_eq!(h[header::CONTENT_TYPE], "application/problem+json");
        let (s, h, body) = send(
            &r,
            req("DELETE", "/items", &[("authorization", &alice)], ""),
        )
        .await;
        assert_eq!(
            (s, body["status"].as_u64()),
            (StatusCode::METHOD_NOT_ALLOWED, Some(405))
        );
        assert!(h[header::ALLOW].to_str().unwrap().contains("POST"));

        // Health.
        let (s, _, body) = send(&r, req("GET", "/health", &[], "")).await;
        assert_eq!((s, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    }

    #[tokio::test]
    async fn bodies_and_per_operation_throttle() {
        let r = app(None, 10).await;
        let bob = format!("Bearer {}", token("bob", &[]));
        let json = ("content-type", "application/json");
        let auth = ("authorization", bob.as_str());

        // Auth runs before the body is parsed.
        let (s, _, _) = send(&r, req("POST", "/items", &[json], "{not json")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _, _) = send(&r, req("POST", "/items", &[json, auth], "{\"a\":1}")).await;
        assert_eq!(s, StatusCode::CREATED);
        // The create bucket allows 2 per minute.
        let (s, _, body) = send(&r, req("POST", "/items", &[auth], "{}")).await;
        assert_eq!(
            (s, body["status"].as_u64()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some(415))
        );
        let (s, h, _) = send(&r, req("POST", "/items", &[json, auth], "{}")).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        assert!(h.contains_key(header::RETRY_AFTER));
        assert_eq!(h["ratelimit-policy"], "\"item.create\";q=2;w=60");
        // Other operations have their own bucket.
        let (s, _, _) = send(&r, req("GET", "/items", &[auth], "")).await;
        assert_eq!(s, StatusCode::OK);

        // Size limit: by declared Content-Length, and while reading a body
        // without one (requests built here carry no Content-Length).
        let carol = format!("Bearer {}", token("carol", &[]));
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(300));
        let carol = ("authorization", carol.as_str());
        let (s, _, body) = send(&r, req("POST", "/items", &[json, carol], &big)).await;
        assert_eq!(
            (s, body["status"].as_u64()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some(413))
        );
        let len = big.len().to_string();
        let declared = [json, carol, ("content-length", len.as_str())];
        let (s, _, _) = send(&r, req("POST", "/items", &declared, &big)).await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn failed_authentication_is_throttled_per_ip() {
        let r = app(None, 10).await;
        let forged = ("authorization", "Bearer a.b.c");
        let ip = Ipv4Addr::new(192, 0, 2, 7);
        let req = |m: &str, u: &str, h: &[(&str, &str)], b: &str| req_from(ip, m, u, h, b);
        for _ in 0..3 {
            let (s, h, body) = send(&r, req("GET", "/public", &[forged], "")).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "never downgraded to anonymous");
            assert_eq!(
                h[header::WWW_AUTHENTICATE],
                "Bearer error=\"invalid_token\""
            );
            assert_eq!(body["detail"], "a valid bearer token is required");
        }
        let (s, h, _) = send(&r, req("GET", "/public", &[forged], "")).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        assert!(h.contains_key(header::RETRY_AFTER));
        // The same client's anonymous calls share that bucket.
        let (s, _, _) = send(&r, req("GET", "/public", &[], "")).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    }

    /// Unknown paths and undeclared methods are counted against the
    /// caller's default bucket like any call (ATTACKS.md RL-09, RL-10).
    #[tokio::test]
    async fn unrouted_requests_are_throttled() {
        let r = app(None, 10).await;
        let ip = Ipv4Addr::new(192, 0, 2, 9);
        let req = |m: &str, u: &str, h: &[(&str, &str)]| req_from(ip, m, u, h, "");
        let (s, h, _) = send(&r, req("GET", "/nope", &[])).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(
            h["ratelimit"]
                .to_str()
                .unwrap()
                .starts_with("\"default\";r=2;")
        );
        let (s, h, body) = send(&r, req("DELETE", "/items", &[])).await;
        assert_eq!(
            (s, body["status"].as_u64()),
            (StatusCode::METHOD_NOT_ALLOWED, Some(405))
        );
        assert_eq!(h[header::CONTENT_TYPE], "application/problem+json");
        assert!(h[header::ALLOW].to_str().unwrap().contains("POST"));
        let (s, _, _) = send(&r, req("GET", "/ITEMS", &[])).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // The anonymous bucket (3 a minute) is spent: the route itself too.
        let (s, h, _) = send(&r, req("GET", "/public", &[])).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        assert!(h.contains_key(header::RETRY_AFTER));
        let (s, _, _) = send(&r, req("GET", "/nope", &[])).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        // A user's unrouted calls draw on the user's default bucket.
        let alice = format!("Bearer {}", token("alice", &[]));
        let (s, h, _) = send(&r, req("PUT", "/items", &[("authorization", &alice)])).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
        assert!(
            h["ratelimit"]
                .to_str()
                .unwrap()
                .starts_with("\"default\";r=999;")
        );
    }

    #[tokio::test]
    async fn cors_and_timeout() {
        let cors = CorsSettings {
            origins: &["https://app.example.com"],
            credentials: true,
            methods: &["GET", "POST"],
            max_age_seconds: 600,
        };
        let r = app(Some(cors), 1).await;
        let (s, _, body) = send(&r, req("POST", "/slow", &[], "")).await;
        assert_eq!(
            (s, body["status"].as_u64()),
            (StatusCode::REQUEST_TIMEOUT, Some(408))
        );

        let (s, h, _) = send(
            &r,
            req(
                "GET",
                "/public",
                &[("origin", "https://app.example.com")],
                "",
            ),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert!(
            h[header::VARY]
                .to_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("origin")
        );
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        let cors_headers = |h: &axum::http::HeaderMap| -> Vec<String> {
            h.keys()
                .map(|n| n.as_str().to_owned())
                .filter(|n| n.starts_with("access-control-"))
                .collect()
        };
        let varies = |h: &axum::http::HeaderMap| {
            h.get_all(header::VARY)
                .iter()
                .any(|v| v.to_str().unwrap().to_ascii_lowercase().contains("origin"))
        };
        for evil in [
            "https://evil.com",
            "https://app.example.com.evil.com",
            "https://evilapp.example.com",
            "null",
            "http://app.example.com",
            "https://app.example.com:444",
            "https://APP.example.com",
            "https://app.example.com/",
        ] {
            let (s, h, _) = send(&r, req("GET", "/public", &[("origin", evil)], "")).await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(cors_headers(&h), Vec::<String>::new(), "{evil}");
            assert!(varies(&h), "{evil}: Vary: Origin");
            let pre = [
                ("origin", evil),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "authorization"),
            ];
            let (_, h, _) = send(&r, req("OPTIONS", "/items", &pre, "")).await;
            assert_eq!(cors_headers(&h), Vec::<String>::new(), "preflight {evil}");
            assert!(varies(&h), "preflight {evil}: Vary: Origin");
        }
        // No Origin: no CORS headers either, but Vary for shared caches.
        let (_, h, _) = send(&r, req("GET", "/public", &[], "")).await;
        assert_eq!(cors_headers(&h), Vec::<String>::new());
        assert!(varies(&h));
        let pre = [
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization, content-type",
            ),
        ];
        let (s, h, _) = send(&r, req("OPTIONS", "/items", &pre, "")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        let allowed = h[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert_eq!(allowed, "authorization,content-type");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_METHODS], "GET,POST");
        assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "600");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");

        for bad in [&["*"][..], &["*", "https://app.example.com"], &["null"]] {
            let c = CorsSettings {
                origins: bad,
                ..cors
            };
            assert!(cors_layer(&c).is_err(), "{bad:?} with credentials");
        }
        assert!(
            cors_layer(&CorsSettings {
                origins: &["*", "https://app.example.com"],
                credentials: false,
                ..cors
            })
            .is_err()
        );
    }

    /// `/health` and CORS preflights have buckets of their own per
    /// address: a spent anonymous bucket refuses neither, and each is
    /// bounded too. (A clock that stands still: at 10 a second, a bucket
    /// refills while a busy machine sends 600 requests.)
    #[tokio::test]
    async fn health_and_preflights_have_buckets_of_their_own() {
        let cors = CorsSettings {
            origins: &["https://app.example.com"],
            credentials: false,
            methods: &["GET", "POST"],
            max_age_seconds: 600,
        };
        let clock = governor::clock::FakeRelativeClock::default();
        let limiter = Arc::new(MemoryLimiter::with_clock(1000, clock));
        let r = app_with(Some(cors), 10, limiter).await;
        let ip = Ipv4Addr::new(192, 0, 2, 44);
        let req = |m: &str, u: &str, h: &[(&str, &str)]| req_from(ip, m, u, h, "");
        let forged = [("authorization", "Bearer a.b.c")];
        while send(&r, req("GET", "/public", &forged)).await.0 != StatusCode::TOO_MANY_REQUESTS {}
        let pre = [
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "POST"),
        ];
        for _ in 0..PREFLIGHT_RATE.count {
            let (s, _, _) = send(&r, req("OPTIONS", "/items", &pre)).await;
            assert_eq!(s, StatusCode::OK, "a preflight from a throttled address");
        }
        let (s, h, _) = send(&r, req("OPTIONS", "/items", &pre)).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "a preflight flood");
        assert_eq!(h["ratelimit-policy"], "\"preflight\";q=600;w=60");
        for _ in 0..HEALTH_RATE.count {
            let (s, _, body) = send(&r, req("GET", "/health", &[])).await;
            assert_eq!((s, body["status"].as_str()), (StatusCode::OK, Some("ok")));
        }
        let (s, _, _) = send(&r, req("GET", "/health", &[])).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "a health flood");
        // Another address is not concerned.
        let (s, _, _) = send(
            &r,
            req_from(Ipv4Addr::new(192, 0, 2, 45), "GET", "/health", &[], ""),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
    }

    /// Redis stopped under each `on_error`, over HTTP: `local` serves
    /// and limits per replica (429, never 5xx) and `/health` says
    /// `degraded`, still 200; `open` serves; `closed` answers every
    /// counted request, `/health` included, 503 problem+json with
    /// `Retry-After`.
    #[cfg(feature = "redis")]
    #[tokio::test]
    async fn a_stopped_redis_over_http() {
        use super::super::throttle::redis::tests::{PrivateRedis, unchecked};
        let test = "a_stopped_redis_over_http";
        let Some(mut redis) = PrivateRedis::start(test) else {
            return;
        };
        let open_for = Duration::from_secs(30);
        let mut routers = Vec::new();
        for on_error in [OnError::Local, OnError::Open, OnError::Closed] {
            let limiter = Arc::new(unchecked(&redis.url(), on_error, open_for));
            routers.push((on_error, app_with(None, 10, limiter).await));
        }
        let alice = format!("Bearer {}", token("alice", &[]));
        for (on_error, r) in &routers {
            let (s, _, body) = send(r, req("GET", "/health", &[], "")).await;
            assert_eq!(s, StatusCode::OK, "{on_error:?}");
            assert_eq!(
                body,
                serde_json::json!({"status": "ok", "limiter": "shared"})
            );
            let (s, h, _) = send(r, req("GET", "/items", &[("authorization", &alice)], "")).await;
            assert_eq!(s, StatusCode::OK);
            assert!(h.contains_key("ratelimit"), "{on_error:?}");
        }
        redis.stop();
        for (on_error, r) in &routers {
            let client = Ipv4Addr::new(198, 51, 100, 7);
            let statuses: Vec<u16> = {
                let mut out = Vec::new();
                for _ in 0..(ANON.count + 2) {
                    let (s, h, body) = send(r, req_from(client, "GET", "/public", &[], "")).await;
                    if s.is_server_error() {
                        assert_eq!(body["status"], 503, "{body}");
                        assert!(h.contains_key("retry-after"), "{h:?}");
                        assert_eq!(h["content-type"], "application/problem+json");
                    }
                    out.push(s.as_u16());
                }
                out
            };
            let (health, _, body) = send(r, req("GET", "/health", &[], "")).await;
            match on_error {
                OnError::Local => {
                    assert_eq!(
                        statuses,
                        [200, 200, 200, 429, 429],
                        "per replica, never 5xx"
                    );
                    assert_eq!(health, StatusCode::OK);
                    assert_eq!(
                        body,
                        serde_json::json!({"status": "degraded", "limiter": "local"})
                    );
                }
                OnError::Open => {
                    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
                    assert_eq!(health, StatusCode::OK);
                    assert_eq!(
                        body,
                        serde_json::json!({"status": "degraded", "limiter": "open"})
                    );
                }
                OnError::Closed => {
                    assert!(statuses.iter().all(|s| *s == 503), "{statuses:?}");
                    assert_eq!(health, StatusCode::SERVICE_UNAVAILABLE);
                    let (s, _, _) =
                        send(r, req("GET", "/items", &[("authorization", &alice)], "")).await;
                    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "signed-in callers too");
                }
            }
        }
    }

    /// `/health` asks the database at most once a second.
    #[tokio::test]
    async fn health_reuses_the_last_answer_for_a_second() {
        let db = connect("sqlite::memory:").await.unwrap();
        assert!(db.healthy().await);
        db.close().await;
        assert!(db.healthy().await, "the answer of a moment ago");
        tokio::time::sleep(HEALTH_TTL + Duration::from_millis(100)).await;
        assert!(!db.healthy().await, "asked again after a second");
    }

    /// A loopback server with `limits` (and a request timeout of 1 s); its
    /// address.
    async fn listening(limits: Connections) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = app(None, 1).await;
        tokio::spawn(serve_on(listener, router, limits, std::future::pending()));
        addr
    }

    /// Reads until the server closes the connection (or `within` passes);
    /// what was read and when it closed.
    async fn until_closed(
        stream: &mut tokio::net::TcpStream,
        within: Duration,
    ) -> (Vec<u8>, Option<Duration>) {
        use tokio::io::AsyncReadExt as _;
        let started = Instant::now();
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match tokio::time::timeout_at((started + within).into(), stream.read(&mut chunk)).await
            {
                Ok(Ok(0)) | Ok(Err(_)) => return (got, Some(started.elapsed())),
                Ok(Ok(n)) => got.extend_from_slice(&chunk[..n]),
                Err(_) => return (got, None),
            }
        }
    }

    const SHORT: Connections = Connections {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        max_connections: 64,
        drain: Duration::from_secs(1),
    };

    /// A head that never ends, a connection that never speaks and a
    /// kept-alive connection left idle are each closed in time.
    #[tokio::test]
    async fn slow_heads_and_idle_connections_are_closed() {
        use tokio::io::AsyncWriteExt as _;
        let addr = listening(SHORT).await;
        let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        // The first head is timed from the connection's start: a first
        // byte late in it does not restart the timer.
        let mut trickle = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        trickle.write_all(b"G").await.unwrap();
        for (what, stream) in [
            ("silent", &mut silent),
            ("unfinished head", &mut slow),
            ("late first byte", &mut trickle),
        ] {
            let (_, closed) = until_closed(stream, Duration::from_secs(5)).await;
            let closed = closed.unwrap_or_else(|| panic!("{what}: still open after 5 s"));
            assert!(
                closed < Duration::from_millis(600),
                "{what}: closed {closed:?} after the first 700 ms, the head timeout is 1 s"
            );
        }
        // Kept alive: a request, a response, then the idle timeout; the
        // head timer does not close it first.
        let mut kept = tokio::net::TcpStream::connect(addr).await.unwrap();
        kept.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let (got, closed) = until_closed(&mut kept, Duration::from_secs(6)).await;
        assert!(
            got.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&got)
        );
        let closed = closed.expect("an idle connection is closed");
        assert!(
            closed > Duration::from_millis(1800) && closed < Duration::from_millis(3500),
            "closed after {closed:?}, the idle timeout is 2 s"
        );
        // A later head counts from its first byte.
        let mut later = tokio::net::TcpStream::connect(addr).await.unwrap();
        later
            .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        later.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
        let (got, closed) = until_closed(&mut later, Duration::from_secs(5)).await;
        assert_eq!(got.windows(12).filter(|w| w == b"HTTP/1.1 200").count(), 1);
        let closed = closed.expect("the unfinished second head is closed");
        assert!(
            closed < Duration::from_millis(3000),
            "closed after {closed:?}"
        );
    }

    /// A body that stops coming is answered 408 at the request timeout,
    /// the head timers notwithstanding.
    #[tokio::test]
    async fn a_stalled_body_is_answered_408() {
        use tokio::io::AsyncWriteExt as _;
        let addr = listening(SHORT).await;
        let token = token("bob", &[]);
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /items HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
             content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"a\":"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let (got, _) = until_closed(&mut s, Duration::from_secs(4)).await;
        assert!(
            got.starts_with(b"HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&got)
        );
    }

    /// At the cap, a new connection closes the one that has waited longest
    /// for a request and is served at once: idle connections cannot keep
    /// others out.
    #[tokio::test]
    async fn at_the_cap_the_longest_idle_connection_makes_room() {
        use tokio::io::AsyncWriteExt as _;
        let addr = listening(Connections {
            max_connections: 2,
            ..SHORT
        })
        .await;
        let mut a = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut b = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let (got, _) = until_closed(&mut c, Duration::from_secs(5)).await;
        assert!(
            got.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&got)
        );
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_millis(500),
            "waited {waited:?} for a slot held by idle connections"
        );
        let (_, closed) = until_closed(&mut a, Duration::from_millis(100)).await;
        assert!(closed.is_some(), "the oldest idle connection made room");
        let (_, closed) = until_closed(&mut b, Duration::from_millis(100)).await;
        assert!(closed.is_none(), "only one connection was closed");
    }

    /// When every connection is serving a request, a new one waits for a
    /// request to finish; it is served then.
    #[tokio::test]
    async fn at_the_cap_of_busy_connections_the_next_waits() {
        use tokio::io::AsyncWriteExt as _;
        let addr = listening(Connections {
            max_connections: 2,
            ..SHORT
        })
        .await;
        let mut busy = Vec::new();
        for _ in 0..2 {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(b"POST /slow HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            busy.push(s);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let (got, closed) = until_closed(&mut c, Duration::from_secs(5)).await;
        assert!(
            got.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&got)
        );
        assert!(closed.is_some());
        let waited = started.elapsed();
        assert!(
            waited > Duration::from_millis(500),
            "served at once ({waited:?}): a request in flight was cut to make room"
        );
        for mut s in busy {
            let (got, _) = until_closed(&mut s, Duration::from_secs(3)).await;
            assert!(
                got.starts_with(b"HTTP/1.1 408"),
                "{}",
                String::from_utf8_lossy(&got)
            );
        }
    }

    #[tokio::test]
    async fn cors_wildcard_without_credentials() {
        let cors = CorsSettings {
            origins: &["*"],
            credentials: false,
            methods: &["GET"],
            max_age_seconds: 0,
        };
        let r = app(Some(cors), 10).await;
        for origin in ["https://anything.example", "null"] {
            let (s, h, _) = send(&r, req("GET", "/public", &[("origin", origin)], "")).await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(
                h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
                "*",
                "never reflected"
            );
            assert!(!h.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
            assert!(h.contains_key(header::VARY));
            let pre = [("origin", origin), ("access-control-request-method", "GET")];
            let (_, h, _) = send(&r, req("OPTIONS", "/public", &pre, "")).await;
            assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
            assert_eq!(h[header::ACCESS_CONTROL_ALLOW_METHODS], "GET");
            assert!(!h.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
        }
        let (_, h, _) = send(&r, req("GET", "/public", &[], "")).await;
        assert!(
            !h.keys().any(|n| n.as_str().starts_with("access-control-")),
            "no Origin, no CORS headers"
        );
    }

    #[tokio::test]
    async fn a_file_database_has_one_writer_and_read_only_readers() {
        let dir = std::env::temp_dir().join(format!("palisade-db-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
        let db = connect(&url).await.unwrap();
        assert_eq!(
            db.sqlite().unwrap().write.options().get_max_connections(),
            1
        );
        assert_eq!(
            db.sqlite().unwrap().read.options().get_max_connections(),
            read_connections()
        );
        sqlx::raw_sql("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1)")
            .execute(&db.sqlite().unwrap().write)
            .await
            .unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&db.sqlite().unwrap().read)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&db.sqlite().unwrap().read)
            .await
            .unwrap();
        assert_eq!(n, 1, "readers see the writer's commits");
        let refused = sqlx::query("INSERT INTO t VALUES (2)")
            .execute(&db.sqlite().unwrap().read)
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("readonly"), "{refused}");

        // A log over the limit is reset while a reader is open between
        // its queries; one under it is only copied back.
        let mut tx = db.sqlite().unwrap().write.begin().await.unwrap();
        for i in 0..2000 {
            sqlx::query("INSERT INTO t VALUES (?)")
                .bind(i)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        sqlx::raw_sql("UPDATE t SET v = v + 1")
            .execute(&db.sqlite().unwrap().write)
            .await
            .unwrap();
        let wal = dir.join("t.db-wal");
        let before = std::fs::metadata(&wal).unwrap().len();
        assert!(before > 0);
        let small = checkpoint(&db.sqlite().unwrap().write, u64::MAX)
            .await
            .unwrap();
        assert!(small.frames > 0 && !small.truncated, "{small:?}");
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&db.sqlite().unwrap().read)
            .await
            .unwrap();
        assert_eq!(n, 2001);
        let reset = checkpoint(&db.sqlite().unwrap().write, 0).await.unwrap();
        assert!(reset.truncated, "{reset:?}");
        assert_eq!(
            std::fs::metadata(&wal).unwrap().len(),
            0,
            "the log is truncated"
        );
        db.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_table_rebuild_keeps_the_rows_that_refer_to_it() {
        let db = connect("sqlite::memory:")
            .await
            .unwrap()
            .sqlite()
            .unwrap()
            .write
            .clone();
        let init = Migration {
            version: 1,
            name: "init",
            sql: "CREATE TABLE parent (id TEXT NOT NULL PRIMARY KEY, a TEXT);\
                  CREATE TABLE child (id TEXT NOT NULL PRIMARY KEY, parent TEXT, \
                  FOREIGN KEY (parent) REFERENCES parent (id) ON DELETE SET NULL);\
                  CREATE TABLE strict (id TEXT NOT NULL PRIMARY KEY, parent TEXT, \
                  FOREIGN KEY (parent) REFERENCES parent (id) ON DELETE RESTRICT);",
        };
        migrate(&db, &[init]).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO parent VALUES ('p', 'x'); INSERT INTO child VALUES ('c', 'p'); \
             INSERT INTO strict VALUES ('s', 'p');",
        )
        .execute(&db)
        .await
        .unwrap();
        // The rebuild of `parent` as palisade writes it: without foreign
        // keys off, the drop would null `child.parent` and be refused by
        // `strict`.
        let rebuild = Migration {
            version: 2,
            name: "rebuild_parent",
            sql: "CREATE TABLE \"_palisade_new_parent\" (id TEXT NOT NULL PRIMARY KEY, a TEXT NOT NULL);\
                  INSERT INTO \"_palisade_new_parent\" (id, a) SELECT id, a FROM parent;\
                  DROP TABLE parent;\
                  ALTER TABLE \"_palisade_new_parent\" RENAME TO parent;",
        };
        migrate(&db, &[init, rebuild]).await.unwrap();
        let child: Option<String> = sqlx::query_scalar("SELECT parent FROM child")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(child.as_deref(), Some("p"));
        // The references still hold, and are enforced again.
        let refused = sqlx::query("DELETE FROM parent").execute(&db).await;
        assert!(refused.is_err(), "RESTRICT is enforced after the migration");
        // A migration that leaves a reference broken fails whole.
        let breaking = Migration {
            version: 3,
            name: "break",
            sql: "UPDATE child SET parent = 'nobody'; CREATE TABLE marker (id TEXT);",
        };
        let err = migrate(&db, &[init, rebuild, breaking])
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("migrations/0003_break.sql failed"), "{err}");
        assert!(err.contains("`child`"), "{err}");
        let marker: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 'marker'")
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(marker, 0, "the failed migration left nothing behind");
        // A named check fails the migration with its message.
        let checked = Migration {
            version: 3,
            name: "check",
            sql: "CREATE TEMP TABLE \"_palisade_check\" (\"rows\" INTEGER CONSTRAINT \"every row of `parent` must have a `b`\" CHECK (\"rows\" = 0));\
                  INSERT INTO \"_palisade_check\" SELECT count(*) FROM parent;\
                  DROP TABLE \"_palisade_check\";",
        };
        let err = migrate(&db, &[init, rebuild, checked])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("every row of `parent` must have a `b`"),
            "{err}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replicas_starting_at_once_apply_each_migration_once() {
        let dir = std::env::temp_dir().join(format!("palisade-migrate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/db.sqlite?mode=rwc", dir.display());
        let migrations = [
            Migration {
                version: 1,
                name: "init",
                sql: "CREATE TABLE item (id TEXT PRIMARY KEY);",
            },
            Migration {
                version: 2,
                name: "counter",
                // Not idempotent: applied twice, it would fail.
                sql: "CREATE TABLE counter (n INTEGER);",
            },
        ];
        let replicas: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move {
                    let db = connect(&url).await.unwrap();
                    migrate(&db.sqlite().unwrap().write, &migrations).await
                })
            })
            .collect();
        for r in replicas {
            r.await.unwrap().unwrap();
        }
        let db = connect(&url).await.unwrap().sqlite().unwrap().write.clone();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _palisade_migrations")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(n, 2);
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn migrations_apply_once_and_refuse_drift() {
        let db = connect("sqlite::memory:")
            .await
            .unwrap()
            .sqlite()
            .unwrap()
            .write
            .clone();
        let v1 = [Migration {
            version: 1,
            name: "init",
            sql: "CREATE TABLE item (id TEXT PRIMARY KEY); CREATE INDEX item_id ON item(id);",
        }];
        migrate(&db, &v1).await.unwrap();
        migrate(&db, &v1).await.unwrap();
        let edited = [Migration {
            sql: "CREATE TABLE item (id TEXT)",
            ..v1[0]
        }];
        assert!(
            migrate(&db, &edited)
                .await
                .unwrap_err()
                .to_string()
                .contains("changed")
        );
        assert!(
            migrate(&db, &[]).await.is_err(),
            "unknown applied migration"
        );
        let broken = [
            v1[0],
            Migration {
                version: 2,
                name: "broken",
                sql: "CREATE TABLE x (; ",
            },
        ];
        assert!(migrate(&db, &broken).await.is_err());
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _palisade_migrations")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(n, 1, "a failed migration is rolled back");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(fk, 1);
    }
}
