//! The service as the team's `main` builds it: the generated routes of the
//! spec, plus the routes, layers and background tasks the team adds.
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     let service = billing::hooks::service()
//!         .route("/reports/summary", get(reports::summary))
//!         .public_route("/status", get(status))
//!         .layer(my_layer)
//!         .task(|app| jobs::nightly(app));
//!     palisade_runtime::main(service)
//! }
//! ```
//!
//! Invariants: the team's routes sit behind the same envelope as the
//! generated ones (request id, timeout, body limit, CORS, security
//! headers, problem+json errors, token verification); a route added with
//! [`Service::route`] answers only signed-in callers (401 otherwise) and
//! [`Service::public_route`] is the explicit way out; both count against
//! the caller's `default` bucket. Neither is covered by the spec's
//! guarantees (no grants, no owner scope): what such a handler reads or
//! writes is its own code's responsibility. [`main`]'s signature is the
//! one palisade keeps stable between versions.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, Route};
use tower::Layer;

use super::auth::Caller;
use super::problem::Problem;
use super::server::{App, Migrations, Settings, admit, bucket_key};

type Extend = Box<dyn FnOnce(&App, Router<App>) -> Router<App>>;

/// What a hook of the team's returns, as the generated handlers call it:
/// the hooks of every resource are kept as plain function pointers to
/// these, made once from the team's hooks type, so that the handlers (and
/// all the routing code) are compiled in the generated API crate, not in
/// the team's.
pub type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Problem>> + Send + 'a>>;
type Task = Box<dyn FnOnce(App) -> Pin<Box<dyn Future<Output = ()> + Send>>>;

/// A service ready to run: what the spec generated, and what the team
/// added. Built by the generated `service()` function; run by [`main`].
pub struct Service {
    pub(crate) settings: &'static Settings,
    pub(crate) migrations: &'static Migrations,
    routes: fn(&App) -> Router<App>,
    pub(crate) hooks: Arc<dyn Any + Send + Sync>,
    extensions: Vec<Extend>,
    tasks: Vec<Task>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("service", &self.settings.service)
            .field("extensions", &self.extensions.len())
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl Service {
    /// The generated service: its settings, migrations, the routes the
    /// spec grants and the table of the team's hooks that their handlers
    /// call (called by the generated code; see [`App::hooks`]).
    pub fn new(
        settings: &'static Settings,
        migrations: &'static Migrations,
        routes: fn(&App) -> Router<App>,
        hooks: impl Any + Send + Sync,
    ) -> Service {
        Service {
            settings,
            migrations,
            routes,
            hooks: Arc::new(hooks),
            extensions: Vec::new(),
            tasks: Vec::new(),
        }
    }

    /// The service's settings, from the spec.
    pub fn settings(&self) -> &'static Settings {
        self.settings
    }

    /// Adds a route of the team's own, for signed-in callers only: an
    /// anonymous call is 401 before the handler runs. Its handlers may take
    /// the [`Caller`] and `State<App>` (the database is `app.db`), not an
    /// `Access` (which only a generated operation's guard makes). It is
    /// outside the spec: no grants, no owner scope. A path the service
    /// already routes is refused by axum when the service starts.
    pub fn route(self, path: &str, methods: MethodRouter<App>) -> Service {
        self.extend(path, methods, true)
    }

    /// Adds a route that anonymous callers may call too: the explicit
    /// opt-out of [`Service::route`]'s sign-in requirement. A token that
    /// is sent is still verified (a bad one is 401).
    pub fn public_route(self, path: &str, methods: MethodRouter<App>) -> Service {
        self.extend(path, methods, false)
    }

    fn extend(mut self, path: &str, methods: MethodRouter<App>, signed_in: bool) -> Service {
        let path = path.to_owned();
        self.extensions.push(Box::new(move |app, router| {
            // `layer`, not `route_layer`: the gate wraps the method
            // router's fallback too, and `any(..)` routes.
            let methods = if signed_in {
                methods.layer(middleware::from_fn_with_state(app.clone(), signed_in_only))
            } else {
                methods.layer(middleware::from_fn_with_state(app.clone(), anyone))
            };
            router.route(&path, methods)
        }));
        self
    }

    /// Wraps every route added so far (generated and the team's) in
    /// `layer`, inside the runtime's envelope and authentication and
    /// outside each route's throttle and grants: the layer sees the
    /// request's [`Caller`] in its extensions (and must not replace it),
    /// also for a call the route will then refuse.
    pub fn layer<L>(mut self, layer: L) -> Service
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as tower::Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as tower::Service<Request>>::Future: Send + 'static,
    {
        self.extensions
            .push(Box::new(move |_, router| router.layer(layer)));
        self
    }

    /// Runs `task` in the background once the database is migrated, before
    /// the server accepts connections; it ends with the process. A task
    /// that panics is logged; the server goes on.
    pub fn task<F, Fut>(mut self, task: F) -> Service
    where
        F: FnOnce(App) -> Fut + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks.push(Box::new(move |app| Box::pin(task(app))));
        self
    }

    /// Starts the background tasks (taken: called once, by the server).
    pub(crate) fn spawn_tasks(&mut self, app: &App) {
        for (n, task) in self.tasks.drain(..).enumerate() {
            let running = tokio::spawn(task(app.clone()));
            tokio::spawn(async move {
                if let Err(e) = running.await {
                    tracing::error!(task = n, error = %e, "a background task failed");
                }
            });
        }
    }

    /// The routes of the service for `app`: the spec's, then the team's
    /// additions in the order they were made (taken: called once, by the
    /// server or the test kit).
    pub(crate) fn routes(&mut self, app: &App) -> Router<App> {
        let mut router = (self.routes)(app);
        for extend in self.extensions.drain(..) {
            router = extend(app, router);
        }
        router
    }
}

/// A route of the team's for signed-in callers: counted in the `default`
/// bucket, then 401 for an anonymous caller.
async fn signed_in_only(State(app): State<App>, req: Request, next: Next) -> Response {
    gate(app, req, next, true).await
}

/// A public route of the team's: counted in the `default` bucket.
async fn anyone(State(app): State<App>, req: Request, next: Next) -> Response {
    gate(app, req, next, false).await
}

async fn gate(app: App, req: Request, next: Next, signed_in: bool) -> Response {
    let Some(caller) = req.extensions().get::<Caller>().cloned() else {
        return Problem::internal(&"route without the auth middleware").into_response();
    };
    let settings = app.settings;
    let (key, rate) = bucket_key(
        &req,
        &caller,
        "default",
        settings.user_rate,
        settings.anon_rate,
    );
    let decision = match admit(&app, &key, rate, "default").await {
        Ok(decision) => decision,
        Err(refused) => return refused,
    };
    let mut res = if signed_in && matches!(caller, Caller::Anonymous) {
        Problem::unauthorized().into_response()
    } else {
        next.run(req).await
    };
    for (name, value) in decision.headers("default", rate) {
        res.headers_mut().insert(name, value);
    }
    res
}

/// Runs the binary: `serve` (the default) or `dev-token`. The entry point
/// of the team's `main`, with a signature palisade keeps stable.
pub fn main(service: Service) -> ExitCode {
    super::cli::main(service)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Grants;
    use crate::server::Operation;
    use crate::testkit::TestApp;
    use crate::throttle::Rate;
    use axum::handler::Handler as _;
    use axum::routing::get;

    static SETTINGS: Settings = Settings {
        service: "test",
        default_database_url: "sqlite::memory:",
        auth: crate::auth::tests::HS,
        anon_rate: Rate::new(100, 60),
        user_rate: Rate::new(100, 60),
        trust_proxy_hops: 0,
        redis: None,
        max_body_bytes: 256,
        request_timeout_seconds: 10,
        header_read_timeout_seconds: 10,
        idle_timeout_seconds: 75,
        max_connections: 64,
        cors: None,
        engines: &[crate::db::Engine::Sqlite],
    };

    static LIST: Operation = Operation {
        name: "item.list",
        grants: Grants {
            owner: false,
            roles: &["admin"],
            public: false,
        },
        owner: None,
        throttle: None,
    };

    async fn caller_name(caller: Caller) -> String {
        match caller {
            Caller::User(p) => p.user,
            Caller::Anonymous => "anonymous".into(),
        }
    }

    fn generated(app: &App) -> Router<App> {
        Router::new().route(
            "/items",
            get((|| async { "items" }).layer(app.guard(&LIST))),
        )
    }

    #[derive(Clone)]
    struct Stamp;

    impl<S: Clone> Layer<S> for Stamp {
        type Service = Stamped<S>;
        fn layer(&self, inner: S) -> Stamped<S> {
            Stamped(inner)
        }
    }

    #[derive(Clone)]
    struct Stamped<S>(S);

    impl<S> tower::Service<Request> for Stamped<S>
    where
        S: tower::Service<Request, Response = Response, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        type Response = Response;
        type Error = Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

        fn poll_ready(
            &mut self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Infallible>> {
            self.0.poll_ready(cx)
        }

        fn call(&mut self, req: Request) -> Self::Future {
            let signed_in = matches!(req.extensions().get::<Caller>(), Some(Caller::User(_)));
            let future = self.0.call(req);
            Box::pin(async move {
                let mut res = future.await?;
                res.headers_mut().insert(
                    "x-stamp",
                    if signed_in { "user" } else { "anonymous" }
                        .parse()
                        .unwrap(),
                );
                Ok(res)
            })
        }
    }

    fn service() -> Service {
        Service::new(
            &SETTINGS,
            &crate::server::Migrations {
                sqlite: &[],
                postgres: &[],
                row_security: "",
            },
            generated,
            (),
        )
        .route("/mine", get(caller_name).fallback(caller_name))
        .route("/every", axum::routing::any(caller_name))
        .public_route("/open", get(caller_name))
        .layer(Stamp)
    }

    #[tokio::test]
    async fn team_routes_need_a_signed_in_caller_unless_public() {
        let app = TestApp::new(service()).await;
        let token = app.token("alice", &[], "t");
        assert_eq!(app.call("GET", "/mine", None, None).await.status, 401);
        let mine = app.call("GET", "/mine", Some(&token), None).await;
        assert_eq!(
            (mine.status, mine.raw.as_slice()),
            (200, b"alice".as_slice())
        );
        let open = app.call("GET", "/open", None, None).await;
        assert_eq!(
            (open.status, open.raw.as_slice()),
            (200, b"anonymous".as_slice())
        );
        // A bad token is refused on a public route too.
        assert_eq!(
            app.call("GET", "/open", Some("x.y.z"), None).await.status,
            401
        );
        // The generated routes keep their own grants.
        assert_eq!(
            app.call("GET", "/items", Some(&token), None).await.status,
            403
        );
        // A method router's fallback and `any` are behind the gate too.
        assert_eq!(app.call("POST", "/mine", None, None).await.status, 401);
        let fallback = app.call("POST", "/mine", Some(&token), None).await;
        assert_eq!(fallback.status, 200);
        assert_eq!(fallback.raw, b"alice");
        assert_eq!(app.call("DELETE", "/every", None, None).await.status, 401);
        let every = app.call("DELETE", "/every", Some(&token), None).await;
        assert_eq!(every.status, 200);
        // Unknown paths and methods answer as before.
        let nothing = app.call("GET", "/nothing", Some(&token), None).await;
        assert_eq!(nothing.status, 404);
        let wrong = app.call("POST", "/open", Some(&token), None).await;
        assert_eq!(wrong.status, 405);
    }

    #[tokio::test]
    async fn team_layers_wrap_every_route_and_see_the_caller() {
        let app = TestApp::new(service()).await;
        let token = app.token("alice", &[], "t");
        let stamp = |r: &crate::testkit::Reply| {
            r.headers
                .get("x-stamp")
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let mine = app.call("GET", "/mine", Some(&token), None).await;
        assert_eq!(stamp(&mine).as_deref(), Some("user"));
        let items = app.call("GET", "/items", None, None).await;
        assert_eq!(stamp(&items).as_deref(), Some("anonymous"));
        // Not the runtime's own answers.
        let health = app.call("GET", "/health", None, None).await;
        assert_eq!(stamp(&health), None);
    }
}
