import http from "node:http";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../../gen/health/v1/health_pb.js";
import { type ListeningServer, startServerWith } from "../support/rpc-server.js";

/** With a 40 ms delayed-ACK stall per call these take over 2 s; without, about 0.1 s. */
const SEQUENTIAL_CALLS = 50;
const WITHIN_MS = 1_000;

describe("small calls are not held back by Nagle's algorithm", () => {
  let server: ListeningServer;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  beforeAll(async () => {
    server = await startServerWith(() => {});
  });
  afterAll(async () => {
    agent.destroy();
    await server.stop();
  });

  // The gRPC transport is also the one the shop calls the payment gateway with: a stall on
  // either end of the connection fails this.
  it.each<[string, () => Transport]>([
    ["gRPC on one HTTP/2 connection", () => createGrpcTransport({ baseUrl: server.baseUrl })],
    [
      "Connect on one HTTP/1.1 connection",
      () => createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", nodeOptions: { agent } }),
    ],
  ])(`answers ${SEQUENTIAL_CALLS} sequential calls, %s, within a second`, async (_over, transport) => {
    const health = createClient(Health, transport());
    await health.check({}); // connected before the clock starts
    const startedAt = performance.now();
    for (let call = 0; call < SEQUENTIAL_CALLS; call++) await health.check({});
    expect(performance.now() - startedAt).toBeLessThan(WITHIN_MS);
  });
});
