/**
 * The job queue (graphile-worker, in the shop database's `graphile_worker` schema): putting
 * jobs in, installing its schema, and the failed-job operations an admin needs. What the jobs
 * do is for the features that queue and run them.
 */
import { Logger as GraphileLogger, runMigrations } from "graphile-worker";
import { type Kysely, sql } from "kysely";
import type { Logger } from "../logging/logger.js";

export interface Job {
  task: string;
  payload: Record<string, unknown>;
  /** Names the job: a second job with a key already queued is not added. */
  key: string;
  maxAttempts: number;
}

/** The queue's public view of its jobs, as far as we read it. */
interface QueueTables {
  "graphile_worker.jobs": {
    id: number;
    task_identifier: string;
    key: string | null;
    attempts: number;
    max_attempts: number;
    last_error: string | null;
    updated_at: Date;
  };
}

/**
 * Queues jobs through `db`, in its transaction when it is one. Each queued job NOTIFYs the
 * workers, and a NOTIFY serialises commits database-wide: queue from a few transactions of
 * batches (the order events relay), not from every order's transaction.
 */
export async function enqueueJobs<DB>(db: Kysely<DB>, jobs: readonly Job[]): Promise<void> {
  if (jobs.length === 0) return;
  // A key already queued (or running) keeps its job: 'unsafe_dedupe' never adds a second.
  await sql`
    select graphile_worker.add_job(job.task, job.payload, max_attempts => job.max_attempts,
      job_key => job.key, job_key_mode => 'unsafe_dedupe')
    from json_to_recordset(${JSON.stringify(jobs.map(({ task, payload, key, maxAttempts }) => ({ task, payload, key, max_attempts: maxAttempts })))}::json)
      as job(task text, payload json, key text, max_attempts int)`.execute(db);
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

/** A task's jobs still to run (waiting or running), how long the oldest has waited, and those given up. */
export interface QueueBacklog {
  waiting: number;
  oldestAgeS: number;
  gaveUp: number;
}

export async function queueBacklog<DB>(db: Kysely<DB>, task: string): Promise<QueueBacklog> {
  const { rows } = await sql<{ waiting: number; oldest_age_s: number | null; gave_up: number }>`
    select count(*) filter (where attempts < max_attempts)::int as waiting,
      extract(epoch from now() - min(created_at) filter (where attempts < max_attempts))::float8 as oldest_age_s,
      count(*) filter (where attempts >= max_attempts)::int as gave_up
    from graphile_worker.jobs where task_identifier = ${task}`.execute(db);
  const row = rows[0];
  return { waiting: row?.waiting ?? 0, oldestAgeS: row?.oldest_age_s ?? 0, gaveUp: row?.gave_up ?? 0 };
}

export interface FailedJob {
  id: string;
  key: string | null;
  attempts: number;
  lastError: string | null;
  failedAt: Date;
}

/** Jobs of a task that used up their attempts; they stay in the queue, visible, until retried. */
export async function listFailedJobs<DB>(db: Kysely<DB>, task: string): Promise<FailedJob[]> {
  const rows = await (db as unknown as Kysely<QueueTables>)
    .selectFrom("graphile_worker.jobs")
    .select(["id", "key", "attempts", "last_error", "updated_at"])
    .where("task_identifier", "=", task)
    .whereRef("attempts", ">=", "max_attempts")
    .orderBy("updated_at")
    .execute();
  return rows.map((row) => ({
    id: String(row.id),
    key: row.key,
    attempts: row.attempts,
    lastError: row.last_error,
    failedAt: row.updated_at,
  }));
}

/** Gives jobs a fresh set of attempts, now. Returns the ids rescheduled. */
export async function retryJobs<DB>(db: Kysely<DB>, jobIds: readonly string[]): Promise<string[]> {
  if (jobIds.length === 0) return [];
  const { rows } = await sql<{ id: number }>`
    select id from graphile_worker.reschedule_jobs(${jobIds.map((id) => Number.parseInt(id, 10))}::bigint[],
      run_at => now(), attempts => 0)`.execute(db);
  return rows.map((row) => String(row.id));
}
