import { migrateToLatest, openOrm } from "../db/orm.js";
import type { Logger } from "../logging/logger.js";
import { GATEWAY_SCHEMA, gatewayEntities } from "./charge.entity.js";
import { Migration20261125020000_charges } from "./migrations/Migration20261125020000_charges.js";

/** The gateway's migrations, separate from the shop's: it owns its schema alone. */
export const gatewayMigrations = [{ name: "Migration20261125020000_charges", class: Migration20261125020000_charges }];

export async function openGatewayDatabase(databaseUrl: string, logger: Logger) {
  const orm = await openOrm({
    databaseUrl,
    entities: gatewayEntities,
    migrationsList: gatewayMigrations,
    migrationsTable: `${GATEWAY_SCHEMA}.gateway_migrations`,
    logger,
  });
  try {
    // The bookkeeping table lives in the schema, so the schema must exist before migrating.
    await orm.em.fork().execute(`create schema if not exists "${GATEWAY_SCHEMA}"`);
    await migrateToLatest(orm, databaseUrl, logger);
  } catch (error) {
    await orm.close(true);
    throw error;
  }
  return orm;
}
