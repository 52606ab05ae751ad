import { randomUUID } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { OrderService, OrderState } from "../../gen/shop/v1/order_service_pb.js";
import { createAccessTokens } from "../../src/auth/access-tokens.js";
import { type RunningTestGateway, startTestGateway, testCard } from "../support/gateway.js";
import { TEST_JWT_SECRET } from "../support/rpc-server.js";
import { createScratchDatabase } from "../support/scratch-database.js";
import { type Deployable, spawnDeployable } from "../support/spawn-deployable.js";

/** Until the condition holds, failing the test with `what` if it never does. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never happened: ${what}`);
}

/**
 * The shop API as real processes sharing one database, as replicas do in production, and
 * killed the way production kills them. Starting processes is slow on a busy machine.
 */
describe("orders across API processes", { timeout: 120_000 }, () => {
  let database: { url: string; drop: () => Promise<void> };
  let db: pg.Pool;
  const processes: Deployable[] = [];
  const tokens = createAccessTokens(TEST_JWT_SECRET);

  beforeAll(async () => {
    database = await createScratchDatabase("multiprocess");
    db = new pg.Pool({ connectionString: database.url, max: 4 });
  });
  afterAll(async () => {
    for (const process of processes) process.child.kill("SIGKILL");
    await db.end();
    await database.drop();
  });

  async function startApi(gateway: RunningTestGateway, env: Record<string, string> = {}) {
    const api = spawnDeployable("api", {
      DATABASE_URL: database.url,
      PORT: "0",
      PAYMENT_GATEWAY_URL: gateway.baseUrl,
      JWT_SECRET: TEST_JWT_SECRET,
      ...env,
    });
    processes.push(api);
    const { port } = await api.waitForLog((line) => line.event === "server.listening");
    return { api, orders: createClient(OrderService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` })) };
  }

  /** Customers straight into the database: hashing 200 passwords would only slow the test. */
  async function customers(count: number) {
    const ids = Array.from({ length: count }, () => randomUUID());
    await db.query(
      `insert into app_user (id, email, email_normalized, display_name, password_hash, role)
       select id, id || '@example.com', id || '@example.com', 'Shopper', 'unusable', 'customer' from unnest($1::uuid[]) as id`,
      [ids],
    );
    return ids.map((id) => ({
      headers: { authorization: `Bearer ${tokens.issue({ userId: id, role: "customer" }).token}` },
    }));
  }

  async function productWithStock(stock: number) {
    const { rows } = await db.query<{ id: string }>(
      `insert into product (id, sku, name, unit_price_minor, currency_code, stock_on_hand)
       values (gen_random_uuid(), $1, 'Hot product', 999, 'EUR', $2) returning id`,
      [`HOT-${randomUUID().slice(0, 8).toUpperCase()}`, stock],
    );
    return rows[0]?.id ?? "";
  }

  async function stockOf(productId: string) {
    const { rows } = await db.query<{ on_hand: number; reserved: number; sold: string }>(
      `select stock_on_hand as on_hand, stock_reserved as reserved,
         (select coalesce(-sum(delta), 0) from stock_movement where product_id = $1 and reason like 'sold:%') as sold
       from product where id = $1`,
      [productId],
    );
    const row = rows[0];
    return { onHand: row?.on_hand, reserved: row?.reserved, sold: Number(row?.sold) };
  }

  it("sells a hot product's 25 units exactly once to 200 concurrent buyers on two processes", async () => {
    const gateway = await startTestGateway();
    const [first, second] = await Promise.all([startApi(gateway), startApi(gateway)]);
    const productId = await productWithStock(25);
    const buyers = await customers(200);

    const outcomes = await Promise.allSettled(
      buyers.map((auth, index) =>
        (index % 2 === 0 ? first : second).orders.placeOrder(
          { requestId: randomUUID(), lines: [{ productId, quantity: 1 }], card: testCard("4242424242424242") },
          auth,
        ),
      ),
    );
    const sold = outcomes.filter((o) => o.status === "fulfilled");
    const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [ConnectError.from(o.reason)] : []));
    expect(sold).toHaveLength(25);
    for (const sale of sold) expect(sale.value.order?.state).toBe(OrderState.FULFILLED);
    expect(new Set(refused.map((e) => `${Code[e.code]} ${e.findDetails(ErrorInfoSchema)[0]?.reason}`))).toEqual(
      new Set(["FailedPrecondition OUT_OF_STOCK"]),
    );
    expect(await stockOf(productId)).toEqual({ onHand: 0, reserved: 0, sold: 25 });
    const orderIds = sold.map((s) => s.value.order?.id);
    const [charges] = await gateway.orm.em.fork().execute<{ count: string }[]>(
      `select count(*) as count from payment.charge where idempotency_key in (${orderIds.map(() => "?").join(",")})`,
      orderIds.map((id) => `order-${id}`),
    );
    expect(Number(charges?.count)).toBe(25);

    for (const { api } of [first, second]) api.child.kill("SIGTERM");
    await gateway.stop();
  });

  async function pendingOrderFor(requestId: string): Promise<string> {
    return eventually("the order is pending payment", async () => {
      const { rows } = await db.query<{ id: string; state: string }>(
        "select id, state from customer_order where request_id = $1",
        [requestId],
      );
      return rows[0]?.state === "pending_payment" ? rows[0].id : undefined;
    });
  }

  /**
   * Places an order on a new API process and kills it with SIGKILL once `ready` says so,
   * while the order is pending payment.
   */
  async function placeAndKill(
    gateway: RunningTestGateway,
    productId: string,
    auth: { headers: Record<string, string> },
    ready: (orderId: string) => Promise<unknown>,
  ) {
    const { api, orders } = await startApi(gateway);
    const requestId = randomUUID();
    const placing = orders
      .placeOrder({ requestId, lines: [{ productId, quantity: 2 }], card: testCard("4242424242424242") }, auth)
      .catch(() => undefined);
    const orderId = await pendingOrderFor(requestId);
    await ready(orderId);
    api.child.kill("SIGKILL");
    await api.exited;
    await placing;
    return orderId;
  }

  async function chargeRecorded(gateway: RunningTestGateway, orderId: string) {
    const [charge] = await gateway.orm.em
      .fork()
      .execute<{ id: string }[]>("select id from payment.charge where idempotency_key = ?", [`order-${orderId}`]);
    return charge;
  }

  async function recoverAndRead(gateway: RunningTestGateway, orderId: string) {
    const { api } = await startApi(gateway, { ORDER_PENDING_TIMEOUT_MS: "0" });
    await api.waitForLog((line) => line.event === "order.recovered" && line.orderId === orderId);
    const { rows } = await db.query<{ state: string; failure_code: string | null }>(
      "select state, failure_code from customer_order where id = $1",
      [orderId],
    );
    api.child.kill("SIGTERM");
    await api.exited;
    return rows[0];
  }

  it("after a SIGKILL between charge and commit, recovery marks the charged order paid and sells its stock", async () => {
    // Charges are made at once but answered only after 3 s (within the shop's 5 s deadline):
    // the process dies in between.
    const slowGateway = await startTestGateway({ latencyMs: 3_000 });
    const productId = await productWithStock(10);
    const [auth] = await customers(1);
    const orderId = await placeAndKill(slowGateway, productId, auth as { headers: Record<string, string> }, (id) =>
      eventually("the gateway records the charge", () => chargeRecorded(slowGateway, id)),
    );
    expect(await stockOf(productId)).toEqual({ onHand: 10, reserved: 2, sold: 0 });

    expect(await recoverAndRead(slowGateway, orderId)).toEqual({ state: "fulfilled", failure_code: null });
    expect(await stockOf(productId)).toEqual({ onHand: 8, reserved: 0, sold: 2 });
    await slowGateway.stop();
  });

  it("after a SIGKILL before the charge completed, recovery releases the stock of the uncharged order", async () => {
    const hangingGateway = await startTestGateway({ hangCharges: true });
    const productId = await productWithStock(10);
    const [auth] = await customers(1);
    const orderId = await placeAndKill(
      hangingGateway,
      productId,
      auth as { headers: Record<string, string> },
      async () => {},
    );
    expect(await stockOf(productId)).toEqual({ onHand: 10, reserved: 2, sold: 0 });

    expect(await recoverAndRead(hangingGateway, orderId)).toEqual({
      state: "payment_failed",
      failure_code: "not_charged",
    });
    expect(await stockOf(productId)).toEqual({ onHand: 10, reserved: 0, sold: 0 });
    await hangingGateway.stop();
  });
});
