import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  type Charge,
  ChargeSchema,
  ChargeStatus,
  DeclineCode,
  MockPaymentGatewayService,
  type Refund,
  RefundSchema,
} from "../../gen/payment/v1/mock_payment_gateway_service_pb.js";
import type { ChargeRecord, Charges, RefundRecord } from "./charges.js";
import type { DeclineCode as DomainDeclineCode } from "./test-cards.js";

const DECLINE_CODES: Record<DomainDeclineCode, DeclineCode> = {
  generic_decline: DeclineCode.GENERIC_DECLINE,
  insufficient_funds: DeclineCode.INSUFFICIENT_FUNDS,
  expired_card: DeclineCode.EXPIRED_CARD,
  incorrect_cvc: DeclineCode.INCORRECT_CVC,
};

export function registerGatewayService(router: ConnectRouter, charges: Charges): void {
  router.service(MockPaymentGatewayService, {
    async charge(request, context) {
      return { charge: toChargeMessage(await charges.charge(request, context.signal)) };
    },
    async getCharge(request, context) {
      const lookup =
        request.lookup.case === "chargeId"
          ? { chargeId: request.lookup.value }
          : { idempotencyKey: request.lookup.value ?? "" };
      return { charge: toChargeMessage(await charges.getCharge(lookup, context.signal)) };
    },
    async refund(request, context) {
      const { refund, charge } = await charges.refund(request, context.signal);
      return { refund: toRefundMessage(refund), charge: toChargeMessage(charge) };
    },
  });
}

function toChargeMessage(charge: ChargeRecord): Charge {
  return create(ChargeSchema, {
    id: charge.id,
    idempotencyKey: charge.idempotencyKey,
    amountMinor: BigInt(charge.amountMinor),
    currencyCode: charge.currencyCode,
    status: charge.status === "succeeded" ? ChargeStatus.SUCCEEDED : ChargeStatus.DECLINED,
    declineCode: charge.declineCode ? DECLINE_CODES[charge.declineCode] : DeclineCode.UNSPECIFIED,
    card: charge.card,
    amountRefundedMinor: BigInt(charge.amountRefundedMinor),
    description: charge.description,
    createTime: timestampFromDate(charge.createdAt),
  });
}

function toRefundMessage(refund: RefundRecord): Refund {
  return create(RefundSchema, {
    id: refund.id,
    chargeId: refund.chargeId,
    amountMinor: BigInt(refund.amountMinor),
    idempotencyKey: refund.idempotencyKey,
    createTime: timestampFromDate(refund.createdAt),
  });
}
