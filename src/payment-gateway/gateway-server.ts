import type { FileRegistry } from "@bufbuild/protobuf";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Logger } from "../logging/logger.js";
import { createRpcServer, type RpcServer } from "../rpc/rpc-server.js";
import type { Telemetry } from "../telemetry/telemetry.js";
import { createCharges } from "./charges.js";
import type { FaultInjection } from "./faults.js";
import { registerGatewayService } from "./gateway-rpc.js";

export const PAYMENT_ERROR_DOMAIN = "payment.v1";

export interface GatewayServerDependencies {
  em: EntityManager;
  faults: FaultInjection;
  descriptors: FileRegistry;
  logger: Logger;
  telemetry?: Telemetry;
  shutdownGraceMs: number;
}

/** The MockPaymentGateway's own server, on its own port. Unstarted. */
export function buildGatewayServer(deps: GatewayServerDependencies): RpcServer {
  const charges = createCharges({ em: deps.em, faults: deps.faults, logger: deps.logger });
  return createRpcServer({
    errorDomain: PAYMENT_ERROR_DOMAIN,
    // Internal and unauthenticated: no web page may call it.
    cors: false,
    descriptors: deps.descriptors,
    logger: deps.logger,
    telemetry: deps.telemetry,
    shutdownGraceMs: deps.shutdownGraceMs,
    routes(router) {
      registerGatewayService(router, charges);
    },
  });
}
