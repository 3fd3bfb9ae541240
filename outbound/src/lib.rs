//! SendOps's clients of systems outside it, used by the query API and the operator CLI (never by
//! ingest): SES v2 ([`ses`]), the sync of an org's SES account into channels and identities
//! ([`ses_sync`]), DNS ([`dns`]), the git template repository ([`templates_repo`]) and tracking
//! domain verification ([`tracking_verify`]). What they read is stored through
//! `sendops-shared`.

pub mod dns;
pub mod providers;
pub mod ses;
pub mod ses_sync;
pub mod templates_repo;
pub mod tracking_verify;
