import type { FileRegistry } from "@bufbuild/protobuf";
import { AuthService } from "../../gen/shop/v1/auth_service_pb.js";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { OrderService } from "../../gen/shop/v1/order_service_pb.js";
import type { Logger } from "../logging/logger.js";
import { createRpcServer, type RpcServer } from "../rpc/rpc-server.js";
import { registerUnimplemented } from "../rpc/unimplemented.js";

export const SHOP_ERROR_DOMAIN = "shop.v1";

export interface ApiServerDependencies {
  descriptors: FileRegistry;
  logger: Logger;
  shutdownGraceMs: number;
}

/** The shop's public API: AuthService, InventoryService and OrderService. Unstarted. */
export function buildApiServer(deps: ApiServerDependencies): RpcServer {
  return createRpcServer({
    errorDomain: SHOP_ERROR_DOMAIN,
    descriptors: deps.descriptors,
    logger: deps.logger,
    shutdownGraceMs: deps.shutdownGraceMs,
    routes(router) {
      registerUnimplemented(router, AuthService, "accounts arrive with the accounts-and-inventory issue");
      registerUnimplemented(router, InventoryService, "the catalogue arrives with the accounts-and-inventory issue");
      registerUnimplemented(router, OrderService, "orders arrive with the orders-and-payment issue");
    },
  });
}
