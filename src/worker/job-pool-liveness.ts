import pg from "pg";
import type { Logger } from "../logging/logger.js";

/**
 * graphile-worker marks each job it runs with the id of the worker pool that took it. When
 * that pool's process dies (SIGKILL, out of memory, a lost node) the job stays locked, and
 * the queue cannot tell a dead pool from a slow one. So each of our pools holds a PostgreSQL
 * session advisory lock named after it for as long as its process lives, and PostgreSQL drops
 * that lock the moment the session ends. A pool lock that anyone else can take belongs to a
 * dead pool, whose jobs are unlocked to run again.
 */
export interface JobPoolLiveness {
  /** Holds the pool's lock until this process ends; call before the pool runs a job. */
  hold(poolId: string): Promise<void>;
  /** Unlocks the jobs of dead pools; resolves with how many were unlocked. */
  releaseJobsOfDeadPools(): Promise<number>;
  stop(): Promise<void>;
}

export interface JobPoolLivenessOptions {
  databaseUrl: string;
  /** For the checks; the locks themselves live on a session of their own. */
  queuePool: pg.Pool;
  /** Only jobs of these tasks are ours to judge. */
  taskIdentifiers: readonly string[];
  /** How often dead pools are looked for, besides once at start. */
  checkIntervalMs: number;
  /**
   * A pool takes its first job a moment before its lock is held; jobs locked more recently
   * than this are left alone, so a pool that is just starting is never taken for dead.
   */
  lockGraceMs: number;
  logger: Logger;
  /** Told when the lock session is lost (false) and when it is back with every lock (true). */
  onSessionChange(alive: boolean): void;
}

const RECONNECT_DELAYS_MS = [250, 1_000, 2_000, 5_000];

export async function startJobPoolLiveness(options: JobPoolLivenessOptions): Promise<JobPoolLiveness> {
  const { logger } = options;
  const held = new Set<string>();
  let session = await openSession();
  let stopping = false;
  let checking: Promise<number> | undefined;

  async function openSession(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: options.databaseUrl, application_name: "email-worker-liveness" });
    client.on("error", (error) =>
      logger.warn({ event: "jobs.liveness_session_error", err: error }, "lock session error"),
    );
    await client.connect();
    for (const poolId of held)
      await client.query("select pg_advisory_lock(hashtextextended($1, 0))", [lockName(poolId)]);
    client.once("end", () => {
      if (!stopping) void reconnect();
    });
    return client;
  }

  /** Until it is back, other workers may take our pools for dead: a retried job is deduplicated. */
  async function reconnect(): Promise<void> {
    options.onSessionChange(false);
    logger.error({ event: "jobs.liveness_session_lost" }, "lost the session holding the worker pool locks");
    for (let attempt = 0; !stopping; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAYS_MS[Math.min(attempt, 3)]));
      if (stopping) return;
      try {
        session = await openSession();
        options.onSessionChange(true);
        logger.info({ event: "jobs.liveness_session_restored" }, "worker pool locks held again");
        return;
      } catch (error) {
        logger.warn({ event: "jobs.liveness_reconnect_failed", err: error, attempt }, "lock session not back yet");
      }
    }
  }

  async function releaseJobsOfDeadPools(): Promise<number> {
    const client = await options.queuePool.connect();
    try {
      const { rows: candidates } = await client.query<{ pool_id: string; jobs: number }>(
        `select locked_by as pool_id, count(*)::int as jobs from graphile_worker.jobs
         where locked_by is not null and task_identifier = any($1::text[])
           and locked_at < now() - make_interval(secs => $2::float8 / 1000)
         group by locked_by`,
        [options.taskIdentifiers, options.lockGraceMs],
      );
      const dead: { poolId: string; jobs: number }[] = [];
      for (const { pool_id: poolId, jobs } of candidates) {
        if (held.has(poolId)) continue;
        const name = lockName(poolId);
        const { rows } = await client.query<{ free: boolean }>(
          "select pg_try_advisory_lock(hashtextextended($1, 0)) as free",
          [name],
        );
        if (!rows[0]?.free) continue;
        await client.query("select pg_advisory_unlock(hashtextextended($1, 0))", [name]);
        dead.push({ poolId, jobs });
      }
      if (dead.length === 0) return 0;
      await client.query("select graphile_worker.force_unlock_workers($1::text[])", [dead.map((pool) => pool.poolId)]);
      const unlocked = dead.reduce((sum, pool) => sum + pool.jobs, 0);
      logger.warn(
        { event: "jobs.dead_pool_jobs_unlocked", pools: dead.map((pool) => pool.poolId), jobs: unlocked },
        "unlocked the jobs of worker pools whose process is gone",
      );
      return unlocked;
    } finally {
      client.release();
    }
  }

  /** One check at a time, however often it is asked for. */
  function check(): Promise<number> {
    checking ??= releaseJobsOfDeadPools().finally(() => {
      checking = undefined;
    });
    return checking;
  }

  const timer = setInterval(() => {
    check().catch((error: unknown) =>
      logger.warn({ event: "jobs.dead_pool_check_failed", err: error }, "could not look for dead worker pools"),
    );
  }, options.checkIntervalMs);
  timer.unref();

  return {
    async hold(poolId) {
      held.add(poolId);
      await session.query("select pg_advisory_lock(hashtextextended($1, 0))", [lockName(poolId)]);
    },
    releaseJobsOfDeadPools: check,
    async stop() {
      stopping = true;
      clearInterval(timer);
      await checking?.catch(() => {});
      await session.end().catch(() => {});
    },
  };
}

/** Namespaced, so that no other user of advisory locks in this database collides with ours. */
function lockName(poolId: string): string {
  return `order-backend.email-worker-pool:${poolId}`;
}
