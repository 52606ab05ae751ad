import { createHash } from "node:crypto";
import type { Caller } from "../auth/caller.js";
import type { Logger } from "../logging/logger.js";
import { hasExpired } from "../shared/card-numbers.js";
import { InvalidRequest, RequestIdReused } from "../shared/domain-error.js";
import { checkCard } from "../validation/card-checks.js";
import { RequestValidator } from "../validation/request-validator.js";
import { MixedCurrencies, OutOfStock, PaymentDeclined } from "./order-errors.js";
import type { OrderDraft, OrderRepository, OrderView, StockOfLine } from "./order-repository.js";
import type { CardDetails } from "./payment-gateway.js";
import type { PaymentSettlement } from "./payment-settlement.js";

const MAX_LINES = 100;
const MAX_QUANTITY = 1000;
/** What one card charge may be: free orders are refused, and so is more than the processor takes. */
const TOTAL_RANGE = { min: 1, max: 99_999_999 };

export interface PlaceOrderInput {
  requestId: string;
  lines: { productId: string; quantity: number }[];
  card?: CardDetails;
}

/**
 * PlaceOrder: validate, then reserve stock and create the order in one statement, charge
 * the card, settle. Idempotent per (customer, request_id): a retry gets the first attempt's
 * order, charged at most once, whatever stock there is now.
 */
export function createPlaceOrder(deps: {
  orders: OrderRepository;
  settlement: PaymentSettlement;
  logger: Logger;
}): (caller: Caller, input: PlaceOrderInput) => Promise<OrderView> {
  const { orders, settlement, logger } = deps;

  return async function placeOrder(caller, input) {
    const valid = validatePlaceOrder(input);
    const placement = await orders.placeReservingStock(draftOf(caller, valid));
    if (placement.placed) {
      const { order } = placement;
      logger.info({ event: "order.placed", orderId: order.id, totalMinor: order.totalMinor }, "order placed");
      return settlement.chargeAndSettle(order, valid.card);
    }
    const earlier = await orders.findByRequest(caller.userId, valid.requestId);
    if (earlier) return retry(earlier, valid);
    // The stock allowed it but the request_id was taken, and yet no order has it: cannot be.
    if (placement.acceptable) throw new Error(`order for request ${valid.requestId} neither placed nor found`);
    throw refusalOf(valid, placement.stock);
  };

  /** A retry of an earlier request: its answer, or the charge it still needs. */
  async function retry(earlier: OrderView, valid: ValidPlaceOrder): Promise<OrderView> {
    if (earlier.requestFingerprint !== valid.fingerprint) throw new RequestIdReused(valid.requestId);
    if (earlier.state === "pending_payment" && (await orders.claimPending(earlier.id))) {
      return settlement.chargeAndSettle(earlier, valid.card);
    }
    const settled = earlier.state === "pending_payment" ? ((await orders.find(earlier.id)) as OrderView) : earlier;
    if (settled.state === "payment_failed") throw new PaymentDeclined(settled.id, settled.failureCode ?? "declined");
    return settled;
  }
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

function draftOf(caller: Caller, valid: ValidPlaceOrder): OrderDraft {
  return {
    customerId: caller.userId,
    requestId: valid.requestId,
    fingerprint: valid.fingerprint,
    cardBrand: valid.cardBrand,
    cardLast4: valid.cardLast4,
    lines: valid.lines,
    totalRange: TOTAL_RANGE,
  };
}

/** Why the stock, as the statement found it locked, could not take the order. */
function refusalOf(valid: ValidPlaceOrder, stock: readonly StockOfLine[]): Error {
  const known = new Set(stock.map((line) => line.productId));
  const unknown = valid.lines.flatMap((line, index) => (known.has(line.productId) ? [] : [index]));
  if (unknown.length > 0) {
    return new InvalidRequest(
      unknown.map((index) => ({
        field: `lines[${index}].product_id`,
        description: "is not a known product",
        reason: "NOT_FOUND",
      })),
    );
  }
  const shortages = stock
    .filter((line) => line.available < line.quantity)
    .map(({ productId, quantity, available }) => ({ productId, requested: quantity, available }));
  if (shortages.length > 0) return new OutOfStock(shortages);
  const currencies = [...new Set(stock.map((line) => line.currencyCode))];
  if (currencies.length > 1) return new MixedCurrencies(currencies);
  const total = stock.reduce((sum, line) => sum + line.lineTotalMinor, 0);
  return new InvalidRequest([
    {
      field: "lines",
      description: `the order total must be from ${TOTAL_RANGE.min} to ${TOTAL_RANGE.max} minor units, not ${total}`,
      reason: "TOTAL_OUT_OF_RANGE",
    },
  ]);
}
