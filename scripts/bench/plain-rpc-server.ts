/**
 * The baseline the shop API is compared with: the same routes on a bare
 * `http2.createServer(connectNodeAdapter({ routes }))`, without the one-port preface sniffing
 * and without our interceptors (request ids, access log, error mapping, authentication), so
 * the ratio charges the whole of our server layer against connect-node itself. Only the
 * empty RPC is measured on it. Run as its own process, as the API is: PORT, DATABASE_URL
 * (already migrated) and PAYMENT_GATEWAY_URL.
 */
import http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Health } from "../../gen/health/v1/health_pb.js";
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
import { openShopOrm } from "../../src/shop-database/shop-database.js";

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const logger = createLogger({ level: "warn", name: "plain-rpc-server" });
const orm = await openShopOrm(env("DATABASE_URL"), logger, 2);
const accounts = createAccounts({ em: orm.em, tokens: createAccessTokens("x".repeat(32)) });
const orders = createOrders({
  em: orm.em,
  gateway: createPaymentGatewayClient({ baseUrl: env("PAYMENT_GATEWAY_URL"), logger }),
  logger,
});
const health = createHealthStatus([]);
const server = http2.createServer(
  connectNodeAdapter({
    routes(router) {
      registerAuthService(router, accounts);
      registerInventoryService(router, createCatalogue({ em: orm.em }), createStock({ em: orm.em }));
      registerOrderService(router, orders);
      router.service(Health, createHealthService(health));
    },
  }),
);
const openSessions = new Set<http2.ServerHttp2Session>();
server.on("session", (session) => {
  openSessions.add(session);
  session.once("close", () => openSessions.delete(session));
});
server.listen(Number(env("PORT")), "127.0.0.1", () => health.set(ServingStatus.SERVING));
process.once("SIGTERM", () => {
  server.close();
  for (const session of openSessions) session.destroy();
  void orm.close(true).then(() => process.exit(0));
});
