//! Clients of systems outside SendOps (feature `ses`): SES v2 ([`ses`]), the sync of an org's
//! SES account into channels and identities ([`ses_sync`]), and DNS ([`dns`]).

pub mod dns;
pub mod ses;
pub mod ses_sync;
