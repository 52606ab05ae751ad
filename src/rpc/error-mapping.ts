import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createContextKey,
  type HandlerContext,
  type Interceptor,
  type StreamResponse,
} from "@connectrpc/connect";
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
import { correlationIdKey } from "./correlation-id.js";

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

/** Set once a call reaches the interceptors: from then on, its failures are mapped there. */
const interceptedKey = createContextKey(false, { description: "error mapping interceptor reached" });

/**
 * The one place where failures become gRPC statuses. Every error leaves with a
 * google.rpc.ErrorInfo (AIP-193) and the correlation id; an unexpected exception leaves as
 * INTERNAL carrying nothing but that id, its stack and any SQL staying in our logs.
 */
export function createErrorMappingInterceptor(options: { domain: string; logger: Logger }): Interceptor {
  return (next) => async (req) => {
    req.contextValues.set(interceptedKey, true);
    const correlationId = req.contextValues.get(correlationIdKey);
    const map = (thrown: unknown): ConnectError => {
      // A call the client cancelled, or that shutdown or its deadline cut off, failed for
      // that reason, whatever the interrupted code threw.
      const cause = req.signal.aborted ? ConnectError.from(req.signal.reason, Code.Canceled) : thrown;
      const error = toConnectError(cause, options.domain, correlationId);
      if (isTransientDatabaseFailure(cause)) {
        options.logger.warn(
          {
            event: "rpc.database_unavailable",
            err: thrown,
            correlationId,
            procedure: `${req.service.typeName}/${req.method.name}`,
          },
          "database unavailable; the caller is told to retry",
        );
      } else if (error.code === Code.Internal && !(cause instanceof ConnectError)) {
        options.logger.error(
          {
            event: "rpc.unexpected_error",
            err: thrown,
            correlationId,
            procedure: `${req.service.typeName}/${req.method.name}`,
          },
          "unexpected error",
        );
      }
      return error;
    };
    // A streaming call's messages are read while it runs: what fails there is the client's.
    const request = req.stream
      ? {
          ...req,
          message: mapStreamErrors(req.message, (thrown) =>
            toUnreadableRequestError(thrown, options.domain, correlationId),
          ),
        }
      : req;
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(request);
    } catch (thrown) {
      throw map(thrown);
    }
    return res.stream ? ({ ...res, message: mapStreamErrors(res.message, map) } satisfies StreamResponse) : res;
  };
}

/**
 * Maps the failures of calls that never reach the interceptors. connect-node reads a unary
 * call's request (its framing, compression and message) before any interceptor runs, and
 * answers what fails there itself: undecodable protobuf as INTERNAL, and nothing with
 * ErrorInfo or a correlation id. It has no hook for those failures, but it aborts the call's
 * context with the very error it then writes to the client (HandlerContext.signal), so the
 * request gate, which runs first, listens for that and makes the error ours.
 */
export function mapFailuresBeforeInterceptors(context: HandlerContext, domain: string): void {
  context.signal.addEventListener(
    "abort",
    () => {
      const failure = context.signal.reason;
      if (context.values.get(interceptedKey) || !(failure instanceof ConnectError)) return;
      // Nobody hears a cancelled call's answer, and the shutdown error is one object shared
      // by every call: it must not carry one call's correlation id.
      if ([Code.Canceled, Code.Aborted, Code.Unavailable].includes(failure.code)) return;
      const ours = toUnreadableRequestError(failure, domain, context.values.get(correlationIdKey));
      // In place: this object is what connect-node writes once the listeners have run.
      Object.assign(failure, { code: ours.code, message: ours.message, details: ours.details });
    },
    { once: true },
  );
}

/** Headers in which connect-node names the encodings it accepts when it refuses one. */
const ACCEPT_ENCODING_HEADERS = ["grpc-accept-encoding", "connect-accept-encoding", "accept-encoding"];

/**
 * A request connect-node could not read: its framing, compression, protobuf or JSON. That is
 * the caller's fault, so never INTERNAL (connect-node's code for protobuf it cannot parse,
 * and for a compressed frame without an encoding): INVALID_ARGUMENT, or connect-node's own
 * RESOURCE_EXHAUSTED (too large) and UNIMPLEMENTED (an encoding it does not know, or a unary
 * call without exactly one message), as the gRPC status code guide has them.
 */
export function toUnreadableRequestError(thrown: unknown, domain: string, correlationId: string): ConnectError {
  const failure = ConnectError.from(thrown, Code.InvalidArgument);
  if (failure.findDetails(ErrorInfoSchema).length > 0) return failure;
  const code = failure.code === Code.Internal || failure.code === Code.Unknown ? Code.InvalidArgument : failure.code;
  const info = create(ErrorInfoSchema, {
    reason: unreadableReason(code, failure),
    domain,
    metadata: { requestId: correlationId },
  });
  return new ConnectError(
    failure.rawMessage,
    code,
    failure.metadata,
    [{ desc: ErrorInfoSchema, value: info }],
    failure,
  );
}

function unreadableReason(code: Code, failure: ConnectError): string {
  switch (code) {
    case Code.InvalidArgument:
      return "MALFORMED_MESSAGE";
    case Code.ResourceExhausted:
      return "MESSAGE_TOO_LARGE";
    case Code.Unimplemented:
      return ACCEPT_ENCODING_HEADERS.some((header) => failure.metadata.has(header))
        ? "UNSUPPORTED_ENCODING"
        : "UNEXPECTED_MESSAGE_COUNT";
    default:
      return REASON_BY_CODE[code];
  }
}

async function* mapStreamErrors<T>(messages: AsyncIterable<T>, map: (thrown: unknown) => ConnectError) {
  try {
    yield* messages;
  } catch (thrown) {
    throw map(thrown);
  }
}

/**
 * The error a client gets. Its ErrorInfo names the call's correlation id `requestId`, after the
 * x-request-id header that carries it: that key is part of the error contract clients read.
 */
export function toConnectError(raised: unknown, domain: string, correlationId: string): ConnectError {
  const thrown = isTransientDatabaseFailure(raised) ? databaseUnavailable() : raised;
  // A copy: a ConnectError may be shared (a constant, or one from another service's client),
  // and must not keep this call's details.
  const error = thrown instanceof ConnectError ? copyOf(thrown) : fromDomain(thrown, correlationId);
  if (error.findDetails(ErrorInfoSchema).length === 0) {
    const reason = thrown instanceof DomainError ? thrown.reason : REASON_BY_CODE[error.code];
    const metadata = { ...(thrown instanceof DomainError && thrown.metadata), requestId: correlationId };
    error.details.unshift({ desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, domain, metadata }) });
  }
  return error;
}

function copyOf(error: ConnectError): ConnectError {
  const copy = new ConnectError(error.rawMessage, error.code, error.metadata, [], error.cause);
  copy.details.push(...error.details);
  return copy;
}

function fromDomain(thrown: unknown, correlationId: string): ConnectError {
  if (thrown instanceof DomainError) {
    const status = STATUS_RULES.find(([errorClass]) => thrown instanceof errorClass)?.[1];
    if (status) return new ConnectError(thrown.message, status.code, undefined, status.details?.(thrown) ?? []);
  }
  return new ConnectError(`internal error; quote request id ${correlationId} when reporting it`, Code.Internal);
}

function databaseUnavailable(): TemporarilyUnavailable {
  return new TemporarilyUnavailable(
    "DATABASE_UNAVAILABLE",
    "the service cannot reach its database right now; retry shortly",
    RETRY_AFTER_DATABASE_FAILURE_MS,
  );
}
