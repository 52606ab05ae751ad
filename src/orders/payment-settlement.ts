import type { Logger } from "../logging/logger.js";
import { TemporarilyUnavailable } from "../shared/domain-error.js";
import { InvalidOrderState, PaymentDeclined } from "./order-errors.js";
import type { OrderRepository, OrderView } from "./order-repository.js";
import { type CardDetails, GatewayUnavailable, type PaymentGateway } from "./payment-gateway.js";

/** How long callers should wait before retrying when the gateway's answer is unknown. */
export const RETRY_AFTER_GATEWAY_OUTAGE_MS = 2_000;

/** The gateway idempotency keys of an order: one charge, one refund, ever. */
export const chargeKeyOf = (orderId: string) => `order-${orderId}`;
const refundKeyOf = (orderId: string) => `order-${orderId}-refund`;

export interface PaymentSettlement {
  /**
   * Charges a pending order (again, under the same key: the gateway makes it happen once)
   * and settles it: FULFILLED, or PAYMENT_FAILED with its stock released and PaymentDeclined
   * thrown. An unknown outcome leaves it pending and throws TemporarilyUnavailable.
   */
  chargeAndSettle(order: OrderView, card: CardDetails): Promise<OrderView>;
  /**
   * Settles a pending order from what the gateway recorded under its key: paid, declined, or
   * never charged (failed, stock released). Returns what it found.
   */
  settleFromGateway(orderId: string): Promise<"succeeded" | "declined" | "not_charged">;
  /** Refunds the whole charge (once, whatever the attempts), then cancels and restocks. */
  refundAndCancel(orderId: string, chargeId: string): Promise<{ refundId: string; updatedAt: Date }>;
}

export function createPaymentSettlement(deps: {
  orders: OrderRepository;
  gateway: PaymentGateway;
  logger: Logger;
}): PaymentSettlement {
  const { orders, gateway, logger } = deps;

  async function settlePaid(orderId: string, chargeId: string) {
    const settled = await orders.settlePaid(orderId, chargeId);
    if (settled) {
      logger.info({ event: "order.paid", orderId, chargeId }, "order paid");
      logger.info({ event: "order.fulfilled", orderId }, "order fulfilled");
    }
    return settled;
  }

  async function settleFailed(orderId: string, failureCode: string) {
    if (await orders.settleFailed(orderId, failureCode)) {
      logger.info({ event: "order.payment_failed", orderId, failureCode }, "order payment failed; stock released");
    }
  }

  return {
    async chargeAndSettle(order, card) {
      let outcome: Awaited<ReturnType<PaymentGateway["charge"]>>;
      try {
        outcome = await gateway.charge({
          idempotencyKey: chargeKeyOf(order.id),
          amountMinor: order.totalMinor,
          currencyCode: order.currencyCode,
          card,
          description: `order ${order.id}`,
        });
      } catch (error) {
        if (!(error instanceof GatewayUnavailable)) throw error;
        logger.warn(
          { event: "order.payment_pending", orderId: order.id },
          "payment outcome unknown; order stays pending",
        );
        throw new TemporarilyUnavailable(
          "PAYMENT_GATEWAY_UNAVAILABLE",
          "the payment could not be completed yet; retry with the same request_id",
          RETRY_AFTER_GATEWAY_OUTAGE_MS,
        );
      }
      if (outcome.status === "declined") {
        await settleFailed(order.id, outcome.declineCode);
        throw new PaymentDeclined(order.id, outcome.declineCode);
      }
      const settled = await settlePaid(order.id, outcome.chargeId);
      if (settled) return { ...order, state: "fulfilled", chargeId: outcome.chargeId, updatedAt: settled.updatedAt };

      // Settled meanwhile, by a duplicate request or by recovery.
      const current = (await orders.find(order.id)) as OrderView;
      if (current.state !== "payment_failed") return current;
      // Recovery gave up on this order (its charge was not found) while this attempt charged
      // it: the money goes back, so a failed order never keeps a payment.
      await gateway.refund({ chargeId: outcome.chargeId, idempotencyKey: refundKeyOf(order.id) });
      logger.warn(
        { event: "order.late_charge_refunded", orderId: order.id, chargeId: outcome.chargeId },
        "late charge refunded",
      );
      throw new PaymentDeclined(order.id, current.failureCode ?? "not_charged");
    },

    async settleFromGateway(orderId) {
      const outcome = await gateway.findCharge(chargeKeyOf(orderId));
      if (outcome === undefined) await settleFailed(orderId, "not_charged");
      else if (outcome.status === "succeeded") await settlePaid(orderId, outcome.chargeId);
      else await settleFailed(orderId, outcome.declineCode);
      return outcome?.status ?? "not_charged";
    },

    async refundAndCancel(orderId, chargeId) {
      const { refundId } = await gateway.refund({ chargeId, idempotencyKey: refundKeyOf(orderId) });
      const cancelled = await orders.cancel(orderId, refundId);
      if (!cancelled) throw new InvalidOrderState(orderId, "CANCELLED", "cancel");
      logger.info({ event: "order.cancelled", orderId, refundId }, "order cancelled and refunded");
      return { refundId, updatedAt: cancelled.updatedAt };
    },
  };
}
