import { join } from "node:path";
import { createAccessTokens } from "../auth/access-tokens.js";
import { createAccounts } from "../auth/accounts.js";
import { resolveJwtSecret } from "../auth/jwt-secret.js";
import type { Config } from "../config/config.js";
import { openShopDatabase } from "../db/shop-database.js";
import type { Logger } from "../logging/logger.js";
import { createDevMailbox } from "../notifications/dev-mailbox.js";
import { createEmailRenderer } from "../notifications/email-templates.js";
import { createOrders } from "../orders/orders.js";
import { createPaymentGatewayClient } from "../orders/payment-gateway-client.js";
import { startRecoveryLoop } from "../orders/recovery-loop.js";
import type { Running } from "../process/lifecycle.js";
import { localUrlHost } from "../rpc/listen-address.js";
import { loadDescriptorRegistry } from "../rpc/reflection.js";
import { buildApiServer } from "./api-server.js";

const RECOVERY_INTERVAL_MS = 15_000;

export interface RunningApi extends Running {
  port: number;
}

/**
 * Migrates the shop database, creates or updates the configured admin, then serves the
 * public API on config.host and config.port.
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
    const orders = createOrders({
      em: orm.em,
      gateway: createPaymentGatewayClient({
        baseUrl: config.paymentGatewayUrl ?? `http://${localUrlHost(config.host)}:${config.paymentGatewayPort}`,
        logger,
      }),
      logger,
    });
    const server = buildApiServer({
      em: orm.em,
      accessTokens,
      orders,
      descriptors: loadDescriptorRegistry(),
      logger,
      shutdownGraceMs: config.shutdownGraceMs,
      // Without SMTP_URL the emails go to the development sink, and are shown here.
      pages:
        config.smtpUrl === undefined && config.nodeEnv !== "production"
          ? createDevMailbox({
              mailDir: join(config.dataDir, "mail"),
              renderer: createEmailRenderer(config, { rereadFiles: true }),
              logger,
            })
          : undefined,
    });
    const port = await server.start(config.port, config.host);
    const recovery = startRecoveryLoop(orders, {
      intervalMs: RECOVERY_INTERVAL_MS,
      pendingTimeoutMs: config.orderPendingTimeoutMs,
      logger,
    });
    return {
      port,
      async stop() {
        await server.stop();
        await recovery.stop();
        await orm.close(true);
      },
    };
  } catch (error) {
    await orm.close(true);
    throw error;
  }
}
