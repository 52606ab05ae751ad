import { EventEmitter } from "node:events";
import { Logger as GraphileLogger, type Runner, run, type WorkerEvents } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "../logging/logger.js";
import { type OrderEmailJobPayload, SEND_ORDER_EMAIL_TASK } from "../notifications/email-jobs.js";
import type { EmailMetrics } from "../notifications/email-metrics.js";
import { EmailBeingSent, type OrderEmails } from "../notifications/order-emails.js";
import { inJobScope } from "../telemetry/job-scope.js";
import type { Telemetry } from "../telemetry/telemetry.js";
import type { JobPoolLiveness } from "./job-pool-liveness.js";

/** Emails sent at once by one worker; its pools are sized from it. */
export const EMAIL_JOB_CONCURRENCY = 4;

export interface EmailJobRunner {
  /**
   * Replaces the runner with a new one, under a new pool id whose lock is held when this
   * resolves. After a database restart the old pool may hold jobs it could not mark done or
   * failed (the database hung up on it): giving up its id and lock lets the dead-pool check
   * hand those jobs out again.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs the email jobs (graphile-worker) on `queuePool`: each sends one order's email, and a
 * failed send is retried with the queue's backoff. Says through `onRunningChange` whether
 * jobs are being run: a runner that stops by itself runs no more jobs, and says so.
 */
export async function startEmailJobRunner(options: {
  queuePool: pg.Pool;
  emails: OrderEmails;
  liveness: JobPoolLiveness;
  logger: Logger;
  telemetry: Telemetry;
  metrics: Pick<EmailMetrics, "runs">;
  onRunningChange(running: boolean): void;
}): Promise<EmailJobRunner> {
  const { liveness, logger, metrics } = options;
  let stopping = false;
  let restarting: Promise<void> | undefined;

  async function startRunner(): Promise<{
    runner: Runner;
    poolId: () => string | undefined;
    settled: boolean;
    retiring: boolean;
  }> {
    let poolId: string | undefined;
    let holding: Promise<void> = Promise.resolve();
    const events: WorkerEvents = new EventEmitter();
    events.on("pool:create", ({ workerPool }) => {
      poolId = workerPool.id;
      holding = liveness.hold(workerPool.id).catch((error: unknown) => {
        logger.error({ event: "jobs.pool_lock_failed", err: error }, "could not lock this worker pool");
      });
    });
    const runner = await run({
      pgPool: options.queuePool,
      concurrency: EMAIL_JOB_CONCURRENCY,
      noHandleSignals: true,
      pollInterval: 1_000,
      events,
      // The queue's own complaints (a lost LISTEN connection, a failed job) are what we log
      // ourselves at the right level; its level is kept as a field, never as a second `level`.
      logger: new GraphileLogger(() => (level, message, meta) => {
        if (level === "error" || level === "warning") {
          logger.warn({ event: "jobs.log", graphileLevel: level, meta }, message);
        }
      }),
      taskList: { [SEND_ORDER_EMAIL_TASK]: (payload, helpers) => sendEmail(payload, helpers.job) },
    });
    const started = { runner, poolId: () => poolId, settled: false, retiring: false };
    const stoppedByItself = (error?: unknown) => {
      started.settled = true;
      if (stopping || started.retiring) return;
      options.onRunningChange(false);
      logger.fatal({ event: "worker.failed", err: error }, "the job runner stopped; this worker runs no more jobs");
    };
    runner.promise.then(() => stoppedByItself(), stoppedByItself);
    await holding;
    return started;
  }

  /** In the scope of the call that caused the email: its logs carry its correlation id, its span joins its trace. */
  function sendEmail(payload: unknown, job: { id: string; attempts: number; max_attempts: number }) {
    const { orderId, kind, correlationId, traceparent } = payload as OrderEmailJobPayload;
    const origin = { task: SEND_ORDER_EMAIL_TASK, id: job.id, correlationId, traceparent };
    const attributes = { "shop.order.id": orderId, "email.kind": kind, "messaging.attempt": job.attempts };
    const ran = (outcome: string) => metrics.runs.add(1, { "email.kind": kind, outcome });
    return inJobScope(options.telemetry, { ...origin, attributes }, async () => {
      try {
        ran(await options.emails.send(orderId, kind));
      } catch (error) {
        if (error instanceof EmailBeingSent) {
          ran("busy");
          logger.info({ event: "email.being_sent_elsewhere", orderId, kind }, "email in flight elsewhere; retry later");
        } else if (job.attempts >= job.max_attempts) {
          ran("gave_up");
          logger.error(
            { event: "email.gave_up", orderId, kind, jobId: job.id, attempts: job.attempts, err: error },
            "email not sent after its last attempt; retry it with `email-jobs retry`",
          );
        } else {
          ran("retry");
          logger.warn(
            { event: "email.send_failed", orderId, kind, attempts: job.attempts, err: error },
            "email not sent; will retry",
          );
        }
        throw error;
      }
    });
  }

  /** Stops a runner once: one that stopped by itself refuses a second stop. */
  async function stopRunner(started: typeof current): Promise<void> {
    if (!started.settled) await started.runner.stop();
  }

  let current = await startRunner();
  options.onRunningChange(true);

  return {
    restart() {
      restarting ??= (async () => {
        const previous = current;
        previous.retiring = true;
        await stopRunner(previous).catch((error: unknown) =>
          logger.warn({ event: "jobs.runner_stop_failed", err: error }, "the previous job runner stopped badly"),
        );
        const previousPool = previous.poolId();
        if (previousPool !== undefined) await liveness.release(previousPool);
        if (stopping) return;
        current = await startRunner();
        options.onRunningChange(true);
        logger.info({ event: "jobs.runner_restarted", previousPool }, "job runner restarted under a new pool");
      })().finally(() => {
        restarting = undefined;
      });
      return restarting;
    },
    async stop() {
      stopping = true;
      await restarting?.catch(() => {});
      await stopRunner(current);
    },
  };
}
