//! `/v1/channels` and `/v1/channels/{name}`: the org's SES configuration sets as synced by
//! `sendops-admin sync ses`, newest first.

use axum::Json;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use sendops_shared::control::entities::Channel;
use sendops_shared::control::scopes::Scope;
use sendops_shared::timefmt::format_ms;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Auth;
use crate::cursor::Position;
use crate::listing::{EntityList, checked_path_value};
use crate::problem::ApiError;
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

const KIND: &str = "channels";

/// Channels, newest first.
#[utoipa::path(get, path = "/v1/channels", operation_id = "listChannels", tag = "Channels", params(crate::listing::EntityListParams),
    responses((status = 200, description = "Channels, newest-first", body = ChannelPage), (status = 304, description = "Not modified: the If-None-Match tag is still the answer")))]
pub async fn list(
    State(state): State<AppState>,
    Extension(Auth(p)): Extension<Auth>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    p.require(Scope::ChannelsView)?;
    let (store, org_id) = (&state.store, p.org.id);
    EntityList {
        state: &state,
        headers: &headers,
        query: query.as_deref(),
        kind: KIND,
        path: uri.path(),
    }
    .respond(
        |after, n| async move { store.channels(org_id, after.as_ref(), n).await },
        |c| Position {
            t: c.created_ms,
            i: c.slug.clone(),
        },
        |rows, pagination| ChannelPage {
            data: rows.into_iter().map(ChannelView::from).collect(),
            pagination,
        },
    )
    .await
}

/// One channel by its slug (the configuration-set name, exact).
#[utoipa::path(get, path = "/v1/channels/{name}", operation_id = "getChannel", tag = "Channels",
    params(("name" = String, Path, description = "Channel slug: the `slug` field of the list, not the display name", min_length = 1, max_length = 256, pattern = r"^[^\u0000-\u001f\u007f-\u009f]+$")),
    responses((status = 200, description = "Channel detail", body = ChannelView)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(Auth(p)): Extension<Auth>,
    uri: Uri,
) -> Result<Json<ChannelView>, ApiError> {
    p.require(Scope::ChannelsView)?;
    let slug = checked_path_value(&uri, 3, "name", 256)?;
    let channel = state
        .store
        .channel(p.org.id, &slug)
        .await?
        .ok_or(ApiError::NotFound {
            resource: "channel",
        })?;
    Ok(Json(channel.into()))
}
