//! Test support shared by the crates' integration tests (dev-dependency only):
//!
//! - [`ses::FakeSes`]: an Amazon SES v2 endpoint speaking the REST-JSON wire format the real
//!   `aws-sdk-sesv2` client sends and parses (no emulator covers the suppression list or
//!   GetAccount). It counts requests per operation so tests can prove caching.
//! - [`sqs::FakeSqs`]: an in-memory Amazon SQS queue speaking the AWS JSON 1.0 protocol of
//!   `aws-sdk-sqs` (ReceiveMessage, DeleteMessageBatch, …) fast enough to feed the poller
//!   hundreds of thousands of messages, with an optional per-call latency; the
//!   `sendops-fake-sqs` binary serves a file of messages with it (benches/poll.sh).
//! - [`dns::FakeDns`]: a UDP DNS server answering CNAME queries from a table, for tracking-domain
//!   verification.
//! - [`clickhouse::PrivateClickHouse`]: a ClickHouse server process of a test's own (temp
//!   directory, free ports) that the test can SIGKILL and restart.
//! - [`process`]: a plain HTTP GET to a spawned binary's port, SIGTERM to it, and a finished
//!   command's exit checked with its stderr shown.
//! - [`files`]: the `.json` files of a samples directory, sorted.
//! - [`git`]: `git` with a fixed author and no user config, for template repositories.
//! - [`json`]: the sorted keys of a JSON object.
//! - [`quarantine`]: a record that is not UTF-8, as the quarantine must keep it.
//! - [`proxy::DelayProxy`]: an HTTP proxy in front of ClickHouse that holds or drops one chosen
//!   request or response, for "in flight" and "committed but not acknowledged" faults.

pub mod clickhouse;
pub mod dns;
pub mod files;
pub mod git;
pub mod json;
pub mod process;
pub mod proxy;
pub mod quarantine;
pub mod ses;
pub mod sqs;
