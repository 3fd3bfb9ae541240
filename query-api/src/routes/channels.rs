//! `/v1/channels` and `/v1/channels/{name}`: the org's SES configuration sets as synced by
//! `sendops-admin sync ses`, newest first.

use sendops_shared::control::entities::Channel;
use sendops_shared::timefmt::format_ms;
use serde::Serialize;
use utoipa::ToSchema;

use crate::routes::Pagination;

/// A channel: one SES configuration set.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelView {
    /// UUIDv5 of the configuration-set name in the org's namespace (the `channel=` filter value).
    pub id: uuid::Uuid,
    /// Display name (the configuration set's `Name` tag, else its name).
    pub name: String,
    /// The configuration-set name; message projections carry it as `channel`.
    pub slug: String,
    /// `active`, or `paused` when SES sending is disabled for the set.
    #[schema(example = "active")]
    pub status: String,
    /// The custom redirect domain for open/click tracking.
    pub tracking_domain: Option<String>,
    /// Reasons SES suppresses recipients for (`BOUNCE`, `COMPLAINT`).
    pub suppression_policy: Vec<String>,
    /// Identities whose default configuration set this is.
    pub identities: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<Channel> for ChannelView {
    fn from(c: Channel) -> Self {
        ChannelView {
            id: c.id,
            status: c.status().to_owned(),
            name: c.name,
            slug: c.slug,
            tracking_domain: c.tracking_domain,
            suppression_policy: c.suppression_policy,
            identities: c.identities,
            created_at: format_ms(c.created_ms),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelPage {
    pub data: Vec<ChannelView>,
    pub pagination: Pagination,
}

crate::catalog! { Channel => view ChannelView, page ChannelPage, kind "channels", resource "channel",
scope ChannelsView, key ("name", 256), order |c| (c.created_ms, c.slug.clone()), store (channels, channel),
list ("/v1/channels", "listChannels", "Channels", "Channels, newest first.", "Channels, newest-first"),
one ("/v1/channels/{name}", "getChannel", "One channel by its slug (the configuration-set name, exact).", "Channel slug: the `slug` field of the list, not the display name", "Channel detail") }
