import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService } from "../../gen/shop/v1/auth_service_pb.js";
import { InventoryService, type Product } from "../../gen/shop/v1/inventory_service_pb.js";
import { TEST_JWT_SECRET } from "./rpc-server.js";
import type { Deployable as Process } from "./spawn-deployable.js";
import { spawnDeployable } from "./spawn-deployable.js";

export type DeployableName = "payment-gateway" | "shop-api" | "email-worker";

export interface SystemProcesses {
  processes: Record<DeployableName, Process>;
  apiUrl: string;
  /** Where each serves /metrics. */
  metricsPorts: Record<DeployableName, number>;
  /** Signs up a customer through the API and returns its call options. */
  customer(): Promise<{ headers: Record<string, string> }>;
  /** A product with plenty of stock, created by the admin through the API. */
  product(stock?: number): Promise<Product>;
  /** SIGTERM to each, the API first; resolves with their exit codes. */
  stop(): Promise<Record<DeployableName, number | null>>;
}

const ADMIN = { email: "admin@system.example", password: "system admin password" };

/**
 * The three deployables, each its own process as in production, on one database: the
 * gateway, the API charging through it, and the worker sending to `smtpUrl`. `env` adds
 * variables to every one of them, `envOf` to one.
 */
export async function startSystemProcesses(options: {
  databaseUrl: string;
  smtpUrl: string;
  env?: Record<string, string>;
  envOf?: Partial<Record<DeployableName, Record<string, string>>>;
}): Promise<SystemProcesses> {
  const started: Process[] = [];
  const start = async (name: DeployableName, entry: string, env: Record<string, string>) => {
    const process = spawnDeployable(entry, {
      DATABASE_URL: options.databaseUrl,
      ...options.env,
      ...env,
      ...options.envOf?.[name],
    });
    started.push(process);
    const [listening, metrics] = await Promise.all([
      process.waitForLog((line) => line.event === "server.listening"),
      process.waitForLog((line) => line.event === "metrics.listening"),
    ]);
    return { process, port: listening.port as number, metricsPort: metrics.port as number };
  };
  try {
    const gateway = await start("payment-gateway", "payment-gateway", { PAYMENT_GATEWAY_PORT: "0" });
    const api = await start("shop-api", "api", {
      PORT: "0",
      PAYMENT_GATEWAY_URL: `http://127.0.0.1:${gateway.port}`,
      JWT_SECRET: TEST_JWT_SECRET,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    });
    const worker = await start("email-worker", "worker", { WORKER_PORT: "0", SMTP_URL: options.smtpUrl });
    await worker.process.waitForLog((line) => line.event === "worker.started");

    const apiUrl = `http://127.0.0.1:${api.port}`;
    const transport = createGrpcTransport({ baseUrl: apiUrl });
    const auth = createClient(AuthService, transport);
    const tokenOf = async (email: string, password: string) =>
      `Bearer ${(await auth.login({ email, password })).accessToken}`;
    const admin = { headers: { authorization: await tokenOf(ADMIN.email, ADMIN.password) } };
    const processes = { "payment-gateway": gateway.process, "shop-api": api.process, "email-worker": worker.process };
    return {
      processes,
      apiUrl,
      metricsPorts: {
        "payment-gateway": gateway.metricsPort,
        "shop-api": api.metricsPort,
        "email-worker": worker.metricsPort,
      },
      async customer() {
        const email = `customer-${randomUUID()}@system.example`;
        const password = `pw-${randomUUID()}`;
        await auth.register({ email, password, displayName: "System customer" });
        return { headers: { authorization: await tokenOf(email, password) } };
      },
      async product(stock = 100) {
        const { product } = await createClient(InventoryService, transport).createProduct(
          {
            sku: `SYS-${randomUUID().slice(0, 8).toUpperCase()}`,
            name: "System test product",
            unitPrice: { currencyCode: "EUR", amountMinor: 1250n },
            initialStock: stock,
          },
          admin,
        );
        if (!product) throw new Error("CreateProduct returned no product");
        return product;
      },
      async stop() {
        const codes = {} as Record<DeployableName, number | null>;
        for (const name of ["shop-api", "email-worker", "payment-gateway"] as const) {
          processes[name].child.kill("SIGTERM");
          codes[name] = await processes[name].exited;
        }
        return codes;
      },
    };
  } catch (error) {
    for (const process of started) process.child.kill("SIGKILL");
    throw error;
  }
}
