import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  PreconditionFailureSchema,
  ResourceInfoSchema,
  RetryInfoSchema,
} from "../../gen/google/rpc/error_details_pb.js";
import { EmailTaken, InvalidCredentials, NotAuthenticated, TooManyLoginAttempts } from "../../src/auth/auth-errors.js";
import { SkuTaken, StockAdjustmentRefused } from "../../src/inventory/inventory-errors.js";
import { InvalidOrderState, MixedCurrencies, OutOfStock, PaymentDeclined } from "../../src/orders/order-errors.js";
import { IdempotencyKeyReused, RefundRefused } from "../../src/payment-gateway/payment-errors.js";
import { toConnectError } from "../../src/rpc/error-mapping.js";
import {
  type DomainError,
  InvalidRequest,
  PermissionDenied,
  RequestIdReused,
  ResourceNotFound,
  StaleVersion,
  TemporarilyUnavailable,
} from "../../src/shared/domain-error.js";

const map = (error: unknown) => toConnectError(error, "shop.v1", "req-1");

describe("the table from domain failures to gRPC statuses", () => {
  it.each<[string, DomainError, Code, string]>([
    [
      "invalid request",
      new InvalidRequest([{ field: "sku", description: "is required", reason: "REQUIRED" }]),
      Code.InvalidArgument,
      "INVALID_REQUEST",
    ],
    ["request id reused", new RequestIdReused("r-1"), Code.InvalidArgument, "REQUEST_ID_REUSED"],
    ["idempotency key reused", new IdempotencyKeyReused("k-1"), Code.InvalidArgument, "IDEMPOTENCY_KEY_REUSED"],
    ["mixed currencies", new MixedCurrencies(["EUR", "USD"]), Code.InvalidArgument, "MIXED_CURRENCIES"],
    ["not found", new ResourceNotFound("shop.v1.Product", "p-1"), Code.NotFound, "NOT_FOUND"],
    ["email taken", new EmailTaken(), Code.AlreadyExists, "EMAIL_TAKEN"],
    ["SKU taken", new SkuTaken("MUG"), Code.AlreadyExists, "SKU_TAKEN"],
    ["bad credentials", new InvalidCredentials(), Code.Unauthenticated, "INVALID_CREDENTIALS"],
    ["expired token", new NotAuthenticated("TOKEN_EXPIRED"), Code.Unauthenticated, "TOKEN_EXPIRED"],
    ["not an admin", new PermissionDenied("admins only"), Code.PermissionDenied, "PERMISSION_DENIED"],
    ["throttled", new TooManyLoginAttempts(1500), Code.ResourceExhausted, "TOO_MANY_ATTEMPTS"],
    ["stale etag", new StaleVersion("shop.v1.Product", "p-1"), Code.Aborted, "ETAG_MISMATCH"],
    [
      "stock refused",
      new StockAdjustmentRefused("p-1", -5, 3, 0, 1000),
      Code.FailedPrecondition,
      "STOCK_BELOW_RESERVED",
    ],
    [
      "out of stock",
      new OutOfStock([{ productId: "p-1", requested: 3, available: 1 }]),
      Code.FailedPrecondition,
      "OUT_OF_STOCK",
    ],
    ["card declined", new PaymentDeclined("o-1", "insufficient_funds"), Code.FailedPrecondition, "PAYMENT_DECLINED"],
    [
      "order in the wrong state",
      new InvalidOrderState("o-1", "CANCELLED", "cancel"),
      Code.FailedPrecondition,
      "INVALID_ORDER_STATE",
    ],
    [
      "refund refused",
      new RefundRefused("ch-1", "REFUND_EXCEEDS_CHARGE", "too much"),
      Code.FailedPrecondition,
      "REFUND_EXCEEDS_CHARGE",
    ],
    [
      "gateway unavailable",
      new TemporarilyUnavailable("PAYMENT_GATEWAY_UNAVAILABLE", "retry later", 2000),
      Code.Unavailable,
      "PAYMENT_GATEWAY_UNAVAILABLE",
    ],
  ])("%s", (_name, error, code, reason) => {
    const mapped = map(error);
    expect(mapped.code).toBe(code);
    expect(mapped.rawMessage).toBe(error.message);
    expect(mapped.findDetails(ErrorInfoSchema)).toEqual([
      expect.objectContaining({ reason, domain: "shop.v1", metadata: expect.objectContaining({ requestId: "req-1" }) }),
    ]);
  });

  it("attaches the detail each status calls for", () => {
    expect(
      map(new InvalidRequest([{ field: "sku", description: "is required", reason: "REQUIRED" }])).findDetails(
        BadRequestSchema,
      )[0]?.fieldViolations,
    ).toEqual([expect.objectContaining({ field: "sku", description: "is required", reason: "REQUIRED" })]);
    expect(map(new ResourceNotFound("shop.v1.Product", "p-1")).findDetails(ResourceInfoSchema)[0]).toMatchObject({
      resourceType: "shop.v1.Product",
      resourceName: "p-1",
    });
    expect(Number(map(new TooManyLoginAttempts(1500)).findDetails(RetryInfoSchema)[0]?.retryDelay?.nanos)).toBe(
      500_000_000,
    );
    expect(
      map(new StockAdjustmentRefused("p-1", -5, 3, 0, 1000)).findDetails(PreconditionFailureSchema)[0]?.violations,
    ).toEqual([expect.objectContaining({ type: "STOCK", subject: "p-1" })]);
    expect(
      map(new OutOfStock([{ productId: "p-1", requested: 3, available: 1 }])).findDetails(PreconditionFailureSchema)[0]
        ?.violations,
    ).toEqual([expect.objectContaining({ type: "STOCK", subject: "p-1", description: "requested 3, available 1" })]);
    expect(map(new PaymentDeclined("o-1", "insufficient_funds")).findDetails(ErrorInfoSchema)[0]?.metadata).toEqual(
      expect.objectContaining({ declineCode: "insufficient_funds", orderId: "o-1" }),
    );
    // A reuse of a key is not a field's fault: no BadRequest, only the reason.
    expect(map(new RequestIdReused("r-1")).findDetails(BadRequestSchema)).toEqual([]);
  });

  it("turns anything else into INTERNAL carrying only the request id", () => {
    const mapped = map(new TypeError("cannot read properties of undefined (reading 'rows')"));
    expect(mapped.code).toBe(Code.Internal);
    expect(mapped.rawMessage).toBe("internal error; quote request id req-1 when reporting it");
  });

  it("leaves a shared ConnectError untouched", () => {
    const shared = new ConnectError("gateway says no", Code.Unavailable);
    map(shared);
    expect(shared.details).toEqual([]);
  });
});

describe("failures of the infrastructure below", () => {
  it.each([
    ["the server shutting down (57P01)", Object.assign(new Error("terminating connection"), { code: "57P01" })],
    [
      "the server starting up (57P03)",
      Object.assign(new Error("the database system is starting up"), { code: "57P03" }),
    ],
    ["too many connections (53300)", Object.assign(new Error("sorry, too many clients already"), { code: "53300" })],
    ["a connection exception (08006)", Object.assign(new Error("connection failure"), { code: "08006" })],
    ["a refused connection", new AggregateError([Object.assign(new Error("connect"), { code: "ECONNREFUSED" })])],
    ["a lost connection", new Error("Connection terminated unexpectedly")],
    ["a deadlock (40P01)", Object.assign(new Error("deadlock detected"), { code: "40P01" })],
    [
      "one wrapped by the ORM",
      new Error("wrapped", { cause: Object.assign(new Error("reset"), { code: "ECONNRESET" }) }),
    ],
  ])("%s is UNAVAILABLE with a time to retry after, never INTERNAL", (_name, failure) => {
    const mapped = map(failure);
    expect(mapped.code).toBe(Code.Unavailable);
    expect(mapped.findDetails(ErrorInfoSchema)[0]?.reason).toBe("DATABASE_UNAVAILABLE");
    expect(mapped.findDetails(RetryInfoSchema)).toHaveLength(1);
  });

  it.each([
    ["a syntax error (42601)", Object.assign(new Error("syntax error"), { code: "42601" })],
    ["a check violation (23514)", Object.assign(new Error("violates check constraint"), { code: "23514" })],
  ])("%s is our bug: INTERNAL", (_name, failure) => {
    expect(map(failure).code).toBe(Code.Internal);
  });
});
