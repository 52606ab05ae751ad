import { defineEntity, p } from "@mikro-orm/core";
import { User } from "../auth/user.entity.js";
import { createdAt, updatedAt, uuidPrimaryKey } from "../db/common-properties.js";
import { Product } from "../inventory/product.entity.js";

export const ORDER_STATES = ["pending_payment", "paid", "fulfilled", "payment_failed", "cancelled"] as const;
export type OrderState = (typeof ORDER_STATES)[number];

/**
 * An order and where it is in its life (see the state machine in order_service.proto).
 * Unique per (request_id, customer): the idempotency key of PlaceOrder, led by request_id
 * so that no index but the customer's list index starts with customer_id.
 */
export const OrderSchema = defineEntity({
  name: "Order",
  tableName: "customer_order",
  uniques: [
    { name: "customer_order_request_unique", properties: ["requestId", "customer"] },
    { name: "customer_order_number_unique", properties: ["number"] },
  ],
  // Each list's order, so a page is an index range whatever the table's size.
  indexes: [
    { name: "customer_order_pending_index", properties: ["state", "updatedAt"] },
    { name: "customer_order_created_index", properties: ["createdAt", "id"] },
    { name: "customer_order_customer_created_index", properties: ["customer", "createdAt", "id"] },
    // Recovery looks for interrupted cancellations every few seconds: only they are indexed.
    {
      name: "customer_order_cancelling_index",
      properties: ["cancelRequestedAt"],
      where: "cancel_requested_at is not null and state in ('paid', 'fulfilled')",
    },
  ],
  checks: [
    {
      name: "customer_order_state_check",
      expression: "state in ('pending_payment', 'paid', 'fulfilled', 'payment_failed', 'cancelled')",
    },
  ],
  properties: {
    id: uuidPrimaryKey(),
    /** Short and sequential, for people ("order #1042"); APIs use the id. */
    number: p.bigint("number").autoincrement(),
    customer: () => p.manyToOne(User),
    requestId: p.string().length(64),
    /** Hash of the request, to tell a retry from a reuse of the request_id. */
    requestFingerprint: p.string().length(64),
    state: p.string().length(24).$type<OrderState>(),
    currencyCode: p.character().length(3),
    subtotalMinor: p.bigint("number"),
    totalMinor: p.bigint("number"),
    cardBrand: p.string().length(16),
    cardLast4: p.character().length(4),
    chargeId: p.string().length(64).nullable(),
    refundId: p.string().length(64).nullable(),
    failureCode: p.string().length(32).nullable(),
    /** Set before the refund of a cancellation, so recovery can finish one a crash interrupted. */
    cancelRequestedAt: p.datetime().nullable(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});
export class Order extends OrderSchema.class {}
OrderSchema.setClass(Order);

/** One line of an order, with the product's SKU, name and price when it was placed. */
export const OrderLineSchema = defineEntity({
  name: "OrderLine",
  tableName: "order_line",
  uniques: [{ name: "order_line_position_unique", properties: ["order", "position"] }],
  properties: {
    id: uuidPrimaryKey(),
    order: () => p.manyToOne(Order),
    position: p.integer(),
    product: () => p.manyToOne(Product).index("order_line_product_index"),
    sku: p.string().length(64),
    productName: p.string().length(200),
    quantity: p.integer(),
    unitPriceMinor: p.bigint("number"),
    lineTotalMinor: p.bigint("number"),
  },
});
export class OrderLine extends OrderLineSchema.class {}
OrderLineSchema.setClass(OrderLine);

export const ORDER_EVENT_KINDS = ["paid", "cancelled"] as const;
export type OrderEventKind = (typeof ORDER_EVENT_KINDS)[number];

/**
 * The outbox: an event is written in the transaction that changed the order, and taken
 * from here by the worker, which queues what follows (an email). Writing a row costs a
 * commit nothing, where queueing a job there would NOTIFY and serialise every commit.
 */
export const OrderEventSchema = defineEntity({
  name: "OrderEvent",
  tableName: "order_event",
  uniques: [{ name: "order_event_once_unique", properties: ["order", "kind"] }],
  checks: [{ name: "order_event_kind_check", expression: "kind in ('paid', 'cancelled')" }],
  properties: {
    id: p.bigint("number").primary().autoincrement(),
    order: () => p.manyToOne(Order),
    kind: p.string().length(16).$type<OrderEventKind>(),
    /** The call that caused it, for the logs and the trace of what follows (its email). */
    correlationId: p.string().length(128).nullable(),
    traceparent: p.string().length(55).nullable(),
    createdAt: createdAt(),
  },
});
export class OrderEvent extends OrderEventSchema.class {}
OrderEventSchema.setClass(OrderEvent);
