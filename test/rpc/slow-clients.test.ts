import http2 from "node:http2";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import type { ConnectionLimits } from "../../src/rpc/connection-limits.js";
import { type ListeningServer, startServerWith } from "../support/rpc-server.js";

/** Short limits, so that the test waits for them; production defaults are in connection-limits.ts. */
const LIMITS: ConnectionLimits = {
  headersTimeoutMs: 500,
  requestTimeoutMs: 1_000,
  keepAliveTimeoutMs: 300,
  http2IdleTimeoutMs: 500,
};
/** Longer than every limit above: what the server does with time to spare. */
const LONG_CALL_MS = 2_500;
/** A slow client sends something this often: far more often than any limit, so only an absolute deadline stops it. */
const DRIBBLE_EVERY_MS = 100;
const DRIBBLERS = 50;

/** A raw TCP client that records what it was answered and when the server closed it. */
async function rawClient(port: number) {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  socket.on("error", () => {});
  let answer = "";
  socket.on("data", (chunk) => {
    answer += chunk.toString("latin1");
  });
  const connectedAt = performance.now();
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(performance.now() - connectedAt)));
  return { socket, closed, answer: () => answer };
}

/** Writes `parts` one at a time until they run out or the server closes the connection. */
async function dribble(socket: net.Socket, parts: string[]): Promise<void> {
  for (const part of parts) {
    if (socket.destroyed || !socket.writable) return;
    socket.write(part);
    await sleep(DRIBBLE_EVERY_MS);
  }
}

function endless(line: (n: number) => string, count = 1_000): string[] {
  return Array.from({ length: count }, (_, n) => line(n));
}

describe("slow and idle clients", () => {
  let server: ListeningServer;
  beforeAll(async () => {
    server = await startServerWith(
      (router) =>
        router.service(InventoryService, {
          async getProduct(request) {
            await sleep(LONG_CALL_MS);
            return { product: { id: request.id, name: "worth the wait" } };
          },
        }),
      { connectionLimits: LIMITS },
    );
  });
  afterAll(() => server.stop());

  it("cuts HTTP/1.1 clients that dribble their headers at the headers timeout, answering 408", async () => {
    const clients = await Promise.all(Array.from({ length: DRIBBLERS }, () => rawClient(server.port)));
    for (const { socket } of clients) {
      void dribble(socket, [
        "POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\n",
        ...endless((n) => `X-Slow-${n}: y\r\n`),
      ]);
    }
    const openFor = await Promise.all(clients.map(({ closed }) => closed));
    for (const [index, ms] of openFor.entries()) {
      expect(ms).toBeGreaterThanOrEqual(LIMITS.headersTimeoutMs - 50);
      expect(ms).toBeLessThan(LIMITS.headersTimeoutMs + 1_000);
      expect(clients[index]?.answer()).toMatch(/^HTTP\/1\.1 408 /);
    }
  });

  it("cuts an HTTP/1.1 request whose body dribbles in at the request timeout", async () => {
    const client = await rawClient(server.port);
    void dribble(client.socket, [
      "POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
      ...endless(() => " "),
    ]);
    const openFor = await client.closed;
    expect(openFor).toBeGreaterThanOrEqual(LIMITS.requestTimeoutMs - 50);
    expect(openFor).toBeLessThan(LIMITS.requestTimeoutMs + 1_000);
    expect(client.answer()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("cuts a client that dribbles the HTTP/2 preface at the headers timeout", async () => {
    const client = await rawClient(server.port);
    void dribble(client.socket, [..."PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]);
    expect(await client.closed).toBeLessThan(LIMITS.headersTimeoutMs + 1_000);
  });

  it("closes an HTTP/1.1 connection left idle after its request", async () => {
    const client = await rawClient(server.port);
    client.socket.write(
      "POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    );
    // Node adds a second to the advertised keep-alive, so that the client closes first.
    expect(await client.closed).toBeLessThan(LIMITS.keepAliveTimeoutMs + 1_000 + 1_000);
    expect(client.answer()).toMatch(/^HTTP\/1\.1 200 /);
  });

  it("closes an HTTP/2 connection without calls with GOAWAY after the idle timeout", async () => {
    const session = http2.connect(server.baseUrl);
    const answered = await new Promise<number>((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": "/grpc.health.v1.Health/Check",
        "content-type": "application/json",
      });
      stream.on("response", (headers) => resolve(Number(headers[":status"])));
      stream.on("error", reject);
      stream.resume();
      stream.end("{}");
    });
    expect(answered).toBe(200);
    const idleSince = performance.now();
    const goaway = new Promise((resolve) => session.once("goaway", resolve));
    await new Promise((resolve) => session.once("close", resolve));
    await goaway;
    expect(performance.now() - idleSince).toBeLessThan(LIMITS.http2IdleTimeoutMs + 1_000);
  });

  it.each<[string, () => Transport]>([
    ["gRPC over HTTP/2", () => createGrpcTransport({ baseUrl: server.baseUrl })],
    ["Connect over HTTP/1.1", () => createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" })],
  ])("lets a call outlast every limit (%s)", async (_over, transport) => {
    const inventory = createClient(InventoryService, transport());
    const { product } = await inventory.getProduct({ id: "p-1" });
    expect(product?.name).toBe("worth the wait");
  });
});
