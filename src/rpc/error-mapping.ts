import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  PreconditionFailureSchema,
  ResourceInfoSchema,
  RetryInfoSchema,
} from "../../gen/google/rpc/error_details_pb.js";
import { isTransientDatabaseFailure, RETRY_AFTER_DATABASE_FAILURE_MS } from "../db/transient-failures.js";
import type { Logger } from "../logging/logger.js";
import {
  AlreadyExists,
  ConditionNotMet,
  Conflict,
  DomainError,
  InvalidInput,
  PermissionDenied,
  RateLimited,
  ResourceNotFound,
  TemporarilyUnavailable,
  Unauthenticated,
} from "../shared/domain-error.js";
import { requestIdKey } from "./request-id.js";

type OutgoingDetail = NonNullable<ConstructorParameters<typeof ConnectError>[3]>[number];
type DomainErrorClass = abstract new (...args: never[]) => DomainError;

interface StatusRule<E extends DomainError = DomainError> {
  code: Code;
  details?: (error: E) => OutgoingDetail[];
}

function rule<E extends DomainError>(
  errorClass: abstract new (...args: never[]) => E,
  status: StatusRule<E>,
): [DomainErrorClass, StatusRule] {
  return [errorClass, status as StatusRule];
}

/**
 * THE table from the categories of domain failures to gRPC statuses and google.rpc details.
 * The first category an error belongs to decides. Every error also gets an ErrorInfo with its
 * reason.
 */
export const STATUS_RULES: readonly [DomainErrorClass, StatusRule][] = [
  rule(InvalidInput, {
    code: Code.InvalidArgument,
    details: (error) =>
      error.violations.length === 0
        ? []
        : [
            {
              desc: BadRequestSchema,
              value: create(BadRequestSchema, {
                fieldViolations: error.violations.map(({ field, description, reason }) => ({
                  field,
                  description,
                  reason,
                })),
              }),
            },
          ],
  }),
  rule(ResourceNotFound, {
    code: Code.NotFound,
    details: (error) => [
      {
        desc: ResourceInfoSchema,
        value: create(ResourceInfoSchema, {
          resourceType: error.resourceType,
          resourceName: error.resourceName,
          description: error.message,
        }),
      },
    ],
  }),
  rule(AlreadyExists, { code: Code.AlreadyExists }),
  rule(Unauthenticated, { code: Code.Unauthenticated }),
  rule(PermissionDenied, { code: Code.PermissionDenied }),
  rule(RateLimited, { code: Code.ResourceExhausted, details: retryAfter }),
  rule(Conflict, { code: Code.Aborted }),
  rule(TemporarilyUnavailable, { code: Code.Unavailable, details: retryAfter }),
  rule(ConditionNotMet, {
    code: Code.FailedPrecondition,
    details: (error) => [
      {
        desc: PreconditionFailureSchema,
        value: create(PreconditionFailureSchema, {
          violations: error.violations.map((violation) => ({ ...violation })),
        }),
      },
    ],
  }),
];

function retryAfter(error: { retryAfterMs: number }): OutgoingDetail[] {
  return [
    { desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: durationFromMs(error.retryAfterMs) }) },
  ];
}

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
      // A call the client cancelled, or that shutdown or its deadline cut off, failed for
      // that reason, whatever the interrupted code threw.
      const cause = req.signal.aborted ? ConnectError.from(req.signal.reason, Code.Canceled) : thrown;
      const error = toConnectError(cause, options.domain, requestId);
      if (isTransientDatabaseFailure(cause)) {
        options.logger.warn(
          {
            event: "rpc.database_unavailable",
            err: thrown,
            requestId,
            procedure: `${req.service.typeName}/${req.method.name}`,
          },
          "database unavailable; the caller is told to retry",
        );
      } else if (error.code === Code.Internal && !(cause instanceof ConnectError)) {
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
      return error;
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

export function toConnectError(raised: unknown, domain: string, requestId: string): ConnectError {
  const thrown = isTransientDatabaseFailure(raised) ? databaseUnavailable() : raised;
  // A copy: a ConnectError may be shared (a constant, or one from another service's client),
  // and must not keep this call's details.
  const error = thrown instanceof ConnectError ? copyOf(thrown) : fromDomain(thrown, requestId);
  if (error.findDetails(ErrorInfoSchema).length === 0) {
    const reason = thrown instanceof DomainError ? thrown.reason : REASON_BY_CODE[error.code];
    const metadata = thrown instanceof DomainError ? { ...thrown.metadata, requestId } : { requestId };
    error.details.unshift({ desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, domain, metadata }) });
  }
  return error;
}

function copyOf(error: ConnectError): ConnectError {
  const copy = new ConnectError(error.rawMessage, error.code, error.metadata, [], error.cause);
  copy.details.push(...error.details);
  return copy;
}

function fromDomain(thrown: unknown, requestId: string): ConnectError {
  if (thrown instanceof DomainError) {
    const status = STATUS_RULES.find(([errorClass]) => thrown instanceof errorClass)?.[1];
    if (status) return new ConnectError(thrown.message, status.code, undefined, status.details?.(thrown) ?? []);
  }
  return new ConnectError(`internal error; quote request id ${requestId} when reporting it`, Code.Internal);
}

function databaseUnavailable(): TemporarilyUnavailable {
  return new TemporarilyUnavailable(
    "DATABASE_UNAVAILABLE",
    "the service cannot reach its database right now; retry shortly",
    RETRY_AFTER_DATABASE_FAILURE_MS,
  );
}
