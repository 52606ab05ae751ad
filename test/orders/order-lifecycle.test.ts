import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { OrderState } from "../../gen/shop/v1/order_service_pb.js";
import { failureOf } from "../support/failures.js";
import { useOrderApi } from "../support/order-fixture.js";
import { createUser } from "../support/users.js";

describe("reading, listing and cancelling orders", () => {
  const fixture = useOrderApi();

  it("shows customers their own orders only: another customer's is NOT_FOUND; admins see any", async () => {
    const owner = await createUser(fixture.api);
    const stranger = await createUser(fixture.api);
    const product = await fixture.product(5);
    const { order } = await fixture.place(owner, [{ productId: product.id, quantity: 1 }]);
    const id = order?.id ?? "";
    expect((await fixture.orders.getOrder({ id }, owner.auth)).order?.id).toBe(id);
    expect((await fixture.orders.getOrder({ id }, fixture.admin.auth)).order?.id).toBe(id);
    const hidden = await failureOf(fixture.orders.getOrder({ id }, stranger.auth));
    expect(hidden.code).toBe(Code.NotFound);
    const missing = await failureOf(fixture.orders.getOrder({ id: randomUUID() }, owner.auth));
    expect(hidden.rawMessage.replace(id, "")).toBe(missing.rawMessage.replace(/"[^"]+"/, '""'));
  });

  it("lists a customer's orders newest first, a page at a time; admins filter by customer and state", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(20);
    const placed: string[] = [];
    for (let i = 0; i < 5; i++) {
      placed.push((await fixture.place(customer, [{ productId: product.id, quantity: 1 }])).order?.id ?? "");
    }
    await failureOf(fixture.place(customer, [{ productId: product.id, quantity: 1 }], "4000000000000002"));

    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await fixture.orders.listOrders(
        { pageSize: 2, pageToken, state: OrderState.FULFILLED },
        customer.auth,
      );
      seen.push(...page.orders.map((o) => o.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual([...placed].reverse());

    const all = await fixture.orders.listOrders({ customerId: customer.id }, fixture.admin.auth);
    expect(all.orders).toHaveLength(6);
    expect(all.orders[0]?.state).toBe(OrderState.PAYMENT_FAILED);

    const other = await createUser(fixture.api);
    const denied = await failureOf(fixture.orders.listOrders({ customerId: customer.id }, other.auth));
    expect(denied.code).toBe(Code.PermissionDenied);
  });

  it("cancels a fulfilled order: refund recorded at the gateway, stock back; a second cancel is refused", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const { order } = await fixture.place(customer, [{ productId: product.id, quantity: 2 }]);
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 3, reserved: 0 });

    const { order: cancelled } = await fixture.orders.cancelOrder(
      { id: order?.id ?? "", reason: "changed my mind" },
      customer.auth,
    );
    expect(cancelled).toMatchObject({ state: OrderState.CANCELLED });
    expect(cancelled?.refundId).toMatch(/^re_/);
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 5, reserved: 0 });
    const { charge } = await fixture.gateway.client.getCharge({
      lookup: { case: "chargeId", value: order?.chargeId ?? "" },
    });
    expect(charge?.amountRefundedMinor).toBe(2500n);

    expect(await fixture.emailJobsFor(order?.id ?? "")).toEqual(["order-cancellation", "order-confirmation"]);

    const again = await failureOf(fixture.orders.cancelOrder({ id: order?.id ?? "" }, customer.auth));
    expect(again.code).toBe(Code.FailedPrecondition);
    expect(again.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INVALID_ORDER_STATE");
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 5, reserved: 0 });
  });

  it("when a customer cancels another customer's order, then it is NOT_FOUND: no refund, no restock, still fulfilled", async () => {
    const owner = await createUser(fixture.api);
    const stranger = await createUser(fixture.api);
    const product = await fixture.product(5);
    const { order } = await fixture.place(owner, [{ productId: product.id, quantity: 2 }]);
    const id = order?.id ?? "";

    const error = await failureOf(fixture.orders.cancelOrder({ id, reason: "not mine" }, stranger.auth));
    expect(error.code).toBe(Code.NotFound);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("NOT_FOUND");
    const { charge } = await fixture.gateway.client.getCharge({
      lookup: { case: "chargeId", value: order?.chargeId ?? "" },
    });
    expect(charge?.amountRefundedMinor).toBe(0n);
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 3, reserved: 0 });
    expect((await fixture.orders.getOrder({ id }, owner.auth)).order).toMatchObject({
      state: OrderState.FULFILLED,
      refundId: "",
    });
    expect(await fixture.emailJobsFor(id)).toEqual(["order-confirmation"]);
  });

  it("finishes a cancellation that a crash interrupted after the refund, refunding once", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const { order } = await fixture.place(customer, [{ productId: product.id, quantity: 2 }]);
    const id = order?.id ?? "";
    // The process recorded the request, the refund went through, then the process died.
    await fixture.api.orm.em.fork().execute("update customer_order set cancel_requested_at = now() where id = ?", [id]);
    const { refund } = await fixture.gateway.client.refund({
      chargeId: order?.chargeId ?? "",
      amountMinor: 0n,
      idempotencyKey: `order-${id}-refund`,
    });
    expect((await fixture.orders.getOrder({ id }, customer.auth)).order?.state).toBe(OrderState.FULFILLED);

    expect(await fixture.api.orders.recoverPendingOrders(0)).toBeGreaterThanOrEqual(1);
    const { order: cancelled } = await fixture.orders.getOrder({ id }, customer.auth);
    expect(cancelled).toMatchObject({ state: OrderState.CANCELLED, refundId: refund?.id });
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 5, reserved: 0 });
    const { charge } = await fixture.gateway.client.getCharge({
      lookup: { case: "chargeId", value: order?.chargeId ?? "" },
    });
    expect(charge?.amountRefundedMinor).toBe(2500n);
  });

  it("refunds and restocks once when cancellations race", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const { order } = await fixture.place(customer, [{ productId: product.id, quantity: 1 }]);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 5 }, () => fixture.orders.cancelOrder({ id: order?.id ?? "" }, customer.auth)),
    );
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 5, reserved: 0 });
    const { charge } = await fixture.gateway.client.getCharge({
      lookup: { case: "chargeId", value: order?.chargeId ?? "" },
    });
    expect(charge?.amountRefundedMinor).toBe(1250n);
  });

  it("refuses to cancel an order whose payment failed", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const declined = await failureOf(
      fixture.place(customer, [{ productId: product.id, quantity: 1 }], "4000000000000002"),
    );
    const orderId = declined.findDetails(ErrorInfoSchema)[0]?.metadata.orderId ?? "";
    const error = await failureOf(fixture.orders.cancelOrder({ id: orderId }, customer.auth));
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INVALID_ORDER_STATE");
  });
});
