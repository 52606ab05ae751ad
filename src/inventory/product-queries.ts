import { type Kysely, sql } from "kysely";
import { createBatchedReads } from "../db/batched-reads.js";
import { boundStatement } from "../db/bound-statement.js";
import { type InventoryTables, inventoryStatements } from "./inventory-tables.js";
import type { ProductRecord } from "./product.entity.js";

/** Every column of a product, named as ProductRecord names them: a selected row is a record. */
export const PRODUCT_FIELDS = [
  "id",
  "sku",
  "name",
  "description",
  "unit_price_minor as unitPriceMinor",
  "currency_code as currencyCode",
  "stock_on_hand as stockOnHand",
  "stock_reserved as stockReserved",
  "version",
  "created_at as createdAt",
  "updated_at as updatedAt",
] as const;

export async function findProduct(db: Kysely<InventoryTables>, id: string): Promise<ProductRecord | undefined> {
  const [product] = await productById(db, { id });
  return product;
}

const productById = boundStatement((p: { id: string }) =>
  inventoryStatements.selectFrom("product").select(PRODUCT_FIELDS).where("id", "=", p.id),
);

const productsByIds = boundStatement((p: { ids: string[] }) =>
  inventoryStatements.selectFrom("product").select(PRODUCT_FIELDS).where("id", "=", sql<string>`any(${p.ids}::uuid[])`),
);

/** Products by id for calls that arrive together (GetProduct): one statement per tick. */
export function createProductReads(
  db: () => Kysely<InventoryTables>,
): (id: string) => Promise<ProductRecord | undefined> {
  return createBatchedReads(async (ids: string[]) => {
    const products = await productsByIds(db(), { ids });
    return new Map(products.map((product) => [product.id, product]));
  });
}

/** Opaque to clients; encodes the version so a stale one is detected without a lookup. */
export function etagOf(product: Pick<ProductRecord, "id" | "version">): string {
  return Buffer.from(`${product.id}:${product.version}`).toString("base64url");
}

/** The version an etag stands for, or undefined if it is not an etag of this product. */
export function versionFromEtag(productId: string, etag: string): number | undefined {
  const [id, version] = Buffer.from(etag, "base64url").toString("utf8").split(":");
  const parsed = Number(version);
  return id === productId && version !== undefined && /^\d{1,10}$/.test(version) && parsed <= 2_147_483_647
    ? parsed
    : undefined;
}
