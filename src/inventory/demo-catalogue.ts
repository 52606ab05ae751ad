import type { EntityManager } from "@mikro-orm/postgresql";
import { sql } from "kysely";
import { inTransaction } from "../db/typed-sql.js";
import type { InventoryTables } from "./inventory-tables.js";

/** A handful of products so a fresh `npm start` has something to browse and order. */
const DEMO_PRODUCTS = [
  { sku: "MUG-CLASSIC", name: "Classic mug", description: "Stoneware, 350 ml.", unitPriceMinor: 1200, stock: 40 },
  { sku: "TEE-LOGO-M", name: "Logo T-shirt (M)", description: "Organic cotton.", unitPriceMinor: 2500, stock: 25 },
  { sku: "NOTEBOOK-A5", name: "A5 notebook", description: "Dot grid, 192 pages.", unitPriceMinor: 950, stock: 100 },
  { sku: "STICKER-PACK", name: "Sticker pack", description: "Ten vinyl stickers.", unitPriceMinor: 400, stock: 500 },
  { sku: "POSTER-LTD", name: "Limited poster", description: "Signed, numbered run.", unitPriceMinor: 4900, stock: 3 },
] as const;

/**
 * Seeds the demo catalogue into an empty catalogue only, so products an admin deleted or
 * changed stay that way across restarts. Returns how many products it added.
 */
export async function seedDemoCatalogue(em: EntityManager): Promise<number> {
  return inTransaction<InventoryTables, number>(em, async (tx) => {
    // Serialises concurrent first starts; released at commit.
    await sql`select pg_advisory_xact_lock(hashtext('seed-demo-catalogue'))`.execute(tx);
    if (await tx.selectFrom("product").select("id").limit(1).executeTakeFirst()) return 0;
    const created = await tx
      .insertInto("product")
      .values(
        DEMO_PRODUCTS.map((product) => ({
          id: sql<string>`gen_random_uuid()`,
          sku: product.sku,
          name: product.name,
          description: product.description,
          unit_price_minor: product.unitPriceMinor,
          currency_code: "EUR",
          stock_on_hand: product.stock,
        })),
      )
      .returning(["id", "stock_on_hand"])
      .execute();
    await tx
      .insertInto("stock_movement")
      .values(
        created.map((product) => ({
          id: sql<string>`gen_random_uuid()`,
          product_id: product.id,
          delta: product.stock_on_hand,
          reason: "initial stock",
          stock_on_hand_after: product.stock_on_hand,
        })),
      )
      .execute();
    return created.length;
  });
}
