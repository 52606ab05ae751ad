/**
 * The libraries whose work shows up in traces without our code saying so: pg, whose every
 * query becomes a span of the call or job it runs for. Every entry point imports this module
 * first, before any module that loads pg: the instrumentation patches pg as it loads, and a
 * copy loaded before stays unpatched.
 *
 * Its spans go to the global tracer provider, which telemetry.ts sets only when tracing is on.
 * A query outside a traced call or job starts no span (`requireParentSpan`): the worker's
 * polling, the relay and the recovery loop stay out of the traces. Connections taken from a
 * pool are not spans of their own; a pool's waits show in its metrics.
 */
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { summaryOf } from "./query-summary.js";

// Enabled as it is constructed.
new PgInstrumentation({
  requireParentSpan: true,
  ignoreConnectSpans: true,
  // pg names a span after the prepared statement (pg-client.ts names them s1, s2...), which
  // says nothing to a reader: the statement's operation and tables do.
  requestHook: (span, { query }) => {
    const summary = summaryOf(query.text);
    span.updateName(summary);
    span.setAttribute("db.query.summary", summary);
  },
});
