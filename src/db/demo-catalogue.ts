import type { Orm } from "./orm.js";

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
export async function seedDemoCatalogue(orm: Orm): Promise<number> {
  const em = orm.em.fork();
  return em.transactional(async (tx) => {
    // Serialises concurrent first starts; released at commit.
    await tx.execute("select pg_advisory_xact_lock(hashtext('seed-demo-catalogue'))");
    const [{ count }] = await tx.execute<[{ count: string }]>('select count(*) as count from "product"');
    if (Number(count) > 0) return 0;
    for (const product of DEMO_PRODUCTS) {
      await tx.execute(
        `with created as (
           insert into "product" ("id", "sku", "name", "description", "unit_price_minor", "currency_code", "stock_on_hand")
           values (gen_random_uuid(), ?, ?, ?, ?, 'EUR', ?) returning "id", "stock_on_hand")
         insert into "stock_movement" ("id", "product_id", "delta", "reason", "stock_on_hand_after")
         select gen_random_uuid(), "id", "stock_on_hand", 'initial stock', "stock_on_hand" from created`,
        [product.sku, product.name, product.description, product.unitPriceMinor, product.stock],
      );
    }
    return DEMO_PRODUCTS.length;
  });
}
