"""A small SendOps poller on the generated Python client (clients/python).

  poller.py sync   --state FILE   keep a local suppression list in step with /v1/undeliverable
  poller.py report --state FILE   pull yesterday's deliverability report, conditionally

Environment: SENDOPS_URL (e.g. http://127.0.0.1:8080) and SENDOPS_KEY (an API key).

sync polls `?since=` with the largest `last_changed_at` it has seen (the spec's anchor): a poll
returns every row that changed since then, the rows of the boundary second possibly again, so
applying rows is idempotent: `listed` adds or updates the address, `excluded` removes it.
report sends the ETag of the answer it holds in If-None-Match; a 304 means the numbers it has
are still the answer (events can arrive late, so it asks every time instead of trusting a copy).
Each command prints one JSON line saying what it did.
"""

import argparse
import datetime
import json
import os
import pathlib

from sendops_api_client import AuthenticatedClient
from sendops_api_client.api.reports import get_deliverability_report
from sendops_api_client.api.undeliverable import list_undeliverable
from sendops_api_client.models import GroupBy
from sendops_api_client.types import UNSET

EPOCH = "1970-01-01T00:00:00Z"


def rfc3339(value):
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def load(path, default):
    p = pathlib.Path(path)
    return json.loads(p.read_text()) if p.exists() else default


def save(path, state):
    pathlib.Path(path).write_text(json.dumps(state, indent=1, sort_keys=True))


def sync(client, state_path):
    state = load(state_path, {"anchor": EPOCH, "suppressed": {}})
    since = datetime.datetime.fromisoformat(state["anchor"].replace("Z", "+00:00"))
    added = removed = 0
    cursor = UNSET
    while True:
        page = list_undeliverable.sync(client=client, since=since, limit=200, cursor=cursor)
        for row in page.data:
            changed_at = rfc3339(row.last_changed_at)
            if row.status == "listed":
                if state["suppressed"].get(row.email) != changed_at:
                    added += 1
                state["suppressed"][row.email] = changed_at
            elif state["suppressed"].pop(row.email, None) is not None:
                removed += 1
            state["anchor"] = max(state["anchor"], changed_at)
        if not page.pagination.has_more:
            break
        cursor = page.pagination.next_cursor
    save(state_path, state)
    return {"command": "sync", "changed": added + removed, "added_or_updated": added,
            "removed": removed, "suppressed": len(state["suppressed"]), "anchor": state["anchor"]}


def report(client, state_path, days_ago):
    state = load(state_path, {})
    today = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - datetime.timedelta(days=days_ago)
    window = f"{rfc3339(start)}/{rfc3339(start + datetime.timedelta(days=1))}"
    held = state if state.get("window") == window else {}
    r = get_deliverability_report.sync_detailed(
        client=client, from_=start, to=start + datetime.timedelta(days=1), group_by=GroupBy.DAY,
        if_none_match=held.get("etag", UNSET),
    )
    if r.status_code == 304:
        return {"command": "report", "window": window, "status": 304, "buckets": held["buckets"]}
    if r.status_code != 200:
        raise SystemExit(f"report: HTTP {r.status_code}: {r.content[:300]!r}")
    buckets = [b.to_dict() for b in r.parsed.data]
    save(state_path, {"window": window, "etag": r.headers["etag"], "buckets": buckets})
    return {"command": "report", "window": window, "status": 200, "buckets": buckets}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["sync", "report"])
    ap.add_argument("--state", required=True, help="JSON file the poller keeps its state in")
    ap.add_argument("--days-ago", type=int, default=1, help="report: which closed day (1 = yesterday)")
    args = ap.parse_args()
    client = AuthenticatedClient(base_url=os.environ["SENDOPS_URL"], token=os.environ["SENDOPS_KEY"])
    out = sync(client, args.state) if args.command == "sync" else report(client, args.state, args.days_ago)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
