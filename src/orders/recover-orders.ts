import type { Logger } from "../logging/logger.js";
import type { OrderMetrics } from "./order-metrics.js";
import type { OrderRepository } from "./order-repository.js";
import type { PaymentSettlement } from "./payment-settlement.js";

/** How many orders one pass settles at most; the next pass takes the rest. */
const BATCH = 100;

/**
 * Settles orders left PENDING_PAYMENT for longer than `olderThanMs` (a gateway outage, a
 * crash between charge and commit) by asking the gateway what happened under their key,
 * and finishes cancellations a crash interrupted. Returns how many it settled.
 */
export function createRecoverOrders(deps: {
  orders: OrderRepository;
  settlement: PaymentSettlement;
  logger: Logger;
  metrics: Pick<OrderMetrics, "recovered">;
}): (olderThanMs: number) => Promise<number> {
  const { orders, settlement, logger, metrics } = deps;

  return async function recoverPendingOrders(olderThanMs) {
    let finished = 0;
    for (const { id, chargeId } of await orders.interruptedCancellations(olderThanMs, BATCH)) {
      try {
        await settlement.refundAndCancel(id, chargeId);
        finished++;
        logger.info({ event: "order.cancellation_recovered", orderId: id }, "interrupted cancellation finished");
        metrics.recovered.add(1, { outcome: "cancellation_finished" });
      } catch (error) {
        logger.warn({ event: "order.recovery_deferred", orderId: id, err: error }, "cannot finish cancellation yet");
      }
    }
    let settled = 0;
    for (const id of await orders.stalePending(olderThanMs, BATCH)) {
      try {
        const outcome = await settlement.settleFromGateway(id);
        settled++;
        logger.info({ event: "order.recovered", orderId: id, outcome }, "pending order settled");
        metrics.recovered.add(1, { outcome });
      } catch (error) {
        logger.warn({ event: "order.recovery_deferred", orderId: id, err: error }, "cannot settle yet");
      }
    }
    return settled + finished;
  };
}
