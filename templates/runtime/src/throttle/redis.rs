//! The shared limiter: every bucket in one Redis, for every replica of
//! the service (the spec's `throttle: { redis: { url_env, on_error } }`).
//!
//! One check is one round trip: GCRA runs as one Lua script ([`GCRA`],
//! sent as `EVALSHA`, loaded again when Redis answers `NOSCRIPT`) on
//! Redis's own clock (`TIME`), so replicas whose clocks disagree still
//! count one bucket. Each bucket is one key, the memory limiter's key
//! prefixed `palisade:<service>:`, holding the bucket's theoretical
//! arrival time in microseconds; it expires (`PX`) when the bucket is
//! full again, so Redis forgets idle clients by itself and no key cap is
//! needed. The answer goes through `Decision::allow` and
//! `Decision::refuse`, like the memory limiter's, so the rate-limit
//! headers are the same.
//!
//! Invariants:
//! - no request waits for Redis longer than [`TIMEOUT`];
//! - after [`BREAKER_FAILURES`] failures in a row the breaker opens: for
//!   [`BREAKER_OPEN`] no request asks Redis, then one request asks (the
//!   probe) while the others go on without it; an answer closes the
//!   breaker, a failure opens it again. So a dead Redis costs one timeout
//!   per [`BREAKER_OPEN`], not one per request;
//! - while Redis does not answer, `on_error` decides: `local` counts in
//!   this process's [`MemoryLimiter`] (per replica, bounded like any
//!   memory limiter), `open` allows, `closed` answers [`Unavailable`]
//!   (503 with `Retry-After`); the degradation is logged at most once
//!   per [`LOG_EVERY`] (with the number of decisions since the last
//!   line), its end once, and `/health` reports it ([`Limiter::store`]);
//! - the URL, which may hold a password, is never logged nor shown in an
//!   error.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{
    Check, DEFAULT_MAX_KEYS, Decision, Limiter, MemoryLimiter, OnError, Rate, RedisSettings, Store,
    Unavailable,
};
use crate::config::ConfigError;

/// The longest a request waits for Redis: a check takes well under a
/// millisecond on a healthy Redis nearby, so 100 ms means it is down,
/// overloaded or far away, and the request goes on as `on_error` says.
pub const TIMEOUT: Duration = Duration::from_millis(100);

/// Failures in a row that open the breaker.
pub const BREAKER_FAILURES: u32 = 3;

/// How long an open breaker keeps requests from asking Redis before one
/// request probes it.
pub const BREAKER_OPEN: Duration = Duration::from_secs(3);

/// At most one log line per this interval while Redis does not answer.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// How long start-up waits for the first `PING`.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(2);

/// The bound on one connection attempt of the reconnecting client (in the
/// background: requests never wait longer than [`TIMEOUT`]).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// GCRA on one key, the same algorithm as governor's (the memory
/// limiter): `t` microseconds earn one request, a burst of `count` is
/// `tau = t * (count - 1)` of tolerance, the key holds the theoretical
/// arrival time `tat`. Refused while `now < tat - tau`; otherwise `tat`
/// becomes `max(tat, now) + t`. Numbers are written with `%.0f`, since
/// Lua's default conversion keeps 14 digits and a time in microseconds has
/// 16. Returns `{allowed, remaining, microseconds to wait}`.
pub const GCRA: &str = r"
local t = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local tau = t * (count - 1)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  tat = tonumber(stored) or now
end
local earliest = tat - tau
if now < earliest then
  return {0, 0, earliest - now}
end
local after = math.max(tat, now) + t
redis.call('SET', KEYS[1], string.format('%.0f', after),
  'PX', string.format('%.0f', math.ceil((after - now) / 1000)))
return {1, math.floor(math.min(now + tau + t - after, tau + t) / t), 0}
";

/// The key prefix of a service's buckets.
pub fn prefix(service: &str) -> String {
    format!("palisade:{service}:")
}

/// The limiter of [`RedisSettings`]: see the module documentation.
pub struct RedisLimiter {
    connection: ConnectionManager,
    script: redis::Script,
    /// `palisade:<service>:`.
    prefix: String,
    on_error: OnError,
    /// Used while Redis does not answer under `on_error: local`.
    fallback: MemoryLimiter,
    breaker: Breaker,
    log: Mutex<Log>,
    timeout: Duration,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("prefix", &self.prefix)
            .field("on_error", &self.on_error)
            .finish_non_exhaustive()
    }
}

/// When the degradation was last logged, and how many decisions were made
/// without Redis since.
#[derive(Default)]
struct Log {
    last: Option<Instant>,
    since: u64,
}

/// Consecutive failures, and whether requests may ask Redis.
struct Breaker {
    failures: AtomicU32,
    /// `Some`: open until then (then one probe may ask).
    open_until: Mutex<Option<Instant>>,
    /// A probe is asking.
    probing: AtomicBool,
    open_for: Duration,
}

/// What the breaker lets one request do.
enum Gate {
    Ask,
    /// Ask as the one probe of an open breaker.
    Probe,
    /// Do not ask; Redis is asked again after this.
    Skip(Duration),
}

/// Held by the probe: however the probe ends (even dropped with its
/// request), another request may probe after it.
struct Probing<'a>(&'a AtomicBool);

impl Drop for Probing<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Breaker {
    fn new(open_for: Duration) -> Breaker {
        Breaker {
            failures: AtomicU32::new(0),
            open_until: Mutex::new(None),
            probing: AtomicBool::new(false),
            open_for,
        }
    }

    fn gate(&self) -> Gate {
        let Some(until) = *lock(&self.open_until) else {
            return Gate::Ask;
        };
        let now = Instant::now();
        if now < until {
            return Gate::Skip(until - now);
        }
        match self
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Gate::Probe,
            Err(_) => Gate::Skip(TIMEOUT),
        }
    }

    /// Redis answered; whether it had not before.
    fn answered(&self) -> bool {
        let was = self.failures.swap(0, Ordering::AcqRel) > 0;
        *lock(&self.open_until) = None;
        was
    }

    /// Redis did not answer (`probe`: the probe's request). Returns how
    /// long until Redis is asked again.
    fn failed(&self, probe: bool) -> Duration {
        let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if probe || n >= BREAKER_FAILURES {
            *lock(&self.open_until) = Some(Instant::now() + self.open_for);
            return self.open_for;
        }
        Duration::ZERO
    }

    fn healthy(&self) -> bool {
        self.failures.load(Ordering::Acquire) == 0
    }
}

/// Whether `e` says the configuration is wrong (a password, a
/// permission, a URL the client cannot use) rather than that Redis is
/// down or busy now.
fn misconfigured(e: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    matches!(
        e.kind(),
        ErrorKind::AuthenticationFailed
            | ErrorKind::InvalidClientConfig
            | ErrorKind::Server(ServerErrorKind::NoPerm)
    ) || matches!(e.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"))
}

impl RedisLimiter {
    /// The limiter of `settings` for the service `service`, on Redis at
    /// `url` (see [`RedisSettings::url`]), asked once with `PING` (at most
    /// [`STARTUP_TIMEOUT`]). Refused (a [`ConfigError`] naming the
    /// variable) when the URL cannot be used or Redis refuses us (a
    /// password, a permission): that would not heal by itself. A Redis
    /// that does not answer is not refused: the server starts with the
    /// breaker open and does as `on_error` says until Redis answers, as
    /// it would had Redis gone down a second after start (so a replica
    /// restarted during an outage serves instead of failing).
    pub async fn connect(
        settings: RedisSettings,
        service: &str,
        url: &str,
    ) -> Result<RedisLimiter, ConfigError> {
        let var = settings.url_env;
        let invalid = |reason: String| ConfigError::Invalid { var, reason };
        if url.starts_with("rediss://") {
            // rustls with ring, whatever else the process links: redis-rs
            // takes the process's default provider (already installed is
            // fine). rustls 0.23.48 deprecates ring's provider for lacking
            // post-quantum key exchange; aws-lc-rs, which has it, needs
            // cmake and doubles a clean build here, so ring it stays.
            #[allow(deprecated)]
            let provider = rustls::crypto::ring::default_provider();
            let _ = provider.install_default();
        }
        let client = redis::Client::open(url).map_err(|_| {
            invalid(
                "it cannot be read as a Redis URL (redis://[user:password@]host[:port][/db])"
                    .into(),
            )
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| invalid(format!("the Redis client cannot start: {:?}", e.kind())))?;
        let limiter = RedisLimiter::new(connection, settings.on_error, &prefix(service));
        let mut conn = limiter.connection.clone();
        let ping = redis::cmd("PING");
        match tokio::time::timeout(STARTUP_TIMEOUT, ping.query_async::<String>(&mut conn)).await {
            Ok(Ok(_)) => {
                tracing::info!(
                    on_error = settings.on_error.name(),
                    "rate limits are shared in Redis"
                );
            }
            Ok(Err(e)) if misconfigured(&e) => {
                return Err(invalid(format!("Redis refused this server: {e}")));
            }
            answer => {
                let why = match answer {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {} s", STARTUP_TIMEOUT.as_secs()),
                };
                limiter.breaker.failed(true);
                limiter.note(&why);
            }
        }
        Ok(limiter)
    }

    fn new(connection: ConnectionManager, on_error: OnError, prefix: &str) -> RedisLimiter {
        RedisLimiter {
            connection,
            script: redis::Script::new(GCRA),
            prefix: prefix.to_owned(),
            on_error,
            fallback: MemoryLimiter::new(DEFAULT_MAX_KEYS),
            breaker: Breaker::new(BREAKER_OPEN),
            log: Mutex::default(),
            timeout: TIMEOUT,
        }
    }

    /// The GCRA script on `key`'s bucket, within the timeout.
    async fn ask(&self, key: &str, rate: Rate) -> Result<Decision, String> {
        let t = u64::try_from(rate.period().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let count = rate.count.max(1);
        let mut invocation = self.script.key(format!("{}{key}", self.prefix));
        invocation.arg(t).arg(count);
        let mut conn = self.connection.clone();
        let answer = tokio::time::timeout(
            self.timeout,
            invocation.invoke_async::<(i64, i64, i64)>(&mut conn),
        )
        .await;
        match answer {
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok((1, remaining, _))) => Ok(Decision::allow(
                rate,
                u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
            )),
            Ok(Ok((_, _, wait))) => Ok(Decision::refuse(
                rate,
                Duration::from_micros(u64::try_from(wait.max(0)).unwrap_or(0)),
            )),
        }
    }

    /// The decision while Redis does not answer, as `on_error` says;
    /// Redis is asked again after `again`.
    fn without_redis(
        &self,
        key: &str,
        rate: Rate,
        again: Duration,
    ) -> Result<Decision, Unavailable> {
        match self.on_error {
            OnError::Local => Ok(self.fallback.check(key, rate)),
            OnError::Open => Ok(Decision::allow(rate, rate.count)),
            OnError::Closed => Err(Unavailable {
                retry_after_seconds: (again.as_secs() + u64::from(again.subsec_nanos() > 0)).max(1),
            }),
        }
    }

    /// Logs that Redis does not answer, at most once per [`LOG_EVERY`].
    fn note(&self, why: &str) {
        let mut log = lock(&self.log);
        let now = Instant::now();
        if log.last.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            log.since += 1;
            return;
        }
        let since = std::mem::take(&mut log.since);
        log.last = Some(now);
        drop(log);
        let meaning = match self.on_error {
            OnError::Local => "limits are counted in each replica's memory until it answers",
            OnError::Open => "requests are allowed without limits until it answers",
            OnError::Closed => "requests are refused with 503 until it answers",
        };
        tracing::warn!(
            on_error = self.on_error.name(),
            error = why,
            decisions_without_redis = since,
            "the rate limiter's Redis does not answer: {meaning}"
        );
    }

    /// Counts a decision made without asking Redis (breaker open).
    fn skipped(&self) {
        let mut log = lock(&self.log);
        if log.last.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            log.since += 1;
            return;
        }
        drop(log);
        self.note("the breaker is open");
    }
}

impl Limiter for RedisLimiter {
    fn check<'a>(&'a self, key: &'a str, rate: Rate) -> Check<'a> {
        Box::pin(async move {
            let probe = match self.breaker.gate() {
                Gate::Skip(again) => {
                    self.skipped();
                    return self.without_redis(key, rate, again);
                }
                Gate::Ask => None,
                Gate::Probe => Some(Probing(&self.breaker.probing)),
            };
            match self.ask(key, rate).await {
                Ok(decision) => {
                    if self.breaker.answered() {
                        *lock(&self.log) = Log::default();
                        tracing::warn!("the rate limiter's Redis answers again: limits are shared");
                    }
                    Ok(decision)
                }
                Err(why) => {
                    let again = self.breaker.failed(probe.is_some());
                    drop(probe);
                    self.note(&why);
                    self.without_redis(key, rate, again.max(Duration::from_secs(1)))
                }
            }
        })
    }

    fn retain_recent(&self) {
        self.fallback.retain_recent();
    }

    fn len(&self) -> usize {
        self.fallback.len()
    }

    fn store(&self) -> Store {
        if self.breaker.healthy() {
            Store::Shared
        } else {
            Store::Unreachable(self.on_error)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Against a real Redis: the machine's (`REDIS_URL`, else
    //! redis://127.0.0.1:6379), each test under a prefix of its own, so
    //! runs never share a bucket; and, for a Redis that stops, a private
    //! `redis-server` child on a free port (never the shared one). Where
    //! neither is there, a test says that it was skipped and how to run
    //! it, and passes.

    use super::*;
    use std::process::{Child, Command, Stdio};

    /// The shared Redis's URL, or `None` (with a message) when it does
    /// not answer.
    pub(crate) async fn shared_redis(test: &str) -> Option<String> {
        let url =
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let answers = async {
            let client = redis::Client::open(url.as_str()).ok()?;
            let mut c = client.get_multiplexed_async_connection().await.ok()?;
            redis::cmd("PING").query_async::<String>(&mut c).await.ok()
        };
        match tokio::time::timeout(Duration::from_secs(2), answers).await {
            Ok(Some(_)) => Some(url),
            _ => {
                eprintln!(
                    "SKIPPED {test}: no Redis answers at {url}; start one (redis-server) or set \
                     REDIS_URL to run this test"
                );
                None
            }
        }
    }

    /// A `redis-server` of the test's own, killed when dropped.
    pub(crate) struct PrivateRedis {
        child: Option<Child>,
        pub port: u16,
        password: Option<&'static str>,
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port")
    }

    impl PrivateRedis {
        /// Starts one on a free port; `None` (with a message) when there
        /// is no `redis-server` (or `REDIS_SERVER`) to run.
        pub(crate) fn start(test: &str) -> Option<PrivateRedis> {
            PrivateRedis::start_with(test, free_port(), None)
        }

        fn start_with(
            test: &str,
            port: u16,
            password: Option<&'static str>,
        ) -> Option<PrivateRedis> {
            let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
            let mut cmd = Command::new(&binary);
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"]);
            if let Some(p) = password {
                cmd.args(["--requirepass", p]);
            }
            let child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let Ok(child) = child else {
                eprintln!(
                    "SKIPPED {test}: cannot run `{binary}`; install Redis (redis-server) or set \
                     REDIS_SERVER to its path to run this test"
                );
                return None;
            };
            let redis = PrivateRedis {
                child: Some(child),
                port,
                password,
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "{binary} did not start on {port}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(redis)
        }

        /// The same server again, on the same port.
        pub(crate) fn restart(&mut self, test: &str) {
            self.stop();
            let again = PrivateRedis::start_with(test, self.port, self.password)
                .expect("it started before");
            *self = again;
        }

        pub(crate) fn url(&self) -> String {
            format!("redis://127.0.0.1:{}", self.port)
        }

        /// Kills it (SIGKILL: no goodbye to its clients).
        pub(crate) fn stop(&mut self) {
            if let Some(mut child) = self.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    impl Drop for PrivateRedis {
        fn drop(&mut self) {
            self.stop();
        }
    }

    fn settings(on_error: OnError) -> RedisSettings {
        RedisSettings {
            url_env: "TEST_REDIS_URL",
            on_error,
        }
    }

    /// A service name nobody used: its keys are its own.
    fn service() -> String {
        format!("test-{}", uuid::Uuid::new_v4().simple())
    }

    /// A limiter on `url` that has not asked Redis yet, whose breaker
    /// stays open for `open_for`.
    pub(crate) fn unchecked(url: &str, on_error: OnError, open_for: Duration) -> RedisLimiter {
        let client = redis::Client::open(url).unwrap();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let connection = ConnectionManager::new_lazy_with_config(client, config).unwrap();
        let mut limiter = RedisLimiter::new(connection, on_error, &prefix(&service()));
        limiter.breaker = Breaker::new(open_for);
        limiter
    }

    async fn check(l: &RedisLimiter, key: &str, rate: Rate) -> Result<Decision, Unavailable> {
        Limiter::check(l, key, rate).await
    }

    #[tokio::test]
    async fn gcra_in_redis_decides_like_the_memory_limiter() {
        let Some(url) = shared_redis("gcra_in_redis_decides_like_the_memory_limiter").await else {
            return;
        };
        let service = service();
        let l = RedisLimiter::connect(settings(OnError::Closed), &service, &url)
            .await
            .unwrap();
        assert_eq!(l.store(), Store::Shared);
        let memory = MemoryLimiter::new(100);
        let rate = Rate::new(3, 60);
        for i in 0..5 {
            let shared = check(&l, "anon:default:192.0.2.1", rate).await.unwrap();
            let local = memory.check("anon:default:192.0.2.1", rate);
            assert_eq!(shared, local, "request {i}");
        }
        // One key, in the service's namespace, expiring when the bucket
        // is full again (3 requests, 20 s each: within a minute).
        let mut c = redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let key = format!("palisade:{service}:anon:default:192.0.2.1");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut c)
            .await
            .unwrap();
        assert!((40_000..=60_000).contains(&ttl), "PTTL {ttl}");
        // A fast rate's key is gone once its bucket refills.
        let fast = Rate::new(2, 1);
        assert!(check(&l, "user:default:u", fast).await.unwrap().allowed);
        let key = format!("palisade:{service}:user:default:u");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut c)
            .await
            .unwrap();
        assert!((1..=500).contains(&ttl), "PTTL {ttl}");
        tokio::time::sleep(Duration::from_millis(600)).await;
        let exists: i64 = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(exists, 0, "an idle bucket leaves Redis by itself");
    }

    /// Two replicas on one Redis count one bucket: alternating between
    /// them gets the declared rate, not twice it.
    #[tokio::test]
    async fn replicas_share_each_bucket() {
        let Some(url) = shared_redis("replicas_share_each_bucket").await else {
            return;
        };
        let service = service();
        let a = RedisLimiter::connect(settings(OnError::Local), &service, &url)
            .await
            .unwrap();
        let b = RedisLimiter::connect(settings(OnError::Local), &service, &url)
            .await
            .unwrap();
        let rate = Rate::new(10, 3600);
        let mut allowed = 0;
        for i in 0..30 {
            let l = if i % 2 == 0 { &a } else { &b };
            allowed += usize::from(check(l, "user:default:alice", rate).await.unwrap().allowed);
        }
        assert_eq!(allowed, 10);
        let other = check(&b, "user:default:bob", rate).await.unwrap();
        assert_eq!(
            (other.allowed, other.remaining),
            (true, 9),
            "bob has his own"
        );
    }

    #[tokio::test]
    async fn the_variable_must_hold_a_redis_url() {
        let s = settings(OnError::Local);
        let env = |value: Option<&'static str>| {
            move |_: &str| {
                value
                    .map(str::to_owned)
                    .ok_or(std::env::VarError::NotPresent)
            }
        };
        let e = s.url(env(None)).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Missing {
                    var: "TEST_REDIS_URL",
                    ..
                }
            ),
            "{e}"
        );
        assert!(s.url(env(Some(" "))).is_err());
        let e = s
            .url(env(Some("http://user:hunter2@cache:6379")))
            .unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("TEST_REDIS_URL is invalid"), "{text}");
        assert!(
            !text.contains("hunter2"),
            "the value is never shown: {text}"
        );
        assert!(s.url(env(Some("127.0.0.1:6379"))).is_err());
        assert!(s.url(env(Some("redis://127.0.0.1:6379/2"))).is_ok());
        assert!(s.url(env(Some("rediss://cache.internal:6380"))).is_ok());
    }

    /// A Redis that refuses us (a password) stops the start; one that
    /// does not answer does not: the replica starts degraded.
    #[tokio::test]
    async fn start_up_refuses_a_wrong_password_not_a_missing_redis() {
        let test = "start_up_refuses_a_wrong_password_not_a_missing_redis";
        let Some(redis) = PrivateRedis::start_with(test, free_port(), Some("s3cret-pass")) else {
            return;
        };
        for url in [
            redis.url(),
            format!("redis://:wrong-pass@127.0.0.1:{}", redis.port),
        ] {
            let e = RedisLimiter::connect(settings(OnError::Local), &service(), &url)
                .await
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("TEST_REDIS_URL is invalid: Redis refused"),
                "{e}"
            );
            assert!(!e.contains("wrong-pass"), "{e}");
        }
        let good = format!("redis://:s3cret-pass@127.0.0.1:{}", redis.port);
        let l = RedisLimiter::connect(settings(OnError::Local), &service(), &good)
            .await
            .unwrap();
        assert_eq!(l.store(), Store::Shared);
        let nobody = format!("redis://127.0.0.1:{}", free_port());
        let started = Instant::now();
        let l = RedisLimiter::connect(settings(OnError::Local), &service(), &nobody)
            .await
            .unwrap();
        assert!(started.elapsed() <= STARTUP_TIMEOUT + Duration::from_millis(500));
        assert_eq!(l.store(), Store::Unreachable(OnError::Local));
    }

    /// Redis stopped mid-run, for each `on_error`: `local` counts per
    /// replica and never fails, `open` allows, `closed` is unavailable
    /// with a retry time; and once Redis is back, limits are shared again.
    #[tokio::test]
    async fn each_on_error_does_what_it_says_when_redis_stops() {
        let test = "each_on_error_does_what_it_says_when_redis_stops";
        let Some(mut redis) = PrivateRedis::start(test) else {
            return;
        };
        let open_for = Duration::from_millis(300);
        let modes = [OnError::Local, OnError::Open, OnError::Closed];
        let limiters: Vec<RedisLimiter> = modes
            .iter()
            .map(|&m| unchecked(&redis.url(), m, open_for))
            .collect();
        let rate = Rate::new(2, 3600);
        for l in &limiters {
            let d = check(l, "user:default:carol", rate).await.unwrap();
            assert_eq!((d.allowed, d.remaining), (true, 1), "{:?}", l.on_error);
            assert_eq!(l.store(), Store::Shared);
        }
        redis.stop();
        for l in &limiters {
            let answers: Vec<_> = checks(l, "user:default:carol", rate, 6).await;
            match l.on_error {
                OnError::Local => {
                    // The replica's own bucket, fresh: 2 allowed, then 429s.
                    let allowed: Vec<bool> = answers.iter().map(|a| a.unwrap().allowed).collect();
                    assert_eq!(allowed, [true, true, false, false, false, false]);
                }
                OnError::Open => {
                    assert!(
                        answers.iter().all(|a| a.is_ok_and(|d| d.allowed)),
                        "{answers:?}"
                    );
                }
                OnError::Closed => {
                    for a in &answers {
                        let u = a.unwrap_err();
                        assert!((1..=2).contains(&u.retry_after_seconds), "{u:?}");
                    }
                }
            }
            assert_eq!(l.store(), Store::Unreachable(l.on_error));
        }
        redis.restart(test);
        tokio::time::sleep(open_for + Duration::from_millis(50)).await;
        for l in &limiters {
            // The probe may meet the reconnection still under way.
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let fresh = check(l, "user:default:dave", rate).await;
                if l.store() == Store::Shared {
                    assert!(
                        fresh.is_ok_and(|d| d.allowed && d.remaining == 1),
                        "{fresh:?}"
                    );
                    break;
                }
                assert!(Instant::now() < deadline, "{:?}: Redis is back", l.on_error);
                tokio::time::sleep(open_for).await;
            }
        }
    }

    /// `n` checks, one after the other.
    async fn checks(
        l: &RedisLimiter,
        key: &str,
        rate: Rate,
        n: usize,
    ) -> Vec<Result<Decision, Unavailable>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(check(l, key, rate).await);
        }
        out
    }

    /// A Redis that accepts connections and never answers: each request
    /// waits at most the timeout, and once the breaker is open, none
    /// waits until it is time to probe again, when one does.
    #[tokio::test]
    async fn the_breaker_keeps_a_silent_redis_off_the_request_path() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let held = std::thread::spawn(move || {
            let mut kept = Vec::new();
            for s in silent.incoming().take(4).flatten() {
                kept.push(s);
            }
            std::thread::sleep(Duration::from_secs(10));
        });
        let open_for = Duration::from_millis(800);
        let l = unchecked(
            &format!("redis://127.0.0.1:{port}"),
            OnError::Open,
            open_for,
        );
        let rate = Rate::new(5, 60);
        for i in 0..BREAKER_FAILURES {
            let started = Instant::now();
            assert!(check(&l, "anon:default:x", rate).await.unwrap().allowed);
            let took = started.elapsed();
            assert!(
                took >= TIMEOUT - Duration::from_millis(10),
                "request {i}: {took:?}"
            );
            assert!(took < TIMEOUT * 3, "request {i} waited {took:?}");
        }
        let started = Instant::now();
        for _ in 0..50 {
            assert!(check(&l, "anon:default:x", rate).await.unwrap().allowed);
        }
        let took = started.elapsed();
        // Each would wait the timeout were Redis asked: 5 s for 50.
        assert!(
            took < TIMEOUT * 5,
            "50 requests with the breaker open: {took:?}"
        );
        assert_eq!(l.store(), Store::Unreachable(OnError::Open));
        tokio::time::sleep(open_for).await;
        let started = Instant::now();
        let (probe, other) = tokio::join!(check(&l, "anon:default:x", rate), async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let started = Instant::now();
            let d = check(&l, "anon:default:x", rate).await;
            (d, started.elapsed())
        });
        assert!(probe.unwrap().allowed && other.0.unwrap().allowed);
        assert!(
            started.elapsed() >= TIMEOUT - Duration::from_millis(10),
            "one request probes"
        );
        assert!(
            other.1 < TIMEOUT / 2,
            "the others do not wait: {:?}",
            other.1
        );
        drop(held);
    }
}
