import type { FileRegistry } from "@bufbuild/protobuf";
import { MockPaymentGatewayService } from "../../gen/payment/v1/mock_payment_gateway_service_pb.js";
import type { Logger } from "../logging/logger.js";
import { createRpcServer, type RpcServer } from "../rpc/rpc-server.js";
import { registerUnimplemented } from "../rpc/unimplemented.js";

export const PAYMENT_ERROR_DOMAIN = "payment.v1";

export interface GatewayServerDependencies {
  descriptors: FileRegistry;
  logger: Logger;
  shutdownGraceMs: number;
}

/** The MockPaymentGateway's own server, on its own port. Unstarted. */
export function buildGatewayServer(deps: GatewayServerDependencies): RpcServer {
  return createRpcServer({
    errorDomain: PAYMENT_ERROR_DOMAIN,
    // Internal and unauthenticated: no web page may call it.
    cors: false,
    descriptors: deps.descriptors,
    logger: deps.logger,
    shutdownGraceMs: deps.shutdownGraceMs,
    routes(router) {
      registerUnimplemented(router, MockPaymentGatewayService, "charges arrive with the orders-and-payment issue");
    },
  });
}
