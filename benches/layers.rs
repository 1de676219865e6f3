//! Prints what each security layer of a generated server costs on its own,
//! so that a regression points at its layer: JWT verification, the
//! throttle check, the owner condition in the SQL (scoped against unscoped
//! statements on the same table), and the whole middleware stack around a
//! handler that does nothing. It drives palisade-runtime, the code every
//! generated server carries, with the billing example's settings. Figures
//! only, never a timed assertion.
//!
//! Run with `cargo bench --bench layers` (bench/run.sh runs it as its
//! `layers` part).

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::handler::Handler as _;
use axum::http::HeaderMap;
use axum::routing::get;
use palisade_runtime::access::{Grants, OwnerClaim, Scope};
use palisade_runtime::auth::{Algorithm, AuthSettings, KeySource, Verifier, mint};
use palisade_runtime::db::{self, Columns, FromColumns, Identity, Kind, Session};
use palisade_runtime::page::{self, ListRules};
use palisade_runtime::server::{App, Operation, Settings, connect, router};
use palisade_runtime::throttle::{DEFAULT_MAX_KEYS, MemoryLimiter, Rate};
use sqlx::SqlitePool;
use tower::ServiceExt as _;

const SECRET: &[u8] = b"a-benchmark-secret-of-at-least-32-bytes!";
/// Rows per owner, as in the load test.
const ROWS: usize = 10_000;
/// Batches per figure; the figure is the median batch.
const BATCHES: usize = 7;

/// The billing example's `auth` section.
const AUTH: AuthSettings = AuthSettings {
    algorithms: &[Algorithm::HS256],
    keys: KeySource::Secret("JWT_SECRET"),
    issuer: Some("https://auth.example.com"),
    audience: Some("billing-api"),
    leeway_seconds: 30,
    user_claim: "sub",
    roles_claim: Some("roles"),
    tenant_claims: &[],
};

static SETTINGS: Settings = Settings {
    service: "bench",
    default_database_url: "sqlite::memory:",
    auth: AUTH,
    anon_rate: Rate::new(30, 60),
    user_rate: Rate::new(1_000_000, 1),
    trust_proxy_hops: 0,
    redis: None,
    max_body_bytes: 65_536,
    request_timeout_seconds: 10,
    header_read_timeout_seconds: 10,
    idle_timeout_seconds: 75,
    max_connections: 4096,
    cors: None,
    engines: &[db::Engine::Sqlite],
};

static GET_INVOICE: Operation = Operation::new(
    "invoice.get",
    Grants::OWNER.roles(&["admin", "support"]),
    Some(OwnerClaim::User),
)
.throttle("default", Rate::new(1_000_000, 1), Rate::new(30, 60));

/// The invoice table of the billing example as generated (without the
/// customer reference), plus the index an unowned resource would get, so
/// that each statement below has its best index.
const SCHEMA: &str = r#"
CREATE TABLE "invoice" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "owner_id" TEXT NOT NULL,
    "number" TEXT NOT NULL,
    "amount_cents" INTEGER NOT NULL,
    "currency" TEXT,
    "paid" INTEGER,
    "issued_on" TEXT,
    "notes" TEXT,
    "created_at" TEXT NOT NULL,
    "updated_at" TEXT NOT NULL
);
CREATE INDEX "invoice_list" ON "invoice" ("owner_id", "created_at", "id");
CREATE UNIQUE INDEX "invoice_number_unique" ON "invoice" ("owner_id", "number");
CREATE INDEX "invoice_list_unowned" ON "invoice" ("created_at", "id");
"#;
const COLUMNS: &str = r#""id", "owner_id", "number", "amount_cents", "currency", "paid", "issued_on", "notes", "created_at", "updated_at""#;
const OWNER: &str = "\"owner_id\"";

static LIST_RULES: ListRules = ListRules {
    default_limit: 20,
    max_limit: 100,
    sort_keys: &[("created_at", Kind::Timestamp, false)],
    default_sort: "-created_at",
    filters: &[],
};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median over [`BATCHES`] batches of `n` calls, in nanoseconds per call.
fn per_call(n: u32, mut f: impl FnMut(u32)) -> f64 {
    median(
        (0..BATCHES)
            .map(|_| {
                let start = Instant::now();
                for i in 0..n {
                    f(i);
                }
                start.elapsed().as_nanos() as f64 / f64::from(n)
            })
            .collect(),
    )
}

fn line(label: &str, ns: f64) {
    if ns >= 10_000.0 {
        println!("  {label:<72} {:>9.1} us", ns / 1000.0);
    } else {
        println!("  {label:<72} {ns:>9.0} ns");
    }
}

/// The output of a future that is ready at its first poll (authentication
/// with a static key never waits).
fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("authentication with a static key waited"),
    }
}

fn jwt() {
    println!("JWT verification (HS256, iss and aud checked; per call)");
    let verifier = Verifier::new(AUTH, SECRET).unwrap();
    let token = mint(&AUTH, SECRET, "alice", &["support".into()], &[], 3600).unwrap();
    assert!(verifier.verify(&token).is_ok());
    line(
        "Verifier::verify, a valid token",
        per_call(50_000, |_| {
            black_box(verifier.verify(black_box(&token)).unwrap());
        }),
    );
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    line(
        "Verifier::authenticate, from the Authorization header",
        per_call(50_000, |_| {
            black_box(ready(verifier.authenticate(black_box(&headers))).unwrap());
        }),
    );
    let forged = format!("{}AAAA", &token[..token.len() - 4]);
    line(
        "Verifier::verify, a forged signature (refused)",
        per_call(50_000, |_| {
            black_box(verifier.verify(black_box(&forged)).is_err());
        }),
    );
}

fn throttle() {
    println!("throttle check (MemoryLimiter, 100,000-key cap; per call)");
    let limiter = MemoryLimiter::new(DEFAULT_MAX_KEYS);
    let rate = Rate::new(1_000_000, 1);
    line(
        "one user's bucket, allowed (what each load-test request does)",
        per_call(200_000, |_| {
            black_box(limiter.check(black_box("user:default:alice"), rate));
        }),
    );
    let keys: Vec<String> = (0..10_000).map(|i| format!("user:default:u{i}")).collect();
    line(
        "10,000 users round robin, allowed",
        per_call(200_000, |i| {
            black_box(limiter.check(&keys[i as usize % keys.len()], rate));
        }),
    );
    line(
        "formatting the bucket key (the guard does it; not in the lines above)",
        per_call(200_000, |i| {
            black_box(format!("user:{}:{}", "default", &keys[i as usize % 100]));
        }),
    );
}

/// A row of [`COLUMNS`], decoded as the generated code decodes one.
#[allow(dead_code)] // Read by black_box only.
struct Invoice {
    id: String,
    owner_id: String,
    number: String,
    amount_cents: i64,
    currency: Option<String>,
    paid: Option<bool>,
    issued_on: Option<String>,
    notes: Option<String>,
    created_at: String,
    updated_at: String,
}

impl FromColumns for Invoice {
    fn from_columns(r: &mut Columns<'_>) -> sqlx::Result<Invoice> {
        Ok(Invoice {
            id: r.next()?,
            owner_id: r.next()?,
            number: r.next()?,
            amount_cents: r.next()?,
            currency: r.next()?,
            paid: r.next()?,
            issued_on: r.next()?,
            notes: r.next()?,
            created_at: r.next()?,
            updated_at: r.next()?,
        })
    }
}

async fn seed(db: &SqlitePool) -> Vec<(String, String)> {
    sqlx::raw_sql(SCHEMA).execute(db).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let mut ids = Vec::new();
    for owner in ["alice", "bob"] {
        for i in 0..ROWS {
            let id = uuid::Uuid::new_v4().to_string();
            let ts = format!(
                "2026-01-01T{:02}:{:02}:{:02}.000Z",
                i / 3600,
                (i / 60) % 60,
                i % 60
            );
            sqlx::query("INSERT INTO \"invoice\" VALUES (?, ?, ?, ?, 'EUR', ?, NULL, ?, ?, ?)")
                .bind(&id)
                .bind(owner)
                .bind(format!("{owner}-{i:06}"))
                .bind(1000 + i as i64)
                .bind(i % 3 == 0)
                .bind(format!("seeded invoice {i} for {owner}"))
                .bind(&ts)
                .bind(&ts)
                .execute(&mut *tx)
                .await
                .unwrap();
            ids.push((owner.to_string(), id));
        }
    }
    tx.commit().await.unwrap();
    sqlx::raw_sql("ANALYZE").execute(db).await.unwrap();
    ids
}

/// The generated store's `get`: `WHERE "id" = ?`, then the scope's condition.
async fn get_row(db: &Session, scope: &Scope, id: &str) -> Option<Invoice> {
    let mut qb = db.sql(&format!(
        "SELECT {COLUMNS} FROM \"invoice\" WHERE \"id\" = "
    ));
    qb.bind(id, Kind::Uuid);
    scope.push_condition(&mut qb, OWNER);
    db.row(db::Access::Read, &qb).await.unwrap()
}

/// The generated store's `list` with `?limit=50`.
async fn list_page(db: &Session, scope: &Scope) -> usize {
    let query = page::parse(Some("limit=50"), &LIST_RULES).unwrap();
    let mut qb = db.sql(&format!("SELECT {COLUMNS} FROM \"invoice\" WHERE 1 = 1"));
    scope.push_condition(&mut qb, OWNER);
    query.push_after(&mut qb);
    query.push_order_limit(&mut qb, "\"invoice\"");
    let rows: Vec<Invoice> = db.rows(db::Access::Read, &qb).await.unwrap();
    rows.len()
}

fn queries(rt: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("layers.db").display()
    );
    let database = rt.block_on(connect(&url)).unwrap();
    let pool = database.sqlite().unwrap().write.clone();
    let ids = rt.block_on(seed(&pool));
    let db = Session::new(database.clone(), Identity::default());
    println!(
        "owner scope in the SQL (SQLite file, WAL, 2 owners x {ROWS} rows; one query at a time; per query)"
    );
    let alice = Scope::Owned("alice".into());
    let own: Vec<&str> = ids
        .iter()
        .filter(|(o, _)| o == "alice")
        .map(|(_, id)| id.as_str())
        .collect();
    let time = |label: &str, n: u32, scope: &Scope, list: bool| {
        let ns = median(
            (0..BATCHES)
                .map(|_| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for i in 0..n {
                            if list {
                                assert_eq!(list_page(&db, scope).await, 51);
                            } else {
                                let row =
                                    get_row(&db, scope, own[(i as usize * 7919) % own.len()]).await;
                                black_box(row.unwrap());
                            }
                        }
                        start.elapsed().as_nanos() as f64 / f64::from(n)
                    })
                })
                .collect(),
        );
        line(label, ns);
        ns
    };
    let scoped = time(
        "get by id, owner-scoped (id = ? AND owner_id = ?)",
        5_000,
        &alice,
        false,
    );
    let all = time("get by id, unscoped (id = ?)", 5_000, &Scope::All, false);
    line("  owner condition on get", scoped - all);
    let scoped = time("list, page of 50, owner-scoped", 1_000, &alice, true);
    let all = time("list, page of 50, unscoped", 1_000, &Scope::All, true);
    line("  owner condition on list", scoped - all);
    let other = ids.iter().find(|(o, _)| o == "bob").unwrap().1.clone();
    let ns = per_call(5_000, |_| {
        assert!(rt.block_on(get_row(&db, &alice, &other)).is_none());
    });
    line("get by id of another owner's row (404), owner-scoped", ns);
    rt.block_on(database.close());
}

async fn handler() -> &'static str {
    "ok"
}

async fn drive(router: &Router, token: &str, n: usize) -> f64 {
    let request = || {
        let mut r = Request::builder()
            .uri("/invoices/1")
            .header("authorization", token)
            .body(Body::empty())
            .unwrap();
        r.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))));
        r
    };
    for _ in 0..1000 {
        router.clone().oneshot(request()).await.unwrap();
    }
    let start = Instant::now();
    for _ in 0..n {
        let res = router.clone().oneshot(request()).await.unwrap();
        assert_eq!(res.status(), 200);
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn stack(rt: &tokio::runtime::Runtime) {
    println!(
        "whole middleware stack around a handler that does nothing (in process, no network; per request)"
    );
    let token = format!(
        "Bearer {}",
        mint(&AUTH, SECRET, "alice", &[], &[], 3600).unwrap()
    );
    let (bare, full) = rt.block_on(async {
        let app = App {
            db: connect("sqlite::memory:").await.unwrap(),
            verifier: Arc::new(Verifier::new(AUTH, SECRET).unwrap()),
            limiter: Arc::new(MemoryLimiter::new(DEFAULT_MAX_KEYS)),
            settings: &SETTINGS,
            hooks: Arc::new(()),
        };
        let bare: Router = Router::new().route("/invoices/{id}", get(handler));
        let routes = Router::new().route(
            "/invoices/{id}",
            get(handler.layer(app.guard(&GET_INVOICE))),
        );
        let full = router(app, routes).unwrap();
        let n = 50_000;
        let mut b = Vec::new();
        let mut f = Vec::new();
        for _ in 0..5 {
            b.push(drive(&bare, &token, n).await);
            f.push(drive(&full, &token, n).await);
        }
        (median(b), median(f))
    });
    line("axum router alone", bare);
    line(
        "generated stack (envelope, authentication, guard: throttle + grants)",
        full,
    );
    line("  security and envelope layers together", full - bare);
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "palisade-runtime security layers; medians of {BATCHES} batches; {} CPU(s)\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    jwt();
    println!();
    throttle();
    println!();
    queries(&rt);
    println!();
    stack(&rt);
}
