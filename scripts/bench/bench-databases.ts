import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";
import { createLogger } from "../../src/logging/logger.js";

export interface BenchDatabases {
  /**
   * The database of the shop and of its payment gateway (its own schema), as under `npm start`:
   * the API's, the gateway's and pgbench's, so that one order's database CPU (counted per
   * database) is everything its statements cost, as the SQL pgbench replays is.
   */
  shopUrl: string;
  /** Drops the database, and stops the embedded server if we started one. */
  drop(): Promise<void>;
}

/** A scratch database bench_<pid>, on `serverUrl`'s server or an embedded one. */
export async function createBenchDatabases(options: { serverUrl: string; embedded: boolean }): Promise<BenchDatabases> {
  let adminUrl = options.serverUrl;
  let stopServer = async () => {};
  if (options.embedded) {
    const dir = mkdtempSync(join(tmpdir(), "bench-postgres-"));
    chmodSync(dir, 0o755); // the server runs as the postgres user when we are root
    const server = await startEmbeddedPostgres({
      dir: join(dir, "postgres"),
      logger: createLogger({ level: "warn", name: "bench-postgres" }),
    });
    adminUrl = server.urlFor("postgres");
    stopServer = async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  const name = `bench_${process.pid}`;
  await adminQuery(adminUrl, `create database "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    shopUrl: url.toString(),
    async drop() {
      await adminQuery(adminUrl, `drop database if exists "${name}" with (force)`);
      await stopServer();
    },
  };
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
