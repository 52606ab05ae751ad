import pg from "pg";
import { inject } from "vitest";

/**
 * A database of the test's own on the run's server, for tests that need an empty one
 * (migrations from scratch). Returns its URL and a function that drops it.
 */
export async function createScratchDatabase(name: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const runUrl = inject("databaseUrl");
  const database = `${new URL(runUrl).pathname.slice(1)}_${name}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: runUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`create database "${database}"`);
  const url = new URL(runUrl);
  url.pathname = `/${database}`;
  return { url: url.toString(), drop: () => admin(`drop database if exists "${database}" with (force)`) };
}
