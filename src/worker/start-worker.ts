import { join } from "node:path";
import nodemailer from "nodemailer";
import pg from "pg";
import type { Config } from "../config/config.js";
import { LOCK_SESSION_OPTIONS } from "../db/advisory-locks.js";
import { prepareJobQueue } from "../jobs/job-queue.js";
import type { Logger } from "../logging/logger.js";
import { startDevSmtpSink } from "../notifications/dev-smtp-sink.js";
import { SEND_ORDER_EMAIL_TASK } from "../notifications/email-jobs.js";
import { createEmailMetrics, observeEmailBacklog } from "../notifications/email-metrics.js";
import { createEmailRenderer } from "../notifications/email-templates.js";
import { createOrderEmails } from "../notifications/order-emails.js";
import { type Running, stopInReverse } from "../process/lifecycle.js";
import { ServingStatus } from "../rpc/health.js";
import { loadDescriptorRegistry } from "../rpc/reflection.js";
import { createRpcServer } from "../rpc/rpc-server.js";
import { openShopOrm } from "../shop-database/shop-database.js";
import { observeConnectionPools } from "../telemetry/connection-pools.js";
import { NO_TELEMETRY, type Telemetry } from "../telemetry/telemetry.js";
import { EMAIL_JOB_CONCURRENCY, startEmailJobRunner } from "./email-job-runner.js";
import { startJobPoolLiveness } from "./job-pool-liveness.js";
import { startOrderEventRelay } from "./order-event-relay.js";

export interface WorkerTuning {
  /** How often this worker looks for jobs left locked by dead workers. */
  deadPoolCheckMs: number;
  /** How long a job must have been locked before its pool may be judged dead. */
  lockGraceMs: number;
  /** How often order events are looked for and queued as email jobs: an email's extra delay. */
  eventRelayMs: number;
}

const DEFAULT_TUNING: WorkerTuning = { deadPoolCheckMs: 30_000, lockGraceMs: 10_000, eventRelayMs: 250 };

export interface RunningWorker extends Running {
  /** Where gRPC health answers for this worker. */
  port: number;
}

/**
 * The email worker: queues an email job for each order event (order-event-relay.ts), runs
 * the jobs (graphile-worker, on the shop database) and sends them over SMTP with nodemailer. Jobs that fail are retried with exponential backoff by the
 * queue; several replicas may run, each job is locked by one at a time, and the jobs of a
 * replica that died are taken over by the others (see job-pool-liveness.ts). gRPC health on
 * config.workerPort says whether this worker is running jobs. Each job runs in the scope of the
 * call that caused it (its correlation id and trace); its metrics say how many emails wait.
 */
export async function startWorker(
  config: Config,
  databaseUrl: string,
  logger: Logger,
  tuning: Partial<WorkerTuning> = {},
  telemetry: Telemetry = NO_TELEMETRY,
): Promise<RunningWorker> {
  const { deadPoolCheckMs, lockGraceMs, eventRelayMs } = { ...DEFAULT_TUNING, ...tuning };
  const renderer = createEmailRenderer(config);
  const opened: Running[] = [];
  const closeOpened = () => stopInReverse(opened);
  try {
    // The worker may start before the API has ever run: the queue's schema is its to install too.
    await prepareJobQueue(databaseUrl, logger);
    const sink =
      config.smtpUrl === undefined ? await startDevSmtpSink(join(config.dataDir, "mail"), logger) : undefined;
    if (sink) opened.push(sink);
    const transport = nodemailer.createTransport(sink?.url ?? config.smtpUrl ?? "", { pool: true } as object);
    opened.push({ stop: async () => transport.close() });
    const orm = await openShopOrm(databaseUrl, logger, EMAIL_JOB_CONCURRENCY);
    opened.push({ stop: () => orm.close(true) });

    // Our own pools, so that a connection's error (the database restarting), idle or in use,
    // is logged rather than crashing the process, and so that stopping closes them for certain.
    const connectionLost = (error: Error) =>
      logger.warn({ event: "jobs.pool_error", err: error }, "job queue connection lost");
    const openPool = (max: number, options?: string) => {
      const pool = new pg.Pool({ connectionString: databaseUrl, max, ...(options && { options, keepAlive: true }) });
      pool.on("error", connectionLost);
      pool.on("connect", (client) => client.on("error", connectionLost));
      opened.push({ stop: () => pool.end() });
      return pool;
    };
    const queuePool = openPool(EMAIL_JOB_CONCURRENCY + 2);
    const lockPool = openPool(EMAIL_JOB_CONCURRENCY, LOCK_SESSION_OPTIONS);
    const emailMetrics = createEmailMetrics(telemetry.meter);
    observeEmailBacklog(telemetry.meter, orm.em);
    observeConnectionPools(telemetry.meter, {
      shop: await orm.em.getConnection().getNativeClient(),
      queue: queuePool,
      locks: lockPool,
    });
    const emails = createOrderEmails({
      em: orm.em,
      lockPool,
      transport,
      renderer,
      mailFrom: config.mailFrom,
      logger,
    });

    const server = createRpcServer({
      routes: () => {},
      cors: false,
      errorDomain: "shop.v1",
      descriptors: loadDescriptorRegistry(),
      logger,
      telemetry,
      shutdownGraceMs: config.shutdownGraceMs,
    });
    /** SERVING only while both hold: the runner runs jobs, and our pool locks are held. */
    const serving = { runner: false, locks: true };
    let restartRunnerWhenLocksReturn = () => {};
    const reportHealth = () =>
      server.health.set(serving.runner && serving.locks ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    const liveness = await startJobPoolLiveness({
      databaseUrl,
      queuePool,
      taskIdentifiers: [SEND_ORDER_EMAIL_TASK],
      checkIntervalMs: deadPoolCheckMs,
      lockGraceMs,
      logger,
      onSessionChange: (alive) => {
        if (alive) return restartRunnerWhenLocksReturn();
        serving.locks = false;
        reportHealth();
      },
    });
    opened.push(liveness);
    await liveness.releaseJobsOfDeadPools();

    const runner = await startEmailJobRunner({
      queuePool,
      emails,
      liveness,
      logger,
      telemetry,
      metrics: emailMetrics,
      onRunningChange: (running) => {
        serving.runner = running;
        reportHealth();
      },
    });
    opened.push(runner);
    // The database came back (the lock session did): the runner's pool may hold jobs it could
    // not mark done or failed while the database was away. A new pool lets them run again; the
    // worker serves again once that pool's lock is held.
    restartRunnerWhenLocksReturn = () => {
      runner.restart().then(
        () => {
          serving.locks = true;
          reportHealth();
        },
        (error: unknown) =>
          logger.error({ event: "jobs.runner_restart_failed", err: error }, "could not restart the job runner"),
      );
    };

    opened.push(startOrderEventRelay({ em: orm.em, intervalMs: eventRelayMs, logger, metrics: emailMetrics }));

    const port = await server.start(config.workerPort, config.host);
    opened.push(server);
    reportHealth();
    logger.info(
      { event: "worker.started", port, smtp: sink ? "development sink" : "SMTP_URL" },
      "email worker started",
    );
    return { port, stop: closeOpened };
  } catch (error) {
    await closeOpened().catch((stopError: unknown) =>
      logger.warn({ event: "worker.stop_failed", err: stopError }, "could not close what the failed start opened"),
    );
    throw error;
  }
}
