import { Migrator } from "@mikro-orm/migrations";
import { type MigrationsOptions, MikroORM, type Options } from "@mikro-orm/postgresql";
import pg from "pg";
import type { Logger } from "../logging/logger.js";
import { PreparingClient } from "./pg-client.js";

export type Orm = Awaited<ReturnType<typeof openOrm>>;

export interface OrmOptions {
  databaseUrl: string;
  entities: Options["entities"];
  migrationsList: NonNullable<MigrationsOptions["migrationsList"]>;
  /** Where the migrations' bookkeeping table lives; one per owner of a schema. */
  migrationsTable: string;
  logger: Logger;
  poolSize?: number;
}

/**
 * Connects to PostgreSQL and fails fast if it cannot. Schema changes come only from the
 * listed migrations, never from schema synchronisation.
 */
export async function openOrm(options: OrmOptions) {
  const orm = await MikroORM.init({
    clientUrl: options.databaseUrl,
    // MikroORM takes only host, port, user, password and database from clientUrl; pg reads the
    // whole URL (sslmode, sslrootcert, options), as every other connection of ours does.
    driverOptions: { connectionString: options.databaseUrl, Client: PreparingClient },
    entities: options.entities,
    extensions: [Migrator],
    pool: { min: 0, max: options.poolSize ?? 10, idleTimeoutMillis: 30_000 },
    ensureDatabase: false,
    allowGlobalContext: false,
    debug: false,
    colors: false,
    logger: (message) => options.logger.debug({ event: "orm.log" }, message),
    migrations: {
      tableName: options.migrationsTable,
      migrationsList: options.migrationsList,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
  });
  await orm.connect();
  // connect() only prepares the pool: a query proves the server is there and accepts us.
  const check = await orm.checkConnection();
  if (!check.ok) {
    await orm.close(true);
    throw check.error ?? new Error(`cannot connect to PostgreSQL: ${check.reason}`);
  }
  return orm;
}

/**
 * Applies every pending migration in one transaction. Processes starting together (API
 * replicas, a migration job) take turns under an advisory lock, held on a connection of its
 * own so the migrator's transaction cannot release it early.
 */
export async function migrateToLatest(orm: Orm, databaseUrl: string, logger: Logger): Promise<string[]> {
  const lock = new pg.Client({ connectionString: databaseUrl });
  // An idle client whose connection drops emits "error"; unheard, that would end the process.
  // Losing the lock connection mid-migration is harmless: the migration is one transaction.
  lock.on("error", (error) => logger.warn({ event: "db.migration_lock_lost", err: error }, "migration lock lost"));
  await lock.connect();
  try {
    await lock.query("select pg_advisory_lock(hashtext($1))", [MIGRATION_LOCK]);
    const applied = await orm.migrator.up();
    const names = applied.map((migration) => migration.name);
    if (names.length > 0) logger.info({ event: "db.migrated", migrations: names }, "applied migrations");
    return names;
  } finally {
    await lock.end(); // ending the session releases the lock
  }
}

const MIGRATION_LOCK = "shop-migrations";
