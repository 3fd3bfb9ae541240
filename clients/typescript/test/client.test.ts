// The generated TypeScript client against a live local sendops-api (scripts/clients.sh sets
// SENDOPS_URL and SENDOPS_KEY): every operation of the served document is in the client, message
// pages followed by next_cursor, a report with a conditional request, and an undeliverable
// ?since= loop whose local list ends equal to the snapshot.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { createSendOpsClient } from "../src/index.ts";

const url = process.env.SENDOPS_URL!;
const key = process.env.SENDOPS_KEY!;
const api = createSendOpsClient(url, key);

test("every operation of the document is in the client", async () => {
  const doc = await (await fetch(`${url}/v1/openapi.json`)).json();
  const ops = new Set<string>();
  for (const item of Object.values(doc.paths) as Record<string, { operationId: string }>[]) {
    for (const [method, op] of Object.entries(item)) {
      if (["get", "put", "post", "delete", "patch"].includes(method)) ops.add(op.operationId);
    }
  }
  const schema = readFileSync(new URL("../src/schema.d.ts", import.meta.url), "utf8");
  const body = schema.slice(schema.indexOf("export interface operations {"));
  const inClient = new Set([...body.matchAll(/^ {4}(\w+): \{$/gm)].map((m) => m[1]));
  assert.deepEqual([...inClient].sort(), [...ops].sort());
  assert.ok(ops.size >= 23);
});

test("messages: follow next_cursor to the end", async () => {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const { data, error } = await api.GET("/v1/messages", {
      params: { query: { limit: 50, cursor } },
    });
    assert.equal(error, undefined);
    pages += 1;
    ids.push(...data!.data.map((m) => m.id));
    if (!data!.pagination.has_more) break;
    cursor = data!.pagination.next_cursor ?? undefined;
  }
  assert.ok(pages > 1);
  assert.equal(new Set(ids).size, ids.length);
});

test("a report, then the same report conditionally", async () => {
  const first = await api.GET("/v1/reports/deliverability", {
    params: { query: { group_by: "week" } },
  });
  assert.equal(first.response.status, 200);
  assert.ok(first.data!.data.reduce((n, b) => n + b.sent, 0) > 0);
  const tag = first.response.headers.get("etag")!;
  const again = await api.GET("/v1/reports/deliverability", {
    params: { query: { group_by: "week" }, header: { "If-None-Match": tag } },
  });
  assert.equal(again.response.status, 304);
  assert.equal(again.response.headers.get("etag"), tag);
  assert.ok(again.response.headers.get("x-ratelimit-remaining") !== null);
});

type Row = { email: string; status: string; last_changed_at: string };

async function undeliverable(query: { since?: string }): Promise<Row[]> {
  const rows: Row[] = [];
  let cursor: string | undefined;
  for (;;) {
    const { data, error } = await api.GET("/v1/undeliverable", {
      params: { query: { ...query, limit: 200, cursor } },
    });
    assert.equal(error, undefined);
    rows.push(...data!.data);
    if (!data!.pagination.has_more) return rows;
    cursor = data!.pagination.next_cursor ?? undefined;
  }
}

test("undeliverable: a ?since= loop keeps a local list equal to the snapshot", async () => {
  const local = new Map<string, string>();
  let anchor = "1970-01-01T00:00:00Z";
  for (let round = 0; round < 10; round++) {
    let changed = false;
    for (const row of await undeliverable({ since: anchor })) {
      const before = local.get(row.email);
      if (row.status === "listed") local.set(row.email, row.last_changed_at);
      else local.delete(row.email);
      changed ||= local.get(row.email) !== before;
      if (row.last_changed_at > anchor) anchor = row.last_changed_at;
    }
    if (!changed) break;
  }
  const snapshot = new Set((await undeliverable({})).map((r) => r.email));
  assert.ok(snapshot.size > 0);
  assert.deepEqual([...local.keys()].sort(), [...snapshot].sort());
});

test("a request without a key is refused", async () => {
  const { response } = await createSendOpsClient(url, "nope").GET("/v1/messages");
  assert.equal(response.status, 401);
});
