import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { type Order, OrderSchema, OrderService, OrderState } from "../../gen/shop/v1/order_service_pb.js";
import type { Access } from "../auth/authentication-rpc.js";
import { requireCaller } from "../auth/authentication-rpc.js";
import { InvalidRequest } from "../shared/domain-error.js";
import type { OrderState as DomainOrderState } from "./order.entity.js";
import type { OrderView } from "./order-repository.js";
import type { Orders } from "./orders.js";

export const orderAccess: [string, Access][] = OrderService.methods.map((method) => [
  `${OrderService.typeName}/${method.name}`,
  "signed-in",
]);

const STATES: Record<DomainOrderState, OrderState> = {
  pending_payment: OrderState.PENDING_PAYMENT,
  paid: OrderState.PAID,
  fulfilled: OrderState.FULFILLED,
  payment_failed: OrderState.PAYMENT_FAILED,
  cancelled: OrderState.CANCELLED,
};

export function registerOrderService(router: ConnectRouter, orders: Orders): void {
  router.service(OrderService, {
    async placeOrder(request, context) {
      const order = await orders.placeOrder(requireCaller(context), request);
      return { order: toOrderMessage(order) };
    },
    async getOrder(request, context) {
      return { order: toOrderMessage(await orders.getOrder(requireCaller(context), request.id)) };
    },
    async listOrders(request, context) {
      const state = (Object.keys(STATES) as DomainOrderState[]).find((key) => STATES[key] === request.state);
      if (state === undefined && request.state !== OrderState.UNSPECIFIED) {
        throw new InvalidRequest([{ field: "state", description: "is not an order state", reason: "INVALID_VALUE" }]);
      }
      const page = await orders.listOrders(requireCaller(context), {
        pageSize: request.pageSize,
        pageToken: request.pageToken,
        customerId: request.customerId,
        state,
      });
      return { orders: page.orders.map(toOrderMessage), nextPageToken: page.nextPageToken };
    },
    async cancelOrder(request, context) {
      return { order: toOrderMessage(await orders.cancelOrder(requireCaller(context), request.id, request.reason)) };
    },
  });
}

function money(currencyCode: string, amountMinor: number) {
  return { currencyCode, amountMinor: BigInt(amountMinor) };
}

export function toOrderMessage(order: OrderView): Order {
  return create(OrderSchema, {
    id: order.id,
    number: BigInt(order.number),
    customerId: order.customerId,
    state: STATES[order.state],
    lines: order.lines.map((line) => ({
      productId: line.productId,
      sku: line.sku,
      productName: line.productName,
      quantity: line.quantity,
      unitPrice: money(order.currencyCode, line.unitPriceMinor),
      lineTotal: money(order.currencyCode, line.lineTotalMinor),
    })),
    subtotal: money(order.currencyCode, order.subtotalMinor),
    total: money(order.currencyCode, order.totalMinor),
    card: order.card,
    chargeId: order.chargeId ?? "",
    refundId: order.refundId ?? "",
    failureCode: order.failureCode ?? "",
    requestId: order.requestId,
    createTime: timestampFromDate(order.createdAt),
    updateTime: timestampFromDate(order.updatedAt),
  });
}
