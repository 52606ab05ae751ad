import { afterEach, describe, expect, it } from "vitest";
import { seedDemoCatalogue } from "../../src/db/demo-catalogue.js";
import { shopMigrations } from "../../src/db/migration-list.js";
import type { Orm } from "../../src/db/orm.js";
import { openShopDatabase } from "../../src/db/shop-database.js";
import { createScratchDatabase } from "../support/scratch-database.js";
import { testLogger } from "../support/silent-logger.js";

describe("the shop database", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function freshDatabase(name: string) {
    const database = await createScratchDatabase(name);
    cleanups.push(database.drop);
    return database.url;
  }

  async function open(url: string): Promise<Orm> {
    const orm = await openShopDatabase(url, testLogger);
    cleanups.push(() => orm.close(true));
    return orm;
  }

  it("is migrated at start-up to exactly what the entities describe", async () => {
    const orm = await open(await freshDatabase("entities"));
    const drift = await orm.schema.getUpdateSchemaSQL({ wrap: false, schema: "public" });
    expect(drift.trim()).toBe("");
  });

  it("survives several processes migrating an empty database at once", async () => {
    const url = await freshDatabase("concurrent");
    const [orm] = await Promise.all([open(url), open(url), open(url)]);
    const [{ count }] = await orm.em
      .fork()
      .execute<[{ count: string }]>("select count(*) as count from shop_migrations");
    expect(Number(count)).toBe(shopMigrations.length);
  });

  it("seeds the demo catalogue once, into an empty catalogue only", async () => {
    const orm = await open(await freshDatabase("seed"));
    expect(await seedDemoCatalogue(orm)).toBe(5);
    expect(await seedDemoCatalogue(orm)).toBe(0);
    const products = await orm.em
      .fork()
      .execute<{ sku: string; stock_on_hand: number }[]>('select sku, stock_on_hand from "product" order by sku');
    expect(products.map((p) => p.sku)).toEqual([
      "MUG-CLASSIC",
      "NOTEBOOK-A5",
      "POSTER-LTD",
      "STICKER-PACK",
      "TEE-LOGO-M",
    ]);
  });

  it("refuses stock that would go negative or below what is reserved", async () => {
    const orm = await open(await freshDatabase("checks"));
    await seedDemoCatalogue(orm);
    const em = orm.em.fork();
    await expect(em.execute(`update "product" set stock_on_hand = -1 where sku = 'MUG-CLASSIC'`)).rejects.toThrow(
      /product_stock_check/,
    );
    await expect(
      em.execute(`update "product" set stock_reserved = stock_on_hand + 1 where sku = 'MUG-CLASSIC'`),
    ).rejects.toThrow(/product_stock_check/);
  });
});
