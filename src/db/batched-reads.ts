/**
 * Reads by key that arrive together go to the database together: every key asked for while
 * the event loop runs one batch of I/O is read by one statement, sent once that batch is done
 * (DataLoader's pattern). Under load, a hundred concurrent calls cost one round trip instead
 * of a hundred; alone, a read waits for nothing but the end of its own tick.
 *
 * Never stale: a statement is sent after every read it answers was asked for, so it sees
 * every write committed before any of them was.
 */
export function createBatchedReads<K, V>(
  readMany: (keys: K[]) => Promise<Map<K, V>>,
): (key: K) => Promise<V | undefined> {
  let pending: Map<K, { resolve(value: V | undefined): void; reject(error: unknown): void }[]> | undefined;

  function flush(batch: NonNullable<typeof pending>) {
    readMany([...batch.keys()]).then(
      (found) => {
        for (const [key, waiters] of batch) for (const waiter of waiters) waiter.resolve(found.get(key));
      },
      (error: unknown) => {
        for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(error);
      },
    );
  }

  return (key) =>
    new Promise((resolve, reject) => {
      if (pending === undefined) {
        const batch = new Map<K, { resolve(value: V | undefined): void; reject(error: unknown): void }[]>();
        pending = batch;
        setImmediate(() => {
          pending = undefined;
          flush(batch);
        });
      }
      const waiters = pending.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else pending.set(key, [{ resolve, reject }]);
    });
}
