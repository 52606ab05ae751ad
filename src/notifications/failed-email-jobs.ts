import type { EntityManager } from "@mikro-orm/postgresql";
import { listFailedJobs, retryJobs } from "../jobs/job-queue.js";
import { orderEmailOfKey, SEND_ORDER_EMAIL_TASK } from "./email-jobs.js";

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
  const failed = await listFailedJobs(em.getKysely(), SEND_ORDER_EMAIL_TASK);
  return failed.map((job) => ({
    jobId: job.id,
    ...orderEmailOfKey(job.key),
    attempts: job.attempts,
    lastError: job.lastError,
    failedAt: job.failedAt,
  }));
}

/** Gives failed email jobs a fresh set of attempts, now. Returns the ids rescheduled. */
export function retryEmailJobs(em: EntityManager, jobIds: readonly string[]): Promise<string[]> {
  return retryJobs(em.getKysely(), jobIds);
}
