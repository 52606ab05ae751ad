import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { ChargeStatus, DeclineCode } from "../../gen/payment/v1/mock_payment_gateway_service_pb.js";
import { failureOf } from "../support/failures.js";
import { type RunningTestGateway, startTestGateway, testCard } from "../support/gateway.js";

describe("MockPaymentGateway", () => {
  let gateway: RunningTestGateway;
  beforeAll(async () => {
    gateway = await startTestGateway();
  });
  afterAll(() => gateway.stop());

  const charge = (number: string, overrides: { idempotencyKey?: string; amountMinor?: bigint } = {}) =>
    gateway.client.charge({
      idempotencyKey: overrides.idempotencyKey ?? randomUUID(),
      amountMinor: overrides.amountMinor ?? 2500n,
      currencyCode: "EUR",
      card: testCard(number),
      description: "order 42",
    });

  describe("test cards", () => {
    it("charges 4242 4242 4242 4242, keeping only brand and last four digits", async () => {
      const { charge: result } = await charge("4242 4242 4242 4242");
      expect(result).toMatchObject({
        status: ChargeStatus.SUCCEEDED,
        amountMinor: 2500n,
        currencyCode: "EUR",
        card: { brand: "visa", last4: "4242" },
      });
      expect(result?.id).toMatch(/^ch_[A-Za-z0-9_-]{24}$/);
      const stored = await gateway.orm.em.fork().execute("select * from payment.charge where id = ?", [result?.id]);
      expect(JSON.stringify(stored)).not.toContain("4242424242424242");
      expect(JSON.stringify(stored)).not.toContain("123");
    });

    it.each([
      ["4000000000000002", DeclineCode.GENERIC_DECLINE],
      ["4000000000009995", DeclineCode.INSUFFICIENT_FUNDS],
      ["4000000000000069", DeclineCode.EXPIRED_CARD],
      ["4000000000000127", DeclineCode.INCORRECT_CVC],
    ])("declines %s with a stable decline code, as a result rather than an error", async (number, declineCode) => {
      const { charge: result } = await charge(number);
      expect(result).toMatchObject({ status: ChargeStatus.DECLINED, declineCode });
    });

    it("answers 4000000000000119 with a transient UNAVAILABLE (processing_error), recording nothing", async () => {
      const idempotencyKey = randomUUID();
      const error = await failureOf(charge("4000000000000119", { idempotencyKey }));
      expect(error.code).toBe(Code.Unavailable);
      expect(error.findDetails(ErrorInfoSchema)[0]).toMatchObject({ reason: "PROCESSING_ERROR", domain: "payment.v1" });
      expect(error.findDetails(RetryInfoSchema)).toHaveLength(1);
      expect(
        (await failureOf(gateway.client.getCharge({ lookup: { case: "idempotencyKey", value: idempotencyKey } }))).code,
      ).toBe(Code.NotFound);
    });

    it("refuses a number failing the Luhn check and an expiry in the past", async () => {
      const malformed = await failureOf(
        gateway.client.charge({
          idempotencyKey: randomUUID(),
          amountMinor: 100n,
          currencyCode: "EUR",
          card: { number: "4242424242424241", expMonth: 1, expYear: 2031, cvc: "12" },
        }),
      );
      expect(malformed.code).toBe(Code.InvalidArgument);
      expect(malformed.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => [v.field, v.reason])).toEqual([
        ["card.number", "INVALID_CARD_NUMBER"],
        ["card.cvc", "INVALID_FORMAT"],
      ]);
      const expired = await failureOf(
        gateway.client.charge({
          idempotencyKey: randomUUID(),
          amountMinor: 100n,
          currencyCode: "EUR",
          card: { number: "4242424242424242", expMonth: 1, expYear: 2020, cvc: "123" },
        }),
      );
      expect(expired.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.reason)).toEqual(["CARD_EXPIRED"]);
    });
  });

  describe("idempotency", () => {
    it("returns the stored first result for the same key and parameters, declines included", async () => {
      const idempotencyKey = randomUUID();
      const first = await charge("4000000000009995", { idempotencyKey });
      const retries = await Promise.all([1, 2, 3].map(() => charge("4000000000009995", { idempotencyKey })));
      for (const retry of retries) expect(retry.charge).toEqual(first.charge);
    });

    it("gives concurrent first attempts with one key exactly one charge", async () => {
      const idempotencyKey = randomUUID();
      const results = await Promise.all(
        Array.from({ length: 20 }, () => charge("4242424242424242", { idempotencyKey })),
      );
      expect(new Set(results.map((r) => r.charge?.id)).size).toBe(1);
      const [{ count }] = await gateway.orm.em
        .fork()
        .execute<[{ count: string }]>("select count(*) as count from payment.charge where idempotency_key = ?", [
          idempotencyKey,
        ]);
      expect(Number(count)).toBe(1);
    });

    it("refuses the same key with different parameters: IDEMPOTENCY_KEY_REUSED", async () => {
      const idempotencyKey = randomUUID();
      await charge("4242424242424242", { idempotencyKey, amountMinor: 100n });
      const error = await failureOf(charge("4242424242424242", { idempotencyKey, amountMinor: 200n }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("IDEMPOTENCY_KEY_REUSED");
    });
  });

  describe("GetCharge", () => {
    it("finds a charge by id or by idempotency key, and answers NOT_FOUND for a key never charged", async () => {
      const idempotencyKey = randomUUID();
      const { charge: made } = await charge("4242424242424242", { idempotencyKey });
      expect((await gateway.client.getCharge({ lookup: { case: "chargeId", value: made?.id ?? "" } })).charge).toEqual(
        made,
      );
      expect(
        (await gateway.client.getCharge({ lookup: { case: "idempotencyKey", value: idempotencyKey } })).charge,
      ).toEqual(made);
      const missing = await failureOf(
        gateway.client.getCharge({ lookup: { case: "idempotencyKey", value: randomUUID() } }),
      );
      expect(missing.code).toBe(Code.NotFound);
    });
  });

  describe("Refund", () => {
    it("refunds in parts and in full, once per key, never beyond the charge", async () => {
      const { charge: made } = await charge("4242424242424242", { amountMinor: 1000n });
      const chargeId = made?.id ?? "";
      const partKey = randomUUID();
      const part = await gateway.client.refund({ chargeId, amountMinor: 300n, idempotencyKey: partKey });
      expect(part.refund?.amountMinor).toBe(300n);
      expect((await gateway.client.refund({ chargeId, amountMinor: 300n, idempotencyKey: partKey })).refund?.id).toBe(
        part.refund?.id,
      );
      const rest = await gateway.client.refund({ chargeId, amountMinor: 0n, idempotencyKey: randomUUID() });
      expect(rest.refund?.amountMinor).toBe(700n);
      expect(rest.charge?.amountRefundedMinor).toBe(1000n);
      const beyond = await failureOf(
        gateway.client.refund({ chargeId, amountMinor: 1n, idempotencyKey: randomUUID() }),
      );
      expect(beyond.code).toBe(Code.FailedPrecondition);
      expect(beyond.findDetails(ErrorInfoSchema)[0]?.reason).toBe("REFUND_EXCEEDS_CHARGE");
    });

    it("lets concurrent refunds never exceed the charge", async () => {
      const { charge: made } = await charge("4242424242424242", { amountMinor: 1000n });
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, () =>
          gateway.client.refund({ chargeId: made?.id ?? "", amountMinor: 300n, idempotencyKey: randomUUID() }),
        ),
      );
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(3);
    });

    it("refuses to refund a declined charge", async () => {
      const { charge: declined } = await charge("4000000000000002");
      const error = await failureOf(
        gateway.client.refund({ chargeId: declined?.id ?? "", amountMinor: 0n, idempotencyKey: randomUUID() }),
      );
      expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("CHARGE_NOT_REFUNDABLE");
    });
  });
});

describe("MockPaymentGateway fault injection", () => {
  it("answers UNAVAILABLE at the configured failure rate, charging nothing", async () => {
    const flaky = await startTestGateway({ failureRate: 1 });
    const idempotencyKey = randomUUID();
    const error = await failureOf(
      flaky.client.charge({
        idempotencyKey,
        amountMinor: 100n,
        currencyCode: "EUR",
        card: testCard("4242424242424242"),
      }),
    );
    expect(error.code).toBe(Code.Unavailable);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INJECTED_FAULT");
    await flaky.stop();
  });

  it("hangs charges past the caller's deadline", async () => {
    const hanging = await startTestGateway({ hangCharges: true });
    const error = await failureOf(
      hanging.client.charge(
        { idempotencyKey: randomUUID(), amountMinor: 100n, currencyCode: "EUR", card: testCard("4242424242424242") },
        { timeoutMs: 200 },
      ),
    );
    expect(error.code).toBe(Code.DeadlineExceeded);
    await hanging.stop();
  });
});

describe("the gateway's own schema", () => {
  it("is migrated to exactly what its entities describe", async () => {
    const gateway = await startTestGateway();
    const drift = await gateway.orm.schema.getUpdateSchemaSQL({ wrap: false, schema: "payment" });
    await gateway.stop();
    expect(drift.trim()).toBe("");
  });
});
