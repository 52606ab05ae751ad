import type { Running } from "../bin/process-lifecycle.js";
import { shopEntities } from "../db/entities.js";
import { shopMigrations } from "../db/migration-list.js";
import { openOrm } from "../db/orm.js";
import type { Logger } from "../logging/logger.js";

const HEARTBEAT_MS = 30_000;

/**
 * The email worker's process. It connects to the shop database, where its job queue will
 * live, and checks the connection periodically until stopped; delivering confirmation
 * emails arrives with the emails issue.
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
  let reachable = true;
  const heartbeat = setInterval(async () => {
    const ok = await orm.em
      .fork()
      .execute("select 1")
      .then(
        () => true,
        () => false,
      );
    if (ok !== reachable) {
      reachable = ok;
      if (ok) logger.info({ event: "worker.database_reachable" }, "database reachable again");
      else logger.error({ event: "worker.database_unreachable" }, "database unreachable");
    }
  }, HEARTBEAT_MS);
  logger.info({ event: "worker.started" }, "email worker started");
  return {
    async stop() {
      clearInterval(heartbeat);
      await orm.close(true);
    },
  };
}
