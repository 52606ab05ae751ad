/**
 * The baselines the shop API's one-port listener is compared with, on a bare
 * `http2.createServer` (no preface sniffing, no connection limits), as their own process:
 * - `BASELINE=same-stack`: the API's own request handling (interceptors, authentication, the
 *   routes), as buildApiServer makes it: the difference is the one-port listener alone;
 * - `BASELINE=bare`: the same routes on connect-node alone, without our interceptors: the
 *   difference is our whole server layer.
 * Env: PORT, DATABASE_URL (already migrated), PAYMENT_GATEWAY_URL, JWT_SECRET.
 */
import http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Health } from "../../gen/health/v1/health_pb.js";
import { buildApiServer } from "../../src/api/api-server.js";
import { createAccessTokens } from "../../src/auth/access-tokens.js";
import { createAccounts } from "../../src/auth/accounts.js";
import { registerAuthService } from "../../src/auth/auth-rpc.js";
import { createCatalogue } from "../../src/inventory/catalogue.js";
import { registerInventoryService } from "../../src/inventory/inventory-rpc.js";
import { createStock } from "../../src/inventory/stock.js";
import { createLogger } from "../../src/logging/logger.js";
import { registerOrderService } from "../../src/orders/order-rpc.js";
import { createOrders } from "../../src/orders/orders.js";
import { createPaymentGatewayClient } from "../../src/orders/payment-gateway-client.js";
import { createHealthService, createHealthStatus, ServingStatus } from "../../src/rpc/health.js";
import { loadDescriptorRegistry } from "../../src/rpc/reflection.js";
import { openShopOrm } from "../../src/shop-database/shop-database.js";

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const logger = createLogger({ level: "warn", name: "plain-rpc-server" });
const orm = await openShopOrm(env("DATABASE_URL"), logger);
const accessTokens = createAccessTokens(env("JWT_SECRET"));
const orders = createOrders({
  em: orm.em,
  gateway: createPaymentGatewayClient({ baseUrl: env("PAYMENT_GATEWAY_URL"), logger }),
  logger,
});

const server = env("BASELINE") === "same-stack" ? http2.createServer(sameStack()) : http2.createServer(bare());

function sameStack() {
  const api = buildApiServer({
    em: orm.em,
    accessTokens,
    orders,
    descriptors: loadDescriptorRegistry(),
    logger,
    shutdownGraceMs: 1_000,
  });
  api.health.set(ServingStatus.SERVING);
  return api.handleRequest;
}

function bare() {
  const accounts = createAccounts({ em: orm.em, tokens: accessTokens });
  const health = createHealthStatus([]);
  health.set(ServingStatus.SERVING);
  return connectNodeAdapter({
    routes(router) {
      registerAuthService(router, accounts);
      registerInventoryService(router, createCatalogue({ em: orm.em }), createStock({ em: orm.em }));
      registerOrderService(router, orders);
      router.service(Health, createHealthService(health));
    },
  });
}

const openSessions = new Set<http2.ServerHttp2Session>();
server.on("session", (session) => {
  openSessions.add(session);
  session.once("close", () => openSessions.delete(session));
});
server.listen(Number(env("PORT")), "127.0.0.1");
process.once("SIGTERM", () => {
  server.close();
  for (const session of openSessions) session.destroy();
  void orm.close(true).then(() => process.exit(0));
});
