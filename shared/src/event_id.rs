//! Content-derived event identity (DECISIONS §5): the same SES event gets the same id whichever
//! envelope carried it and however often it arrives.

use std::fmt::Write as _;

use uuid::Uuid;

use crate::row::EventType;

/// Namespace of SendOps event ids (UUIDv5).
const EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x5e4d_0b5e_7a1c_4c1e_9f3a_2b6d_8e0f_1a27);

/// UUIDv5 over message id, event type, event time (ms), recipient and, for clicks, the link.
pub fn event_id(
    message_id: &str,
    ty: EventType,
    occurred_ms: i64,
    recipient: &str,
    link: &str,
) -> Uuid {
    let mut key = String::with_capacity(message_id.len() + recipient.len() + link.len() + 40);
    key.push_str(message_id);
    key.push('\n');
    key.push_str(ty.as_str());
    key.push('\n');
    // Writing into a String cannot fail.
    let _ = write!(key, "{occurred_ms}");
    key.push('\n');
    key.push_str(recipient);
    if ty == EventType::Click {
        key.push('\n');
        key.push_str(link);
    }
    Uuid::new_v5(&EVENT_NAMESPACE, key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_sensitive_to_each_part() {
        let a = event_id("m1", EventType::Open, 1, "a@x", "");
        assert_eq!(a, event_id("m1", EventType::Open, 1, "a@x", ""));
        assert_ne!(a, event_id("m2", EventType::Open, 1, "a@x", ""));
        assert_ne!(a, event_id("m1", EventType::Click, 1, "a@x", ""));
        assert_ne!(a, event_id("m1", EventType::Open, 2, "a@x", ""));
        assert_ne!(a, event_id("m1", EventType::Open, 1, "b@x", ""));
        let c = event_id("m1", EventType::Click, 1, "a@x", "https://a");
        assert_ne!(c, event_id("m1", EventType::Click, 1, "a@x", "https://b"));
        // The link only matters for clicks.
        assert_eq!(a, event_id("m1", EventType::Open, 1, "a@x", "ignored"));
    }
}
