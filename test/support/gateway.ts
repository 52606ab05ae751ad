import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { inject } from "vitest";
import { MockPaymentGatewayService } from "../../gen/payment/v1/mock_payment_gateway_service_pb.js";
import type { Orm } from "../../src/db/orm.js";
import type { Logger } from "../../src/logging/logger.js";
import { type FaultInjection, NO_FAULTS } from "../../src/payment-gateway/faults.js";
import { openGatewayDatabase } from "../../src/payment-gateway/gateway-database.js";
import { buildGatewayServer } from "../../src/payment-gateway/gateway-server.js";
import { loadDescriptorRegistry } from "../../src/rpc/reflection.js";
import { testLogger } from "./silent-logger.js";

export interface RunningTestGateway {
  baseUrl: string;
  client: Client<typeof MockPaymentGatewayService>;
  orm: Orm;
  stop(): Promise<void>;
}

/** The real MockPaymentGateway on the run's database (or `databaseUrl`), over real gRPC. */
export async function startTestGateway(
  faults: Partial<FaultInjection> = {},
  options: { port?: number; databaseUrl?: string; logger?: Logger } = {},
): Promise<RunningTestGateway> {
  const orm = await openGatewayDatabase(options.databaseUrl ?? inject("databaseUrl"), testLogger);
  const server = buildGatewayServer({
    em: orm.em,
    faults: { ...NO_FAULTS, ...faults },
    descriptors: loadDescriptorRegistry(),
    logger: options.logger ?? testLogger,
    shutdownGraceMs: 2_000,
  });
  const port = await server.start(options.port ?? 0, "127.0.0.1");
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    orm,
    client: createClient(MockPaymentGatewayService, createGrpcTransport({ baseUrl })),
    async stop() {
      await server.stop();
      await orm.close(true);
    },
  };
}

/** A card that expires a few years from now. */
export function testCard(number: string) {
  return { number, expMonth: 12, expYear: new Date().getUTCFullYear() + 3, cvc: "123" };
}
