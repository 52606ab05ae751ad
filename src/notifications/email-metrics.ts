import type { EntityManager } from "@mikro-orm/postgresql";
import type { Counter, Meter } from "@opentelemetry/api";
import { typedSql } from "../db/typed-sql.js";
import { queueBacklog } from "../jobs/job-queue.js";
import { outboxBacklog } from "../orders/order-events.js";
import type { OrderTables } from "../orders/order-repository.js";
import { resultWithin } from "../telemetry/time-bound.js";
import { SEND_ORDER_EMAIL_TASK } from "./email-jobs.js";

/** How long a scrape waits for the database's figures before leaving them out. */
const DATABASE_READ_MS = 2_000;

/** What happens to emails: queued from order events, and each run of an email's job. */
export interface EmailMetrics {
  /** `shop.email_jobs.queued`, by `email.kind`. */
  readonly queued: Counter;
  /** `shop.email_jobs.runs`, by `email.kind` and `outcome`: sent, already_sent, busy, retry, gave_up. */
  readonly runs: Counter;
}

export function createEmailMetrics(meter: Meter): EmailMetrics {
  return {
    queued: meter.createCounter("shop.email_jobs.queued", {
      description: "Email jobs queued from order events, by email.kind",
      unit: "{job}",
    }),
    runs: meter.createCounter("shop.email_jobs.runs", {
      description:
        "Runs of email jobs by outcome: sent, already_sent, busy (being sent by another run), retry (failed, will be retried), gave_up (failed its last attempt)",
      unit: "{run}",
    }),
  };
}

/**
 * Reports the emails not sent yet, from the database, as each collection asks: those whose
 * order event waits in the outbox and those whose job waits in the queue, how long the oldest
 * has waited, and the jobs that gave up. Every worker replica reports the same figures.
 */
export function observeEmailBacklog(meter: Meter, em: EntityManager): void {
  const waiting = meter.createObservableUpDownCounter("shop.emails.waiting", {
    description: "Emails not sent yet, by stage: outbox (an order event) or queue (a job to run or running)",
    unit: "{email}",
  });
  const oldest = meter.createObservableGauge("shop.emails.oldest_waiting_age", {
    description: "How long the email waiting the longest has waited, in the outbox or the queue",
    unit: "s",
  });
  const gaveUp = meter.createObservableUpDownCounter("shop.email_jobs.gave_up", {
    description: "Email jobs that failed every attempt and wait for `email-jobs retry`",
    unit: "{job}",
  });
  meter.addBatchObservableCallback(
    async (observer) => {
      const db = typedSql<OrderTables>(em);
      const backlog = await resultWithin(
        DATABASE_READ_MS,
        Promise.all([outboxBacklog(db), queueBacklog(db, SEND_ORDER_EMAIL_TASK)]),
      );
      if (backlog === undefined) return;
      const [outbox, queue] = backlog;
      observer.observe(waiting, outbox.events, { stage: "outbox" });
      observer.observe(waiting, queue.waiting, { stage: "queue" });
      observer.observe(oldest, Math.max(outbox.oldestAgeS, queue.oldestAgeS));
      observer.observe(gaveUp, queue.gaveUp);
    },
    [waiting, oldest, gaveUp],
  );
}
