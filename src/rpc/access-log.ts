import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { Health } from "../../gen/health/v1/health_pb.js";
import type { Logger } from "../logging/logger.js";
import { requestIdKey } from "./request-id.js";

/**
 * One `rpc.completed` line per call with its procedure, status code, duration and request id.
 * A streaming call is logged when its stream ends, not when it starts.
 */
export function createAccessLogInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const startedAt = performance.now();
    const log = (thrown?: unknown) => {
      const failure = req.signal.aborted ? req.signal.reason : thrown;
      const code = failure === undefined ? "ok" : Code[ConnectError.from(failure, Code.Canceled).code];
      const entry = {
        event: "rpc.completed",
        procedure: `${req.service.typeName}/${req.method.name}`,
        code,
        durationMs: Math.round((performance.now() - startedAt) * 10) / 10,
        requestId: req.contextValues.get(requestIdKey),
      };
      if (failure !== undefined) logger.warn(entry, "rpc failed");
      // Probes ask every few seconds: at info they would drown the calls that matter.
      else if (req.service.typeName === Health.typeName) logger.debug(entry, "rpc completed");
      else logger.info(entry, "rpc completed");
    };

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
