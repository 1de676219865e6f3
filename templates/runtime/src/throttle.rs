//! Rate limiting: a [`Limiter`] interface, an in-memory GCRA backend, and
//! client identification.
//!
//! Handlers never see a limiter: the server middleware asks
//! [`Limiter::check`] with a key (`user:<bucket>:<user>` or
//! `anon:<bucket>:<ip>`) and a [`Rate`], so a shared backend (Redis, ...)
//! can replace [`MemoryLimiter`] without touching generated code.
//! Invariants: memory is bounded, since keys idle for one full window of
//! their rate are dropped by [`Limiter::retain_recent`] (run periodically)
//! and each rate holds at most `max_keys` keys (a new key beyond that is
//! refused with 429 rather than stored); and the client IP is the socket
//! peer unless the operator declared trusted proxies, in which case it is
//! read from the right of `X-Forwarded-For`, never the attacker-controlled
//! left.
//!
//! # Memory bound
//!
//! [`MemoryLimiter`] keeps one governor keyed store per distinct [`Rate`]
//! of the service (the spec's `anon` and `user` rates plus each distinct
//! per-operation rate: a number fixed by the spec, not by traffic). Each
//! store holds at most `max_keys` keys ([`DEFAULT_MAX_KEYS`] = 100,000 in
//! generated servers); one key costs its string (`anon:default:` plus an
//! address, or `user:<bucket>:` plus the user claim), 8 bytes of GCRA
//! state and its hash table slot: `bench/limiter.sh` measures about 85
//! bytes of resident memory per key, 8 MiB for a full store. So a service
//! with `R` distinct rates holds at most `R x 100,000` keys, about
//! `R x 8 MiB` (more with long user names), however many distinct clients
//! arrive: a million distinct addresses against one rate leave 100,000
//! keys stored and the rest refused with 429, where governor alone would
//! hold all of them (105 MiB). A key leaves at the next housekeeping pass
//! (every 30 s in the server) once its bucket is full again, i.e. at most
//! one window (plus one period) of its rate after its last request; when
//! a store is full, a new key first triggers such a pass for that store
//! (at most once a second, with one warning in the log) and is refused
//! only if the store is still full of active keys.
//!
//! # Headers
//!
//! [`Decision::headers`] follows draft-ietf-httpapi-ratelimit-headers-10:
//! `RateLimit-Policy: "<bucket>";q=<count>;w=<window>` and `RateLimit:
//! "<bucket>";r=<remaining>;t=<seconds until more quota is available>`,
//! with `t` equal to `Retry-After` on a 429. Both describe only the
//! caller's own bucket (its user, or its address), never anybody else's.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use governor::clock::{Clock, DefaultClock, Reference as _};
use governor::middleware::{NoOpMiddleware, StateInformationMiddleware};
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::{Quota, RateLimiter};

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

/// A rate-limit backend.
pub trait Limiter: Send + Sync + 'static {
    /// Counts one request for `key` against `rate`.
    fn check(&self, key: &str, rate: Rate) -> Decision;
    /// Drops state that is indistinguishable from a fresh bucket; the
    /// server calls this periodically (a backend with its own expiry can
    /// leave it empty).
    fn retain_recent(&self) {}
    /// Keys currently stored (for tests and metrics).
    fn len(&self) -> usize {
        0
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The governor state store, shared with the limiter so that its size can
/// be checked before a new key is inserted.
#[derive(Clone)]
struct SharedStore(Arc<DashMapStateStore<String>>);

impl StateStore for SharedStore {
    type Key = String;

    fn measure_and_replace<T, F, E>(&self, key: &String, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<String> for SharedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        ShrinkableKeyedStateStore::retain_recent(&*self.0, drop_below);
    }
    fn shrink_to_fit(&self) {
        self.0.shrink_to_fit();
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

struct Bucket<C: Clock> {
    limiter: RateLimiter<String, SharedStore, C, StateInformationMiddleware>,
    store: SharedStore,
    /// When the store, being full, last triggered an early `retain_recent`.
    last_sweep: Mutex<Option<C::Instant>>,
}

/// In-process GCRA limiter (governor): one keyed limiter per distinct
/// [`Rate`], a burst of `count` refilled evenly over the window. Memory:
/// at most `max_keys` keys per distinct rate, each about a hundred bytes
/// (see the module documentation), and idle keys leave at the next
/// `retain_recent`.
pub struct MemoryLimiter<C: Clock = DefaultClock> {
    buckets: RwLock<HashMap<Rate, Arc<Bucket<C>>>>,
    max_keys: usize,
    clock: C,
}

/// Default key cap per rate.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

impl MemoryLimiter<DefaultClock> {
    pub fn new(max_keys: usize) -> Self {
        MemoryLimiter::with_clock(max_keys, DefaultClock::default())
    }
}

impl<C: Clock + Clone + Send + Sync + 'static> MemoryLimiter<C> {
    pub fn with_clock(max_keys: usize, clock: C) -> Self {
        MemoryLimiter {
            buckets: RwLock::new(HashMap::new()),
            max_keys,
            clock,
        }
    }

    /// Whether `bucket` has no room for the new `key`. A full store is
    /// first swept of idle keys, at most once a second, so that a burst of
    /// one-off keys cannot lock out new clients for a whole housekeeping
    /// period.
    fn full(&self, bucket: &Bucket<C>, key: &str) -> bool {
        if bucket.store.0.contains_key(key) || bucket.store.0.len() < self.max_keys {
            return false;
        }
        let now = self.clock.now();
        {
            let mut last = bucket.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
            let due =
                last.is_none_or(|prev| now.duration_since(prev) >= Nanos::from(1_000_000_000));
            if !due {
                return true;
            }
            *last = Some(now);
        }
        bucket.limiter.retain_recent();
        let full = bucket.store.0.len() >= self.max_keys;
        if full {
            // At most once a second, so a flood does not flood the log too.
            tracing::warn!(
                max_keys = self.max_keys,
                "rate limiter full of active keys: refusing new keys"
            );
        }
        full
    }

    fn bucket(&self, rate: Rate) -> Arc<Bucket<C>> {
        if let Some(b) = self
            .buckets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&rate)
        {
            return b.clone();
        }
        let mut map = self.buckets.write().unwrap_or_else(|e| e.into_inner());
        map.entry(rate)
            .or_insert_with(|| {
                let store = SharedStore(Arc::new(DashMapStateStore::default()));
                let limiter: RateLimiter<String, SharedStore, C, NoOpMiddleware<C::Instant>> =
                    RateLimiter::new(rate.quota(), store.clone(), self.clock.clone());
                let limiter = limiter.with_middleware::<StateInformationMiddleware>();
                Arc::new(Bucket {
                    limiter,
                    store,
                    last_sweep: Mutex::new(None),
                })
            })
            .clone()
    }
}

impl<C: Clock + Clone + Send + Sync + 'static> Limiter for MemoryLimiter<C>
where
    C::Instant: Send + Sync,
{
    fn check(&self, key: &str, rate: Rate) -> Decision {
        let bucket = self.bucket(rate);
        let limit = rate.count.max(1);
        if self.full(&bucket, key) {
            let wait = rate.period_seconds();
            return Decision {
                allowed: false,
                limit,
                remaining: 0,
                reset_seconds: wait,
                retry_after_seconds: wait,
            };
        }
        match bucket.limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity().min(limit);
                Decision {
                    allowed: true,
                    limit,
                    remaining,
                    reset_seconds: rate.period_seconds(),
                    retry_after_seconds: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
                Decision {
                    allowed: false,
                    limit,
                    remaining: 0,
                    reset_seconds: secs,
                    retry_after_seconds: secs,
                }
            }
        }
    }

    fn retain_recent(&self) {
        let buckets: Vec<_> = self
            .buckets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for b in buckets {
            b.limiter.retain_recent();
            b.limiter.shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        let map = self.buckets.read().unwrap_or_else(|e| e.into_inner());
        map.values().map(|b| b.store.0.len()).sum()
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
            l.check(&format!("k{i}"), rate);
        }
        l.check("k-busy", Rate::new(1, 3600));
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

    #[test]
    fn key_cap_refuses_new_keys_only() {
        let l = MemoryLimiter::with_clock(2, FakeRelativeClock::default());
        let rate = Rate::new(5, 60);
        assert!(l.check("a", rate).allowed);
        assert!(l.check("b", rate).allowed);
        let d = l.check("c", rate);
        assert!(!d.allowed && d.retry_after_seconds >= 1);
        assert!(l.check("a", rate).allowed, "known keys still work");
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn a_full_store_is_swept_before_refusing() {
        let clock = FakeRelativeClock::default();
        let l = MemoryLimiter::with_clock(2, clock.clone());
        let rate = Rate::new(5, 60);
        assert!(l.check("a", rate).allowed);
        assert!(l.check("b", rate).allowed);
        assert!(!l.check("c", rate).allowed, "both keys are active");
        // Once "a" and "b" are idle, a new key finds room without waiting
        // for the housekeeping task.
        clock.advance(Duration::from_secs(61));
        assert!(l.check("c", rate).allowed);
        assert_eq!(l.len(), 1);
        // The early sweep runs at most once a second.
        assert!(l.check("d", rate).allowed);
        assert!(!l.check("e", rate).allowed);
    }

    #[test]
    fn a_flood_of_keys_stays_under_the_cap() {
        let clock = FakeRelativeClock::default();
        let l = MemoryLimiter::with_clock(1000, clock.clone());
        let rate = Rate::new(30, 60);
        let allowed = (0..100_000)
            .filter(|i| l.check(&format!("anon:default:{i}"), rate).allowed)
            .count();
        assert_eq!((allowed, l.len()), (1000, 1000));
        clock.advance(Duration::from_secs(62));
        l.retain_recent();
        assert!(l.is_empty());
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
