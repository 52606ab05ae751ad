import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { describe, expect, it } from "vitest";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  PreconditionFailureSchema,
  RetryInfoSchema,
} from "../../gen/google/rpc/error_details_pb.js";
import { OrderState } from "../../gen/shop/v1/order_service_pb.js";
import { failureOf } from "../support/failures.js";
import { startTestGateway, testCard } from "../support/gateway.js";
import { useOrderApi } from "../support/order-fixture.js";
import { createProduct } from "../support/products.js";
import { until } from "../support/until.js";
import { createUser, type TestUser } from "../support/users.js";

describe("OrderService.PlaceOrder", () => {
  const fixture = useOrderApi();

  it("reserves, charges, marks paid and fulfils, with prices from the catalogue", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const { order } = await fixture.place(customer, [{ productId: product.id, quantity: 2 }]);
    expect(order).toMatchObject({
      state: OrderState.FULFILLED,
      customerId: customer.id,
      total: { currencyCode: "EUR", amountMinor: 2500n },
      card: { brand: "visa", last4: "4242" },
    });
    expect(order?.lines).toEqual([
      expect.objectContaining({
        productId: product.id,
        sku: product.sku,
        quantity: 2,
        lineTotal: expect.objectContaining({ amountMinor: 2500n }),
      }),
    ]);
    expect(order?.chargeId).toMatch(/^ch_/);
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 3, reserved: 0 });
    expect(await fixture.chargesFor(`order-${order?.id}`)).toBe(1);
    expect(await fixture.emailJobsFor(order?.id ?? "")).toEqual(["order-confirmation"]);
  });

  it("when an order has several lines, then it totals and charges every line, not only one", async () => {
    const customer = await createUser(fixture.api);
    const mug = await fixture.product(5); // 12.50
    const tea = await createProduct(fixture.inventory, fixture.admin, { initialStock: 10, amountMinor: 700n });
    const spoon = await createProduct(fixture.inventory, fixture.admin, { initialStock: 10, amountMinor: 175n });
    const { order } = await fixture.place(customer, [
      { productId: mug.id, quantity: 2 },
      { productId: tea.id, quantity: 3 },
      { productId: spoon.id, quantity: 1 },
    ]);
    // 2 x 12.50 + 3 x 7.00 + 1 x 1.75
    expect(order).toMatchObject({
      state: OrderState.FULFILLED,
      subtotal: { currencyCode: "EUR", amountMinor: 4775n },
      total: { currencyCode: "EUR", amountMinor: 4775n },
    });
    expect(order?.lines.map((line) => [line.productId, line.quantity, line.lineTotal?.amountMinor])).toEqual([
      [mug.id, 2, 2500n],
      [tea.id, 3, 2100n],
      [spoon.id, 1, 175n],
    ]);
    const { charge } = await fixture.gateway.client.getCharge({
      lookup: { case: "idempotencyKey", value: `order-${order?.id}` },
    });
    expect(charge).toMatchObject({ id: order?.chargeId, amountMinor: 4775n, currencyCode: "EUR" });
    expect(await fixture.stockOf(mug.id)).toEqual({ onHand: 3, reserved: 0 });
    expect(await fixture.stockOf(tea.id)).toEqual({ onHand: 7, reserved: 0 });
    expect(await fixture.stockOf(spoon.id)).toEqual({ onHand: 9, reserved: 0 });
  });

  it("numbers orders for people: short, and each new order's higher than the last", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const first = await fixture.place(customer, [{ productId: product.id, quantity: 1 }]);
    const second = await fixture.place(customer, [{ productId: product.id, quantity: 1 }]);
    expect(first.order?.number).toBeGreaterThan(0n);
    expect(second.order?.number).toBeGreaterThan(first.order?.number ?? 0n);
    const { order } = await fixture.orders.getOrder({ id: second.order?.id ?? "" }, customer.auth);
    expect(order?.number).toBe(second.order?.number);
  });

  it.each([
    ["4000000000000002", "generic_decline"],
    ["4000000000009995", "insufficient_funds"],
    ["4000000000000069", "expired_card"],
    ["4000000000000127", "incorrect_cvc"],
  ])(
    "card %s: FAILED_PRECONDITION PAYMENT_DECLINED (%s), order PAYMENT_FAILED, stock released",
    async (card, declineCode) => {
      const customer = await createUser(fixture.api);
      const product = await fixture.product(5);
      const error = await failureOf(fixture.place(customer, [{ productId: product.id, quantity: 2 }], card));
      expect(error.code).toBe(Code.FailedPrecondition);
      const [info] = error.findDetails(ErrorInfoSchema);
      expect(info).toMatchObject({ reason: "PAYMENT_DECLINED", metadata: expect.objectContaining({ declineCode }) });
      const failed = await fixture.orders.getOrder({ id: info?.metadata.orderId ?? "" }, customer.auth);
      expect(failed.order).toMatchObject({ state: OrderState.PAYMENT_FAILED, failureCode: declineCode });
      expect(await fixture.stockOf(product.id)).toEqual({ onHand: 5, reserved: 0 });
    },
  );

  it("card 4000000000000119 (processing error): retried, then UNAVAILABLE with RetryInfo; recovery releases the stock", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const requestId = randomUUID();
    const error = await failureOf(
      fixture.place(customer, [{ productId: product.id, quantity: 1 }], "4000000000000119", requestId),
    );
    expect(error.code).toBe(Code.Unavailable);
    expect(error.findDetails(RetryInfoSchema)).toHaveLength(1);
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 5, reserved: 1 });

    await fixture.api.orders.recoverPendingOrders(0);
    const { orders } = await fixture.orders.listOrders({}, customer.auth);
    expect(orders[0]).toMatchObject({ requestId, state: OrderState.PAYMENT_FAILED, failureCode: "not_charged" });
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 5, reserved: 0 });
  });

  it("refuses a shortage with a PreconditionFailure naming every short product, reserving nothing", async () => {
    const customer = await createUser(fixture.api);
    const plenty = await fixture.product(10);
    const few = await fixture.product(1);
    const none = await fixture.product(0);
    const error = await failureOf(
      fixture.place(customer, [
        { productId: plenty.id, quantity: 2 },
        { productId: few.id, quantity: 3 },
        { productId: none.id, quantity: 1 },
      ]),
    );
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("OUT_OF_STOCK");
    const violations = error.findDetails(PreconditionFailureSchema)[0]?.violations ?? [];
    expect(violations.map((v) => [v.subject, v.description]).sort()).toEqual(
      [
        [few.id, "requested 3, available 1"],
        [none.id, "requested 1, available 0"],
      ].sort(),
    );
    for (const product of [plenty, few, none]) expect((await fixture.stockOf(product.id)).reserved).toBe(0);
  });

  it("validates every line: count, quantity, duplicates and unknown products", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const invalid = await failureOf(
      fixture.place(customer, [
        { productId: product.id, quantity: 0 },
        { productId: product.id, quantity: 1001 },
      ]),
    );
    expect(invalid.code).toBe(Code.InvalidArgument);
    expect((await failureOf(fixture.place(customer, []))).code).toBe(Code.InvalidArgument);
    const unknown = await failureOf(fixture.place(customer, [{ productId: randomUUID(), quantity: 1 }]));
    expect(unknown.code).toBe(Code.InvalidArgument);
  });

  it("answers 20 concurrent calls with one request_id with one order and one charge", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(10);
    const requestId = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        fixture.place(customer, [{ productId: product.id, quantity: 1 }], "4242424242424242", requestId),
      ),
    );
    const ids = new Set(results.map((r) => r.order?.id));
    expect(ids.size).toBe(1);
    for (const result of results) expect(result.order?.state).toBe(OrderState.FULFILLED);
    expect(await fixture.chargesFor(`order-${[...ids][0]}`)).toBe(1);
    expect(await fixture.emailJobsFor([...ids][0] ?? "")).toEqual(["order-confirmation"]);
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 9, reserved: 0 });
  });

  it("refuses a request_id reused with a different payload", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(10);
    const requestId = randomUUID();
    await fixture.place(customer, [{ productId: product.id, quantity: 1 }], "4242424242424242", requestId);
    const error = await failureOf(
      fixture.place(customer, [{ productId: product.id, quantity: 2 }], "4242424242424242", requestId),
    );
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("REQUEST_ID_REUSED");
  });

  it("needs a signed-in caller", async () => {
    const product = await fixture.product(1);
    const error = await failureOf(
      fixture.orders.placeOrder({ requestId: randomUUID(), lines: [{ productId: product.id, quantity: 1 }] }),
    );
    expect(error.code).toBe(Code.Unauthenticated);
  });
});

/**
 * Races on stock, on a database of their own: no other file's recovery settles the orders
 * they hold pending, and the only statements waiting on locks there are theirs.
 */
describe("PlaceOrder when calls race for stock", () => {
  const fixture = useOrderApi({}, { ownDatabase: "place_order_races" });

  it("when many retries of a declined request race, then its reservation is released once: reserved stays what other orders hold", async () => {
    const product = await fixture.product(10);
    // Another customer's order holds 3, pending: the gateway had a processing error on every attempt.
    const other = await createUser(fixture.api);
    const pending = await failureOf(fixture.place(other, [{ productId: product.id, quantity: 3 }], "4000000000000119"));
    expect(pending.code).toBe(Code.Unavailable);
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 10, reserved: 3 });

    const customer = await createUser(fixture.api);
    const requestId = randomUUID();
    const declined = await Promise.all(
      Array.from({ length: 20 }, () =>
        failureOf(fixture.place(customer, [{ productId: product.id, quantity: 2 }], "4000000000000002", requestId)),
      ),
    );
    const answers = declined.map((error) => {
      const info = error.findDetails(ErrorInfoSchema)[0];
      return [Code[error.code], info?.reason, info?.metadata.declineCode, info?.metadata.orderId];
    });
    const orderId = answers[0]?.[3];
    expect(new Set(answers.map((answer) => answer.join(" ")))).toEqual(
      new Set([`FailedPrecondition PAYMENT_DECLINED generic_decline ${orderId}`]),
    );
    expect(await fixture.chargesFor(`order-${orderId}`)).toBe(1);
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 10, reserved: 3 });
  });

  it("when a burst of buyers finds a hot product's last units taken under it, then each refused buyer gets OUT_OF_STOCK with the product, requested and available", async () => {
    const product = await fixture.product(10);
    const buyers = await Promise.all(Array.from({ length: 4 }, () => createUser(fixture.api)));
    // Another order's reservation of 8 units, its statement not yet committed: it holds the
    // product's row, so every buyer's statement decides on 10 available, then waits to reserve.
    const other = new pg.Client({ connectionString: fixture.databaseUrl });
    const observer = new pg.Client({ connectionString: fixture.databaseUrl });
    await Promise.all([other.connect(), observer.connect()]);
    try {
      await other.query("begin");
      await other.query("update product set stock_reserved = stock_reserved + 8 where id = $1", [product.id]);
      const burst = Promise.allSettled(
        Array.from({ length: 20 }, (_, index) =>
          fixture.place(buyers[index % buyers.length] as TestUser, [{ productId: product.id, quantity: 1 }]),
        ),
      );
      await until(async () => (await waitingOnLocks(observer)) >= 4, "buyers' statements to wait on the product");
      // Committed: only 2 units are left for the buyers whose statements thought 10 were.
      await other.query("commit");
      const outcomes = await burst;

      const sold = outcomes.filter((outcome) => outcome.status === "fulfilled");
      expect(sold.map((sale) => sale.value.order?.state)).toEqual([OrderState.FULFILLED, OrderState.FULFILLED]);
      const refusals = outcomes.flatMap((outcome) =>
        outcome.status === "rejected" ? [ConnectError.from(outcome.reason)] : [],
      );
      expect(refusals).toHaveLength(18);
      for (const refusal of refusals) {
        expect([Code[refusal.code], refusal.findDetails(ErrorInfoSchema)[0]?.reason]).toEqual([
          "FailedPrecondition",
          "OUT_OF_STOCK",
        ]);
        expect(refusal.findDetails(PreconditionFailureSchema)[0]?.violations).toEqual([
          expect.objectContaining({ type: "STOCK", subject: product.id, description: "requested 1, available 0" }),
        ]);
      }
      expect(await fixture.stockOf(product.id)).toEqual({ onHand: 8, reserved: 8 });
    } finally {
      await Promise.all([other.end(), observer.end()]);
    }
  });

  /** Statements of this database waiting for a lock now; asked outside the API's pool, which they may fill. */
  async function waitingOnLocks(observer: pg.Client): Promise<number> {
    const { rows } = await observer.query<{ waiting: number }>(
      "select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
    );
    return rows[0]?.waiting ?? 0;
  }
});

describe("orders when the gateway is down", () => {
  const fixture = useOrderApi();

  async function placeWhileGatewayDown(quantity: number) {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const port = Number(new URL(fixture.gateway.baseUrl).port);
    await fixture.gateway.stop();
    const unreachable = await failureOf(fixture.place(customer, [{ productId: product.id, quantity }]));
    expect(unreachable.code).toBe(Code.Unavailable);
    expect(unreachable.findDetails(ErrorInfoSchema)[0]?.reason).toBe("PAYMENT_GATEWAY_UNAVAILABLE");
    expect(unreachable.findDetails(RetryInfoSchema)).toHaveLength(1);
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 5, reserved: quantity });
    // Recovery while the gateway is still down settles nothing.
    expect(await fixture.api.orders.recoverPendingOrders(0)).toBe(0);
    const { orders } = await fixture.orders.listOrders({}, customer.auth);
    const pending = orders[0];
    expect(pending?.state).toBe(OrderState.PENDING_PAYMENT);
    return { customer, product, port, orderId: pending?.id ?? "" };
  }

  it("leaves an order pending that recovery fails once the gateway says it never charged it", async () => {
    const { customer, product, port, orderId } = await placeWhileGatewayDown(2);
    fixture.gateway = await startTestGateway({}, { port });

    expect(await fixture.api.orders.recoverPendingOrders(0)).toBe(1);
    const { order } = await fixture.orders.getOrder({ id: orderId }, customer.auth);
    expect(order).toMatchObject({ state: OrderState.PAYMENT_FAILED, failureCode: "not_charged" });
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 5, reserved: 0 });
  });

  it("finishes a pending order that recovery finds charged (the charge went through, the answer was lost)", async () => {
    const { customer, product, port, orderId } = await placeWhileGatewayDown(3);
    fixture.gateway = await startTestGateway({}, { port });
    await fixture.gateway.client.charge({
      idempotencyKey: `order-${orderId}`,
      amountMinor: 3750n,
      currencyCode: "EUR",
      card: testCard("4242424242424242"),
    });

    expect(await fixture.api.orders.recoverPendingOrders(0)).toBe(1);
    const { order } = await fixture.orders.getOrder({ id: orderId }, customer.auth);
    expect(order?.state).toBe(OrderState.FULFILLED);
    expect(order?.chargeId).toMatch(/^ch_/);
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 2, reserved: 0 });
  });
});

describe("orders when the gateway fails transiently", () => {
  // The first two gateway calls fail with UNAVAILABLE, every later one succeeds.
  const script = [0, 0];
  const fixture = useOrderApi({ failureRate: 0.5, random: () => script.shift() ?? 1 });

  it("retries the charge under the same idempotency key and charges once", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const { order } = await fixture.place(customer, [{ productId: product.id, quantity: 1 }]);
    expect(order?.state).toBe(OrderState.FULFILLED);
    expect(script).toEqual([]); // both failures were met, and retried past
    expect(await fixture.chargesFor(`order-${order?.id}`)).toBe(1);
  });
});

describe("a retry racing recovery", () => {
  // A database of its own: the test locks the gateway's table of charges there.
  const fixture = useOrderApi({}, { ownDatabase: "retry_racing_recovery" });

  it("refunds a charge made by a retry after recovery failed the order, so a failed order keeps no money", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const requestId = randomUUID();
    const port = Number(new URL(fixture.gateway.baseUrl).port);
    await fixture.gateway.stop();
    await failureOf(fixture.place(customer, [{ productId: product.id, quantity: 1 }], "4242424242424242", requestId));
    const { orders } = await fixture.orders.listOrders({}, customer.auth);
    const orderId = orders[0]?.id ?? "";
    fixture.gateway = await startTestGateway({}, { port, databaseUrl: fixture.databaseUrl });

    // The gateway is back, but its table of charges is locked against writes: the retry claims
    // the order, then its charge waits, not yet made, until the lock is let go.
    const charges = new pg.Client({ connectionString: fixture.databaseUrl });
    const observer = new pg.Client({ connectionString: fixture.databaseUrl });
    await Promise.all([charges.connect(), observer.connect()]);
    try {
      await charges.query("begin");
      await charges.query("lock table payment.charge in share mode");
      const retry = fixture.place(customer, [{ productId: product.id, quantity: 1 }], "4242424242424242", requestId);
      await until(async () => {
        const { rows } = await observer.query(
          `select 1 from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and query like 'insert into "payment"."charge"%'`,
        );
        return rows.length > 0;
      }, "the retry's charge to wait for the lock");
      // Meanwhile recovery (on another replica) asks the gateway, finds no charge, and fails the order.
      expect(await fixture.api.orders.recoverPendingOrders(0)).toBe(1);
      await charges.query("commit"); // the retry's charge is made now, after the order failed

      const error = await failureOf(retry);
      expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("PAYMENT_DECLINED");
      const { charge } = await fixture.gateway.client.getCharge({
        lookup: { case: "idempotencyKey", value: `order-${orderId}` },
      });
      expect(charge?.amountRefundedMinor).toBe(charge?.amountMinor);
      expect(charge?.amountMinor).toBe(1250n);
      const { order } = await fixture.orders.getOrder({ id: orderId }, customer.auth);
      expect(order).toMatchObject({ state: OrderState.PAYMENT_FAILED, failureCode: "not_charged" });
      expect(await fixture.stockOf(product.id)).toEqual({ onHand: 5, reserved: 0 });
    } finally {
      await Promise.all([charges.end(), observer.end()]);
    }
  });
});

describe("PlaceOrder input the processor would refuse", () => {
  const fixture = useOrderApi();

  it("refuses bad cards and totals beyond one charge before reserving anything or creating an order", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const free = await createProduct(fixture.inventory, fixture.admin, { initialStock: 5, amountMinor: 0n });
    const pricey = await createProduct(fixture.inventory, fixture.admin, { initialStock: 5, amountMinor: 99_999_999n });
    const attempts = [
      fixture.place(customer, [{ productId: product.id, quantity: 1 }], "4242424242424241"),
      fixture.orders.placeOrder(
        {
          requestId: randomUUID(),
          lines: [{ productId: product.id, quantity: 1 }],
          card: { number: "4242424242424242", expMonth: 1, expYear: 2020, cvc: "123" },
        },
        customer.auth,
      ),
      fixture.place(customer, [{ productId: free.id, quantity: 1 }]),
      fixture.place(customer, [{ productId: pricey.id, quantity: 2 }]),
    ];
    const reasons = (await Promise.all(attempts.map(failureOf))).map((error) => [
      error.code,
      error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.reason,
    ]);
    expect(reasons).toEqual([
      [Code.InvalidArgument, "INVALID_CARD_NUMBER"],
      [Code.InvalidArgument, "CARD_EXPIRED"],
      [Code.InvalidArgument, "TOTAL_OUT_OF_RANGE"],
      [Code.InvalidArgument, "TOTAL_OUT_OF_RANGE"],
    ]);
    expect((await fixture.orders.listOrders({}, customer.auth)).orders).toEqual([]);
    for (const p of [product, free, pricey]) expect((await fixture.stockOf(p.id)).reserved).toBe(0);
  });

  it("refuses an unknown state filter and a forged page token as INVALID_ARGUMENT", async () => {
    const customer = await createUser(fixture.api);
    // Written as JSON text: 1e400 parses to Infinity, which no JavaScript literal can carry here.
    const filters = JSON.stringify(JSON.stringify({ customerId: customer.id, state: "" }));
    const forged = Buffer.from(`{"p":[1e400,"${randomUUID()}"],"f":${filters}}`).toString("base64url");
    const errors = await Promise.all([
      failureOf(fixture.orders.listOrders({ state: 99 as OrderState }, customer.auth)),
      failureOf(fixture.orders.listOrders({ pageToken: forged }, customer.auth)),
    ]);
    for (const error of errors) expect(error.code).toBe(Code.InvalidArgument);
  });
});
