//! This node's budgets: per user for message sends (HTTP and WebSocket share one) and for other
//! writes, and per client address for failed authentications.

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// The window `SEND_RATE_LIMIT` and `WRITE_RATE_LIMIT` count in.
pub const WINDOW: Duration = Duration::from_secs(10);

/// The window `AUTH_FAILURE_LIMIT` counts in.
pub const AUTH_WINDOW: Duration = Duration::from_secs(60);

/// `limit` events per key per `window`, refilled smoothly; off when `limit` is 0.
pub struct Budget<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone> Budget<K> {
    pub fn new(limit: u32, window: Duration) -> Budget<K> {
        let limiter = NonZeroU32::new(limit).and_then(|n| {
            Quota::with_period(window / n.get()).map(|q| RateLimiter::keyed(q.allow_burst(n)))
        });
        Budget { limiter }
    }

    /// Takes one from the key's budget, or says how long until one is free.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Drops the state of keys whose budget is full again, so memory follows active keys only.
    pub fn prune(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
        }
    }
}

/// The per-user budget of message sends or of other writes, over [`WINDOW`].
pub type UserBudget = Budget<String>;

impl UserBudget {
    pub fn per_user(limit: u32) -> UserBudget {
        Budget::new(limit, WINDOW)
    }
}

/// Failed authentications per client address: past the budget, the address is refused (429)
/// until the budget has room again, whether its next token is good or not.
pub struct AuthFailures {
    budget: Budget<IpAddr>,
    blocked_until: DashMap<IpAddr, Instant>,
}

impl AuthFailures {
    /// `limit` failures per address per [`AUTH_WINDOW`]; 0 turns the limit off.
    pub fn new(limit: u32) -> AuthFailures {
        AuthFailures {
            budget: Budget::new(limit, AUTH_WINDOW),
            blocked_until: DashMap::new(),
        }
    }

    /// How long `ip` is still refused, if it is.
    pub fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        if exempt(ip) {
            return None;
        }
        let until = *self.blocked_until.get(&ip)?;
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            self.blocked_until
                .remove_if(&ip, |_, u| *u <= Instant::now());
            None
        } else {
            Some(left)
        }
    }

    /// Counts a failed authentication from `ip`; over the budget, refuses it for a while.
    pub fn failed(&self, ip: IpAddr) {
        if exempt(ip) {
            return;
        }
        if let Err(wait) = self.budget.check(&ip) {
            self.blocked_until.insert(ip, Instant::now() + wait);
        }
    }

    pub fn prune(&self) {
        self.budget.prune();
        let now = Instant::now();
        self.blocked_until.retain(|_, until| *until > now);
    }
}

/// 127.0.0.1 and ::1 are this host itself: a reverse proxy on the same machine (whose clients must
/// be limited at the proxy), or tests and tools run beside the node. Other addresses count.
fn exempt(ip: IpAddr) -> bool {
    ip == IpAddr::from(std::net::Ipv4Addr::LOCALHOST)
        || ip == IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses_with_a_wait() {
        let l = UserBudget::per_user(3);
        for _ in 0..3 {
            assert!(l.check(&"u".to_string()).is_ok());
        }
        let wait = l.check(&"u".to_string()).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(3334),
            "{wait:?}"
        );
        assert!(l.check(&"other".to_string()).is_ok());
    }

    #[test]
    fn zero_turns_it_off() {
        let l = UserBudget::per_user(0);
        for _ in 0..1000 {
            assert!(l.check(&"u".to_string()).is_ok());
        }
        let a = AuthFailures::new(0);
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..1000 {
            a.failed(ip);
        }
        assert_eq!(a.blocked(ip), None);
    }

    #[test]
    fn an_address_is_refused_after_its_failures_and_others_are_not() {
        let a = AuthFailures::new(2);
        let (ip, other): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        a.failed(ip);
        a.failed(ip);
        assert_eq!(a.blocked(ip), None, "two failures are within the budget");
        a.failed(ip);
        let left = a.blocked(ip).expect("the third failure blocks");
        assert!(
            left > Duration::ZERO && left <= Duration::from_secs(30),
            "{left:?}"
        );
        assert_eq!(a.blocked(other), None);
    }

    #[test]
    fn this_host_itself_is_never_refused() {
        let a = AuthFailures::new(1);
        for ip in [IpAddr::from([127, 0, 0, 1]), "::1".parse().unwrap()] {
            for _ in 0..100 {
                a.failed(ip);
            }
            assert_eq!(a.blocked(ip), None);
        }
    }
}
