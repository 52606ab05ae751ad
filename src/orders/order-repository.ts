/**
 * Every statement on orders' tables: orders, their lines and the order events outbox. Each
 * use case step is one statement, so one round trip and one atomic change; where stock
 * changes with an order, inventory's parts join the statement (inventory/stock-changes.ts).
 */
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Counter } from "@opentelemetry/api";
import { type ExpressionBuilder, type Kysely, type QueryCreator, type Selectable, sql, type Updateable } from "kysely";
import { jsonArrayFrom } from "kysely/helpers/postgres";
import { boundStatement } from "../db/bound-statement.js";
import { sqlStateOf, statementBuilder, type TablesOf, typedSql } from "../db/typed-sql.js";
import {
  STOCK_CONSTRAINT,
  stockOf,
  withStockLocked,
  withStockReleased,
  withStockReserved,
  withStockRestocked,
  withStockSold,
} from "../inventory/stock-changes.js";
import { TemporarilyUnavailable } from "../shared/domain-error.js";
import { currentCorrelationId, currentTraceparent } from "../telemetry/call-scope.js";
import type { OrderEventKind, OrderEventSchema, OrderLineSchema, OrderSchema, OrderState } from "./order.entity.js";

export type OrderTables = TablesOf<typeof OrderSchema | typeof OrderLineSchema | typeof OrderEventSchema>;

export interface OrderLineView {
  productId: string;
  sku: string;
  productName: string;
  quantity: number;
  unitPriceMinor: number;
  lineTotalMinor: number;
}

/** An order as use cases and handlers see it, lines included. */
export interface OrderView {
  id: string;
  /** Short and sequential, for people: "order #1042". */
  number: number;
  customerId: string;
  requestId: string;
  requestFingerprint: string;
  state: OrderState;
  currencyCode: string;
  subtotalMinor: number;
  totalMinor: number;
  card: { brand: string; last4: string };
  chargeId: string | null;
  refundId: string | null;
  failureCode: string | null;
  lines: OrderLineView[];
  createdAt: Date;
  updatedAt: Date;
}

/** What an order about to be placed is made of; prices come from the catalogue as the placement reads it. */
export interface OrderDraft {
  customerId: string;
  requestId: string;
  fingerprint: string;
  cardBrand: string;
  cardLast4: string;
  lines: readonly { productId: string; quantity: number }[];
  /** The order total must fall in this range (what one card charge may be). */
  totalRange: { min: number; max: number };
}

/** A product of the draft as the placement read it. */
export interface StockOfLine {
  productId: string;
  quantity: number;
  available: number;
  currencyCode: string;
  lineTotalMinor: number;
}

export type Placement =
  | { placed: true; order: OrderView }
  /**
   * Nothing was written. `acceptable`: the stock, currencies and total allowed the order, so
   * the request_id was taken (a retry). Otherwise `stock` says what stood in the way; products
   * that do not exist are missing from it.
   */
  | { placed: false; acceptable: boolean; stock: StockOfLine[] };

export interface OrderFilter {
  /** Empty: every customer's. */
  customerId: string;
  state: OrderState | undefined;
}

/** A position in the newest-first order of orders: where the previous page ended. */
export interface OrderCursor {
  createdMicros: number;
  id: string;
}

export interface OrderRepository {
  /**
   * Creates the order with its lines and real totals and reserves its stock, in one
   * statement; or, if the stock cannot cover it or the request_id was used, writes nothing.
   */
  placeReservingStock(draft: OrderDraft): Promise<Placement>;
  find(id: string): Promise<OrderView | undefined>;
  findByRequest(customerId: string, requestId: string): Promise<OrderView | undefined>;
  /** Newest first, after the cursor; one more than `limit` when there is a next page. */
  list(
    filter: OrderFilter,
    after: OrderCursor | undefined,
    limit: number,
  ): Promise<{ order: OrderView; cursor: OrderCursor }[]>;
  /**
   * Marks a pending order as being worked on now, so recovery (which waits for pending orders
   * to age) leaves it alone while a retry charges it. False if it is no longer pending.
   */
  claimPending(id: string): Promise<boolean>;
  /**
   * Paid: fulfilled with its charge, its reserved stock sold, and the `paid` event written,
   * in one statement. Undefined if the order was no longer pending (settled by another).
   */
  settlePaid(id: string, chargeId: string): Promise<{ updatedAt: Date } | undefined>;
  /** Not charged: PAYMENT_FAILED and its stock released. False if it was no longer pending. */
  settleFailed(id: string, failureCode: string): Promise<boolean>;
  /** Recorded before the refund, so recovery finishes a cancellation a crash interrupted. */
  requestCancellation(id: string): Promise<boolean>;
  /** Cancelled with its refund, restocked, and the `cancelled` event written. */
  cancel(id: string, refundId: string): Promise<{ updatedAt: Date } | undefined>;
  /** Orders pending for longer than `olderThanMs`, the stalest first. */
  stalePending(olderThanMs: number, limit: number): Promise<string[]>;
  /** Paid orders whose cancellation was requested over `olderThanMs` ago and never finished. */
  interruptedCancellations(olderThanMs: number, limit: number): Promise<{ id: string; chargeId: string }[]>;
  /** How many orders are pending payment, and how long the stalest has been, in seconds. */
  pendingPayment(): Promise<{ orders: number; oldestAgeS: number }>;
}

export function createOrderRepository(
  em: EntityManager,
  /** Counts placements decided again because stock ran out under them (order-metrics.ts). */
  metrics?: { stockConflicts: Counter },
): OrderRepository {
  const db = () => typedSql<OrderTables>(em);

  return {
    async placeReservingStock(draft) {
      const rows = await placeUnlessStockRanOut(db(), draft, () => metrics?.stockConflicts.add(1));
      const first = rows[0];
      const stock = rows.map((row) => ({
        productId: row.product_id,
        quantity: row.quantity,
        available: row.available,
        currencyCode: row.currency_code ?? "",
        lineTotalMinor: row.line_total_minor,
      }));
      if (!first?.id) return { placed: false, acceptable: first?.acceptable === true, stock };
      // Placed: every row carries the order's columns, and the rows are its lines in order.
      const lines = rows.map((row) => ({
        productId: row.product_id,
        sku: row.sku,
        productName: row.name,
        quantity: row.quantity,
        unitPriceMinor: row.unit_price_minor,
        lineTotalMinor: row.line_total_minor,
      }));
      return { placed: true, order: viewOf({ ...(first as Omit<OrderRow, "lines">), lines }) };
    },

    async find(id) {
      const [row] = await findOrder(db(), { id });
      return row && viewOf(row);
    },

    async findByRequest(customerId, requestId) {
      const [row] = await findOrderByRequest(db(), { customerId, requestId });
      return row && viewOf(row);
    },

    async list(filter, after, limit) {
      const rows = await ordersPageQuery(db(), filter, after, limit).execute();
      return rows.map((row) => ({ order: viewOf(row), cursor: { createdMicros: row.created_micros, id: row.id } }));
    },

    async claimPending(id) {
      const claimed = await claimPending(db(), { id });
      return claimed.length > 0;
    },

    async settlePaid(id, chargeId) {
      const [settled] = await settlePaid(db(), { id, chargeId, reason: `sold: order ${id}`, ...eventOrigin() });
      return settled;
    },

    async settleFailed(id, failureCode) {
      const failed = await settleFailed(db(), { id, failureCode });
      return failed.length > 0;
    },

    async requestCancellation(id) {
      const requested = await db()
        .updateTable("customer_order")
        .set((eb) => ({
          cancel_requested_at: eb.fn.coalesce("cancel_requested_at", sql<Date>`now()`),
          updated_at: sql<Date>`now()`,
        }))
        .where("id", "=", id)
        .where("state", "in", ["paid", "fulfilled"])
        .where("charge_id", "is not", null)
        .returning("id")
        .executeTakeFirst();
      return requested !== undefined;
    },

    async cancel(id, refundId) {
      const [cancelled] = await cancelOrder(db(), {
        id,
        refundId,
        reason: `cancelled: order ${id}`,
        ...eventOrigin(),
      });
      return cancelled;
    },

    async stalePending(olderThanMs, limit) {
      const rows = await stalePendingQuery(db(), olderThanMs, limit).execute();
      return rows.map((row) => row.id);
    },

    async interruptedCancellations(olderThanMs, limit) {
      const rows = await interruptedCancellationsQuery(db(), olderThanMs, limit).execute();
      return rows.map((row) => ({ id: row.id, chargeId: row.charge_id as string }));
    },

    async pendingPayment() {
      const row = await db()
        .selectFrom("customer_order")
        .select((eb) => [
          eb.fn.countAll<number>().as("orders"),
          sql<number | null>`extract(epoch from now() - min(updated_at))::float8`.as("oldest_age_s"),
        ])
        .where("state", "=", "pending_payment")
        .executeTakeFirstOrThrow();
      return { orders: Number(row.orders), oldestAgeS: row.oldest_age_s ?? 0 };
    },
  };
}

/** How often a placement is decided again when stock ran out under it; each try sees fresh stock. */
const PLACEMENT_ATTEMPTS = 5;
const RETRY_AFTER_CONTENTION_MS = 100;
const CHECK_VIOLATION = "23514";

/**
 * Runs the placement statement; when stock ran out between its read and its reservation (the
 * database refused the reservation: the statement wrote nothing), runs it again, which then
 * sees the stock as it is and refuses cleanly or places.
 */
async function placeUnlessStockRanOut(db: Kysely<OrderTables>, draft: OrderDraft, onConflict: () => void) {
  const params: PlacementParams = {
    productIds: draft.lines.map((line) => line.productId),
    quantities: draft.lines.map((line) => line.quantity),
    positions: draft.lines.map((_, index) => index),
    lineCount: draft.lines.length,
    customerId: draft.customerId,
    requestId: draft.requestId,
    fingerprint: draft.fingerprint,
    cardBrand: draft.cardBrand,
    cardLast4: draft.cardLast4,
    minTotal: draft.totalRange.min,
    maxTotal: draft.totalRange.max,
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return await placement(db, params);
    } catch (error) {
      const ranOut =
        sqlStateOf(error) === CHECK_VIOLATION && (error as { constraint?: string }).constraint === STOCK_CONSTRAINT;
      if (!ranOut) throw error;
      onConflict();
      // Stock that keeps changing under every attempt (released and taken again and again):
      // nothing was written, and a moment later the decision will hold.
      if (attempt >= PLACEMENT_ATTEMPTS) {
        throw new TemporarilyUnavailable(
          "STOCK_CONTENDED",
          "the stock of these products is changing too fast to reserve right now; retry with the same request_id",
          RETRY_AFTER_CONTENTION_MS,
        );
      }
    }
  }
}

interface PlacementParams {
  productIds: string[];
  quantities: number[];
  positions: number[];
  lineCount: number;
  customerId: string;
  requestId: string;
  fingerprint: string;
  cardBrand: string;
  cardLast4: string;
  minTotal: number;
  maxTotal: number;
}

const placement = boundStatement((draft: PlacementParams) => placementStatement(orderStatements, draft));

function placementStatement(db: Kysely<OrderTables>, draft: PlacementParams) {
  const { productIds, quantities, positions } = draft;
  const decided = db
    .with("stock", () => stockOf(productIds))
    .with("wanted", (qc) =>
      qc.selectNoFrom([
        sql<string>`unnest(${productIds}::uuid[])`.as("product_id"),
        sql<number>`unnest(${quantities}::int4[])`.as("quantity"),
        sql<number>`unnest(${positions}::int4[])`.as("position"),
      ]),
    )
    .with("priced", (qc) =>
      qc
        .selectFrom("wanted")
        .innerJoin("stock", "stock.product_id", "wanted.product_id")
        .select((eb) => [
          "wanted.product_id",
          "wanted.quantity",
          "wanted.position",
          "stock.sku",
          "stock.name",
          "stock.unit_price_minor",
          "stock.currency_code",
          "stock.available",
          eb("wanted.quantity", "*", eb.ref("stock.unit_price_minor")).as("line_total_minor"),
        ]),
    )
    .with("verdict", (qc) =>
      qc
        .selectFrom("priced")
        .select((eb) => [
          eb
            .and([
              eb(eb.fn.countAll(), "=", draft.lineCount),
              eb(eb.fn<boolean>("bool_and", [eb("available", ">=", eb.ref("quantity"))]), "=", true),
              eb(eb.fn.min("currency_code"), "=", eb.fn.max("currency_code")),
              eb(eb.fn.sum("line_total_minor"), ">=", draft.minTotal),
              eb(eb.fn.sum("line_total_minor"), "<=", draft.maxTotal),
            ])
            .as("acceptable"),
          eb.fn.min("currency_code").as("currency_code"),
          eb.fn.sum<number>("line_total_minor").as("total_minor"),
        ]),
    )
    .with("placed", (qc) =>
      qc
        .insertInto("customer_order")
        .columns([
          "id",
          "customer_id",
          "request_id",
          "request_fingerprint",
          "state",
          "currency_code",
          "subtotal_minor",
          "total_minor",
          "card_brand",
          "card_last4",
        ])
        .expression((eb) =>
          eb
            .selectFrom("verdict")
            .select([
              sql<string>`gen_random_uuid()`.as("id"),
              sql.val(draft.customerId).as("customer_id"),
              sql.val(draft.requestId).as("request_id"),
              sql.val(draft.fingerprint).as("request_fingerprint"),
              sql.lit("pending_payment").as("state"),
              "currency_code",
              "total_minor as subtotal_minor",
              "total_minor",
              sql.val(draft.cardBrand).as("card_brand"),
              sql.val(draft.cardLast4).as("card_last4"),
            ])
            .where("acceptable", "=", true),
        )
        .onConflict((oc) => oc.columns(["customer_id", "request_id"]).doNothing())
        .returning(ORDER_FIELDS),
    );
  const locked = withStockLocked(decided, (qc) =>
    qc
      .selectFrom("priced")
      .innerJoin("placed", (join) => join.onTrue())
      .select("priced.product_id"),
  );
  const parts = locked.with("placed_lines", (qc) =>
    qc
      .insertInto("order_line")
      .columns([
        "id",
        "order_id",
        "position",
        "product_id",
        "sku",
        "product_name",
        "quantity",
        "unit_price_minor",
        "line_total_minor",
      ])
      .expression((eb) =>
        eb
          .selectFrom("priced")
          .innerJoin("placed", (join) => join.onTrue())
          // After the products are locked: see withStockLocked.
          .innerJoin("stock_locked", "stock_locked.id", "priced.product_id")
          .select([
            sql<string>`gen_random_uuid()`.as("id"),
            "placed.id as order_id",
            "priced.position",
            "priced.product_id",
            "priced.sku",
            "priced.name",
            "priced.quantity",
            "priced.unit_price_minor",
            "priced.line_total_minor",
          ]),
      )
      .returning(["product_id", "quantity"]),
  );
  return withStockReserved(parts, (qc) => qc.selectFrom("placed_lines").select(["product_id", "quantity"]))
    .selectFrom("priced")
    .innerJoin("verdict", (join) => join.onTrue())
    .leftJoin("placed", (join) => join.onTrue())
    .select([
      "priced.product_id",
      "priced.quantity",
      "priced.position",
      "priced.sku",
      "priced.name",
      "priced.unit_price_minor",
      "priced.currency_code",
      "priced.available",
      "priced.line_total_minor",
      "verdict.acceptable",
      ...ORDER_FIELDS.map((field) => `placed.${field}` as const),
    ])
    .orderBy("priced.position");
}

/**
 * A page of orders, newest first, as the (customer_id,) created_at, id indexes run backwards:
 * a page is a range of one of them, as fast on the millionth order as on the first.
 */
export function ordersPageQuery(
  db: Kysely<OrderTables>,
  filter: OrderFilter,
  after: OrderCursor | undefined,
  limit: number,
) {
  let page = selectOrders(db).select(
    sql<number>`(extract(epoch from created_at) * 1000000)::int8`.as("created_micros"),
  );
  if (filter.customerId !== "") {
    // One customer's page must come from customer_order_customer_created_index. Asked as
    // `customer_id = $1`, the customer drops out of the sort order, and the planner may walk
    // the newest-first index of all orders instead, filtering: cheap when they hold a large share
    // of the orders, until a page lies under thousands of someone else's (33,000 rows read for
    // a page of 21 at a million orders). `= any(array[$1])` is estimated as the equality is, but
    // keeps customer_id in the order asked for, which only that index yields without a sort.
    page = page
      .where("customer_id", "=", sql<string>`any(array[${filter.customerId}::uuid])`)
      .orderBy("customer_id", "desc");
  }
  page = page.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit);
  if (filter.state !== undefined) page = page.where("state", "=", filter.state);
  if (after) {
    page = page.where((eb) =>
      eb(
        eb.refTuple("created_at", "id"),
        "<",
        eb.tuple(sql<Date>`${timestampOfMicros(after.createdMicros)}::timestamptz`, after.id),
      ),
    );
  }
  return page;
}

/** What the recovery loop settles: pending orders, stalest first, from customer_order_pending_index. */
export function stalePendingQuery(db: Kysely<OrderTables>, olderThanMs: number, limit: number) {
  return db
    .selectFrom("customer_order")
    .select("id")
    .where("state", "=", "pending_payment")
    .where("updated_at", "<", sql<Date>`now() - make_interval(secs => ${olderThanMs / 1000})`)
    .orderBy("updated_at")
    .limit(limit);
}

/** What the recovery loop finishes: cancellations a crash interrupted, from customer_order_cancelling_index. */
export function interruptedCancellationsQuery(db: Kysely<OrderTables>, olderThanMs: number, limit: number) {
  return db
    .selectFrom("customer_order")
    .select(["id", "charge_id"])
    .where("state", "in", ["paid", "fulfilled"])
    .where("cancel_requested_at", "is not", null)
    .where("cancel_requested_at", "<", sql<Date>`now() - make_interval(secs => ${olderThanMs / 1000})`)
    .where("charge_id", "is not", null)
    .orderBy("cancel_requested_at")
    .limit(limit);
}

/** The order columns every read returns. */
const ORDER_FIELDS = [
  "id",
  "number",
  "customer_id",
  "request_id",
  "request_fingerprint",
  "state",
  "currency_code",
  "subtotal_minor",
  "total_minor",
  "card_brand",
  "card_last4",
  "charge_id",
  "refund_id",
  "failure_code",
  "created_at",
  "updated_at",
] as const;

/** Orders with their lines, in one statement: the lines come as a JSON array per order. */
function selectOrders(db: Kysely<OrderTables>) {
  return db
    .selectFrom("customer_order")
    .select(ORDER_FIELDS)
    .select((eb) => linesOfOrder(eb).as("lines"));
}

function linesOfOrder(eb: ExpressionBuilder<OrderTables, "customer_order">) {
  return jsonArrayFrom(
    eb
      .selectFrom("order_line")
      .select([
        "product_id as productId",
        "sku",
        "product_name as productName",
        "quantity",
        "unit_price_minor as unitPriceMinor",
        "line_total_minor as lineTotalMinor",
      ])
      .whereRef("order_line.order_id", "=", "customer_order.id")
      .orderBy("order_line.position"),
  );
}

type OrderRow = Pick<Selectable<OrderTables["customer_order"]>, (typeof ORDER_FIELDS)[number]> & {
  lines: OrderLineView[];
};

function viewOf(row: OrderRow): OrderView {
  return {
    id: row.id,
    number: row.number,
    customerId: row.customer_id,
    requestId: row.request_id,
    requestFingerprint: row.request_fingerprint,
    state: row.state,
    currencyCode: row.currency_code,
    subtotalMinor: row.subtotal_minor,
    totalMinor: row.total_minor,
    card: { brand: row.card_brand, last4: row.card_last4 },
    chargeId: row.charge_id,
    refundId: row.refund_id,
    failureCode: row.failure_code,
    lines: row.lines,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const orderStatements = statementBuilder<OrderTables>();

const findOrder = boundStatement((p: { id: string }) => selectOrders(orderStatements).where("id", "=", p.id));

const findOrderByRequest = boundStatement((p: { customerId: string; requestId: string }) =>
  selectOrders(orderStatements).where("customer_id", "=", p.customerId).where("request_id", "=", p.requestId),
);

const claimPending = boundStatement((p: { id: string }) =>
  orderStatements
    .updateTable("customer_order")
    .set({ updated_at: sql<Date>`now()` })
    .where("id", "=", p.id)
    .where("state", "=", "pending_payment")
    .returning("id"),
);

/** Where an order event came from: the call that made the change, carried to what follows it. */
interface EventOrigin {
  correlationId: string | null;
  traceparent: string | null;
}

const settlePaid = boundStatement((p: { id: string; chargeId: string; reason: string } & EventOrigin) =>
  withStockSold(
    changeOrder(orderStatements, p.id, ["pending_payment"], { state: "fulfilled", charge_id: p.chargeId }),
    changedLines,
    p.reason,
  )
    .with("event", (qc) => recordEvent(qc, "paid", p))
    .selectFrom("changed")
    .select("updated_at as updatedAt"),
);

const settleFailed = boundStatement((p: { id: string; failureCode: string }) =>
  withStockReleased(
    changeOrder(orderStatements, p.id, ["pending_payment"], { state: "payment_failed", failure_code: p.failureCode }),
    changedLines,
  )
    .selectFrom("changed")
    .select("id"),
);

const cancelOrder = boundStatement((p: { id: string; refundId: string; reason: string } & EventOrigin) =>
  withStockRestocked(
    changeOrder(orderStatements, p.id, ["paid", "fulfilled"], { state: "cancelled", refund_id: p.refundId }),
    changedLines,
    p.reason,
  )
    .with("event", (qc) => recordEvent(qc, "cancelled", p))
    .selectFrom("changed")
    .select("updated_at as updatedAt"),
);

/**
 * The first parts of a statement that moves an order from one of `from` to a new state:
 * `changed` (the order, if it was in one of those states) and `changed_lines` (its lines,
 * none if it was not), on which the stock changes and the event of the rest depend.
 */
function changeOrder(
  db: Kysely<OrderTables>,
  id: string,
  from: readonly OrderState[],
  to: Updateable<OrderTables["customer_order"]>,
) {
  return db
    .with("changed", (qc) =>
      qc
        .updateTable("customer_order")
        .set({ ...to, updated_at: sql<Date>`now()` })
        .where("id", "=", id)
        .where("state", "in", from)
        .returning(["id", "updated_at"]),
    )
    .with("changed_lines", (qc) =>
      qc
        .selectFrom("order_line")
        .select(["product_id", "quantity"])
        .where("order_id", "in", qc.selectFrom("changed").select("id")),
    );
}

type ChangeParts = ReturnType<typeof changeOrder> extends QueryCreator<infer DB> ? DB : never;

const changedLines = (qc: QueryCreator<ChangeParts>) =>
  qc.selectFrom("changed_lines").select(["product_id", "quantity"]);

/**
 * The outbox row of the change, written with it: the worker queues what follows from it, in
 * the scope of the call that made the change (its correlation id and trace).
 */
function recordEvent(qc: QueryCreator<ChangeParts>, kind: OrderEventKind, origin: EventOrigin) {
  return qc
    .insertInto("order_event")
    .columns(["order_id", "kind", "correlation_id", "traceparent"])
    .expression(
      qc
        .selectFrom("changed")
        .select([
          "id as order_id",
          sql.lit(kind).as("kind"),
          sql<string | null>`${origin.correlationId}::text`.as("correlation_id"),
          sql<string | null>`${origin.traceparent}::text`.as("traceparent"),
        ]),
    );
}

/** The current call's, read per statement (a bound statement's values come from its parameters). */
function eventOrigin(): EventOrigin {
  return { correlationId: currentCorrelationId() ?? null, traceparent: currentTraceparent() ?? null };
}

/** An ISO timestamp with microseconds, exact where a Date would keep milliseconds only. */
function timestampOfMicros(micros: number): string {
  const millis = Math.floor(micros / 1000);
  const extra = String(micros - millis * 1000).padStart(3, "0");
  return new Date(millis).toISOString().replace("Z", `${extra}Z`);
}
