import { EventEmitter } from "node:events";
import { join } from "node:path";
import { Logger as GraphileLogger, run, type WorkerEvents } from "graphile-worker";
import nodemailer from "nodemailer";
import pg from "pg";
import type { Config } from "../config/config.js";
import { LOCK_SESSION_OPTIONS } from "../db/advisory-locks.js";
import { openShopOrm } from "../db/shop-database.js";
import type { Logger } from "../logging/logger.js";
import { startDevSmtpSink } from "../notifications/dev-smtp-sink.js";
import { type OrderEmailKind, prepareJobQueue, SEND_ORDER_EMAIL_TASK } from "../notifications/email-jobs.js";
import { createEmailRenderer } from "../notifications/email-templates.js";
import { createOrderEmails, EmailBeingSent } from "../notifications/order-emails.js";
import { type Running, stopInReverse } from "../process/lifecycle.js";
import { ServingStatus } from "../rpc/health.js";
import { loadDescriptorRegistry } from "../rpc/reflection.js";
import { createRpcServer } from "../rpc/rpc-server.js";
import { startJobPoolLiveness } from "./job-pool-liveness.js";

const CONCURRENCY = 4;

export interface WorkerTuning {
  /** How often this worker looks for jobs left locked by dead workers. */
  deadPoolCheckMs: number;
  /** How long a job must have been locked before its pool may be judged dead. */
  lockGraceMs: number;
}

const DEFAULT_TUNING: WorkerTuning = { deadPoolCheckMs: 30_000, lockGraceMs: 10_000 };

export interface RunningWorker extends Running {
  /** Where gRPC health answers for this worker. */
  port: number;
}

/**
 * The email worker: runs queued email jobs (graphile-worker, on the shop database) and sends
 * them over SMTP with nodemailer. Jobs that fail are retried with exponential backoff by the
 * queue; several replicas may run, each job is locked by one at a time, and the jobs of a
 * replica that died are taken over by the others (see job-pool-liveness.ts). gRPC health on
 * config.workerPort says whether this worker is running jobs.
 */
export async function startWorker(
  config: Config,
  databaseUrl: string,
  logger: Logger,
  tuning: Partial<WorkerTuning> = {},
): Promise<RunningWorker> {
  const { deadPoolCheckMs, lockGraceMs } = { ...DEFAULT_TUNING, ...tuning };
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
    const orm = await openShopOrm(databaseUrl, logger, CONCURRENCY);
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
    const queuePool = openPool(CONCURRENCY + 2);
    const lockPool = openPool(CONCURRENCY, LOCK_SESSION_OPTIONS);
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
      shutdownGraceMs: config.shutdownGraceMs,
    });
    /** SERVING only while both hold: the runner runs jobs, and our pool locks are held. */
    const serving = { runner: true, locks: true };
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
        serving.locks = alive;
        reportHealth();
      },
    });
    opened.push(liveness);
    await liveness.releaseJobsOfDeadPools();

    const events: WorkerEvents = new EventEmitter();
    events.on("pool:create", ({ workerPool }) => {
      liveness.hold(workerPool.id).catch((error: unknown) => {
        logger.error({ event: "jobs.pool_lock_failed", err: error }, "could not lock this worker pool");
      });
    });
    const runner = await run({
      pgPool: queuePool,
      concurrency: CONCURRENCY,
      noHandleSignals: true,
      pollInterval: 1_000,
      events,
      logger: new GraphileLogger(() => (level, message, meta) => {
        if (level === "error" || level === "warning") logger.warn({ event: "jobs.log", level, meta }, message);
      }),
      taskList: {
        async [SEND_ORDER_EMAIL_TASK](payload, helpers) {
          const { orderId, kind } = payload as { orderId: string; kind: OrderEmailKind };
          const { attempts, max_attempts: maxAttempts, id: jobId } = helpers.job;
          try {
            await emails.send(orderId, kind);
          } catch (error) {
            if (error instanceof EmailBeingSent) {
              logger.info(
                { event: "email.being_sent_elsewhere", orderId, kind },
                "email in flight elsewhere; retry later",
              );
            } else if (attempts >= maxAttempts) {
              logger.error(
                { event: "email.gave_up", orderId, kind, jobId, attempts, err: error },
                "email not sent after its last attempt; retry it with `email-jobs retry`",
              );
            } else {
              logger.warn(
                { event: "email.send_failed", orderId, kind, attempts, err: error },
                "email not sent; will retry",
              );
            }
            throw error;
          }
        },
      },
    });
    opened.push({
      // A runner that stopped by itself refuses a second stop.
      stop: async () => {
        if (serving.runner) await runner.stop();
      },
    });
    runner.promise.then(
      () => {
        serving.runner = false;
        reportHealth();
      },
      (error: unknown) => {
        serving.runner = false;
        reportHealth();
        logger.fatal({ event: "worker.failed", err: error }, "the job runner stopped; this worker runs no more jobs");
      },
    );

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
