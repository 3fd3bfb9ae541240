//! The migration lock: a lease kept as rows of `schema_migrations_lock`, so that several deploys
//! running `sendops-admin migrate` at once apply each migration once.
//!
//! ClickHouse has no transactions (and 18.16 no KeeperMap), so the lock is a write-then-read
//! protocol over an append-only table:
//!
//! 1. A process appends a claim row (a fresh claim id, `host/pid`, `acquired_ms`, `expires_ms`)
//!    and keeps renewing it (a new row with a higher `seq`) every quarter of the lease.
//! 2. It then reads every live claim (not released, `expires_ms` in the future). If its own is
//!    the only one, it holds the lock. If it sees an earlier claim (by `(acquired_ms, claim)`),
//!    it withdraws its own and waits until no claim is live. If it sees only later claims, it
//!    keeps its claim and reads again until they are gone (their owners withdraw on seeing it,
//!    or hold the lock and release it when done).
//!
//! Why two processes cannot both hold it: a process holds only if, after its own claim was
//! acknowledged, it read no other live claim. If A and B both held, A's read came before B's
//! write and B's read before A's write; with each write before its own read that is a cycle.
//! The order of claims only decides who withdraws, so clock skew cannot break exclusion; it only
//! shifts expiry, which is why the lease (60 s by default) is far longer than any sane skew.
//! The holder re-checks that its claim is still live before each statement and stops when a
//! renewal has failed for a whole lease. This needs reads that see acknowledged writes: true on
//! one server; on a replicated cluster these tables need `insert_quorum` writes and
//! `select_sequential_consistency` reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use clickhouse::Row;
use serde::Deserialize;
use uuid::Uuid;

use crate::store::error::StoreError;
use crate::store::metered::Client;
use crate::timefmt::now_ms;

/// The lock table (created by the runner before it asks for the lock).
pub const LOCK_TABLE_DDL: &str = "CREATE TABLE IF NOT EXISTS schema_migrations_lock (\
     claim UUID, owner String, acquired_ms Int64, expires_ms Int64, released UInt8, seq UInt64) \
     ENGINE = ReplacingMergeTree(seq) ORDER BY claim";

/// One live claim, as every process reads them.
#[derive(Debug, Clone, Row, Deserialize)]
pub struct Claim {
    #[serde(rename = "claim_id")]
    pub claim: String,
    #[serde(rename = "claim_owner")]
    pub owner: String,
    #[serde(rename = "claim_acquired_ms")]
    pub acquired_ms: i64,
    #[serde(rename = "claim_expires_ms")]
    pub expires_ms: i64,
}

/// Reports waiting and progress lines (stderr in the CLI).
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// How long a lease lasts, how long to wait for one, and how often to look again.
#[derive(Clone, Copy, Debug)]
pub struct LeaseTimes {
    pub ttl: Duration,
    pub wait: Duration,
    pub poll: Duration,
}

/// A held migration lock. Renewed in the background until [`Lease::release`] (or drop, which
/// leaves the claim to expire).
pub struct Lease {
    client: Client,
    claim: Uuid,
    owner: String,
    acquired_ms: i64,
    ttl: Duration,
    /// The expiry of the last renewal that was acknowledged.
    expires_ms: Arc<AtomicI64>,
    seq: Arc<AtomicU64>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

fn owner_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned());
    format!("{host}/{}", std::process::id())
}

async fn write_claim(
    client: &Client,
    claim: Uuid,
    owner: &str,
    acquired_ms: i64,
    expires_ms: i64,
    released: bool,
    seq: u64,
) -> Result<(), StoreError> {
    client
        .query(
            "INSERT INTO schema_migrations_lock (claim, owner, acquired_ms, expires_ms, released, seq) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(claim.to_string())
        .bind(owner)
        .bind(acquired_ms)
        .bind(expires_ms)
        .bind(u8::from(released))
        .bind(seq)
        .execute()
        .await?;
    Ok(())
}

/// Every live claim, earliest first.
pub async fn live_claims(client: &Client) -> Result<Vec<Claim>, StoreError> {
    Ok(client
        .query(
            "SELECT toString(claim) AS claim_id, argMax(owner, seq) AS claim_owner, \
             min(acquired_ms) AS claim_acquired_ms, argMax(expires_ms, seq) AS claim_expires_ms \
             FROM schema_migrations_lock GROUP BY claim \
             HAVING argMax(released, seq) = 0 AND claim_expires_ms > ? \
             ORDER BY claim_acquired_ms, claim_id",
        )
        .bind(now_ms())
        .fetch_all::<Claim>()
        .await?)
}

impl Lease {
    /// Waits (up to `times.wait`, with a progress line every few seconds) until this process
    /// holds the migration lock.
    pub async fn acquire(
        client: &Client,
        times: LeaseTimes,
        progress: &Progress,
    ) -> Result<Lease, StoreError> {
        let started = tokio::time::Instant::now();
        let deadline = started + times.wait;
        let owner = owner_name();
        let mut last_report = started;
        let mut report = |held_by: &Claim| {
            let now = tokio::time::Instant::now();
            if now.duration_since(last_report) >= Duration::from_secs(5) {
                last_report = now;
                progress(&format!(
                    "waiting for the migration lock held by {} (claim {}, expires in {} s), {} s so far",
                    held_by.owner,
                    held_by.claim,
                    (held_by.expires_ms - now_ms()).max(0) / 1000,
                    now.duration_since(started).as_secs()
                ));
            }
        };
        let timed_out = |holder: &Claim| {
            StoreError::Unavailable(format!(
                "the migration lock is still held by {} (claim {}) after {} s; try again later \
                 (a crashed holder's claim expires within its lease)",
                holder.owner,
                holder.claim,
                times.wait.as_secs()
            ))
        };
        loop {
            // Wait until nobody holds or claims the lock before claiming it.
            loop {
                let live = live_claims(client).await?;
                let Some(first) = live.first() else { break };
                if tokio::time::Instant::now() >= deadline {
                    return Err(timed_out(first));
                }
                report(first);
                tokio::time::sleep(times.poll).await;
            }
            let lease = Lease::claim(client, &owner, times).await?;
            let mine = lease.claim.to_string();
            loop {
                let live = live_claims(client).await?;
                let others: Vec<&Claim> = live.iter().filter(|c| c.claim != mine).collect();
                if !live.iter().any(|c| c.claim == mine) {
                    // Our own claim is not visible (or expired): start again.
                    lease.withdraw().await;
                    break;
                }
                let Some(first_other) = others.first() else {
                    return Ok(lease);
                };
                let earlier = (first_other.acquired_ms, first_other.claim.as_str())
                    < (lease.acquired_ms, mine.as_str());
                if earlier {
                    lease.withdraw().await;
                    break;
                }
                // Only later claims: their owners withdraw once they see ours (or one of them
                // holds the lock because it did not see ours yet, and releases it when done).
                if tokio::time::Instant::now() >= deadline {
                    let holder = (*first_other).clone();
                    lease.withdraw().await;
                    return Err(timed_out(&holder));
                }
                report(first_other);
                tokio::time::sleep(times.poll.min(Duration::from_millis(100))).await;
            }
        }
    }

    /// Appends a fresh claim and starts renewing it.
    async fn claim(client: &Client, owner: &str, times: LeaseTimes) -> Result<Lease, StoreError> {
        let claim = Uuid::new_v4();
        let acquired_ms = now_ms();
        let ttl_ms = times.ttl.as_millis() as i64;
        write_claim(
            client,
            claim,
            owner,
            acquired_ms,
            acquired_ms + ttl_ms,
            false,
            1,
        )
        .await?;
        let expires = Arc::new(AtomicI64::new(acquired_ms + ttl_ms));
        let seq = Arc::new(AtomicU64::new(1));
        let renewer = {
            let (client, owner) = (client.clone(), owner.to_owned());
            let (expires, seq) = (expires.clone(), seq.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(times.ttl / 4);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let now = now_ms();
                    if now >= expires.load(Ordering::SeqCst) {
                        // Lost: another process may hold the lock by now. Never renew again.
                        return;
                    }
                    let next = seq.fetch_add(1, Ordering::SeqCst) + 1;
                    let until = now + ttl_ms;
                    if write_claim(&client, claim, &owner, acquired_ms, until, false, next)
                        .await
                        .is_ok()
                    {
                        expires.fetch_max(until, Ordering::SeqCst);
                    }
                }
            })
        };
        Ok(Lease {
            client: client.clone(),
            claim,
            owner: owner.to_owned(),
            acquired_ms,
            ttl: times.ttl,
            expires_ms: expires,
            seq,
            renewer,
        })
    }

    /// This lease's claim id.
    pub fn claim_id(&self) -> Uuid {
        self.claim
    }

    /// Fails unless this process still holds the lock: its last acknowledged renewal has not
    /// expired (with a margin of a tenth of the lease) and its claim is still live in the table.
    pub async fn check(&self) -> Result<(), StoreError> {
        let margin = (self.ttl.as_millis() / 10) as i64;
        let lost = || {
            StoreError::Unavailable(format!(
                "lost the migration lock (claim {} of {}): a renewal failed for a whole lease; \
                 run migrate again",
                self.claim, self.owner
            ))
        };
        if now_ms() + margin >= self.expires_ms.load(Ordering::SeqCst) {
            return Err(lost());
        }
        let mine = self.claim.to_string();
        if !live_claims(&self.client)
            .await?
            .iter()
            .any(|c| c.claim == mine)
        {
            return Err(lost());
        }
        Ok(())
    }

    /// Marks the claim released (best effort: a claim that could not be released expires).
    async fn withdraw(&self) {
        self.renewer.abort();
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        // A high seq so that a renewal racing the abort cannot come after it.
        let _ = write_claim(
            &self.client,
            self.claim,
            &self.owner,
            self.acquired_ms,
            0,
            true,
            seq + (1 << 40),
        )
        .await;
    }

    /// Releases the lock.
    pub async fn release(self) {
        self.withdraw().await;
    }

    /// Stops renewing without releasing, as a killed process would (tests).
    pub fn abandon(self) {
        self.renewer.abort();
    }
}
