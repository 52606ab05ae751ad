import { createHash } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Caller } from "../auth/caller.js";
import type { Logger } from "../logging/logger.js";
import { enqueueOrderEmail } from "../notifications/email-jobs.js";
import { hasExpired } from "../shared/card-numbers.js";
import {
  InvalidRequest,
  PermissionDenied,
  RequestIdReused,
  ResourceNotFound,
  TemporarilyUnavailable,
} from "../shared/domain-error.js";
import { decodePageToken, encodePageToken, pageSizeOf } from "../shared/page-token.js";
import { checkCard } from "../validation/card-checks.js";
import { isUuid, RequestValidator } from "../validation/request-validator.js";
import type { OrderState } from "./order.entity.js";
import { InvalidOrderState, MixedCurrencies, OutOfStock, PaymentDeclined, type Shortage } from "./order-errors.js";
import { loadOrder, loadOrders, type OrderView } from "./order-records.js";
import { type CardDetails, GatewayUnavailable, type PaymentGateway } from "./payment-gateway.js";

export const ORDER_RESOURCE = "shop.v1.Order";
const MAX_LINES = 100;
const MAX_QUANTITY = 1000;
/** How long callers should wait before retrying when the gateway's answer is unknown. */
const RETRY_AFTER_GATEWAY_OUTAGE_MS = 2_000;
/** What one card charge may be: free orders are refused, and so is more than the processor takes. */
const MIN_TOTAL_MINOR = 1;
const MAX_TOTAL_MINOR = 99_999_999;

export interface PlaceOrderInput {
  requestId: string;
  lines: { productId: string; quantity: number }[];
  card?: CardDetails;
}

export interface OrderQuery {
  pageSize: number;
  pageToken: string;
  customerId: string;
  state: OrderState | undefined;
}

export interface Orders {
  placeOrder(caller: Caller, input: PlaceOrderInput): Promise<OrderView>;
  getOrder(caller: Caller, id: string): Promise<OrderView>;
  listOrders(caller: Caller, query: OrderQuery): Promise<{ orders: OrderView[]; nextPageToken: string }>;
  cancelOrder(caller: Caller, id: string, reason: string): Promise<OrderView>;
  /**
   * Settles orders left PENDING_PAYMENT for longer than `olderThanMs` (a gateway outage, a
   * crash between charge and commit) by asking the gateway what happened under their key.
   * Returns how many it settled.
   */
  recoverPendingOrders(olderThanMs: number): Promise<number>;
}

/** The gateway idempotency keys of an order: one charge, one refund, ever. */
export const chargeKeyOf = (orderId: string) => `order-${orderId}`;
const refundKeyOf = (orderId: string) => `order-${orderId}-refund`;

export function createOrders(deps: { em: EntityManager; gateway: PaymentGateway; logger: Logger }): Orders {
  const { gateway, logger } = deps;
  const em = () => deps.em.fork();

  /**
   * Creates the order and reserves stock for every line in one short transaction, with
   * conditional updates taken in product-id order (no read-then-write, no deadlocks). A
   * concurrent duplicate blocks on the unique (customer, request_id) until this commits.
   */
  async function createAndReserve(
    caller: Caller,
    input: ValidPlaceOrder,
  ): Promise<{ orderId: string; created: boolean }> {
    return em().transactional(async (tx) => {
      const [created] = await tx.execute<{ id: string }[]>(
        `insert into "customer_order" ("id", "customer_id", "request_id", "request_fingerprint", "state",
           "currency_code", "subtotal_minor", "total_minor", "card_brand", "card_last4")
         values (gen_random_uuid(), ?, ?, ?, 'pending_payment', 'XXX', 0, 0, ?, ?)
         on conflict ("customer_id", "request_id") do nothing returning "id"`,
        [caller.userId, input.requestId, input.fingerprint, input.cardBrand, input.cardLast4],
      );
      if (!created) {
        const [existing] = await tx.execute<{ id: string }[]>(
          `select "id" from "customer_order" where "customer_id" = ? and "request_id" = ?`,
          [caller.userId, input.requestId],
        );
        if (!existing) throw new Error("order vanished after a request_id conflict");
        return { orderId: existing.id, created: false };
      }

      const shortages: Shortage[] = [];
      const unknown: number[] = [];
      const priced = new Map<string, { sku: string; name: string; unitPriceMinor: number; currencyCode: string }>();
      for (const line of [...input.lines].sort((a, b) => a.productId.localeCompare(b.productId))) {
        const [reserved] = await tx.execute<
          { sku: string; name: string; unit_price_minor: string; currency_code: string }[]
        >(
          `update "product" set "stock_reserved" = "stock_reserved" + ?
           where "id" = ? and "stock_on_hand" - "stock_reserved" >= ?
           returning "sku", "name", "unit_price_minor", "currency_code"`,
          [line.quantity, line.productId, line.quantity],
        );
        if (reserved) {
          priced.set(line.productId, {
            sku: reserved.sku,
            name: reserved.name,
            unitPriceMinor: Number(reserved.unit_price_minor),
            currencyCode: reserved.currency_code,
          });
          continue;
        }
        const [product] = await tx.execute<{ available: number }[]>(
          `select "stock_on_hand" - "stock_reserved" as "available" from "product" where "id" = ?`,
          [line.productId],
        );
        if (product)
          shortages.push({ productId: line.productId, requested: line.quantity, available: product.available });
        else unknown.push(input.lines.indexOf(line));
      }
      if (unknown.length > 0) {
        throw new InvalidRequest(
          unknown.map((index) => ({
            field: `lines[${index}].product_id`,
            description: "is not a known product",
            reason: "NOT_FOUND",
          })),
        );
      }
      if (shortages.length > 0) throw new OutOfStock(shortages); // rolls back every reservation
      const currencies = [...new Set([...priced.values()].map((p) => p.currencyCode))];
      if (currencies.length > 1) throw new MixedCurrencies(currencies);

      let subtotal = 0;
      for (const [position, line] of input.lines.entries()) {
        const product = priced.get(line.productId);
        if (!product) throw new Error("a reserved line has no price");
        const lineTotal = product.unitPriceMinor * line.quantity;
        subtotal += lineTotal;
        await tx.execute(
          `insert into "order_line" ("id", "order_id", "position", "product_id", "sku", "product_name", "quantity",
             "unit_price_minor", "line_total_minor") values (gen_random_uuid(), ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            created.id,
            position,
            line.productId,
            product.sku,
            product.name,
            line.quantity,
            product.unitPriceMinor,
            lineTotal,
          ],
        );
      }
      if (subtotal < MIN_TOTAL_MINOR || subtotal > MAX_TOTAL_MINOR) {
        throw new InvalidRequest([
          {
            field: "lines",
            description: `the order total must be from ${MIN_TOTAL_MINOR} to ${MAX_TOTAL_MINOR} minor units, not ${subtotal}`,
            reason: "TOTAL_OUT_OF_RANGE",
          },
        ]);
      }
      await tx.execute(
        `update "customer_order" set "currency_code" = ?, "subtotal_minor" = ?, "total_minor" = ? where "id" = ?`,
        [currencies[0], subtotal, subtotal, created.id],
      );
      logger.info({ event: "order.placed", orderId: created.id, totalMinor: subtotal }, "order placed, stock reserved");
      return { orderId: created.id, created: true };
    });
  }

  /**
   * Paid: the reservation becomes a sale (on hand decreases), the confirmation email is
   * queued, and the order is handed to fulfilment, which here completes at once. All in one
   * transaction, so no reader (a concurrent duplicate request, say) sees a half-settled order.
   */
  async function markPaid(orderId: string, chargeId: string): Promise<void> {
    const settled = await em().transactional(async (tx) => {
      const [order] = await tx.execute<{ id: string }[]>(
        `update "customer_order" set "state" = 'paid', "charge_id" = ?, "updated_at" = now()
         where "id" = ? and "state" = 'pending_payment' returning "id"`,
        [chargeId, orderId],
      );
      if (!order) return false; // settled already, by a duplicate request or by recovery
      for (const line of await linesOf(tx, orderId)) {
        const [product] = await tx.execute<{ stock_on_hand: number }[]>(
          `update "product" set "stock_on_hand" = "stock_on_hand" - ?, "stock_reserved" = "stock_reserved" - ?,
             "version" = "version" + 1, "updated_at" = now() where "id" = ? returning "stock_on_hand"`,
          [line.quantity, line.quantity, line.product_id],
        );
        await recordMovement(
          tx,
          line.product_id,
          -line.quantity,
          `sold: order ${orderId}`,
          product?.stock_on_hand ?? 0,
        );
      }
      await enqueueOrderEmail(tx, orderId, "confirmation");
      await tx.execute(`update "customer_order" set "state" = 'fulfilled' where "id" = ? and "state" = 'paid'`, [
        orderId,
      ]);
      return true;
    });
    if (!settled) return;
    logger.info({ event: "order.paid", orderId, chargeId }, "order paid");
    logger.info({ event: "order.fulfilled", orderId }, "order fulfilled");
  }

  /** Not charged (declined, or the gateway never charged it): the reserved stock is released. */
  async function markPaymentFailed(orderId: string, failureCode: string): Promise<void> {
    const settled = await em().transactional(async (tx) => {
      const [order] = await tx.execute<{ id: string }[]>(
        `update "customer_order" set "state" = 'payment_failed', "failure_code" = ?, "updated_at" = now()
         where "id" = ? and "state" = 'pending_payment' returning "id"`,
        [failureCode, orderId],
      );
      if (!order) return false;
      for (const line of await linesOf(tx, orderId)) {
        await tx.execute(`update "product" set "stock_reserved" = "stock_reserved" - ? where "id" = ?`, [
          line.quantity,
          line.product_id,
        ]);
      }
      return true;
    });
    if (settled)
      logger.info({ event: "order.payment_failed", orderId, failureCode }, "order payment failed; stock released");
  }

  /** Charges the order (again, under the same key: the gateway makes it happen once) and settles it. */
  async function chargeAndSettle(order: OrderView, card: CardDetails): Promise<OrderView> {
    // Claimed as freshly attempted, so recovery leaves it alone while this charge is in flight.
    const [claimed] = await em().execute<{ id: string }[]>(
      `update "customer_order" set "updated_at" = now() where "id" = ? and "state" = 'pending_payment' returning "id"`,
      [order.id],
    );
    if (!claimed) return replay((await loadOrder(em(), order.id)) as OrderView);
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
    if (outcome.status === "succeeded") {
      await markPaid(order.id, outcome.chargeId);
      const settled = (await loadOrder(em(), order.id)) as OrderView;
      if (settled.state !== "payment_failed") return settled;
      // Recovery gave up on this order (its charge was not found) while this retry charged it:
      // the money goes back, so a failed order never keeps a payment.
      await gateway.refund({ chargeId: outcome.chargeId, idempotencyKey: refundKeyOf(order.id) });
      logger.warn(
        { event: "order.late_charge_refunded", orderId: order.id, chargeId: outcome.chargeId },
        "late charge refunded",
      );
      throw new PaymentDeclined(order.id, settled.failureCode ?? "not_charged");
    }
    await markPaymentFailed(order.id, outcome.declineCode);
    throw new PaymentDeclined(order.id, outcome.declineCode);
  }

  /**
   * Refunds the whole charge (once, whatever the number of attempts: the key is fixed), then
   * cancels and restocks in one transaction. Safe to repeat after a crash at any point.
   */
  async function refundAndCancel(orderId: string, chargeId: string): Promise<void> {
    const { refundId } = await gateway.refund({ chargeId, idempotencyKey: refundKeyOf(orderId) });
    const cancelled = await em().transactional(async (tx) => {
      const [row] = await tx.execute<{ id: string }[]>(
        `update "customer_order" set "state" = 'cancelled', "refund_id" = ?, "updated_at" = now()
         where "id" = ? and "state" in ('paid', 'fulfilled') returning "id"`,
        [refundId, orderId],
      );
      if (!row) return false;
      for (const line of await linesOf(tx, orderId)) {
        const [product] = await tx.execute<{ stock_on_hand: number }[]>(
          `update "product" set "stock_on_hand" = "stock_on_hand" + ?, "version" = "version" + 1, "updated_at" = now()
           where "id" = ? returning "stock_on_hand"`,
          [line.quantity, line.product_id],
        );
        await recordMovement(
          tx,
          line.product_id,
          line.quantity,
          `cancelled: order ${orderId}`,
          product?.stock_on_hand ?? 0,
        );
      }
      await enqueueOrderEmail(tx, orderId, "cancellation");
      return true;
    });
    if (!cancelled) throw new InvalidOrderState(orderId, "CANCELLED", "cancel");
    logger.info({ event: "order.cancelled", orderId, refundId }, "order cancelled and refunded");
  }

  /** A settled order's answer, the same for the first request and every retry. */
  function replay(order: OrderView): OrderView {
    if (order.state === "payment_failed") throw new PaymentDeclined(order.id, order.failureCode ?? "declined");
    return order;
  }

  async function visibleOrder(caller: Caller, id: string): Promise<OrderView> {
    const check = new RequestValidator();
    check.uuid("id", id);
    check.throwIfInvalid();
    const order = await loadOrder(em(), id.toLowerCase());
    // Another customer's order is reported missing, so its existence does not leak.
    if (!order || (caller.role !== "admin" && order.customerId !== caller.userId)) {
      throw new ResourceNotFound(ORDER_RESOURCE, id);
    }
    return order;
  }

  return {
    async placeOrder(caller, input) {
      const valid = validatePlaceOrder(input);
      const { orderId, created } = await createAndReserve(caller, valid);
      const order = (await loadOrder(em(), orderId)) as OrderView;
      if (!created && order.requestFingerprint !== valid.fingerprint) throw new RequestIdReused(valid.requestId);
      return order.state === "pending_payment" ? chargeAndSettle(order, valid.card) : replay(order);
    },

    getOrder: visibleOrder,

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
      if (after && (!Number.isSafeInteger(after[0]) || (after[0] as number) < 0 || !isUuid(after[1]))) {
        throw new InvalidRequest([
          { field: "page_token", description: "is not a token this API issued", reason: "INVALID_FORMAT" },
        ]);
      }
      const createdMicros = `floor(extract(epoch from "created_at") * 1000000)::bigint`;
      const conditions = ["true"];
      const params: unknown[] = [];
      if (customerId !== "") conditions.push(`"customer_id" = ?`) && params.push(customerId);
      if (query.state) conditions.push(`"state" = ?`) && params.push(query.state);
      if (after) conditions.push(`(${createdMicros}, "id") < (?, ?::uuid)`) && params.push(...after);
      const page = await em().execute<{ id: string; created_micros: string }[]>(
        `select "id", ${createdMicros} as "created_micros" from "customer_order" where ${conditions.join(" and ")}
         order by "created_at" desc, "id" desc limit ?`,
        [...params, pageSize + 1],
      );
      const ids = page.slice(0, pageSize).map((row) => row.id);
      const orders =
        ids.length === 0
          ? []
          : (await loadOrders(em(), `"id" in (${ids.map(() => "?").join(", ")})`, ids)).sort(
              (a, b) => ids.indexOf(a.id) - ids.indexOf(b.id),
            );
      const last = page[pageSize - 1];
      return {
        orders,
        nextPageToken:
          page.length > pageSize && last ? encodePageToken([Number(last.created_micros), last.id], filters) : "",
      };
    },

    async cancelOrder(caller, id, reason) {
      const check = new RequestValidator();
      const why = check.text("reason", reason, { max: 200 });
      check.throwIfInvalid();
      const order = await visibleOrder(caller, id);
      // Recorded before the refund, so a crash after refunding leaves a trace recovery finishes.
      const [requested] = await em().execute<{ id: string }[]>(
        `update "customer_order" set "cancel_requested_at" = coalesce("cancel_requested_at", now()), "updated_at" = now()
         where "id" = ? and "state" in ('paid', 'fulfilled') and "charge_id" is not null returning "id"`,
        [order.id],
      );
      if (!requested) throw new InvalidOrderState(order.id, order.state.toUpperCase(), "cancel");
      try {
        await refundAndCancel(order.id, order.chargeId as string);
      } catch (error) {
        if (!(error instanceof GatewayUnavailable)) throw error;
        throw new TemporarilyUnavailable(
          "PAYMENT_GATEWAY_UNAVAILABLE",
          "the refund could not be completed yet; it will be retried, and so may you",
          RETRY_AFTER_GATEWAY_OUTAGE_MS,
        );
      }
      logger.info({ event: "order.cancel_requested", orderId: order.id, reason: why }, "cancellation requested");
      return (await loadOrder(em(), order.id)) as OrderView;
    },

    async recoverPendingOrders(olderThanMs) {
      const cancelling = await em().execute<{ id: string; charge_id: string }[]>(
        `select "id", "charge_id" from "customer_order" where "state" in ('paid', 'fulfilled')
         and "cancel_requested_at" < now() - make_interval(secs => ?) order by "cancel_requested_at" limit 100`,
        [olderThanMs / 1000],
      );
      let finished = 0;
      for (const { id, charge_id } of cancelling) {
        try {
          await refundAndCancel(id, charge_id);
          finished++;
          logger.info({ event: "order.cancellation_recovered", orderId: id }, "interrupted cancellation finished");
        } catch (error) {
          logger.warn({ event: "order.recovery_deferred", orderId: id, err: error }, "cannot finish cancellation yet");
        }
      }
      const stale = await em().execute<{ id: string }[]>(
        `select "id" from "customer_order" where "state" = 'pending_payment'
         and "updated_at" < now() - make_interval(secs => ?) order by "updated_at" limit 100`,
        [olderThanMs / 1000],
      );
      let settled = 0;
      for (const { id } of stale) {
        try {
          const outcome = await gateway.findCharge(chargeKeyOf(id));
          if (outcome === undefined) await markPaymentFailed(id, "not_charged");
          else if (outcome.status === "succeeded") await markPaid(id, outcome.chargeId);
          else await markPaymentFailed(id, outcome.declineCode);
          settled++;
          logger.info(
            { event: "order.recovered", orderId: id, outcome: outcome?.status ?? "not_charged" },
            "pending order settled",
          );
        } catch (error) {
          logger.warn({ event: "order.recovery_deferred", orderId: id, err: error }, "cannot settle yet");
        }
      }
      return settled + finished;
    },
  };
}

interface ValidPlaceOrder {
  requestId: string;
  lines: { productId: string; quantity: number }[];
  card: CardDetails;
  cardBrand: string;
  cardLast4: string;
  fingerprint: string;
}

function validatePlaceOrder(input: PlaceOrderInput): ValidPlaceOrder {
  const check = new RequestValidator();
  const requestId = check.text("request_id", input.requestId, { min: 1, max: 64 });
  if (input.lines.length === 0 || input.lines.length > MAX_LINES) {
    check.violation("lines", `must have 1 to ${MAX_LINES} lines`, input.lines.length === 0 ? "REQUIRED" : "TOO_MANY");
  }
  const seen = new Set<string>();
  const lines = input.lines.slice(0, MAX_LINES).map((line, index) => {
    const productId = check.uuid(`lines[${index}].product_id`, line.productId);
    check.integer(`lines[${index}].quantity`, line.quantity, { min: 1, max: MAX_QUANTITY });
    if (seen.has(productId))
      check.violation(`lines[${index}].product_id`, "appears in more than one line", "DUPLICATE");
    seen.add(productId);
    return { productId, quantity: line.quantity };
  });
  const card = checkCard(check, input.card);
  if (input.card && card.expMonth >= 1 && card.expMonth <= 12 && hasExpired(card.expMonth, card.expYear, new Date())) {
    check.violation("card.exp_year", "the card has expired", "CARD_EXPIRED");
  }
  check.throwIfInvalid();
  return {
    requestId,
    lines,
    card: { number: card.digits, expMonth: card.expMonth, expYear: card.expYear, cvc: input.card?.cvc ?? "" },
    cardBrand: card.brand,
    cardLast4: card.last4,
    // The card's number is not kept, so a retry is recognised by its lines and card's last digits.
    fingerprint: createHash("sha256")
      .update(JSON.stringify([lines, card.brand, card.last4, card.expMonth, card.expYear]))
      .digest("hex"),
  };
}

async function linesOf(tx: EntityManager, orderId: string) {
  return tx.execute<{ product_id: string; quantity: number }[]>(
    `select "product_id", "quantity" from "order_line" where "order_id" = ? order by "product_id"`,
    [orderId],
  );
}

async function recordMovement(tx: EntityManager, productId: string, delta: number, reason: string, after: number) {
  await tx.execute(
    `insert into "stock_movement" ("id", "product_id", "delta", "reason", "stock_on_hand_after")
     values (gen_random_uuid(), ?, ?, ?, ?)`,
    [productId, delta, reason, after],
  );
}
