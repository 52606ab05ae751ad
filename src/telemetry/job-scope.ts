import { type Attributes, context, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { contextOfTraceparent, inCorrelationScope } from "./call-scope.js";
import type { Telemetry } from "./telemetry.js";

export interface JobOrigin {
  /** The queue's name for the kind of job. */
  task: string;
  id: string;
  /** Of the call that caused the job, which it carries. */
  correlationId?: string;
  traceparent?: string;
  attributes?: Attributes;
}

/**
 * Runs one job of a queue in a scope of its own: its log lines carry the correlation id of the
 * call that caused it; with tracing on, its span (a consumer span, in OpenTelemetry's
 * messaging conventions) is a child of that call's span, whose `traceparent` the job carried,
 * so the call and the work it left behind are one trace. A failure marks the span an error.
 */
export async function inJobScope<T>(telemetry: Telemetry, job: JobOrigin, work: () => Promise<T>): Promise<T> {
  if (!telemetry.tracing) {
    return job.correlationId === undefined ? work() : inCorrelationScope(job.correlationId, work);
  }
  const { span, context: scope } = telemetry.startSpan(
    `process ${job.task}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.system": "graphile_worker",
        "messaging.operation.type": "process",
        "messaging.destination.name": job.task,
        "messaging.message.id": job.id,
        ...job.attributes,
      },
    },
    contextOfTraceparent(job.traceparent, context.active()),
  );
  try {
    return await (job.correlationId === undefined
      ? context.with(scope, work)
      : inCorrelationScope(job.correlationId, work, scope));
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}
