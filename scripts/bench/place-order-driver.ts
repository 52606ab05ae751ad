/**
 * A PlaceOrder load generator in a process of its own (every call needs a unique request_id,
 * which h2load cannot make). Given a PlaceOrderLoad as JSON in argv[2], it places one-line
 * orders of one unit, each of a product drawn at random from `productIds`, and prints a
 * PlaceOrderOutcome as JSON.
 *
 * It shares the machine with what it measures, so it costs as little as h2load would: the
 * request is encoded once, and each call copies it with its own request id and product id
 * written over the template's, then goes out as one gRPC frame on a plain HTTP/2 stream; an
 * answer is read for its grpc-status only.
 *
 * Closed loop (`ratePerS` unset): `inFlight` callers, each placing its next order when the
 * last one answers. Open loop (`ratePerS` set): orders start on a fixed schedule whatever the
 * answers, and each latency counts from when its order was due, so a stall is not hidden by
 * the calls it delays (coordinated omission).
 */
import http2 from "node:http2";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { PlaceOrderRequestSchema } from "../../gen/shop/v1/order_service_pb.js";
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
const sessions = Array.from({ length: load.connections }, () => http2.connect(load.baseUrl));

/** Request ids are the prefix and a counter, zero-padded to one width so they fit the template. */
const REQUEST_ID_WIDTH = 48;
const requestIdOf = (n: number) =>
  `${load.requestIdPrefix}-${String(n).padStart(12, "0")}`.padEnd(REQUEST_ID_WIDTH, "-");
const template = toBinary(
  PlaceOrderRequestSchema,
  create(PlaceOrderRequestSchema, {
    requestId: requestIdOf(0),
    lines: [{ productId: load.productIds[0] ?? "", quantity: 1 }],
    card: testCard("4242424242424242"),
  }),
);
const requestIdAt = Buffer.from(template).indexOf(requestIdOf(0));
const productIdAt = Buffer.from(template).indexOf(load.productIds[0] ?? "");
const headers = {
  ":method": "POST",
  ":path": "/shop.v1.OrderService/PlaceOrder",
  "content-type": "application/grpc",
  te: "trailers",
  authorization: load.authorization,
};

/** One framed request: the template with this call's request id and product. */
function requestFor(n: number, productId: string): Buffer {
  const frame = Buffer.allocUnsafe(5 + template.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(template.length, 1);
  frame.set(template, 5);
  frame.write(requestIdOf(n), 5 + requestIdAt, "ascii");
  frame.write(productId, 5 + productIdAt, "ascii");
  return frame;
}

/** The call's gRPC status: from its trailers, or from its headers when it has none (an early error). */
function call(session: http2.ClientHttp2Session, body: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const stream = session.request(headers);
    let status: string | undefined;
    stream.on("response", (responseHeaders) => {
      status = responseHeaders["grpc-status"] as string | undefined;
    });
    stream.on("trailers", (trailers) => {
      status = trailers["grpc-status"] as string | undefined;
    });
    stream.on("data", () => {});
    stream.on("close", () => resolve(status === "0" ? "OK" : (Code[Number(status)] ?? "UNKNOWN")));
    stream.on("error", () => resolve("UNAVAILABLE"));
    stream.end(body);
  });
}
const histogram = createLatencyHistogram();
const byStatus: Record<string, number> = {};
const start = performance.now();
const measureFrom = start + load.warmUpS * 1_000;
const end = measureFrom + load.durationS * 1_000;
let placed = 0;
let answered = 0;

async function placeOne(dueAt: number): Promise<void> {
  const n = placed++;
  const session = sessions[n % sessions.length] as http2.ClientHttp2Session;
  const productId = load.productIds[Math.floor(Math.random() * load.productIds.length)] as string;
  const status = await call(session, requestFor(n, productId));
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
for (const session of sessions) session.close();
process.exit(0);
