import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  type Charge,
  ChargeStatus,
  DeclineCode,
  MockPaymentGatewayService,
} from "../../gen/payment/v1/mock_payment_gateway_service_pb.js";
import type { Logger } from "../logging/logger.js";
import { createClientTelemetryInterceptor } from "../rpc/call-telemetry.js";
import { NO_TELEMETRY, type Telemetry } from "../telemetry/telemetry.js";
import { GatewayUnavailable, type PaymentGateway } from "./payment-gateway.js";

/** Codes after which the same request, with the same idempotency key, may well succeed. */
const TRANSIENT = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.ResourceExhausted, Code.Aborted]);

const DECLINE_CODES: Record<DeclineCode, string> = {
  [DeclineCode.UNSPECIFIED]: "declined",
  [DeclineCode.GENERIC_DECLINE]: "generic_decline",
  [DeclineCode.INSUFFICIENT_FUNDS]: "insufficient_funds",
  [DeclineCode.EXPIRED_CARD]: "expired_card",
  [DeclineCode.INCORRECT_CVC]: "incorrect_cvc",
};

export interface GatewayClientOptions {
  baseUrl: string;
  logger: Logger;
  /** Spans and metrics of each call; the correlation id is passed on either way. */
  telemetry?: Telemetry;
  /** Deadline of each attempt. */
  timeoutMs?: number;
  /** Attempts per call, the first included; transient failures are retried with backoff. */
  attempts?: number;
  backoffMs?: number;
}

/**
 * The MockPaymentGateway over real gRPC, with a deadline on every attempt and retries of
 * transient failures under the same idempotency key, so a retry can never charge twice.
 */
export function createPaymentGatewayClient(options: GatewayClientOptions): PaymentGateway {
  const client = createClient(
    MockPaymentGatewayService,
    createGrpcTransport({
      baseUrl: options.baseUrl,
      interceptors: [createClientTelemetryInterceptor(options.telemetry ?? NO_TELEMETRY)],
    }),
  );
  const timeoutMs = options.timeoutMs ?? 5_000;
  const attempts = options.attempts ?? 3;
  const backoffMs = options.backoffMs ?? 200;

  async function withRetries<T>(operation: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (thrown) {
        const error = ConnectError.from(thrown);
        if (!TRANSIENT.has(error.code)) throw error;
        options.logger.warn(
          { event: "payment.gateway_retry", operation, attempt, code: Code[error.code] },
          "payment gateway call failed; retrying",
        );
        if (attempt >= attempts) throw new GatewayUnavailable(error);
        await sleep(backoffMs * 2 ** (attempt - 1));
      }
    }
  }

  return {
    async charge(input) {
      let charge: Charge | undefined;
      try {
        ({ charge } = await withRetries("charge", () =>
          client.charge(
            {
              idempotencyKey: input.idempotencyKey,
              amountMinor: BigInt(input.amountMinor),
              currencyCode: input.currencyCode,
              card: input.card,
              description: input.description,
            },
            { timeoutMs },
          ),
        ));
      } catch (error) {
        // Any other failure (cancelled, internal, a reset stream) may come after the money
        // moved: the outcome is unknown, and only asking later under the same key settles it.
        if (error instanceof GatewayUnavailable) throw error;
        throw new GatewayUnavailable(error);
      }
      if (charge?.status === ChargeStatus.SUCCEEDED) return { status: "succeeded", chargeId: charge.id };
      return { status: "declined", declineCode: DECLINE_CODES[charge?.declineCode ?? DeclineCode.UNSPECIFIED] };
    },

    async findCharge(idempotencyKey) {
      try {
        const { charge } = await withRetries("get_charge", () =>
          client.getCharge({ lookup: { case: "idempotencyKey", value: idempotencyKey } }, { timeoutMs }),
        );
        if (charge?.status === ChargeStatus.SUCCEEDED) return { status: "succeeded", chargeId: charge.id };
        return { status: "declined", declineCode: DECLINE_CODES[charge?.declineCode ?? DeclineCode.UNSPECIFIED] };
      } catch (error) {
        if (error instanceof ConnectError && error.code === Code.NotFound) return undefined;
        throw error;
      }
    },

    async refund(input) {
      const { refund } = await withRetries("refund", () =>
        client.refund(
          { chargeId: input.chargeId, amountMinor: 0n, idempotencyKey: input.idempotencyKey },
          { timeoutMs },
        ),
      );
      return { refundId: refund?.id ?? "" };
    },
  };
}
