/**
 * Which failures of the database (or of the network to it) are transient: the same request
 * may well succeed in a moment, so callers are told UNAVAILABLE with a time to retry after,
 * not INTERNAL. The one place that knows.
 */

/**
 * SQLSTATEs: connection exceptions (class 08); the server shutting down, crashing or starting
 * (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now); too many connections
 * (53300); and concurrency failures that a retry resolves (40001 serialization, 40P01 deadlock).
 */
const TRANSIENT_SQLSTATE = /^(08...|57P0[123]|53300|40001|40P01)$/;

/** Socket errors on the way to the database. */
const TRANSIENT_ERRNO = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

/** What pg and its pool say, without a code, when a connection is lost or cannot be had. */
const TRANSIENT_MESSAGE =
  /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Connection terminated due to connection timeout)/;

/** How long a caller should wait before retrying after a transient database failure. */
export const RETRY_AFTER_DATABASE_FAILURE_MS = 1_000;

export function isTransientDatabaseFailure(error: unknown): boolean {
  return causesOf(error).some((cause) => {
    const { code, message } = cause as { code?: unknown; message?: unknown };
    if (typeof code === "string" && (TRANSIENT_SQLSTATE.test(code) || TRANSIENT_ERRNO.has(code))) return true;
    return typeof message === "string" && TRANSIENT_MESSAGE.test(message);
  });
}

/** The error, what caused it, and what an AggregateError gathers (one per address tried). */
function causesOf(error: unknown, depth = 0): unknown[] {
  if (error === null || typeof error !== "object" || depth > 5) return [];
  const { cause, errors } = error as { cause?: unknown; errors?: unknown };
  return [
    error,
    ...causesOf(cause, depth + 1),
    ...(Array.isArray(errors) ? errors.flatMap((inner) => causesOf(inner, depth + 1)) : []),
  ];
}

/**
 * Runs `work`, and again after each delay while it fails transiently: for a write that must
 * land even across a database restart of a few seconds. Other failures, and the last
 * transient one, are thrown.
 */
export async function retryingTransientFailures<T>(work: () => Promise<T>, delaysMs: readonly number[]): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const delay = delaysMs[attempt];
      if (delay === undefined || !isTransientDatabaseFailure(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
