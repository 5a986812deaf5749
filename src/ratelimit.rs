//! The per-user send budget of this node, shared by HTTP and WebSocket sends.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

/// The window `SEND_RATE_LIMIT` counts sends in.
pub const WINDOW: Duration = Duration::from_secs(10);

/// `limit` sends per user per [`WINDOW`], refilled smoothly; `None` when the limit is off.
pub struct SendLimiter {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

impl SendLimiter {
    pub fn new(limit: u32) -> SendLimiter {
        let limiter = NonZeroU32::new(limit).and_then(|n| {
            Quota::with_period(WINDOW / n.get()).map(|q| RateLimiter::keyed(q.allow_burst(n)))
        });
        SendLimiter { limiter }
    }

    /// Takes one send from the user's budget, or says how long until one is free.
    pub fn check(&self, user_id: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter
            .check_key(&user_id.to_string())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Drops the state of users whose budget is full again, so memory follows active users only.
    pub fn prune(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses_with_a_wait() {
        let l = SendLimiter::new(3);
        for _ in 0..3 {
            assert!(l.check("u").is_ok());
        }
        let wait = l.check("u").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(3334),
            "{wait:?}"
        );
        assert!(l.check("other").is_ok());
    }

    #[test]
    fn zero_turns_it_off() {
        let l = SendLimiter::new(0);
        for _ in 0..1000 {
            assert!(l.check("u").is_ok());
        }
    }
}
