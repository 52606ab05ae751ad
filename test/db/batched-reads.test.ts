import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { type PgWireCounter, startPgWireCounter } from "../support/pg-wire-counter.js";
import { createProduct } from "../support/products.js";
import { type ListeningApi, startApiServer } from "../support/rpc-server.js";
import { createUser, type TestUser } from "../support/users.js";

/** GetProduct and every caller's role are read in batches: what that costs, and what it never costs. */
describe("reads that arrive together", () => {
  let counter: PgWireCounter;
  let api: ListeningApi;
  let admin: TestUser;
  let inventory: ReturnType<typeof createClient<typeof InventoryService>>;

  beforeAll(async () => {
    counter = await startPgWireCounter(inject("databaseUrl"));
    api = await startApiServer({ databaseUrl: counter.url });
    inventory = createClient(InventoryService, createGrpcTransport({ baseUrl: api.baseUrl }));
    admin = await createUser(api, "admin");
  });
  afterAll(async () => {
    await api?.stop();
    await counter?.stop();
  });

  it("go to the database together: 50 concurrent GetProducts of 5 products cost a few statements", async () => {
    const products = await Promise.all(
      Array.from({ length: 5 }, () => createProduct(inventory, admin, { initialStock: 7 })),
    );
    counter.reset();
    const read = await Promise.all(
      Array.from({ length: 50 }, (_, n) => inventory.getProduct({ id: products[n % 5]?.id ?? "" })),
    );
    expect(read.map((answer) => answer.product?.id)).toEqual(Array.from({ length: 50 }, (_, n) => products[n % 5]?.id));
    const { total } = counter.snapshot();
    expect(total.roundTrips).toBeLessThan(10);
  });

  it("never answer from before the call: a product read right after its stock changed shows the change", async () => {
    const product = await createProduct(inventory, admin, { initialStock: 7 });
    for (let change = 1; change <= 5; change++) {
      const reads = Array.from({ length: 10 }, () => inventory.getProduct({ id: product.id }));
      await inventory.adjustStock(
        { productId: product.id, delta: 1, reason: "restock", requestId: randomUUID() },
        admin.auth,
      );
      await Promise.all(reads);
      const after = await inventory.getProduct({ id: product.id });
      expect(after.product?.stockOnHand).toBe(7 + change);
    }
  });

  it("answer each key alone: a missing product is NOT_FOUND without failing the others read with it", async () => {
    const product = await createProduct(inventory, admin, { initialStock: 1 });
    const [found, missing] = await Promise.allSettled([
      inventory.getProduct({ id: product.id }),
      inventory.getProduct({ id: randomUUID() }),
    ]);
    expect(found.status === "fulfilled" && found.value.product?.id).toBe(product.id);
    expect(missing.status).toBe("rejected");
  });
});
