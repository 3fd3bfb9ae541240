//! `/v1/messages`, `/v1/messages/{id}`, `/v1/messages/{id}/events` and
//! `/v1/recipients/{email}/messages`.

use axum::Json;
use axum::http::Uri;
use axum::response::Response;
use sendops_shared::address::{AddressRule, EmailAddress};
use sendops_shared::control::scopes::Scope;
use sendops_shared::event::envelope::{address_of, domain_of};
use sendops_shared::read::messages::{After, MessageFilter, MessageRow, TimelineRow};
use sendops_shared::timefmt::{DAY_MS, EpochMs, format_ms, now_ms};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::cursor::{self, Position};
use crate::listing::{PageRequest, checked_path_value, page, path_value, strict_cursor, with_link};
use crate::params::{Checks, Choice, Query};
use crate::problem::ApiError;
use crate::request::ApiRequest;
use crate::routes::Pagination;

/// Detail and timeline look back this far whatever the plan (docs/semantics.md#time-windows).
const DETAIL_LOOKBACK_MS: i64 = 365 * DAY_MS;

/// One message (the `V1Message` projection).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    /// SES message id.
    pub id: String,
    /// Channel slug (the SES configuration set), null when the message used none.
    pub channel: Option<String>,
    /// Template name, null when the message was not templated.
    pub template: Option<String>,
    /// `mail.source` as SES reported it.
    pub from: String,
    /// First recipient; masked (`j***@example.com`) without `api.messages.unmask_recipients`.
    pub to: String,
    pub subject: Option<String>,
    #[schema(format = DateTime)]
    pub sent_at: String,
    /// Type of the latest event that is one of Send, Delivery, Bounce, Complaint, Reject, Open,
    /// Click or DeliveryDelay; null when the message has none of them (only a Rendering Failure
    /// or a Subscription: SES never sent it), and then no `status` filter matches it.
    #[schema(required = true)]
    pub status: Option<String>,
    #[schema(format = DateTime)]
    pub last_event_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub data: Vec<Message>,
    pub pagination: Pagination,
}

/// One stored event of a message, for one recipient.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEvent {
    /// Send, Delivery, Bounce, Complaint, Reject, Open, Click, DeliveryDelay, RenderingFailure or Subscription.
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(format = DateTime)]
    pub occurred_at: String,
    /// The recipient this row is about (masked like `to`).
    pub recipient: String,
    /// Type-specific details; absent on Send. Keys SES did not send are omitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Timeline {
    pub data: Vec<TimelineEvent>,
}

crate::query_params! {
    /// Query parameters of `GET /v1/messages`.
    pub struct ListMessagesParams {
        @page,
        @window,
        @channel,
        /// Current status.
        #[param(value_type = Option<MessageStatus>)]
        status,
        /// Exact template name.
        template,
        @identity,
        /// Exact recipient address (requires api.messages.unmask_recipients).
        recipient,
    }
}

/// A message status: the type of its latest lifecycle event (docs/semantics.md#messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
pub enum MessageStatus {
    Send,
    Delivery,
    Bounce,
    Complaint,
    Reject,
    Open,
    Click,
    DeliveryDelay,
}

impl Choice for MessageStatus {
    const ALL: &'static [MessageStatus] = &[
        MessageStatus::Send,
        MessageStatus::Delivery,
        MessageStatus::Bounce,
        MessageStatus::Complaint,
        MessageStatus::Reject,
        MessageStatus::Open,
        MessageStatus::Click,
        MessageStatus::DeliveryDelay,
    ];
    fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Send => "Send",
            MessageStatus::Delivery => "Delivery",
            MessageStatus::Bounce => "Bounce",
            MessageStatus::Complaint => "Complaint",
            MessageStatus::Reject => "Reject",
            MessageStatus::Open => "Open",
            MessageStatus::Click => "Click",
            MessageStatus::DeliveryDelay => "DeliveryDelay",
        }
    }
}

crate::query_params! {
    /// Query parameters of `GET /v1/recipients/{email}/messages`.
    pub struct RecipientMessagesParams {
        @page,
        @window,
    }
}

/// `j***@example.com`: the first character of the local part, then `***@` and the domain.
pub fn mask(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

fn view(row: MessageRow, unmask: bool) -> Message {
    let to = row.destination.first().cloned().unwrap_or_default();
    let non_empty = |s: String| if s.is_empty() { None } else { Some(s) };
    Message {
        id: row.message_id,
        channel: non_empty(row.channel),
        template: non_empty(row.template),
        from: row.source,
        to: if unmask { to } else { mask(&to) },
        subject: non_empty(row.subject),
        sent_at: format_ms(row.sent_ms),
        status: row.status,
        last_event_at: format_ms(row.last_event_ms),
    }
}

/// The cursor parameter, decoded against this list and filter set (422 when it does not fit).
fn position(
    checks: &mut Checks,
    cursor: Option<&str>,
    kind: &str,
    fingerprint: &str,
) -> Option<After> {
    strict_cursor(checks, cursor, kind, fingerprint).map(|p| After {
        sent_ms: p.t,
        message_id: p.i,
    })
}

/// A page of messages with its pagination and `Link` header.
fn page_response(req: &PageRequest<'_>, rows: Vec<MessageRow>, unmask: bool) -> Response {
    let (rows, pagination, link) = page(req, rows, |r| Position {
        t: r.sent_ms,
        i: r.message_id.clone(),
    });
    let body = MessagePage {
        data: rows.into_iter().map(|r| view(r, unmask)).collect(),
        pagination,
    };
    with_link(req.headers, body, link)
}

/// Messages, newest first by `sent_at`, one cursor page at a time.
#[utoipa::path(get, path = "/v1/messages", operation_id = "listMessages", tag = "Messages", params(ListMessagesParams),
    responses((status = 200, description = "Cursor-paginated list of messages", body = MessagePage), (status = 304, description = "Not modified: the If-None-Match tag is still the answer")))]
pub async fn list(req: ApiRequest) -> Result<Response, ApiError> {
    req.p.require(Scope::MessagesView)?;
    let Query { params: q, raw } = Query::<ListMessagesParams>::parse(req.query())?;
    let mut checks = Checks::default();
    let limit = checks.limit(q.limit.as_deref()) as usize;
    let channel_id = checks.uuid("channel", q.channel.as_deref());
    let status = checks.choice::<MessageStatus>("status", q.status.as_deref());
    let template = checks.text("template", q.template.as_deref());
    let identity = checks.text("identity", q.identity.as_deref());
    let recipient = checks.text("recipient", q.recipient.as_deref());
    let fingerprint = cursor::filter_fingerprint(&q.filters());
    let after = position(&mut checks, q.cursor.as_deref(), "messages", &fingerprint);
    let window = checks.window(q.from.as_deref(), q.to.as_deref(), req.p.org.plan, now_ms())?;
    if recipient.is_some() {
        req.p.require(Scope::MessagesUnmaskRecipients)?;
    }
    let filter = MessageFilter {
        channel_id,
        status: status.map(|s| s.as_str().to_owned()),
        template,
        sender_domain: identity.map(|i| domain_of(address_of(&i))),
        recipient,
    };
    let rows = req
        .store()
        .await?
        .list_messages(
            req.p.org.id,
            window.range(),
            after.as_ref(),
            &filter,
            limit + 1,
        )
        .await?;
    let page_req = PageRequest {
        state: &req.state,
        headers: &req.headers,
        path: req.uri.path(),
        params: &raw,
        kind: "messages",
        fingerprint: &fingerprint,
        limit,
    };
    Ok(page_response(
        &page_req,
        rows,
        req.p.has(Scope::MessagesUnmaskRecipients),
    ))
}

/// The SES message id of `/v1/messages/{id}[/events]` (422 on `id` when empty or too long).
fn message_id(uri: &Uri) -> Result<String, ApiError> {
    checked_path_value(uri, 3, "id", 256)
}

/// The message of `/v1/messages/{id}[/events]`, for a key with the messages scope (404 when
/// there is none within the look-back).
async fn find_message(req: &ApiRequest) -> Result<MessageRow, ApiError> {
    req.p.require(Scope::MessagesView)?;
    let id = message_id(&req.uri)?;
    req.store()
        .await?
        .message_by_id(req.p.org.id, &id, EpochMs(now_ms() - DETAIL_LOOKBACK_MS))
        .await?
        .ok_or(ApiError::NotFound {
            resource: "message",
        })
}

/// One message by its SES message id (365 days look-back).
#[utoipa::path(get, path = "/v1/messages/{id}", operation_id = "getMessage", tag = "Messages",
    params(("id" = String, Path, description = "SES message id", min_length = 1, max_length = 256, pattern = r"^[^\u0000-\u001f\u007f-\u009f]+$")),
    responses((status = 200, description = "Single-message detail", body = Message)))]
pub async fn get_one(req: ApiRequest) -> Result<Json<Message>, ApiError> {
    let row = find_message(&req).await?;
    Ok(Json(view(row, req.p.has(Scope::MessagesUnmaskRecipients))))
}

fn metadata(row: &TimelineRow) -> Option<Map<String, Value>> {
    use sendops_shared::EventType as T;
    let mut m = Map::new();
    let mut put = |k: &str, v: &str| {
        if !v.is_empty() {
            m.insert(k.into(), Value::String(v.to_owned()));
        }
    };
    match row.event_type {
        T::Send => return None,
        T::Bounce => {
            put("bounce_type", &row.bounce_type);
            put("bounce_sub_type", &row.bounce_sub_type);
            put("smtp_response", &row.diagnostic);
        }
        T::Complaint => put("complaint_feedback_type", &row.feedback_type),
        T::Delivery => {
            put("smtp_response", &row.smtp_response);
            if let Some(ms) = row.processing_time_ms {
                m.insert("processing_time_ms".into(), Value::from(ms));
            }
        }
        T::DeliveryDelay => put("delay_type", &row.delay_type),
        T::Reject => put("reject_reason", &row.reject_reason),
        T::Open => {
            put("ip_address", &row.ip_address);
            put("user_agent", &row.user_agent);
        }
        T::Click => {
            put("click_url", &row.click_url);
            put("ip_address", &row.ip_address);
            put("user_agent", &row.user_agent);
        }
        T::RenderingFailure => {
            put("template_name", &row.template);
            put("error_message", &row.error_message);
        }
        T::Subscription => put("contact_list", &row.contact_list),
    }
    Some(m)
}

/// Every stored event of one message (one entry per event and recipient), oldest first.
#[utoipa::path(get, path = "/v1/messages/{id}/events", operation_id = "getMessageTimeline", tag = "Messages",
    params(("id" = String, Path, description = "SES message id", min_length = 1, max_length = 256, pattern = r"^[^\u0000-\u001f\u007f-\u009f]+$")),
    responses((status = 200, description = "Chronological event list (ascending)", body = Timeline)))]
pub async fn events(req: ApiRequest) -> Result<Json<Timeline>, ApiError> {
    let message = find_message(&req).await?;
    let mut rows = req
        .store()
        .await?
        .message_events(req.p.org.id, &message)
        .await?;
    if rows.is_empty() {
        return Err(ApiError::NotFound {
            resource: "message",
        });
    }
    rows.sort_by(|a, b| {
        (a.occurred_ms, a.event_type.lifecycle_rank(), &a.recipient).cmp(&(
            b.occurred_ms,
            b.event_type.lifecycle_rank(),
            &b.recipient,
        ))
    });
    let unmask = req.p.has(Scope::MessagesUnmaskRecipients);
    let data = rows
        .iter()
        .map(|r| TimelineEvent {
            kind: r.event_type.as_str().to_owned(),
            occurred_at: format_ms(r.occurred_ms),
            recipient: if unmask {
                r.recipient.clone()
            } else {
                mask(&r.recipient)
            },
            metadata: metadata(r),
        })
        .collect();
    Ok(Json(Timeline { data }))
}

/// Messages addressed to one recipient (exact, case-sensitive), newest first.
#[utoipa::path(get, path = "/v1/recipients/{email}/messages", operation_id = "listRecipientMessages", tag = "Messages",
    params(("email" = String, Path, description = "Recipient address; percent-encode '@' as %40", min_length = 1, max_length = 320, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*@[^\u0000-\u001f\u007f-\u009f]*$"), RecipientMessagesParams),
    responses((status = 200, description = "Cursor-paginated list of messages", body = MessagePage), (status = 304, description = "Not modified: the If-None-Match tag is still the answer")))]
pub async fn by_recipient(req: ApiRequest) -> Result<Response, ApiError> {
    req.p.require(Scope::MessagesUnmaskRecipients)?;
    let typed = path_value(&req.uri, 3)?;
    let Query { params: q, raw } = Query::<RecipientMessagesParams>::parse(req.query())?;
    let mut checks = Checks::default();
    let email = EmailAddress::parse(&typed, AddressRule::AsTyped);
    if let Err(e) = &email {
        checks.fail("email", e.to_string());
    }
    let limit = checks.limit(q.limit.as_deref()) as usize;
    let mut parts: Vec<(&str, String)> = vec![("email", typed)];
    parts.extend(q.filters());
    let fingerprint = cursor::filter_fingerprint(&parts);
    let after = position(
        &mut checks,
        q.cursor.as_deref(),
        "recipient_messages",
        &fingerprint,
    );
    let window = checks.window(q.from.as_deref(), q.to.as_deref(), req.p.org.plan, now_ms())?;
    // Refused above already (`window` answers every failed check).
    let email = email.map_err(|e| ApiError::field("email", e.to_string()))?;
    let store = req.store().await?;
    let keys = store
        .recipient_message_keys(
            req.p.org.id,
            email.as_str(),
            window.range(),
            after.as_ref(),
            limit + 1,
        )
        .await?;
    let rows = store.messages_by_keys(req.p.org.id, &keys).await?;
    let path = req.uri.path().to_owned();
    let page_req = PageRequest {
        state: &req.state,
        headers: &req.headers,
        path: &path,
        params: &raw,
        kind: "recipient_messages",
        fingerprint: &fingerprint,
        limit,
    };
    Ok(page_response(&page_req, rows, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_statuses_are_the_stored_ones() {
        let names: Vec<&str> = MessageStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, sendops_shared::read::messages::STATUSES);
    }
}
