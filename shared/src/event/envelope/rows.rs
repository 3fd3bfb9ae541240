//! From one decoded SES event to its stored rows, one per recipient: the recipients of each
//! event type, event times, sending address and domain, and the checks that quarantine an event
//! (missing fields, unstorable times, too many recipients).

use super::*;
use crate::event::event_id::event_id;
use crate::event::row::{EventRow, EventType, Text};
use crate::event::ses_event::{Document, Mail, RecipientStatus, Str};
use crate::timefmt::{STORABLE_END_MS, day_of_ms, parse_rfc3339_ms};

/// `s.trim()`, without looking further when both ends are printable ASCII (never whitespace).
#[inline]
pub(super) fn trim(s: &str) -> &str {
    match s.as_bytes() {
        [first, .., last] if (0x21..0x7f).contains(first) && (0x21..0x7f).contains(last) => s,
        [only] if (0x21..0x7f).contains(only) => s,
        _ => s.trim(),
    }
}

/// The address inside `Name <addr>` (or the whole value).
pub fn address_of(source: &str) -> &str {
    let s = trim(source);
    // Byte searches: `<` and `>` are ASCII, so their byte positions are where `rfind` finds them.
    let b = s.as_bytes();
    match (
        b.iter().rposition(|&c| c == b'<'),
        b.iter().rposition(|&c| c == b'>'),
    ) {
        (Some(open), Some(close)) if open < close => trim(&s[open + 1..close]),
        _ => s,
    }
}

/// Lower-cased domain of an address (or of a bare domain).
pub fn domain_of(address: &str) -> String {
    domain_part(address).to_ascii_lowercase()
}

/// The trimmed part after the last `@` (all of `address` when it has none), case kept.
pub(super) fn domain_part(address: &str) -> &str {
    let domain = match address.as_bytes().iter().rposition(|&c| c == b'@') {
        Some(at) => &address[at + 1..],
        None => address,
    };
    trim(domain)
}

/// An event's own time, or `sent_ms` (already checked) when SES gave none.
pub(super) fn event_time(
    ts: Option<&Str<'_>>,
    sent_ms: i64,
    field: &str,
) -> Result<i64, Rejection> {
    match ts {
        None => Ok(sent_ms),
        Some(ts) => storable_time(ts, field),
    }
}

/// Reads a timestamp the store can hold: RFC 3339, in [1970-01-01, 2105-12-31) UTC. Rows carry
/// the day as a ClickHouse `Date` (days since 1970 in a `UInt16`) and reads bind dates that
/// 18.16 parses up to 2105-12-31 only ([`STORABLE_END_MS`]), so a time outside that would be
/// stored on a wrong day or never be read.
pub(super) fn storable_time(ts: &Str<'_>, field: &str) -> Result<i64, Rejection> {
    let ms = parse_rfc3339_ms(ts).ok_or_else(|| {
        reject(
            QuarantineReason::InvalidEvent,
            format!("{field} is not RFC 3339: {:?}", &**ts),
        )
    })?;
    if !(0..STORABLE_END_MS).contains(&ms) {
        return Err(reject(
            QuarantineReason::InvalidEvent,
            format!(
                "{field} {:?} is outside what can be stored \
                 (1970-01-01T00:00:00Z to before 2105-12-31T00:00:00Z)",
                &**ts
            ),
        ));
    }
    Ok(ms)
}

/// More recipients than [`MAX_RECIPIENTS`].
pub(super) fn too_many(what: &str, count: usize) -> Rejection {
    reject(
        QuarantineReason::InvalidEvent,
        format!(
            "{what} names {count} recipients; at most {MAX_RECIPIENTS} are accepted \
             (SES sends at most 50 per message)"
        ),
    )
}

pub(super) fn missing(what: &str) -> Rejection {
    reject(QuarantineReason::InvalidEvent, format!("missing {what}"))
}

/// The recipients of one event, each with its DSN diagnostic code (empty when there is none):
/// read in place, without collecting them first.
#[derive(Clone, Copy)]
pub(super) enum Recipients<'s, 'a> {
    /// Plain addresses; blank ones are skipped.
    Addresses(&'s [Str<'a>]),
    /// Addresses with DSN fields, checked by [`check_statuses`] first (none is missing).
    Statuses(&'s [RecipientStatus<'a>]),
}

impl<'s> Recipients<'s, '_> {
    /// `(address, diagnostic)` of each recipient, in order.
    fn iter(self) -> impl Iterator<Item = (&'s str, &'s str)> {
        let (addresses, statuses) = match self {
            Recipients::Addresses(list) => (list, &[][..]),
            Recipients::Statuses(list) => (&[][..], list),
        };
        let addresses = addresses
            .iter()
            .filter(|a| !trim(a).is_empty())
            .map(|a| (&**a, ""));
        let statuses = statuses.iter().map(|r| {
            (
                r.email_address.as_deref().unwrap_or(""),
                r.diagnostic_code.as_deref().unwrap_or(""),
            )
        });
        addresses.chain(statuses)
    }
}

/// Every status names its recipient (a missing or blank address fails the event).
pub(super) fn check_statuses<'s, 'a>(
    list: &'s [RecipientStatus<'a>],
    field: &str,
) -> Result<Recipients<'s, 'a>, Rejection> {
    if list.iter().all(|r| {
        r.email_address
            .as_deref()
            .is_some_and(|a| !a.trim().is_empty())
    }) {
        Ok(Recipients::Statuses(list))
    } else {
        Err(missing(field))
    }
}

pub(super) fn ses_event_rows<M, D>(
    doc: &Document<'_, M, D>,
    type_name: &str,
    fallback_account: Option<&str>,
) -> Result<ParsedEvent, Rejection> {
    let ty = EventType::from_ses(type_name).ok_or_else(|| {
        reject(
            QuarantineReason::UnsupportedEventType,
            format!("event type {type_name:?}"),
        )
    })?;
    let mail: &Mail<'_> = doc.mail.as_ref().ok_or_else(|| missing("mail"))?;
    let account_id = mail
        .sending_account_id
        .as_deref()
        .or(fallback_account)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| missing("mail.sendingAccountId"))?
        .to_owned();
    let with_account = |mut r: Rejection| {
        r.account_id.clone_from(&account_id);
        r
    };
    let message_id = mail
        .message_id
        .as_deref()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| with_account(missing("mail.messageId")))?;
    let sent_raw = mail
        .timestamp
        .as_ref()
        .ok_or_else(|| with_account(missing("mail.timestamp")))?;
    let sent_ms = storable_time(sent_raw, "mail.timestamp").map_err(with_account)?;
    if mail.destination.len() > MAX_RECIPIENTS {
        return Err(with_account(too_many(
            "mail.destination",
            mail.destination.len(),
        )));
    }

    let mut row = EventRow {
        occurred_ms: sent_ms,
        event_type: ty,
        message_id: Text::from(message_id),
        sent_ms,
        source: Text::from(mail.source.as_deref().unwrap_or("")),
        channel: Text::from(mail.tags.configuration_set.as_deref().unwrap_or("")),
        template: Text::from(mail.tags.template.as_deref().unwrap_or("")),
        subject: Text::from(
            mail.common_headers
                .as_ref()
                .and_then(|h| h.subject.as_deref())
                .unwrap_or(""),
        ),
        destination: mail.destination.iter().map(|d| Text::from(&**d)).collect(),
        ses_account: Text::from(account_id.as_str()),
        ..EventRow::default()
    };
    row.sender = Text::from(address_of(&row.source));
    row.sender_domain = Text::from(domain_part(&row.sender));
    row.sender_domain.make_ascii_lowercase();

    let set = |s: Option<&Str<'_>>| s.map(|v| Text::from(&**v)).unwrap_or_default();
    // The event type's own object `doc.$field` (required, named `$name` on the wire), with its
    // `$name.timestamp` set as the row's time (`sent_ms` when absent).
    macro_rules! own_part {
        ($field:ident, $name:literal) => {{
            let part = doc
                .$field
                .as_ref()
                .ok_or_else(|| with_account(missing($name)))?;
            row.occurred_ms = event_time(
                part.timestamp.as_ref(),
                sent_ms,
                concat!($name, ".timestamp"),
            )
            .map_err(with_account)?;
            part
        }};
    }
    let recipients: Recipients<'_, '_> = match ty {
        EventType::Send => Recipients::Addresses(&mail.destination),
        EventType::Reject => {
            row.reject_reason = set(doc.reject.as_ref().and_then(|r| r.reason.as_ref()));
            Recipients::Addresses(&mail.destination)
        }
        EventType::RenderingFailure => {
            if let Some(f) = &doc.failure {
                row.error_message = set(f.error_message.as_ref());
                if row.template.is_empty() {
                    row.template = set(f.template_name.as_ref());
                }
            }
            Recipients::Addresses(&mail.destination)
        }
        EventType::Open => {
            let open = own_part!(open, "open");
            row.ip_address = set(open.ip_address.as_ref());
            row.user_agent = set(open.user_agent.as_ref());
            Recipients::Addresses(&mail.destination)
        }
        EventType::Click => {
            let click = own_part!(click, "click");
            row.ip_address = set(click.ip_address.as_ref());
            row.user_agent = set(click.user_agent.as_ref());
            row.click_url = set(click.link.as_ref());
            Recipients::Addresses(&mail.destination)
        }
        EventType::Subscription => {
            let sub = own_part!(subscription, "subscription");
            row.contact_list = set(sub.contact_list.as_ref());
            Recipients::Addresses(&mail.destination)
        }
        EventType::Delivery => {
            let d = own_part!(delivery, "delivery");
            row.smtp_response = set(d.smtp_response.as_ref());
            row.processing_time_ms = d
                .processing_time_millis
                .map(|v| u32::try_from(v).unwrap_or(u32::MAX));
            Recipients::Addresses(&d.recipients)
        }
        EventType::Bounce => {
            let b = own_part!(bounce, "bounce");
            row.bounce_type = set(b.bounce_type.as_ref());
            row.bounce_sub_type = set(b.bounce_sub_type.as_ref());
            check_statuses(
                &b.bounced_recipients,
                "bounce.bouncedRecipients[].emailAddress",
            )
            .map_err(with_account)?
        }
        EventType::Complaint => {
            let c = own_part!(complaint, "complaint");
            row.feedback_type = set(c.complaint_feedback_type.as_ref());
            check_statuses(
                &c.complained_recipients,
                "complaint.complainedRecipients[].emailAddress",
            )
            .map_err(with_account)?
        }
        EventType::DeliveryDelay => {
            let d = own_part!(delivery_delay, "deliveryDelay");
            row.delay_type = set(d.delay_type.as_ref());
            check_statuses(
                &d.delayed_recipients,
                "deliveryDelay.delayedRecipients[].emailAddress",
            )
            .map_err(with_account)?
        }
    };
    let count = recipients.iter().count();
    if count == 0 {
        return Err(with_account(reject(
            QuarantineReason::NoRecipients,
            format!("{} event names no recipient", ty.as_str()),
        )));
    }
    if count > MAX_RECIPIENTS {
        return Err(with_account(too_many(
            &format!("{} event", ty.as_str()),
            count,
        )));
    }
    row.day = day_of_ms(row.occurred_ms);
    let mut rows = Vec::with_capacity(count);
    let finish = |out: &mut EventRow, address: &str, diagnostic: &str| {
        out.recipient = Text::from(trim(address));
        out.diagnostic = Text::from(diagnostic);
        out.event_id = event_id(
            &out.message_id,
            ty,
            out.occurred_ms,
            &out.recipient,
            &out.click_url,
        );
    };
    // Every recipient but the last gets a copy; the last gets `row` itself. The copies share
    // `destination` (an `Arc`), so an event's rows take memory linear in its recipients.
    let mut each = recipients.iter();
    for (address, diagnostic) in each.by_ref().take(count - 1) {
        let mut out = row.clone();
        finish(&mut out, address, diagnostic);
        rows.push(out);
    }
    if let Some((address, diagnostic)) = each.next() {
        finish(&mut row, address, diagnostic);
        rows.push(row);
    }
    Ok(ParsedEvent {
        account_id,
        rows,
        raw: None,
    })
}
