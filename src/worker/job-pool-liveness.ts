import pg from "pg";
import { LOCK_KEY, LOCK_SESSION_OPTIONS, withAdvisoryLock } from "../db/advisory-locks.js";
import type { Logger } from "../logging/logger.js";

/**
 * graphile-worker marks each job it runs with the id of the worker pool that took it. When
 * that pool's process dies (SIGKILL, out of memory, a lost node) the job stays locked, and
 * the queue cannot tell a dead pool from a slow one. So each of our pools holds a PostgreSQL
 * session advisory lock named after it for as long as its process lives, and PostgreSQL drops
 * that lock when the session ends (within about 25 s for a vanished host: see
 * LOCK_SESSION_OPTIONS). A pool lock that anyone else can take belongs to a dead pool, whose
 * jobs are unlocked to run again.
 *
 * A live pool whose lock session is cut may be taken for dead too, and its job run again
 * while it is still running: the email's own send lock (order-emails.ts) makes that second
 * run wait for the first instead of sending twice.
 */
export interface JobPoolLiveness {
  /** Holds the pool's lock until this process ends; call before the pool runs a job. */
  hold(poolId: string): Promise<void>;
  /** Lets go of a pool that no longer runs: it is dead, and its jobs are free to be taken over. */
  release(poolId: string): Promise<void>;
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
/** How often the lock session proves it is still there and still holds every lock. */
const HEARTBEAT_MS = 5_000;

export async function startJobPoolLiveness(options: JobPoolLivenessOptions): Promise<JobPoolLiveness> {
  const { logger } = options;
  const held = new Set<string>();
  let stopping = false;
  let session = await openSession();
  let reconnecting: Promise<void> | undefined;
  let checking: Promise<number> | undefined;

  async function openSession(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: options.databaseUrl,
      application_name: "email-worker-liveness",
      options: LOCK_SESSION_OPTIONS,
      keepAlive: true,
      query_timeout: HEARTBEAT_MS,
    });
    client.on("error", (error) =>
      logger.warn({ event: "jobs.liveness_session_error", err: error }, "lock session error"),
    );
    try {
      await client.connect();
      if (stopping) throw new Error("stopping");
      for (const poolId of held) await client.query(`select pg_advisory_lock(${LOCK_KEY})`, [lockName(poolId)]);
    } catch (error) {
      void client.end().catch(() => {});
      throw error;
    }
    client.once("end", () => lost(client));
    return client;
  }

  /** A heartbeat that fails or finds a lock missing means the session is gone, whatever the socket says. */
  async function heartbeat(): Promise<void> {
    const current = session;
    try {
      const { rows } = await current.query<{ locks: number }>(
        `select count(*)::int as locks from pg_locks
         where pid = pg_backend_pid() and locktype = 'advisory' and granted`,
      );
      if ((rows[0]?.locks ?? 0) < held.size) throw new Error("a pool lock is missing from the lock session");
    } catch (error) {
      logger.warn({ event: "jobs.liveness_heartbeat_failed", err: error }, "lock session failed its heartbeat");
      lost(current);
    }
  }

  function lost(client: pg.Client): void {
    if (stopping || client !== session || reconnecting) return;
    void client.end().catch(() => {});
    options.onSessionChange(false);
    logger.error({ event: "jobs.liveness_session_lost" }, "lost the session holding the worker pool locks");
    reconnecting = reconnect().finally(() => {
      reconnecting = undefined;
    });
  }

  async function reconnect(): Promise<void> {
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
    const { queuePool } = options;
    const { rows: candidates } = await queuePool.query<{ pool_id: string }>(
      `select distinct locked_by as pool_id from graphile_worker.jobs
       where locked_by is not null and task_identifier = any($1::text[])
         and locked_at < now() - make_interval(secs => $2::float8 / 1000)`,
      [options.taskIdentifiers, options.lockGraceMs],
    );
    const dead: string[] = [];
    for (const { pool_id: poolId } of candidates) {
      if (held.has(poolId)) continue;
      // Taken at once and let go: nobody holds it, so its process is gone.
      const probe = await withAdvisoryLock(queuePool, lockName(poolId), async () => {});
      if (probe.acquired) dead.push(poolId);
    }
    if (dead.length === 0) return 0;
    const { rows } = await queuePool.query<{ jobs: number }>(
      "select count(*)::int as jobs from graphile_worker.jobs where locked_by = any($1::text[])",
      [dead],
    );
    await queuePool.query("select graphile_worker.force_unlock_workers($1::text[])", [dead]);
    const unlocked = rows[0]?.jobs ?? 0;
    logger.warn(
      { event: "jobs.dead_pool_jobs_unlocked", pools: dead, jobs: unlocked },
      "unlocked the jobs of worker pools whose process is gone",
    );
    return unlocked;
  }

  /** One check at a time, however often it is asked for. */
  function check(): Promise<number> {
    checking ??= releaseJobsOfDeadPools().finally(() => {
      checking = undefined;
    });
    return checking;
  }

  const checkTimer = setInterval(() => {
    check().catch((error: unknown) =>
      logger.warn({ event: "jobs.dead_pool_check_failed", err: error }, "could not look for dead worker pools"),
    );
  }, options.checkIntervalMs);
  const heartbeatTimer = setInterval(() => {
    if (!reconnecting) void heartbeat();
  }, HEARTBEAT_MS);
  checkTimer.unref();
  heartbeatTimer.unref();

  return {
    async hold(poolId) {
      held.add(poolId);
      await session.query(`select pg_advisory_lock(${LOCK_KEY})`, [lockName(poolId)]);
    },
    async release(poolId) {
      held.delete(poolId);
      // A session lost meanwhile held nothing any more, and the next one will not take it back.
      await session.query(`select pg_advisory_unlock(${LOCK_KEY})`, [lockName(poolId)]).catch(() => {});
    },
    releaseJobsOfDeadPools: check,
    async stop() {
      stopping = true;
      clearInterval(checkTimer);
      clearInterval(heartbeatTimer);
      await Promise.allSettled([checking, reconnecting]);
      // A session whose peer vanished may never finish closing; its locks go with the process.
      await Promise.race([session.end().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    },
  };
}

function lockName(poolId: string): string {
  return `email-worker-pool:${poolId}`;
}
