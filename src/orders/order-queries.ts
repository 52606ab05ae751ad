import type { Caller } from "../auth/caller.js";
import { InvalidRequest, PermissionDenied, ResourceNotFound } from "../shared/domain-error.js";
import { decodePageToken, encodePageToken, pageSizeOf } from "../shared/page-token.js";
import { isUuid, RequestValidator } from "../validation/request-validator.js";
import type { OrderState } from "./order.entity.js";
import type { OrderRepository, OrderView } from "./order-repository.js";

export const ORDER_RESOURCE = "shop.v1.Order";

export interface OrderQuery {
  pageSize: number;
  pageToken: string;
  customerId: string;
  state: OrderState | undefined;
}

export interface OrderQueries {
  /** The order, if the caller may see it: its customer, or an admin. */
  getOrder(caller: Caller, id: string): Promise<OrderView>;
  /** Newest first; customers see their own, admins anyone's (all, or one customer's). */
  listOrders(caller: Caller, query: OrderQuery): Promise<{ orders: OrderView[]; nextPageToken: string }>;
}

export function createOrderQueries(orders: OrderRepository): OrderQueries {
  return {
    async getOrder(caller, id) {
      const check = new RequestValidator();
      check.uuid("id", id);
      check.throwIfInvalid();
      const order = await orders.find(id.toLowerCase());
      // Another customer's order is reported missing, so its existence does not leak.
      if (!order || (caller.role !== "admin" && order.customerId !== caller.userId)) {
        throw new ResourceNotFound(ORDER_RESOURCE, id);
      }
      return order;
    },

    async listOrders(caller, query) {
      if (query.customerId !== "" && caller.role !== "admin" && query.customerId !== caller.userId) {
        throw new PermissionDenied("only admins may list other customers' orders");
      }
      if (query.customerId !== "" && !isUuid(query.customerId)) {
        throw new InvalidRequest([{ field: "customer_id", description: "must be a UUID", reason: "INVALID_FORMAT" }]);
      }
      const pageSize = pageSizeOf(query.pageSize);
      const customerId = caller.role === "admin" ? query.customerId : caller.userId;
      const filters = { customerId, state: query.state ?? "" };
      const after = decodePageToken(query.pageToken, filters, 2);
      const [createdMicros, id] = after ?? [];
      if (after && (!Number.isSafeInteger(createdMicros) || (createdMicros as number) < 0 || !isUuid(id))) {
        throw new InvalidRequest([
          { field: "page_token", description: "is not a token this API issued", reason: "INVALID_FORMAT" },
        ]);
      }
      const page = await orders.list(
        { customerId, state: query.state },
        after && { createdMicros: createdMicros as number, id: id as string },
        pageSize + 1,
      );
      const last = page[pageSize - 1];
      return {
        orders: page.slice(0, pageSize).map((entry) => entry.order),
        nextPageToken:
          page.length > pageSize && last ? encodePageToken([last.cursor.createdMicros, last.cursor.id], filters) : "",
      };
    },
  };
}
