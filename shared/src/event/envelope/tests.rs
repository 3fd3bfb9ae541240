use super::*;
use crate::timefmt::STORABLE_END_MS;
use proptest::prelude::*;

#[test]
fn addresses_and_domains() {
    assert_eq!(
        address_of("\"John Doe\" <john@example.com>"),
        "john@example.com"
    );
    assert_eq!(address_of("Name <a@B.com>"), "a@B.com");
    assert_eq!(address_of(" plain@x.org "), "plain@x.org");
    assert_eq!(domain_of("a@B.Com"), "b.com");
    assert_eq!(domain_of("Example.COM"), "example.com");
    for s in [
        "",
        " ",
        "a",
        " a",
        "a ",
        "\u{a0}a",
        "a\u{2003}",
        "\u{85}",
        "é",
        "aé",
        "éa",
        "a\tb",
        "\nab",
        "ab\r",
        "<a>",
        "\u{1680}x\u{3000}",
        "x\u{7f}",
        "\u{7f}x",
        "~",
        "!~",
    ] {
        assert_eq!(trim(s), s.trim(), "{s:?}");
    }
}

/// Both readings' single outcome of `body`.
fn outcome(body: &str) -> Outcome {
    let (mut fast, mut reference) = (Vec::new(), Vec::new());
    decode_record(body, &mut fast);
    decode_record_reference(body, &mut reference);
    assert_eq!(fast, reference, "{body}");
    assert_eq!(fast.len(), 1, "{body}");
    fast.remove(0)
}

fn invalid_event_detail(body: &str) -> String {
    match outcome(body) {
        Outcome::Quarantine(q) if q.reason == QuarantineReason::InvalidEvent => {
            assert_eq!(q.account_id, "1", "the account is kept");
            q.detail
        }
        other => panic!("{body}: {other:?}"),
    }
}

fn send(ts: &str) -> String {
    format!(
        r#"{{"eventType":"Send","mail":{{"timestamp":"{ts}","messageId":"m","sendingAccountId":"1","destination":["a@b.example"]}}}}"#
    )
}

fn open(ts: &str) -> String {
    format!(
        r#"{{"eventType":"Open","open":{{"timestamp":"{ts}"}},"mail":{{"timestamp":"2026-01-01T00:00:00Z","messageId":"m","sendingAccountId":"1","destination":["a@b.example"]}}}}"#
    )
}

#[test]
fn times_the_store_cannot_hold_are_invalid_events() {
    for ts in [
        "1969-12-31T23:59:59.999Z",
        "1970-01-01T00:59:59+01:00",
        "0001-01-01T00:00:00Z",
        "2105-12-31T00:00:00Z",
        "2105-12-31T01:00:00+01:00",
        "9999-12-31T23:59:59Z",
    ] {
        let detail = invalid_event_detail(&send(ts));
        assert!(
            detail.starts_with("mail.timestamp") && detail.contains("outside what can be stored"),
            "{detail}"
        );
        let detail = invalid_event_detail(&open(ts));
        assert!(detail.starts_with("open.timestamp"), "{detail}");
    }
    for (ts, ms) in [
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:00:00-01:00", 0),
        ("2105-12-30T23:59:59.999Z", STORABLE_END_MS - 1),
    ] {
        for body in [send(ts), open(ts)] {
            match outcome(&body) {
                Outcome::Event(ev) => assert_eq!(ev.rows[0].occurred_ms, ms),
                other => panic!("{body}: {other:?}"),
            }
        }
    }
}

fn addresses(n: usize) -> String {
    let list: Vec<String> = (0..n).map(|i| format!("\"r{i}@x.example\"")).collect();
    format!("[{}]", list.join(","))
}

#[test]
fn more_recipients_than_the_bound_is_an_invalid_event() {
    let send = |n| {
        format!(
            r#"{{"eventType":"Send","mail":{{"timestamp":"2026-01-01T00:00:00Z","messageId":"m","sendingAccountId":"1","destination":{}}}}}"#,
            addresses(n)
        )
    };
    let delivery = |n| {
        format!(
            r#"{{"eventType":"Delivery","delivery":{{"recipients":{}}},"mail":{{"timestamp":"2026-01-01T00:00:00Z","messageId":"m","sendingAccountId":"1","destination":["a@b.example"]}}}}"#,
            addresses(n)
        )
    };
    let bounce = |n| {
        let list: Vec<String> = (0..n)
            .map(|i| format!("{{\"emailAddress\":\"r{i}@x.example\"}}"))
            .collect();
        format!(
            r#"{{"eventType":"Bounce","bounce":{{"bounceType":"Permanent","bouncedRecipients":[{}]}},"mail":{{"timestamp":"2026-01-01T00:00:00Z","messageId":"m","sendingAccountId":"1","destination":["a@b.example"]}}}}"#,
            list.join(",")
        )
    };
    assert_eq!(
        invalid_event_detail(&send(MAX_RECIPIENTS + 1)),
        "mail.destination names 1001 recipients; at most 1000 are accepted \
         (SES sends at most 50 per message)"
    );
    assert!(
        invalid_event_detail(&delivery(MAX_RECIPIENTS + 1))
            .starts_with("Delivery event names 1001 recipients")
    );
    assert!(
        invalid_event_detail(&bounce(MAX_RECIPIENTS + 1))
            .starts_with("Bounce event names 1001 recipients")
    );
    for body in [
        send(MAX_RECIPIENTS),
        delivery(MAX_RECIPIENTS),
        bounce(MAX_RECIPIENTS),
    ] {
        match outcome(&body) {
            Outcome::Event(ev) => {
                assert_eq!(ev.rows.len(), MAX_RECIPIENTS);
                // One destination list for all the rows of the event.
                assert!(
                    ev.rows
                        .iter()
                        .all(|r| std::sync::Arc::ptr_eq(&r.destination, &ev.rows[0].destination))
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

proptest! {
    #[test]
    fn never_panics_and_never_loses_a_record(s in ".{0,300}") {
        let mut out = Vec::new();
        decode_record(&s, &mut out);
        prop_assert_eq!(out.len(), 1);
    }

    #[test]
    fn never_panics_on_json_shaped_input(s in r#"\{("[a-zA-Z]{1,12}":("[^"\\]{0,12}"|\d{1,4}|\{\}|\[\]|null),){0,6}"eventType":"(Send|Bounce|Open|Click|Delivery)"\}"#) {
        let mut out = Vec::new();
        decode_record(&s, &mut out);
        prop_assert_eq!(out.len(), 1);
    }
}
