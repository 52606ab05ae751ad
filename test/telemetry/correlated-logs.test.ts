import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { OrderService } from "../../gen/shop/v1/order_service_pb.js";
import { captureLogs } from "../support/captured-logs.js";
import { type RunningTestGateway, startTestGateway, testCard } from "../support/gateway.js";
import { createProduct } from "../support/products.js";
import { type ListeningApi, startApiServer } from "../support/rpc-server.js";
import { createScratchDatabase } from "../support/scratch-database.js";
import { createUser } from "../support/users.js";

describe("the logs of one call, in both services", () => {
  const apiLogs = captureLogs();
  const gatewayLogs = captureLogs();
  let gateway: RunningTestGateway;
  let api: ListeningApi;
  beforeAll(async () => {
    gateway = await startTestGateway({}, { logger: gatewayLogs.logger });
    api = await startApiServer({ gatewayUrl: gateway.baseUrl, logger: apiLogs.logger });
  });
  afterAll(async () => {
    await api.stop();
    await gateway.stop();
  });

  it("when an order is placed, then the use case's lines and the gateway's carry the caller's x-request-id", async () => {
    const transport = createGrpcTransport({ baseUrl: api.baseUrl });
    const admin = await createUser(api, "admin");
    const customer = await createUser(api);
    const product = await createProduct(createClient(InventoryService, transport), admin);
    const { order } = await createClient(OrderService, transport).placeOrder(
      {
        requestId: "idempotency-key-1",
        lines: [{ productId: product.id, quantity: 1 }],
        card: testCard("4242424242424242"),
      },
      { headers: { ...customer.auth.headers, "x-request-id": "checkout-7f3a" } },
    );

    const ofOrder = (event: string) => apiLogs.lines.find((line) => line.event === event && line.orderId === order?.id);
    for (const event of ["order.placed", "order.paid", "order.fulfilled"]) {
      expect(ofOrder(event), event).toMatchObject({ correlationId: "checkout-7f3a" });
    }
    // The shop passes it on: the gateway's access log line of the charge has it too.
    expect(
      gatewayLogs.lines.find(
        (line) => line.event === "rpc.completed" && line.procedure === "payment.v1.MockPaymentGatewayService/Charge",
      ),
    ).toMatchObject({ correlationId: "checkout-7f3a", code: "ok" });
    // The idempotency key is PlaceOrder's request_id, and only that.
    expect(JSON.stringify(apiLogs.lines)).not.toContain('"requestId":"checkout-7f3a"');
  });
});

describe("the gateway's retries", () => {
  const apiLogs = captureLogs();
  let gateway: RunningTestGateway;
  let api: ListeningApi;
  beforeAll(async () => {
    gateway = await startTestGateway({ failureRate: 1 });
    api = await startApiServer({ gatewayUrl: gateway.baseUrl, logger: apiLogs.logger });
  });
  afterAll(async () => {
    await api.stop();
    await gateway.stop();
  });

  it("when the gateway keeps failing, then each retry's line and the pending order's carry the call's id", async () => {
    const transport = createGrpcTransport({ baseUrl: api.baseUrl });
    const admin = await createUser(api, "admin");
    const customer = await createUser(api);
    const product = await createProduct(createClient(InventoryService, transport), admin);
    await createClient(OrderService, transport)
      .placeOrder(
        {
          requestId: "idempotency-key-2",
          lines: [{ productId: product.id, quantity: 1 }],
          card: testCard("4242424242424242"),
        },
        { headers: { ...customer.auth.headers, "x-request-id": "checkout-retrying" } },
      )
      .catch(() => {});

    const retries = apiLogs.lines.filter((line) => line.event === "payment.gateway_retry");
    expect(retries.length).toBeGreaterThan(0);
    for (const retry of retries) expect(retry).toMatchObject({ correlationId: "checkout-retrying" });
    expect(apiLogs.lines.find((line) => line.event === "order.payment_pending")).toMatchObject({
      correlationId: "checkout-retrying",
      level: "warn",
    });
  });
});

describe("the origin an order event keeps", () => {
  let database: { url: string; drop: () => Promise<void> };
  let gateway: RunningTestGateway;
  let api: ListeningApi;
  beforeAll(async () => {
    // No worker on this database: the events stay in the outbox to be read.
    database = await createScratchDatabase("event_origin");
    gateway = await startTestGateway({}, { databaseUrl: database.url });
    api = await startApiServer({ gatewayUrl: gateway.baseUrl, databaseUrl: database.url });
  });
  afterAll(async () => {
    await api.stop();
    await gateway.stop();
    await database.drop();
  });

  it("when orders follow one another, then each order's event carries its own call's id, not the first's", async () => {
    const transport = createGrpcTransport({ baseUrl: api.baseUrl });
    const customer = await createUser(api);
    const product = await createProduct(createClient(InventoryService, transport), await createUser(api, "admin"));
    const placed: Record<string, string> = {};
    for (const correlationId of ["checkout-one", "checkout-two", "checkout-three"]) {
      const { order } = await createClient(OrderService, transport).placeOrder(
        {
          requestId: correlationId,
          lines: [{ productId: product.id, quantity: 1 }],
          card: testCard("4242424242424242"),
        },
        { headers: { ...customer.auth.headers, "x-request-id": correlationId } },
      );
      placed[order?.id ?? ""] = correlationId;
    }
    const events = await api.orm.em
      .fork()
      .execute<{ order_id: string; correlation_id: string }[]>(
        "select order_id, correlation_id from order_event where kind = 'paid'",
      );
    expect(Object.fromEntries(events.map((event) => [event.order_id, event.correlation_id]))).toEqual(placed);
  });
});
