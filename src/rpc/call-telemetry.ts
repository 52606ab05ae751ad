import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { type Attributes, context, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { Health } from "../../gen/health/v1/health_pb.js";
import {
  contextOfHeaders,
  currentCorrelationId,
  inCorrelationScope,
  injectIntoHeaders,
} from "../telemetry/call-scope.js";
import type { Telemetry } from "../telemetry/telemetry.js";
import { whenCallEnds } from "./call-completion.js";
import { CORRELATION_ID_HEADER, correlationIdKey } from "./correlation-id.js";

/** Milliseconds: fine below 10 ms, where most calls end, and up to the longest deadlines. */
const DURATION_BUCKETS_MS = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000];

/** Codes that are the server's fault, which alone mark a server span as an error (as gRPC's conventions have it). */
const SERVER_FAULTS = new Set([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

/**
 * The outermost interceptor of a server: opens the call's scope, so that every log line of the
 * call carries its correlation id, trace and span (the access log's too); with tracing on,
 * starts its server span under the caller's `traceparent`, if it sent one; and records its
 * duration by method and status code in `rpc.server.duration`, as OpenTelemetry's RPC
 * conventions name them. Health checks start no trace of their own: probes would fill the
 * trace store with them, so a health check is a span only in a trace its caller started.
 */
export function createServerTelemetryInterceptor(telemetry: Telemetry): Interceptor {
  const duration = telemetry.meter.createHistogram("rpc.server.duration", {
    description: "Duration of the calls this server answered, by rpc.service, rpc.method and rpc.grpc.status_code",
    unit: "ms",
    advice: { explicitBucketBoundaries: DURATION_BUCKETS_MS },
  });
  return (next) => (req) => {
    const startedAt = performance.now();
    const attributes = attributesOf(req.method);
    let scope = context.active();
    let span: Span | undefined;
    if (telemetry.tracing) {
      const caller = contextOfHeaders(req.header);
      if (req.service.typeName !== Health.typeName || trace.getSpan(caller) !== undefined) {
        ({ span, context: scope } = telemetry.startSpan(
          `${req.service.typeName}/${req.method.name}`,
          { kind: SpanKind.SERVER, attributes: attributes.ofCall },
          caller,
        ));
      }
    }
    const ended = (failure: unknown) => {
      const code = codeOf(failure);
      duration.record(performance.now() - startedAt, attributes.ofOutcome(code));
      if (span) endSpan(span, code, failure, SERVER_FAULTS.has(code));
    };
    const inScope = <T>(work: () => T) => inCorrelationScope(req.contextValues.get(correlationIdKey), work, scope);
    return inScope(() => whenCallEnds(next, req, ended, inScope));
  };
}

/**
 * For clients of our other services (the payment gateway): passes the current call's
 * correlation id on in `x-request-id`, so both services' logs of it share it; with tracing on,
 * starts a client span and sends it as `traceparent`. Records each attempt's duration by
 * method and status code in `rpc.client.duration`.
 */
export function createClientTelemetryInterceptor(telemetry: Telemetry): Interceptor {
  const duration = telemetry.meter.createHistogram("rpc.client.duration", {
    description:
      "Duration of calls to other services, each attempt, by rpc.service, rpc.method and rpc.grpc.status_code",
    unit: "ms",
    advice: { explicitBucketBoundaries: DURATION_BUCKETS_MS },
  });
  return (next) => (req) => {
    const startedAt = performance.now();
    const correlationId = currentCorrelationId();
    if (correlationId !== undefined && !req.header.has(CORRELATION_ID_HEADER)) {
      req.header.set(CORRELATION_ID_HEADER, correlationId);
    }
    const attributes = attributesOf(req.method);
    let span: Span | undefined;
    if (telemetry.tracing) {
      const started = telemetry.startSpan(
        `${req.service.typeName}/${req.method.name}`,
        { kind: SpanKind.CLIENT, attributes: { ...attributes.ofCall, "server.address": new URL(req.url).host } },
        context.active(),
      );
      span = started.span;
      injectIntoHeaders(req.header, started.context);
    }
    return whenCallEnds(next, req, (failure) => {
      const code = codeOf(failure);
      duration.record(performance.now() - startedAt, attributes.ofOutcome(code));
      if (span) endSpan(span, code, failure, code !== 0);
    });
  };
}

interface MethodAttributes {
  /** What a span of a call of the method starts with. */
  ofCall: Attributes;
  /** What a call's duration is recorded under: the method's, and its status code. */
  ofOutcome(code: number): Attributes;
}

/** Made once per method and status code, not once per call: the calls are many, the sets few. */
const ATTRIBUTES = new WeakMap<DescMethod, MethodAttributes>();

function attributesOf(method: DescMethod): MethodAttributes {
  let known = ATTRIBUTES.get(method);
  if (known === undefined) {
    const ofCall = { "rpc.system": "grpc", "rpc.service": method.parent.typeName, "rpc.method": method.name };
    const byCode = new Map<number, Attributes>();
    known = {
      ofCall,
      ofOutcome(code) {
        const seen = byCode.get(code);
        if (seen !== undefined) return seen;
        const ofCode = { ...ofCall, "rpc.grpc.status_code": code };
        byCode.set(code, ofCode);
        return ofCode;
      },
    };
    ATTRIBUTES.set(method, known);
  }
  return known;
}

/** The gRPC status code a call ended with: 0 for OK. */
function codeOf(failure: unknown): number {
  return failure === undefined ? 0 : ConnectError.from(failure, Code.Canceled).code;
}

function endSpan(span: Span, code: number, failure: unknown, isError: boolean): void {
  span.setAttribute("rpc.grpc.status_code", code);
  if (isError) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: ConnectError.from(failure).rawMessage });
  }
  span.end();
}
