import type { Config } from "../config/config.js";
import { watchDatabase } from "../db/database-watch.js";
import type { Logger } from "../logging/logger.js";
import type { Running } from "../process/lifecycle.js";
import { loadDescriptorRegistry } from "../rpc/reflection.js";
import { observeConnectionPools } from "../telemetry/connection-pools.js";
import { NO_TELEMETRY, type Telemetry } from "../telemetry/telemetry.js";
import { openGatewayDatabase } from "./gateway-database.js";
import { buildGatewayServer } from "./gateway-server.js";

export interface RunningGateway extends Running {
  port: number;
}

/** Migrates the gateway's own schema, then serves the MockPaymentGateway on its port. */
export async function startGateway(
  config: Config,
  databaseUrl: string,
  logger: Logger,
  telemetry: Telemetry = NO_TELEMETRY,
): Promise<RunningGateway> {
  const orm = await openGatewayDatabase(databaseUrl, logger);
  try {
    observeConnectionPools(telemetry.meter, { payment: await orm.em.getConnection().getNativeClient() });
    const faults = config.paymentFaults;
    if (faults.latencyMs > 0 || faults.failureRate > 0 || faults.hangCharges) {
      logger.warn({ event: "payment.faults_injected", ...faults }, "fault injection is on");
    }
    const server = buildGatewayServer({
      em: orm.em,
      faults,
      descriptors: loadDescriptorRegistry(),
      logger,
      telemetry,
      shutdownGraceMs: config.shutdownGraceMs,
    });
    const port = await server.start(config.paymentGatewayPort, config.host);
    const database = watchDatabase(orm.em, (up) => server.health.setDependency("database", up), logger);
    return {
      port,
      async stop() {
        await database.stop();
        await server.stop();
        await orm.close(true);
      },
    };
  } catch (error) {
    await orm.close(true);
    throw error;
  }
}
