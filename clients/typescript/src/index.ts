// The SendOps API client for TypeScript: `schema.d.ts` is generated from the served OpenAPI
// document by openapi-typescript (scripts/clients.sh); requests go through openapi-fetch, typed
// by it.
import createClient from "openapi-fetch";
import type { components, operations, paths } from "./schema.d.ts";

export type { components, operations, paths };

/** A client for one API key. */
export function createSendOpsClient(baseUrl: string, apiKey: string) {
  return createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${apiKey}` },
  });
}
