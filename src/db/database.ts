import { join } from "node:path";
import type { Config } from "../config/config.js";
import type { Logger } from "../logging/logger.js";
import { startEmbeddedPostgres } from "./embedded-postgres.js";

export interface DatabaseServer {
  databaseUrl: string;
  /** Whether we run the server ourselves (embedded defaults) rather than connect to one. */
  embedded: boolean;
  stop(): Promise<void>;
}

/** DATABASE_URL when set; otherwise an embedded PostgreSQL kept under DATA_DIR/postgres. */
export async function provideDatabaseServer(config: Config, logger: Logger): Promise<DatabaseServer> {
  if (config.databaseUrl !== undefined) {
    return { databaseUrl: config.databaseUrl, embedded: false, stop: async () => {} };
  }
  const server = await startEmbeddedPostgres({ dir: join(config.dataDir, "postgres"), logger });
  return { databaseUrl: server.databaseUrl, embedded: true, stop: () => server.stop() };
}
