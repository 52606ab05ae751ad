import { migrateToLatest, type Orm, openOrm } from "../db/orm.js";
import { prepareJobQueue } from "../jobs/job-queue.js";
import type { Logger } from "../logging/logger.js";
import { shopEntities } from "./entities.js";
import { shopMigrations } from "./migration-list.js";

/** The shop's ORM, on its database as it is: for processes that read and write, not migrate. */
export function openShopOrm(databaseUrl: string, logger: Logger, poolSize?: number): Promise<Orm> {
  return openOrm({
    databaseUrl,
    entities: shopEntities,
    migrationsList: shopMigrations,
    migrationsTable: "shop_migrations",
    logger,
    poolSize,
  });
}

/**
 * Opens the shop's database and brings its schema up to date: our migrations, then the job
 * queue's own schema, run at start-up.
 */
export async function openShopDatabase(databaseUrl: string, logger: Logger): Promise<Orm> {
  const orm = await openShopOrm(databaseUrl, logger);
  try {
    await migrateToLatest(orm, databaseUrl, logger);
    await prepareJobQueue(databaseUrl, logger);
  } catch (error) {
    await orm.close(true);
    throw error;
  }
  return orm;
}
