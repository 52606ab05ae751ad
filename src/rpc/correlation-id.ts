import { randomUUID } from "node:crypto";
import { createContextKey, type HandlerContext } from "@connectrpc/connect";

/**
 * The header a call's correlation id travels in, both ways. Its name is the one clients and
 * proxies know; in our code it is the correlation id, and `request_id` is PlaceOrder's
 * idempotency key only.
 */
export const CORRELATION_ID_HEADER = "x-request-id";

/** The current call's correlation id, for logs and for the errors a client reports back. */
export const correlationIdKey = createContextKey<string>("", { description: "correlation id" });

/** Printable ASCII without spaces, bounded: anything else would be a log-injection vector. */
const ACCEPTABLE_CORRELATION_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Runs before the request body is read: takes the caller's `x-request-id` when it is
 * acceptable, otherwise generates one, and echoes it in the response headers.
 */
export function assignCorrelationId(context: HandlerContext): void {
  const offered = context.requestHeader.get(CORRELATION_ID_HEADER);
  const correlationId = offered !== null && ACCEPTABLE_CORRELATION_ID.test(offered) ? offered : randomUUID();
  context.values.set(correlationIdKey, correlationId);
  context.responseHeader.set(CORRELATION_ID_HEADER, correlationId);
}
