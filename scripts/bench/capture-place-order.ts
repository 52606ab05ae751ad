import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { OrderService } from "../../gen/shop/v1/order_service_pb.js";
import { testCard } from "../../test/support/gateway.js";
import { startPgWireCounter } from "../../test/support/pg-wire-counter.js";
import type { BenchAccount } from "./bench-accounts.js";
import { startBenchProcess } from "./processes.js";

/** One statement as PostgreSQL received it: a simple query's text, or a bound statement and its parameters. */
export interface CapturedStatement {
  sql: string;
  /** Empty for a simple query. */
  parameters: (string | null)[];
}

export interface CapturedPlaceOrder {
  /** What the order was placed with and what the servers made of it: the values that differ per order. */
  requestId: string;
  orderId: string;
  chargeId: string;
  productId: string;
  /** Every statement of the call, in the order the server received them, round trip by round trip. */
  statements: CapturedStatement[];
  roundTrips: number;
}

/**
 * Starts an API and a payment gateway of their own whose database connections pass through
 * the wire counter, places an order to warm them up (first calls prepare what later ones
 * reuse), then records a second order: everything PostgreSQL receives during that call, from
 * both, in the order it arrived.
 */
export async function capturePlaceOrder(options: {
  databaseUrl: string;
  jwtSecret: string;
  customer: BenchAccount;
  productId: string;
}): Promise<CapturedPlaceOrder> {
  const counter = await startPgWireCounter(options.databaseUrl);
  const gateway = await startBenchProcess("payment-gateway", "PAYMENT_GATEWAY_PORT", { DATABASE_URL: counter.url });
  const api = await startBenchProcess("api", "PORT", {
    DATABASE_URL: counter.url,
    PAYMENT_GATEWAY_URL: gateway.baseUrl,
    JWT_SECRET: options.jwtSecret,
  });
  try {
    const orders = createClient(OrderService, createGrpcTransport({ baseUrl: api.baseUrl }));
    const place = (requestId: string) =>
      orders.placeOrder(
        { requestId, lines: [{ productId: options.productId, quantity: 1 }], card: testCard("4242424242424242") },
        options.customer.auth,
      );
    await place(`capture-warm-up-${randomUUID()}`);
    counter.reset();
    const requestId = `capture-${randomUUID()}`;
    const { order } = await place(requestId);
    const { events, total } = counter.snapshot();
    if (!order) throw new Error("PlaceOrder answered without an order");
    return {
      requestId,
      orderId: order.id,
      chargeId: order.chargeId,
      productId: options.productId,
      roundTrips: total.roundTrips,
      statements: events.flatMap((event): CapturedStatement[] => {
        if (event.kind === "query") return [{ sql: event.sql ?? "", parameters: [] }];
        if (event.kind === "bind") return [{ sql: event.sql ?? "", parameters: event.parameters ?? [] }];
        return [];
      }),
    };
  } finally {
    await api.stop();
    await gateway.stop();
    await counter.stop();
  }
}
