import { type FieldViolation, InvalidRequest } from "../shared/domain-error.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Control characters other than tab and line breaks, which descriptions may contain. */
export function hasControlCharacters(value: string): boolean {
  return CONTROL_CHARACTERS.test(value);
}

export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}
const CURRENCIES = new Set(Intl.supportedValuesOf("currency"));

interface TextRule {
  /** Minimum length after trimming; 1 or more makes the field required. */
  min?: number;
  max: number;
  pattern?: RegExp;
  /** What the pattern asks for, in words: "letters A-Z and digits". */
  patternHint?: string;
}

/**
 * Collects every violation of a request, so one INVALID_ARGUMENT lists them all, then
 * throws them together. Field paths use the proto field names (`unit_price.currency_code`).
 */
export class RequestValidator {
  private readonly violations: FieldViolation[] = [];

  violation(field: string, description: string, reason: string): void {
    this.violations.push({ field, description, reason });
  }

  text(field: string, value: string, rule: TextRule): string {
    const trimmed = value.trim();
    const min = rule.min ?? 0;
    if (hasControlCharacters(trimmed)) {
      // PostgreSQL cannot store NUL, and no field of ours has a use for control characters.
      this.violation(field, "must not contain control characters", "INVALID_FORMAT");
    } else if (trimmed.length === 0 && min > 0) {
      this.violation(field, "is required", "REQUIRED");
    } else if (trimmed.length < min) {
      this.violation(field, `must be at least ${min} characters long`, "TOO_SHORT");
    } else if (trimmed.length > rule.max) {
      this.violation(field, `must be at most ${rule.max} characters long`, "TOO_LONG");
    } else if (rule.pattern && trimmed.length > 0 && !rule.pattern.test(trimmed)) {
      this.violation(field, `must be ${rule.patternHint ?? `of the form ${rule.pattern}`}`, "INVALID_FORMAT");
    }
    return trimmed;
  }

  integer(field: string, value: number, range: { min: number; max: number; notZero?: boolean }): number {
    if (!Number.isSafeInteger(value) || value < range.min || value > range.max) {
      this.violation(field, `must be a whole number from ${range.min} to ${range.max}`, "OUT_OF_RANGE");
    } else if (range.notZero && value === 0) {
      this.violation(field, "must not be zero", "OUT_OF_RANGE");
    }
    return value;
  }

  /** An int64 that must fit the range; returned as a number. */
  bigint(field: string, value: bigint, range: { min: number; max: number }): number {
    if (value < BigInt(range.min) || value > BigInt(range.max)) {
      this.violation(field, `must be from ${range.min} to ${range.max}`, "OUT_OF_RANGE");
      return 0;
    }
    return Number(value);
  }

  uuid(field: string, value: string): string {
    if (value === "") this.violation(field, "is required", "REQUIRED");
    else if (!UUID.test(value)) this.violation(field, "must be a UUID", "INVALID_FORMAT");
    return value.toLowerCase();
  }

  currencyCode(field: string, value: string): string {
    if (value === "") this.violation(field, "is required", "REQUIRED");
    else if (!/^[A-Z]{3}$/.test(value) || !CURRENCIES.has(value)) {
      this.violation(field, "must be an ISO 4217 currency code in upper case, such as EUR", "INVALID_FORMAT");
    }
    return value;
  }

  present<T>(field: string, value: T | undefined): value is T {
    if (value === undefined) this.violation(field, "is required", "REQUIRED");
    return value !== undefined;
  }

  /** Throws InvalidRequest with every violation found, if any. */
  throwIfInvalid(): void {
    if (this.violations.length > 0) throw new InvalidRequest(this.violations);
  }
}
