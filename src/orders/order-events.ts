import { type Kysely, sql } from "kysely";
import type { OrderEventKind } from "./order.entity.js";
import type { OrderTables } from "./order-repository.js";

/** Something that happened to an order, written with it and acted upon later (an email). */
export interface OrderEvent {
  orderId: string;
  kind: OrderEventKind;
  /** Of the call that caused it, if a call did: its correlation id and W3C traceparent. */
  correlationId: string | null;
  traceparent: string | null;
}

/** Whether any event waits: a cheap look before taking them in a transaction. */
export async function hasOrderEvents(db: Kysely<OrderTables>): Promise<boolean> {
  const first = await db.selectFrom("order_event").select("id").limit(1).executeTakeFirst();
  return first !== undefined;
}

/**
 * Takes up to `limit` events, oldest first, by deleting them in `db`'s transaction: whoever
 * takes them acts on them in the same transaction, so an event is acted upon exactly once,
 * or stays. Concurrent takers skip each other's rows instead of waiting.
 */
export async function takeOrderEvents(db: Kysely<OrderTables>, limit: number): Promise<OrderEvent[]> {
  const taken = await db
    .deleteFrom("order_event")
    .where("id", "in", (qc) =>
      qc.selectFrom("order_event").select("id").orderBy("id").limit(limit).forUpdate().skipLocked(),
    )
    .returning(["order_id", "kind", "correlation_id", "traceparent"])
    .execute();
  return taken.map((row) => ({
    orderId: row.order_id,
    kind: row.kind,
    correlationId: row.correlation_id,
    traceparent: row.traceparent,
  }));
}

/** The events not yet moved to the job queue, and how long the oldest has waited, in seconds. */
export async function outboxBacklog(db: Kysely<OrderTables>): Promise<{ events: number; oldestAgeS: number }> {
  const row = await db
    .selectFrom("order_event")
    .select((eb) => [
      eb.fn.countAll<number>().as("events"),
      sql<number | null>`extract(epoch from now() - min(created_at))::float8`.as("oldest_age_s"),
    ])
    .executeTakeFirstOrThrow();
  return { events: Number(row.events), oldestAgeS: row.oldest_age_s ?? 0 };
}
