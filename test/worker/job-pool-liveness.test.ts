import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/health/v1/health_pb.js";
import { loadConfig } from "../../src/config/config.js";
import { SEND_ORDER_EMAIL_TASK } from "../../src/notifications/email-jobs.js";
import { type JobPoolLiveness, startJobPoolLiveness } from "../../src/worker/job-pool-liveness.js";
import { type RunningWorker, startWorker, type WorkerTuning } from "../../src/worker/start-worker.js";
import { type OrderFixture, useOrderApi } from "../support/order-fixture.js";
import { testLogger } from "../support/silent-logger.js";
import { isAbout, type SmtpCatcher, startSmtpCatcher } from "../support/smtp-catcher.js";
import { spawnDeployable } from "../support/spawn-deployable.js";
import { temporaryDirectory } from "../support/temp-dirs.js";
import { until } from "../support/until.js";
import { createUser } from "../support/users.js";

const MAIL_FROM = "Test Shop <orders@shop.test>";
/** More than a worker runs at once (4), so some jobs wait while others are in flight. */
const ORDERS = 6;

function startTestWorker(databaseUrl: string, smtpUrl: string, tuning: Partial<WorkerTuning>): Promise<RunningWorker> {
  const config = loadConfig({
    SMTP_URL: smtpUrl,
    MAIL_FROM,
    WORKER_PORT: "0",
    DATA_DIR: temporaryDirectory("worker"),
  });
  return startWorker(config, databaseUrl, testLogger, tuning);
}

/** A liveness instance of the test's own, to ask which pools are dead. */
function startJudge(databaseUrl: string, lockGraceMs: number) {
  const queuePool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const judging = startJobPoolLiveness({
    databaseUrl,
    queuePool,
    taskIdentifiers: [SEND_ORDER_EMAIL_TASK],
    checkIntervalMs: 3_600_000,
    lockGraceMs,
    logger: testLogger,
    onSessionChange: () => {},
  });
  return {
    queuePool,
    judging,
    async stop() {
      await (await judging).stop();
      await queuePool.end();
    },
  };
}

/**
 * A worker process sending the confirmations of ORDERS orders to an SMTP server that keeps
 * it waiting, so that it is killed with emails in flight. `beforeKill` runs while it is
 * still alive and sending.
 */
async function killMidSend(fixture: OrderFixture, smtp: SmtpCatcher, beforeKill: () => Promise<void>) {
  const doomed = spawnDeployable("worker", {
    DATABASE_URL: fixture.databaseUrl,
    SMTP_URL: smtp.url,
    MAIL_FROM,
    WORKER_PORT: "0",
  });
  await doomed.waitForLog((line) => line.event === "worker.started");
  const customer = await createUser(fixture.api);
  const product = await fixture.product(ORDERS);
  const orderIds: string[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const { order } = await fixture.place(customer, [{ productId: product.id, quantity: 1 }]);
    orderIds.push(order?.id ?? "");
  }
  await until(() => smtp.unanswered() >= 1, "the doomed worker to be mid-send");
  await beforeKill();
  doomed.child.kill("SIGKILL");
  await doomed.exited;
  const inFlight = new Set(orderIds.filter((id) => smtp.messages.some((mail) => isAbout(mail, id))));
  return { orderIds, inFlight };
}

/** Every order's confirmation arrived, one Message-ID each; only those in flight at the kill, twice at most. */
function expectEachEmailedOnce(smtp: SmtpCatcher, orderIds: string[], inFlight: Set<string>) {
  for (const id of orderIds) {
    const copies = smtp.messages.filter((mail) => isAbout(mail, id));
    expect(new Set(copies.map((mail) => mail.messageId))).toEqual(new Set([`<order-confirmation-${id}@shop.test>`]));
    expect(copies.length).toBeLessThanOrEqual(inFlight.has(id) ? 2 : 1);
  }
}

describe("an email worker killed in the middle of sending", () => {
  const fixture = useOrderApi({}, { ownDatabase: "worker_crash" });
  let db: pg.Pool;
  beforeAll(() => {
    db = new pg.Pool({ connectionString: fixture.databaseUrl, max: 2 });
  });
  afterAll(() => db.end());

  const jobsLeft = async (orderIds: string[]) => {
    const { rows } = await db.query("select 1 from graphile_worker.jobs where key = any($1::text[])", [
      orderIds.map((id) => `order-confirmation:${id}`),
    ]);
    return rows.length;
  };

  it("loses no email: a running replica takes the dead one's jobs over at its next check", async () => {
    const smtp = await startSmtpCatcher({ holdAnswers: true });
    let survivor: RunningWorker | undefined;
    const judge = startJudge(fixture.databaseUrl, 0);
    try {
      const { orderIds, inFlight } = await killMidSend(fixture, smtp, async () => {
        // Alive, however long its SMTP server takes: its jobs are its own.
        expect(await (await judge.judging).releaseJobsOfDeadPools()).toBe(0);
        survivor = await startTestWorker(fixture.databaseUrl, smtp.url, { deadPoolCheckMs: 200, lockGraceMs: 0 });
      });
      smtp.answerAll();
      for (const id of orderIds) await smtp.waitFor((mail) => isAbout(mail, id));
      await until(async () => (await jobsLeft(orderIds)) === 0, "every job to complete");
      expectEachEmailedOnce(smtp, orderIds, inFlight);
    } finally {
      await survivor?.stop();
      await judge.stop();
      await smtp.stop();
    }
  });

  it("loses no email: a worker started after the crash takes the dead one's jobs over at once", async () => {
    const smtp = await startSmtpCatcher({ holdAnswers: true });
    const { orderIds, inFlight } = await killMidSend(fixture, smtp, async () => {});
    smtp.answerAll();
    // Checking only at start, and after jobs are 10 s old: no test waits that long.
    const replacement = await startTestWorker(fixture.databaseUrl, smtp.url, {
      deadPoolCheckMs: 3_600_000,
      lockGraceMs: 0,
    });
    try {
      for (const id of orderIds) await smtp.waitFor((mail) => isAbout(mail, id));
      await until(async () => (await jobsLeft(orderIds)) === 0, "every job to complete");
      expectEachEmailedOnce(smtp, orderIds, inFlight);
    } finally {
      await replacement.stop();
      await smtp.stop();
    }
  });
});

describe("judging a worker pool dead", () => {
  const fixture = useOrderApi({}, { ownDatabase: "worker_judge" });
  let db: pg.Pool;
  let judge: ReturnType<typeof startJudge>;
  let liveness: JobPoolLiveness;
  beforeAll(async () => {
    db = new pg.Pool({ connectionString: fixture.databaseUrl, max: 2 });
    judge = startJudge(fixture.databaseUrl, 10_000);
    liveness = await judge.judging;
  });
  afterAll(async () => {
    await judge.stop();
    await db.end();
  });
  const created: string[] = [];
  afterEach(async () => {
    await db.query("delete from graphile_worker._private_jobs where id = any($1::bigint[])", [created.splice(0)]);
  });

  /** A job far in the future, so no worker runs it, locked by `poolId` this long ago. */
  async function jobLockedBy(poolId: string, secondsAgo: number): Promise<string> {
    const { rows } = await db.query<{ id: string }>(
      `select id from graphile_worker.add_job($1, '{}'::json, run_at => now() + interval '1 day')`,
      [SEND_ORDER_EMAIL_TASK],
    );
    const id = rows[0]?.id ?? "";
    created.push(id);
    await db.query(
      `update graphile_worker._private_jobs set locked_by = $2, locked_at = now() - make_interval(secs => $3)
       where id = $1`,
      [id, poolId, secondsAgo],
    );
    return id;
  }
  const lockedBy = async (jobId: string) =>
    (await db.query<{ locked_by: string | null }>("select locked_by from graphile_worker.jobs where id = $1", [jobId]))
      .rows[0]?.locked_by;

  it("leaves alone a job locked within the grace period, whoever locked it", async () => {
    const job = await jobLockedBy("pool-just-started", 2);
    expect(await liveness.releaseJobsOfDeadPools()).toBe(0);
    expect(await lockedBy(job)).toBe("pool-just-started");
  });

  it("unlocks an older job whose pool holds no lock", async () => {
    const job = await jobLockedBy("pool-gone", 11);
    expect(await liveness.releaseJobsOfDeadPools()).toBe(1);
    expect(await lockedBy(job)).toBeNull();
  });

  it("never unlocks the job of a pool whose process holds its lock, however old", async () => {
    const other = startJudge(fixture.databaseUrl, 10_000);
    await (await other.judging).hold("pool-alive");
    const job = await jobLockedBy("pool-alive", 3_600);
    expect(await liveness.releaseJobsOfDeadPools()).toBe(0);
    expect(await lockedBy(job)).toBe("pool-alive");
    await other.stop();
    expect(await liveness.releaseJobsOfDeadPools()).toBe(1);
  });
});

describe("an email worker whose lock session is cut", () => {
  const fixture = useOrderApi({}, { ownDatabase: "worker_session" });

  it("reports NOT_SERVING until it has reconnected and holds its pool lock again", async () => {
    const worker = await startTestWorker(fixture.databaseUrl, "smtp://127.0.0.1:9", {});
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
