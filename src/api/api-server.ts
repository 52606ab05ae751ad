import type { FileRegistry } from "@bufbuild/protobuf";
import type { EntityManager } from "@mikro-orm/postgresql";
import { Health } from "../../gen/health/v1/health_pb.js";
import type { AccessTokens } from "../auth/access-tokens.js";
import { createAccounts } from "../auth/accounts.js";
import { authAccess, registerAuthService } from "../auth/auth-rpc.js";
import { type Access, createAuthenticationInterceptor } from "../auth/authentication-rpc.js";
import { createCatalogue } from "../inventory/catalogue.js";
import { inventoryAccess, registerInventoryService } from "../inventory/inventory-rpc.js";
import { createStock } from "../inventory/stock.js";
import type { Logger } from "../logging/logger.js";
import { orderAccess, registerOrderService } from "../orders/order-rpc.js";
import type { Orders } from "../orders/orders.js";
import { REFLECTION_SERVICE_NAMES } from "../rpc/reflection.js";
import { createRpcServer, type RpcServer, type RpcServerOptions } from "../rpc/rpc-server.js";
import type { Telemetry } from "../telemetry/telemetry.js";

export const SHOP_ERROR_DOMAIN = "shop.v1";

export interface ApiServerDependencies {
  em: EntityManager;
  accessTokens: AccessTokens;
  orders: Orders;
  descriptors: FileRegistry;
  logger: Logger;
  telemetry?: Telemetry;
  shutdownGraceMs: number;
  /** Web pages served on the API's port besides the RPCs (the development mailbox). */
  pages?: RpcServerOptions["pages"];
}

/** Health and reflection answer anyone, as load balancers and tools expect. */
const infrastructureAccess: [string, Access][] = [
  ...["Check", "Watch", "List"].map((method): [string, Access] => [`${Health.typeName}/${method}`, "public"]),
  ...REFLECTION_SERVICE_NAMES.map((service): [string, Access] => [`${service}/ServerReflectionInfo`, "public"]),
];

/** The shop's public API: AuthService, InventoryService and OrderService. Unstarted. */
export function buildApiServer(deps: ApiServerDependencies): RpcServer {
  const accounts = createAccounts({ em: deps.em, tokens: deps.accessTokens });
  const catalogue = createCatalogue({ em: deps.em });
  const stock = createStock({ em: deps.em });
  const policy = new Map([...infrastructureAccess, ...authAccess, ...inventoryAccess, ...orderAccess]);

  return createRpcServer({
    errorDomain: SHOP_ERROR_DOMAIN,
    cors: true,
    descriptors: deps.descriptors,
    logger: deps.logger,
    telemetry: deps.telemetry,
    shutdownGraceMs: deps.shutdownGraceMs,
    interceptors: [createAuthenticationInterceptor(accounts, policy)],
    pages: deps.pages,
    routes(router) {
      registerAuthService(router, accounts);
      registerInventoryService(router, catalogue, stock);
      registerOrderService(router, deps.orders);
    },
  });
}
