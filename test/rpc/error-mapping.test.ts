import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { type ListeningServer, startServerWith } from "../support/rpc-server.js";

const LEAKY_FAILURE = new Error('relation "product" does not exist: select * from product where sku = $1');

describe("error mapping", () => {
  let server: ListeningServer;
  beforeAll(async () => {
    server = await startServerWith((router) =>
      router.service(InventoryService, {
        getProduct() {
          throw LEAKY_FAILURE;
        },
        createProduct() {
          throw new ConnectError("sku is taken", Code.AlreadyExists);
        },
      } as never),
    );
  });
  afterAll(() => server.stop());

  const callers = {
    gRPC: () => createClient(InventoryService, createGrpcTransport({ baseUrl: server.baseUrl })),
    Connect: () =>
      createClient(InventoryService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" })),
  };

  async function failureOf(call: Promise<unknown>): Promise<ConnectError> {
    return call.then(
      () => {
        throw new Error("expected the call to fail");
      },
      (thrown: unknown) => ConnectError.from(thrown),
    );
  }

  describe.each(Object.entries(callers))("over %s", (_protocol, client) => {
    it("turns an unexpected exception into INTERNAL carrying only the request id", async () => {
      const error = await failureOf(client().getProduct({ id: "x" }, { headers: { "x-request-id": "req-boom" } }));
      expect(error.code).toBe(Code.Internal);
      expect(error.rawMessage).toBe("internal error; quote request id req-boom when reporting it");
      expect(JSON.stringify(error)).not.toMatch(/relation|select|product where/);
      expect(error.findDetails(ErrorInfoSchema)).toEqual([
        expect.objectContaining({ reason: "INTERNAL", domain: "shop.v1", metadata: { requestId: "req-boom" } }),
      ]);
    });

    it("keeps a deliberate status and adds ErrorInfo when it has none", async () => {
      const error = await failureOf(client().createProduct({}, { headers: { "x-request-id": "req-dup" } }));
      expect(error.code).toBe(Code.AlreadyExists);
      expect(error.rawMessage).toBe("sku is taken");
      expect(error.findDetails(ErrorInfoSchema)[0]).toMatchObject({
        reason: "ALREADY_EXISTS",
        metadata: { requestId: "req-dup" },
      });
    });
  });
});
