import { createAccessTokens } from "../auth/access-tokens.js";
import { createAccounts } from "../auth/accounts.js";
import { resolveJwtSecret } from "../auth/jwt-secret.js";
import type { Running } from "../bin/process-lifecycle.js";
import type { Config } from "../config/config.js";
import { openShopDatabase } from "../db/shop-database.js";
import type { Logger } from "../logging/logger.js";
import { loadDescriptorRegistry } from "../rpc/reflection.js";
import { buildApiServer } from "./api-server.js";

export interface RunningApi extends Running {
  port: number;
}

/**
 * Migrates the shop database, creates or updates the configured admin, then serves the
 * public API on config.port.
 */
export async function startApi(config: Config, databaseUrl: string, logger: Logger): Promise<RunningApi> {
  const orm = await openShopDatabase(databaseUrl, logger);
  try {
    const accessTokens = createAccessTokens(resolveJwtSecret(config));
    if (config.adminEmail !== undefined && config.adminPassword !== undefined) {
      const admin = await createAccounts({ em: orm.em, tokens: accessTokens }).ensureAdmin({
        email: config.adminEmail,
        password: config.adminPassword,
      });
      logger.info({ event: "auth.admin_ensured", userId: admin.id }, "admin account is ready");
    }
    const server = buildApiServer({
      em: orm.em,
      accessTokens,
      descriptors: loadDescriptorRegistry(),
      logger,
      shutdownGraceMs: config.shutdownGraceMs,
    });
    const port = await server.start(config.port);
    return {
      port,
      async stop() {
        await server.stop();
        await orm.close(true);
      },
    };
  } catch (error) {
    await orm.close(true);
    throw error;
  }
}
