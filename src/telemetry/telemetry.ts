import { randomUUID } from "node:crypto";
import http from "node:http";
import type net from "node:net";
import {
  type Context,
  context,
  createContextKey,
  createNoopMeter,
  DiagLogLevel,
  diag,
  type Meter,
  ProxyTracerProvider,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import { setGlobalErrorHandler } from "@opentelemetry/core";
import { OTLPMetricExporter as OTLPJsonMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as OTLPProtobufMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter as OTLPJsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OTLPProtobufTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { detectResources, resourceAttributesEnvDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { type IMetricReader, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TracerProvider as SdkTracerProvider,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace";
import type { Config, TraceSampler } from "../config/config.js";
import type { Logger } from "../logging/logger.js";
import { recordProcessMetrics } from "./process-metrics.js";

/** The deployables, by the service name each reports under unless OTEL_SERVICE_NAME says otherwise. */
export type Deployable = "shop-api" | "payment-gateway" | "email-worker";

/** Where each deployable serves /metrics outside production when METRICS_PORT is unset. */
const DEFAULT_METRICS_PORTS: Record<Deployable, number> = {
  "shop-api": 9464,
  "payment-gateway": 9465,
  "email-worker": 9466,
};
/** Under `npm start`, METRICS_PORT is the API's, and the others take the next ports. */
const ALL_IN_ONE_OFFSETS: Record<Deployable, number> = { "shop-api": 0, "payment-gateway": 1, "email-worker": 2 };

/** What a deployable reports through: its spans and its metrics. */
export interface Telemetry {
  /** The `service.name` its spans and metrics carry. */
  readonly serviceName: string;
  /** Its metrics' instruments: a no-op meter when no metrics are served or pushed. */
  readonly meter: Meter;
  /** Whether spans are recorded and exported; without, none is started at all. */
  readonly tracing: boolean;
  /**
   * Starts a span of this deployable under `parent`, and returns it with the context its work
   * runs in: the database queries made there become its children, and are this deployable's.
   */
  startSpan(name: string, options: SpanOptions, parent: Context): { span: Span; context: Context };
}

/** Starts only spans that record nothing. */
const NO_TRACER_PROVIDER: TracerProvider = new ProxyTracerProvider();

/** For tests and tools that report nothing. */
export const NO_TELEMETRY: Telemetry = {
  serviceName: "",
  meter: createNoopMeter(),
  tracing: false,
  startSpan(name, options, parent) {
    const span = NO_TRACER_PROVIDER.getTracer("none").startSpan(name, options, parent);
    return { span, context: trace.setSpan(parent, span) };
  },
};

export interface RunningTelemetry extends Telemetry {
  /** Where /metrics is served, if it is. */
  readonly metricsPort: number | undefined;
  /** Stops serving /metrics, then sends what is still buffered. */
  stop(): Promise<void>;
}

/**
 * The port a deployable serves /metrics on, or undefined when it serves none: METRICS_PORT
 * (`off` for none), else 9464, 9465 or 9466 by deployable, except in production where unset
 * means none. `allInOne`: `npm start`, where the gateway and the worker take the ports after
 * the API's.
 */
export function metricsPortOf(config: Config, deployable: Deployable, allInOne = false): number | undefined {
  const setting = config.telemetry.metricsPort;
  if (setting === "off") return undefined;
  if (setting === undefined) return config.nodeEnv === "production" ? undefined : DEFAULT_METRICS_PORTS[deployable];
  return setting === 0 ? 0 : setting + (allInOne ? ALL_IN_ONE_OFFSETS[deployable] : 0);
}

/** How long stopping waits for buffered spans and metrics to be sent. */
const FLUSH_TIMEOUT_MS = 5_000;
/** How often the SDK's troubles of one kind are logged at most. */
const PROBLEM_EVERY_MS = 60_000;

/** Which deployable's provider records the spans that libraries (pg) start in a context. */
const DEPLOYABLE_TRACER_PROVIDER = createContextKey("deployable tracer provider");

/**
 * The process's global tracer provider, which the pg instrumentation starts its spans with:
 * each span goes to the provider of the deployable whose work the context is. A process runs
 * one deployable, except under `npm start`, which runs three, each reporting as itself.
 */
const byDeployable: TracerProvider = {
  getTracer(name, version, options) {
    const tracerIn = (ctx: Context) =>
      ((ctx.getValue(DEPLOYABLE_TRACER_PROVIDER) as TracerProvider | undefined) ?? NO_TRACER_PROVIDER).getTracer(
        name,
        version,
        options,
      );
    const routed: Tracer = {
      startSpan: (spanName, spanOptions, ctx = context.active()) => tracerIn(ctx).startSpan(spanName, spanOptions, ctx),
      startActiveSpan: ((spanName: string, ...rest: unknown[]) => {
        const work = rest.pop() as (span: Span) => unknown;
        const [spanOptions, ctx = context.active()] = rest as [SpanOptions | undefined, Context | undefined];
        const span = routed.startSpan(spanName, spanOptions, ctx);
        return context.with(trace.setSpan(ctx, span), work, undefined, span);
      }) as Tracer["startActiveSpan"],
    };
    return routed;
  },
};

/** Whether byDeployable is the global provider: set once, by the first deployable that traces. */
let routing = false;

/**
 * Starts what a deployable reports through: traces exported over OTLP when
 * OTEL_EXPORTER_OTLP_ENDPOINT (or its traces-only variant) is set and the SDK is not
 * disabled; metrics served as Prometheus text at /metrics on `metricsPort` and, with
 * OTEL_METRICS_EXPORTER=otlp, pushed over OTLP too. Whatever is off costs nothing: no span
 * is started, and a no-op meter records nothing.
 */
export async function startTelemetry(options: {
  config: Config;
  deployable: Deployable;
  logger: Logger;
  metricsPort: number | undefined;
  /** `npm start`: the deployable keeps its own name, whatever OTEL_SERVICE_NAME says. */
  allInOne?: boolean;
}): Promise<RunningTelemetry> {
  const { config, deployable, logger } = options;
  const settings = config.telemetry;
  const serviceName = (!options.allInOne && settings.serviceName) || deployable;
  reportSdkProblems(logger);
  const resource = resourceFromAttributes({ "service.instance.id": randomUUID() })
    .merge(detectResources({ detectors: [resourceAttributesEnvDetector] }))
    .merge(resourceFromAttributes({ "service.name": serviceName }));
  const json = settings.protocol === "http/json";

  const tracing =
    !settings.sdkDisabled && (settings.exporterEndpoint !== undefined || settings.tracesEndpoint !== undefined);
  const tracerProvider = tracing
    ? new SdkTracerProvider({
        resource,
        sampler: samplerOf(settings.sampler, settings.samplerArg),
        spanProcessors: [
          new BatchSpanProcessor({ exporter: json ? new OTLPJsonTraceExporter() : new OTLPProtobufTraceExporter() }),
        ],
      })
    : undefined;
  if (tracerProvider && !routing) routing = trace.setGlobalTracerProvider(byDeployable);

  const readers: IMetricReader[] = [];
  const prometheus =
    options.metricsPort === undefined
      ? undefined
      : new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
  if (prometheus) readers.push(prometheus);
  if (!settings.sdkDisabled && settings.metricsExporter === "otlp") {
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: json ? new OTLPJsonMetricExporter() : new OTLPProtobufMetricExporter(),
        exportIntervalMillis: settings.metricExportIntervalMs,
      }),
    );
  }
  const meterProvider = readers.length > 0 ? new MeterProvider({ resource, readers }) : undefined;
  const meter = meterProvider?.getMeter("order-backend") ?? createNoopMeter();
  const stopProcessMetrics = meterProvider ? recordProcessMetrics(meter) : () => {};

  let server: http.Server | undefined;
  let metricsPort: number | undefined;
  try {
    if (prometheus && options.metricsPort !== undefined) {
      server = http.createServer((req, res) => {
        if (req.method === "GET" && new URL(req.url ?? "/", "http://metrics").pathname === "/metrics") {
          prometheus.getMetricsRequestHandler(req, res);
        } else {
          res.writeHead(404, { "content-type": "text/plain" }).end("not found: metrics are at /metrics\n");
        }
      });
      metricsPort = await listen(server, options.metricsPort, config.host);
      logger.info({ event: "metrics.listening", host: config.host, port: metricsPort }, "serving /metrics");
    }
  } catch (error) {
    await meterProvider?.shutdown();
    throw error;
  }
  if (tracing) {
    logger.info(
      { event: "tracing.exporting", serviceName, protocol: settings.protocol, sampler: settings.sampler },
      "exporting traces over OTLP",
    );
  }

  return {
    serviceName,
    meter,
    tracing,
    metricsPort,
    startSpan(name, spanOptions, parent) {
      const provider = tracerProvider ?? NO_TRACER_PROVIDER;
      const span = provider.getTracer("order-backend").startSpan(name, spanOptions, parent);
      return { span, context: trace.setSpan(parent, span).setValue(DEPLOYABLE_TRACER_PROVIDER, provider) };
    },
    async stop() {
      stopProcessMetrics();
      if (server) await new Promise<void>((resolve) => server?.close(() => resolve()).closeAllConnections());
      // Whatever is buffered goes now, the spans of the calls the shutdown let finish, but
      // within a bound: a receiver that does not answer must not hold the process past its
      // grace period.
      const flushed = Promise.allSettled([tracerProvider?.shutdown(), meterProvider?.shutdown()]);
      const timedOut = new Promise<"timed out">((resolve) =>
        setTimeout(resolve, FLUSH_TIMEOUT_MS, "timed out").unref(),
      );
      const outcome = await Promise.race([flushed, timedOut]);
      const failures =
        outcome === "timed out"
          ? [new Error(`not sent within ${FLUSH_TIMEOUT_MS} ms`)]
          : outcome.flatMap((result) => (result.status === "rejected" ? [result.reason] : []));
      for (const failure of failures) {
        logger.warn({ event: "telemetry.flush_failed", err: failure }, "telemetry not sent at stop");
      }
    },
  };
}

function samplerOf(name: TraceSampler, ratio: number): Sampler {
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

let sdkProblemsReported = false;

/**
 * The SDK's own troubles (an exporter whose collector is down) are warnings in our log, not
 * lines on stderr nor silence, at most one a minute of each kind, saying how many were left
 * out: a collector that is down would otherwise add a line every few seconds. Once per
 * process: there is one SDK.
 */
function reportSdkProblems(logger: Logger): void {
  if (sdkProblemsReported) return;
  sdkProblemsReported = true;
  const exportFailed = atMostEvery(PROBLEM_EVERY_MS, (error: unknown, suppressed: number) =>
    logger.warn({ event: "telemetry.export_failed", err: error, suppressed }, "telemetry could not be sent"),
  );
  setGlobalErrorHandler((error) => exportFailed(error));
  const warn = atMostEvery(PROBLEM_EVERY_MS, (message: string, suppressed: number) =>
    logger.warn({ event: "telemetry.sdk_warning", suppressed }, message),
  );
  diag.setLogger(
    { error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}

/** Calls `report` at most once per `ms`, telling it how many calls it missed since the last. */
function atMostEvery<T>(ms: number, report: (what: T, suppressed: number) => void): (what: T) => void {
  let lastAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (what) => {
    const now = performance.now();
    if (now - lastAt < ms) {
      suppressed++;
      return;
    }
    report(what, suppressed);
    lastAt = now;
    suppressed = 0;
  };
}

function listen(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
