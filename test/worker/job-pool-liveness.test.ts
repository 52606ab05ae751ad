import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/health/v1/health_pb.js";
import { loadConfig } from "../../src/config/config.js";
import { SEND_ORDER_EMAIL_TASK } from "../../src/notifications/email-jobs.js";
import { startJobPoolLiveness } from "../../src/worker/job-pool-liveness.js";
import { startWorker } from "../../src/worker/start-worker.js";
import { useOrderApi } from "../support/order-fixture.js";
import { testLogger } from "../support/silent-logger.js";
import { startSmtpCatcher } from "../support/smtp-catcher.js";
import { spawnDeployable } from "../support/spawn-deployable.js";
import { createUser } from "../support/users.js";

const MAIL_FROM = "Test Shop <orders@shop.test>";

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`gave up waiting: ${what}`);
}

describe("an email worker killed in the middle of sending", () => {
  const fixture = useOrderApi({}, { ownDatabase: "worker_crash" });

  it("loses no email: another worker takes its jobs over, and only what was in flight arrives twice, under one Message-ID", async () => {
    const smtp = await startSmtpCatcher({ holdAnswers: true });
    const doomed = spawnDeployable("worker", {
      DATABASE_URL: fixture.databaseUrl,
      SMTP_URL: smtp.url,
      MAIL_FROM,
      WORKER_PORT: "0",
    });
    await doomed.waitForLog((line) => line.event === "worker.started");

    const customer = await createUser(fixture.api);
    const product = await fixture.product(10);
    const orderIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { order } = await fixture.place(customer, [{ productId: product.id, quantity: 1 }]);
      orderIds.push(order?.id ?? "");
    }
    await until(() => smtp.unanswered() >= 1, "the doomed worker to be mid-send");

    const queuePool = new pg.Pool({ connectionString: fixture.databaseUrl, max: 2 });
    const judge = await startJobPoolLiveness({
      databaseUrl: fixture.databaseUrl,
      queuePool,
      taskIdentifiers: [SEND_ORDER_EMAIL_TASK],
      checkIntervalMs: 60_000,
      lockGraceMs: 0,
      logger: testLogger,
      onSessionChange: () => {},
    });
    const lockedJobs = async () => {
      const { rows } = await queuePool.query<{ count: number }>(
        "select count(*)::int as count from graphile_worker.jobs where key = any($1::text[]) and locked_by is not null",
        [orderIds.map((id) => `order-confirmation:${id}`)],
      );
      return rows[0]?.count ?? 0;
    };
    // Alive, however long its SMTP server takes: its jobs are its own.
    expect(await judge.releaseJobsOfDeadPools()).toBe(0);

    doomed.child.kill("SIGKILL");
    await doomed.exited;
    const inFlight = smtp.messages.length;
    expect(await lockedJobs()).toBeGreaterThanOrEqual(1);
    await judge.stop();
    smtp.answerAll();

    const survivor = await startWorker(
      loadConfig({ SMTP_URL: smtp.url, MAIL_FROM, WORKER_PORT: "0", DATA_DIR: mkdtempSync(join(tmpdir(), "worker-")) }),
      fixture.databaseUrl,
      testLogger,
      { lockGraceMs: 0 },
    );
    try {
      for (const id of orderIds) await smtp.waitFor((mail) => mail.subject?.includes(id) ?? false);
      await until(async () => (await lockedJobs()) === 0, "the jobs to complete");
    } finally {
      await survivor.stop();
    }

    for (const id of orderIds) {
      const copies = smtp.messages.filter((mail) => mail.subject?.includes(id));
      expect(new Set(copies.map((mail) => mail.messageId))).toEqual(new Set([`<order-confirmation-${id}@shop.test>`]));
    }
    expect(smtp.messages.length - orderIds.length).toBeLessThanOrEqual(inFlight);
    const { rows } = await queuePool.query<{ count: number }>(
      `select (select count(*)::int from email_delivery where order_id = any($1::uuid[])) as count`,
      [orderIds],
    );
    expect(rows[0]?.count).toBe(orderIds.length);
    const { rows: left } = await queuePool.query("select 1 from graphile_worker.jobs where key = any($1::text[])", [
      orderIds.map((id) => `order-confirmation:${id}`),
    ]);
    expect(left).toHaveLength(0);
    await queuePool.end();
    await smtp.stop();
  });
});

describe("an email worker whose lock session is cut", () => {
  const fixture = useOrderApi({}, { ownDatabase: "worker_session" });

  it("reports NOT_SERVING until it has reconnected and holds its pool lock again", async () => {
    const worker = await startWorker(
      loadConfig({
        SMTP_URL: "smtp://127.0.0.1:9",
        WORKER_PORT: "0",
        DATA_DIR: mkdtempSync(join(tmpdir(), "worker-")),
      }),
      fixture.databaseUrl,
      testLogger,
    );
    const db = new pg.Pool({ connectionString: fixture.databaseUrl, max: 1 });
    const poolLocksHeld = async () => {
      const { rows } = await db.query<{ count: number }>(
        `select count(*)::int as count from pg_locks join pg_stat_activity using (pid)
         where locktype = 'advisory' and application_name = 'email-worker-liveness' and datname = current_database()`,
      );
      return rows[0]?.count ?? 0;
    };
    await until(async () => (await poolLocksHeld()) === 1, "the worker to lock its pool");

    const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${worker.port}` }));
    const watching = new AbortController();
    const seen: ServingStatus[] = [];
    const watched = (async () => {
      for await (const { status } of health.watch({}, { signal: watching.signal })) {
        seen.push(status);
        if (seen.includes(ServingStatus.NOT_SERVING) && status === ServingStatus.SERVING) return;
      }
    })();
    await until(() => seen.length > 0, "the first health status");

    await db.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
       where application_name = 'email-worker-liveness' and datname = current_database()`,
    );
    await watched;
    watching.abort();
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVING]);
    expect(await poolLocksHeld()).toBe(1);

    await worker.stop();
    await db.end();
  });
});
