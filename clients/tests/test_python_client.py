"""The generated Python client (clients/python) against a live local sendops-api.

Run by scripts/clients.sh with SENDOPS_URL, SENDOPS_KEY and PYTHONPATH=clients/python. Checks that
the client has one function per operation of the served document, then uses it as a team would:
every message page by next_cursor, a report with a conditional request, and an undeliverable
?since= loop whose local list ends equal to the snapshot.
"""

import datetime
import json
import os
import pathlib
import pkgutil
import sys
import urllib.request

import sendops_api_client.api as api_pkg
from sendops_api_client import AuthenticatedClient, Client
from sendops_api_client.api.messages import list_messages
from sendops_api_client.api.reports import get_deliverability_report
from sendops_api_client.api.undeliverable import list_undeliverable
from sendops_api_client.models import GroupBy
from sendops_api_client.types import UNSET

URL = os.environ["SENDOPS_URL"]
KEY = os.environ["SENDOPS_KEY"]
RESULTS = {"passed": 0, "failed": 0}


def check(name, fn):
    try:
        fn()
        RESULTS["passed"] += 1
        print(f"ok   {name}")
    except Exception as e:  # noqa: BLE001 - report every failure and go on
        RESULTS["failed"] += 1
        print(f"FAIL {name}: {e!r}")


def client():
    return AuthenticatedClient(base_url=URL, token=KEY, raise_on_unexpected_status=True)


def document():
    with urllib.request.urlopen(f"{URL}/v1/openapi.json") as r:
        return json.load(r)


def test_every_operation_is_in_the_client():
    doc = document()
    ops = {
        op["operationId"]
        for item in doc["paths"].values()
        for method, op in item.items()
        if method in ("get", "put", "post", "delete", "patch")
    }
    root = pathlib.Path(api_pkg.__file__).parent
    modules = set()
    for tag in pkgutil.iter_modules([str(root)]):
        for mod in pkgutil.iter_modules([str(root / tag.name)]):
            modules.add(mod.name)
    want = {"".join("_" + c.lower() if c.isupper() else c for c in op) for op in ops}
    assert modules == want, f"missing {want - modules}, extra {modules - want}"
    assert len(modules) == len(ops) >= 23, len(modules)


def test_messages_follow_next_cursor_to_the_end():
    c = client()
    seen, cursor, pages = [], UNSET, 0
    while True:
        page = list_messages.sync(client=c, limit=50, cursor=cursor)
        pages += 1
        seen.extend(m.id for m in page.data)
        if not page.pagination.has_more:
            assert page.pagination.next_cursor is None
            break
        cursor = page.pagination.next_cursor
    assert pages > 1, "the seeded org has more than one page"
    assert len(seen) == len(set(seen)), "no message twice"
    whole = list_messages.sync(client=c, limit=200)
    assert whole.data, "messages exist"


def test_report_and_conditional_request():
    c = client()
    r = get_deliverability_report.sync_detailed(client=c, group_by=GroupBy.WEEK)
    assert r.status_code == 200
    assert r.parsed.data, "buckets exist"
    assert sum(b.sent for b in r.parsed.data) > 0
    tag = r.headers["etag"]
    again = get_deliverability_report.sync_detailed(client=c, group_by=GroupBy.WEEK, if_none_match=tag)
    assert again.status_code == 304, again.status_code
    assert again.content == b""
    assert again.headers["etag"] == tag
    assert "x-ratelimit-remaining" in again.headers


def undeliverable_pages(c, **params):
    rows, cursor = [], UNSET
    while True:
        page = list_undeliverable.sync(client=c, limit=200, cursor=cursor, **params)
        rows.extend(page.data)
        if not page.pagination.has_more:
            return rows
        cursor = page.pagination.next_cursor


def test_undeliverable_since_loop_matches_the_snapshot():
    c = client()
    local, anchor = {}, datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    for _ in range(10):
        changed = False
        for row in undeliverable_pages(c, since=anchor):
            before = local.get(row.email)
            state = (row.status, row.last_changed_at)
            if row.status == "listed":
                local[row.email] = state
            else:
                local.pop(row.email, None)
            changed |= local.get(row.email) != before
            anchor = max(anchor, row.last_changed_at)
        if not changed:
            break
    snapshot = {row.email for row in undeliverable_pages(c)}
    assert snapshot, "the seeded org has undeliverable addresses"
    assert set(local) == snapshot, (len(local), len(snapshot))


def test_a_plain_client_is_refused():
    r = list_messages.sync_detailed(client=Client(base_url=URL))
    assert r.status_code == 401


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            check(name, fn)
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    sys.exit(1 if RESULTS["failed"] else 0)
