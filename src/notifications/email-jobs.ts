import type { EntityManager } from "@mikro-orm/postgresql";
import { Logger as GraphileLogger, runMigrations } from "graphile-worker";
import type { Logger } from "../logging/logger.js";

/** The email worker's task; what it receives is an order id and which email to send. */
export const SEND_ORDER_EMAIL_TASK = "send_order_email";
export const ORDER_EMAIL_KINDS = ["confirmation", "cancellation"] as const;
export type OrderEmailKind = (typeof ORDER_EMAIL_KINDS)[number];

/**
 * Enqueues an order email inside the caller's transaction: the job exists if and only if
 * the state change that calls for it committed. The job key makes a second enqueue for the
 * same email a no-op, so an email is never queued twice.
 */
export async function enqueueOrderEmail(tx: EntityManager, orderId: string, kind: OrderEmailKind): Promise<void> {
  await tx.execute(
    `select graphile_worker.add_job(?, json_build_object('orderId', ?::text, 'kind', ?::text),
       max_attempts => 25, job_key => ?, job_key_mode => 'unsafe_dedupe')`,
    [SEND_ORDER_EMAIL_TASK, orderId, kind, `order-${kind}:${orderId}`],
  );
}

/** Installs or upgrades the job queue's own schema (graphile_worker) in the shop database. */
export async function prepareJobQueue(databaseUrl: string, logger: Logger): Promise<void> {
  await runMigrations({
    connectionString: databaseUrl,
    logger: new GraphileLogger(() => (level, message) => {
      if (level === "error") logger.error({ event: "jobs.migration_error" }, message);
    }),
  });
}
