import type { EntityManager } from "@mikro-orm/postgresql";
import { inTransaction, typedSql } from "../db/typed-sql.js";
import { enqueueJobs, type Job } from "../jobs/job-queue.js";
import type { Logger } from "../logging/logger.js";
import { emailJobOf } from "../notifications/email-jobs.js";
import type { EmailMetrics } from "../notifications/email-metrics.js";
import { hasOrderEvents, takeOrderEvents } from "../orders/order-events.js";
import type { OrderTables } from "../orders/order-repository.js";
import { startPeriodicTask } from "../shared/periodic-task.js";

const BATCH = 200;

/**
 * Moves order events from orders' outbox into the job queue: each batch is taken and its
 * email jobs queued in one transaction, so an event becomes exactly one job, or stays to be
 * moved by the next pass. The queue's NOTIFY happens here, once per batch, instead of in
 * every order's commit. Passes never overlap; a failed pass (the database restarting) is
 * logged and the next one carries on.
 */
export function startOrderEventRelay(options: {
  em: EntityManager;
  intervalMs: number;
  logger: Logger;
  metrics: Pick<EmailMetrics, "queued">;
}): {
  stop(): Promise<void>;
} {
  const { em, logger } = options;
  /** Failing since this pass, if it is failing: logged once a streak, not four times a second. */
  let failingSince: Date | undefined;

  async function moveAll(): Promise<void> {
    if (!(await hasOrderEvents(typedSql<OrderTables>(em)))) return;
    for (;;) {
      const queued = await inTransaction<OrderTables, Job[]>(em, async (tx) => {
        const jobs = (await takeOrderEvents(tx, BATCH)).map(emailJobOf);
        await enqueueJobs<OrderTables>(tx, jobs);
        return jobs;
      });
      for (const job of queued) options.metrics.queued.add(1, { "email.kind": String(job.payload.kind) });
      if (queued.length > 0) {
        logger.debug({ event: "jobs.events_relayed", count: queued.length }, "order events queued as jobs");
      }
      if (queued.length < BATCH) return;
    }
  }

  return startPeriodicTask(
    () =>
      moveAll()
        .then(() => {
          if (!failingSince) return;
          logger.info({ event: "jobs.relay_resumed", failingSince }, "order events move again");
          failingSince = undefined;
        })
        .catch((error: unknown) => {
          if (failingSince) return;
          failingSince = new Date();
          logger.warn(
            { event: "jobs.relay_failed", err: error },
            "could not move order events; retrying until it works",
          );
        }),
    options.intervalMs,
  );
}
