//! The cases of the attack catalogue (ATTACKS.md section 5) that the
//! per-resource walk of main.rs does not already make: token and header
//! tricks, id spellings and oracles, method tricks and inventory, body
//! parser differentials and type confusion, HTTP framing, SSRF values.
//! Each case is derived from the model, names the catalogue IDs it
//! exercises and asserts the catalogue's expected response.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use palisade::model::{ColumnType, OperationKind, Resource, Scope};
use serde_json::{Map, Value, json};

use super::http::{Request, Response, fresh_source};
use super::limits::raw;
use super::tokens::Principal;
use super::{Reach, Suite, data, is_problem};

/// The body of an error says nothing about causes: only the problem
/// members, no SQL, driver, token library or source location.
pub fn no_detail(r: &Response, what: &str) {
    let body = r.text();
    let lower = body.to_ascii_lowercase();
    for leak in [
        "sqlx",
        "sqlite",
        "syntax error",
        "panicked",
        "backtrace",
        ".rs:",
        "/src/",
        "jsonwebtoken",
        "expiredsignature",
        "invalidsignature",
        "invalidaudience",
        "invalidissuer",
    ] {
        assert!(
            !lower.contains(leak),
            "{what}: the body leaks `{leak}`: {body}"
        );
    }
    if is_problem(r) && !r.body.is_empty() {
        let v = r.json();
        let keys: BTreeSet<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let allowed: BTreeSet<&str> = ["type", "title", "status", "detail", "errors"].into();
        assert!(
            keys.is_subset(&allowed),
            "{what}: only problem members: {body}"
        );
    }
}

/// Status, headers and body, minus what differs on every answer (date,
/// request id, the caller's own remaining quota).
fn comparable(r: &Response) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut h: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(n, _)| !matches!(n.as_str(), "date" | "x-request-id" | "ratelimit"))
        .cloned()
        .collect();
    h.sort();
    (r.status, h, r.body.clone())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn tenant() -> String {
    format!("t-{}", uuid::Uuid::new_v4().simple())
}

/// Accepted by authentication: neither 401 nor 429 nor a 5xx.
fn accepted(r: &Response) -> bool {
    r.status != 401 && r.status != 429 && r.status < 500
}

/// A listener that records whether anybody connected (SSRF canary).
struct Canary(TcpListener);

impl Canary {
    fn new() -> Canary {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        Canary(l)
    }

    fn addr(&self) -> SocketAddr {
        self.0.local_addr().unwrap()
    }

    fn untouched(&self) -> bool {
        std::thread::sleep(Duration::from_millis(200));
        matches!(self.0.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

/// Sends raw bytes and returns everything the server wrote until it
/// closed the connection (or `timeout`).
fn raw_all(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(timeout)).unwrap();
    let _ = stream.write_all(bytes);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let started = Instant::now();
    while started.elapsed() < timeout {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf
}

/// The status codes of every response in a raw byte stream.
fn statuses(raw: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(raw);
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok())
        .collect()
}

/// Creators of one resource, used in turn so that no case spends one
/// user's create quota: each member has a create body whose refs it may
/// use.
struct Pool {
    members: Vec<(Principal, String, Map<String, Value>)>,
    next: usize,
    resource: Resource,
}

impl Pool {
    /// A token and a create body; unique columns get fresh values, so
    /// bodies that are accepted never collide.
    fn next(&mut self) -> (String, Map<String, Value>) {
        let (_, token, body) = &self.members[self.next % self.members.len()];
        let mut body = body.clone();
        for c in self.resource.columns.iter().filter(|c| {
            c.unique.is_some() && c.on_create && !matches!(c.ty, ColumnType::Ref { .. })
        }) {
            if body.contains_key(&c.name) {
                body.insert(c.name.clone(), data::valid(c, 100 + self.next));
            }
        }
        self.next += 1;
        (token.clone(), body)
    }
}

/// A one-member-per-block gzip stream of `n` zero bytes (fixed Huffman
/// deflate: a literal, then back-references of 258 bytes), about
/// `n / 160` bytes long.
fn gzip_zeros(n: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        len: u32,
    }
    impl Bits {
        fn put(&mut self, value: u32, bits: u32) {
            self.acc |= value << self.len;
            self.len += bits;
            while self.len >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }
        /// Huffman codes are sent most significant bit first.
        fn code(&mut self, code: u32, bits: u32) {
            let mut rev = 0;
            for i in 0..bits {
                rev |= ((code >> i) & 1) << (bits - 1 - i);
            }
            self.put(rev, bits);
        }
    }
    let mut b = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255],
        acc: 0,
        len: 0,
    };
    b.put(1, 1); // final block
    b.put(1, 2); // fixed Huffman
    b.code(0x30, 8); // literal 0
    let mut written = 1;
    while written + 258 <= n {
        b.code(0b1100_0101, 8); // length code 285: 258 bytes
        b.code(0, 5); // distance code 0: distance 1
        written += 258;
    }
    b.code(0, 7); // end of block
    if b.len > 0 {
        b.out.push(b.acc as u8);
    }
    let mut crc = !0u32;
    for _ in 0..written {
        crc ^= 0;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    b.out.extend((!crc).to_le_bytes());
    b.out.extend((written as u32).to_le_bytes());
    b.out
}

impl<'a> Suite<'a> {
    /// Every catalogue case that main.rs's walk does not make.
    pub fn catalogue(&mut self) {
        self.tokens_and_headers();
        self.anonymous_everywhere();
        let resources = self.server.model.resources.clone();
        for resource in &resources {
            self.objects(resource);
            self.methods(resource);
            if self.creatable(resource) {
                self.properties(resource);
                self.parsers(resource);
                self.types(resource);
                self.stored(resource);
            }
        }
        self.routes();
        self.unrouted_counts();
        self.inventory();
        self.framing();
        self.options_have_no_effect();
        self.never_permissive();
        self.headers_of_success();
        self.many_clients();
        self.concurrent_requests();
    }

    /// A non-public operation and a path for it; the list of a resource
    /// whose rows a fresh user owns when there is one.
    fn target(&mut self) -> Option<(String, String, bool)> {
        let model = &self.server.model;
        let fresh = Principal::new("probe", "probe-tenant", &[]);
        for r in &model.resources {
            if let Some(op) = r.operation(OperationKind::List)
                && !op.grants.public
                && self.may(r, OperationKind::List, &fresh) == Reach::Own
            {
                return Some(("GET".into(), op.path.clone(), true));
            }
        }
        let (_, op) = model
            .resources
            .iter()
            .flat_map(|r| r.operations.iter().map(move |o| (r, o)))
            .find(|(_, o)| !o.grants.public)?;
        let path = op.path.replace("{id}", &uuid::Uuid::new_v4().to_string());
        Some((op.method.as_str().to_string(), path, false))
    }

    /// AUTH-03, -04, -05, -12, -16, -17, -18, -20, -22, -23.
    fn tokens_and_headers(&mut self) {
        let Some((method, path, own_list)) = self.target() else {
            return;
        };
        let method = method.as_str();
        let path = path.as_str();
        let server = self.server;
        let keys = &server.keys;
        let addr = server.addr;
        let p = self.fresh(&tenant(), &[]);
        let token = keys.token(&p);
        let refused = |r: &Response, what: &str| {
            assert_eq!(r.status, 401, "{what}: {}", r.text());
            assert!(
                r.header("www-authenticate")
                    .is_some_and(|v| v.starts_with("Bearer")),
                "{what}: WWW-Authenticate"
            );
            no_detail(r, what);
        };
        let send = |req: Request<'_>| req.send(addr);
        // AUTH-03: the scheme is case-insensitive.
        for scheme in ["bearer", "BEARER", "Bearer"] {
            let r = send(
                Request::new(method, path)
                    .header("authorization", &format!("{scheme} {token}"))
                    .from(fresh_source()),
            );
            assert!(accepted(&r), "`{scheme}` scheme: {} {}", r.status, r.text());
        }
        self.hit("authentication", &["AUTH-03"]);
        // AUTH-04: only the header carries a token.
        let sep = if path.contains('?') { '&' } else { '?' };
        let in_query = format!("{path}{sep}access_token={token}");
        let r = send(Request::new(method, &in_query).from(fresh_source()));
        refused(&r, "a token in the query string");
        for cookie in [
            format!("token={token}"),
            format!("access_token={token}"),
            format!("Authorization=Bearer {token}"),
        ] {
            let r = send(
                Request::new(method, path)
                    .header("cookie", &cookie)
                    .from(fresh_source()),
            );
            refused(&r, "a token in a cookie");
        }
        self.hit("authentication", &["AUTH-04"]);
        // AUTH-05: two Authorization headers never act as either user.
        let other = keys.token(&self.fresh(&tenant(), &[]));
        for (first, second) in [
            (format!("Bearer {token}"), format!("Bearer {other}")),
            ("Bearer garbage".to_string(), format!("Bearer {token}")),
            (format!("Bearer {token}"), format!("Bearer {token}")),
        ] {
            let r = send(
                Request::new(method, path)
                    .header("authorization", &first)
                    .header("authorization", &second)
                    .from(fresh_source()),
            );
            assert!(
                r.status == 400 || r.status == 401,
                "two Authorization headers: {} {}",
                r.status,
                r.text()
            );
        }
        self.hit("authentication", &["AUTH-05"]);
        // AUTH-12: the leeway is exactly what the spec says.
        let leeway = u64::from(self.server.model.auth.leeway_seconds);
        let with = |f: &dyn Fn(&mut Map<String, Value>)| {
            let mut c = keys.claims(&p);
            f(&mut c);
            keys.sign(&c)
        };
        let late = with(&|c| {
            c.insert("exp".into(), json!(now() - (leeway + 5)));
        });
        let r = send(
            Request::new(method, path)
                .bearer(&late)
                .from(fresh_source()),
        );
        refused(&r, "expired beyond the leeway");
        let within = if leeway >= 10 {
            now() - (leeway - 5)
        } else {
            now() + 5
        };
        let boundary = with(&|c| {
            c.insert("exp".into(), json!(within));
        });
        let r = send(
            Request::new(method, path)
                .bearer(&boundary)
                .from(fresh_source()),
        );
        assert!(
            accepted(&r),
            "expired {} s ago, within the leeway of {leeway} s: {}",
            now().saturating_sub(within),
            r.status
        );
        self.hit("authentication", &["AUTH-12"]);
        // AUTH-16: an audience array that contains ours is accepted.
        if let Some(aud) = keys.audience() {
            let t = with(&|c| {
                c.insert("aud".into(), json!(["other", aud]));
            });
            let r = send(Request::new(method, path).bearer(&t).from(fresh_source()));
            assert!(accepted(&r), "aud [other, ours]: {}", r.status);
            self.hit("authentication", &["AUTH-16"]);
        }
        // AUTH-17: a validly signed user never seen is a tenant with no data.
        if own_list {
            let stranger = self.fresh(&tenant(), &[]);
            let r = send(
                Request::new("GET", path)
                    .bearer(&keys.token(&stranger))
                    .from(fresh_source()),
            );
            assert_eq!(r.status, 200, "a new user lists: {}", r.text());
            assert_eq!(r.json()["items"], json!([]), "a new user has no rows");
            self.hit("authentication", &["AUTH-17"]);
        }
        // AUTH-18: a junk `kid` on a validly signed token selects nothing:
        // with one static key it is accepted, with a JWKS it names no key
        // of the set and is refused; never a 5xx.
        let jwks = self.server.model.auth.key.is_jwks();
        for kid in ["../../../../../../dev/null", "' OR '1'='1", "x"] {
            let t = keys.sign_raw(
                &keys.header_with(json!({ "kid": kid })),
                &Value::Object(keys.claims(&p)),
                true,
            );
            let r = send(Request::new(method, path).bearer(&t).from(fresh_source()));
            if jwks {
                refused(&r, &format!("kid {kid:?}"));
            } else {
                assert!(accepted(&r), "kid {kid:?}: {}", r.status);
            }
        }
        self.hit("authentication", &["AUTH-18"]);
        // AUTH-20: embedded keys and key URLs are never used nor fetched.
        let canary = Canary::new();
        let url = format!("http://{}/jwks", canary.addr());
        let jwk = json!({ "kty": "oct", "k": "YXR0YWNrZXI", "alg": "HS256" });
        for header in [
            json!({ "jwk": jwk }),
            json!({ "jku": url }),
            json!({ "x5u": url }),
            json!({ "jku": url, "kid": "attacker" }),
        ] {
            let t = keys.sign_raw(
                &keys.header_with(header.clone()),
                &Value::Object(keys.claims(&p)),
                false,
            );
            let r = send(Request::new(method, path).bearer(&t).from(fresh_source()));
            refused(&r, &format!("header {header}"));
            // Validly signed: the header is ignored, nothing is fetched.
            let t = keys.sign_raw(
                &keys.header_with(header.clone()),
                &Value::Object(keys.claims(&p)),
                true,
            );
            let r = send(Request::new(method, path).bearer(&t).from(fresh_source()));
            assert!(r.status < 500, "header {header}: {}", r.status);
        }
        assert!(canary.untouched(), "the server fetched a key URL");
        self.hit("authentication", &["AUTH-20"]);
        // AUTH-22: a header beyond hyper's buffer is 431 (or the connection
        // is closed), never a 5xx; the server stays up.
        let huge = format!(
            "{method} {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\nconnection: close\r\n\r\n",
            "A".repeat(500 * 1024)
        );
        let bytes = raw_all(addr, huge.as_bytes(), Duration::from_secs(10));
        let s = statuses(&bytes);
        // hyper's limit is checked between reads, so a head that arrives
        // in one read past it may still be parsed: then the application's
        // own cap refuses the token (401, or 429 once the address's
        // anonymous bucket is spent).
        assert!(
            s.is_empty() || s == [431] || s == [401] || s == [429],
            "a 500 KB Authorization header: {s:?}"
        );
        let r = send(Request::new("GET", "/health").from(fresh_source()));
        assert_eq!(r.status, 200, "the server is still up");
        self.hit("authentication", &["AUTH-22"]);
        // AUTH-23: whitespace around the token is trimmed or refused,
        // whitespace inside is refused, CR is refused by HTTP itself.
        for (what, value, strict) in [
            ("two spaces", format!("Bearer  {token}"), false),
            ("trailing space", format!("Bearer {token} "), false),
            ("tab", format!("Bearer\t{token}"), false),
            ("NBSP", format!("Bearer \u{a0}{token}"), true),
            (
                "space inside",
                format!("Bearer {} {}", &token[..10], &token[10..]),
                true,
            ),
        ] {
            let r = send(
                Request::new(method, path)
                    .header("authorization", &value)
                    .from(fresh_source()),
            );
            if strict {
                refused(&r, what);
            } else {
                assert!(
                    accepted(&r) || r.status == 401,
                    "{what}: {} {}",
                    r.status,
                    r.text()
                );
            }
        }
        let cr = format!(
            "{method} {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r{}\r\nconnection: close\r\n\r\n",
            &token[..10],
            &token[10..]
        );
        let s = statuses(&raw_all(addr, cr.as_bytes(), Duration::from_secs(10)));
        assert_eq!(s, [400], "CR inside the Authorization header");
        self.hit("authentication", &["AUTH-23"]);
    }

    /// AUTH-25: every route that is not public, anonymous: 401 before the
    /// body, the path or the database is looked at.
    fn anonymous_everywhere(&mut self) {
        let model = self.server.model.clone();
        for resource in &model.resources {
            for op in &resource.operations {
                let method = op.method.as_str();
                let mut cases: Vec<(String, Option<Vec<u8>>)> = vec![
                    (
                        op.path.replace("{id}", &uuid::Uuid::new_v4().to_string()),
                        None,
                    ),
                    (op.path.replace("{id}", "not-a-uuid"), None),
                ];
                if matches!(op.kind, OperationKind::Create | OperationKind::Update) {
                    cases.push((
                        op.path.replace("{id}", "not-a-uuid"),
                        Some(b"{\"broken\":".to_vec()),
                    ));
                }
                for (path, body) in cases {
                    let mut req = Request::new(method, &path).from(fresh_source());
                    if let Some(b) = body {
                        req = req.raw_body("application/json", b);
                    }
                    let r = self.send(req);
                    if op.grants.public {
                        assert!(
                            r.status < 500 && r.status != 401,
                            "{} {method} {path} is public: {}",
                            resource.name,
                            r.status
                        );
                    } else {
                        assert_eq!(
                            r.status, 401,
                            "{} {method} {path} without a token",
                            resource.name
                        );
                    }
                }
                self.hit("authentication", &["AUTH-25"]);
            }
        }
    }

    /// A fresh user without roles may create `resource`.
    fn creatable(&mut self, resource: &Resource) -> bool {
        let p = Principal::new("probe", "probe-tenant", &[]);
        resource.operation(OperationKind::Create).is_some()
            && self.may(resource, OperationKind::Create, &p) != Reach::Forbidden
    }

    /// Creators enough for `requests` creates within each one's quota.
    fn pool(&mut self, resource: &Resource, requests: usize) -> Pool {
        let per_user = resource
            .operation(OperationKind::Create)
            .map_or(10, |o| (o.rate.user.count as usize / 3).max(1));
        let n = requests.div_ceil(per_user).max(1);
        let members = (0..n)
            .map(|i| {
                let p = self.fresh(&tenant(), &[]);
                let token = self.server.keys.token(&p);
                let body = self.body(resource, &p, 10 + i);
                (p, token, body)
            })
            .collect();
        Pool {
            members,
            next: 0,
            resource: resource.clone(),
        }
    }

    /// BOLA-01/-02/-03/-05/-07/-08/-09, BFLA-02/-04: two owners, each
    /// with rows; the attacker probes the victim's.
    fn objects(&mut self, resource: &Resource) {
        let a = self.fresh(&tenant(), &[]);
        let b = self.fresh(&tenant(), &[]);
        if resource.scope == Scope::Unowned
            || self.may(resource, OperationKind::Create, &b) != Reach::Own
            || self.may(resource, OperationKind::Get, &a) != Reach::Own
        {
            return;
        }
        let plural = resource.plural.clone();
        let b_row = self.create(resource, &b);
        let b_id = b_row["id"].as_str().unwrap().to_string();
        let b_item = format!("/{plural}/{b_id}");
        let missing = format!("/{plural}/{}", uuid::Uuid::new_v4());
        // 404 exactly like a missing row, for GET and HEAD.
        for method in ["GET", "HEAD"] {
            let r = self.send(self.as_(&a, method, &b_item));
            let m = self.send(self.as_(&a, method, &missing));
            assert_eq!(
                r.status, 404,
                "{} {method} another owner's row",
                resource.name
            );
            assert_eq!(
                comparable(&r),
                comparable(&m),
                "{} {method}: another owner's row answers exactly like a missing one",
                resource.name
            );
        }
        self.hit("object-level", &["BOLA-01", "BOLA-05", "BOLA-09"]);
        // An update with a real value, and a PUT (no upsert).
        if self.may(resource, OperationKind::Update, &a) == Reach::Own
            && let Some(column) = resource.columns.iter().find(|c| {
                c.on_update
                    && Self::writes(resource, OperationKind::Update, c, &a, true)
                    && !matches!(c.ty, ColumnType::Ref { .. })
            })
        {
            let body = json!({ &column.name: data::valid(column, 7) });
            let r = self.send(self.as_(&a, "PATCH", &b_item).json(&body));
            let m = self.send(self.as_(&a, "PATCH", &missing).json(&body));
            assert_eq!(
                r.status, 404,
                "{}: PATCH another owner's row",
                resource.name
            );
            assert_eq!(
                comparable(&r),
                comparable(&m),
                "{}: PATCH oracle",
                resource.name
            );
            self.hit("object-level", &["BOLA-02"]);
        }
        let full = Value::Object(self.body(resource, &a, 8));
        let r = self.send(self.as_(&a, "PUT", &b_item).json(&full));
        let m = self.send(self.as_(&a, "PUT", &missing).json(&full));
        assert!(
            r.status == 404 || r.status == 405,
            "{}: PUT another owner's row: {}",
            resource.name,
            r.status
        );
        assert_eq!(
            comparable(&r),
            comparable(&m),
            "{}: PUT oracle",
            resource.name
        );
        let r = self.send(self.as_(&b, "GET", &b_item));
        assert_eq!(
            (r.status, r.json()),
            (200, b_row.clone()),
            "{}: the victim's row is unchanged",
            resource.name
        );
        if self.may(resource, OperationKind::List, &a) == Reach::Own {
            let rows = self.list_all(resource, Some(&a));
            assert!(
                rows.iter().all(|r| r["id"] != json!(b_id)),
                "{}: no upsert gave the attacker the victim's id",
                resource.name
            );
        }
        self.hit("object-level", &["BOLA-02", "BOLA-03"]);
        // Spellings of the victim's id.
        for spelling in [
            b_id.to_uppercase(),
            format!("{b_id}/"),
            format!("{b_id}%2F"),
            format!("{b_id};x"),
            format!("{b_id}%00"),
            format!("{b_id}%20"),
            format!("%20{b_id}"),
            format!("{{{b_id}}}"),
            b_id.replace('-', ""),
            "abc".to_string(),
        ] {
            let path = format!("/{plural}/{spelling}");
            let r = self.send(self.as_(&a, "GET", &path));
            assert!(
                matches!(r.status, 400 | 404 | 405 | 422),
                "{}: GET {path} as another owner: {}",
                resource.name,
                r.status
            );
            assert!(
                !r.text().contains(&b_id),
                "{}: {path} leaks the row",
                resource.name
            );
        }
        self.hit("object-level", &["BOLA-08"]);
        // Timing: the victim's row and a missing one take as long.
        let samples = (self.server.model.throttle.user.count as usize / 8).clamp(5, 40);
        let t = self.fresh(&tenant(), &[]);
        let (mut victim, mut absent) = (Vec::new(), Vec::new());
        for _ in 0..samples {
            for (path, times) in [(&b_item, &mut victim), (&missing, &mut absent)] {
                let started = Instant::now();
                let r = self.send(self.as_(&t, "GET", path));
                times.push(started.elapsed());
                assert_eq!(r.status, 404);
            }
        }
        victim.sort();
        absent.sort();
        let (mv, ma) = (victim[samples / 2], absent[samples / 2]);
        let gap = mv.abs_diff(ma);
        assert!(
            gap <= Duration::from_millis(5).max(mv.max(ma) / 2),
            "{}: median {mv:?} for another owner's row, {ma:?} for a missing one",
            resource.name
        );
        self.hit("object-level", &["BOLA-09"]);
        // Method override headers never turn a POST into a DELETE.
        let a_row = self.create(resource, &a);
        let a_item = format!("/{plural}/{}", a_row["id"].as_str().unwrap());
        let query = format!("{a_item}?_method=DELETE");
        for (path, header) in [
            (&a_item, Some("x-http-method-override")),
            (&a_item, Some("x-method-override")),
            (&a_item, Some("x-http-method")),
            (&query, None),
        ] {
            let mut req = self.as_(&a, "POST", path).json(&json!({}));
            if let Some(h) = header {
                req = req.header(h, "DELETE");
            }
            let r = self.send(req);
            assert_eq!(
                r.status, 405,
                "{}: POST {path} with {header:?}",
                resource.name
            );
        }
        let r = self.send(self.as_(&a, "GET", &a_item));
        assert_eq!(r.status, 200, "{}: the row still exists", resource.name);
        self.hit("function-level", &["BFLA-02"]);
        // Extra claims an identity provider might add grant nothing.
        let mut claims = self.server.keys.claims(&a);
        claims.insert("role".into(), json!("admin"));
        claims.insert("is_admin".into(), json!(true));
        claims.insert("admin".into(), json!(true));
        claims.insert("scope".into(), json!("*"));
        claims.insert("groups".into(), json!(["admin"]));
        if let Some(roles) = &self.server.model.auth.roles_claim {
            claims.insert(roles.clone(), json!(["superuser", "root"]));
        }
        let boosted = self.server.keys.sign(&claims);
        let r = self.send(Request::new("GET", &b_item).bearer(&boosted));
        let plain = self.send(self.as_(&a, "GET", &b_item));
        assert_eq!(
            comparable(&r),
            comparable(&plain),
            "{}: extra claims change nothing",
            resource.name
        );
        if self.may(resource, OperationKind::List, &a) == Reach::Own {
            let path = format!("/{plural}?limit=100");
            let r = self.send(Request::new("GET", &path).bearer(&boosted));
            assert_eq!(r.status, 200);
            assert!(
                r.json()["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|row| row["id"] != json!(b_id)),
                "{}: extra claims list another owner's rows",
                resource.name
            );
        }
        self.hit("function-level", &["BFLA-04"]);
        // A cursor made by the victim, replayed by the attacker.
        if self.may(resource, OperationKind::List, &a) == Reach::Own
            && self.may(resource, OperationKind::List, &b) == Reach::Own
        {
            self.create(resource, &b);
            let first = format!("/{plural}?limit=1");
            let r = self.send(self.as_(&b, "GET", &first));
            let cursor = r.json()["next_cursor"]
                .as_str()
                .expect("two rows: a next cursor")
                .to_string();
            let replay = format!("/{plural}?limit=1&cursor={cursor}");
            let r = self.send(self.as_(&a, "GET", &replay));
            assert!(
                r.status == 200 || r.status == 422,
                "{}: a replayed cursor: {}",
                resource.name,
                r.status
            );
            if r.status == 200 {
                let mine = json!(Self::owner_value(resource, &a));
                let owner = resource.scope.owner_column().unwrap();
                assert!(
                    r.json()["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|row| row[owner] == mine),
                    "{}: another owner's cursor shows their rows",
                    resource.name
                );
            }
            let r = self.send(self.as_(&a, "GET", &first));
            let page = r.json();
            assert!(
                page["items"].as_array().unwrap().len() <= 1
                    && page
                        .as_object()
                        .unwrap()
                        .keys()
                        .all(|k| k == "items" || k == "next_cursor"),
                "{}: a page has items and a cursor, no totals: {page}",
                resource.name
            );
            self.hit("object-level", &["BOLA-07"]);
        }
    }

    /// BFLA-01: methods the routes do not declare are 405 with `Allow`
    /// listing exactly the declared ones; never a bulk action.
    fn methods(&mut self, resource: &Resource) {
        let a = self.fresh(&tenant(), &[]);
        let collection = format!("/{}", resource.plural);
        let item = format!("/{}/{}", resource.plural, uuid::Uuid::new_v4());
        for (path, item_route) in [(&collection, false), (&item, true)] {
            let declared: BTreeSet<String> = resource
                .operations
                .iter()
                .filter(|o| o.path.contains("{id}") == item_route)
                .map(|o| o.method.as_str().to_string())
                .collect();
            for method in ["DELETE", "PATCH", "PUT", "POST", "TRACE", "FOO"] {
                if declared.contains(method) {
                    continue;
                }
                let r = self.send(self.as_(&a, method, path));
                if declared.is_empty() {
                    assert_eq!(r.status, 404, "{method} {path}: no route");
                    continue;
                }
                assert_eq!(r.status, 405, "{method} {path}: {}", r.text());
                let allow: BTreeSet<String> = r
                    .header("allow")
                    .unwrap_or_else(|| panic!("{method} {path}: Allow"))
                    .split(',')
                    .map(|m| m.trim().to_string())
                    .filter(|m| m != "HEAD")
                    .collect();
                assert_eq!(allow, declared, "{method} {path}: Allow");
                no_detail(&r, "405");
            }
        }
        self.hit("function-level", &["BFLA-01"]);
    }

    /// BOPLA-04/-05/-06/-07: spellings of server-managed keys, nested
    /// smuggling, duplicate keys; what a response may contain.
    fn properties(&mut self, resource: &Resource) {
        let mut pool = self.pool(resource, 20);
        let path = format!("/{}", resource.plural);
        let guarded = resource.scope.owner_column().unwrap_or("id").to_string();
        let camel: String = guarded
            .split('_')
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    w.to_string()
                } else {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                }
            })
            .collect();
        let mut title = guarded.clone();
        title[..1].make_ascii_uppercase();
        let escaped = {
            let first = guarded.chars().next().unwrap();
            format!("\\u{:04x}{}", first as u32, &guarded[1..])
        };
        // Raw JSON: the base body with one more member written as is.
        let with = |base: &Map<String, Value>, member: &str| {
            let text = serde_json::to_string(&Value::Object(base.clone())).unwrap();
            let inner = &text[1..text.len() - 1];
            if inner.is_empty() {
                format!("{{{member}}}")
            } else {
                format!("{{{inner},{member}}}")
            }
        };
        let mut members = vec![
            format!("\"{title}\":\"x\""),
            format!("\"{}\":\"x\"", guarded.to_ascii_uppercase()),
            format!("\"{guarded} \":\"x\""),
            format!("\" {guarded}\":\"x\""),
            format!("\"{escaped}\":\"x\""),
            "\"owner\":{\"id\":\"x\"}".to_string(),
            format!("\"{guarded}\":{{\"$ne\":null}}"),
        ];
        if camel != guarded {
            members.push(format!("\"{camel}\":\"x\""));
        }
        for member in members {
            let (token, base) = pool.next();
            if base.keys().any(|k| member.starts_with(&format!("\"{k}\""))) {
                continue;
            }
            let body = with(&base, &member);
            let r = self.send(
                Request::new("POST", &path)
                    .bearer(&token)
                    .raw_body("application/json", body.clone().into_bytes()),
            );
            assert_eq!(r.status, 422, "{}: {body}: {}", resource.name, r.text());
            no_detail(&r, "422");
        }
        self.hit("property-level", &["BOPLA-04", "BOPLA-05"]);
        // Duplicate keys: no last-wins parser differential.
        let (token, base) = pool.next();
        let mut dups = vec![format!("\"{guarded}\":\"a\",\"{guarded}\":\"b\"")];
        if let Some((k, v)) = base.iter().next() {
            dups.push(format!("\"{k}\":{v}"));
        }
        for member in dups {
            let body = with(&base, &member);
            let r = self.send(
                Request::new("POST", &path)
                    .bearer(&token)
                    .raw_body("application/json", body.clone().into_bytes()),
            );
            assert_eq!(
                r.status,
                422,
                "{}: duplicate key {body}: {}",
                resource.name,
                r.text()
            );
        }
        self.hit("property-level", &["BOPLA-06"]);
        // A created row has exactly the documented columns.
        let (token, base) = pool.next();
        let r = self.send(
            Request::new("POST", &path)
                .bearer(&token)
                .json(&Value::Object(base)),
        );
        assert_eq!(r.status, 201, "{}: {}", resource.name, r.text());
        let row = r.json();
        let keys: BTreeSet<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        // The columns its creator (the owner of an owned row) may read.
        let p = pool.members[(pool.next - 1) % pool.members.len()].0.clone();
        let columns: BTreeSet<&str> = resource
            .columns
            .iter()
            .filter(|c| Self::reads(c, Some(&p), true))
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            keys, columns,
            "{}: a row shows its columns and nothing else",
            resource.name
        );
        // The same on every read: get and list.
        let mut reads = Vec::new();
        if self.may(resource, OperationKind::Get, &p) == Reach::Own {
            let item = format!("{path}/{}", row["id"].as_str().unwrap());
            let r = self.send(self.as_(&p, "GET", &item));
            assert_eq!(r.status, 200);
            reads.push(r.json());
        }
        if self.may(resource, OperationKind::List, &p) == Reach::Own {
            reads.extend(self.list_all(resource, Some(&p)));
        }
        for read in &reads {
            let keys: BTreeSet<&str> = read
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys, columns,
                "{}: a read shows the columns only",
                resource.name
            );
            if let Some(owner) = resource.scope.owner_column() {
                assert_eq!(
                    read[owner],
                    json!(Self::owner_value(resource, &p)),
                    "{}: the caller owns what it reads",
                    resource.name
                );
            }
        }
        self.hit("property-level", &["BOPLA-07"]);
    }

    /// INP-01/-02/-05/-07/-12: content types and bodies the parser refuses.
    fn parsers(&mut self, resource: &Resource) {
        let mut pool = self.pool(resource, 30);
        let path = format!("/{}", resource.plural);
        // Content types.
        let (token, base) = pool.next();
        let json = serde_json::to_vec(&Value::Object(base)).unwrap();
        let mut bare = Request::new("POST", &path).bearer(&token);
        bare.body = Some(json.clone());
        let r = self.send(bare);
        assert_eq!(r.status, 415, "{}: no content type", resource.name);
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
        ] {
            let (token, _) = pool.next();
            let r = self.send(
                Request::new("POST", &path)
                    .bearer(&token)
                    .raw_body(ct, json.clone()),
            );
            assert_eq!(r.status, 415, "{}: content type {ct}", resource.name);
        }
        let (token, base) = pool.next();
        let r = self.send(Request::new("POST", &path).bearer(&token).raw_body(
            "application/json; charset=utf-8",
            serde_json::to_vec(&Value::Object(base)).unwrap(),
        ));
        assert_eq!(
            r.status,
            201,
            "{}: JSON with a charset: {}",
            resource.name,
            r.text()
        );
        self.hit("input", &["INP-01"]);
        // Syntax: 400.
        let (_, base) = pool.next();
        let text = serde_json::to_string(&Value::Object(base.clone())).unwrap();
        let open = &text[..text.len() - 1];
        let mut broken: Vec<(&str, Vec<u8>, &[&'static str])> = vec![
            ("empty", Vec::new(), &["INP-02"]),
            ("a brace", b"{".to_vec(), &["INP-02"]),
            (
                "trailing garbage",
                format!("{text}x").into_bytes(),
                &["INP-02"],
            ),
            (
                "two documents",
                format!("{text}{text}").into_bytes(),
                &["INP-02"],
            ),
            (
                "comment",
                format!("/* c */{text}").into_bytes(),
                &["INP-02"],
            ),
            ("single quotes", b"{'a':'b'}".to_vec(), &["INP-02"]),
            (
                "BOM",
                [&b"\xef\xbb\xbf"[..], text.as_bytes()].concat(),
                &["INP-07"],
            ),
        ];
        if !base.is_empty() {
            broken.push((
                "trailing comma",
                format!("{open},}}").into_bytes(),
                &["INP-02"],
            ));
        }
        if let Some(k) = base.keys().next() {
            for literal in ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"] {
                let mut b = base.clone();
                b.remove(k);
                let rest = serde_json::to_string(&Value::Object(b)).unwrap();
                let body = if rest == "{}" {
                    format!("{{\"{k}\":{literal}}}")
                } else {
                    format!("{{\"{k}\":{literal},{}", &rest[1..])
                };
                broken.push(("non-finite number", body.into_bytes(), &["INP-05"]));
            }
            for bytes in [
                &b"\"\\ud800\""[..],
                b"\"\\udc00x\"",
                b"\"\xc3\x28\"",
                b"\"\xc0\xaf\"",
                b"\"\xff\"",
            ] {
                let mut b = base.clone();
                b.remove(k);
                let rest = serde_json::to_string(&Value::Object(b)).unwrap();
                let mut body = format!("{{\"{k}\":").into_bytes();
                body.extend(bytes);
                if rest == "{}" {
                    body.push(b'}');
                } else {
                    body.push(b',');
                    body.extend(&rest.as_bytes()[1..]);
                }
                broken.push(("bad text", body, &["INP-07"]));
            }
        }
        for (what, body, ids) in broken {
            let (token, _) = pool.next();
            let r = self.send(
                Request::new("POST", &path)
                    .bearer(&token)
                    .raw_body("application/json", body.clone()),
            );
            assert_eq!(
                r.status,
                400,
                "{}: {what} {:?}: {}",
                resource.name,
                String::from_utf8_lossy(&body),
                r.text()
            );
            no_detail(&r, what);
            self.hit("input", ids);
        }
        // A compressed body is never inflated: 415 before it is read.
        let (token, _) = pool.next();
        let bomb = gzip_zeros(self.server.model.limits.max_body_bytes as usize * 4);
        let r = self.send(
            Request::new("POST", &path)
                .bearer(&token)
                .header("content-encoding", "gzip")
                .raw_body("application/json", bomb),
        );
        assert_eq!(
            (r.status, r.header("accept-encoding")),
            (415, Some("identity")),
            "{}: a gzip body (RFC 7694: 415 naming the accepted coding)",
            resource.name
        );
        self.hit("input", &["INP-12"]);
    }

    /// INP-03/-04/-09, RES-07: values of the wrong type or out of range.
    fn types(&mut self, resource: &Resource) {
        let mut pool = self.pool(resource, 80);
        let path = format!("/{}", resource.plural);
        let max_body = self.server.model.limits.max_body_bytes as usize;
        for top in ["[]", "\"s\"", "null", "1", "true", "[{}]"] {
            let (token, _) = pool.next();
            let r = self.send(
                Request::new("POST", &path)
                    .bearer(&token)
                    .raw_body("application/json", top.as_bytes().to_vec()),
            );
            assert_eq!(r.status, 422, "{}: body {top}", resource.name);
        }
        self.hit("input", &["INP-03"]);
        for column in resource
            .columns
            .iter()
            .filter(|c| c.on_create && !matches!(c.ty, ColumnType::Ref { .. }))
        {
            let mut wrong: Vec<(Value, &'static str)> = vec![
                (json!({ "$ne": null }), "INP-03"),
                (json!([data::valid(column, 1)]), "INP-03"),
            ];
            match column.ty {
                ColumnType::Boolean => {
                    wrong.push((json!("true"), "INP-03"));
                    wrong.push((json!(1), "INP-03"));
                }
                ColumnType::Integer => {
                    wrong.push((json!("5"), "INP-03"));
                    // A fractional part is refused; `100.0` is the integer 100
                    // (JSON Schema's integers; `Suite::integers` sends it).
                    wrong.push((json!(1.5), "INP-04"));
                    wrong.push((json!(-0.5), "INP-04"));
                    wrong.push((json!(9_223_372_036_854_775_808u64), "INP-04"));
                    wrong.push((json!(-9_223_372_036_854_775_809.0f64), "INP-04"));
                    if let Some(min) = column.constraints.min.as_ref().and_then(|n| n.as_i64()) {
                        wrong.push((json!(min - 1), "INP-04"));
                    }
                    if let Some(max) = column.constraints.max.as_ref().and_then(|n| n.as_i64()) {
                        wrong.push((json!(max + 1), "INP-04"));
                    }
                }
                ColumnType::Number => {
                    wrong.push((json!("5"), "INP-03"));
                    if let Some(min) = column.constraints.min.as_ref().and_then(|n| n.as_f64()) {
                        wrong.push((json!(min - 1.0), "INP-04"));
                    }
                    if let Some(max) = column.constraints.max.as_ref().and_then(|n| n.as_f64()) {
                        wrong.push((json!(max + 1.0), "INP-04"));
                    }
                }
                _ => {
                    wrong.push((json!(123), "INP-03"));
                    wrong.push((json!(true), "INP-03"));
                }
            }
            if column.required {
                wrong.push((Value::Null, "INP-03"));
            }
            // RES-07: a long array where a scalar belongs, under the limit.
            let n = (max_body / 2 - 1000) / 2;
            wrong.push((Value::Array(vec![json!(0); n]), "RES-07"));
            for (value, id) in wrong {
                let (token, mut base) = pool.next();
                base.insert(column.name.clone(), value.clone());
                let r = self.send(
                    Request::new("POST", &path)
                        .bearer(&token)
                        .json(&Value::Object(base)),
                );
                let shown = value.to_string();
                assert_eq!(
                    r.status,
                    422,
                    "{}.{} = {:.60}: {}",
                    resource.name,
                    column.name,
                    shown,
                    r.text()
                );
                self.hit("input", &[id]);
            }
            // INP-04: a number just past a bound, by less than an f64 can
            // hold there, is past it all the same (the OpenAPI document
            // states the bound in decimal; schemathesis sends such numbers).
            if column.ty == ColumnType::Number {
                for raw in past_bounds(&column.constraints) {
                    let (token, mut base) = pool.next();
                    base.remove(&column.name);
                    let mut body = Value::Object(base).to_string();
                    body.pop();
                    if body.len() > 1 {
                        body.push(',');
                    }
                    body.push_str(&format!("{}:{raw}}}", json!(column.name)));
                    let r = self.send(
                        Request::new("POST", &path)
                            .bearer(&token)
                            .raw_body("application/json", body.into_bytes()),
                    );
                    assert_eq!(
                        r.status,
                        422,
                        "{}.{} = {raw}: {}",
                        resource.name,
                        column.name,
                        r.text()
                    );
                    let named = r.json()["errors"]
                        .as_array()
                        .is_some_and(|e| e.iter().any(|e| e["field"] == column.name.as_str()));
                    assert!(
                        named,
                        "{}.{} = {raw}: the 422 must name the field: {}",
                        resource.name,
                        column.name,
                        r.text()
                    );
                    self.hit("input", &["INP-04"]);
                }
            }
            // INP-09: lengths count characters, not bytes (on a column
            // every creator of the pool sets and reads back).
            let settable = pool.members.iter().all(|(p, _, _)| {
                Self::writes(resource, OperationKind::Create, column, p, true)
                    && Self::reads(column, Some(p), true)
            });
            if settable
                && column.ty == ColumnType::String
                && column.constraints.values.is_none()
                && column.constraints.pattern.is_none()
                && let Some(max) = column.constraints.max_length
            {
                let max = max as usize;
                if max * 4 + 1000 < max_body {
                    let (token, mut base) = pool.next();
                    let fits = "\u{1F600}".repeat(max);
                    base.insert(column.name.clone(), json!(fits));
                    let r = self.send(
                        Request::new("POST", &path)
                            .bearer(&token)
                            .json(&Value::Object(base.clone())),
                    );
                    assert_eq!(
                        r.status,
                        201,
                        "{}.{}: {max} emoji fit max_length {max}: {}",
                        resource.name,
                        column.name,
                        r.text()
                    );
                    assert_eq!(r.json()[&column.name], json!(fits));
                    base.insert(column.name.clone(), json!("\u{1F600}".repeat(max + 1)));
                    let (token, _) = pool.next();
                    let r = self.send(
                        Request::new("POST", &path)
                            .bearer(&token)
                            .json(&Value::Object(base)),
                    );
                    assert_eq!(
                        r.status,
                        422,
                        "{}.{}: {} emoji",
                        resource.name,
                        column.name,
                        max + 1
                    );
                    self.hit("input", &["INP-09"]);
                }
            }
        }
    }

    /// INP-09/-10, MISC-05: text stored as sent, byte for byte; URLs are
    /// text, never fetched; string filters match literally.
    fn stored(&mut self, resource: &Resource) {
        let mut pool = self.pool(resource, 16);
        let path = format!("/{}", resource.plural);
        let canary = Canary::new();
        // Columns every creator of the pool sets and reads back.
        let creators: Vec<Principal> = pool.members.iter().map(|m| m.0.clone()).collect();
        for column in resource.columns.iter().filter(|c| {
            c.on_create
                && creators.iter().all(|p| {
                    Self::writes(resource, OperationKind::Create, c, p, true)
                        && Self::reads(c, Some(p), true)
                })
        }) {
            let free = column.constraints.values.is_none() && column.constraints.pattern.is_none();
            let max = column
                .constraints
                .max_length
                .map_or(usize::MAX, |m| m as usize);
            let min = column.constraints.min_length.unwrap_or(0) as usize;
            let (values, ids): (Vec<String>, &[&'static str]) = match column.ty {
                ColumnType::String if free => (
                    [
                        "'; DROP TABLE items;--",
                        "%",
                        "_",
                        "\\\\",
                        "${jndi:ldap://127.0.0.1/a}",
                        "a\u{202E}b\u{200B}c",
                        "<script>alert(1)</script>",
                    ]
                    .map(String::from)
                    .into(),
                    &["INP-10", "INP-09"],
                ),
                ColumnType::Url => (
                    vec![
                        "http://169.254.169.254/latest/meta-data/".into(),
                        "file:///etc/passwd".into(),
                        "http://[::1]:22/".into(),
                        format!("http://{}/ssrf", canary.addr()),
                        "gopher://127.0.0.1:6379/_INFO".into(),
                    ],
                    &["MISC-05"],
                ),
                _ => continue,
            };
            for value in values {
                let n = value.chars().count();
                if n > max || n < min {
                    continue;
                }
                let (token, mut base) = pool.next();
                base.insert(column.name.clone(), json!(value));
                let r = self.send(
                    Request::new("POST", &path)
                        .bearer(&token)
                        .json(&Value::Object(base)),
                );
                match r.status {
                    201 => assert_eq!(
                        r.json()[&column.name],
                        json!(value),
                        "{}.{}: stored as sent",
                        resource.name,
                        column.name
                    ),
                    409 => {}
                    422 if column.ty == ColumnType::Url => {}
                    s => panic!(
                        "{}.{} = {value:?}: {s} {}",
                        resource.name,
                        column.name,
                        r.text()
                    ),
                }
            }
            assert!(
                canary.untouched(),
                "{}.{}: the server fetched a URL",
                resource.name,
                column.name
            );
            self.hit("input", ids);
        }
        // String filters are exact matches: `%` and `_` are not wildcards.
        let p = self.fresh(&tenant(), &[]);
        if self.may(resource, OperationKind::List, &p) != Reach::Own
            || self.may(resource, OperationKind::Create, &p) != Reach::Own
        {
            return;
        }
        for f in &resource.filters {
            let column = resource.column(f).unwrap();
            if !Self::writes(resource, OperationKind::Create, column, &p, true)
                || !Self::reads(column, Some(&p), true)
                || column.ty != ColumnType::String
                || column.constraints.values.is_some()
                || column.constraints.pattern.is_some()
                || column.constraints.min_length.unwrap_or(0) > 1
                || column.unique.is_some()
            {
                continue;
            }
            let p = self.fresh(&tenant(), &[]);
            for (seed, value) in ["%", "_", "x"].into_iter().enumerate() {
                let mut body = self.body(resource, &p, 20 + seed);
                body.insert(f.clone(), json!(value));
                let r = self.send(self.as_(&p, "POST", &path).json(&Value::Object(body)));
                assert_eq!(
                    r.status,
                    201,
                    "{}: {f} = {value}: {}",
                    resource.name,
                    r.text()
                );
            }
            for (query, value) in [("%25", "%"), ("_", "_"), ("%25%25", "%%")] {
                let url = format!("{path}?{f}={query}&limit=100");
                let r = self.send(self.as_(&p, "GET", &url));
                assert_eq!(r.status, 200, "{url}: {}", r.text());
                let items = r.json()["items"].as_array().unwrap().clone();
                assert!(
                    items.iter().all(|row| row[f] == json!(value)),
                    "{url}: an exact match only: {items:?}"
                );
                assert_eq!(items.len(), usize::from(value != "%%"), "{url}");
            }
            self.hit("input", &["INP-10"]);
        }
    }

    /// BFLA-03, MISC-04, RL-09: paths nobody declared answer 404, with or
    /// without a token; spellings of a route never reach its handler.
    fn routes(&mut self) {
        let a = self.fresh(&tenant(), &[]);
        let mut paths: Vec<String> = [
            "/admin",
            "/debug",
            "/metrics",
            "/internal",
            "/openapi.json",
            "/docs",
            "/swagger-ui",
            "/swagger.json",
            "/.env",
            "/actuator/health",
            "/health/../admin",
        ]
        .map(String::from)
        .into();
        for r in &self.server.model.resources {
            let p = &r.plural;
            paths.push(format!("/v0/{p}"));
            paths.push(format!("/v1/{p}"));
            paths.push(format!("/api/{p}"));
        }
        let mut spellings = Vec::new();
        for r in &self.server.model.resources {
            let p = &r.plural;
            spellings.push(format!("/{}", p.to_ascii_uppercase()));
            spellings.push(format!("/{p}/"));
            spellings.push(format!("//{p}"));
            spellings.push(format!("/./{p}"));
            spellings.push(format!("/%{:02X}{}", p.as_bytes()[0], &p[1..]));
        }
        // A spelling either misses every route (404, no handler ran) or
        // is the route itself, which the guard counts like any call.
        for path in &spellings {
            let r = self.send(self.as_(&a, "GET", path));
            assert!(
                matches!(r.status, 200 | 403 | 404 | 405),
                "GET {path}: {} {}",
                r.status,
                r.text()
            );
        }
        for path in &paths {
            for token in [None, Some(self.server.keys.token(&a))] {
                let mut req = Request::new("GET", path).from(fresh_source());
                if let Some(t) = &token {
                    req = req.bearer(t);
                }
                let r = self.send(req);
                assert!(
                    r.status == 404 || (r.status == 401 && token.is_none()),
                    "GET {path}: {} {}",
                    r.status,
                    r.text()
                );
                no_detail(&r, path);
            }
        }
        self.hit("function-level", &["BFLA-03", "MISC-04", "RL-09"]);
    }

    /// RL-09, RL-10: spellings of a route, unknown paths and undeclared
    /// methods cost the caller (its user, or its address) one request of
    /// the `default` bucket, like the route itself: probing is throttled.
    fn unrouted_counts(&mut self) {
        let model = self.server.model.clone();
        let Some((resource, op)) = model
            .resources
            .iter()
            .flat_map(|r| r.operations.iter().map(move |o| (r, o)))
            .find(|(_, o)| !o.rate.overridden && !o.grants.public)
        else {
            return;
        };
        let routed = op.path.replace("{id}", &uuid::Uuid::new_v4().to_string());
        let method = op.method.as_str();
        let p = &resource.plural;
        let probes: Vec<(&str, String)> = vec![
            ("GET", format!("/{}", p.to_ascii_uppercase())),
            ("GET", format!("/{p}/")),
            ("GET", format!("//{p}")),
            ("GET", "/no/such/path".into()),
            ("TRACE", format!("/{p}")),
            ("FOO", routed.clone()),
            ("PUT", routed.clone()),
        ];
        let remaining = |r: &Response| -> i64 {
            let v = r
                .header("ratelimit")
                .unwrap_or_else(|| panic!("{} without RateLimit: {:?}", r.status, r.headers));
            assert!(v.starts_with("\"default\";"), "{v}");
            v.split(';')
                .find_map(|x| x.strip_prefix("r="))
                .and_then(|x| x.parse().ok())
                .unwrap()
        };
        for anonymous in [false, true] {
            let rate = if anonymous {
                model.throttle.anon
            } else {
                model.throttle.user
            };
            let n = probes.len().min(rate.count as usize - 2);
            let source = fresh_source();
            let token = self.server.keys.token(&self.fresh(&tenant(), &[]));
            let call = |this: &Self, m: &str, path: &str| {
                let mut req = Request::new(m, path).from(source);
                if !anonymous {
                    req = req.bearer(&token);
                }
                this.send(req)
            };
            let first = remaining(&call(self, method, &routed));
            for (i, (m, path)) in probes.iter().take(n).enumerate() {
                let r = call(self, m, path);
                assert!(
                    matches!(r.status, 404 | 405),
                    "{m} {path}: {} {}",
                    r.status,
                    r.text()
                );
                let left = remaining(&r);
                let expected = first - 1 - i as i64;
                assert!(
                    (expected..=expected + 1).contains(&left),
                    "{m} {path} (anonymous: {anonymous}) is counted: r={left}, expected {expected}"
                );
            }
            let left = remaining(&call(self, method, &routed));
            let expected = first - 1 - n as i64;
            assert!(
                (expected..=expected + 1).contains(&left),
                "the route after {n} unrouted calls: r={left}, expected {expected}"
            );
        }
        self.hit("throttling", &["RL-09", "RL-10"]);
    }

    /// MISC-03: the routes the server answers are the operations of the
    /// OpenAPI document it ships, each with the security it declares.
    fn inventory(&mut self) {
        let doc: Value = serde_json::from_slice(
            &std::fs::read(self.server.project.join("openapi.json")).expect("openapi.json"),
        )
        .unwrap();
        let mut documented = BTreeSet::new();
        let methods = ["get", "post", "put", "patch", "delete"];
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for m in methods {
                if let Some(op) = item.get(m) {
                    documented.insert((path.clone(), m.to_ascii_uppercase()));
                    let security = op.get("security").or(doc.get("security"));
                    let public = self.server.model.resources.iter().any(|r| {
                        r.operations.iter().any(|o| {
                            o.path == *path
                                && o.method.as_str() == m.to_ascii_uppercase()
                                && o.grants.public
                        })
                    });
                    // Anonymous access is documented (no requirement, or an
                    // empty one) exactly for public operations.
                    let requirements = security
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let anonymous = requirements.is_empty()
                        || requirements
                            .iter()
                            .any(|e| e.as_object().is_some_and(|o| o.is_empty()));
                    if path != "/health" {
                        assert_eq!(
                            anonymous, public,
                            "{m} {path}: anonymous access documented iff public"
                        );
                    }
                }
            }
        }
        let routed: BTreeSet<(String, String)> = self
            .server
            .model
            .resources
            .iter()
            .flat_map(|r| r.operations.iter())
            .map(|o| (o.path.clone(), o.method.as_str().to_string()))
            .collect();
        let without_health: BTreeSet<_> = documented
            .iter()
            .filter(|(p, _)| p != "/health")
            .cloned()
            .collect();
        assert_eq!(
            without_health, routed,
            "OpenAPI operations == the model's routes"
        );
        // Over HTTP: a documented method is routed, any other is 405.
        let paths: BTreeSet<&String> = documented.iter().map(|(p, _)| p).collect();
        for path in paths {
            let concrete = path.replace("{id}", &uuid::Uuid::new_v4().to_string());
            for m in methods {
                let m = m.to_ascii_uppercase();
                let r = self.send(Request::new(&m, &concrete).from(fresh_source()));
                let listed = documented.contains(&(path.clone(), m.clone()));
                assert_eq!(
                    r.status == 405,
                    !listed,
                    "{m} {path}: {} (documented: {listed})",
                    r.status
                );
            }
        }
        self.hit("misconfiguration", &["MISC-03"]);
    }

    /// MISC-06, RES-03, RES-05: framing the HTTP layer must refuse, and a
    /// body shorter or longer than its Content-Length.
    fn framing(&mut self) {
        let Some((resource, p)) = self
            .server
            .model
            .resources
            .clone()
            .into_iter()
            .find_map(|r| {
                let p = self.fresh(&tenant(), &[]);
                (r.operation(OperationKind::Create).is_some()
                    && self.may(&r, OperationKind::Create, &p) != Reach::Forbidden)
                    .then_some((r, p))
            })
        else {
            return;
        };
        let token = self.server.keys.token(&p);
        let addr = self.server.addr;
        let path = format!("/{}", resource.plural);
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\nconnection: close\r\n"
        );
        let body = "{\"zz_unknown\":1}";
        let chunked = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
        // CL + TE: chunked framing only, one request.
        let s = statuses(&raw_all(
            addr,
            format!("{head}content-length: 3\r\ntransfer-encoding: chunked\r\n\r\n{chunked}")
                .as_bytes(),
            Duration::from_secs(10),
        ));
        assert!(
            s == [422] || s == [400],
            "Content-Length with chunked: {s:?}"
        );
        for (what, headers) in [
            (
                "TE not ending in chunked",
                "transfer-encoding: chunked, identity\r\n".to_string(),
            ),
            (
                "two Content-Lengths",
                format!(
                    "content-length: {}\r\ncontent-length: {}\r\n",
                    body.len(),
                    body.len() + 1
                ),
            ),
            ("a bad Content-Length", "content-length: 1x\r\n".to_string()),
        ] {
            let s = statuses(&raw_all(
                addr,
                format!("{head}{headers}\r\n{body}").as_bytes(),
                Duration::from_secs(10),
            ));
            assert_eq!(s, [400], "{what}");
        }
        self.hit("misconfiguration", &["MISC-06"]);
        // A body longer than its Content-Length: the rest is never a
        // second request; the short body is refused.
        let smuggled = format!(
            "{head}content-length: 10\r\n\r\n{body}{}",
            "x".repeat(2_000)
        );
        let s = statuses(&raw_all(addr, smuggled.as_bytes(), Duration::from_secs(10)));
        assert_eq!(
            s.first(),
            Some(&400),
            "a body longer than its Content-Length: {s:?}"
        );
        assert!(s.iter().all(|s| *s >= 400), "never a second request: {s:?}");
        self.hit("limits", &["RES-03", "MISC-06"]);
        // More than 100 header fields.
        let mut many = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n");
        for i in 0..120 {
            many.push_str(&format!("x-h{i}: v\r\n"));
        }
        many.push_str("\r\n");
        let s = statuses(&raw_all(addr, many.as_bytes(), Duration::from_secs(10)));
        assert_eq!(s, [431], "120 header fields");
        let r = raw(
            addr,
            b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
            Duration::from_secs(10),
        );
        assert_eq!(r.status, 200, "the server is still up");
        self.hit("limits", &["RES-05"]);
    }

    /// CORS-09: an OPTIONS request with a body never runs a handler.
    fn options_have_no_effect(&mut self) {
        let origin = self
            .server
            .model
            .cors
            .as_ref()
            .and_then(|c| c.origins.first())
            .map(ToString::to_string);
        for resource in self.server.model.resources.clone() {
            let p = self.fresh(&tenant(), &[]);
            if resource.operation(OperationKind::Create).is_none()
                || self.may(&resource, OperationKind::Create, &p) != Reach::Own
                || self.may(&resource, OperationKind::List, &p) != Reach::Own
            {
                continue;
            }
            let path = format!("/{}", resource.plural);
            let body = Value::Object(self.body(&resource, &p, 30));
            let before = self.list_all(&resource, Some(&p)).len();
            let mut origins = vec![None, Some("https://evil.test".to_string())];
            origins.push(origin.clone());
            for o in origins {
                for preflight in [false, true] {
                    let mut req = self.as_(&p, "OPTIONS", &path).json(&body);
                    if let Some(o) = &o {
                        req = req.header("origin", o);
                    }
                    if preflight {
                        req = req.header("access-control-request-method", "POST");
                    }
                    let r = self.send(req);
                    assert!(
                        r.status < 500 && r.status != 201,
                        "OPTIONS {path} from {o:?}: {}",
                        r.status
                    );
                }
            }
            assert_eq!(
                self.list_all(&resource, Some(&p)).len(),
                before,
                "{}: an OPTIONS request wrote a row",
                resource.name
            );
            self.hit("cors", &["CORS-09"]);
            return;
        }
    }

    /// CORS-10: the compiler refuses a wildcard origin with credentials,
    /// and no generated file reflects origins.
    fn never_permissive(&mut self) {
        let text =
            std::fs::read_to_string(super::server::repo().join("examples/billing.yaml")).unwrap();
        let wildcard = text.replace("origins: [https://app.example.com]", "origins: [\"*\"]");
        assert_ne!(wildcard, text, "billing.yaml has the expected cors section");
        assert!(wildcard.contains("credentials: true"));
        let compiled = palisade::compile(palisade::source::SourceFile::new(
            "billing.yaml".to_string(),
            wildcard,
        ));
        assert!(
            compiled.is_err(),
            "a wildcard origin with credentials compiles"
        );
        let mut stack = vec![self.server.project.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let code = std::fs::read_to_string(&path).unwrap();
                    for bad in ["mirror_request", "very_permissive", "permissive()"] {
                        assert!(
                            !code.contains(bad),
                            "{} reflects request origins ({bad})",
                            path.display()
                        );
                    }
                }
            }
        }
        self.hit("cors", &["CORS-10"]);
    }

    /// MISC-02: an authenticated 2xx is private, JSON and sniff-proof.
    fn headers_of_success(&mut self) {
        let Some((method, path, true)) = self.target() else {
            return;
        };
        let p = self.fresh(&tenant(), &[]);
        let r = self.send(self.as_(&p, &method, &path));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert!(
            r.header("cache-control")
                .is_some_and(|v| v.contains("no-store"))
        );
        for banner in ["server", "x-powered-by", "x-aspnet-version", "via"] {
            assert!(r.header(banner).is_none(), "{banner} on a 200");
        }
        self.hit("misconfiguration", &["MISC-02"]);
    }

    /// RL-11: with K requests left in a bucket, 40 concurrent requests
    /// let at most K (plus what refills meanwhile) through.
    fn concurrent_requests(&mut self) {
        let model = self.server.model.clone();
        let Some(op) = model
            .resources
            .iter()
            .flat_map(|r| r.operations.iter())
            .find(|o| !o.rate.overridden && !o.grants.public)
        else {
            return;
        };
        let method = op.method.as_str();
        let path = op.path.replace("{id}", &uuid::Uuid::new_v4().to_string());
        let rate = op.rate.anon;
        let (count, window) = (rate.count as usize, rate.per.seconds());
        let left = 3.min(count - 1);
        let source = fresh_source();
        let started = Instant::now();
        for i in 0..count - left {
            let r = self.send(Request::new(method, &path).from(source));
            assert_eq!(r.status, 401, "request {i} of a fresh anonymous bucket");
        }
        let passed = std::sync::atomic::AtomicUsize::new(0);
        let this = &*self;
        std::thread::scope(|s| {
            for _ in 0..40 {
                s.spawn(|| {
                    let r = this.send(Request::new(method, &path).from(source));
                    assert!(r.status == 401 || r.status == 429, "{}", r.status);
                    if r.status == 401 {
                        passed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        let refill =
            (started.elapsed().as_secs_f64() * count as f64 / f64::from(window)).floor() as usize;
        let passed = passed.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            passed <= left + refill,
            "40 concurrent requests with {left} left: {passed} passed (refill {refill})"
        );
        self.hit("throttling", &["RL-11"]);
    }

    /// RL-12: many distinct clients: each gets its own fresh bucket, the
    /// server's memory stays bounded and it keeps answering.
    fn many_clients(&mut self) {
        let Some((method, path, _)) = self.target() else {
            return;
        };
        let rss = |pid: u32| -> u64 {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("VmRSS:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                })
                .unwrap_or(0)
        };
        let pid = self.server.pid();
        let before = rss(pid);
        let clients = 1500;
        for _ in 0..clients {
            let r = self.send(Request::new(&method, &path).from(fresh_source()));
            assert_eq!(r.status, 401, "a new client has a fresh anonymous bucket");
        }
        let after = rss(pid);
        assert!(
            after <= before + 32 * 1024,
            "{clients} distinct clients grew the server from {before} kB to {after} kB"
        );
        let r = self.send(Request::new("GET", "/health").from(fresh_source()));
        assert_eq!(r.status, 200);
        println!(
            "{}: {clients} distinct clients: RSS {before} kB -> {after} kB",
            self.server.model.name
        );
        self.hit("throttling", &["RL-12"]);
    }
}

/// JSON numbers just outside a `number` field's bounds, closer to them than
/// the next `f64` (so they read as the bound itself): above a `max` >= 0
/// and below a `min` <= 0, written by extending the bound's decimal.
fn past_bounds(c: &palisade::model::Constraints) -> Vec<String> {
    const TINY: &str = "000000000000000000001";
    let extend = |n: &serde_json::Number| {
        let text = n.to_string();
        let (mantissa, exp) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], &text[i..]),
            None => (text.as_str(), ""),
        };
        let point = if mantissa.contains('.') { "" } else { "." };
        format!("{mantissa}{point}{TINY}{exp}")
    };
    let mut out = Vec::new();
    if let Some(max) = c
        .max
        .as_ref()
        .filter(|n| n.as_f64().is_some_and(|f| f >= 0.0))
    {
        out.push(extend(max));
    }
    if let Some(min) = &c.min {
        match min.as_f64() {
            Some(0.0) => out.push(format!("-0.{TINY}")),
            Some(f) if f < 0.0 => out.push(extend(min)),
            _ => {}
        }
    }
    out
}
