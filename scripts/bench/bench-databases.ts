import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";
import { createLogger } from "../../src/logging/logger.js";

export interface BenchDatabases {
  /** The shop's database: the API's, and pgbench's. */
  shopUrl: string;
  /**
   * The payment gateway's, apart from the shop's so that the database CPU of an order (counted
   * per database) is the shop's own, as the SQL pgbench replays is.
   */
  gatewayUrl: string;
  /** Drops both databases, and stops the embedded server if we started one. */
  drop(): Promise<void>;
}

/** Scratch databases bench_<pid> and bench_<pid>_gateway, on `serverUrl`'s server or an embedded one. */
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
  const names = [`bench_${process.pid}`, `bench_${process.pid}_gateway`] as const;
  for (const name of names) await adminQuery(adminUrl, `create database "${name}"`);
  const urlOf = (name: string) => {
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return url.toString();
  };
  return {
    shopUrl: urlOf(names[0]),
    gatewayUrl: urlOf(names[1]),
    async drop() {
      for (const name of names) await adminQuery(adminUrl, `drop database if exists "${name}" with (force)`);
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
