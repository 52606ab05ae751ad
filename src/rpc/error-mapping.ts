import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import type { Logger } from "../logging/logger.js";
import { requestIdKey } from "./request-id.js";

/** The reason every error without a more specific one carries, derived from its code. */
const REASON_BY_CODE: Readonly<Record<Code, string>> = {
  [Code.Canceled]: "CANCELLED",
  [Code.Unknown]: "UNKNOWN",
  [Code.InvalidArgument]: "INVALID_ARGUMENT",
  [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
  [Code.NotFound]: "NOT_FOUND",
  [Code.AlreadyExists]: "ALREADY_EXISTS",
  [Code.PermissionDenied]: "PERMISSION_DENIED",
  [Code.ResourceExhausted]: "RESOURCE_EXHAUSTED",
  [Code.FailedPrecondition]: "FAILED_PRECONDITION",
  [Code.Aborted]: "ABORTED",
  [Code.OutOfRange]: "OUT_OF_RANGE",
  [Code.Unimplemented]: "NOT_IMPLEMENTED",
  [Code.Internal]: "INTERNAL",
  [Code.Unavailable]: "UNAVAILABLE",
  [Code.DataLoss]: "DATA_LOSS",
  [Code.Unauthenticated]: "UNAUTHENTICATED",
};

/**
 * The one place where failures become gRPC statuses. Every error leaves with a
 * google.rpc.ErrorInfo (AIP-193) and the request id; an unexpected exception leaves as
 * INTERNAL carrying nothing but that id, its stack and any SQL staying in our logs.
 */
export function createErrorMappingInterceptor(options: { domain: string; logger: Logger }): Interceptor {
  return (next) => async (req) => {
    const map = (thrown: unknown): ConnectError => {
      const requestId = req.contextValues.get(requestIdKey);
      if (!(thrown instanceof ConnectError)) {
        options.logger.error(
          {
            event: "rpc.unexpected_error",
            err: thrown,
            requestId,
            procedure: `${req.service.typeName}/${req.method.name}`,
          },
          "unexpected error",
        );
      }
      return toConnectError(thrown, options.domain, requestId);
    };
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (thrown) {
      throw map(thrown);
    }
    return res.stream ? ({ ...res, message: mapStreamErrors(res.message, map) } satisfies StreamResponse) : res;
  };
}

async function* mapStreamErrors<T>(messages: AsyncIterable<T>, map: (thrown: unknown) => ConnectError) {
  try {
    yield* messages;
  } catch (thrown) {
    throw map(thrown);
  }
}

export function toConnectError(thrown: unknown, domain: string, requestId: string): ConnectError {
  const error =
    thrown instanceof ConnectError
      ? thrown
      : new ConnectError(`internal error; quote request id ${requestId} when reporting it`, Code.Internal);
  if (error.findDetails(ErrorInfoSchema).length === 0) {
    error.details.push({
      desc: ErrorInfoSchema,
      value: create(ErrorInfoSchema, {
        reason: REASON_BY_CODE[error.code],
        domain,
        metadata: { requestId },
      }),
    });
  }
  return error;
}
