import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { OrderState } from "../../gen/shop/v1/order_service_pb.js";
import { startApi } from "../../src/api/start-api.js";
import { loadConfig } from "../../src/config/config.js";
import { failureOf } from "../support/failures.js";
import { useOrderApi } from "../support/order-fixture.js";
import { testLogger } from "../support/silent-logger.js";
import { temporaryDirectory } from "../support/temp-dirs.js";
import { createUser, type TestUser } from "../support/users.js";

/** Long enough that an order touched just before the API starts is still fresh when its loop runs. */
const PENDING_TIMEOUT_MS = 10_000;

/**
 * The recovery loop of the shop API as it starts: orders older than ORDER_PENDING_TIMEOUT_MS
 * are settled from the gateway, younger ones are left to the call still working on them. Ages
 * are made by setting times in SQL, not by waiting.
 */
describe("the recovery loop, as the shop API starts it", () => {
  const fixture = useOrderApi({}, { ownDatabase: "recovery_loop" });
  const sql = (text: string, parameters: unknown[]) => fixture.api.orm.em.fork().execute(text, parameters);

  /** Runs the API's loop once, as it does at start-up, and waits for that pass to finish. */
  async function runRecoveryAtStartUp() {
    const config = loadConfig({
      HOST: "127.0.0.1",
      PORT: "0",
      DATA_DIR: temporaryDirectory("recovery-loop"),
      PAYMENT_GATEWAY_URL: fixture.gateway.baseUrl,
      ORDER_PENDING_TIMEOUT_MS: String(PENDING_TIMEOUT_MS),
    });
    const api = await startApi(config, fixture.databaseUrl, testLogger);
    await api.stop(); // waits for the pass that started with it
  }

  /** An order left pending: the gateway had a processing error on every attempt. */
  async function pendingOrder(customer: TestUser, productId: string): Promise<string> {
    const error = await failureOf(fixture.place(customer, [{ productId, quantity: 1 }], "4000000000000119"));
    expect(error.code).toBe(Code.Unavailable);
    const { orders } = await fixture.orders.listOrders({ pageSize: 1 }, customer.auth);
    expect(orders[0]?.state).toBe(OrderState.PENDING_PAYMENT);
    return orders[0]?.id ?? "";
  }

  it("when an order has been pending for longer than the timeout, then it is settled; when for less, then it is left alone", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const aged = await pendingOrder(customer, product.id);
    const fresh = await pendingOrder(customer, product.id);
    await sql("update customer_order set updated_at = now() - interval '1 minute' where id = ?", [aged]);
    await sql("update customer_order set updated_at = now() where id = ?", [fresh]);

    await runRecoveryAtStartUp();

    const stateOf = async (id: string) => (await fixture.orders.getOrder({ id }, customer.auth)).order;
    expect(await stateOf(aged)).toMatchObject({ state: OrderState.PAYMENT_FAILED, failureCode: "not_charged" });
    expect(await stateOf(fresh)).toMatchObject({ state: OrderState.PENDING_PAYMENT, failureCode: "" });
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 5, reserved: 1 });
  });

  it("when a cancellation was requested longer ago than the timeout, then it is finished; when more recently, then it is left to the call making it", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const place = async () => (await fixture.place(customer, [{ productId: product.id, quantity: 1 }])).order;
    const interrupted = await place();
    const inProgress = await place();
    // Both requests recorded, as CancelOrder does before it refunds; one process died long ago.
    await sql("update customer_order set cancel_requested_at = now() - interval '1 minute' where id = ?", [
      interrupted?.id,
    ]);
    await sql("update customer_order set cancel_requested_at = now() where id = ?", [inProgress?.id]);

    await runRecoveryAtStartUp();

    const refunded = async (chargeId: string) =>
      (await fixture.gateway.client.getCharge({ lookup: { case: "chargeId", value: chargeId } })).charge
        ?.amountRefundedMinor;
    const stateOf = async (id: string) => (await fixture.orders.getOrder({ id }, customer.auth)).order?.state;
    expect(await stateOf(interrupted?.id ?? "")).toBe(OrderState.CANCELLED);
    expect(await refunded(interrupted?.chargeId ?? "")).toBe(1250n);
    expect(await stateOf(inProgress?.id ?? "")).toBe(OrderState.FULFILLED);
    expect(await refunded(inProgress?.chargeId ?? "")).toBe(0n);
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 4, reserved: 0 });
  });
});
