// A small SendOps poller on the generated TypeScript client (clients/typescript).
//
//   tsx poller.ts sync   STATE_FILE   keep a local suppression list in step with /v1/undeliverable
//   tsx poller.ts report STATE_FILE   pull yesterday's deliverability report, conditionally
//
// Environment: SENDOPS_URL and SENDOPS_KEY. sync polls `?since=` with the largest
// `last_changed_at` seen (rows of the boundary second may come again, so applying a row is
// idempotent: `listed` adds or updates, `excluded` removes). report sends the ETag it holds in
// If-None-Match; a 304 means the numbers it has are still the answer. Prints one JSON line.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

import { createSendOpsClient } from "../../clients/typescript/src/index.ts";

const api = createSendOpsClient(process.env.SENDOPS_URL!, process.env.SENDOPS_KEY!);

function load<T>(path: string, fallback: T): T {
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as T) : fallback;
}

async function sync(path: string) {
  const state = load(path, { anchor: "1970-01-01T00:00:00Z", suppressed: {} as Record<string, string> });
  let changed = 0;
  let cursor: string | undefined;
  for (;;) {
    const { data, error } = await api.GET("/v1/undeliverable", {
      params: { query: { since: state.anchor, limit: 200, cursor } },
    });
    if (error) throw new Error(`undeliverable: ${JSON.stringify(error)}`);
    for (const row of data!.data) {
      if (row.status === "listed") {
        if (state.suppressed[row.email] !== row.last_changed_at) changed += 1;
        state.suppressed[row.email] = row.last_changed_at;
      } else if (row.email in state.suppressed) {
        delete state.suppressed[row.email];
        changed += 1;
      }
      if (row.last_changed_at > state.anchor) state.anchor = row.last_changed_at;
    }
    if (!data!.pagination.has_more) break;
    cursor = data!.pagination.next_cursor ?? undefined;
  }
  writeFileSync(path, JSON.stringify(state));
  return { command: "sync", changed, suppressed: Object.keys(state.suppressed).length, anchor: state.anchor };
}

async function report(path: string) {
  const day = new Date();
  day.setUTCHours(0, 0, 0, 0);
  const from = new Date(day.getTime() - 86_400_000).toISOString().replace(".000Z", "Z");
  const to = day.toISOString().replace(".000Z", "Z");
  const window = `${from}/${to}`;
  const held = load(path, { window: "", etag: "", buckets: [] as unknown[] });
  const header = held.window === window ? { "If-None-Match": held.etag } : {};
  const { data, response } = await api.GET("/v1/reports/deliverability", {
    params: { query: { from, to, group_by: "day" }, header },
  });
  if (response.status === 304) return { command: "report", window, status: 304, buckets: held.buckets };
  if (response.status !== 200) throw new Error(`report: HTTP ${response.status}`);
  const etag = response.headers.get("etag")!;
  writeFileSync(path, JSON.stringify({ window, etag, buckets: data!.data }));
  return { command: "report", window, status: 200, buckets: data!.data };
}

const [command, state] = process.argv.slice(2);
if (!state || (command !== "sync" && command !== "report")) {
  console.error("usage: poller.ts sync|report STATE_FILE");
  process.exit(2);
}
console.log(JSON.stringify(command === "sync" ? await sync(state) : await report(state)));
