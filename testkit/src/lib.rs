//! Test support shared by the crates' integration tests (dev-dependency only):
//!
//! - [`ses::FakeSes`]: an Amazon SES v2 endpoint speaking the REST-JSON wire format the real
//!   `aws-sdk-sesv2` client sends and parses (no emulator covers the suppression list or
//!   GetAccount). It counts requests per operation so tests can prove caching.
//! - [`dns::FakeDns`]: a UDP DNS server answering CNAME queries from a table, for tracking-domain
//!   verification.

pub mod dns;
pub mod ses;
