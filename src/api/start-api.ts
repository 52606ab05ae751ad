import { join } from "node:path";
import type { FileRegistry } from "@bufbuild/protobuf";
import { AuthService } from "../../gen/shop/v1/auth_service_pb.js";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { OrderService } from "../../gen/shop/v1/order_service_pb.js";
import { createAccessTokens } from "../auth/access-tokens.js";
import { createAccounts } from "../auth/accounts.js";
import { resolveJwtSecret } from "../auth/jwt-secret.js";
import type { Config } from "../config/config.js";
import { watchDatabase } from "../db/database-watch.js";
import type { Logger } from "../logging/logger.js";
import { createDevMailbox } from "../notifications/dev-mailbox.js";
import { createEmailRenderer } from "../notifications/email-templates.js";
import { createOrders } from "../orders/orders.js";
import { createPaymentGatewayClient } from "../orders/payment-gateway-client.js";
import { startRecoveryLoop } from "../orders/recovery-loop.js";
import type { Running } from "../process/lifecycle.js";
import type { PageHandler } from "../rpc/cleartext-server.js";
import { localUrlHost } from "../rpc/listen-address.js";
import { loadDescriptorRegistry } from "../rpc/reflection.js";
import { openShopDatabase } from "../shop-database/shop-database.js";
import { observeConnectionPools } from "../telemetry/connection-pools.js";
import { NO_TELEMETRY, type Telemetry } from "../telemetry/telemetry.js";
import { buildApiServer } from "./api-server.js";
import { createLandingPage } from "./landing-page.js";

export interface RunningApi extends Running {
  port: number;
}

/**
 * Migrates the shop database, creates or updates the configured admin, then serves the
 * public API on config.host and config.port, reporting through `telemetry`.
 */
export async function startApi(
  config: Config,
  databaseUrl: string,
  logger: Logger,
  telemetry: Telemetry = NO_TELEMETRY,
): Promise<RunningApi> {
  const orm = await openShopDatabase(databaseUrl, logger);
  try {
    observeConnectionPools(telemetry.meter, { shop: await orm.em.getConnection().getNativeClient() });
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
        telemetry,
      }),
      logger,
      meter: telemetry.meter,
    });
    const descriptors = loadDescriptorRegistry();
    const server = buildApiServer({
      em: orm.em,
      accessTokens,
      orders,
      descriptors,
      logger,
      telemetry,
      shutdownGraceMs: config.shutdownGraceMs,
      pages: config.nodeEnv === "production" ? undefined : developmentPages(config, descriptors, logger),
    });
    const port = await server.start(config.port, config.host);
    const database = watchDatabase(orm.em, (up) => server.health.setDependency("database", up), logger);
    const recovery = startRecoveryLoop(orders, {
      intervalMs: config.orderRecoveryIntervalMs,
      pendingTimeoutMs: config.orderPendingTimeoutMs,
      logger,
    });
    return {
      port,
      async stop() {
        await database.stop();
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

/**
 * What a person developing on the API finds on its port with a browser: the landing page at /,
 * and without SMTP_URL, where emails go to the development sink, the mailbox showing them.
 */
function developmentPages(config: Config, descriptors: FileRegistry, logger: Logger): PageHandler {
  const mailbox =
    config.smtpUrl === undefined
      ? createDevMailbox({
          mailDir: join(config.dataDir, "mail"),
          renderer: createEmailRenderer(config, { rereadFiles: true }),
          logger,
        })
      : undefined;
  const landing = createLandingPage({
    descriptors,
    services: [AuthService.typeName, InventoryService.typeName, OrderService.typeName],
    shopName: config.shop.name,
    mailbox: mailbox !== undefined,
  });
  return (req, res) => landing(req, res) || (mailbox?.(req, res) ?? false);
}
