import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/health/v1/health_pb.js";
import { AuthService, Role } from "../../gen/shop/v1/auth_service_pb.js";
import { isListening, ownNetworkAddress } from "../support/network.js";
import { createScratchDatabase } from "../support/scratch-database.js";
import { spawnDeployable } from "../support/spawn-deployable.js";

const healthcheck = (port: string) =>
  promisify(execFile)(process.execPath, ["--import", "tsx", "src/bin/healthcheck.ts", port], {
    env: { PATH: process.env.PATH ?? "" },
  });

describe("each deployable runs alone, as a container runs it", () => {
  let database: { url: string; drop: () => Promise<void> };
  beforeAll(async () => {
    database = await createScratchDatabase("deployables");
  });
  afterAll(() => database.drop());

  it.each([
    ["api", { PORT: "0" }, "shop.v1.OrderService"],
    ["payment-gateway", { PAYMENT_GATEWAY_PORT: "0" }, "payment.v1.MockPaymentGatewayService"],
    ["worker", { WORKER_PORT: "0" }, ""],
  ])("%s: serves, reports SERVING, and exits 0 on SIGTERM", async (entry, env, service) => {
    const deployable = spawnDeployable(entry, { DATABASE_URL: database.url, ...env });
    const listening = await deployable.waitForLog((line) => line.event === "server.listening");
    const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${listening.port}` }));
    expect((await health.check({ service })).status).toBe(ServingStatus.SERVING);
    // The container image's HEALTHCHECK asks the same.
    expect((await healthcheck(String(listening.port))).stdout).toBe(`health on port ${listening.port}: SERVING\n`);

    deployable.child.kill("SIGTERM");
    expect(await deployable.exited).toBe(0);
    expect(deployable.logs.map((line) => line.event)).toEqual(
      expect.arrayContaining(["process.stopping", "server.stopped", "process.stopped"]),
    );
  });

  it("api: answers this machine only, unless HOST opens it to others", async () => {
    const address = ownNetworkAddress();
    for (const [host, othersReach] of [
      [undefined, false],
      ["::", true],
    ] as const) {
      const api = spawnDeployable("api", { DATABASE_URL: database.url, PORT: "0", ...(host && { HOST: host }) });
      const { port } = await api.waitForLog((line) => line.event === "server.listening");
      expect(await isListening(port as number, "127.0.0.1")).toBe(true);
      if (address !== undefined) expect(await isListening(port as number, address), `HOST=${host}`).toBe(othersReach);
      api.child.kill("SIGTERM");
      expect(await api.exited).toBe(0);
    }
  });

  it("api: creates the admin named by ADMIN_EMAIL and ADMIN_PASSWORD at start-up", async () => {
    const api = spawnDeployable("api", {
      DATABASE_URL: database.url,
      PORT: "0",
      ADMIN_EMAIL: "Boss@Example.com",
      ADMIN_PASSWORD: "configured admin password",
    });
    const listening = await api.waitForLog((line) => line.event === "server.listening");
    const auth = createClient(AuthService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${listening.port}` }));
    const session = await auth.login({ email: "boss@example.com", password: "configured admin password" });
    expect(session.user?.role).toBe(Role.ADMIN);
    api.child.kill("SIGTERM");
    expect(await api.exited).toBe(0);
  });

  it("worker: starts alone on a database nothing has migrated yet, as on a first deploy", async () => {
    const fresh = await createScratchDatabase("deployables_fresh");
    try {
      const worker = spawnDeployable("worker", { DATABASE_URL: fresh.url, WORKER_PORT: "0" });
      await worker.waitForLog((line) => line.event === "worker.started");
      worker.child.kill("SIGTERM");
      expect(await worker.exited).toBe(0);
    } finally {
      await fresh.drop();
    }
  });

  it("healthcheck: fails, saying why, when nothing serves on the port", async () => {
    const refused = await healthcheck("9").catch((error: { code: number; stdout: string }) => error);
    expect(refused).toMatchObject({ code: 1, stdout: expect.stringMatching(/^health on port 9: Unavailable/) });
  });

  it("refuses to start on bad configuration, naming every offending variable", async () => {
    const api = spawnDeployable("api", { PORT: "eighty", LOG_LEVEL: "chatty", NODE_ENV: "production" });
    expect(await api.exited).toBe(1);
    expect(api.stderr()).toContain('PORT must be a whole number from 0 to 65535, got "eighty"');
    expect(api.stderr()).toContain("LOG_LEVEL must be one of");
    expect(api.stderr()).toContain("JWT_SECRET is required when NODE_ENV=production");
  });
});
