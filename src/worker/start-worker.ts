import type { Running } from "../bin/process-lifecycle.js";
import { shopEntities } from "../db/entities.js";
import { shopMigrations } from "../db/migration-list.js";
import { openOrm } from "../db/orm.js";
import type { Logger } from "../logging/logger.js";

/**
 * The email worker's process. It connects to the shop database, where its job queue will
 * live; delivering confirmation emails arrives with the emails issue.
 */
export async function startWorker(databaseUrl: string, logger: Logger): Promise<Running> {
  const orm = await openOrm({
    databaseUrl,
    entities: shopEntities,
    migrationsList: shopMigrations,
    migrationsTable: "shop_migrations",
    logger,
    poolSize: 2,
  });
  logger.info({ event: "worker.started" }, "email worker started");
  return { stop: () => orm.close(true) };
}
