/**
 * The failures our use cases report, in the domain's words. Domain code throws these and
 * knows nothing of gRPC; src/rpc/error-mapping.ts turns each into a status with details.
 *
 * `reason` is the stable machine-readable cause (google.rpc.ErrorInfo.reason), in
 * UPPER_SNAKE_CASE; `metadata` adds facts a client may act on.
 */
export abstract class DomainError extends Error {
  abstract readonly reason: string;
  readonly metadata: Readonly<Record<string, string>>;

  constructor(message: string, metadata: Record<string, string> = {}) {
    super(message);
    this.name = new.target.name;
    this.metadata = metadata;
  }
}

/** One problem with one field of a request. `field` is a path such as `lines[2].quantity`. */
export interface FieldViolation {
  field: string;
  description: string;
  /** UPPER_SNAKE_CASE, e.g. REQUIRED, TOO_LONG, OUT_OF_RANGE, INVALID_FORMAT. */
  reason: string;
}

/** Every problem with a request, found before any work was done. */
export class InvalidRequest extends DomainError {
  readonly reason = "INVALID_REQUEST";
  constructor(readonly violations: readonly FieldViolation[]) {
    super(
      violations.length === 1
        ? `invalid request: ${violations[0]?.field} ${violations[0]?.description}`
        : `invalid request: ${violations.length} fields are invalid`,
    );
  }
}

/** The resource does not exist, or the caller may not know that it does. */
export class ResourceNotFound extends DomainError {
  readonly reason = "NOT_FOUND";
  constructor(
    readonly resourceType: string,
    readonly resourceName: string,
  ) {
    super(`${resourceType} "${resourceName}" not found`);
  }
}

/** A request_id (idempotency key) was reused for a request with a different payload. */
export class RequestIdReused extends DomainError {
  readonly reason = "REQUEST_ID_REUSED";
  constructor(readonly requestId: string) {
    super(`request_id "${requestId}" was already used for a different request; use a new one`);
  }
}

/** The caller is authenticated but its role does not allow this. */
export class PermissionDenied extends DomainError {
  readonly reason = "PERMISSION_DENIED";
}

/** A condition the system must satisfy for the change is not met (stock levels, state). */
export interface PreconditionViolation {
  /** What kind of condition, e.g. STOCK or ORDER_STATE. */
  type: string;
  /** What it applies to, e.g. a product id. */
  subject: string;
  description: string;
}

/** The change was refused because conditions it depends on do not hold; nothing changed. */
export abstract class ConditionNotMet extends DomainError {
  constructor(
    message: string,
    readonly violations: readonly PreconditionViolation[],
    metadata: Record<string, string> = {},
  ) {
    super(message, metadata);
  }
}

/** The resource changed since the caller read it (its etag no longer matches). */
export class StaleVersion extends DomainError {
  readonly reason = "ETAG_MISMATCH";
  constructor(resourceType: string, resourceName: string) {
    super(`${resourceType} "${resourceName}" changed since it was read; read it again and retry`);
  }
}

/**
 * A transient failure: nothing was done, and the same request may succeed later. Clients
 * retry with the same idempotency key after `retryAfterMs`.
 */
export class TemporarilyUnavailable extends DomainError {
  constructor(
    readonly reason: string,
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}
