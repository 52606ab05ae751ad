import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openShopDatabase } from "../../src/shop-database/shop-database.js";
import { createScratchDatabase } from "../support/scratch-database.js";
import { testLogger } from "../support/silent-logger.js";
import { type Deployable, spawnDeployable } from "../support/spawn-deployable.js";

/**
 * A TCP proxy to the database that can stop answering: what the process sees of a database
 * whose host hangs (a network partition), where queries neither fail nor return.
 */
async function startHangingProxy(target: URL): Promise<{ url: string; hang(): void; close(): void }> {
  let hanging = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
    }
    client.on("data", (chunk) => hanging || upstream.write(chunk));
    upstream.on("data", (chunk) => hanging || client.write(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(target);
  url.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    url: url.toString(),
    hang: () => {
      hanging = true;
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe("/metrics when the database hangs", () => {
  let database: { url: string; drop: () => Promise<void> };
  let proxy: Awaited<ReturnType<typeof startHangingProxy>>;
  let worker: Deployable;
  beforeAll(async () => {
    database = await createScratchDatabase("metrics_without_database");
    // Migrated, as the API does it: the worker reads the orders' outbox.
    await (await openShopDatabase(database.url, testLogger)).close(true);
    proxy = await startHangingProxy(new URL(database.url));
    worker = spawnDeployable("worker", { DATABASE_URL: proxy.url, WORKER_PORT: "0", SMTP_URL: "smtp://127.0.0.1:9" });
    await worker.waitForLog((line) => line.event === "worker.started");
  });
  afterAll(async () => {
    worker?.child.kill("SIGKILL");
    proxy?.close();
    await database?.drop();
  });

  it("when the database stops answering, then /metrics still answers, in the time its database reads are given", async () => {
    const { port } = await worker.waitForLog((line) => line.event === "metrics.listening");
    const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(await scrape()).toMatch(/^shop_emails_waiting\{stage="queue"\} 0$/m);

    proxy.hang();
    const startedAt = performance.now();
    const metrics = await scrape();
    expect(performance.now() - startedAt).toBeLessThan(10_000); // Prometheus's default scrape timeout
    expect(metrics).toMatch(/^process_cpu_time_total\{cpu_mode="user"\} /m);
  });
});
