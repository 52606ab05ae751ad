import { randomUUID } from "node:crypto";
import { createContextKey, type HandlerContext } from "@connectrpc/connect";

export const REQUEST_ID_HEADER = "x-request-id";

/** The current call's request id, for logs and for the INTERNAL errors a client reports back. */
export const requestIdKey = createContextKey<string>("", { description: "request id" });

/** Printable ASCII without spaces, bounded: anything else would be a log-injection vector. */
const ACCEPTABLE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Runs before the request body is read: takes the caller's `x-request-id` when it is
 * acceptable, otherwise generates one, and echoes it in the response headers.
 */
export function assignRequestId(context: HandlerContext): void {
  const offered = context.requestHeader.get(REQUEST_ID_HEADER);
  const requestId = offered !== null && ACCEPTABLE_REQUEST_ID.test(offered) ? offered : randomUUID();
  context.values.set(requestIdKey, requestId);
  context.responseHeader.set(REQUEST_ID_HEADER, requestId);
}
