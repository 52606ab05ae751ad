import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../../gen/health/v1/health_pb.js";
import { OrderService } from "../../gen/shop/v1/order_service_pb.js";
import { type ListeningApi, startApiServer } from "../support/rpc-server.js";
import { createUser } from "../support/users.js";

describe("the shop API on one port", () => {
  let api: ListeningApi;
  beforeAll(async () => {
    api = await startApiServer();
  });
  afterAll(() => api.stop());

  it("answers plain gRPC over cleartext HTTP/2 from @grpc/grpc-js", async () => {
    const client = new grpc.Client(`127.0.0.1:${api.port}`, grpc.credentials.createInsecure());
    const response = await new Promise<Uint8Array>((resolve, reject) =>
      client.makeUnaryRequest(
        "/grpc.health.v1.Health/Check",
        (request: Uint8Array) => Buffer.from(request),
        (bytes: Buffer) => new Uint8Array(bytes),
        toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema)),
        (error, value) => (error || value === undefined ? reject(error) : resolve(value)),
      ),
    );
    client.close();
    expect(fromBinary(HealthCheckResponseSchema, response).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it.each([
    ["gRPC over HTTP/2", () => createGrpcTransport({ baseUrl: api.baseUrl })],
    ["Connect over HTTP/1.1", () => createConnectTransport({ baseUrl: api.baseUrl, httpVersion: "1.1" })],
    ["Connect over HTTP/2", () => createConnectTransport({ baseUrl: api.baseUrl, httpVersion: "2" })],
    ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl: api.baseUrl, httpVersion: "1.1" })],
  ])("answers %s with generated clients", async (_protocol, transport) => {
    const health = createClient(Health, transport());
    const { status } = await health.check({});
    expect(status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("answers Connect JSON from a plain HTTP/1.1 POST, as curl sends it", async () => {
    const response = await fetch(`${api.baseUrl}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "SERVING" });
  });

  it("reports every shop service as SERVING, and unknown services as NOT_FOUND", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: api.baseUrl }));
    for (const service of ["", "shop.v1.AuthService", "shop.v1.InventoryService", "shop.v1.OrderService"]) {
      expect((await health.check({ service })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
    await expect(health.check({ service: "shop.v1.Nope" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  describe("request ids", () => {
    it("echoes the caller's x-request-id", async () => {
      let echoed: string | null = null;
      const health = createClient(Health, createGrpcTransport({ baseUrl: api.baseUrl }));
      await health.check(
        {},
        { headers: { "x-request-id": "order-flow-42" }, onHeader: (headers) => (echoed = headers.get("x-request-id")) },
      );
      expect(echoed).toBe("order-flow-42");
    });

    it("generates one when the caller sends none, or one unfit for logs", async () => {
      const health = createClient(Health, createConnectTransport({ baseUrl: api.baseUrl, httpVersion: "1.1" }));
      for (const offered of [undefined, "has spaces and\ttabs", "x".repeat(200)]) {
        let echoed: string | null = null;
        await health.check(
          {},
          {
            headers: offered === undefined ? {} : { "x-request-id": offered },
            onHeader: (headers) => (echoed = headers.get("x-request-id")),
          },
        );
        expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
      }
    });
  });

  it("answers an error with ErrorInfo carrying the reason, the domain and the request id", async () => {
    const customer = await createUser(api);
    const orders = createClient(OrderService, createGrpcTransport({ baseUrl: api.baseUrl }));
    const error = await orders
      .getOrder(
        { id: "8d0c3c4e-8f5e-4a7e-9d59-6a3f0e2b9d11" },
        {
          headers: { ...customer.auth.headers, "x-request-id": "req-missing-order" },
        },
      )
      .then(
        () => undefined,
        (thrown: unknown) => ConnectError.from(thrown),
      );
    expect(error?.code).toBe(Code.NotFound);
    const [info] = error?.findDetails(ErrorInfoSchema) ?? [];
    expect(info).toMatchObject({
      reason: "NOT_FOUND",
      domain: "shop.v1",
      metadata: { requestId: "req-missing-order" },
    });
  });

  describe("CORS, for Buf Studio and other browser clients", () => {
    it("answers a preflight from https://buf.build allowing the Authorization header", async () => {
      const response = await fetch(`${api.baseUrl}/shop.v1.AuthService/GetCurrentUser`, {
        method: "OPTIONS",
        headers: {
          origin: "https://buf.build",
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization,content-type,connect-protocol-version",
        },
      });
      expect(response.status).toBe(204);
      expect(response.headers.get("access-control-allow-origin")).toBe("https://buf.build");
      expect(response.headers.get("access-control-allow-methods")).toContain("POST");
      const allowedHeaders = response.headers.get("access-control-allow-headers")?.toLowerCase() ?? "";
      for (const header of ["authorization", "content-type", "connect-protocol-version", "grpc-timeout"]) {
        expect(allowedHeaders).toContain(header);
      }
    });

    it("lets the browser read grpc-status and the request id from an actual call", async () => {
      const response = await fetch(`${api.baseUrl}/grpc.health.v1.Health/Check`, {
        method: "POST",
        headers: { origin: "https://buf.build", "content-type": "application/json" },
        body: "{}",
      });
      expect(response.headers.get("access-control-allow-origin")).toBe("https://buf.build");
      const exposed = response.headers.get("access-control-expose-headers")?.toLowerCase() ?? "";
      expect(exposed).toContain("grpc-status");
      expect(exposed).toContain("x-request-id");
    });
  });
});
