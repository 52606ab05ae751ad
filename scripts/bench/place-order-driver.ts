/**
 * A PlaceOrder load generator in a process of its own (every call needs a unique request_id,
 * which h2load cannot make). Given a PlaceOrderLoad as JSON in argv[2], it places one-line
 * orders of one unit, each of a product drawn at random from `productIds`, and prints a
 * PlaceOrderOutcome as JSON.
 *
 * Closed loop (`ratePerS` unset): `inFlight` callers, each placing its next order when the
 * last one answers. Open loop (`ratePerS` set): orders start on a fixed schedule whatever the
 * answers, and each latency counts from when its order was due, so a stall is not hidden by
 * the calls it delays (coordinated omission).
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { OrderService } from "../../gen/shop/v1/order_service_pb.js";
import { testCard } from "../../test/support/gateway.js";
import { createLatencyHistogram } from "./latency-histogram.js";

export interface PlaceOrderLoad {
  baseUrl: string;
  authorization: string;
  productIds: string[];
  inFlight: number;
  /** HTTP/2 connections the calls are spread over. */
  connections: number;
  durationS: number;
  warmUpS: number;
  ratePerS?: number;
  /** Unique to this run: request ids are this prefix and a counter. */
  requestIdPrefix: string;
}

export interface PlaceOrderOutcome {
  /** Calls answered during the measured period, whatever their status. */
  completed: number;
  /** Every call answered, warm-up included: what the database worked for while the driver ran. */
  answered: number;
  /** gRPC status name ("OK", "UNAVAILABLE", ...) to count, measured period only. */
  byStatus: Record<string, number>;
  histogram: Record<string, number>;
  measuredS: number;
}

/** Far more than any rate here needs; it bounds memory if the server stalls in an open-loop run. */
const MAX_OPEN_LOOP_IN_FLIGHT = 1_024;

const load = JSON.parse(process.argv[2] ?? "{}") as PlaceOrderLoad;
const clients = Array.from({ length: load.connections }, () =>
  createClient(OrderService, createGrpcTransport({ baseUrl: load.baseUrl })),
);
const card = testCard("4242424242424242");
const histogram = createLatencyHistogram();
const byStatus: Record<string, number> = {};
const start = performance.now();
const measureFrom = start + load.warmUpS * 1_000;
const end = measureFrom + load.durationS * 1_000;
let placed = 0;
let answered = 0;

async function placeOne(dueAt: number): Promise<void> {
  const n = placed++;
  const client = clients[n % clients.length] as (typeof clients)[number];
  const productId = load.productIds[Math.floor(Math.random() * load.productIds.length)] as string;
  let status: string;
  try {
    await client.placeOrder(
      { requestId: `${load.requestIdPrefix}-${n}`, lines: [{ productId, quantity: 1 }], card },
      { headers: { authorization: load.authorization } },
    );
    status = "OK";
  } catch (error) {
    status = Code[ConnectError.from(error).code] ?? "UNKNOWN";
  }
  const answeredAt = performance.now();
  answered++;
  if (dueAt >= measureFrom && answeredAt <= end) {
    histogram.record((answeredAt - dueAt) * 1_000);
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  }
}

async function closedLoop(): Promise<void> {
  await Promise.all(
    Array.from({ length: load.inFlight }, async () => {
      while (performance.now() < end) await placeOne(performance.now());
    }),
  );
}

async function openLoop(ratePerS: number): Promise<void> {
  const intervalMs = 1_000 / ratePerS;
  const running = new Set<Promise<void>>();
  for (let dueAt = start; dueAt < end; dueAt += intervalMs) {
    const wait = dueAt - performance.now();
    if (wait > 1) await sleep(wait);
    while (running.size >= MAX_OPEN_LOOP_IN_FLIGHT) await Promise.race(running);
    const call = placeOne(dueAt).finally(() => running.delete(call));
    running.add(call);
  }
  await Promise.all(running);
}

await (load.ratePerS === undefined ? closedLoop() : openLoop(load.ratePerS));
const outcome: PlaceOrderOutcome = {
  completed: histogram.count,
  answered,
  byStatus,
  histogram: histogram.toJSON(),
  measuredS: load.durationS,
};
process.stdout.write(`${JSON.stringify(outcome)}\n`);
process.exit(0);
