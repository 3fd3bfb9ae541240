//! Rate limits (governor, GCRA): one budget per (org, key environment) shared by every key of
//! that environment, and a tighter per-IP budget for requests without a valid key. Limits are
//! per process: with N replicas behind a load balancer, configure each org's override divided by N.
//! Memory stays bounded: limiters live in size- and idle-bounded caches, and a background task
//! calls `retain_recent`/`shrink_to_fit` on the per-IP limiter.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use uuid::Uuid;

type DirectLimiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;
type IpLimiter =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock, StateInformationMiddleware>;

/// The budget state reported in `X-RateLimit-*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the budget is full again (on a 429: until a request is allowed).
    pub reset_secs: u64,
}

/// A request over budget: the state to report and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    pub budget: Budget,
    pub retry_after: u64,
}

fn refill_secs(limit: u32, remaining: u32) -> u64 {
    let missing = u64::from(limit.saturating_sub(remaining));
    (missing * 60).div_ceil(u64::from(limit.max(1)))
}

fn wait_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

pub struct RateLimits {
    orgs: moka::sync::Cache<(Uuid, bool, u32), Arc<DirectLimiter>>,
    ip: IpLimiter,
    ip_limit: u32,
    /// IPs that exhausted their auth-failure budget, until when (every request 429s meanwhile).
    blocked: moka::sync::Cache<IpAddr, Instant>,
    clock: DefaultClock,
}

impl RateLimits {
    pub fn new(auth_failures_per_minute: u32) -> RateLimits {
        let ip_limit = auth_failures_per_minute.max(1);
        RateLimits {
            orgs: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            ip: RateLimiter::keyed(Quota::per_minute(
                NonZeroU32::new(ip_limit).expect("non-zero"),
            ))
            .with_middleware::<StateInformationMiddleware>(),
            ip_limit,
            blocked: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(120))
                .build(),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request from the budget of (org, environment) at `per_minute`.
    pub fn check_org(
        &self,
        org: Uuid,
        test_env: bool,
        per_minute: u32,
    ) -> Result<Budget, Exceeded> {
        let limit = per_minute.max(1);
        let limiter = self.orgs.get_with((org, test_env, limit), || {
            Arc::new(
                RateLimiter::direct(Quota::per_minute(NonZeroU32::new(limit).expect("non-zero")))
                    .with_middleware::<StateInformationMiddleware>(),
            )
        });
        match limiter.check() {
            Ok(snap) => {
                let remaining = snap.remaining_burst_capacity();
                Ok(Budget {
                    limit,
                    remaining,
                    reset_secs: refill_secs(limit, remaining),
                })
            }
            Err(not_until) => {
                let retry_after = wait_secs(not_until.wait_time_from(self.clock.now())).max(1);
                Err(Exceeded {
                    budget: Budget {
                        limit,
                        remaining: 0,
                        reset_secs: retry_after,
                    },
                    retry_after,
                })
            }
        }
    }

    /// While an IP is blocked: how many seconds are left.
    pub fn blocked_for(&self, ip: IpAddr) -> Option<u64> {
        let until = self.blocked.get(&ip)?;
        let now = Instant::now();
        (until > now).then(|| wait_secs(until - now).max(1))
    }

    /// Counts a request without a valid key; once the IP exceeds its budget it is blocked for the
    /// time governor says, valid key or not.
    pub fn auth_failure(&self, ip: IpAddr) -> Result<Budget, Exceeded> {
        match self.ip.check_key(&ip) {
            Ok(snap) => {
                let remaining = snap.remaining_burst_capacity();
                Ok(Budget {
                    limit: self.ip_limit,
                    remaining,
                    reset_secs: refill_secs(self.ip_limit, remaining),
                })
            }
            Err(not_until) => {
                let wait = not_until
                    .wait_time_from(self.clock.now())
                    .max(Duration::from_secs(1));
                self.blocked.insert(ip, Instant::now() + wait);
                let retry_after = wait_secs(wait);
                Err(Exceeded {
                    budget: Budget {
                        limit: self.ip_limit,
                        remaining: 0,
                        reset_secs: retry_after,
                    },
                    retry_after,
                })
            }
        }
    }

    /// What unauthenticated requests from an IP have left (reported on public endpoints).
    pub fn ip_budget(&self, ip: IpAddr) -> Budget {
        match self.blocked_for(ip) {
            Some(secs) => Budget {
                limit: self.ip_limit,
                remaining: 0,
                reset_secs: secs,
            },
            None => Budget {
                limit: self.ip_limit,
                remaining: self.ip_limit,
                reset_secs: 0,
            },
        }
    }

    /// Drops limiter state that no longer matters (called periodically).
    pub fn housekeeping(&self) {
        self.ip.retain_recent();
        self.ip.shrink_to_fit();
        self.orgs.run_pending_tasks();
        self.blocked.run_pending_tasks();
    }

    /// Number of IPs with limiter state (tests of boundedness).
    pub fn tracked_ips(&self) -> usize {
        self.ip.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_budget_counts_down_then_refuses() {
        let limits = RateLimits::new(5);
        let org = Uuid::new_v4();
        let first = limits.check_org(org, false, 3).unwrap();
        assert_eq!((first.limit, first.remaining), (3, 2));
        assert_eq!(limits.check_org(org, false, 3).unwrap().remaining, 1);
        assert_eq!(limits.check_org(org, false, 3).unwrap().remaining, 0);
        let over = limits.check_org(org, false, 3).unwrap_err();
        assert!(over.retry_after >= 1 && over.retry_after <= 20, "{over:?}");
        // Another environment of the same org has its own budget.
        assert!(limits.check_org(org, true, 3).is_ok());
    }

    #[test]
    fn ip_is_blocked_after_its_auth_failures() {
        let limits = RateLimits::new(2);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(limits.blocked_for(ip).is_none());
        assert!(limits.auth_failure(ip).is_ok());
        assert!(limits.auth_failure(ip).is_ok());
        assert!(limits.auth_failure(ip).is_err());
        assert!(limits.blocked_for(ip).is_some());
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert!(limits.blocked_for(other).is_none());
    }

    #[test]
    fn refill_rounds_up() {
        assert_eq!(refill_secs(600, 600), 0);
        assert_eq!(refill_secs(600, 599), 1);
        assert_eq!(refill_secs(60, 0), 60);
    }
}
