//! Prints what the rate limiter of generated servers costs: memory after a
//! flood of one million distinct keys (with the key cap of generated
//! servers, and without it for comparison), what `retain_recent` gives
//! back, the time of one throttle check, and the per-request cost of the
//! throttle layer in the full middleware stack. Figures only, never a timed
//! assertion.
//!
//! Run with `bench/limiter.sh` (or `cargo bench --bench limiter`).

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::handler::Handler as _;
use axum::routing::get;
use governor::clock::FakeRelativeClock;
use palisade_runtime::access::{Grants, OwnerClaim};
use palisade_runtime::auth::{Algorithm, AuthSettings, KeySource, Verifier, mint};
use palisade_runtime::server::{App, Operation, Settings, connect, router};
use palisade_runtime::throttle::{Check, DEFAULT_MAX_KEYS, Decision, Limiter, MemoryLimiter, Rate};
use tower::ServiceExt as _;

/// Resident set size in bytes (Linux). Each flood runs in a fresh process,
/// so growth is the limiter's; freed memory is not always given back to
/// the system, so a figure after `retain_recent` is an upper bound.
fn rss() -> isize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: isize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    kb * 1024
}

fn mib(bytes: isize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The key the server uses for an anonymous client.
fn anon_key(i: u32) -> String {
    format!("anon:default:{}", Ipv4Addr::from(0x0b00_0000 + i))
}

const FLOOD: u32 = 1_000_000;

/// One million distinct client addresses against the anonymous rate.
fn flood(max_keys: usize, label: &str) {
    let clock = FakeRelativeClock::default();
    let rate = Rate::new(30, 60);
    let before = rss();
    let limiter = MemoryLimiter::with_clock(max_keys, clock.clone());
    let started = Instant::now();
    let mut allowed = 0u32;
    for i in 0..FLOOD {
        allowed += u32::from(limiter.check(&anon_key(i), rate).allowed);
    }
    let took = started.elapsed();
    let held = rss() - before;
    let keys = limiter.len();
    println!("{label}");
    println!(
        "  {FLOOD} distinct keys in {:.2} s ({:.0} ns per check, key formatting included)",
        took.as_secs_f64(),
        took.as_nanos() as f64 / f64::from(FLOOD)
    );
    println!(
        "  stored keys {keys}, allowed {allowed}, refused {}",
        FLOOD - allowed
    );
    println!(
        "  resident set grew by {} ({:.0} bytes per stored key)",
        mib(held),
        held as f64 / keys.max(1) as f64
    );
    // Every key is idle once a full window has passed.
    clock.advance(Duration::from_secs(62));
    let started = Instant::now();
    limiter.retain_recent();
    println!(
        "  after one window idle, retain_recent: {} keys, resident set {} above the start ({:.0} ms)",
        limiter.len(),
        mib(rss() - before),
        started.elapsed().as_secs_f64() * 1000.0
    );
    drop(limiter);
}

fn per_check(label: &str, n: u32, mut f: impl FnMut(u32) -> Decision) {
    let started = Instant::now();
    for i in 0..n {
        black_box(f(i));
    }
    let ns = started.elapsed().as_nanos() as f64 / f64::from(n);
    println!("  {label:<46} {ns:>8.0} ns");
}

/// The cost of one `Limiter::check` with the real clock of the server.
fn checks() {
    println!("one throttle check (MemoryLimiter, std clock, 100,000 key cap)");
    let n = 1_000_000;
    let roomy = Rate::new(u32::MAX, 1);
    let limiter = MemoryLimiter::new(DEFAULT_MAX_KEYS);
    per_check("same key, allowed", n, |_| {
        limiter.check("user:default:alice", roomy)
    });
    let tight = Rate::new(1, 3600);
    limiter.check("user:default:bob", tight);
    per_check("same key, refused", n, |_| {
        limiter.check("user:default:bob", tight)
    });
    let keys: Vec<String> = (0..50_000).map(anon_key).collect();
    let limiter = MemoryLimiter::new(DEFAULT_MAX_KEYS);
    per_check("50,000 new keys (first request each)", 50_000, |i| {
        limiter.check(&keys[i as usize], roomy)
    });
    per_check("50,000 known keys, round robin", n, |i| {
        limiter.check(&keys[(i % 50_000) as usize], roomy)
    });
    let full = MemoryLimiter::new(1000);
    for k in &keys[..1000] {
        full.check(k, tight);
    }
    per_check(
        "new key while the store is full (evicts one)",
        100_000,
        |i| full.check(&keys[1000 + (i % 40_000) as usize], tight),
    );
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let shared = Arc::new(MemoryLimiter::new(DEFAULT_MAX_KEYS));
    let started = Instant::now();
    let per_thread = 500_000u32;
    std::thread::scope(|s| {
        for t in 0..threads {
            let shared = shared.clone();
            let keys = &keys;
            s.spawn(move || {
                for i in 0..per_thread {
                    let k = &keys[(i as usize * threads + t) % keys.len()];
                    black_box(shared.check(k, roomy));
                }
            });
        }
    });
    let total = per_thread as usize * threads;
    println!(
        "  {:<46} {:>8.0} ns",
        format!("{threads} threads, known keys (wall time per check)"),
        started.elapsed().as_nanos() as f64 / total as f64
    );
}

/// Lets everything through: the stack without throttling, for comparison.
struct Unlimited;

impl Limiter for Unlimited {
    fn check<'a>(&'a self, _: &'a str, rate: Rate) -> Check<'a> {
        Box::pin(std::future::ready(Ok(Decision {
            allowed: true,
            limit: rate.count,
            remaining: rate.count,
            reset_seconds: 0,
            retry_after_seconds: 0,
        })))
    }
}

const SECRET: &[u8] = b"a-benchmark-secret-of-at-least-32-bytes!";

static SETTINGS: Settings = Settings {
    service: "bench",
    default_database_url: "sqlite::memory:",
    auth: AuthSettings {
        algorithms: &[Algorithm::HS256],
        keys: KeySource::Secret("JWT_SECRET"),
        issuer: None,
        audience: None,
        leeway_seconds: 0,
        user_claim: "sub",
        roles_claim: None,
        tenant_claims: &[],
    },
    anon_rate: Rate::new(30, 60),
    user_rate: Rate::new(u32::MAX, 1),
    trust_proxy_hops: 0,
    redis: None,
    max_body_bytes: 65_536,
    request_timeout_seconds: 10,
    header_read_timeout_seconds: 10,
    idle_timeout_seconds: 75,
    max_connections: 4096,
    cors: None,
    engines: &[palisade_runtime::db::Engine::Sqlite],
};

static GET_ITEM: Operation = Operation::new("item.get", Grants::OWNER, Some(OwnerClaim::User))
    .throttle("default", Rate::new(u32::MAX, 1), Rate::new(30, 60));

async fn item() -> &'static str {
    "ok"
}

async fn stack(limiter: Arc<dyn Limiter>, users: &[String], n: usize) -> Duration {
    let app = App {
        db: connect("sqlite::memory:").await.unwrap(),
        verifier: Arc::new(Verifier::new(SETTINGS.auth, SECRET).unwrap()),
        limiter,
        settings: &SETTINGS,
        hooks: Arc::new(()),
    };
    let routes = Router::new().route("/items/{id}", get(item.layer(app.guard(&GET_ITEM))));
    let router = router(app, routes).unwrap();
    let request = |i: usize| {
        let mut r = Request::builder()
            .uri("/items/1")
            .header("authorization", &users[i % users.len()])
            .body(Body::empty())
            .unwrap();
        r.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))));
        r
    };
    for i in 0..1000 {
        router.clone().oneshot(request(i)).await.unwrap();
    }
    let started = Instant::now();
    for i in 0..n {
        let res = router.clone().oneshot(request(i)).await.unwrap();
        assert_eq!(res.status(), 200);
    }
    started.elapsed()
}

/// The throttle layer in the real middleware stack (envelope, JWT
/// authentication, guard, handler), with and without the limiter.
fn layer() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let users: Vec<String> = (0..1000)
        .map(|i| {
            let token = mint(&SETTINGS.auth, SECRET, &format!("user-{i}"), &[], &[], 3600).unwrap();
            format!("Bearer {token}")
        })
        .collect();
    let n = 100_000;
    let (with, without) = runtime.block_on(async {
        let mut with = Vec::new();
        let mut without = Vec::new();
        for _ in 0..3 {
            with.push(stack(Arc::new(MemoryLimiter::new(DEFAULT_MAX_KEYS)), &users, n).await);
            without.push(stack(Arc::new(Unlimited), &users, n).await);
        }
        with.sort();
        without.sort();
        (with[1], without[1])
    });
    let per = |d: Duration| d.as_nanos() as f64 / n as f64;
    println!("a request through the whole stack (1,000 users, HS256, median of 3 x {n})");
    println!("  {:<46} {:>8.0} ns", "with MemoryLimiter", per(with));
    println!(
        "  {:<46} {:>8.0} ns",
        "with a limiter that allows everything",
        per(without)
    );
    println!(
        "  {:<46} {:>8.0} ns",
        "throttle layer cost per request",
        per(with) - per(without)
    );
}

fn main() {
    // Each part runs in a process of its own, so that resident memory
    // measures one flood at a time.
    let part = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    match part.as_deref() {
        Some("capped") => flood(
            DEFAULT_MAX_KEYS,
            "flood, key cap of generated servers (100,000 per class and rate), anonymous rate 30/minute",
        ),
        Some("uncapped") => flood(usize::MAX, "flood, no key cap (for comparison)"),
        Some("checks") => checks(),
        Some("layer") => layer(),
        _ => {
            println!(
                "palisade-runtime rate limiter; {} CPU(s)\n",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            );
            let me = std::env::current_exe().unwrap();
            for part in ["capped", "uncapped", "checks", "layer"] {
                let out = std::process::Command::new(&me).arg(part).output().unwrap();
                print!("{}", String::from_utf8_lossy(&out.stdout));
                eprint!("{}", String::from_utf8_lossy(&out.stderr));
                assert!(out.status.success(), "part {part} failed");
                println!();
            }
        }
    }
}
