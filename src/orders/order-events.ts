import type { Kysely } from "kysely";
import type { OrderEventKind } from "./order.entity.js";
import type { OrderTables } from "./order-repository.js";

/** Something that happened to an order, written with it and acted upon later (an email). */
export interface OrderEvent {
  orderId: string;
  kind: OrderEventKind;
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
    .returning(["order_id", "kind"])
    .execute();
  return taken.map((row) => ({ orderId: row.order_id, kind: row.kind }));
}
