import {
  type Context,
  context,
  createContextKey,
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  ROOT_CONTEXT,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

/**
 * The scope of one call or one job: its correlation id (the caller's `x-request-id`, or one the
 * server made) and the span it runs in, seen by every function it calls, however deep, without
 * being passed down. It lives in OpenTelemetry's context, an AsyncLocalStorage, so the spans of
 * its database queries see the same scope as its log lines do.
 *
 * "Correlation id" is what the x-request-id header carries; `request_id` is PlaceOrder's
 * idempotency key, and nothing else.
 */
const CORRELATION_ID = createContextKey("correlation id");

// Registered whether or not tracing is on: the correlation id needs the context as much as spans
// do. A second registration (another module instance in one test worker) is refused quietly,
// and the first one serves both.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

const w3c = new W3CTraceContextPropagator();

/** Runs `work` in `base` (by default the current context) with this correlation id. */
export function inCorrelationScope<T>(correlationId: string, work: () => T, base: Context = context.active()): T {
  return context.with(base.setValue(CORRELATION_ID, correlationId), work);
}

/** The correlation id of the call or job running now, if any. */
export function currentCorrelationId(): string | undefined {
  return context.active().getValue(CORRELATION_ID) as string | undefined;
}

/** What each log line of the current scope carries: its correlation id, trace and span. */
export function scopeLogFields(): { correlationId?: string; traceId?: string; spanId?: string } {
  const active = context.active();
  const correlationId = active.getValue(CORRELATION_ID) as string | undefined;
  const span = trace.getSpan(active)?.spanContext();
  if (span === undefined || !isSpanContextValid(span)) return correlationId === undefined ? {} : { correlationId };
  return { ...(correlationId !== undefined && { correlationId }), traceId: span.traceId, spanId: span.spanId };
}

/**
 * The W3C `traceparent` of the span running now, to be stored with work done later (an email
 * job), or undefined outside any span.
 */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  w3c.inject(context.active(), carrier, defaultTextMapSetter);
  return carrier.traceparent;
}

/** A context whose parent is the remote span a `traceparent` names; the root context without one. */
export function contextOfTraceparent(traceparent: string | null | undefined, base: Context = ROOT_CONTEXT): Context {
  if (!traceparent) return base;
  return w3c.extract(base, { traceparent }, defaultTextMapGetter);
}

/** Reads a caller's W3C trace context from request headers: what `traceparent` and `tracestate` say. */
export function contextOfHeaders(headers: Headers, base: Context = ROOT_CONTEXT): Context {
  return w3c.extract(base, headers, HEADERS_GETTER);
}

/** Writes the current span's W3C trace context into request headers. */
export function injectIntoHeaders(headers: Headers, from: Context = context.active()): void {
  w3c.inject(from, headers, HEADERS_SETTER);
}

const HEADERS_GETTER = {
  keys: (headers: Headers) => [...headers.keys()],
  get: (headers: Headers, key: string) => headers.get(key) ?? undefined,
};
const HEADERS_SETTER = { set: (headers: Headers, key: string, value: string) => headers.set(key, value) };
