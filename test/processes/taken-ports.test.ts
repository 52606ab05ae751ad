import { readdirSync } from "node:fs";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { freePorts } from "../support/network.js";
import { createScratchDatabase } from "../support/scratch-database.js";
import { spawnDeployable, spawnNpmScript } from "../support/spawn-deployable.js";
import { temporaryDirectory } from "../support/temp-dirs.js";

const LIKELY_CAUSE = "another `npm start` (or one of its servers) is probably running.";

describe("ports already in use, as another npm start holds them", () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Listens on 127.0.0.1:port, as some other process would. */
  async function takePort(port: number): Promise<void> {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => squatter.close(resolve)));
  }

  it("npm start refuses in one line naming the variable and the likely cause, before creating anything", async () => {
    const [port, gatewayPort, workerPort] = await freePorts(3);
    await takePort(workerPort as number);
    const dataDir = temporaryDirectory("taken-ports");
    const npm = spawnNpmScript("start", {
      DATA_DIR: dataDir,
      PORT: String(port),
      PAYMENT_GATEWAY_PORT: String(gatewayPort),
      WORKER_PORT: String(workerPort),
    });

    expect(await npm.exited).toBe(1);
    expect(npm.stderr()).toBe(
      `shop-dev: WORKER_PORT ${workerPort} on 127.0.0.1 is already in use: ${LIKELY_CAUSE} Stop it, or set WORKER_PORT to a free port.\n`,
    );
    expect(readdirSync(dataDir)).toEqual([]); // no database was created, migrated or seeded
  });

  it("names every port taken at once", async () => {
    const ports = await freePorts(3);
    for (const port of ports) await takePort(port);
    const [port, gatewayPort, workerPort] = ports;
    const dev = spawnDeployable("dev", {
      DATA_DIR: temporaryDirectory("taken-ports"),
      PORT: String(port),
      PAYMENT_GATEWAY_PORT: String(gatewayPort),
      WORKER_PORT: String(workerPort),
    });

    expect(await dev.exited).toBe(1);
    expect(dev.stderr()).toBe(
      `shop-dev: PORT ${port}, PAYMENT_GATEWAY_PORT ${gatewayPort} and WORKER_PORT ${workerPort} on 127.0.0.1 are already in use: ${LIKELY_CAUSE} Stop it, or set those variables to free ports.\n`,
    );
  });

  it("a HOST that is not this machine's is named as such", async () => {
    const dev = spawnDeployable("dev", { DATA_DIR: temporaryDirectory("taken-ports"), HOST: "192.0.2.1" }); // TEST-NET-1: nobody's
    expect(await dev.exited).toBe(1);
    expect(dev.stderr()).toBe(
      "shop-dev: HOST 192.0.2.1 is not an address of this machine: use 127.0.0.1 (this machine only) or :: (every interface).\n",
    );
  });

  it("a deployable run alone says the same of its own port", async () => {
    const [port] = await freePorts(1);
    await takePort(port as number);
    const database = await createScratchDatabase("taken_ports");
    cleanups.push(() => database.drop());
    const api = spawnDeployable("api", { DATABASE_URL: database.url, PORT: String(port) });

    expect(await api.exited).toBe(1);
    expect(api.stderr()).toBe(
      `shop-api: PORT ${port} on 127.0.0.1 is already in use: ${LIKELY_CAUSE} Stop it, or set PORT to a free port.\n`,
    );
  });
});
