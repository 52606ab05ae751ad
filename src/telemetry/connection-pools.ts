import type { Meter } from "@opentelemetry/api";

/** What a pg Pool tells of itself, the only part of it read here. */
export interface ConnectionPool {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/**
 * Reports the database connection pools of a process, by name: connections in use and idle
 * (`db.client.connection.count`), and queries waiting for one
 * (`db.client.connection.pending_requests`), which rise when the pool is too small or the
 * database too slow.
 */
export function observeConnectionPools(meter: Meter, pools: Readonly<Record<string, ConnectionPool>>): void {
  const count = meter.createObservableUpDownCounter("db.client.connection.count", {
    description: "Connections of the pool, by db.client.connection.state (used, idle)",
    unit: "{connection}",
  });
  const pending = meter.createObservableUpDownCounter("db.client.connection.pending_requests", {
    description: "Requests waiting for a connection of the pool",
    unit: "{request}",
  });
  meter.addBatchObservableCallback(
    (observer) => {
      for (const [name, pool] of Object.entries(pools)) {
        const ofPool = { "db.client.connection.pool.name": name };
        observer.observe(count, pool.totalCount - pool.idleCount, { ...ofPool, "db.client.connection.state": "used" });
        observer.observe(count, pool.idleCount, { ...ofPool, "db.client.connection.state": "idle" });
        observer.observe(pending, pool.waitingCount, ofPool);
      }
    },
    [count, pending],
  );
}
