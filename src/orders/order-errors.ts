import { ConditionNotMet, InvalidInput, type PreconditionViolation } from "../shared/domain-error.js";

export interface Shortage {
  productId: string;
  requested: number;
  available: number;
}

/** Some products are short of stock; nothing was reserved. Lists every short product. */
export class OutOfStock extends ConditionNotMet {
  readonly reason = "OUT_OF_STOCK";
  constructor(readonly shortages: readonly Shortage[]) {
    super(
      `not enough stock for ${shortages.length} product(s)`,
      shortages.map(
        ({ productId, requested, available }): PreconditionViolation => ({
          type: "STOCK",
          subject: productId,
          description: `requested ${requested}, available ${available}`,
        }),
      ),
    );
  }
}

/** The card was declined; the order is PAYMENT_FAILED and its stock released. */
export class PaymentDeclined extends ConditionNotMet {
  readonly reason = "PAYMENT_DECLINED";
  constructor(orderId: string, declineCode: string) {
    super(`the card was declined: ${declineCode}`, [{ type: "PAYMENT", subject: orderId, description: declineCode }], {
      declineCode,
      orderId,
    });
  }
}

/** The order is not in a state that allows this (e.g. cancelling a cancelled order). */
export class InvalidOrderState extends ConditionNotMet {
  readonly reason = "INVALID_ORDER_STATE";
  constructor(orderId: string, state: string, action: string) {
    super(`cannot ${action} an order that is ${state}`, [
      { type: "ORDER_STATE", subject: orderId, description: `${action} is not allowed in state ${state}` },
    ]);
  }
}

/** Products in one order must share a currency: one charge has one currency. */
export class MixedCurrencies extends InvalidInput {
  readonly reason = "MIXED_CURRENCIES";
  constructor(currencies: readonly string[]) {
    super(`the products are priced in different currencies (${currencies.join(", ")}); place one order per currency`);
  }
}
