import { randomUUID } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import type { InventoryService, Product } from "../../gen/shop/v1/inventory_service_pb.js";
import type { TestUser } from "./users.js";

/** A SKU no other test uses. */
export function uniqueSku(prefix = "TEST"): string {
  return `${prefix}-${randomUUID().slice(0, 13).toUpperCase()}`;
}

export async function createProduct(
  inventory: Client<typeof InventoryService>,
  admin: TestUser,
  overrides: { name?: string; initialStock?: number; amountMinor?: bigint } = {},
): Promise<Product> {
  const { product } = await inventory.createProduct(
    {
      sku: uniqueSku(),
      name: overrides.name ?? "Test product",
      description: "Made for a test.",
      unitPrice: { currencyCode: "EUR", amountMinor: overrides.amountMinor ?? 1999n },
      initialStock: overrides.initialStock ?? 10,
    },
    admin.auth,
  );
  if (!product) throw new Error("CreateProduct returned no product");
  return product;
}
