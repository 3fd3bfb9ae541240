//! Every AWS sample in fixtures/samples decodes to what docs/semantics.md#counting defines: the right outcome
//! per file, the right rows and fields per event type, and the same event ids whichever envelope
//! carries an event.

use sendops_shared::event::envelope::{Outcome, ParsedEvent, decode_record};
use sendops_shared::event::row::{EventRow, EventType};
use sendops_shared::timefmt::parse_rfc3339_ms;
use sendops_testkit::files::json_files;

fn read(name: &str) -> String {
    std::fs::read_to_string(sendops_fixtures::samples_dir().join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn decode(text: &str) -> Vec<Outcome> {
    let mut out = Vec::new();
    decode_record(text, &mut out);
    out
}

fn summarise(outcomes: &[Outcome]) -> String {
    let parts: Vec<String> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Event(e) => format!(
                "event {} {} [{}]",
                e.account_id,
                e.rows[0].event_type.as_str(),
                e.rows
                    .iter()
                    .map(|r| r.recipient.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Outcome::Notice(n) => format!("notice {}", n.kind.as_str()),
            Outcome::Quarantine(q) => format!("quarantine {}", q.reason.as_str()),
        })
        .collect();
    parts.join("; ")
}

/// What each sample must turn into (reviewed against the sample texts and SOURCES.md).
const EXPECTED: &[(&str, &str)] = &[
    (
        "envelope-eventbridge-generic-example.json",
        "quarantine unrecognised_payload",
    ),
    (
        "envelope-eventbridge-ses-email-opened.redacted.json",
        "event 741448943665 Open [REDACTED-recipient@example.com]",
    ),
    ("envelope-lambda-sns-event.json", "quarantine invalid_json"),
    (
        "envelope-lambda-sqs-batch-response.json",
        "quarantine unrecognised_payload",
    ),
    (
        "envelope-lambda-sqs-event-sns-wrapped.json",
        "quarantine unrecognised_payload",
    ),
    ("envelope-lambda-sqs-event.json", "quarantine invalid_json"),
    // LocalStack replaced the timestamps with the word "timestamp".
    (
        "envelope-sns-event-publishing-send.localstack-snapshot.json",
        "quarantine invalid_event",
    ),
    (
        "envelope-sns-event-publishing-validation-message.localstack-snapshot.json",
        "notice ses_topic_validation",
    ),
    (
        "envelope-sns-http-notification-legacy-amazonsnssubscriptionsucceeded.json",
        "notice ses_subscription_succeeded",
    ),
    (
        "envelope-sns-http-notification-legacy-bounce-permanent-suppressed-2018.json",
        "event 159321217982 Bounce [suppressionlist@simulator.amazonses.com]",
    ),
    (
        "envelope-sns-http-notification.json",
        "quarantine unrecognised_payload",
    ),
    (
        "envelope-sns-http-ses-event-publishing-validation-message.json",
        "notice ses_topic_validation",
    ),
    (
        "envelope-sns-http-subscription-confirmation.json",
        "notice sns_subscription_confirmation",
    ),
    (
        "envelope-sns-http-unsubscribe-confirmation.json",
        "notice sns_unsubscribe_confirmation",
    ),
    (
        "envelope-sns-notification-legacy-bounce-permanent-onaccountsuppressionlist.json",
        "event 168781634622 Bounce [relayuser@test.com]",
    ),
    (
        "envelope-sqs-body-sns-raw-delivery-disabled.json",
        "quarantine unrecognised_payload",
    ),
    (
        "event-bounce-permanent-general.json",
        "event 123456789012 Bounce [recipient@example.com]",
    ),
    (
        "event-bounce-transient-general-sendtemplatedemail.json",
        "event 437862376 Bounce [user@company.com]",
    ),
    (
        "event-click.json",
        "event 123456789012 Click [recipient@example.com]",
    ),
    // The published capture has no sendingAccountId: it cannot be attributed.
    (
        "event-complaint-abuse-simulator-smtp.json",
        "quarantine invalid_event",
    ),
    (
        "event-complaint-abuse.json",
        "event 123456789012 Complaint [recipient@example.com]",
    ),
    (
        "event-complaint-without-feedback-type.json",
        "event 888450439860 Complaint [recipient1@example.com]",
    ),
    (
        "event-delivery-delay.json",
        "event 123456789012 DeliveryDelay [recipient@example.com]",
    ),
    (
        "event-delivery-sendtemplatedemail.localstack-snapshot.json",
        "quarantine invalid_event",
    ),
    (
        "event-delivery.json",
        "event 123456789012 Delivery [recipient@example.com]",
    ),
    (
        "event-open.json",
        "event 123456789012 Open [recipient@example.com]",
    ),
    (
        "event-reject.json",
        "event 123456789012 Reject [sender@example.com]",
    ),
    (
        "event-rendering-failure.json",
        "event 123456789012 RenderingFailure [recipient@example.com]",
    ),
    (
        "event-send-sendtemplatedemail.localstack-snapshot.json",
        "quarantine invalid_event",
    ),
    (
        "event-send.json",
        "event 123456789012 Send [recipient@example.com]",
    ),
    (
        "event-subscription.json",
        "event 123456789012 Subscription [recipient@example.com]",
    ),
    (
        "notification-bounce-permanent-general-simulator.json",
        "event 032756942992 Bounce [bounce@simulator.amazonses.com]",
    ),
    (
        "notification-bounce-permanent-general-suppressionlist-simulator-2022.json",
        "event 032756942992 Bounce [suppressionlist@simulator.amazonses.com]",
    ),
    (
        "notification-bounce-permanent-general-with-dsn.json",
        "event 123456789012 Bounce [jane@example.com]",
    ),
    (
        "notification-bounce-permanent-general-without-dsn.json",
        "event 123456789012 Bounce [jane@example.com,richard@example.com]",
    ),
    (
        "notification-bounce-transient-general-ooto-simulator.json",
        "event 032756942992 Bounce [ooto@simulator.amazonses.com]",
    ),
    (
        "notification-complaint-abuse-simulator.json",
        "event 032756942992 Complaint [complaint@simulator.amazonses.com]",
    ),
    (
        "notification-complaint-abuse-with-feedback-report.json",
        "event 123456789012 Complaint [richard@example.com]",
    ),
    (
        "notification-complaint-without-feedback-report.json",
        "event 123456789012 Complaint [richard@example.com]",
    ),
    (
        "notification-delivery-success-simulator.json",
        "event 032756942992 Delivery [success@simulator.amazonses.com]",
    ),
    (
        "notification-delivery.json",
        "event 123456789012 Delivery [jane@example.com]",
    ),
];

#[test]
fn every_sample_has_its_expected_outcome() {
    let names: Vec<String> = json_files(&sendops_fixtures::samples_dir())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let listed: Vec<&str> = EXPECTED.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names, listed,
        "every sample file has an expectation and vice versa"
    );
    for (name, want) in EXPECTED {
        assert_eq!(summarise(&decode(&read(name))), *want, "{name}");
    }
}

fn one_event(name: &str) -> ParsedEvent {
    match decode(&read(name)).as_slice() {
        [Outcome::Event(e)] => e.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

fn only_row(name: &str) -> EventRow {
    let ev = one_event(name);
    assert_eq!(ev.rows.len(), 1, "{name}");
    ev.rows[0].clone()
}

fn ms(s: &str) -> i64 {
    parse_rfc3339_ms(s).unwrap()
}

#[test]
fn bounce_rows_carry_type_subtype_diagnostic_and_bounce_time() {
    let r = only_row("event-bounce-permanent-general.json");
    assert_eq!(r.event_type, EventType::Bounce);
    assert_eq!(
        (r.bounce_type.as_str(), r.bounce_sub_type.as_str()),
        ("Permanent", "General")
    );
    assert_eq!(r.diagnostic, "smtp; 550 5.1.1 user unknown");
    assert_eq!(r.occurred_ms, ms("2017-08-05T00:41:02.669Z"));
    assert_eq!(r.sent_ms, ms("2017-08-05T00:40:02.012Z"));
    assert_eq!(r.source, "Sender Name <sender@example.com>");
    assert_eq!(r.sender, "sender@example.com");
    assert_eq!(r.sender_domain, "example.com");
    assert_eq!(r.channel, "ConfigSet");
    assert_eq!(r.subject, "Message sent from Amazon SES");

    // Legacy format without DSN: two bounced recipients, two rows, one event time.
    let ev = one_event("notification-bounce-permanent-general-without-dsn.json");
    assert_eq!(ev.rows.len(), 2);
    assert_ne!(ev.rows[0].event_id, ev.rows[1].event_id);
    assert_eq!(ev.rows[0].occurred_ms, ev.rows[1].occurred_ms);
    assert!(
        ev.rows
            .iter()
            .all(|r| r.diagnostic.is_empty() && r.destination.len() == 3)
    );
    assert_eq!(ev.rows[0].sender, "john@example.com");

    let t = only_row("notification-bounce-transient-general-ooto-simulator.json");
    assert_eq!(
        (t.bounce_type.as_str(), t.bounce_sub_type.as_str()),
        ("Transient", "General")
    );
}

#[test]
fn delivery_open_click_complaint_delay_reject_failure_subscription_fields() {
    // Each type's event time (Reject's below).
    for (file, at) in [
        ("event-delivery.json", "2016-10-19T23:21:04.133Z"),
        ("event-open.json", "2017-08-09T22:00:19.652Z"),
        ("event-click.json", "2017-08-09T23:51:25.570Z"),
        ("event-delivery-delay.json", "2020-06-16T00:25:40.095Z"),
        ("event-subscription.json", "2022-01-12T01:00:17.910Z"),
    ] {
        assert_eq!(only_row(file).occurred_ms, ms(at), "{file}");
    }

    let d = only_row("event-delivery.json");
    assert_eq!(d.smtp_response, "250 2.6.0 Message received");
    assert_eq!(d.processing_time_ms, Some(11_893));

    let o = only_row("event-open.json");
    assert_eq!(o.ip_address, "192.0.2.1");
    assert!(o.user_agent.starts_with("Mozilla/5.0 (iPhone"));

    assert_eq!(
        only_row("event-click.json").click_url,
        "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html"
    );

    let k = only_row("event-complaint-abuse.json");
    assert_eq!(k.feedback_type, "abuse");
    let k = only_row("event-complaint-without-feedback-type.json");
    assert_eq!(k.feedback_type, "");
    assert_eq!(k.sender_domain, "someservicenotifications.service.gov.uk");

    let y = only_row("event-delivery-delay.json");
    assert_eq!(y.delay_type, "TransientCommunicationFailure");
    assert_eq!(
        y.diagnostic,
        "smtp; 421 4.4.1 Unable to connect to remote host"
    );

    let j = only_row("event-reject.json");
    assert_eq!(j.reject_reason, "Bad content");
    assert_eq!(
        j.occurred_ms,
        ms("2016-10-14T17:38:15.211Z"),
        "Reject uses mail.timestamp"
    );

    let f = only_row("event-rendering-failure.json");
    assert_eq!(
        f.template, "MyTemplate",
        "no template tag: failure.templateName"
    );
    assert_eq!(
        f.error_message,
        "Attribute 'attributeName' is not present in the rendering data."
    );

    assert_eq!(
        only_row("event-subscription.json").contact_list,
        "ContactListName"
    );

    let send = only_row("event-send.json");
    assert_eq!(send.occurred_ms, send.sent_ms, "Send uses mail.timestamp");
    assert_eq!(send.template, "");
}

#[test]
fn same_event_same_ids_in_every_envelope() {
    let raw = read("event-click.json");
    let event: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let sns = serde_json::json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:t", "Message": raw});
    let eventbridge = serde_json::json!({
        "version": "0", "id": "x", "detail-type": "Email Clicked", "source": "aws.ses",
        "account": "123456789012", "time": "2017-08-09T23:51:25Z", "region": "us-east-1", "resources": [],
        "detail": event,
    });
    let lambda = serde_json::json!({"Records": [
        {"messageId": "1", "body": sns.to_string(), "eventSource": "aws:sqs"},
        {"messageId": "2", "body": eventbridge.to_string(), "eventSource": "aws:sqs"},
    ]});
    let base = one_event("event-click.json").rows;
    for carrier in [sns.to_string(), eventbridge.to_string()] {
        match decode(&carrier).as_slice() {
            [Outcome::Event(e)] => assert_eq!(e.rows, base),
            other => panic!("{other:?}"),
        }
    }
    let from_lambda = decode(&lambda.to_string());
    assert_eq!(from_lambda.len(), 2);
    for o in from_lambda {
        match o {
            Outcome::Event(e) => assert_eq!(e.rows, base),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn template_tag_wins_and_legacy_and_event_formats_share_ids() {
    let mut event: serde_json::Value = serde_json::from_str(&read("event-delivery.json")).unwrap();
    event["mail"]["tags"]["template"] = serde_json::json!(["welcome", "ignored"]);
    let rows = match decode(&event.to_string()).as_slice() {
        [Outcome::Event(e)] => e.rows.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(rows[0].template, "welcome");
    // The same delivery published in the legacy format is the same event.
    let legacy = event.to_string().replace(
        "\"eventType\":\"Delivery\"",
        "\"notificationType\":\"Delivery\"",
    );
    assert_ne!(legacy, event.to_string());
    match decode(&legacy).as_slice() {
        [Outcome::Event(e)] => assert_eq!(e.rows[0].event_id, rows[0].event_id),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_input_is_quarantined_with_a_reason_never_dropped() {
    let cases = [
        ("", "invalid_json"),
        ("not json", "invalid_json"),
        ("{\"eventType\": ", "invalid_json"),
        ("[1,2]", "unrecognised_payload"),
        ("{}", "unrecognised_payload"),
        (
            "{\"eventType\":\"Teleport\",\"mail\":{}}",
            "unsupported_event_type",
        ),
        ("{\"eventType\":\"Send\"}", "invalid_event"),
        (
            "{\"eventType\":\"Bounce\",\"mail\":{\"timestamp\":\"2026-01-01T00:00:00Z\",\"messageId\":\"m\",\"sendingAccountId\":\"123456789012\",\"destination\":[\"a@b.c\"]},\"bounce\":{\"bounceType\":\"Permanent\",\"bouncedRecipients\":[]}}",
            "no_recipients",
        ),
        (
            "{\"eventType\":\"Open\",\"mail\":{\"timestamp\":\"2026-01-01T00:00:00Z\",\"messageId\":\"m\",\"sendingAccountId\":\"123456789012\",\"destination\":[\"a@b.c\"]},\"open\":{\"timestamp\":\"yesterday\"}}",
            "invalid_event",
        ),
        (
            "{\"Type\":\"Notification\",\"Message\":\"{\\\"eventType\\\": 5}\"}",
            "invalid_event",
        ),
    ];
    for (input, reason) in cases {
        match decode(input).as_slice() {
            [Outcome::Quarantine(q)] => {
                assert_eq!(q.reason.as_str(), reason, "{input:?}: {}", q.detail);
                assert_eq!(q.raw, input, "the record is kept verbatim");
            }
            other => panic!("{input:?}: {other:?}"),
        }
    }
}

#[test]
fn unknown_fields_and_missing_optional_fields_are_fine() {
    let input = r#"{"eventType":"Delivery","newField":{"x":[1]},"mail":{"timestamp":"2026-01-01T00:00:00.5Z","messageId":"m","sendingAccountId":"123456789012","destination":["a@b.c"],"someNewThing":true},"delivery":{"recipients":["a@b.c"],"processingTimeMillis":"12"}}"#;
    match decode(input).as_slice() {
        [Outcome::Event(e)] => {
            let r = &e.rows[0];
            assert_eq!(
                r.occurred_ms, r.sent_ms,
                "no delivery.timestamp: falls back to mail.timestamp"
            );
            assert_eq!(r.processing_time_ms, Some(12));
            assert_eq!(r.source, "");
            assert_eq!(r.channel, "");
        }
        other => panic!("{other:?}"),
    }
}
