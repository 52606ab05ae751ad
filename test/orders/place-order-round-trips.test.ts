import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { OrderService, OrderState } from "../../gen/shop/v1/order_service_pb.js";
import { type RunningTestGateway, startTestGateway, testCard } from "../support/gateway.js";
import { type PgWireCounter, startPgWireCounter } from "../support/pg-wire-counter.js";
import { createProduct } from "../support/products.js";
import { type ListeningApi, startApiServer } from "../support/rpc-server.js";
import { createUser, type TestUser } from "../support/users.js";

/**
 * What one PlaceOrder costs the database, counted from what PostgreSQL receives: the API and
 * the gateway both talk to it through a wire-protocol counter.
 */
describe("PlaceOrder, as the database sees it", () => {
  let counter: PgWireCounter;
  let gateway: RunningTestGateway;
  let api: ListeningApi;
  let customer: TestUser;
  let productId: string;
  let orders: ReturnType<typeof createClient<typeof OrderService>>;

  beforeAll(async () => {
    counter = await startPgWireCounter(inject("databaseUrl"));
    gateway = await startTestGateway({}, { databaseUrl: counter.url });
    api = await startApiServer({ gatewayUrl: gateway.baseUrl, databaseUrl: counter.url });
    const transport = createGrpcTransport({ baseUrl: api.baseUrl });
    orders = createClient(OrderService, transport);
    customer = await createUser(api);
    const admin = await createUser(api, "admin");
    productId = (await createProduct(createClient(InventoryService, transport), admin, { initialStock: 100 })).id;
  });
  afterAll(async () => {
    await api?.stop();
    await gateway?.stop();
    await counter?.stop();
  });

  const place = () =>
    orders.placeOrder(
      { requestId: randomUUID(), lines: [{ productId, quantity: 1 }], card: testCard("4242424242424242") },
      customer.auth,
    );

  it("costs at most 6 round trips for a single-line order: no re-reads, no claim, one settlement", async () => {
    await place(); // connections opened, statements prepared
    counter.reset();
    const { order } = await place();
    expect(order?.state).toBe(OrderState.FULFILLED);

    const { total, events } = counter.snapshot();
    const statements = events.filter((event) => event.kind === "bind" || event.kind === "query");
    expect(total.roundTrips, listed(statements)).toBeLessThanOrEqual(6);
    // The caller's role; the order placed with its stock reserved; the charge; the settlement.
    expect(statements.map((event) => kindOf(event.sql ?? ""))).toEqual([
      "authenticate",
      "place and reserve",
      "charge",
      "settle",
    ]);
  });

  it("sends every statement with bound parameters, each prepared once per connection and reused", async () => {
    counter.reset();
    for (let order = 0; order < 5; order++) await place();
    const { total, events } = counter.snapshot();
    // No value is inlined in SQL text: nothing goes as a simple query.
    expect(total.queries).toBe(0);
    const binds = events.filter((event) => event.kind === "bind");
    expect(binds.every((event) => event.statementName !== "")).toBe(true);
    const parsed = events
      .filter((event) => event.kind === "parse")
      .map((event) => `${event.connectionId}:${event.statementName}`);
    expect(new Set(parsed).size).toBe(parsed.length);
    expect(binds.length).toBeGreaterThan(2 * parsed.length);
  });
});

function kindOf(sql: string): string {
  if (/from "app_user"/.test(sql)) return "authenticate";
  if (/insert into "customer_order"/.test(sql)) return "place and reserve";
  if (/insert into "payment"\."charge"/.test(sql)) return "charge";
  if (/update "customer_order" set "state"/.test(sql)) return "settle";
  return sql.slice(0, 80);
}

function listed(statements: { sql?: string }[]): string {
  return `statements:\n${statements.map((event) => `  ${(event.sql ?? "").slice(0, 100)}`).join("\n")}`;
}
