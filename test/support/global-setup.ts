import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";
import { createLogger } from "../../src/logging/logger.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** A database of its own for this test run, empty: each suite migrates what it needs. */
    databaseUrl: string;
  }
}

/**
 * Gives the run a fresh database, so runs never see each other's rows: on DATABASE_URL's
 * server when set (CI), otherwise on an embedded PostgreSQL in a temporary directory.
 */
export default async function setup(project: TestProject) {
  let embedded: EmbeddedPostgres | undefined;
  let scratchDir: string | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (serverUrl === undefined || serverUrl === "") {
    scratchDir = mkdtempSync(join(tmpdir(), "shop-test-"));
    chmodSync(scratchDir, 0o755); // the server may run as the postgres user
    embedded = await startEmbeddedPostgres({
      dir: join(scratchDir, "postgres"),
      logger: createLogger({ level: "warn", name: "test-postgres" }),
    });
    serverUrl = embedded.urlFor("postgres");
  }

  const database = `test_${process.pid}_${Date.now().toString(36)}`;
  await withClient(serverUrl, (client) => client.query(`create database "${database}"`));
  const databaseUrl = new URL(serverUrl);
  databaseUrl.pathname = `/${database}`;
  project.provide("databaseUrl", databaseUrl.toString());

  return async () => {
    await withClient(serverUrl, (client) => client.query(`drop database if exists "${database}" with (force)`));
    await embedded?.stop();
    if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
  };
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
