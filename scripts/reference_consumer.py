#!/usr/bin/env python3
"""A plain Python SES event consumer: the reference `benches/ingest.sh` compares ingest with.

What a team would write first: read SNS-wrapped (or EventBridge, or bare) SES events one per line,
`json.loads` each, turn every event into one row per recipient with the same columns as SendOps's
`events` table, and batch-insert the rows over ClickHouse's HTTP interface (`JSONEachRow`, 50,000
rows per INSERT, every materialized view firing as for SendOps). It does no duplicate check, no
quarantine and no exactness bookkeeping, so it does less than `sendops-ingest`: it is a floor for
what ingest must beat, not an equivalent.

    reference_consumer.py FILE --org ORG_UUID [--url URL] [--database DB] [--batch-rows N]

Prints one JSON line: {"lines", "events", "rows", "seconds"}.
"""
import argparse
import datetime as dt
import json
import sys
import time
import urllib.parse
import urllib.request
import uuid

TYPES = {
    "Send": "send", "Delivery": "delivery", "Bounce": "bounce", "Complaint": "complaint",
    "Reject": "reject", "Open": "open", "Click": "click", "DeliveryDelay": "deliveryDelay",
    "Rendering Failure": "failure", "RenderingFailure": "failure", "Subscription": "subscription",
}


def epoch_ms(text):
    if not text:
        return 0
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def unwrap(line):
    doc = json.loads(line)
    if "Message" in doc and "Type" in doc:  # SNS
        return json.loads(doc["Message"])
    if "detail" in doc and "detail-type" in doc:  # EventBridge
        return doc["detail"]
    return doc


def rows_of(event, org, now_ms):
    kind = event.get("eventType") or event.get("notificationType")
    mail = event.get("mail", {})
    body = event.get(TYPES.get(kind, ""), {}) or {}
    occurred = epoch_ms(body.get("timestamp") or mail.get("timestamp"))
    tags = mail.get("tags", {})
    channel = (tags.get("ses:configuration-set") or [""])[0]
    template = (tags.get("template") or [""])[0] or body.get("templateName", "")
    source = mail.get("source", "")
    sender = source.rsplit("<", 1)[-1].rstrip(">").strip()
    common = {
        "org_id": org,
        "day": dt.datetime.fromtimestamp(occurred / 1000, dt.timezone.utc).strftime("%Y-%m-%d"),
        "occurred_ms": occurred,
        "event_type": "RenderingFailure" if kind == "Rendering Failure" else kind,
        "message_id": mail.get("messageId", ""),
        "sent_ms": epoch_ms(mail.get("timestamp")),
        "source": source,
        "sender": sender,
        "sender_domain": sender.rsplit("@", 1)[-1].lower(),
        "channel": channel,
        "channel_id": str(uuid.uuid5(uuid.UUID(org), channel)) if channel else str(uuid.UUID(int=0)),
        "template": template,
        "subject": mail.get("commonHeaders", {}).get("subject", ""),
        "destination": mail.get("destination", []),
        "bounce_type": body.get("bounceType", ""),
        "bounce_sub_type": body.get("bounceSubType", ""),
        "smtp_response": body.get("smtpResponse", ""),
        "processing_time_ms": body.get("processingTimeMillis"),
        "feedback_type": body.get("complaintFeedbackType", ""),
        "delay_type": body.get("delayType", ""),
        "reject_reason": body.get("reason", ""),
        "ip_address": body.get("ipAddress", ""),
        "user_agent": body.get("userAgent", ""),
        "click_url": body.get("link", ""),
        "error_message": body.get("errorMessage", ""),
        "contact_list": body.get("contactList", ""),
        "ses_account": mail.get("sendingAccountId", ""),
        "ingested_ms": now_ms,
    }
    if kind == "Bounce":
        recipients = [(r.get("emailAddress", ""), r.get("diagnosticCode", ""))
                      for r in body.get("bouncedRecipients", [])]
    elif kind == "Complaint":
        recipients = [(r.get("emailAddress", ""), "") for r in body.get("complainedRecipients", [])]
    elif kind == "DeliveryDelay":
        recipients = [(r.get("emailAddress", ""), r.get("diagnosticCode", ""))
                      for r in body.get("delayedRecipients", [])]
    elif kind == "Delivery":
        recipients = [(r, "") for r in body.get("recipients", [])]
    else:
        recipients = [(r, "") for r in mail.get("destination", [])]
    # One id per event, as any consumer would derive from the notification's content.
    event_id = str(uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(event, sort_keys=True)))
    for recipient, diagnostic in recipients:
        row = dict(common)
        row["event_id"] = event_id
        row["recipient"] = recipient
        row["diagnostic"] = diagnostic
        yield row


def insert(url, database, rows):
    body = "\n".join(json.dumps(r) for r in rows).encode()
    query = urllib.parse.quote(f"INSERT INTO `{database}`.events FORMAT JSONEachRow")
    req = urllib.request.Request(f"{url}/?query={query}", data=body, method="POST")
    with urllib.request.urlopen(req) as resp:
        resp.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--org", required=True, help="org UUID every row is stored under")
    ap.add_argument("--url", default="http://127.0.0.1:8123")
    ap.add_argument("--database", default="default")
    ap.add_argument("--batch-rows", type=int, default=50_000)
    args = ap.parse_args()
    t0 = time.monotonic()
    lines = events = rows = 0
    batch = []
    now_ms = int(time.time() * 1000)
    with open(args.file, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            lines += 1
            try:
                event = unwrap(line)
            except ValueError:
                continue
            events += 1
            for row in rows_of(event, args.org, now_ms):
                batch.append(row)
            if len(batch) >= args.batch_rows:
                insert(args.url, args.database, batch)
                rows += len(batch)
                batch = []
    if batch:
        insert(args.url, args.database, batch)
        rows += len(batch)
    print(json.dumps({"lines": lines, "events": events, "rows": rows,
                      "seconds": round(time.monotonic() - t0, 3)}))


if __name__ == "__main__":
    sys.exit(main())
