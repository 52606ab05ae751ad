import { InvalidRequest } from "./domain-error.js";

/**
 * Opaque keyset page tokens (AIP-158): the last row's sort key plus a fingerprint of the
 * filters, so a token cannot be replayed with other filters. Keyset, not OFFSET, so rows
 * inserted while a client pages never shift the pages or repeat rows.
 */
export function encodePageToken(position: readonly (string | number)[], filters: unknown): string {
  return Buffer.from(JSON.stringify({ p: position, f: JSON.stringify(filters) })).toString("base64url");
}

export function decodePageToken(token: string, filters: unknown, arity: number): (string | number)[] | undefined {
  if (token === "") return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    decoded = undefined;
  }
  const { p: position, f: fingerprint } = (decoded ?? {}) as { p?: unknown; f?: unknown };
  const wellFormed =
    Array.isArray(position) &&
    position.length === arity &&
    position.every((value) => typeof value === "string" || typeof value === "number");
  if (!wellFormed) {
    throw new InvalidRequest([
      { field: "page_token", description: "is not a token this API issued", reason: "INVALID_FORMAT" },
    ]);
  }
  if (fingerprint !== JSON.stringify(filters)) {
    throw new InvalidRequest([
      {
        field: "page_token",
        description: "was issued for different filters; start from the first page",
        reason: "MISMATCH",
      },
    ]);
  }
  return position;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** 0 means the default; larger than the maximum is lowered to it (AIP-158). Negative is refused. */
export function pageSizeOf(requested: number): number {
  if (requested < 0) {
    throw new InvalidRequest([{ field: "page_size", description: "must not be negative", reason: "OUT_OF_RANGE" }]);
  }
  return requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE);
}
