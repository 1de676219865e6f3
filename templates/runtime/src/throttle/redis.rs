//! The shared limiter: every bucket in one Redis, for every replica of
//! the service (the spec's `throttle: { redis: { url_env, on_error } }`).
//!
//! One check is one round trip: GCRA runs as one Lua script ([`GCRA`],
//! sent as `EVALSHA`, loaded again when Redis answers `NOSCRIPT`) on
//! Redis's own clock (`TIME`), so replicas whose clocks disagree still
//! count one bucket. Each bucket is one key,
//! `palisade:<service>:<count>/<seconds>:` and the memory limiter's key
//! ([`RedisLimiter::key`]), holding the bucket's theoretical arrival time
//! in microseconds; it expires (`PX`) when the bucket is full again, so
//! Redis forgets idle clients by itself and no key cap is needed. The
//! rate is part of the key because the stored time only means something
//! under the rate that wrote it: a deploy that tightens a rate starts
//! fresh buckets instead of reading a looser rate's time as a debt (which
//! would refuse a client for up to the old window). While replicas of
//! both versions serve, each counts its own rate's buckets. The answer
//! goes through `Decision::allow` and `Decision::refuse`, like the memory
//! limiter's, so the rate-limit headers are the same.
//!
//! Invariants:
//! - no request waits for Redis longer than [`TIMEOUT`];
//! - the breaker opens after [`BREAKER_FAILURES`] failures in a row, or
//!   when at least [`BREAKER_FAILURE_PERCENT`] % of the (at least
//!   [`BREAKER_MIN_CALLS`]) checks of a [`BREAKER_WINDOW`] failed (a
//!   Redis that times out on every third call never fails three times in
//!   a row); for [`BREAKER_OPEN`] no request asks Redis, then one request
//!   asks (the probe) while the others go on without it; only the probe's
//!   answer closes the breaker (an answer to a request sent before it
//!   opened does not), a failed probe opens it again. So a dead Redis
//!   costs one timeout per [`BREAKER_OPEN`], not one per request. The
//!   breaker is atomics only: no lock on the request path;
//! - every time the breaker opens, the connection is replaced by a new
//!   one ([`Connection::renew`]), which connects in the background before
//!   the probe: redis-rs's `ConnectionManager` reconnects by itself only
//!   after an I/O error or a dropped connection, and so never after a
//!   request our timeout gave up on (a silent network), an error that is
//!   not about the connection (`READONLY` from a primary that became a
//!   replica in a failover, while the address now leads to the new
//!   primary), or an error while connecting that is not an I/O error
//!   (`BUSY` to `SELECT`), which its shared connection future would hand
//!   to every later request. The socket has `TCP_NODELAY`, keepalive and
//!   (on Linux) `TCP_USER_TIMEOUT`, so the kernel also gives up on a peer
//!   that stopped acknowledging within seconds rather than about 15
//!   minutes;
//! - while Redis does not answer, `on_error` decides: `local` counts in
//!   this process's [`MemoryLimiter`] (per replica, bounded like any
//!   memory limiter), `open` allows, `closed` answers [`Unavailable`]
//!   (503 with `Retry-After`); the degradation is logged at most once
//!   per [`LOG_EVERY`] (with the number of decisions since the last
//!   line), its end once, and `/health` reports it ([`Limiter::store`]);
//! - the URL, which may hold a password, is never logged nor shown in an
//!   error.
//!
//! Redis must keep the keys: a Redis that evicts under memory pressure
//! with an `allkeys-*` policy may drop a throttled client's key, which
//! gives that client a full bucket. Use a Redis of the limiter's own, or
//! `maxmemory-policy volatile-ttl` (every bucket key has a time to live;
//! the keys evicted first are those nearest to full anyway) or
//! `noeviction` (a full Redis then fails checks, and `on_error` applies).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::io::tcp::{TcpSettings, socket2::TcpKeepalive};

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

/// The window over which the breaker counts checks and failures: when one
/// ends with at least [`BREAKER_MIN_CALLS`] checks of which at least
/// [`BREAKER_FAILURE_PERCENT`] % failed, the breaker opens.
pub const BREAKER_WINDOW: Duration = Duration::from_secs(5);

/// The fewest checks in a [`BREAKER_WINDOW`] whose failure rate is judged.
pub const BREAKER_MIN_CALLS: u64 = 20;

/// The share of failed checks in a [`BREAKER_WINDOW`] that opens the
/// breaker: each failure costs its request [`TIMEOUT`], so a Redis that
/// fails a quarter of the checks adds 25 ms to the average request.
pub const BREAKER_FAILURE_PERCENT: u64 = 25;

/// How long an open breaker keeps requests from asking Redis before one
/// request probes it.
pub const BREAKER_OPEN: Duration = Duration::from_secs(3);

/// At most one log line per this interval while Redis does not answer.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// How long start-up waits for the first check.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(2);

/// The bound on one connection attempt of the reconnecting client (in the
/// background: requests never wait longer than [`TIMEOUT`]).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long sent data may stay unacknowledged before the kernel closes
/// the connection (`TCP_USER_TIMEOUT`, Linux): a healthy Redis nearby
/// acknowledges in a millisecond.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(2);

/// Keepalive probes start after this long without traffic, and repeat at
/// [`KEEPALIVE_INTERVAL`]: an idle connection to a peer that vanished is
/// noticed within seconds.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);

/// GCRA on one key, the same algorithm as governor's (the memory
/// limiter): `t` microseconds earn one request, a burst of `count` is
/// `tau = t * (count - 1)` of tolerance, the key holds the theoretical
/// arrival time `tat`. Refused while `now < tat - tau`; otherwise `tat`
/// becomes `max(tat, now) + t`. Numbers are written with `%.0f`, since
/// Lua's default conversion keeps 14 digits and a time in microseconds has
/// 16. `redis.replicate_commands()` lets a script write after `TIME` on
/// Redis before 5 (it is the default, and a no-op, since). Returns
/// `{allowed, remaining, microseconds to wait}`.
pub const GCRA: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
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

/// The microseconds that earn back one request of `rate` (the script's
/// `t`), rounded up: a bucket never refills faster than declared.
fn emission_micros(rate: Rate) -> u64 {
    let window = u64::from(rate.per_seconds.max(1)) * 1_000_000;
    window.div_ceil(u64::from(rate.count.max(1))).max(1)
}

/// The socket options of every connection to Redis (see the module
/// documentation).
fn tcp_settings() -> TcpSettings {
    let keepalive = TcpKeepalive::new().with_time(KEEPALIVE_IDLE);
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
    let keepalive = keepalive.with_interval(KEEPALIVE_INTERVAL);
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "fuchsia")))]
    let _ = KEEPALIVE_INTERVAL;
    let settings = TcpSettings::default()
        .set_nodelay(true)
        .set_keepalive(keepalive);
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
    let settings = settings.set_user_timeout(TCP_USER_TIMEOUT);
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "fuchsia")))]
    let _ = TCP_USER_TIMEOUT;
    settings
}

/// The connection to Redis: redis-rs's reconnecting `ConnectionManager`,
/// held so that it can be replaced by a new one when it stops answering
/// ([`Connection::renew`]). Requests read it without a lock.
struct Connection {
    client: redis::Client,
    config: ConnectionManagerConfig,
    current: ArcSwap<ConnectionManager>,
    /// How many times the connection was replaced (for tests and logs).
    renewals: AtomicU64,
}

impl Connection {
    /// A connection to `url` (not made yet: it is made by the first
    /// request), with [`tcp_settings`]. The error is the client's kind
    /// only: its text could quote the URL.
    fn open(url: &str, config: ConnectionManagerConfig) -> Result<Connection, String> {
        let info = redis::IntoConnectionInfo::into_connection_info(url)
            .map_err(|_| {
                "it cannot be read as a Redis URL (redis://[user:password@]host[:port][/db])"
                    .to_owned()
            })?
            .set_tcp_settings(tcp_settings());
        let client = redis::Client::open(info)
            .map_err(|e| format!("the Redis client cannot start: {:?}", e.kind()))?;
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(|e| format!("the Redis client cannot start: {:?}", e.kind()))?;
        Ok(Connection {
            client,
            config,
            current: ArcSwap::from_pointee(manager),
            renewals: AtomicU64::new(0),
        })
    }

    /// The connection requests use now.
    fn current(&self) -> Arc<ConnectionManager> {
        self.current.load_full()
    }

    /// Replaces `failed` by a new connection, unless another request
    /// already did, and starts connecting it in the background (so the
    /// probe does not spend its [`TIMEOUT`] connecting). Requests still
    /// using `failed` finish on it; its socket closes when the last one
    /// lets go.
    fn renew(&self, failed: &Arc<ConnectionManager>) {
        let Ok(fresh) =
            ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
        else {
            return;
        };
        let fresh = Arc::new(fresh);
        let before = self.current.compare_and_swap(failed, Arc::clone(&fresh));
        if !Arc::ptr_eq(&before, failed) {
            return;
        }
        self.renewals.fetch_add(1, Ordering::Relaxed);
        let mut warm = ConnectionManager::clone(&fresh);
        tokio::spawn(async move {
            let ping = redis::cmd("PING");
            let _ =
                tokio::time::timeout(STARTUP_TIMEOUT, ping.query_async::<String>(&mut warm)).await;
        });
    }
}

/// The limiter of [`RedisSettings`]: see the module documentation.
pub struct RedisLimiter {
    connection: Connection,
    script: redis::Script,
    /// `palisade:<service>:`.
    prefix: String,
    on_error: OnError,
    /// Used while Redis does not answer under `on_error: local`.
    fallback: MemoryLimiter,
    breaker: Breaker,
    log: Log,
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

/// Microseconds since `epoch`, plus one: 0 stays free to mean "never".
fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// When the degradation was last logged, and how many decisions were made
/// without Redis since (atomics: every request of an open breaker counts).
struct Log {
    epoch: Instant,
    /// [`micros_since`] the epoch of the last line; 0: none yet.
    last: AtomicU64,
    since: AtomicU64,
}

impl Log {
    fn new() -> Log {
        Log {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
            since: AtomicU64::new(0),
        }
    }

    /// Whether a line is due now: `Some(decisions since the last line)`
    /// for the one caller that writes it, `None` (the decision counted)
    /// for the others.
    fn due(&self) -> Option<u64> {
        let now = micros_since(self.epoch);
        let last = self.last.load(Ordering::Acquire);
        if last != 0 && now.saturating_sub(last) < micros(LOG_EVERY) {
            self.since.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        match self
            .last
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Some(self.since.swap(0, Ordering::Relaxed)),
            Err(_) => {
                self.since.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Redis answers again: the next degradation is logged at once.
    fn reset(&self) {
        self.last.store(0, Ordering::Release);
        self.since.store(0, Ordering::Relaxed);
    }
}

/// Whether requests may ask Redis: failures in a row, the checks and
/// failures of the current window, and how long the breaker stays open.
/// Atomics only. Counts that race with the end of a window may land in
/// either window: the failure rate is a judgement, not an account.
struct Breaker {
    epoch: Instant,
    failures: AtomicU32,
    /// [`micros_since`] the epoch until which the breaker is open (then
    /// one probe may ask); 0: closed.
    open_until: AtomicU64,
    /// A probe is asking.
    probing: AtomicBool,
    /// Where the current window started ([`micros_since`] the epoch).
    window_start: AtomicU64,
    /// Checks of the current window in the high 32 bits, failures in the
    /// low 32 (one `fetch_add` counts both; failures never exceed checks).
    window: AtomicU64,
    open_for: Duration,
    window_length: Duration,
}

/// What the breaker lets one request do.
enum Gate {
    Ask,
    /// Ask as the one probe of an open breaker.
    Probe,
    /// Do not ask; Redis is asked again after this.
    Skip(Duration),
}

/// What an answer did to the breaker.
enum Answered {
    Fine,
    /// Redis had failed before: the degradation is over.
    Recovered,
    /// The window that just ended failed too often: the breaker opened.
    Opened,
}

/// Held by the probe: however the probe ends (even dropped with its
/// request), another request may probe after it.
struct Probing<'a>(&'a AtomicBool);

impl Drop for Probing<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Breaker {
    fn new(open_for: Duration, window_length: Duration) -> Breaker {
        let epoch = Instant::now();
        Breaker {
            epoch,
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            probing: AtomicBool::new(false),
            window_start: AtomicU64::new(micros_since(epoch)),
            window: AtomicU64::new(0),
            open_for,
            window_length,
        }
    }

    fn now(&self) -> u64 {
        micros_since(self.epoch)
    }

    fn gate(&self) -> Gate {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return Gate::Ask;
        }
        let now = self.now();
        if now < until {
            return Gate::Skip(Duration::from_micros(until - now));
        }
        match self
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Gate::Probe,
            Err(_) => Gate::Skip(TIMEOUT),
        }
    }

    /// Counts one check in the current window; when that window is over,
    /// the first check after it starts the next one and says whether the
    /// finished window failed too often.
    fn record(&self, failed: bool) -> bool {
        let one = (1 << 32) | u64::from(failed);
        let now = self.now();
        let start = self.window_start.load(Ordering::Acquire);
        if now.saturating_sub(start) < micros(self.window_length)
            || self
                .window_start
                .compare_exchange(start, now, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            self.window.fetch_add(one, Ordering::AcqRel);
            return false;
        }
        let finished = self.window.swap(one, Ordering::AcqRel);
        let (calls, failures) = (finished >> 32, finished & u64::from(u32::MAX));
        calls >= BREAKER_MIN_CALLS && failures * 100 >= calls * BREAKER_FAILURE_PERCENT
    }

    /// Opens the breaker for `open_for`, with a fresh window for after.
    fn open(&self) -> Duration {
        let now = self.now();
        self.window.store(0, Ordering::Release);
        self.window_start.store(now, Ordering::Release);
        self.open_until
            .store(now.saturating_add(micros(self.open_for)), Ordering::Release);
        self.open_for
    }

    /// Redis answered (`probe`: the probe's request). Only the probe
    /// closes an open breaker: an answer to a request sent before it
    /// opened says nothing of now.
    fn answered(&self, probe: bool) -> Answered {
        if self.record(false) && !probe {
            self.open();
            return Answered::Opened;
        }
        if probe {
            self.failures.store(0, Ordering::Release);
            self.window.store(0, Ordering::Release);
            self.window_start.store(self.now(), Ordering::Release);
            self.open_until.store(0, Ordering::Release);
            return Answered::Recovered;
        }
        if self.open_until.load(Ordering::Acquire) == 0
            && self.failures.swap(0, Ordering::AcqRel) > 0
        {
            return Answered::Recovered;
        }
        Answered::Fine
    }

    /// Redis did not answer (`probe`: the probe's request). Returns
    /// `Some(how long until Redis is asked again)` when this failure
    /// opened the breaker.
    fn failed(&self, probe: bool) -> Option<Duration> {
        let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        let too_often = self.record(true);
        let closed = self.open_until.load(Ordering::Acquire) == 0;
        if probe || (closed && (n >= BREAKER_FAILURES || too_often)) {
            return Some(self.open());
        }
        None
    }

    fn healthy(&self) -> bool {
        self.open_until.load(Ordering::Acquire) == 0 && self.failures.load(Ordering::Acquire) == 0
    }
}

/// Whether `e` says the configuration is wrong (a password, a
/// permission, a URL the client cannot use, a replica or a cluster node
/// where a primary outside any cluster is needed) rather than that Redis
/// is down or busy now.
fn misconfigured(e: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    matches!(
        e.kind(),
        ErrorKind::AuthenticationFailed
            | ErrorKind::InvalidClientConfig
            | ErrorKind::Server(
                ServerErrorKind::NoPerm
                    | ServerErrorKind::ReadOnly
                    | ServerErrorKind::Moved
                    | ServerErrorKind::Ask
            )
    ) || matches!(
        e.code(),
        Some("NOAUTH" | "WRONGPASS" | "NOPERM" | "READONLY" | "MOVED" | "ASK")
    )
}

/// Why a check got no decision from Redis.
enum Failure {
    /// No answer within the timeout.
    Timeout(Duration),
    Redis(redis::RedisError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout(t) => write!(f, "no answer within {} ms", t.as_millis()),
            Failure::Redis(e) => write!(f, "{e}"),
        }
    }
}

/// The reconnecting client's settings: connection attempts bounded by
/// [`CONNECT_TIMEOUT`] and retried once; requests bound themselves.
fn manager_config(max_delay: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(CONNECT_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(max_delay)
}

impl RedisLimiter {
    /// The limiter of `settings` for the service `service`, on Redis at
    /// `url` (see [`RedisSettings::url`]), checked once by running the
    /// GCRA script on the key `palisade:<service>:startup` (at most
    /// [`STARTUP_TIMEOUT`]), so that start-up meets what every request
    /// will meet, not merely a `PING`. Refused (a [`ConfigError`] naming
    /// the variable) when the URL cannot be used or Redis refuses us: a
    /// password, a permission (an ACL without `EVALSHA`, `SCRIPT LOAD`
    /// or the `palisade:*` keys), a replica (`READONLY`) or a cluster
    /// node (`MOVED`, `ASK`): none of these heals by itself, and every
    /// request would fail. A Redis that does not answer is not refused:
    /// the server starts with the breaker open and does as `on_error`
    /// says until Redis answers, as it would had Redis gone down a second
    /// after start (so a replica restarted during an outage serves
    /// instead of failing).
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
        let connection =
            Connection::open(url, manager_config(Duration::from_millis(500))).map_err(invalid)?;
        let limiter = RedisLimiter::new(connection, settings.on_error, &prefix(service));
        let used = limiter.connection.current();
        let key = format!("{}startup", limiter.prefix);
        match limiter
            .ask(&used, key, Rate::new(1, 1), STARTUP_TIMEOUT)
            .await
        {
            Ok(_) => {
                tracing::info!(
                    on_error = settings.on_error.name(),
                    "rate limits are shared in Redis"
                );
            }
            Err(Failure::Redis(e)) if misconfigured(&e) => {
                return Err(invalid(format!("Redis refused this server: {e}")));
            }
            Err(why) => {
                limiter.breaker.failed(true);
                limiter.connection.renew(&used);
                limiter.note(&why.to_string());
            }
        }
        Ok(limiter)
    }

    fn new(connection: Connection, on_error: OnError, prefix: &str) -> RedisLimiter {
        RedisLimiter {
            connection,
            script: redis::Script::new(GCRA),
            prefix: prefix.to_owned(),
            on_error,
            fallback: MemoryLimiter::new(DEFAULT_MAX_KEYS),
            breaker: Breaker::new(BREAKER_OPEN, BREAKER_WINDOW),
            log: Log::new(),
            timeout: TIMEOUT,
        }
    }

    /// The Redis key of the memory limiter's `key` under `rate`:
    /// `palisade:<service>:<count>/<seconds>:<key>` (see the module
    /// documentation for why the rate is in it).
    pub fn key(&self, key: &str, rate: Rate) -> String {
        format!("{}{}/{}:{key}", self.prefix, rate.count, rate.per_seconds)
    }

    /// The GCRA script on the bucket `key` (a whole Redis key) on
    /// `connection`, within `timeout`.
    async fn ask(
        &self,
        connection: &ConnectionManager,
        key: String,
        rate: Rate,
        timeout: Duration,
    ) -> Result<Decision, Failure> {
        let mut invocation = self.script.key(key);
        invocation.arg(emission_micros(rate)).arg(rate.count.max(1));
        let mut conn = connection.clone();
        let answer = tokio::time::timeout(
            timeout,
            invocation.invoke_async::<(i64, i64, i64)>(&mut conn),
        )
        .await;
        match answer {
            Err(_) => Err(Failure::Timeout(timeout)),
            Ok(Err(e)) => Err(Failure::Redis(e)),
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

    /// Logs that Redis does not answer, at most once per [`LOG_EVERY`];
    /// otherwise counts the decision for the next line.
    fn note(&self, why: &str) {
        let Some(since) = self.log.due() else {
            return;
        };
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
}

impl Limiter for RedisLimiter {
    fn check<'a>(&'a self, key: &'a str, rate: Rate) -> Check<'a> {
        Box::pin(async move {
            let probe = match self.breaker.gate() {
                Gate::Skip(again) => {
                    self.note("the breaker is open");
                    return self.without_redis(key, rate, again);
                }
                Gate::Ask => None,
                Gate::Probe => Some(Probing(&self.breaker.probing)),
            };
            let used = self.connection.current();
            match self
                .ask(&used, self.key(key, rate), rate, self.timeout)
                .await
            {
                Ok(decision) => {
                    match self.breaker.answered(probe.is_some()) {
                        Answered::Fine => {}
                        Answered::Recovered => {
                            self.log.reset();
                            tracing::warn!(
                                "the rate limiter's Redis answers again: limits are shared"
                            );
                        }
                        Answered::Opened => {
                            self.connection.renew(&used);
                            self.note("too many checks failed in the last few seconds");
                        }
                    }
                    Ok(decision)
                }
                Err(why) => {
                    let opened = self.breaker.failed(probe.is_some());
                    if opened.is_some() {
                        self.connection.renew(&used);
                    }
                    drop(probe);
                    self.note(&why.to_string());
                    let again = opened.unwrap_or(Duration::ZERO);
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
    //! it, and passes. Failures no real Redis shows on demand (a replica
    //! after a failover, a silent network, a busy server, a cluster node)
    //! are played by a [`FakeRedis`].

    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::process::{Child, Command, Stdio};
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

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
            let mut redis = PrivateRedis {
                child: Some(child),
                port,
                password,
            };
            if let Some(child) = redis.child.as_mut() {
                if let Err(e) = ready(child, port, password) {
                    panic!("{binary}: {e}");
                }
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

    /// Waits until `child` serves on `port`: a server there answers
    /// `INFO` with `child`'s own process id. A port that merely accepts
    /// connections is not enough: when the child cannot listen (another
    /// process took the port, say between a stop and a restart), it
    /// exits, and whatever holds the port would be tested instead.
    fn ready(child: &mut Child, port: u16, password: Option<&str>) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = format!("process_id:{}\r\n", child.id());
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "it exited ({status}) before serving on port {port}: is the port taken?"
                ));
            }
            if info(port, password).is_some_and(|info| info.contains(&pid)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("it did not serve on port {port} within 10 s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `INFO server` text of the Redis on `port`, if one answers.
    fn info(port: u16, password: Option<&str>) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        let auth = password
            .map(|p| format!("AUTH {p}\r\n"))
            .unwrap_or_default();
        s.write_all(format!("{auth}INFO server\r\n").as_bytes())
            .ok()?;
        let mut buf = Vec::new();
        let mut chunk = [0; 4096];
        loop {
            let n = s.read(&mut chunk).ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if text.starts_with('-') || text.contains("\r\n-") {
                return None;
            }
            let Some(start) = text.find('$') else {
                continue;
            };
            let Some(eol) = text[start..].find("\r\n") else {
                continue;
            };
            let len: usize = text[start + 1..start + eol].parse().ok()?;
            let body = start + eol + 2;
            if buf.len() >= body + len {
                return Some(String::from_utf8_lossy(&buf[body..body + len]).into_owned());
            }
        }
    }

    /// How a [`FakeRedis`] treats a connection, from its first command.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Fake {
        /// Answers every script `{1, 4, 0}` (allowed, 4 left).
        Healthy,
        /// Answers until the first script, then nothing ever again: a
        /// network that black-holes an established connection.
        ScriptsHang,
        /// Answers scripts `READONLY`: a primary that became a replica
        /// in a failover (and stays up), or a replica's URL.
        ReadOnly,
        /// Answers scripts `MOVED`: a node of a Redis Cluster.
        Moved,
        /// Answers `SELECT` (so connecting to a database other than 0)
        /// with `BUSY`: a connection that fails, but not with an I/O
        /// error.
        BusyOnSelect,
    }

    /// A fake Redis on a loopback port: enough of the protocol for the
    /// limiter (connection set-up, `PING`, scripts), each connection
    /// treated as [`FakeRedis::set`] last said when it was accepted (so
    /// a connection made before a "failover" keeps its old server). It
    /// counts connections and scripts received.
    struct FakeRedis {
        port: u16,
        state: Arc<FakeState>,
    }

    struct FakeState {
        mode: Mutex<Fake>,
        /// Connections accepted while [`Fake::Healthy`].
        healthy: AtomicUsize,
        /// Connections the client has not closed yet.
        open: AtomicUsize,
        scripts: AtomicUsize,
        stop: AtomicBool,
    }

    impl FakeRedis {
        fn start(mode: Fake) -> FakeRedis {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let state = Arc::new(FakeState {
                mode: Mutex::new(mode),
                healthy: AtomicUsize::new(0),
                open: AtomicUsize::new(0),
                scripts: AtomicUsize::new(0),
                stop: AtomicBool::new(false),
            });
            let shared = Arc::clone(&state);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if shared.stop.load(Ordering::Acquire) {
                        break;
                    }
                    let Ok(stream) = stream else {
                        continue;
                    };
                    let mode = *shared.mode.lock().unwrap();
                    if mode == Fake::Healthy {
                        shared.healthy.fetch_add(1, Ordering::AcqRel);
                    }
                    shared.open.fetch_add(1, Ordering::AcqRel);
                    let state = Arc::clone(&shared);
                    std::thread::spawn(move || {
                        fake_connection(stream, mode, &state);
                        state.open.fetch_sub(1, Ordering::AcqRel);
                    });
                }
            });
            FakeRedis { port, state }
        }

        fn url(&self, db: u8) -> String {
            format!("redis://127.0.0.1:{}/{db}", self.port)
        }

        /// How connections accepted from now on are treated.
        fn set(&self, mode: Fake) {
            *self.state.mode.lock().unwrap() = mode;
        }

        fn healthy_connections(&self) -> usize {
            self.state.healthy.load(Ordering::Acquire)
        }

        /// Connections open, once at most `n` are (or after 3 s).
        fn open_at_most(&self, n: usize) -> usize {
            let deadline = Instant::now() + Duration::from_secs(3);
            while self.state.open.load(Ordering::Acquire) > n && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            self.state.open.load(Ordering::Acquire)
        }

        fn scripts(&self) -> usize {
            self.state.scripts.load(Ordering::Acquire)
        }

        /// The number of scripts received, once at least `n` arrived (or
        /// after 2 s): the fake reads on threads of its own.
        fn scripts_at_least(&self, n: usize) -> usize {
            let deadline = Instant::now() + Duration::from_secs(2);
            while self.scripts() < n && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            self.scripts()
        }
    }

    impl Drop for FakeRedis {
        fn drop(&mut self) {
            self.state.stop.store(true, Ordering::Release);
            let _ = TcpStream::connect(("127.0.0.1", self.port));
        }
    }

    fn fake_connection(stream: TcpStream, mode: Fake, state: &FakeState) {
        let Ok(read) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(read);
        let mut out = stream;
        let mut hung = false;
        while let Some(command) = read_command(&mut reader) {
            let name = command
                .first()
                .map(|c| c.to_ascii_uppercase())
                .unwrap_or_default();
            let script = matches!(name.as_str(), "EVALSHA" | "EVAL");
            if script {
                state.scripts.fetch_add(1, Ordering::AcqRel);
            }
            hung |= script && mode == Fake::ScriptsHang;
            if hung {
                continue;
            }
            let answer = match (name.as_str(), mode) {
                ("SELECT", Fake::BusyOnSelect) => {
                    "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or \
                     SHUTDOWN NOSCRIPT.\r\n"
                }
                ("PING", _) => "+PONG\r\n",
                (_, Fake::ReadOnly) if script => {
                    "-READONLY You can't write against a read only replica.\r\n"
                }
                (_, Fake::Moved) if script => "-MOVED 3999 127.0.0.1:6381\r\n",
                _ if script => "*3\r\n:1\r\n:4\r\n:0\r\n",
                _ => "+OK\r\n",
            };
            if out.write_all(answer.as_bytes()).is_err() {
                return;
            }
        }
    }

    /// One command (an array of bulk strings), or `None` at the end.
    fn read_command(r: &mut impl BufRead) -> Option<Vec<String>> {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let n: usize = line.trim_end().strip_prefix('*')?.parse().ok()?;
        let mut args = Vec::with_capacity(n);
        for _ in 0..n {
            line.clear();
            if r.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let len: usize = line.trim_end().strip_prefix('$')?.parse().ok()?;
            let mut arg = vec![0; len + 2];
            r.read_exact(&mut arg).ok()?;
            arg.truncate(len);
            args.push(String::from_utf8_lossy(&arg).into_owned());
        }
        Some(args)
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
        let connection = Connection::open(url, manager_config(Duration::from_millis(100))).unwrap();
        let mut limiter = RedisLimiter::new(connection, on_error, &prefix(&service()));
        limiter.breaker = Breaker::new(open_for, BREAKER_WINDOW);
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
        // One key, in the service's namespace and the rate's, expiring
        // when the bucket is full again (3 requests, 20 s each: within a
        // minute).
        let mut c = redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let key = format!("palisade:{service}:3/60:anon:default:192.0.2.1");
        assert_eq!(l.key("anon:default:192.0.2.1", rate), key);
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut c)
            .await
            .unwrap();
        assert!((40_000..=60_000).contains(&ttl), "PTTL {ttl}");
        // A fast rate's key is gone once its bucket refills.
        let fast = Rate::new(2, 1);
        assert!(check(&l, "user:default:u", fast).await.unwrap().allowed);
        let key = format!("palisade:{service}:2/1:user:default:u");
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

    /// A Redis that stops answering (an established connection whose
    /// network black-holes): each request waits at most the timeout, and
    /// once the breaker is open no request asks Redis until it is time to
    /// probe again, when exactly one does. Counted by the scripts the
    /// fake receives, not by the clock.
    #[tokio::test]
    async fn the_breaker_keeps_a_silent_redis_off_the_request_path() {
        let fake = FakeRedis::start(Fake::ScriptsHang);
        let open_for = Duration::from_millis(800);
        let l = unchecked(&fake.url(0), OnError::Open, open_for);
        let rate = Rate::new(5, 60);
        for i in 0..BREAKER_FAILURES {
            let started = Instant::now();
            assert!(check(&l, "anon:default:x", rate).await.unwrap().allowed);
            let took = started.elapsed();
            assert!(took >= TIMEOUT, "request {i}: {took:?}");
            assert!(took < TIMEOUT * 10, "request {i} waited {took:?}");
        }
        let asked = fake.scripts_at_least(BREAKER_FAILURES as usize);
        assert_eq!(asked, BREAKER_FAILURES as usize, "each request asked");
        assert_eq!(l.store(), Store::Unreachable(OnError::Open));
        for _ in 0..50 {
            assert!(check(&l, "anon:default:x", rate).await.unwrap().allowed);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            fake.scripts(),
            asked,
            "no request asks while the breaker is open"
        );
        tokio::time::sleep(open_for).await;
        let (probe, other) = tokio::join!(check(&l, "anon:default:x", rate), async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            check(&l, "anon:default:x", rate).await
        });
        assert!(probe.unwrap().allowed && other.unwrap().allowed);
        assert_eq!(
            fake.scripts_at_least(asked + 1),
            asked + 1,
            "the probe asks"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(fake.scripts(), asked + 1, "only the probe asks");
        assert_eq!(l.store(), Store::Unreachable(OnError::Open));
    }

    /// Checks until the limiter shares its limits again (each a little
    /// more than half an open breaker apart), at most 10 s.
    async fn until_shared(l: &RedisLimiter, open_for: Duration, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let rate = Rate::new(5, 60);
        while l.store() != Store::Shared {
            assert!(
                Instant::now() < deadline,
                "{what}: the limiter never used the healthy Redis ({} renewals)",
                l.connection.renewals.load(Ordering::Relaxed)
            );
            tokio::time::sleep(open_for / 2).await;
            let d = check(l, "user:default:erin", rate).await.unwrap();
            if l.store() == Store::Shared {
                assert_eq!(
                    (d.allowed, d.remaining),
                    (true, 4),
                    "{what}: Redis's answer"
                );
            }
        }
    }

    /// The connection heals from failures after which redis-rs's own
    /// manager never reconnects: a failover that leaves the old primary
    /// up as a replica (every script `READONLY`), a connection that
    /// stopped answering (our timeout gives up before redis-rs sees
    /// anything), and a connection whose set-up failed without an I/O
    /// error (`BUSY` to `SELECT`, which the manager would hand to every
    /// later request). Once the fake's new connections are healthy, the
    /// limiter shares its limits again, on a second connection, and the
    /// connections it replaced are closed (no socket leaks per renewal).
    #[tokio::test]
    async fn the_connection_is_renewed_when_the_breaker_opens() {
        for (sick, db) in [
            (Fake::ReadOnly, 0),
            (Fake::ScriptsHang, 0),
            (Fake::BusyOnSelect, 1),
        ] {
            let what = format!("{sick:?}");
            let fake = FakeRedis::start(sick);
            let open_for = Duration::from_millis(300);
            let l = unchecked(&fake.url(db), OnError::Local, open_for);
            let rate = Rate::new(5, 60);
            for _ in 0..BREAKER_FAILURES {
                assert!(check(&l, "user:default:erin", rate).await.unwrap().allowed);
            }
            assert_eq!(l.store(), Store::Unreachable(OnError::Local), "{what}");
            assert_eq!(fake.healthy_connections(), 0, "{what}");
            fake.set(Fake::Healthy);
            until_shared(&l, open_for, &what).await;
            assert!(fake.healthy_connections() >= 1, "{what}: a new connection");
            assert_eq!(
                fake.open_at_most(1),
                1,
                "{what}: the replaced ones are closed"
            );
        }
    }

    /// The breaker opens on a failure rate, not only on failures in a
    /// row: a Redis failing three checks in ten, never two in a row,
    /// trips it when the window ends; one failing one in ten does not.
    #[test]
    fn the_breaker_opens_when_too_many_checks_fail() {
        let window = Duration::from_millis(200);
        for (failing, opens) in [(&[0, 3, 6][..], true), (&[0][..], false)] {
            let b = Breaker::new(Duration::from_secs(60), window);
            for i in 0..40 {
                if failing.contains(&(i % 10)) {
                    assert_eq!(b.failed(false), None, "check {i}");
                } else {
                    assert!(matches!(
                        b.answered(false),
                        Answered::Fine | Answered::Recovered
                    ));
                }
            }
            assert!(matches!(b.gate(), Gate::Ask), "judged when the window ends");
            std::thread::sleep(window + Duration::from_millis(10));
            let next = b.answered(false);
            let n = failing.len();
            assert_eq!(matches!(next, Answered::Opened), opens, "{n} in 10");
            assert_eq!(matches!(b.gate(), Gate::Skip(_)), opens, "{n} in 10");
            assert_eq!(b.healthy(), !opens);
        }
    }

    /// Only the probe closes an open breaker: a request sent before it
    /// opened that answers late says nothing of now.
    #[test]
    fn only_the_probe_closes_the_breaker() {
        let b = Breaker::new(Duration::from_millis(50), BREAKER_WINDOW);
        for i in 0..BREAKER_FAILURES {
            assert_eq!(b.failed(false).is_some(), i + 1 == BREAKER_FAILURES);
        }
        assert!(matches!(b.answered(false), Answered::Fine));
        assert!(matches!(b.gate(), Gate::Skip(_)), "still open");
        assert!(!b.healthy());
        std::thread::sleep(Duration::from_millis(60));
        assert!(matches!(b.gate(), Gate::Probe));
        assert!(matches!(b.answered(true), Answered::Recovered));
        assert!(matches!(b.gate(), Gate::Ask));
        assert!(b.healthy());
    }

    /// Start-up runs the script itself, so what every request would meet
    /// stops the start: a replica (`READONLY`), a cluster node
    /// (`MOVED`), an ACL that allows `PING` but not scripts, or not the
    /// service's keys.
    #[tokio::test]
    async fn start_up_refuses_what_every_request_would_meet() {
        let refused = |e: ConfigError| {
            let e = e.to_string();
            assert!(
                e.starts_with("TEST_REDIS_URL is invalid: Redis refused this server"),
                "{e}"
            );
            e
        };
        for sick in [Fake::ReadOnly, Fake::Moved] {
            let fake = FakeRedis::start(sick);
            let e = RedisLimiter::connect(settings(OnError::Local), &service(), &fake.url(0))
                .await
                .unwrap_err();
            refused(e);
        }
        let test = "start_up_refuses_what_every_request_would_meet";
        let Some(redis) = PrivateRedis::start(test) else {
            return;
        };
        let mut admin = redis::Client::open(redis.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        for rules in [&["~*", "+ping"][..], &["~other:*", "+@all"][..]] {
            let user = format!("limited-{}", uuid::Uuid::new_v4().simple());
            redis::cmd("ACL")
                .arg("SETUSER")
                .arg(&user)
                .arg("on")
                .arg(">acl-pass-7")
                .arg(rules)
                .query_async::<()>(&mut admin)
                .await
                .unwrap();
            let url = format!("redis://{user}:acl-pass-7@127.0.0.1:{}", redis.port);
            let e = RedisLimiter::connect(settings(OnError::Local), &service(), &url)
                .await
                .unwrap_err();
            let e = refused(e);
            assert!(!e.contains("acl-pass-7"), "{e}");
        }
        let l = RedisLimiter::connect(settings(OnError::Local), &service(), &redis.url())
            .await
            .unwrap();
        assert_eq!(l.store(), Store::Shared, "the default user may");
    }

    /// A rate is part of its bucket's key: a deploy that tightens a rate
    /// starts fresh buckets, rather than reading the time a looser rate
    /// stored as a debt (here: refused for half an hour), and replicas
    /// still on the old rate keep theirs.
    #[tokio::test]
    async fn a_changed_rate_starts_fresh_buckets() {
        let Some(url) = shared_redis("a_changed_rate_starts_fresh_buckets").await else {
            return;
        };
        let l = RedisLimiter::connect(settings(OnError::Closed), &service(), &url)
            .await
            .unwrap();
        let loose = Rate::new(10, 3600);
        for _ in 0..10 {
            assert!(
                check(&l, "user:default:frank", loose)
                    .await
                    .unwrap()
                    .allowed
            );
        }
        assert!(
            !check(&l, "user:default:frank", loose)
                .await
                .unwrap()
                .allowed
        );
        let tight = Rate::new(2, 3600);
        let d = check(&l, "user:default:frank", tight).await.unwrap();
        assert_eq!((d.allowed, d.remaining), (true, 1), "{d:?}");
        assert!(
            !check(&l, "user:default:frank", loose)
                .await
                .unwrap()
                .allowed
        );
    }

    /// The time that earns one request back is rounded up to the
    /// microsecond: a bucket never refills faster than declared.
    #[test]
    fn a_bucket_never_refills_faster_than_declared() {
        assert_eq!(emission_micros(Rate::new(3, 1)), 333_334);
        assert_eq!(emission_micros(Rate::new(7, 60)), 8_571_429);
        assert_eq!(emission_micros(Rate::new(60, 60)), 1_000_000);
        assert_eq!(emission_micros(Rate::new(0, 0)), 1_000_000);
    }

    /// Every connection has `TCP_NODELAY`, keepalive and (Linux)
    /// `TCP_USER_TIMEOUT`: a peer that stops acknowledging is given up
    /// within seconds.
    #[tokio::test]
    async fn connections_give_up_on_a_silent_peer_within_seconds() {
        let c = Connection::open("redis://127.0.0.1:1/0", manager_config(CONNECT_TIMEOUT)).unwrap();
        let tcp = c.client.get_connection_info().tcp_settings();
        assert!(tcp.nodelay());
        assert!(tcp.keepalive().is_some());
        #[cfg(target_os = "linux")]
        assert_eq!(tcp.user_timeout(), Some(TCP_USER_TIMEOUT));
    }

    /// A private Redis is ready when our child serves, not when the port
    /// accepts: a second server on a taken port exits, and is not taken
    /// for ready although the first one answers there.
    #[test]
    fn a_private_redis_is_ready_when_our_child_serves() {
        let test = "a_private_redis_is_ready_when_our_child_serves";
        let Some(first) = PrivateRedis::start(test) else {
            return;
        };
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let mut second = Command::new(binary)
            .args(["--port", &first.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let e = ready(&mut second, first.port, None).unwrap_err();
        let _ = second.kill();
        let _ = second.wait();
        assert!(e.contains("exited"), "{e}");
    }
}
