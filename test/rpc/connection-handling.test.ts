import http from "node:http";
import net from "node:net";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/health/v1/health_pb.js";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { startServerWith } from "../support/rpc-server.js";

/** Longer than any test may take: a stop() that waited for it would fail the test by timeout. */
const GRACE_LONGER_THAN_THE_TEST = 120_000;

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

describe("connections on the one port", () => {
  it("survives clients that reset the connection while the protocol is being detected", async () => {
    const { baseUrl, port, stop } = await startServerWith(() => {});
    for (const sent of ["", "PRI * HT", "GET / HT"]) {
      const socket = await connect(port);
      if (sent) socket.write(sent);
      await new Promise((resolve) => setTimeout(resolve, 20));
      socket.resetAndDestroy();
    }
    const health = createClient(Health, createGrpcTransport({ baseUrl }));
    expect((await health.check({})).status).toBe(ServingStatus.SERVING);
    await stop();
  });

  it("stops at once despite idle keep-alive HTTP/1.1 connections and clients that never spoke", async () => {
    const { baseUrl, port, stop } = await startServerWith(() => {}, { shutdownGraceMs: GRACE_LONGER_THAN_THE_TEST });
    const agent = new http.Agent({ keepAlive: true });
    const answered = await new Promise<number | undefined>((resolve, reject) =>
      http
        .request(`${baseUrl}/grpc.health.v1.Health/Check`, {
          method: "POST",
          agent,
          headers: { "content-type": "application/json" },
        })
        .on("response", (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode));
        })
        .on("error", reject)
        .end("{}"),
    );
    expect(answered).toBe(200);
    const silent = await connect(port);
    silent.on("error", () => {});

    await stop();
    agent.destroy();
    silent.destroy();
  });

  it("answers a CORS preflight arriving on an open connection during shutdown without failing", async () => {
    const stuck = Promise.withResolvers<void>();
    const { baseUrl, server, stop } = await startServerWith(
      (router) =>
        router.service(InventoryService, {
          async getProduct() {
            await stuck.promise;
            return {};
          },
        }),
      { shutdownGraceMs: GRACE_LONGER_THAN_THE_TEST },
    );
    const inventory = createClient(InventoryService, createGrpcTransport({ baseUrl }));
    const inFlight = inventory.getProduct({ id: "x" });
    const agent = new http.Agent({ keepAlive: true });
    const preflight = () =>
      new Promise<number | undefined>((resolve) =>
        http
          .request(`${baseUrl}/shop.v1.InventoryService/GetProduct`, {
            method: "OPTIONS",
            agent,
            headers: { origin: "https://buf.build", "access-control-request-method": "POST" },
          })
          .on("response", (res) => {
            res.resume();
            resolve(res.statusCode);
          })
          .on("error", () => resolve(undefined))
          .end(),
      );
    expect(await preflight()).toBe(204);
    const stopping = stop();
    await preflight(); // answered or refused, but the process must not crash
    expect(server.health.get("")).toBe(ServingStatus.NOT_SERVING);
    stuck.resolve();
    await expect(inFlight).resolves.toBeDefined();
    await stopping;
    agent.destroy();
  });
});
