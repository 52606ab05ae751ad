import type { EntityManager } from "@mikro-orm/postgresql";
import { SEND_ORDER_EMAIL_TASK } from "./email-jobs.js";

export interface FailedEmailJob {
  jobId: string;
  orderId: string;
  kind: string;
  attempts: number;
  lastError: string | null;
  failedAt: Date;
}

/** Email jobs that used up their attempts; they stay in the queue, visible, until retried. */
export async function listFailedEmailJobs(em: EntityManager): Promise<FailedEmailJob[]> {
  // The job key ("order-<kind>:<order id>") names the email; the public view has no payload.
  const rows = await em.execute<
    { id: string; key: string | null; attempts: number; last_error: string | null; updated_at: string }[]
  >(
    `select "id", "key", "attempts", "last_error", "updated_at" from graphile_worker.jobs
     where "task_identifier" = ? and "attempts" >= "max_attempts" order by "updated_at"`,
    [SEND_ORDER_EMAIL_TASK],
  );
  return rows.map((row) => {
    const [name = "", orderId = ""] = (row.key ?? "").split(":");
    return {
      jobId: String(row.id),
      orderId,
      kind: name.replace(/^order-/, ""),
      attempts: row.attempts,
      lastError: row.last_error,
      failedAt: new Date(row.updated_at),
    };
  });
}

/** Gives failed email jobs a fresh set of attempts, now. Returns the ids rescheduled. */
export async function retryEmailJobs(em: EntityManager, jobIds: readonly string[]): Promise<string[]> {
  if (jobIds.length === 0) return [];
  const rows = await em.execute<{ id: string }[]>(
    `select "id" from graphile_worker.reschedule_jobs(?::bigint[], run_at => now(), attempts => 0)`,
    [`{${jobIds.map((id) => Number.parseInt(id, 10)).join(",")}}`],
  );
  return rows.map((row) => String(row.id));
}
