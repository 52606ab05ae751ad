import type { EntityManager } from "@mikro-orm/postgresql";
import type { ProductRecord } from "./product.entity.js";

/** The columns every product read selects, in the shape productFromRow expects. */
export const PRODUCT_COLUMNS = `"id", "sku", "name", "description", "unit_price_minor", "currency_code",
  "stock_on_hand", "stock_reserved", "version", "created_at", "updated_at"`;

export interface ProductRow {
  id: string;
  sku: string;
  name: string;
  description: string;
  unit_price_minor: string | number;
  currency_code: string;
  stock_on_hand: number;
  stock_reserved: number;
  version: number;
  created_at: string | Date;
  updated_at: string | Date;
}

/** Raw SQL returns int8 and timestamps as strings; products travel as numbers and Dates. */
export function productFromRow(row: ProductRow): ProductRecord {
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    description: row.description,
    unitPriceMinor: Number(row.unit_price_minor),
    currencyCode: row.currency_code,
    stockOnHand: row.stock_on_hand,
    stockReserved: row.stock_reserved,
    version: row.version,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** Reads through `conn`, so inside a transaction it uses that transaction's connection. */
export async function loadProduct(conn: EntityManager, id: string): Promise<ProductRecord | undefined> {
  const [row] = await conn.execute<ProductRow[]>(`select ${PRODUCT_COLUMNS} from "product" where "id" = ?`, [id]);
  return row && productFromRow(row);
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
