import type { Attributes, Counter, Meter } from "@opentelemetry/api";
import { InvalidInput, TemporarilyUnavailable } from "../shared/domain-error.js";
import { resultWithin } from "../telemetry/time-bound.js";
import type { OrderState } from "./order.entity.js";
import { OutOfStock, PaymentDeclined } from "./order-errors.js";
import type { OrderRepository, OrderView } from "./order-repository.js";

/**
 * The orders' own metrics: what PlaceOrder answered, stock that ran out under a placement,
 * what the recovery loop settled, and the orders waiting for their payment's outcome.
 */
export interface OrderMetrics {
  /** `shop.orders.placed`, by `outcome` (and `decline_code` when declined). */
  readonly placed: Counter;
  /** `shop.orders.stock_conflicts`: placements decided again because stock ran out under them. */
  readonly stockConflicts: Counter;
  /** `shop.orders.recovered`, by `outcome`: succeeded, declined, not_charged, cancellation_finished. */
  readonly recovered: Counter;
}

export function createOrderMetrics(meter: Meter): OrderMetrics {
  return {
    placed: meter.createCounter("shop.orders.placed", {
      description:
        "PlaceOrder answers, retries included, by outcome: fulfilled, pending, declined (with decline_code), out_of_stock, rejected, cancelled, error",
      unit: "{order}",
    }),
    stockConflicts: meter.createCounter("shop.orders.stock_conflicts", {
      description: "Placements whose stock ran out between reading and reserving it, decided again",
      unit: "{placement}",
    }),
    recovered: meter.createCounter("shop.orders.recovered", {
      description: "Orders the recovery loop settled, by outcome",
      unit: "{order}",
    }),
  };
}

/** How long a scrape waits for the database's figures before leaving them out. */
const DATABASE_READ_MS = 2_000;

/** Reports the orders pending payment now, and how long the stalest has waited. */
export function observePendingOrders(meter: Meter, orders: Pick<OrderRepository, "pendingPayment">): void {
  const pending = meter.createObservableUpDownCounter("shop.orders.pending", {
    description: "Orders waiting for their payment's outcome (PENDING_PAYMENT)",
    unit: "{order}",
  });
  const oldest = meter.createObservableGauge("shop.orders.pending.oldest_age", {
    description: "How long the order pending payment the longest has waited",
    unit: "s",
  });
  meter.addBatchObservableCallback(
    async (observer) => {
      const now = await resultWithin(DATABASE_READ_MS, orders.pendingPayment());
      if (now === undefined) return;
      observer.observe(pending, now.orders);
      observer.observe(oldest, now.oldestAgeS);
    },
    [pending, oldest],
  );
}

/** PlaceOrder, counting each answer in `shop.orders.placed` by its outcome. */
export function countingPlacements<Args extends unknown[]>(
  placeOrder: (...args: Args) => Promise<OrderView>,
  metrics: OrderMetrics,
): (...args: Args) => Promise<OrderView> {
  return async (...args) => {
    try {
      const order = await placeOrder(...args);
      metrics.placed.add(1, outcomeOfState(order));
      return order;
    } catch (error) {
      metrics.placed.add(1, outcomeOfFailure(error));
      throw error;
    }
  };
}

const OUTCOME_OF_STATE: Record<OrderState, string> = {
  fulfilled: "fulfilled",
  paid: "fulfilled",
  pending_payment: "pending",
  payment_failed: "declined",
  cancelled: "cancelled",
};

function outcomeOfState(order: OrderView): Attributes {
  const outcome = OUTCOME_OF_STATE[order.state];
  return outcome === "declined" ? { outcome, decline_code: order.failureCode ?? "declined" } : { outcome };
}

function outcomeOfFailure(error: unknown): Attributes {
  if (error instanceof PaymentDeclined) return { outcome: "declined", decline_code: error.metadata.declineCode ?? "" };
  if (error instanceof OutOfStock) return { outcome: "out_of_stock" };
  // The gateway's answer is unknown: the order stays pending until a retry or recovery settles it.
  if (error instanceof TemporarilyUnavailable && error.reason === "PAYMENT_GATEWAY_UNAVAILABLE") {
    return { outcome: "pending" };
  }
  if (error instanceof InvalidInput) return { outcome: "rejected" };
  return { outcome: "error" };
}
