import type { Running } from "../bin/process-lifecycle.js";
import type { Config } from "../config/config.js";
import { openShopDatabase } from "../db/shop-database.js";
import type { Logger } from "../logging/logger.js";
import { loadDescriptorRegistry } from "../rpc/reflection.js";
import { buildApiServer } from "./api-server.js";

export interface RunningApi extends Running {
  port: number;
}

/** Migrates the shop database, then serves the public API on config.port. */
export async function startApi(config: Config, databaseUrl: string, logger: Logger): Promise<RunningApi> {
  const orm = await openShopDatabase(databaseUrl, logger);
  const server = buildApiServer({
    descriptors: loadDescriptorRegistry(),
    logger,
    shutdownGraceMs: config.shutdownGraceMs,
  });
  let port: number;
  try {
    port = await server.start(config.port);
  } catch (error) {
    await orm.close(true);
    throw error;
  }
  return {
    port,
    async stop() {
      await server.stop();
      await orm.close(true);
    },
  };
}
