import { afterEach, describe, expect, inject, it } from "vitest";
import type { Orm } from "../../src/db/orm.js";
import { seedDemoCatalogue } from "../../src/inventory/demo-catalogue.js";
import { shopMigrations } from "../../src/shop-database/migration-list.js";
import { openShopDatabase, openShopOrm } from "../../src/shop-database/shop-database.js";
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

  it("reads the whole DATABASE_URL, TLS settings included, as every other connection does", async () => {
    const url = new URL(inject("databaseUrl"));
    url.searchParams.set("application_name", "orm-reads-the-url");
    const orm = await openShopOrm(url.toString(), testLogger);
    cleanups.push(() => orm.close(true));
    const [session] = await orm.em
      .fork()
      .execute<[{ name: string; ssl: string }]>(
        "select current_setting('application_name') as name, current_setting('ssl') as ssl",
      );
    expect(session.name).toBe("orm-reads-the-url");

    url.searchParams.set("sslmode", "verify-full");
    const tls = openShopOrm(url.toString(), testLogger);
    if (session.ssl === "off") await expect(tls).rejects.toThrow("The server does not support SSL connections");
    else await expect(tls.then((encrypted) => encrypted.close(true))).resolves.toBeUndefined();
  });

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
    expect(await seedDemoCatalogue(orm.em)).toBe(5);
    expect(await seedDemoCatalogue(orm.em)).toBe(0);
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
    await seedDemoCatalogue(orm.em);
    const em = orm.em.fork();
    await expect(em.execute(`update "product" set stock_on_hand = -1 where sku = 'MUG-CLASSIC'`)).rejects.toThrow(
      /product_stock_check/,
    );
    await expect(
      em.execute(`update "product" set stock_reserved = stock_on_hand + 1 where sku = 'MUG-CLASSIC'`),
    ).rejects.toThrow(/product_stock_check/);
  });
});
