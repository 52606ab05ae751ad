import { randomBytes, randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderService } from "../../gen/shop/v1/order_service_pb.js";
import { testCard } from "../support/gateway.js";
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "../support/otlp-receiver.js";
import { createScratchDatabase } from "../support/scratch-database.js";
import { isAbout, type SmtpCatcher, startSmtpCatcher } from "../support/smtp-catcher.js";
import { type DeployableName, type SystemProcesses, startSystemProcesses } from "../support/system-processes.js";

const SERVER = 2;
const CLIENT = 3;
const CONSUMER = 5;

describe("one order, one trace, across the three deployables", () => {
  let database: { url: string; drop: () => Promise<void> };
  let smtp: SmtpCatcher;
  let receiver: OtlpReceiver;
  let system: SystemProcesses;
  beforeAll(async () => {
    database = await createScratchDatabase("traces");
    smtp = await startSmtpCatcher();
    receiver = await startOtlpReceiver();
    system = await startSystemProcesses({
      databaseUrl: database.url,
      smtpUrl: smtp.url,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" },
      envOf: {
        // The default encoding, decoded from the wire format.
        "payment-gateway": { OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" },
        // Metrics pushed too, besides /metrics.
        "shop-api": { OTEL_METRICS_EXPORTER: "otlp", OTEL_METRIC_EXPORT_INTERVAL: "1000" },
      },
    });
  });
  afterAll(async () => {
    await system?.stop();
    await receiver?.stop();
    await smtp?.stop();
    await database?.drop();
  });

  it("when a caller sends traceparent with PlaceOrder, then the API, its queries, the gateway and the email job are that trace", async () => {
    const caller = { traceId: randomBytes(16).toString("hex"), spanId: randomBytes(8).toString("hex") };
    const correlationId = `trace-test-${randomUUID()}`;
    const product = await system.product();
    const customer = await system.customer();
    const { order } = await createClient(OrderService, createGrpcTransport({ baseUrl: system.apiUrl })).placeOrder(
      { requestId: randomUUID(), lines: [{ productId: product.id, quantity: 1 }], card: testCard("4242424242424242") },
      {
        headers: {
          ...customer.headers,
          traceparent: `00-${caller.traceId}-${caller.spanId}-01`,
          "x-request-id": correlationId,
        },
      },
    );
    await smtp.waitFor((mail) => isAbout(mail, order?.id));
    const emailSent = await system.processes["email-worker"].waitForLog(
      (line) => line.event === "email.sent" && line.orderId === order?.id,
    );
    // Stopped, each sends what it still holds.
    expect(await system.stop()).toEqual({ "shop-api": 0, "email-worker": 0, "payment-gateway": 0 });

    const trace = receiver.spans.filter((span) => span.traceId === caller.traceId);
    const one = (service: DeployableName, name: string) => {
      const found = trace.filter((span) => span.service === service && span.name === name);
      expect(found, `${service}: ${name} in ${listed(trace)}`).toHaveLength(1);
      return found[0] as ReceivedSpan;
    };
    const childrenOf = (parent: ReceivedSpan) => trace.filter((span) => span.parentSpanId === parent.spanId);
    const queriesUnder = (parent: ReceivedSpan) =>
      childrenOf(parent).filter((span) => span.attributes["db.system.name"] === "postgresql");

    // The API: a server span under the caller's span, by OpenTelemetry's RPC conventions.
    const placeOrder = one("shop-api", "shop.v1.OrderService/PlaceOrder");
    expect(placeOrder).toMatchObject({
      parentSpanId: caller.spanId,
      kind: SERVER,
      attributes: {
        "rpc.system": "grpc",
        "rpc.service": "shop.v1.OrderService",
        "rpc.method": "PlaceOrder",
        "rpc.grpc.status_code": 0,
      },
    });
    // Its statements: the caller's role, the placement, the settlement.
    expect(queriesUnder(placeOrder).length).toBeGreaterThanOrEqual(3);

    // The charge: a client span in the API, the server span in the gateway under it, and its query.
    const charge = one("shop-api", "payment.v1.MockPaymentGatewayService/Charge");
    expect(charge).toMatchObject({ parentSpanId: placeOrder.spanId, kind: CLIENT });
    const gatewayCharge = one("payment-gateway", "payment.v1.MockPaymentGatewayService/Charge");
    expect(gatewayCharge).toMatchObject({
      parentSpanId: charge.spanId,
      kind: SERVER,
      encoding: "protobuf",
      attributes: { "rpc.grpc.status_code": 0 },
    });
    expect(queriesUnder(gatewayCharge).length).toBeGreaterThanOrEqual(1);

    // The confirmation email, sent later by the worker: its job's span follows from PlaceOrder.
    const emailJob = one("email-worker", "process send_order_email");
    expect(emailJob).toMatchObject({
      parentSpanId: placeOrder.spanId,
      kind: CONSUMER,
      attributes: { "shop.order.id": order?.id, "email.kind": "confirmation" },
    });
    expect(queriesUnder(emailJob).length).toBeGreaterThanOrEqual(1);

    // And the worker's log line of that email carries the caller's x-request-id and the trace.
    expect(emailSent).toMatchObject({ correlationId, traceId: caller.traceId, spanId: emailJob.spanId });

    // With OTEL_METRICS_EXPORTER=otlp, the API pushed its metrics to the same receiver.
    expect([...(receiver.metrics.get("shop-api") ?? [])]).toEqual(
      expect.arrayContaining(["rpc.server.duration", "rpc.client.duration", "shop.orders.placed", "process.cpu.time"]),
    );
  });
});

function listed(spans: ReceivedSpan[]): string {
  return spans.map((span) => `${span.service} ${span.name}`).join(", ");
}
