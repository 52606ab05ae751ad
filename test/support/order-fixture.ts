import { randomUUID } from "node:crypto";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, inject } from "vitest";
import { InventoryService, type Product } from "../../gen/shop/v1/inventory_service_pb.js";
import { OrderService } from "../../gen/shop/v1/order_service_pb.js";
import type { FaultInjection } from "../../src/payment-gateway/faults.js";
import { type RunningTestGateway, startTestGateway, testCard } from "./gateway.js";
import { createProduct } from "./products.js";
import { type ListeningApi, startApiServer } from "./rpc-server.js";
import { createScratchDatabase } from "./scratch-database.js";
import { createUser, type TestUser } from "./users.js";

export interface OrderFixture {
  /** The database the API and the gateway use. */
  databaseUrl: string;
  gateway: RunningTestGateway;
  api: ListeningApi;
  orders: Client<typeof OrderService>;
  inventory: Client<typeof InventoryService>;
  admin: TestUser;
  /** A product with this much stock, priced 12.50 EUR. */
  product(stock: number): Promise<Product>;
  /** Stock levels as the database has them now. */
  stockOf(productId: string): Promise<{ onHand: number; reserved: number }>;
  place(
    customer: TestUser,
    lines: { productId: string; quantity: number }[],
    cardNumber?: string,
    requestId?: string,
  ): ReturnType<Client<typeof OrderService>["placeOrder"]>;
  /** Charges the gateway made under a key. */
  chargesFor(idempotencyKey: string): Promise<number>;
  /**
   * The emails queued for an order, by kind ("order-confirmation", ...), sorted: as order
   * events not yet moved to the job queue, or as jobs.
   */
  emailJobsFor(orderId: string): Promise<string[]>;
}

/**
 * For a describe block: the real gateway and the real API calling it over gRPC, on the run's
 * database or, with `ownDatabase`, on a database of the block's own. Email workers need
 * one: on the shared database, another file's worker would take their jobs.
 */
export function useOrderApi(
  faults: Partial<FaultInjection> = {},
  options: { ownDatabase?: string } = {},
): OrderFixture {
  const fixture = {} as OrderFixture;
  let dropDatabase = async () => {};
  beforeAll(async () => {
    fixture.databaseUrl = inject("databaseUrl");
    if (options.ownDatabase) {
      const database = await createScratchDatabase(options.ownDatabase);
      fixture.databaseUrl = database.url;
      dropDatabase = database.drop;
    }
    fixture.gateway = await startTestGateway(faults, { databaseUrl: fixture.databaseUrl });
    fixture.api = await startApiServer({ gatewayUrl: fixture.gateway.baseUrl, databaseUrl: fixture.databaseUrl });
    const transport = createGrpcTransport({ baseUrl: fixture.api.baseUrl });
    fixture.orders = createClient(OrderService, transport);
    fixture.inventory = createClient(InventoryService, transport);
    fixture.admin = await createUser(fixture.api, "admin");
    fixture.product = (stock) =>
      createProduct(fixture.inventory, fixture.admin, {
        initialStock: stock,
        amountMinor: 1250n,
        name: "Order test product",
      });
    fixture.stockOf = async (productId) => {
      const [row] = await fixture.api.orm.em
        .fork()
        .execute<{ stock_on_hand: number; stock_reserved: number }[]>(
          "select stock_on_hand, stock_reserved from product where id = ?",
          [productId],
        );
      return { onHand: row?.stock_on_hand ?? Number.NaN, reserved: row?.stock_reserved ?? Number.NaN };
    };
    fixture.place = (customer, lines, cardNumber = "4242424242424242", requestId = randomUUID()) =>
      fixture.orders.placeOrder({ requestId, lines, card: testCard(cardNumber) }, customer.auth);
    fixture.chargesFor = async (idempotencyKey) => {
      const [row] = await fixture.gateway.orm.em
        .fork()
        .execute<{ count: string }[]>("select count(*) as count from payment.charge where idempotency_key = ?", [
          idempotencyKey,
        ]);
      return Number(row?.count);
    };
  });
  fixture.emailJobsFor = async (orderId) => {
    const rows = await fixture.api.orm.em.fork().execute<{ kind: string }[]>(
      `select case kind when 'paid' then 'order-confirmation' else 'order-cancellation' end as kind
         from order_event where order_id = ?
       union all
       select split_part(key, ':', 1) from graphile_worker.jobs where key in (?, ?) order by kind`,
      [orderId, `order-confirmation:${orderId}`, `order-cancellation:${orderId}`],
    );
    return rows.map((row) => row.kind);
  };
  afterAll(async () => {
    await fixture.api.stop();
    await fixture.gateway.stop();
    await dropDatabase();
  });
  return fixture;
}
