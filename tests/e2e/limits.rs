//! Throttling, CORS and resource limits of generated servers, attacked
//! over HTTP (items 7, 8 and 9 of the contract's section 3).
//!
//! Every case is derived from the model (`throttle`, `limits`, `cors` and
//! each operation's rate and bucket), so a new example is covered without
//! new code. Each case uses users and source addresses nobody used before,
//! so it never shares a bucket with another case. Bursts check GCRA's
//! promise exactly: the first `count` requests of a fresh bucket all pass,
//! and no more pass before the first 429 than the refill during the burst
//! allows (`count + elapsed / period`). Every response, whatever its
//! status (200, 401, 413, 422, 429, preflights, ...), must carry the
//! security headers and must not be a 5xx.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use palisade::model::{ColumnType, OperationKind, Resource, Scope};
use palisade::spec::{Origin, Rate, Scheme};
use serde_json::{Map, Value, json};

use super::data;
use super::http::{Request, Response, fresh_source};
use super::server::Server;
use super::tokens::Principal;

/// Runs every limit, throttle and CORS case against `server`.
pub fn run(server: &Server, tally: &mut BTreeMap<&'static str, usize>) {
    let mut t = Limits {
        server,
        tally,
        seen: Mutex::new(BTreeSet::new()),
        bursts: Mutex::new(Vec::new()),
        users: 0,
    };
    // The request timeout takes seconds: it runs while the rest goes on.
    let slow = t.slow_body_request();
    // So do the connection timeouts: hundreds of unfinished heads.
    let heads = t.slow_heads();
    let mut times = Vec::new();
    for name in ["cors", "bodies", "pages", "queries", "throttling"] {
        let started = Instant::now();
        match name {
            "cors" => t.cors(),
            "bodies" => t.bodies(),
            "pages" => t.pages(),
            "queries" => t.queries(),
            _ => t.throttling(),
        }
        times.push(format!("{name} {:.1} s", started.elapsed().as_secs_f64()));
    }
    println!(
        "{}: limit cases took {}",
        server.model.name,
        times.join(", ")
    );
    for line in t.bursts.lock().unwrap().iter() {
        println!("  {line}");
    }
    if let Some(slow) = slow {
        let (r, elapsed, timeout) = slow.join().expect("the slow-body client");
        assert_eq!(
            r.status,
            408,
            "a body that never arrives ends with 408 after {timeout} s: {}",
            r.text()
        );
        assert!(
            elapsed < Duration::from_secs(timeout + 5),
            "the request timeout of {timeout} s is enforced (took {elapsed:?})"
        );
        check_hygiene(&r, "408 request timeout");
        t.seen.lock().unwrap().insert(r.status);
        t.hit("limits", &["RES-03", "RES-04"]);
    }
    let report = heads
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
    println!("  {report}");
    t.pass("limits");
    let seen = t.seen.lock().unwrap().clone();
    for status in [200, 401, 413, 422, 429] {
        assert!(
            seen.contains(&status),
            "the limit cases produced a {status} (security headers checked on every status): {seen:?}"
        );
    }
    t.pass("limits");
}

struct Limits<'a> {
    server: &'a Server,
    tally: &'a mut BTreeMap<&'static str, usize>,
    /// Every status answered, each checked for the security headers.
    seen: Mutex<BTreeSet<u16>>,
    /// What each burst saw, printed at the end.
    bursts: Mutex<Vec<String>>,
    users: usize,
}

/// A GCRA rate as `(count, window in seconds)`.
fn quota(rate: Rate) -> (u32, u32) {
    (rate.count, rate.per.seconds())
}

/// The time to earn back one request.
fn period(rate: Rate) -> Duration {
    let (count, window) = quota(rate);
    Duration::from_secs_f64(f64::from(window) / f64::from(count.max(1)))
}

fn is_problem(r: &Response) -> bool {
    r.header("content-type") == Some("application/problem+json")
}

/// Every value of a header that may be repeated, joined.
fn all(r: &Response, name: &str) -> String {
    r.headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn cors_headers(r: &Response) -> Vec<String> {
    r.headers
        .iter()
        .filter(|(n, _)| n.starts_with("access-control-"))
        .map(|(n, v)| format!("{n}: {v}"))
        .collect()
}

fn varies_on_origin(r: &Response) -> bool {
    all(r, "vary")
        .split(',')
        .any(|v| v.trim().eq_ignore_ascii_case("origin"))
}

/// The comma-separated list of a header, lower-cased.
fn list(r: &Response, name: &str) -> BTreeSet<String> {
    all(r, name)
        .split(',')
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

/// No 5xx, and the security headers, on every answer.
fn check_hygiene(r: &Response, what: &str) {
    assert!(r.status < 500, "{what}: {} {}", r.status, r.text());
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}: nosniff on a {}",
        r.status
    );
    assert!(
        r.header("cache-control")
            .is_some_and(|v| v.contains("no-store")),
        "{what}: Cache-Control: no-store on a {}",
        r.status
    );
    assert!(
        r.header("server").is_none(),
        "{what}: no Server header on a {}",
        r.status
    );
    if r.status >= 400 {
        assert!(is_problem(r), "{what}: a {} is problem+json", r.status);
        super::catalogue::no_detail(r, what);
    }
}

/// The parameters of a `"name";a=1;b=2` structured field item.
fn params(v: &str) -> (String, BTreeMap<String, String>) {
    let mut parts = v.split(';');
    let name = parts
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"')
        .to_string();
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    (name, params)
}

impl<'a> Limits<'a> {
    fn pass(&mut self, category: &'static str) {
        *self.tally.entry(category).or_default() += 1;
    }

    /// A passed check that exercises the catalogue cases `ids`.
    fn hit(&mut self, category: &'static str, ids: &[&'static str]) {
        self.pass(category);
        super::attacks::hit(ids);
    }

    fn send(&self, req: Request<'_>) -> Response {
        let what = format!("{} {}", req.method, req.path);
        let r = req.send(self.server.addr);
        check_hygiene(&r, &what);
        self.seen.lock().unwrap().insert(r.status);
        r
    }

    /// A user (in a tenant of its own) that no other case has used.
    fn fresh(&mut self, roles: &[&str]) -> Principal {
        self.users += 1;
        let id = uuid::Uuid::new_v4().simple().to_string();
        Principal::new(
            &format!("limits-{}-{id}", self.users),
            &format!("limits-tenant-{id}"),
            roles,
        )
    }

    fn token(&self, p: &Principal) -> String {
        self.server.keys.token(p)
    }

    /// `n` distinct valid tokens of one user (`jti` differs): one bucket.
    fn tokens(&self, p: &Principal, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                let mut claims = self.server.keys.claims(p);
                claims.insert("jti".into(), json!(format!("limits-{i}")));
                self.server.keys.sign(&claims)
            })
            .collect()
    }

    /// Every operation with its resource.
    fn operations(&self) -> Vec<(Resource, palisade::model::Operation)> {
        self.server
            .model
            .resources
            .iter()
            .flat_map(|r| r.operations.iter().map(move |o| (r.clone(), o.clone())))
            .collect()
    }

    /// Operations in the shared `default` bucket, reads first.
    fn default_ops(&self) -> Vec<(Resource, palisade::model::Operation)> {
        let mut ops: Vec<_> = self
            .operations()
            .into_iter()
            .filter(|(_, o)| !o.rate.overridden)
            .collect();
        ops.sort_by_key(|(_, o)| match o.kind {
            OperationKind::Get => 0,
            OperationKind::List => 1,
            OperationKind::Delete => 2,
            OperationKind::Update => 3,
            OperationKind::Create => 4,
        });
        ops
    }

    /// A principal allowed to run every one of `kinds` on `resource`.
    fn principal_for(&mut self, resource: &Resource, kinds: &[OperationKind]) -> Option<Principal> {
        let ops: Vec<_> = kinds
            .iter()
            .map(|k| resource.operation(*k))
            .collect::<Option<_>>()?;
        if resource.scope != Scope::Unowned && ops.iter().all(|o| o.grants.owner) {
            return Some(self.fresh(&[]));
        }
        let role = self.server.model.roles.iter().find(|r| {
            ops.iter()
                .all(|o| o.grants.roles.contains(r) || (o.grants.public && o.kind.is_read()))
        })?;
        let role = role.clone();
        Some(self.fresh(&[&role]))
    }

    /// The method, path and body of a request that runs `op` without
    /// changing anything (a missing id, or a body with an unknown field).
    fn harmless(op: &palisade::model::Operation) -> (&'static str, String, Option<Value>) {
        let path = op.path.replace("{id}", &uuid::Uuid::new_v4().to_string());
        let body = matches!(op.kind, OperationKind::Create | OperationKind::Update)
            .then(|| json!({ "zz_limits_unknown": 1 }));
        (op.method.as_str(), path, body)
    }

    // ------------------------------------------------------------------
    // Throttling
    // ------------------------------------------------------------------

    /// Sends `count` requests made by `make` (the first sequentially, to
    /// read its headers, the rest four at a time), each of which must pass
    /// `check`, then more until the first 429, which is returned. GCRA
    /// lets at most `count + elapsed / period` requests through.
    fn burst<'p>(
        &self,
        what: &str,
        rate: Rate,
        bucket: &str,
        make: &(dyn Fn(usize) -> Request<'p> + Sync),
        check: &(dyn Fn(&Response) + Sync),
    ) -> Response {
        let (count, window) = quota(rate);
        let started = Instant::now();
        let first = self.send(make(0));
        assert_ne!(
            first.status, 429,
            "{what}: the first request of a fresh bucket"
        );
        check(&first);
        // An allowed answer carries the caller's own remaining quota.
        assert_eq!(
            first.header("ratelimit-policy"),
            Some(format!("\"{bucket}\";q={count};w={window}").as_str()),
            "{what}: RateLimit-Policy"
        );
        let (name, p) = params(first.header("ratelimit").unwrap_or(""));
        assert_eq!(name, bucket, "{what}: RateLimit names the bucket");
        assert_eq!(
            p.get("r").map(String::as_str),
            Some((count - 1).to_string().as_str()),
            "{what}: RateLimit remaining after the first request of {count}"
        );
        let t: u64 = p["t"].parse().unwrap();
        assert!(
            t <= period(rate).as_secs_f64().ceil() as u64,
            "{what}: t={t} is at most one period"
        );

        let next = AtomicUsize::new(1);
        let refused = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= count as usize {
                            return;
                        }
                        let r = self.send(make(i));
                        if r.status == 429 {
                            refused.fetch_add(1, Ordering::SeqCst);
                        } else {
                            check(&r);
                        }
                    }
                });
            }
        });
        assert_eq!(
            refused.load(Ordering::SeqCst),
            0,
            "{what}: a request within the burst of {count} was refused"
        );
        let mut extra = 0u32;
        loop {
            let r = self.send(make(count as usize + extra as usize));
            let refill = (started.elapsed().as_secs_f64() / period(rate).as_secs_f64()) as u32;
            if r.status == 429 {
                assert!(
                    extra <= refill,
                    "{what}: {} requests passed, but the burst is {count} and {:?} refill only {refill}",
                    count + extra,
                    started.elapsed()
                );
                self.throttled(&r, what, rate, bucket);
                self.bursts.lock().unwrap().push(format!(
                    "{what}: {count} + {extra} passed in {:.1} s, then 429 with Retry-After {}",
                    started.elapsed().as_secs_f64(),
                    r.header("retry-after").unwrap_or("?")
                ));
                return r;
            }
            check(&r);
            extra += 1;
            assert!(
                extra <= refill + 1,
                "{what}: {} requests passed without a 429 (burst {count}, {:?} refill {refill})",
                count + extra,
                started.elapsed()
            );
        }
    }

    /// A 429 as the contract wants it.
    fn throttled(&self, r: &Response, what: &str, rate: Rate, bucket: &str) {
        let (count, window) = quota(rate);
        assert_eq!(r.status, 429, "{what}");
        assert!(is_problem(r), "{what}: a 429 is problem+json");
        // A HEAD answer has the headers of the GET's, and no body.
        if !r.head {
            assert_eq!(r.json()["status"], 429, "{what}: problem status");
        }
        let retry: u64 = r
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{what}: Retry-After in seconds: {:?}", r.headers));
        let most = period(rate).as_secs_f64().ceil() as u64;
        assert!(
            (1..=most.max(1)).contains(&retry),
            "{what}: Retry-After {retry} within one period ({most} s)"
        );
        assert_eq!(
            r.header("ratelimit-policy"),
            Some(format!("\"{bucket}\";q={count};w={window}").as_str()),
            "{what}: RateLimit-Policy on the 429"
        );
        let (name, p) = params(r.header("ratelimit").unwrap_or(""));
        assert_eq!(name, bucket, "{what}: RateLimit on the 429");
        assert_eq!(p.get("r").map(String::as_str), Some("0"), "{what}: r=0");
        assert_eq!(
            p.get("t").and_then(|t| t.parse::<u64>().ok()),
            Some(retry),
            "{what}: t equals Retry-After"
        );
    }

    /// Waits `Retry-After` and proves it was enough.
    fn honour(&mut self, what: &str, r: &Response, again: Request<'_>) {
        let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
        std::thread::sleep(Duration::from_secs(retry));
        let r = self.send(again);
        assert_ne!(
            r.status, 429,
            "{what}: a request after waiting Retry-After ({retry} s) passes"
        );
        self.hit("throttling", &["RL-02"]);
    }

    fn throttling(&mut self) {
        let model = &self.server.model;
        let (user, anon) = (model.throttle.user, model.throttle.anon);
        // The bucket whose Retry-After is honoured: the shortest period,
        // if short enough to wait for.
        let mut periods = vec![
            (period(user), "user".to_string()),
            (period(anon), "anon".to_string()),
        ];
        for (_, op) in self.operations() {
            if op.rate.overridden {
                periods.push((period(op.rate.user), op.rate.bucket.clone()));
            }
        }
        periods.sort();
        let wait = periods
            .first()
            .filter(|(p, _)| *p <= Duration::from_secs(10))
            .map(|(_, b)| b.clone())
            .unwrap_or_default();

        self.user_burst(wait == "user");
        for (resource, op) in self.operations() {
            if op.rate.overridden {
                self.override_burst(&resource, &op, wait == op.rate.bucket);
            }
        }
        self.anonymous_burst(wait == "anon");
        self.failed_authentication();
        self.health_bucket();
    }

    /// `/health` has a bucket of its own per address (generous, so load
    /// balancers are not refused because of the address's other calls),
    /// and a flood of it is bounded too.
    fn health_bucket(&mut self) {
        let source = fresh_source();
        let started = Instant::now();
        let mut passed = 0u32;
        let refused = loop {
            let r = self.send(Request::new("GET", "/health").from(source));
            if r.status == 429 {
                break r;
            }
            assert_eq!(r.status, 200, "/health: {}", r.text());
            passed += 1;
            // 600 at once, then one more every 100 ms.
            let refill = (started.elapsed().as_secs_f64() * 10.0).ceil() as u32;
            assert!(
                passed <= 600 + refill + 1,
                "{passed} calls of /health from one address without a 429"
            );
        };
        assert!(passed >= 600, "/health refused after {passed} calls");
        assert_eq!(
            refused.header("ratelimit-policy"),
            Some("\"health\";q=600;w=60")
        );
        let r = self.send(Request::new("GET", "/health").from(fresh_source()));
        assert_eq!(r.status, 200, "another address");
        self.pass("throttling");
    }

    /// One user beyond `throttle.user` on the shared bucket; other users
    /// and the other operations' own buckets are not affected.
    fn user_burst(&mut self, honour: bool) {
        let server = self.server;
        let ops = self.default_ops();
        let Some((_, op)) = ops.first().cloned() else {
            return;
        };
        let user = server.model.throttle.user;
        assert_eq!(
            op.rate.user, user,
            "a non-overridden operation has the service rate"
        );
        assert_eq!(op.rate.bucket, "default");
        let u = self.fresh(&[]);
        // Distinct tokens of one user share the user's bucket.
        let tokens = self.tokens(&u, 16);
        let (method, path, body) = Self::harmless(&op);
        let make = |i: usize| {
            with_body(
                Request::new(method, &path)
                    .bearer(&tokens[i % tokens.len()])
                    .from(fresh_source()),
                &body,
            )
        };
        let what = format!("user burst on {method} {}", op.path);
        let refused = self.burst(&what, user, "default", &make, &|_| {});
        self.hit("throttling", &["RL-01", "RL-07", "RL-11", "RL-13"]);
        if honour {
            self.honour(&what, &refused, make(0));
        }
        // The whole default bucket is spent, not just this route: another
        // route answers 429, or (if a request was earned back meanwhile)
        // shows the same empty bucket.
        if let Some((_, other)) = ops
            .iter()
            .find(|(_, o)| o.path != op.path || o.method != op.method)
        {
            let (m, p, b) = Self::harmless(other);
            let r = self.send(with_body(
                Request::new(m, &p).bearer(&tokens[0]).from(fresh_source()),
                &b,
            ));
            let what = format!("{m} {} shares the default bucket", other.path);
            if r.status == 429 {
                self.throttled(&r, &what, user, "default");
            } else {
                let (name, p) = params(r.header("ratelimit").unwrap_or(""));
                assert_eq!(
                    (name.as_str(), p.get("r").map(String::as_str)),
                    ("default", Some("0")),
                    "{what}"
                );
            }
            self.pass("throttling");
        }
        // Operations with their own rate have their own bucket.
        if let Some((_, own)) = self
            .operations()
            .into_iter()
            .find(|(_, o)| o.rate.overridden)
        {
            let (m, p, b) = Self::harmless(&own);
            let r = self.send(with_body(
                Request::new(m, &p).bearer(&tokens[1]).from(fresh_source()),
                &b,
            ));
            assert_ne!(r.status, 429, "{m} {} has its own bucket", own.path);
            assert_eq!(
                params(r.header("ratelimit").unwrap_or("")).0,
                own.rate.bucket,
                "its RateLimit names its own bucket"
            );
            self.pass("throttling");
        }
        // Another user is unaffected, and its headers show its own quota.
        let v = self.fresh(&[]);
        let r = self.send(with_body(
            Request::new(method, &path)
                .bearer(&self.token(&v))
                .from(fresh_source()),
            &body,
        ));
        assert_ne!(r.status, 429, "another user is not throttled");
        let (_, p) = params(r.header("ratelimit").unwrap_or(""));
        assert_eq!(
            p.get("r"),
            Some(&(user.count - 1).to_string()),
            "another user's RateLimit shows its own bucket, not the throttled one"
        );
        self.hit("throttling", &["RL-03"]);
    }

    /// A per-operation override: 429 after its own count, in its own
    /// bucket; the user's default bucket still works.
    fn override_burst(
        &mut self,
        resource: &Resource,
        op: &palisade::model::Operation,
        honour: bool,
    ) {
        let server = self.server;
        let u = self.fresh(&[]);
        let token = self.token(&u);
        let (method, path, body) = Self::harmless(op);
        let make = |_: usize| {
            with_body(
                Request::new(method, &path)
                    .bearer(&token)
                    .from(fresh_source()),
                &body,
            )
        };
        let what = format!(
            "{}.{} override ({})",
            resource.name,
            op.kind.name(),
            op.rate.user
        );
        let refused = self.burst(&what, op.rate.user, &op.rate.bucket, &make, &|_| {});
        let ids: &[&'static str] = if op.kind == OperationKind::Create {
            &["RL-01", "RL-13", "RES-08"]
        } else {
            &["RL-01", "RL-13"]
        };
        self.hit("throttling", ids);
        if honour {
            self.honour(&what, &refused, make(0));
        }
        // The same user's default bucket is untouched.
        if let Some((_, other)) = self.default_ops().first() {
            let (m, p, b) = Self::harmless(other);
            let r = self.send(with_body(
                Request::new(m, &p).bearer(&token).from(fresh_source()),
                &b,
            ));
            assert_ne!(
                r.status, 429,
                "{what}: the user's default bucket still works"
            );
            let (name, p) = params(r.header("ratelimit").unwrap_or(""));
            assert_eq!(
                (name.as_str(), p.get("r").cloned()),
                (
                    "default",
                    Some((server.model.throttle.user.count - 1).to_string())
                ),
                "{what}: the default bucket is full"
            );
            self.pass("throttling");
        }
        // Another user is unaffected.
        let v = self.fresh(&[]);
        let r = self.send(with_body(
            Request::new(method, &path)
                .bearer(&self.token(&v))
                .from(fresh_source()),
            &body,
        ));
        assert_ne!(r.status, 429, "{what}: another user");
        self.hit("throttling", &["RL-03"]);
        // A public operation with its own rate counts anonymous callers
        // per address, in its own bucket, at that rate.
        if op.grants.public {
            let what = format!("anonymous {what}");
            self.anonymous(&what, op, op.rate.anon, &op.rate.bucket, false);
        }
    }

    /// Anonymous requests from one client, with every client-IP header
    /// rotating, share one bucket.
    fn anonymous_burst(&mut self, honour: bool) {
        let Some((_, op)) = self.default_ops().first().cloned() else {
            return;
        };
        let anon = self.server.model.throttle.anon;
        assert_eq!(op.rate.anon, anon);
        let what = format!("anonymous {} {}", op.method.as_str(), op.path);
        self.anonymous(&what, &op, anon, "default", honour);
    }

    /// A unique address standing for a client behind the trusted proxies.
    fn client_address() -> String {
        let b = *uuid::Uuid::new_v4().as_bytes();
        format!("100.{}.{}.{}", 64 + b[0] % 64, b[1], b[2])
    }

    fn anonymous(
        &mut self,
        what: &str,
        op: &palisade::model::Operation,
        rate: Rate,
        bucket: &str,
        honour: bool,
    ) {
        let hops = usize::from(self.server.model.throttle.trust_proxy_hops);
        let source = fresh_source();
        // Behind `hops` proxies the client is the entry `hops` from the
        // right; the proxies after the first append the addresses after it.
        let client = Self::client_address();
        let proxies: Vec<String> = (1..hops).map(|i| format!("10.255.0.{i}")).collect();
        let (method, path, _) = Self::harmless(op);
        // A query string never makes another bucket (item routes ignore it).
        let with_query = if op.kind.is_read() && op.path.contains("{id}") {
            format!("{path}?cb=zz")
        } else {
            path.clone()
        };
        let public = op.grants.public;
        let forwarded = |client: &str, i: usize| {
            let spoof = format!("198.18.{}.{}", (i / 250) % 250, i % 250 + 1);
            let xff = if hops == 0 {
                spoof.clone()
            } else {
                let mut v = vec![spoof.clone(), client.to_string()];
                v.extend(proxies.iter().cloned());
                v.join(", ")
            };
            // HEAD is GET for the router, and counts the same.
            let m = if method == "GET" && i % 3 == 2 {
                "HEAD"
            } else {
                method
            };
            let p = if i % 2 == 1 { &with_query } else { &path };
            Request::new(m, p)
                .header("x-forwarded-for", &xff)
                .header("x-real-ip", &spoof)
                .header("forwarded", &format!("for={spoof}"))
                .header("true-client-ip", &spoof)
                .header("cf-connecting-ip", &spoof)
                .from(source)
        };
        let make = |i: usize| forwarded(&client, i);
        let what = if hops == 0 {
            format!("{what} (client address headers ignored, rotating)")
        } else {
            format!("{what} ({hops} trusted hop(s), entries left of the client rotating)")
        };
        let check = |r: &Response| {
            if public {
                assert_ne!(r.status, 401, "{what}: a public operation");
            } else {
                assert_eq!(r.status, 401, "{what}: {}", r.text());
            }
        };
        let refused = self.burst(&what, rate, bucket, &make, &check);
        let mut ids = vec!["RL-01", "RL-09", "RL-10", "RL-13"];
        ids.push(if hops == 0 { "RL-05" } else { "RL-06" });
        if !public {
            ids.push("RL-04");
        }
        self.hit("throttling", &ids);
        if honour {
            self.honour(&what, &refused, make(0));
        }
        // Another client has a bucket of its own.
        let r = if hops == 0 {
            self.send(Request::new(method, &path).from(fresh_source()))
        } else {
            // Same proxy, another client: the hop entry is the key.
            self.send(forwarded(&Self::client_address(), 0))
        };
        assert_ne!(r.status, 429, "{what}: another client is not throttled");
        self.hit("throttling", &[if hops == 0 { "RL-05" } else { "RL-06" }]);
    }

    /// Failed authentication counts against the client's anonymous
    /// bucket: token guessing is throttled, valid tokens elsewhere work.
    fn failed_authentication(&mut self) {
        let Some((_, op)) = self.default_ops().first().cloned() else {
            return;
        };
        let anon = self.server.model.throttle.anon;
        let victim = self.fresh(&[]);
        let forged: Vec<String> = self
            .server
            .keys
            .attacks(&victim)
            .into_iter()
            .map(|(_, _, t)| t)
            .collect();
        let source = fresh_source();
        let (method, path, body) = Self::harmless(&op);
        let make = |i: usize| {
            with_body(
                Request::new(method, &path)
                    .bearer(&forged[i % forged.len()])
                    .from(source),
                &body,
            )
        };
        // A refused token carries no RateLimit fields on its 401 (it has
        // no bucket of its own), so this burst is counted here.
        let started = Instant::now();
        let (count, _) = quota(anon);
        let mut passed = 0u32;
        let refused = loop {
            let r = self.send(make(passed as usize));
            if r.status == 429 {
                break r;
            }
            assert_eq!(r.status, 401, "a forged token: {}", r.text());
            assert!(
                r.header("www-authenticate")
                    .is_some_and(|v| v.starts_with("Bearer")),
                "a forged token: WWW-Authenticate"
            );
            passed += 1;
            let refill = (started.elapsed().as_secs_f64() / period(anon).as_secs_f64()) as u32;
            assert!(
                passed <= count + refill,
                "{passed} forged tokens from one address without a 429 (anonymous rate {anon})"
            );
        };
        assert!(
            passed >= count,
            "forged tokens: 429 after {passed}, the anonymous rate is {anon}"
        );
        self.throttled(&refused, "forged tokens from one address", anon, "default");
        self.bursts.lock().unwrap().push(format!(
            "forged tokens from one address: {passed} answered 401 in {:.1} s, then 429 with Retry-After {}",
            started.elapsed().as_secs_f64(),
            refused.header("retry-after").unwrap_or("?")
        ));
        self.hit("throttling", &["RL-04"]);
        // Nor one behind the same address (NAT, a proxy): a well-formed
        // token is always verified, whatever the address's bucket. The
        // address's `/health` has a bucket of its own.
        let neighbour = self.fresh(&[]);
        let r = self.send(with_body(
            Request::new(method, &path)
                .bearer(&self.token(&neighbour))
                .from(source),
            &body,
        ));
        assert!(
            r.status != 401 && r.status != 429,
            "a valid token from the guessing address still works: {} {}",
            r.status,
            r.text()
        );
        let r = self.send(Request::new("GET", "/health").from(source));
        assert_eq!(r.status, 200, "/health from the guessing address");
        self.cheap_refusals(method, &path, &body);
        // Guessing from that address does not lock out a valid user
        // calling from another one.
        let good = self.fresh(&[]);
        let r = self.send(with_body(
            Request::new(method, &path)
                .bearer(&self.token(&good))
                .from(fresh_source()),
            &body,
        ));
        assert!(
            r.status != 401 && r.status != 429,
            "a valid token from another address still works: {}",
            r.status
        );
        // The forged tokens named `victim`: no bucket of theirs was charged.
        let r = self.send(with_body(
            Request::new(method, &path)
                .bearer(&self.token(&victim))
                .from(fresh_source()),
            &body,
        ));
        let (_, p) = params(r.header("ratelimit").unwrap_or(""));
        assert_eq!(
            p.get("r"),
            Some(&(op.rate.user.count - 1).to_string()),
            "forged tokens charged the user they name"
        );
        self.hit("throttling", &["RL-08"]);
        self.pass("throttling");
    }

    /// Tokens that fail a check needing no key (expired, not yet valid,
    /// no `exp`, another kind of token), here with forged signatures, are
    /// refused for that reason, before any signature work: the server's
    /// log (debug level) names the reason of each refusal, which would be
    /// the signature had it been checked first. A well-formed forgery is
    /// verified, and refused for its signature.
    fn cheap_refusals(&mut self, method: &str, path: &str, body: &Option<Value>) {
        let p = self.fresh(&[]);
        let mut cases = self.server.keys.cheap_forgeries(&p);
        cases.push((
            "well-formed, forged signature",
            self.server.keys.sign_raw(
                &self.server.keys.header_with(json!({})),
                &Value::Object(self.server.keys.claims(&p)),
                false,
            ),
            "InvalidSignature",
        ));
        for (what, token, reason) in cases {
            let id = format!("limits-cheap-{}", uuid::Uuid::new_v4().simple());
            let r = self.send(with_body(
                Request::new(method, path)
                    .bearer(&token)
                    .header("x-request-id", &id)
                    .from(fresh_source()),
                body,
            ));
            assert_eq!(r.status, 401, "{what}: {}", r.text());
            let line = logged(self.server, &id, "bearer token refused");
            assert!(
                line.contains(reason),
                "{what}: refused for {reason}, logged as {line}"
            );
            self.pass("throttling");
        }
    }

    // ------------------------------------------------------------------
    // CORS
    // ------------------------------------------------------------------

    /// Preflights have a bucket of their own per address: an address whose
    /// anonymous bucket is spent still gets its preflights answered, and a
    /// flood of preflights from one address is refused after 600.
    fn preflight_bucket(&mut self, paths: &BTreeSet<(String, &'static str)>, origin: &str) {
        let (path, method) = paths.iter().next().cloned().expect("a route");
        let source = fresh_source();
        let forged = Request::new("GET", &path).bearer("a.b.c").from(source);
        let mut spent = self.send(forged);
        for _ in 0..10_000 {
            if spent.status == 429 {
                break;
            }
            spent = self.send(Request::new("GET", &path).bearer("a.b.c").from(source));
        }
        assert_eq!(spent.status, 429, "the address's anonymous bucket is spent");
        let from = |s| {
            let mut r = preflight(&path, method, origin);
            r.source = s;
            r
        };
        let started = Instant::now();
        let mut passed = 0u32;
        let refused = loop {
            let r = self.send(from(source));
            if r.status == 429 {
                break r;
            }
            assert!(
                r.header("access-control-allow-origin").is_some(),
                "preflight {passed} from an address throttled otherwise: {} {}",
                r.status,
                r.text()
            );
            passed += 1;
            let refill = (started.elapsed().as_secs_f64() * 10.0).ceil() as u32;
            assert!(
                passed <= 600 + refill + 1,
                "{passed} preflights from one address without a 429"
            );
        };
        assert!(passed >= 600, "preflights refused after {passed}");
        assert_eq!(
            refused.header("ratelimit-policy"),
            Some("\"preflight\";q=600;w=60")
        );
        let r = self.send(from(fresh_source()));
        assert!(
            r.header("access-control-allow-origin").is_some(),
            "another address"
        );
        self.pass("cors");
    }

    /// Origins that must never be allowed, derived from an allowed one.
    fn tricks(origin: &Origin) -> Vec<String> {
        let Origin::Exact { scheme, host, port } = origin else {
            return Vec::new();
        };
        let s = match scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        let other = match scheme {
            Scheme::Http => "https",
            Scheme::Https => "http",
        };
        let p = port.map(|p| format!(":{p}")).unwrap_or_default();
        let other_port = match port {
            Some(p) => format!(":{}", p.wrapping_add(1).max(1)),
            None => ":8443".into(),
        };
        let mut v = vec![
            format!("{s}://{host}.evil.test{p}"),
            format!("{s}://evil{host}{p}"),
            format!("{s}://evil-{host}{p}"),
            format!("{s}://sub.{host}{p}"),
            format!("{other}://{host}{p}"),
            format!("{s}://{host}{other_port}"),
            format!("{s}://{}{p}", host.to_ascii_uppercase()),
            format!("{}://{host}{p}", s.to_ascii_uppercase()),
            format!("{s}://{host}{p}/"),
            format!("{s}://{host}{p}.evil.test"),
            format!("{s}://{host}puter{p}"),
        ];
        if port.is_some() {
            v.push(format!("{s}://{host}"));
        }
        v
    }

    fn cors(&mut self) {
        let server = self.server;
        let mut paths: BTreeSet<(String, &'static str)> = BTreeSet::new();
        for (_, op) in self.operations() {
            let (m, p, _) = Self::harmless(&op);
            paths.insert((p, m));
        }
        let reader = self.fresh(&[]);
        let token = self.token(&reader);
        let get_op = self
            .operations()
            .into_iter()
            .map(|(_, o)| o)
            .find(|o| o.method.as_str() == "GET");
        let get_path = get_op.as_ref().map(|o| Self::harmless(o).1);
        let Some(cors) = server.model.cors.clone() else {
            // No `cors`: no CORS header on any answer, preflights included.
            for (path, method) in &paths {
                for origin in ["https://app.example.com", "null", "http://localhost:3000"] {
                    let r = self.send(preflight(path, method, origin));
                    assert_eq!(
                        cors_headers(&r),
                        Vec::<String>::new(),
                        "no cors: preflight {path} from {origin}"
                    );
                    let r = self.send(
                        Request::new("GET", path)
                            .bearer(&token)
                            .header("origin", origin)
                            .from(fresh_source()),
                    );
                    assert_eq!(
                        cors_headers(&r),
                        Vec::<String>::new(),
                        "no cors: GET {path} from {origin}"
                    );
                    self.hit("cors", &["CORS-02", "CORS-03"]);
                }
            }
            return;
        };
        let methods: BTreeSet<String> = self
            .operations()
            .iter()
            .map(|(_, o)| o.method.as_str().to_ascii_lowercase())
            .collect();
        let headers: BTreeSet<String> = ["authorization", "content-type"].map(String::from).into();
        let max_age = cors.max_age_seconds.unwrap_or(0).to_string();
        let wildcard = cors.origins == [Origin::Any];
        let allowed: Vec<String> = if wildcard {
            vec!["https://anyone.example".into(), "null".into()]
        } else {
            cors.origins.iter().map(ToString::to_string).collect()
        };
        for origin in &allowed {
            let expected = if wildcard { "*" } else { origin.as_str() };
            let credentials = cors.credentials && !wildcard;
            for (path, method) in &paths {
                let what = format!("preflight {method} {path} from {origin}");
                let r = self.send(preflight(path, method, origin));
                assert_eq!(
                    r.header("access-control-allow-origin"),
                    Some(expected),
                    "{what}"
                );
                assert!(varies_on_origin(&r), "{what}: Vary: Origin");
                assert_eq!(
                    r.header("access-control-allow-credentials"),
                    credentials.then_some("true"),
                    "{what}: credentials only when the spec says so"
                );
                assert_eq!(
                    list(&r, "access-control-allow-methods"),
                    methods,
                    "{what}: the methods of granted routes"
                );
                assert_eq!(
                    list(&r, "access-control-allow-headers"),
                    headers,
                    "{what}: allowed headers"
                );
                assert_eq!(
                    r.header("access-control-max-age"),
                    Some(max_age.as_str()),
                    "{what}: max-age"
                );
                self.hit("cors", &["CORS-07"]);
            }
            // What the browser asks for beyond the rules is not granted.
            let (path, _) = paths.iter().next().unwrap();
            let r = self.send(
                Request::new("OPTIONS", path)
                    .header("origin", origin)
                    .header("access-control-request-method", "PROPFIND")
                    .header("access-control-request-headers", "x-evil, authorization")
                    .header("access-control-request-private-network", "true")
                    .from(fresh_source()),
            );
            assert!(
                !list(&r, "access-control-allow-methods").contains("propfind"),
                "PROPFIND is not allowed"
            );
            assert!(
                !list(&r, "access-control-allow-headers").contains("x-evil"),
                "request headers are not mirrored"
            );
            assert!(
                r.header("access-control-allow-private-network").is_none(),
                "no private network access"
            );
            self.hit("cors", &["CORS-08", "CORS-12"]);
            if let (Some(op), Some(path)) = (&get_op, &get_path) {
                let what = format!("GET {path} from {origin}");
                let r = self.send(actual(path, &token, Some(origin)));
                assert_eq!(
                    r.header("access-control-allow-origin"),
                    Some(expected),
                    "{what}"
                );
                assert!(varies_on_origin(&r), "{what}: Vary: Origin");
                assert_eq!(
                    r.header("access-control-allow-credentials"),
                    credentials.then_some("true"),
                    "{what}: credentials"
                );
                assert!(
                    r.header("access-control-allow-methods").is_none(),
                    "{what}: no preflight headers"
                );
                let needed: BTreeSet<String> = [
                    "location",
                    "retry-after",
                    "ratelimit",
                    "ratelimit-policy",
                    "x-request-id",
                ]
                .map(String::from)
                .into();
                assert!(
                    list(&r, "access-control-expose-headers").is_subset(&needed),
                    "{what}: only needed headers exposed, never `*`"
                );
                self.hit("cors", &["CORS-01", "CORS-12"]);
                // CORS is not authentication.
                if !op.grants.public {
                    let r = self.send(
                        Request::new("GET", path)
                            .header("origin", origin)
                            .from(fresh_source()),
                    );
                    assert_eq!(r.status, 401, "{what} without a token");
                    self.hit("cors", &["CORS-13"]);
                }
            }
        }
        self.preflight_bucket(&paths, &allowed[0]);
        if wildcard {
            return;
        }
        // Disallowed origins: no CORS header at all, only Vary.
        let mut evil: BTreeSet<String> = [
            "null",
            "https://evil.test",
            "http://evil.test",
            "file://",
            "https://app.example.com.evil.test",
            "https://evilapp.example.com",
        ]
        .map(String::from)
        .into();
        for o in &cors.origins {
            evil.extend(Self::tricks(o));
        }
        for o in &allowed {
            evil.remove(o);
        }
        let (first_path, first_method) = paths.iter().next().unwrap().clone();
        for origin in &evil {
            let what = format!("preflight from {origin}");
            let r = self.send(preflight(&first_path, first_method, origin));
            assert_eq!(
                cors_headers(&r),
                Vec::<String>::new(),
                "{what}: no Access-Control-* header"
            );
            assert!(varies_on_origin(&r), "{what}: Vary: Origin");
            if let Some(path) = &get_path {
                let what = format!("GET {path} from {origin}");
                let r = self.send(actual(path, &token, Some(origin)));
                assert_eq!(
                    cors_headers(&r),
                    Vec::<String>::new(),
                    "{what}: no Access-Control-* header"
                );
                assert!(varies_on_origin(&r), "{what}: Vary: Origin");
            }
            self.hit(
                "cors",
                &[
                    "CORS-02", "CORS-03", "CORS-04", "CORS-05", "CORS-06", "CORS-08", "CORS-11",
                ],
            );
        }
        // No Origin at all: nothing either.
        if let Some(path) = &get_path {
            let r = self.send(actual(path, &token, None));
            assert_eq!(cors_headers(&r), Vec::<String>::new(), "GET without Origin");
            assert!(varies_on_origin(&r), "GET without Origin: Vary: Origin");
            let r = self.send(Request::new("OPTIONS", path).from(fresh_source()));
            assert_eq!(
                cors_headers(&r),
                Vec::<String>::new(),
                "OPTIONS without Origin"
            );
            self.hit("cors", &["CORS-11"]);
        }
    }

    // ------------------------------------------------------------------
    // Bodies, pages, timeouts
    // ------------------------------------------------------------------

    /// A resource whose create a fresh principal may run, with that principal.
    fn creator(&mut self) -> Option<(Resource, Principal)> {
        let resources = self.server.model.resources.clone();
        resources.iter().find_map(|r| {
            r.operation(OperationKind::Create)?;
            let p = self.principal_for(r, &[OperationKind::Create])?;
            Some((r.clone(), p))
        })
    }

    /// A create body of every non-ref input column (None if a ref is required).
    fn body(resource: &Resource, seed: usize) -> Option<Map<String, Value>> {
        let mut body = Map::new();
        for c in resource.columns.iter().filter(|c| c.on_create) {
            if matches!(c.ty, ColumnType::Ref { .. }) {
                if c.required {
                    return None;
                }
                continue;
            }
            body.insert(c.name.clone(), data::valid(c, seed));
        }
        Some(body)
    }

    /// Starts a request whose body never arrives; the server must end it
    /// with 408 after `request_timeout_seconds`.
    /// Hundreds of connections that never finish their request head (a
    /// slowloris), started in the background: meanwhile other clients are
    /// served at once, and the server closes each of them within
    /// `limits.header_read_timeout_seconds` of its start. A kept-alive
    /// connection left idle is closed after `limits.idle_timeout_seconds`
    /// (when that is short enough to wait for). Returns what it saw.
    fn slow_heads(&mut self) -> std::thread::JoinHandle<String> {
        const HEADS: usize = 300;
        let addr = self.server.addr;
        let limits = &self.server.model.limits;
        let header = Duration::from_secs(limits.header_read_timeout_seconds.into());
        let idle = Duration::from_secs(limits.idle_timeout_seconds.into());
        let slack = Duration::from_secs(3);
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut held = Vec::new();
            for i in 0..HEADS {
                let mut s = TcpStream::connect(addr).expect("connect");
                let head = format!("GET /health HTTP/1.1\r\nhost: {addr}\r\nx-slow: {i}\r\n");
                s.write_all(head.as_bytes()).expect("a partial head");
                held.push((s, Instant::now()));
            }
            let opened = started.elapsed();
            // A kept-alive connection, served once, then left idle.
            let kept = (idle <= Duration::from_secs(15)).then(|| {
                let mut s = TcpStream::connect(addr).expect("connect");
                s.write_all(format!("GET /health HTTP/1.1\r\nhost: {addr}\r\n\r\n").as_bytes())
                    .expect("a request");
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut got = Vec::new();
                let mut chunk = [0u8; 4096];
                while !complete(&got) {
                    let n = s.read(&mut chunk).expect("the kept-alive answer");
                    assert!(n > 0, "the kept-alive connection closed before answering");
                    got.extend_from_slice(&chunk[..n]);
                }
                assert!(
                    got.starts_with(b"HTTP/1.1 200"),
                    "{}",
                    String::from_utf8_lossy(&got)
                );
                (s, Instant::now())
            });
            // Service to others is intact while the heads are held.
            let mut slowest = Duration::ZERO;
            for _ in 0..20 {
                let t = Instant::now();
                let r = Request::new("GET", "/health")
                    .from(fresh_source())
                    .send(addr);
                assert_eq!(r.status, 200, "/health while {HEADS} heads are held");
                slowest = slowest.max(t.elapsed());
            }
            assert!(
                slowest < Duration::from_secs(2),
                "a request took {slowest:?} while {HEADS} unfinished heads were held"
            );
            // Each head is closed by the server in time.
            let closed_by = |s: &mut TcpStream, at: Instant, limit: Duration, what: &str| {
                let deadline = at + limit + slack;
                let mut buf = [0u8; 1024];
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    assert!(
                        !left.is_zero(),
                        "{what}: still open {:?} after it started",
                        limit + slack
                    );
                    s.set_read_timeout(Some(left)).unwrap();
                    match s.read(&mut buf) {
                        Ok(0) => return at.elapsed(),
                        Ok(_) => continue,
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) =>
                        {
                            panic!("{what}: still open {:?} after it started", at.elapsed())
                        }
                        Err(_) => return at.elapsed(),
                    }
                }
            };
            let mut latest = Duration::ZERO;
            for (i, (mut s, at)) in held.into_iter().enumerate() {
                let what = format!("unfinished head {i} (header-read timeout {header:?})");
                latest = latest.max(closed_by(&mut s, at, header, &what));
            }
            let mut report = format!(
                "{HEADS} unfinished heads opened in {:.1} s; others served meanwhile in at most {} ms; \
                 each closed within {:.1} s (header-read timeout {} s)",
                opened.as_secs_f64(),
                slowest.as_millis(),
                latest.as_secs_f64(),
                header.as_secs()
            );
            if let Some((mut s, at)) = kept {
                let what = format!("an idle kept-alive connection (idle timeout {idle:?})");
                let after = closed_by(&mut s, at, idle, &what);
                assert!(
                    after + Duration::from_millis(500) >= idle.min(header + idle),
                    "{what}: closed after {after:?}, before its timeout"
                );
                report.push_str(&format!(
                    "; idle kept-alive connection closed after {:.1} s",
                    after.as_secs_f64()
                ));
            }
            report
        })
    }

    fn slow_body_request(&mut self) -> Option<std::thread::JoinHandle<(Response, Duration, u64)>> {
        let (resource, p) = self.creator()?;
        let token = self.token(&p);
        let addr = self.server.addr;
        let timeout = u64::from(self.server.model.limits.request_timeout_seconds);
        let head = format!(
            "POST /{} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"a\":",
            resource.plural
        );
        Some(std::thread::spawn(move || {
            let started = Instant::now();
            let r = raw(addr, head.as_bytes(), Duration::from_secs(timeout + 20));
            (r, started.elapsed(), timeout)
        }))
    }

    fn bodies(&mut self) {
        let Some((resource, p)) = self.creator() else {
            return;
        };
        let token = self.token(&p);
        let max = self.server.model.limits.max_body_bytes as usize;
        let path = format!("/{}", resource.plural);
        let path = path.as_str();
        let post = |body: Vec<u8>| {
            Request::new("POST", path)
                .bearer(&token)
                .raw_body("application/json", body)
                .from(fresh_source())
        };
        // A JSON object of exactly `len` bytes with one unknown field.
        let sized = |len: usize| {
            let frame = "{\"zz_limits_unknown\":\"\"}".len();
            format!("{{\"zz_limits_unknown\":\"{}\"}}", "x".repeat(len - frame)).into_bytes()
        };
        let over = sized(max + 1);
        assert_eq!(over.len(), max + 1);
        let r = self.send(post(over.clone()));
        assert_eq!(r.status, 413, "a body of max_body + 1 bytes: {}", r.text());
        self.hit("limits", &["RES-01"]);
        // Anonymous, too: the limit applies before anything else.
        let r = self.send(
            Request::new("POST", path)
                .raw_body("application/json", over.clone())
                .from(fresh_source()),
        );
        assert_eq!(r.status, 413, "an anonymous oversized body");
        self.hit("limits", &["RES-01"]);
        // Exactly at the limit is read (and then refused for its content).
        let at = sized(max);
        let r = self.send(post(at));
        assert_eq!(
            r.status,
            422,
            "a body of exactly max_body bytes is read: {}",
            r.text()
        );
        self.pass("limits");
        // Chunked (no Content-Length), and a Content-Length that lies.
        let auth = format!("authorization: Bearer {token}\r\ncontent-type: application/json\r\n");
        let mut chunked =
            format!("POST {path} HTTP/1.1\r\nhost: x\r\n{auth}transfer-encoding: chunked\r\n\r\n")
                .into_bytes();
        for chunk in over.chunks(1000) {
            chunked.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
            chunked.extend(chunk);
            chunked.extend(b"\r\n");
        }
        chunked.extend(b"0\r\n\r\n");
        let r = raw(self.server.addr, &chunked, Duration::from_secs(10));
        check_hygiene(&r, "chunked oversized body");
        assert_eq!(r.status, 413, "a chunked body over max_body: {}", r.text());
        self.hit("limits", &["RES-02"]);
        let lying = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\n{auth}content-length: {}\r\n\r\n{{}}",
            max * 1000
        );
        let r = raw(self.server.addr, lying.as_bytes(), Duration::from_secs(10));
        check_hygiene(&r, "declared oversized body");
        assert_eq!(
            r.status, 413,
            "a declared Content-Length over max_body is refused before reading"
        );
        self.hit("limits", &["RES-01"]);
        // Deep nesting, as deep as the limit allows: 4xx, never 5xx.
        let depth = (max - 16) / 2;
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let in_field = format!(
            "{{\"zz_limits_unknown\":{}{}}}",
            "[".repeat(depth - 4),
            "]".repeat(depth - 4)
        );
        let objects = format!(
            "{}1{}",
            "{\"zz\":".repeat((max - 16) / 7),
            "}".repeat((max - 16) / 7)
        );
        for (what, body) in [
            ("arrays", arrays),
            ("arrays in a field", in_field),
            ("objects", objects),
        ] {
            let r = self.send(post(body.into_bytes()));
            assert!(
                (400..500).contains(&r.status),
                "deeply nested {what}: {} {}",
                r.status,
                r.text()
            );
            self.hit("limits", &["INP-08"]);
        }
        let r = self.send(Request::new("GET", "/health").from(fresh_source()));
        assert_eq!(r.status, 200, "the server is still up");
    }

    /// Malformed limits, unknown parameters, sorts and filters of the
    /// wrong type are 422 on every list.
    fn queries(&mut self) {
        for resource in self.server.model.resources.clone() {
            if resource.operation(OperationKind::List).is_none() {
                continue;
            }
            let Some(p) = self.principal_for(&resource, &[OperationKind::List]) else {
                continue;
            };
            let token = self.token(&p);
            let path = format!("/{}", resource.plural);
            let get = |this: &Self, query: &str| {
                let url = format!("{path}?{query}");
                this.send(
                    Request::new("GET", &url)
                        .bearer(&token)
                        .from(fresh_source()),
                )
            };
            let mut bad: Vec<String> = [
                "limit=0",
                "limit=-1",
                "limit=abc",
                "limit=1.5",
                "limit=",
                "limit=%00",
                "limit=1&limit=1000",
                "zz_unknown=1",
                "sort=zz_unknown",
                "sort=id;DROP%20TABLE",
                "sort=password_hash",
                "offset=9223372036854775807",
                "filter=owner_id%20eq%20x",
                "cursor=!!!",
            ]
            .map(String::from)
            .into();
            if let Some(owner) = resource.scope.owner_column() {
                // The owner column is never a filter.
                bad.push(format!("{owner}={}", p.user));
                bad.push(format!("{owner}[]={}", p.user));
            }
            for f in &resource.filters {
                let c = resource.column(f).unwrap();
                if matches!(
                    c.ty,
                    ColumnType::Integer | ColumnType::Number | ColumnType::Boolean
                ) {
                    bad.push(format!("{f}=not-a-{}", f.len()));
                }
                bad.push(format!("{f}=a&{f}=b"));
            }
            for query in &bad {
                let r = get(self, query);
                assert_eq!(r.status, 422, "{}?{query}: {}", resource.name, r.text());
                self.hit("limits", &["INP-11", "RES-06", "BOLA-06"]);
            }
        }
    }

    /// Page size capped whatever the query asks; tampered cursors refused
    /// with 422.
    fn pages(&mut self) {
        let max = self.server.model.limits.max_page_size as usize;
        let default = self.server.model.limits.default_page_size as usize;
        let resources = self.server.model.resources.clone();
        // A resource one principal may create (max + 1 rows, within its
        // rate) and list.
        let Some((resource, p)) = resources.iter().find_map(|r| {
            let create = r.operation(OperationKind::Create)?;
            if create.rate.user.count as usize <= max + 5 || Self::body(r, 0).is_none() {
                return None;
            }
            let p = self.principal_for(r, &[OperationKind::Create, OperationKind::List])?;
            Some((r.clone(), p))
        }) else {
            return;
        };
        let token = self.token(&p);
        let path = format!("/{}", resource.plural);
        let mut created = 0;
        let mut seed = 0;
        while created <= max {
            seed += 1;
            assert!(
                seed < (max + 1) * 3,
                "creating {} rows of {}",
                max + 1,
                resource.name
            );
            let body = Value::Object(Self::body(&resource, seed).unwrap());
            let r = self.send(
                Request::new("POST", &path)
                    .bearer(&token)
                    .json(&body)
                    .from(fresh_source()),
            );
            match r.status {
                201 => created += 1,
                409 => continue,
                s => panic!("create {}: {s} {}", resource.name, r.text()),
            }
        }
        let get = |this: &Self, query: &str| {
            let url = format!("{path}?{query}");
            this.send(
                Request::new("GET", &url)
                    .bearer(&token)
                    .from(fresh_source()),
            )
        };
        let huge = "9".repeat(30);
        for (query, expected) in [
            (format!("limit={}", max * 10), max),
            (format!("limit={}", max + 1), max),
            (format!("limit={huge}"), max),
            (String::new(), default.min(max)),
            ("limit=1".into(), 1),
        ] {
            let r = get(self, &query);
            assert_eq!(r.status, 200, "?{query}: {}", r.text());
            let page = r.json();
            assert_eq!(
                page["items"].as_array().map(Vec::len),
                Some(expected),
                "{}?{query}: at most max_page_size ({max}) items",
                resource.name
            );
            assert!(
                page["next_cursor"].is_string(),
                "?{query}: more rows follow"
            );
            self.hit("limits", &["RES-06"]);
        }
        // Cursors: a real one works; tampered ones are 422.
        let r = get(self, "limit=1");
        let cursor = r.json()["next_cursor"].as_str().unwrap().to_string();
        let r = get(self, &format!("limit=1&cursor={cursor}"));
        assert_eq!(r.status, 200, "a real cursor: {}", r.text());
        let token_of = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        let real: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&cursor).unwrap()).unwrap();
        let mut flipped = cursor.clone().into_bytes();
        flipped[1] = if flipped[1] == b'A' { b'B' } else { b'A' };
        let mut tampered = vec![
            String::from_utf8(flipped).unwrap(),
            "!!!".into(),
            "A".repeat(5000),
            format!("{cursor}x"),
            token_of(&json!({ "s": real["s"], "v": [1], "id": real["id"] })),
            token_of(&json!({ "s": real["s"], "v": {"$gt": ""}, "id": real["id"] })),
            token_of(&json!({ "s": real["s"], "v": real["v"], "id": "" })),
            token_of(&json!({ "s": real["s"], "v": real["v"], "id": real["id"], "owner": "x" })),
            token_of(&json!({ "s": "zz_unknown", "v": real["v"], "id": real["id"] })),
            token_of(&json!([1, 2, 3])),
        ];
        tampered.retain(|c| c != &cursor);
        for c in &tampered {
            let r = get(self, &format!("cursor={c}"));
            assert_eq!(r.status, 422, "a tampered cursor {c:.40}: {}", r.text());
            self.hit("limits", &["BOLA-07"]);
        }
        // A cursor made for another sort is refused.
        let key = real["s"].as_str().unwrap_or("").trim_start_matches('-');
        if let Some(other) = resource.sort.iter().find(|s| s.as_str() != key) {
            let r = get(self, &format!("sort={other}&cursor={cursor}"));
            assert_eq!(r.status, 422, "a cursor of another sort");
            self.pass("limits");
        }
    }
}

/// The server's log line for the request `id` that contains `what`
/// (waiting a little for it to be written).
fn logged(server: &Server, id: &str, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        if let Some(line) = log.lines().find(|l| l.contains(id) && l.contains(what)) {
            return line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {id:?} and {what:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A GET with a valid token, from `origin` when given.
fn actual<'p>(path: &'p str, token: &str, origin: Option<&str>) -> Request<'p> {
    let r = Request::new("GET", path).bearer(token).from(fresh_source());
    match origin {
        Some(o) => r.header("origin", o),
        None => r,
    }
}

/// A preflight as a browser sends it.
fn preflight<'p>(path: &'p str, method: &str, origin: &str) -> Request<'p> {
    Request::new("OPTIONS", path)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .from(fresh_source())
}

fn with_body<'p>(r: Request<'p>, body: &Option<Value>) -> Request<'p> {
    match body {
        Some(b) => r.json(b),
        None => r,
    }
}

/// Sends raw bytes to `addr` (from 127.0.0.1) and reads the answer.
pub fn raw(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(timeout)).unwrap();
    // The server may answer and close before reading everything.
    let _ = stream.write_all(bytes);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if complete(&buf) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    parse(&buf).unwrap_or_else(|| {
        panic!(
            "no complete answer within {timeout:?}: {:?}",
            String::from_utf8_lossy(&buf)
        )
    })
}

/// Whether `buf` holds a whole response (by Content-Length or final chunk).
fn complete(buf: &[u8]) -> bool {
    let Some(split) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..split]).to_ascii_lowercase();
    let body = &buf[split + 4..];
    if let Some(len) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return body.len() >= len;
    }
    body.ends_with(b"0\r\n\r\n")
}

fn parse(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let end = rest.windows(2).position(|w| w == b"\r\n")?;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..end]).ok()?.trim(), 16).ok()?;
            if size == 0 {
                break;
            }
            out.extend_from_slice(rest.get(end + 2..end + 2 + size)?);
            rest = rest.get(end + 4 + size..)?;
        }
        body = out;
    }
    Some(Response {
        status,
        headers,
        body,
        head: false,
    })
}
