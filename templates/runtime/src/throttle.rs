//! Rate limiting: a [`Limiter`] interface, an in-memory GCRA backend, and
//! client identification.
//!
//! Handlers never see a limiter: the server middleware asks
//! [`Limiter::check`] (async) with a key (`user:<bucket>:<user>`,
//! `anon:<bucket>:<ip>`, `preflight:<ip>`, `health:<ip>`) and a [`Rate`],
//! so the shared backend (`redis::RedisLimiter`, when the spec says
//! `throttle: { redis: ... }`) replaces [`MemoryLimiter`] without touching
//! generated code, and answers with the same [`Decision`], so the
//! rate-limit headers are the same. A check fails only when a shared
//! store is down under `on_error: closed` ([`Unavailable`], the one
//! documented 503). Invariants: memory is bounded, since each
//! caller class (the key's text before its first `:`) and rate has a store
//! of at most `max_keys` keys, where a newcomer takes the place of the most
//! refilled key rather than being refused, and keys idle for one full
//! window of their rate are dropped by [`Limiter::retain_recent`] (run
//! periodically); and the client IP is the socket peer unless the operator
//! declared trusted proxies, in which case it is read from the right of
//! `X-Forwarded-For`, never the attacker-controlled left.
//!
//! # Memory bound
//!
//! [`MemoryLimiter`] keeps one store per caller class and distinct
//! [`Rate`] of the service (the spec's `anon` and `user` rates plus each
//! distinct per-operation rate, and the preflight and health rates: a
//! number fixed by the spec, not by traffic). Each store holds at most
//! `max_keys` keys ([`DEFAULT_MAX_KEYS`] = 100,000 in generated servers);
//! one key costs its string (`anon:default:` plus an address, or
//! `user:<bucket>:` plus the user claim), 8 bytes of GCRA state and its
//! hash table slot: `bench/limiter.sh` measures about 110 bytes of
//! resident memory per key, 10.6 MiB for a full store (more with long
//! user names). So a service with `S` stores holds at most
//! `S x 100,000` keys, however many distinct clients arrive: a million
//! distinct addresses against one rate leave 100,000 keys stored, every
//! one of those clients served. When a store is full, a new key takes the
//! place of the most refilled of a few keys read by a cursor that goes
//! round the store (see `BoundedStore`): constant work per new key, and
//! the client forgotten (an idle or nearly refilled one) merely starts
//! again with a full bucket. A key also leaves at the next housekeeping
//! pass (every 30 s in the server) once its bucket is full again, i.e. at
//! most one window (plus one period) of its rate after its last request.
//!
//! # Headers
//!
//! [`Decision::headers`] follows draft-ietf-httpapi-ratelimit-headers-10:
//! `RateLimit-Policy: "<bucket>";q=<count>;w=<window>` and `RateLimit:
//! "<bucket>";r=<remaining>;t=<seconds until more quota is available>`,
//! with `t` equal to `Retry-After` on a 429. Both describe only the
//! caller's own bucket (its user, or its address), never anybody else's.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::{NoOpMiddleware, StateInformationMiddleware};
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::config::ConfigError;

#[cfg(feature = "redis")]
pub mod redis;

/// `count` requests per `per_seconds`, as a burst of `count` that refills
/// evenly over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    pub count: u32,
    pub per_seconds: u32,
}

impl Rate {
    pub const fn new(count: u32, per_seconds: u32) -> Rate {
        Rate { count, per_seconds }
    }

    /// The time to earn back one request.
    pub fn period(&self) -> Duration {
        Duration::from_secs(u64::from(self.per_seconds.max(1))) / self.count.max(1)
    }

    fn quota(&self) -> Quota {
        let burst =
            std::num::NonZeroU32::new(self.count.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
        Quota::with_period(self.period().max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(burst))
            .allow_burst(burst)
    }

    /// Seconds to earn back one request, rounded up (at least 1).
    fn period_seconds(&self) -> u64 {
        let window = u64::from(self.per_seconds.max(1));
        window.div_ceil(u64::from(self.count.max(1))).max(1)
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The quota (`Rate::count`).
    pub limit: u32,
    /// Requests left right now.
    pub remaining: u32,
    /// Seconds until more quota is available (the `t` of the draft's
    /// `RateLimit` field): when refused, the same as
    /// `retry_after_seconds`; when allowed, at most the time to earn back
    /// one request, rounded up.
    pub reset_seconds: u64,
    /// Seconds to wait before retrying (0 when allowed).
    pub retry_after_seconds: u64,
}

impl Decision {
    /// An allowed request of `rate` with `remaining` requests left: more
    /// quota comes within one period. Every backend decides through this
    /// and [`Decision::refuse`], so their headers agree.
    fn allow(rate: Rate, remaining: u32) -> Decision {
        let limit = rate.count.max(1);
        Decision {
            allowed: true,
            limit,
            remaining: remaining.min(limit),
            reset_seconds: rate.period_seconds(),
            retry_after_seconds: 0,
        }
    }

    /// A refused request of `rate` that may be retried after `wait`
    /// (rounded up to whole seconds, at least 1).
    fn refuse(rate: Rate, wait: Duration) -> Decision {
        let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        Decision {
            allowed: false,
            limit: rate.count.max(1),
            remaining: 0,
            reset_seconds: secs,
            retry_after_seconds: secs,
        }
    }

    /// IETF `RateLimit-Policy` and `RateLimit` fields
    /// (draft-ietf-httpapi-ratelimit-headers), plus `Retry-After` when
    /// refused. `policy` names the bucket.
    pub fn headers(&self, policy: &str, rate: Rate) -> Vec<(HeaderName, HeaderValue)> {
        let name: String = policy
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .collect();
        let mut h = Vec::with_capacity(3);
        let value =
            |s: String| HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("\"\""));
        h.push((
            HeaderName::from_static("ratelimit-policy"),
            value(format!(
                "\"{name}\";q={};w={}",
                rate.count, rate.per_seconds
            )),
        ));
        h.push((
            HeaderName::from_static("ratelimit"),
            value(format!(
                "\"{name}\";r={};t={}",
                self.remaining, self.reset_seconds
            )),
        ));
        if !self.allowed {
            h.push((
                axum::http::header::RETRY_AFTER,
                HeaderValue::from(self.retry_after_seconds.max(1)),
            ));
        }
        h
    }
}

/// A check that could not be counted: the shared store did not answer
/// and the spec says `on_error: closed`. The server answers 503 with
/// `Retry-After` (never 429: the client did nothing wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable {
    /// Seconds until the store is asked again (at least 1).
    pub retry_after_seconds: u64,
}

/// What [`Limiter::check`] returns: a boxed future, so that the server
/// holds any backend as `Arc<dyn Limiter>`.
pub type Check<'a> = Pin<Box<dyn Future<Output = Result<Decision, Unavailable>> + Send + 'a>>;

/// What a limiter that shares its buckets does while its store does not
/// answer (the spec's `throttle.redis.on_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Count in this process's memory instead (per replica), and log it.
    Local,
    /// Allow every request (`palisade audit` reports it).
    Open,
    /// Refuse every request with 503 and `Retry-After`.
    Closed,
}

impl OnError {
    /// The spec's word for it.
    pub fn name(self) -> &'static str {
        match self {
            OnError::Local => "local",
            OnError::Open => "open",
            OnError::Closed => "closed",
        }
    }
}

/// The spec's `throttle: { redis: { url_env, on_error } }`: every bucket
/// in one Redis, shared by every replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisSettings {
    /// The variable holding the URL (`redis://` or `rediss://`); the
    /// server refuses to start when it is unset.
    pub url_env: &'static str,
    pub on_error: OnError,
}

impl RedisSettings {
    /// The URL in the variable `url_env`, read through `env` (the
    /// environment, then `.env`: [`crate::config::var`]). Refused when
    /// the variable is unset or empty, or is not a `redis://` (or
    /// `rediss://`, TLS) URL; the message names the variable and never
    /// repeats its value, which may hold a password.
    pub fn url(
        &self,
        env: impl Fn(&str) -> Result<String, std::env::VarError>,
    ) -> Result<String, ConfigError> {
        let var = self.url_env;
        let url = match env(var) {
            Ok(v) if !v.trim().is_empty() => v,
            Ok(_) | Err(std::env::VarError::NotPresent) => {
                return Err(ConfigError::Missing {
                    var,
                    hint: "the spec shares rate limits in Redis (`throttle.redis`): set it, in \
                           the environment or in .env, to the Redis URL, e.g. \
                           redis://127.0.0.1:6379",
                });
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(ConfigError::Invalid {
                    var,
                    reason: "the value is not valid UTF-8".into(),
                });
            }
        };
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("redis" | "rediss")) {
            return Err(ConfigError::Invalid {
                var,
                reason: "not a redis:// URL (redis://host:port, or rediss://host:port for TLS)"
                    .into(),
            });
        }
        Ok(url)
    }
}

/// Where the buckets are, as `/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// In this process (no shared store declared).
    Memory,
    /// In the shared store, which answers.
    Shared,
    /// In the shared store, which does not answer: `on_error` applies.
    Unreachable(OnError),
}

/// A rate-limit backend.
pub trait Limiter: Send + Sync + 'static {
    /// Counts one request for `key` against `rate`: the decision, or
    /// [`Unavailable`] when a shared store is down and the spec says
    /// `on_error: closed`.
    fn check<'a>(&'a self, key: &'a str, rate: Rate) -> Check<'a>;
    /// Drops state that is indistinguishable from a fresh bucket; the
    /// server calls this periodically (a backend with its own expiry can
    /// leave it empty).
    fn retain_recent(&self) {}
    /// Keys currently stored in this process (for tests and metrics).
    fn len(&self) -> usize {
        0
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Where the buckets are, for `/health`.
    fn store(&self) -> Store {
        Store::Memory
    }
}

/// How many entries a full shard examines to choose the one it forgets.
const EVICTION_SAMPLE: usize = 8;

/// Most keys per shard of a large store: 7/8 of 8192, the load at which a
/// hash table of 8192 slots grows (to twice the memory), so a full shard
/// does not carry a half-empty table. Small caps have one shard.
const KEYS_PER_SHARD: usize = 7168;

/// A bounded keyed GCRA state store (governor's [`StateStore`]): at most
/// `capacity` keys, in shards with a lock each. A new key that finds its
/// shard full takes the place of the most refilled of
/// [`EVICTION_SAMPLE`] entries read from a cursor that goes round the
/// shard (a CLOCK hand): a constant amount of work per new key, never a
/// scan, and over time every entry is looked at. A forgotten key starts
/// again with a full bucket, so the entries forgotten first are those
/// whose bucket is (nearly) full anyway: idle clients and clients that
/// made one request long ago, never one that is being throttled while a
/// more refilled one is in the sample.
struct BoundedStore {
    shards: Box<[Mutex<Shard>]>,
    shard_capacity: usize,
    hasher: std::hash::RandomState,
    /// Keys forgotten to make room (a warning is logged at 1, 2, 4, ...).
    evicted: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct Shard {
    /// Key -> governor's state (the theoretical arrival time, in nanoseconds
    /// since the limiter started): a larger value is a less refilled bucket.
    entries: indexmap::IndexMap<String, u64>,
    /// Where the next eviction starts reading.
    hand: usize,
}

impl Shard {
    /// Forgets the most refilled of the next [`EVICTION_SAMPLE`] entries.
    fn evict(&mut self) {
        let len = self.entries.len();
        if len == 0 {
            return;
        }
        let start = self.hand % len;
        let victim = (0..EVICTION_SAMPLE.min(len))
            .map(|i| (start + i) % len)
            .min_by_key(|&i| self.entries.get_index(i).map_or(u64::MAX, |(_, v)| *v))
            .unwrap_or(start);
        self.entries.swap_remove_index(victim);
        self.hand = start + EVICTION_SAMPLE;
    }
}

impl BoundedStore {
    fn new(capacity: usize) -> BoundedStore {
        let capacity = capacity.max(1);
        let shards = capacity.div_ceil(KEYS_PER_SHARD).clamp(1, 16);
        BoundedStore {
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            shard_capacity: capacity / shards,
            hasher: std::hash::RandomState::new(),
            evicted: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, Shard> {
        use std::hash::BuildHasher as _;
        let i = self.hasher.hash_one(key) as usize % self.shards.len();
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn each(&self, mut f: impl FnMut(&mut Shard)) {
        for shard in &self.shards {
            f(&mut shard.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }
}

impl StateStore for BoundedStore {
    type Key = String;

    fn measure_and_replace<T, F, E>(&self, key: &String, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let mut shard = self.shard(key);
        if let Some(state) = shard.entries.get_mut(key) {
            let (result, next) = f(Some(Nanos::from(*state)))?;
            *state = next.as_u64();
            return Ok(result);
        }
        let (result, next) = f(None)?;
        if shard.entries.len() >= self.shard_capacity {
            shard.evict();
            let n = self
                .evicted
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    evicted = n,
                    "rate limiter store full: forgetting the most refilled keys"
                );
            }
        }
        shard.entries.insert(key.clone(), next.as_u64());
        Ok(result)
    }
}

impl ShrinkableKeyedStateStore<String> for BoundedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        let below = drop_below.as_u64();
        self.each(|s| {
            s.entries.retain(|_, state| *state > below);
            s.hand = 0;
        });
    }
    fn shrink_to_fit(&self) {
        self.each(|s| s.entries.shrink_to_fit());
    }
    fn len(&self) -> usize {
        let mut n = 0;
        self.each(|s| n += s.entries.len());
        n
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

type Keyed<C> = RateLimiter<String, BoundedStore, C, StateInformationMiddleware>;

/// Per rate, the store of each class that used it.
type Stores<C> = HashMap<Rate, Vec<(Box<str>, Arc<Keyed<C>>)>>;

/// In-process GCRA limiter (governor): one keyed limiter per caller class
/// and distinct [`Rate`], a burst of `count` refilled evenly over the
/// window. The class is the key's text before its first `:` (`anon`,
/// `user`, ...), so one class's flood cannot take another's room. Memory:
/// at most `max_keys` keys per class and rate, each about a hundred bytes
/// (see the module documentation); a new key in a full store takes the
/// place of a (nearly) refilled one, and idle keys leave at the next
/// `retain_recent`.
pub struct MemoryLimiter<C: Clock = DefaultClock> {
    stores: RwLock<Stores<C>>,
    max_keys: usize,
    clock: C,
}

/// Default key cap per caller class and rate.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

impl MemoryLimiter<DefaultClock> {
    pub fn new(max_keys: usize) -> Self {
        MemoryLimiter::with_clock(max_keys, DefaultClock::default())
    }
}

/// The caller class of a key: its text before the first `:`.
fn class(key: &str) -> &str {
    key.split_once(':').map_or("", |(class, _)| class)
}

impl<C: Clock + Clone + Send + Sync + 'static> MemoryLimiter<C> {
    pub fn with_clock(max_keys: usize, clock: C) -> Self {
        MemoryLimiter {
            stores: RwLock::new(HashMap::new()),
            max_keys,
            clock,
        }
    }

    fn keyed(&self, class: &str, rate: Rate) -> Arc<Keyed<C>> {
        let found = |stores: &Stores<C>| {
            stores
                .get(&rate)?
                .iter()
                .find(|(c, _)| &**c == class)
                .map(|(_, l)| l.clone())
        };
        if let Some(l) = found(&self.stores.read().unwrap_or_else(|e| e.into_inner())) {
            return l;
        }
        let mut stores = self.stores.write().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = found(&stores) {
            return l;
        }
        let limiter: RateLimiter<String, BoundedStore, C, NoOpMiddleware<C::Instant>> =
            RateLimiter::new(
                rate.quota(),
                BoundedStore::new(self.max_keys),
                self.clock.clone(),
            );
        let limiter = Arc::new(limiter.with_middleware::<StateInformationMiddleware>());
        stores
            .entry(rate)
            .or_default()
            .push((class.into(), limiter.clone()));
        limiter
    }

    fn all(&self) -> Vec<Arc<Keyed<C>>> {
        let stores = self.stores.read().unwrap_or_else(|e| e.into_inner());
        stores.values().flatten().map(|(_, l)| l.clone()).collect()
    }
}

impl<C: Clock + Clone + Send + Sync + 'static> Limiter for MemoryLimiter<C>
where
    C::Instant: Send + Sync,
{
    fn check<'a>(&'a self, key: &'a str, rate: Rate) -> Check<'a> {
        Box::pin(std::future::ready(Ok(MemoryLimiter::check(
            self, key, rate,
        ))))
    }

    fn retain_recent(&self) {
        for l in self.all() {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.all().iter().map(|l| l.len()).sum()
    }
}

impl<C: Clock + Clone + Send + Sync + 'static> MemoryLimiter<C>
where
    C::Instant: Send + Sync,
{
    /// [`Limiter::check`] without a future: this limiter never waits.
    pub fn check(&self, key: &str, rate: Rate) -> Decision {
        let limiter = self.keyed(class(key), rate);
        match limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => Decision::allow(rate, snapshot.remaining_burst_capacity()),
            Err(not_until) => Decision::refuse(rate, not_until.wait_time_from(self.clock.now())),
        }
    }

    /// Keys stored, over every class and rate.
    pub fn len(&self) -> usize {
        Limiter::len(self)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`Limiter::retain_recent`].
    pub fn retain_recent(&self) {
        Limiter::retain_recent(self);
    }
}

/// Runs `retain_recent` every `every` on the tokio runtime, for the life of
/// the process.
pub fn spawn_housekeeping(limiter: Arc<dyn Limiter>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            limiter.retain_recent();
        }
    });
}

/// The client address: the socket peer when `trust_proxy_hops` is 0;
/// otherwise the `X-Forwarded-For` entry that many hops from the right
/// (each trusted proxy appends the address it received the request from,
/// so with N proxies the N-th entry from the right was written by the
/// outermost trusted proxy). When the header has fewer entries, or that
/// entry does not parse, the peer is used: a request that bypassed the
/// proxies is keyed by its real source.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trust_proxy_hops: u8) -> IpAddr {
    if trust_proxy_hops == 0 {
        return peer.ip();
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let Some(entry) = entries
        .len()
        .checked_sub(usize::from(trust_proxy_hops))
        .map(|i| entries[i])
    else {
        return peer.ip();
    };
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .unwrap_or(peer.ip())
}

/// The rate-limit key of an address: IPv4 as is, IPv6 by its /64 (one
/// subscriber usually holds at least a /64, so per-address keys would be
/// trivially rotated); IPv4-mapped IPv6 as IPv4.
pub fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn burst_then_refuse_then_refill() {
        let clock = FakeRelativeClock::default();
        let l = MemoryLimiter::with_clock(100, clock.clone());
        let rate = Rate::new(3, 60);
        let d: Vec<_> = (0..4)
            .map(|_| l.check("anon:default:1.2.3.4", rate))
            .collect();
        assert_eq!(
            d.iter().map(|d| d.allowed).collect::<Vec<_>>(),
            [true, true, true, false]
        );
        assert_eq!(
            d.iter().map(|d| d.remaining).collect::<Vec<_>>(),
            [2, 1, 0, 0]
        );
        assert_eq!(d[0].reset_seconds, 20);
        assert_eq!(d[3].retry_after_seconds, 20);
        assert_eq!(d[3].reset_seconds, 20, "t equals Retry-After on a refusal");
        clock.advance(Duration::from_secs(5));
        let d = l.check("anon:default:1.2.3.4", rate);
        assert_eq!((d.allowed, d.retry_after_seconds), (false, 15));
        // Another key has its own bucket.
        assert!(l.check("anon:default:5.6.7.8", rate).allowed);
        clock.advance(Duration::from_secs(20));
        assert!(l.check("anon:default:1.2.3.4", rate).allowed);
        assert!(!l.check("anon:default:1.2.3.4", rate).allowed);
    }

    #[test]
    fn retain_recent_shrinks_the_store() {
        let clock = FakeRelativeClock::default();
        let l = MemoryLimiter::with_clock(10_000, clock.clone());
        let rate = Rate::new(10, 60);
        for i in 0..1000 {
            l.check(&format!("anon:k{i}"), rate);
        }
        l.check("anon:k-busy", Rate::new(1, 3600));
        assert_eq!(l.len(), 1001);
        l.retain_recent();
        assert_eq!(l.len(), 1001, "nothing is idle yet");
        clock.advance(Duration::from_secs(61));
        l.retain_recent();
        assert_eq!(
            l.len(),
            1,
            "only the key of the hourly rate is still recent"
        );
    }

    /// A full store makes room for a newcomer instead of refusing it
    /// (the key cap used to lock every new client of a rate out).
    #[test]
    fn a_full_store_makes_room_for_newcomers() {
        let l = MemoryLimiter::with_clock(2, FakeRelativeClock::default());
        let rate = Rate::new(5, 60);
        assert!(l.check("anon:a", rate).allowed);
        assert!(l.check("anon:b", rate).allowed);
        let d = l.check("anon:c", rate);
        assert!(d.allowed, "a newcomer is served: {d:?}");
        assert_eq!(d.remaining, 4, "with a full bucket of its own");
        assert_eq!(l.len(), 2, "the cap holds");
    }

    /// The key forgotten is the most refilled one, never a throttled one
    /// while a more refilled key is at hand.
    #[test]
    fn the_most_refilled_key_is_forgotten() {
        let clock = FakeRelativeClock::default();
        let l = MemoryLimiter::with_clock(4, clock.clone());
        let rate = Rate::new(3, 60);
        for k in ["anon:idle-1", "anon:idle-2", "anon:idle-3"] {
            assert!(l.check(k, rate).allowed);
        }
        clock.advance(Duration::from_secs(30));
        while l.check("anon:busy", rate).allowed {}
        for i in 0..50 {
            clock.advance(Duration::from_millis(100));
            assert!(l.check(&format!("anon:new-{i}"), rate).allowed);
            assert!(
                !l.check("anon:busy", rate).allowed,
                "the throttled key is kept (newcomer {i})"
            );
            assert_eq!(l.len(), 4);
        }
    }

    /// Anonymous and user keys of the same rate have stores of their own:
    /// a flood of addresses neither refuses nor resets users.
    #[test]
    fn classes_have_stores_of_their_own() {
        let l = MemoryLimiter::with_clock(8, FakeRelativeClock::default());
        let rate = Rate::new(2, 60);
        assert!(l.check("user:default:alice", rate).allowed);
        assert!(l.check("user:default:alice", rate).allowed);
        assert!(!l.check("user:default:alice", rate).allowed);
        for i in 0..1000 {
            assert!(l.check(&format!("anon:default:{i}"), rate).allowed);
        }
        assert!(
            !l.check("user:default:alice", rate).allowed,
            "alice's spent bucket was not forgotten to make room for addresses"
        );
        assert!(l.check("user:default:bob", rate).allowed);
        assert_eq!(l.len(), 8 + 2);
    }

    #[test]
    fn a_flood_of_keys_stays_under_the_cap() {
        let clock = FakeRelativeClock::default();
        let l = MemoryLimiter::with_clock(1000, clock.clone());
        let rate = Rate::new(30, 60);
        let allowed = (0..100_000)
            .filter(|i| l.check(&format!("anon:default:{i}"), rate).allowed)
            .count();
        assert_eq!((allowed, l.len()), (100_000, 1000));
        clock.advance(Duration::from_secs(62));
        l.retain_recent();
        assert!(l.is_empty());
        // A large cap is split into shards whose sum stays under it.
        let big = MemoryLimiter::with_clock(DEFAULT_MAX_KEYS, clock.clone());
        for i in 0..(DEFAULT_MAX_KEYS + 20_000) {
            big.check(&format!("anon:default:{i}"), rate);
        }
        let n = big.len();
        assert!(
            (DEFAULT_MAX_KEYS - 16..=DEFAULT_MAX_KEYS).contains(&n),
            "{n} keys stored"
        );
    }

    #[test]
    fn headers_follow_the_draft() {
        let rate = Rate::new(30, 60);
        let l = MemoryLimiter::with_clock(10, FakeRelativeClock::default());
        let d = l.check("x", rate);
        let h = d.headers("default", rate);
        assert_eq!(h[0].1, "\"default\";q=30;w=60");
        assert_eq!(h[1].1, "\"default\";r=29;t=2");
        assert_eq!(h.len(), 2);
        let refused = Decision {
            allowed: false,
            retry_after_seconds: 7,
            ..d
        };
        assert_eq!(refused.headers("a\"b", rate)[2].1, "7");
        assert_eq!(refused.headers("a\"b", rate)[0].1, "\"ab\";q=30;w=60");
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn client_ip_resists_spoofing() {
        let peer: SocketAddr = "10.0.0.9:5000".parse().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // hops 0: the header is ignored entirely.
        assert_eq!(client_ip(peer, &xff(&["1.1.1.1"]), 0), ip("10.0.0.9"));
        // hops 1: the rightmost entry, whatever the client prepended.
        let spoofed = xff(&["6.6.6.6, 7.7.7.7, 203.0.113.5"]);
        assert_eq!(client_ip(peer, &spoofed, 1), ip("203.0.113.5"));
        // hops 2: client -> P1 -> P2 -> app; P1 wrote the client, P2 wrote P1.
        let two = xff(&["6.6.6.6", "203.0.113.5, 10.0.0.2"]);
        assert_eq!(client_ip(peer, &two, 2), ip("203.0.113.5"));
        assert_eq!(client_ip(peer, &two, 1), ip("10.0.0.2"));
        // Too few entries or garbage: the peer.
        assert_eq!(client_ip(peer, &xff(&["203.0.113.5"]), 2), ip("10.0.0.9"));
        assert_eq!(client_ip(peer, &HeaderMap::new(), 1), ip("10.0.0.9"));
        assert_eq!(client_ip(peer, &xff(&["1.1.1.1, junk"]), 1), ip("10.0.0.9"));
        assert_eq!(
            client_ip(peer, &xff(&["[2001:db8::1]:443"]), 1),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn ipv6_is_keyed_by_prefix() {
        let k = |s: &str| ip_key(s.parse().unwrap());
        assert_eq!(k("2001:db8:1:2:aaaa::1"), k("2001:db8:1:2:bbbb::2"));
        assert_ne!(k("2001:db8:1:2::1"), k("2001:db8:1:3::1"));
        assert_eq!(k("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(k("192.0.2.1"), "192.0.2.1");
    }
}
