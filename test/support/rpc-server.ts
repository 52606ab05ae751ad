import type { ConnectRouter } from "@connectrpc/connect";
import { inject } from "vitest";
import { buildApiServer } from "../../src/api/api-server.js";
import { type AccessTokens, createAccessTokens } from "../../src/auth/access-tokens.js";
import type { Orm } from "../../src/db/orm.js";
import type { Logger } from "../../src/logging/logger.js";
import { createOrders, type Orders } from "../../src/orders/orders.js";
import { createPaymentGatewayClient } from "../../src/orders/payment-gateway-client.js";
import { loadDescriptorRegistry } from "../../src/rpc/reflection.js";
import { createRpcServer, type RpcServer, type RpcServerOptions } from "../../src/rpc/rpc-server.js";
import { openShopDatabase } from "../../src/shop-database/shop-database.js";
import { testLogger } from "./silent-logger.js";

export interface ListeningServer {
  server: RpcServer;
  baseUrl: string;
  port: number;
  /** Stops the server and closes what it opened. */
  stop(): Promise<void>;
}

export interface ListeningApi extends ListeningServer {
  orm: Orm;
  accessTokens: AccessTokens;
  orders: Orders;
}

export const TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-signing";

const descriptors = loadDescriptorRegistry();

/** Where no gateway listens: for suites that never place an order. */
const NO_GATEWAY = "http://127.0.0.1:9";

/**
 * The real shop API on the run's database (or `databaseUrl`), listening on a free port of
 * 127.0.0.1, calling the payment gateway at `gatewayUrl` over gRPC.
 */
export async function startApiServer(
  options: { gatewayUrl?: string; databaseUrl?: string; logger?: Logger } = {},
): Promise<ListeningApi> {
  const logger = options.logger ?? testLogger;
  const orm = await openShopDatabase(options.databaseUrl ?? inject("databaseUrl"), testLogger);
  const accessTokens = createAccessTokens(TEST_JWT_SECRET);
  const gateway = createPaymentGatewayClient({
    baseUrl: options.gatewayUrl ?? NO_GATEWAY,
    logger,
    timeoutMs: 2_000,
    backoffMs: 20,
  });
  const orders = createOrders({ em: orm.em, gateway, logger });
  const server = buildApiServer({
    em: orm.em,
    accessTokens,
    orders,
    descriptors,
    logger,
    shutdownGraceMs: 5_000,
  });
  const listening = await listen(server, () => orm.close(true));
  return { ...listening, orm, accessTokens, orders };
}

/** Our server infrastructure around routes a test controls. */
export async function startServerWith(
  routes: (router: ConnectRouter) => void,
  options: Partial<Pick<RpcServerOptions, "shutdownGraceMs" | "connectionLimits" | "logger">> = {},
): Promise<ListeningServer> {
  return listen(
    createRpcServer({
      routes,
      errorDomain: "shop.v1",
      cors: true,
      descriptors,
      logger: options.logger ?? testLogger,
      shutdownGraceMs: options.shutdownGraceMs ?? 5_000,
      connectionLimits: options.connectionLimits,
    }),
  );
}

async function listen(server: RpcServer, close: () => Promise<void> = async () => {}): Promise<ListeningServer> {
  const port = await server.start(0, "127.0.0.1");
  return {
    server,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    async stop() {
      await server.stop();
      await close();
    },
  };
}
