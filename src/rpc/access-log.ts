import type { DescMethod } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextKey,
  type HandlerContext,
  type Interceptor,
  type StreamResponse,
} from "@connectrpc/connect";
import { Health } from "../../gen/health/v1/health_pb.js";
import type { Logger } from "../logging/logger.js";
import { requestIdKey } from "./request-id.js";

/** Set once a call reaches the interceptors: from then on, the access log interceptor logs it. */
const interceptedKey = createContextKey(false, { description: "access log interceptor reached" });

/**
 * One `rpc.completed` line per call with its procedure, status code, duration and request id.
 * A streaming call is logged when its stream ends, not when it starts.
 */
export function createAccessLogInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    req.contextValues.set(interceptedKey, true);
    const startedAt = performance.now();
    const log = (thrown?: unknown) =>
      logCompleted(logger, req.method, req.signal.aborted ? req.signal.reason : thrown, startedAt, req.contextValues);

    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (thrown) {
      log(thrown);
      throw thrown;
    }
    if (!res.stream) {
      log();
      return res;
    }
    return { ...res, message: logWhenDone(res, log) } satisfies StreamResponse;
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
  const entry = {
    event: "rpc.completed",
    procedure: `${method.parent.typeName}/${method.name}`,
    code: failure === undefined ? "ok" : Code[ConnectError.from(failure, Code.Canceled).code],
    durationMs: Math.round((performance.now() - startedAt) * 10) / 10,
    requestId: values.get(requestIdKey),
  };
  if (failure !== undefined) logger.warn(entry, "rpc failed");
  // Probes ask every few seconds: at info they would drown the calls that matter.
  else if (method.parent.typeName === Health.typeName) logger.debug(entry, "rpc completed");
  else logger.info(entry, "rpc completed");
}

/** Logs once the stream ends: completed, failed, or abandoned by its consumer. */
async function* logWhenDone(res: StreamResponse, log: (thrown?: unknown) => void) {
  let failure: unknown;
  try {
    yield* res.message;
  } catch (thrown) {
    failure = thrown;
    throw thrown;
  } finally {
    log(failure);
  }
}
