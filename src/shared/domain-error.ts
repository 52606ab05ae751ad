/**
 * The failures our use cases report, in the domain's words. Domain code throws these and
 * knows nothing of gRPC. Every failure belongs to one of the categories below, by what the
 * caller should do about it; src/rpc/error-mapping.ts maps categories (never a feature's
 * own classes) to statuses with details.
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

/** Category: the request itself is wrong; the same request will always fail. Fix it. */
export abstract class InvalidInput extends DomainError {
  /** The fields at fault, when the fault is in fields. */
  readonly violations: readonly FieldViolation[] = [];
}

/** Every problem with a request's fields, found before any work was done. */
export class InvalidRequest extends InvalidInput {
  readonly reason = "INVALID_REQUEST";
  override readonly violations: readonly FieldViolation[];
  constructor(violations: readonly FieldViolation[]) {
    super(
      violations.length === 1
        ? `invalid request: ${violations[0]?.field} ${violations[0]?.description}`
        : `invalid request: ${violations.length} fields are invalid`,
    );
    this.violations = violations;
  }
}

/** Category, and its one member: the resource does not exist, or the caller may not know that it does. */
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
export class RequestIdReused extends InvalidInput {
  readonly reason = "REQUEST_ID_REUSED";
  constructor(readonly requestId: string) {
    super(`request_id "${requestId}" was already used for a different request; use a new one`);
  }
}

/** Category: what the request would create exists already (a unique name is taken). */
export abstract class AlreadyExists extends DomainError {}

/** Category: who is calling is not established (no token, a bad one, wrong credentials). */
export abstract class Unauthenticated extends DomainError {}

/** Category, and its one member: the caller is authenticated but its role does not allow this. */
export class PermissionDenied extends DomainError {
  readonly reason = "PERMISSION_DENIED";
}

/** Category: the caller is asking too often; it may try again after `retryAfterMs`. */
export abstract class RateLimited extends DomainError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/** Category: another change got there first; read again, then retry. */
export abstract class Conflict extends DomainError {}

/** A condition the system must satisfy for the change is not met (stock levels, state). */
export interface PreconditionViolation {
  /** What kind of condition, e.g. STOCK or ORDER_STATE. */
  type: string;
  /** What it applies to, e.g. a product id. */
  subject: string;
  description: string;
}

/** Category: the change was refused because conditions it depends on do not hold; nothing changed. */
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
export class StaleVersion extends Conflict {
  readonly reason = "ETAG_MISMATCH";
  constructor(resourceType: string, resourceName: string) {
    super(`${resourceType} "${resourceName}" changed since it was read; read it again and retry`);
  }
}

/**
 * Category, and its one member: a transient failure; nothing was done, and the same request
 * may succeed later. Clients retry with the same idempotency key after `retryAfterMs`.
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
