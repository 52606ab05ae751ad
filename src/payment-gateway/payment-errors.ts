import { ConditionNotMet, InvalidInput } from "../shared/domain-error.js";

/** An idempotency key reused with different parameters: a client bug, never retried. */
export class IdempotencyKeyReused extends InvalidInput {
  readonly reason = "IDEMPOTENCY_KEY_REUSED";
  constructor(key: string) {
    super(`idempotency key "${key}" was already used with different parameters`);
  }
}

export class RefundRefused extends ConditionNotMet {
  readonly reason: "REFUND_EXCEEDS_CHARGE" | "CHARGE_NOT_REFUNDABLE";
  constructor(chargeId: string, reason: "REFUND_EXCEEDS_CHARGE" | "CHARGE_NOT_REFUNDABLE", description: string) {
    super(description, [{ type: "CHARGE", subject: chargeId, description }]);
    this.reason = reason;
  }
}
