import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../gen/health/v1/health_pb.js";

export { ServingStatus };

/** The server as a whole, by gRPC convention: ready for calls (a readiness probe asks this). */
const OVERALL = "";

/**
 * Whether the process itself is alive and answering, whatever its dependencies: what a
 * liveness probe asks, so that a database outage makes replicas unready, not restarted.
 */
export const LIVENESS = "liveness";

/**
 * Serving status per service, as `grpc.health.v1.Health` reports it. Watchers are told of
 * every change; `close()` ends their streams so a shutting-down server is not held open.
 */
export interface HealthStatus {
  /** The server's own state: SERVING once started, NOT_SERVING from the moment it stops. */
  set(status: ServingStatus): void;
  /** Whether a dependency (the database) is reachable: while one is not, no service is SERVING. */
  setDependency(name: string, reachable: boolean): void;
  get(service: string): ServingStatus | undefined;
  /** Yields the current status, then each change, until `signal` aborts or `close()`. */
  watch(service: string, signal: AbortSignal): AsyncIterable<ServingStatus>;
  close(): void;
  services(): string[];
}

export function createHealthStatus(serviceNames: readonly string[]): HealthStatus {
  let current = ServingStatus.NOT_SERVING;
  let closed = false;
  const names = new Set([OVERALL, ...serviceNames]);
  const unreachable = new Set<string>();
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };

  const statusOf = (service: string) => {
    if (service === LIVENESS) return current;
    if (!names.has(service)) return undefined;
    return unreachable.size === 0 ? current : ServingStatus.NOT_SERVING;
  };

  return {
    set(status) {
      if (status === current) return;
      current = status;
      notify();
    },
    setDependency(name, reachable) {
      if (reachable === !unreachable.has(name)) return;
      if (reachable) unreachable.delete(name);
      else unreachable.add(name);
      notify();
    },
    get: statusOf,
    services: () => [...names, LIVENESS],
    close() {
      closed = true;
      notify();
    },
    async *watch(service, signal) {
      let wake: () => void = () => {};
      const changed = () => wake();
      listeners.add(changed);
      signal.addEventListener("abort", changed);
      try {
        let last: ServingStatus | undefined;
        while (!signal.aborted) {
          // Armed before reading the status, so a change in between is not missed.
          const next = new Promise<void>((resolve) => {
            wake = resolve;
          });
          const status = statusOf(service) ?? ServingStatus.SERVICE_UNKNOWN;
          if (status !== last) {
            last = status;
            yield status;
            continue; // the status may have changed while the consumer was busy
          }
          // Only once the latest status went out, so the final NOT_SERVING reaches watchers.
          if (closed) return;
          await next;
        }
      } finally {
        listeners.delete(changed);
        signal.removeEventListener("abort", changed);
      }
    },
  };
}

export function createHealthService(health: HealthStatus): ServiceImpl<typeof Health> {
  const response = (status: ServingStatus): HealthCheckResponse => create(HealthCheckResponseSchema, { status });
  return {
    check(req) {
      const status = health.get(req.service);
      if (status === undefined) {
        throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      }
      return response(status);
    },
    async *watch(req, context) {
      for await (const status of health.watch(req.service, context.signal)) {
        yield response(status);
      }
    },
    list() {
      const statuses: Record<string, HealthCheckResponse> = {};
      for (const service of health.services()) {
        statuses[service] = response(health.get(service) ?? ServingStatus.SERVICE_UNKNOWN);
      }
      return { statuses };
    },
  };
}
