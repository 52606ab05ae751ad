import type { FileRegistry } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Health } from "../../gen/health/v1/health_pb.js";
import type { Logger } from "../logging/logger.js";
import { NO_TELEMETRY, type Telemetry } from "../telemetry/telemetry.js";
import { createAccessLogInterceptor, logFailuresBeforeInterceptors } from "./access-log.js";
import { createServerTelemetryInterceptor } from "./call-telemetry.js";
import { createCleartextServer, type PageHandler, type RequestHandler } from "./cleartext-server.js";
import { type ConnectionLimits, DEFAULT_CONNECTION_LIMITS } from "./connection-limits.js";
import { assignCorrelationId } from "./correlation-id.js";
import { applyCors } from "./cors.js";
import { createErrorMappingInterceptor, mapFailuresBeforeInterceptors } from "./error-mapping.js";
import { createHealthService, createHealthStatus, type HealthStatus, ServingStatus } from "./health.js";
import { REFLECTION_SERVICE_NAMES, registerReflection } from "./reflection.js";

/** After the grace period, how long aborted calls get to send their UNAVAILABLE. */
const ANSWER_AFTER_ABORT_MS = 1_000;

/** Requests larger than this are refused before they are parsed. */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export interface RpcServerOptions {
  /** The application's services; health and reflection are added to every server. */
  routes: (router: ConnectRouter) => void;
  /**
   * Whether browsers on any origin may call. Only for servers that authenticate every call
   * that matters: an unauthenticated internal service must not be callable by any web page.
   */
  cors: boolean;
  /**
   * Plain web pages on the same port, asked first and without CORS: returns true when it
   * answered the request (the development mailbox).
   */
  pages?: PageHandler;
  /** Run inside error mapping, so what they throw is mapped too (authentication, for one). */
  interceptors?: Interceptor[];
  /** ErrorInfo domain of this server's errors, e.g. "shop.v1". */
  errorDomain: string;
  descriptors: FileRegistry;
  logger: Logger;
  /** The deployable's spans and metrics; none by default. */
  telemetry?: Telemetry;
  shutdownGraceMs: number;
  /** How long slow and idle clients may hold a connection; the defaults suit production. */
  connectionLimits?: Partial<ConnectionLimits>;
}

export interface RpcServer {
  /** Serves on the port (0: any free one) and reports SERVING; resolves with the port. */
  start(port: number, host?: string): Promise<number>;
  /**
   * Reports NOT_SERVING, refuses new calls, lets in-flight calls finish within the grace
   * period, then closes every connection.
   */
  stop(): Promise<void>;
  readonly health: HealthStatus;
  /**
   * Every request as this server answers it (pages, CORS, the RPCs with their interceptors),
   * for mounting on another HTTP server: the benchmark's plain HTTP/2 server, which measures
   * what the one-port listener costs.
   */
  readonly handleRequest: RequestHandler;
}

/**
 * Builds an unstarted server speaking gRPC, gRPC-Web and Connect on one port, with health,
 * reflection, correlation ids, traces and metrics, access logs and error mapping.
 */
export function createRpcServer(options: RpcServerOptions): RpcServer {
  const { logger } = options;
  const applicationServices: string[] = [];
  let health: HealthStatus | undefined;
  const shutdown = new AbortController();
  /** Aborted when stopping begins: long-lived streams (reflection) end instead of holding us. */
  const draining = new AbortController();

  const handler = connectNodeAdapter({
    routes(router) {
      options.routes(router);
      applicationServices.push(...new Set(router.handlers.map((h) => h.service.typeName)));
      health = createHealthStatus(applicationServices);
      router.service(Health, createHealthService(health));
      registerReflection(router, options.descriptors, draining.signal, () => [
        ...applicationServices,
        Health.typeName,
        ...REFLECTION_SERVICE_NAMES,
      ]);
    },
    requestGate(context) {
      assignCorrelationId(context);
      // In this order: a failure is mapped before it is logged.
      mapFailuresBeforeInterceptors(context, options.errorDomain);
      logFailuresBeforeInterceptors(context, logger);
    },
    interceptors: [
      // Outermost: its scope holds for everything the call does, the access log line included.
      createServerTelemetryInterceptor(options.telemetry ?? NO_TELEMETRY),
      createAccessLogInterceptor(logger),
      createErrorMappingInterceptor({ domain: options.errorDomain, logger }),
      ...(options.interceptors ?? []),
    ],
    readMaxBytes: MAX_REQUEST_BYTES,
    shutdownSignal: shutdown.signal,
  });
  if (health === undefined) throw new Error("connectNodeAdapter did not register routes");
  const healthStatus = health;

  /** A page that throws must not take the server down with it. */
  const servedAsPage: PageHandler = (req, res) => {
    if (!options.pages) return false;
    try {
      return options.pages(req, res);
    } catch (error) {
      logger.error({ event: "server.page_failed", err: error }, "a page failed");
      if (!res.headersSent) res.statusCode = 500;
      res.end();
      return true;
    }
  };

  const handleRequest: RequestHandler = (req, res) => {
    if (servedAsPage(req, res)) return;
    if (options.cors && applyCors(req, res)) return;
    handler(req, res);
  };
  const server = createCleartextServer(handleRequest, { ...DEFAULT_CONNECTION_LIMITS, ...options.connectionLimits });

  return {
    health: healthStatus,
    handleRequest,
    async start(port, host) {
      const bound = await server.listen(port, host);
      healthStatus.set(ServingStatus.SERVING);
      logger.info({ event: "server.listening", host, port: bound, services: applicationServices }, "listening");
      return bound;
    },
    async stop() {
      logger.info({ event: "server.stopping", graceMs: options.shutdownGraceMs }, "stopping");
      healthStatus.set(ServingStatus.NOT_SERVING);
      healthStatus.close();
      draining.abort();
      // At the end of the grace period calls still running are told to stop, and get a
      // moment to answer UNAVAILABLE (retryable) before their connections are destroyed.
      const abortLeftovers = setTimeout(
        () => shutdown.abort(new ConnectError("server is shutting down; retry", Code.Unavailable)),
        options.shutdownGraceMs,
      );
      await server.close(options.shutdownGraceMs + ANSWER_AFTER_ABORT_MS);
      clearTimeout(abortLeftovers);
      logger.info({ event: "server.stopped" }, "stopped");
    },
  };
}
