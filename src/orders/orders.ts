import type { EntityManager } from "@mikro-orm/postgresql";
import { createNoopMeter, type Meter } from "@opentelemetry/api";
import type { Caller } from "../auth/caller.js";
import type { Logger } from "../logging/logger.js";
import { createCancelOrder } from "./cancel-order.js";
import { countingPlacements, createOrderMetrics, observePendingOrders } from "./order-metrics.js";
import { createOrderQueries, type OrderQuery } from "./order-queries.js";
import { createOrderRepository, type OrderView } from "./order-repository.js";
import type { PaymentGateway } from "./payment-gateway.js";
import { createPaymentSettlement } from "./payment-settlement.js";
import { createPlaceOrder, type PlaceOrderInput } from "./place-order.js";
import { createRecoverOrders } from "./recover-orders.js";

/** The order use cases, as the RPC handlers and the recovery loop call them. */
export interface Orders {
  placeOrder(caller: Caller, input: PlaceOrderInput): Promise<OrderView>;
  getOrder(caller: Caller, id: string): Promise<OrderView>;
  listOrders(caller: Caller, query: OrderQuery): Promise<{ orders: OrderView[]; nextPageToken: string }>;
  cancelOrder(caller: Caller, id: string, reason: string): Promise<OrderView>;
  /** Settles orders pending for longer than `olderThanMs`; returns how many it settled. */
  recoverPendingOrders(olderThanMs: number): Promise<number>;
}

export function createOrders(deps: {
  em: EntityManager;
  gateway: PaymentGateway;
  logger: Logger;
  /** Where the orders' metrics are recorded; nowhere by default. */
  meter?: Meter;
}): Orders {
  const meter = deps.meter ?? createNoopMeter();
  const metrics = createOrderMetrics(meter);
  const orders = createOrderRepository(deps.em, metrics);
  observePendingOrders(meter, orders);
  const settlement = createPaymentSettlement({ orders, gateway: deps.gateway, logger: deps.logger });
  const queries = createOrderQueries(orders);
  return {
    placeOrder: countingPlacements(createPlaceOrder({ orders, settlement, logger: deps.logger }), metrics),
    getOrder: queries.getOrder,
    listOrders: queries.listOrders,
    cancelOrder: createCancelOrder({ orders, queries, settlement, logger: deps.logger }),
    recoverPendingOrders: createRecoverOrders({ orders, settlement, logger: deps.logger, metrics }),
  };
}
