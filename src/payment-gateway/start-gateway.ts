import type { Running } from "../bin/process-lifecycle.js";
import type { Config } from "../config/config.js";
import type { Logger } from "../logging/logger.js";
import { loadDescriptorRegistry } from "../rpc/reflection.js";
import { buildGatewayServer } from "./gateway-server.js";

export interface RunningGateway extends Running {
  port: number;
}

/** Serves the MockPaymentGateway on config.paymentGatewayPort. */
export async function startGateway(config: Config, logger: Logger): Promise<RunningGateway> {
  const server = buildGatewayServer({
    descriptors: loadDescriptorRegistry(),
    logger,
    shutdownGraceMs: config.shutdownGraceMs,
  });
  const port = await server.start(config.paymentGatewayPort);
  return { port, stop: () => server.stop() };
}
