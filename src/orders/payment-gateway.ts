/**
 * What the order flow needs from a card processor. The adapter in
 * payment-gateway-client.ts speaks gRPC to the MockPaymentGateway; the domain sees only this.
 */
export type ChargeOutcome = { status: "succeeded"; chargeId: string } | { status: "declined"; declineCode: string };

export interface CardDetails {
  number: string;
  expMonth: number;
  expYear: number;
  cvc: string;
}

export interface PaymentGateway {
  /** Idempotent per key. Throws GatewayUnavailable when the outcome is unknown. */
  charge(input: {
    idempotencyKey: string;
    amountMinor: number;
    currencyCode: string;
    card: CardDetails;
    description: string;
  }): Promise<ChargeOutcome>;
  /** The charge made with this key, or undefined if none was: safe to give up on it. */
  findCharge(idempotencyKey: string): Promise<ChargeOutcome | undefined>;
  /** Refunds the whole charge, idempotent per key. */
  refund(input: { chargeId: string; idempotencyKey: string }): Promise<{ refundId: string }>;
}

/** The gateway could not be reached or did not answer in time; the outcome is unknown. */
export class GatewayUnavailable extends Error {
  constructor(override readonly cause: unknown) {
    super("the payment gateway is unavailable");
    this.name = "GatewayUnavailable";
  }
}
