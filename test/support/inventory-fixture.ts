import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll } from "vitest";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { type ListeningApi, startApiServer } from "./rpc-server.js";
import { createUser, type TestUser } from "./users.js";

export interface InventoryFixture {
  api: ListeningApi;
  inventory: Client<typeof InventoryService>;
  admin: TestUser;
}

/** For a describe block: a running API, an InventoryService client and a signed-in admin. */
export function useInventoryApi(): InventoryFixture {
  const fixture = {} as InventoryFixture;
  beforeAll(async () => {
    fixture.api = await startApiServer();
    fixture.inventory = createClient(InventoryService, createGrpcTransport({ baseUrl: fixture.api.baseUrl }));
    fixture.admin = await createUser(fixture.api, "admin");
  });
  afterAll(() => fixture.api.stop());
  return fixture;
}
