import type { Caller } from "../auth/caller.js";
import type { Logger } from "../logging/logger.js";
import { TemporarilyUnavailable } from "../shared/domain-error.js";
import { RequestValidator } from "../validation/request-validator.js";
import { InvalidOrderState } from "./order-errors.js";
import type { OrderQueries } from "./order-queries.js";
import type { OrderRepository, OrderView } from "./order-repository.js";
import { GatewayUnavailable } from "./payment-gateway.js";
import { type PaymentSettlement, RETRY_AFTER_GATEWAY_OUTAGE_MS } from "./payment-settlement.js";

/**
 * CancelOrder: a paid order is refunded in full, then cancelled and restocked. The request
 * is recorded before the refund, so a crash after refunding leaves a trace that recovery
 * finishes; refunding again is safe, its key is fixed.
 */
export function createCancelOrder(deps: {
  orders: OrderRepository;
  queries: OrderQueries;
  settlement: PaymentSettlement;
  logger: Logger;
}): (caller: Caller, id: string, reason: string) => Promise<OrderView> {
  const { orders, queries, settlement, logger } = deps;

  return async function cancelOrder(caller, id, reason) {
    const check = new RequestValidator();
    const why = check.text("reason", reason, { max: 200 });
    check.throwIfInvalid();
    const order = await queries.getOrder(caller, id);
    if (!(await orders.requestCancellation(order.id))) {
      throw new InvalidOrderState(order.id, order.state.toUpperCase(), "cancel");
    }
    let cancelled: Awaited<ReturnType<PaymentSettlement["refundAndCancel"]>>;
    try {
      cancelled = await settlement.refundAndCancel(order.id, order.chargeId as string);
    } catch (error) {
      if (!(error instanceof GatewayUnavailable)) throw error;
      throw new TemporarilyUnavailable(
        "PAYMENT_GATEWAY_UNAVAILABLE",
        "the refund could not be completed yet; it will be retried, and so may you",
        RETRY_AFTER_GATEWAY_OUTAGE_MS,
      );
    }
    logger.info({ event: "order.cancel_requested", orderId: order.id, reason: why }, "cancellation requested");
    return { ...order, state: "cancelled", refundId: cancelled.refundId, updatedAt: cancelled.updatedAt };
  };
}
