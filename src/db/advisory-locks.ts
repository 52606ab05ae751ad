import type pg from "pg";

/**
 * For connections that hold session advisory locks. PostgreSQL releases a session's locks
 * when it notices the session is gone; when a host vanishes without closing its connections,
 * it notices only through TCP keepalive, after two hours by default. With these settings a
 * lost peer is noticed within about 25 s (10 s idle, then 3 probes 5 s apart).
 */
export const LOCK_SESSION_OPTIONS = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3";

/** The SQL expression of the lock named by parameter $1: namespaced, 64-bit. */
export const LOCK_KEY = "hashtextextended('order-backend.' || $1::text, 0)";

export type Locked<T> = { acquired: true; value: T } | { acquired: false };

/**
 * Runs `work` while holding the session advisory lock `name` on a connection of its own, or
 * does nothing if another session holds it. The lock is released when `work` ends, and by
 * PostgreSQL if this process dies first: no one waits for a lock whose holder is gone.
 */
export async function withAdvisoryLock<T>(pool: pg.Pool, name: string, work: () => Promise<T>): Promise<Locked<T>> {
  const client = await pool.connect();
  /** Set when the connection may be broken, or may still hold the lock: it is then closed, not reused. */
  let unusable: Error | undefined;
  const markUnusable = (error: Error) => {
    unusable = error;
  };
  try {
    const acquired = await client
      .query<{ acquired: boolean }>(`select pg_try_advisory_lock(${LOCK_KEY}) as acquired`, [name])
      .then(
        ({ rows }) => rows[0]?.acquired === true,
        (error: Error) => {
          markUnusable(error);
          throw error;
        },
      );
    if (!acquired) return { acquired: false };
    try {
      return { acquired: true, value: await work() };
    } finally {
      await client.query(`select pg_advisory_unlock(${LOCK_KEY})`, [name]).catch(markUnusable);
    }
  } finally {
    client.release(unusable);
  }
}
