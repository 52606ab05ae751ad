import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { Health } from "../../gen/health/v1/health_pb.js";
import type { Logger } from "../logging/logger.js";
import { whenCallEnds } from "./call-completion.js";
import { correlationIdKey } from "./correlation-id.js";

/** Set once a call reaches the interceptors: from then on, the access log interceptor logs it. */
const interceptedKey = createContextKey(false, { description: "access log interceptor reached" });

/**
 * How loud the end of a call is, by its status. A refusal the caller must act on (out of
 * stock, a declined card, a bad request, no such order, no access) is the service doing its
 * job: info. A fault of ours is an error; a dependency that is down, a deadline that passed or
 * a limit that was hit is a warning, which one call alone does not make an incident.
 */
export const LEVEL_BY_CODE: Readonly<Record<Code, "info" | "warn" | "error">> = {
  [Code.Canceled]: "info",
  [Code.Unknown]: "error",
  [Code.InvalidArgument]: "info",
  [Code.DeadlineExceeded]: "warn",
  [Code.NotFound]: "info",
  [Code.AlreadyExists]: "info",
  [Code.PermissionDenied]: "info",
  [Code.ResourceExhausted]: "warn",
  [Code.FailedPrecondition]: "info",
  [Code.Aborted]: "info",
  [Code.OutOfRange]: "info",
  [Code.Unimplemented]: "warn",
  [Code.Internal]: "error",
  [Code.Unavailable]: "warn",
  [Code.DataLoss]: "error",
  [Code.Unauthenticated]: "info",
};

/**
 * One `rpc.completed` line per call with its procedure, status code, duration and correlation
 * id. A streaming call is logged when its stream ends, not when it starts.
 */
export function createAccessLogInterceptor(logger: Logger): Interceptor {
  return (next) => (req) => {
    req.contextValues.set(interceptedKey, true);
    const startedAt = performance.now();
    return whenCallEnds(next, req, (failure) =>
      logCompleted(logger, req.method, failure, startedAt, req.contextValues),
    );
  };
}

/**
 * Logs the calls that fail before reaching the interceptors (a request connect-node could
 * not read): from the request gate, when connect-node aborts the call with its failure.
 * Registered after the error mapping's listener, so it logs the code the client gets.
 */
export function logFailuresBeforeInterceptors(context: HandlerContext, logger: Logger): void {
  const startedAt = performance.now();
  context.signal.addEventListener(
    "abort",
    () => {
      if (!context.values.get(interceptedKey)) {
        logCompleted(logger, context.method, context.signal.reason, startedAt, context.values);
      }
    },
    { once: true },
  );
}

function logCompleted(
  logger: Logger,
  method: DescMethod,
  failure: unknown,
  startedAt: number,
  values: HandlerContext["values"],
): void {
  const code = failure === undefined ? undefined : ConnectError.from(failure, Code.Canceled).code;
  const entry = {
    event: "rpc.completed",
    procedure: `${method.parent.typeName}/${method.name}`,
    code: code === undefined ? "ok" : Code[code],
    durationMs: Math.round((performance.now() - startedAt) * 10) / 10,
    correlationId: values.get(correlationIdKey),
  };
  if (code !== undefined) logger[LEVEL_BY_CODE[code]](entry, "rpc failed");
  // Probes ask every few seconds: at info they would drown the calls that matter.
  else if (method.parent.typeName === Health.typeName) logger.debug(entry, "rpc completed");
  else logger.info(entry, "rpc completed");
}
