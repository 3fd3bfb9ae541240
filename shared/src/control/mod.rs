//! The control plane: orgs ([`org`], [`org_settings`]), API keys and scopes ([`api_key`],
//! [`scopes`]), the audit log ([`audit`]), synced entities ([`entities`]: channels and
//! identities), templates ([`templates`]) and tracking domains ([`tracking`]).

pub mod api_key;
pub mod audit;
pub mod entities;
pub mod org;
pub mod org_settings;
pub mod scopes;
pub mod templates;
pub mod tracking;
