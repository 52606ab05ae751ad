import type { EntityManager } from "@mikro-orm/postgresql";
import type { OrderState } from "./order.entity.js";

export interface OrderLineView {
  productId: string;
  sku: string;
  productName: string;
  quantity: number;
  unitPriceMinor: number;
  lineTotalMinor: number;
}

export interface OrderView {
  id: string;
  customerId: string;
  requestId: string;
  requestFingerprint: string;
  state: OrderState;
  currencyCode: string;
  subtotalMinor: number;
  totalMinor: number;
  card: { brand: string; last4: string };
  chargeId: string | null;
  refundId: string | null;
  failureCode: string | null;
  lines: OrderLineView[];
  createdAt: Date;
  updatedAt: Date;
}

interface OrderRow {
  id: string;
  customer_id: string;
  request_id: string;
  request_fingerprint: string;
  state: OrderState;
  currency_code: string;
  subtotal_minor: string | number;
  total_minor: string | number;
  card_brand: string;
  card_last4: string;
  charge_id: string | null;
  refund_id: string | null;
  failure_code: string | null;
  created_at: string | Date;
  updated_at: string | Date;
}

interface LineRow {
  order_id: string;
  product_id: string;
  sku: string;
  product_name: string;
  quantity: number;
  unit_price_minor: string | number;
  line_total_minor: string | number;
}

/** Loads orders with their lines, in the order of the ids' rows as `where` and `orderBy` select them. */
export async function loadOrders(
  em: EntityManager,
  where: string,
  params: unknown[],
  orderBy = `"created_at" desc, "id" desc`,
  limit?: number,
): Promise<OrderView[]> {
  const rows = await em.execute<OrderRow[]>(
    `select * from "customer_order" where ${where} order by ${orderBy}${limit === undefined ? "" : ` limit ${limit}`}`,
    params,
  );
  if (rows.length === 0) return [];
  const lines = await em.execute<LineRow[]>(
    `select * from "order_line" where "order_id" in (${rows.map(() => "?").join(", ")}) order by "position"`,
    rows.map((row) => row.id),
  );
  return rows.map((row) => ({
    id: row.id,
    customerId: row.customer_id,
    requestId: row.request_id,
    requestFingerprint: row.request_fingerprint,
    state: row.state,
    currencyCode: row.currency_code,
    subtotalMinor: Number(row.subtotal_minor),
    totalMinor: Number(row.total_minor),
    card: { brand: row.card_brand, last4: row.card_last4 },
    chargeId: row.charge_id,
    refundId: row.refund_id,
    failureCode: row.failure_code,
    lines: lines
      .filter((line) => line.order_id === row.id)
      .map((line) => ({
        productId: line.product_id,
        sku: line.sku,
        productName: line.product_name,
        quantity: line.quantity,
        unitPriceMinor: Number(line.unit_price_minor),
        lineTotalMinor: Number(line.line_total_minor),
      })),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  }));
}

export async function loadOrder(em: EntityManager, id: string): Promise<OrderView | undefined> {
  const [order] = await loadOrders(em, `"id" = ?`, [id]);
  return order;
}
