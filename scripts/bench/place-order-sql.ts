/**
 * The SQL of one PlaceOrder as a pgbench script, the baseline PlaceOrder is measured against.
 * The harness runs it with `pgbench -n -M prepared -T <seconds> -c <clients> -j 2`.
 *
 * Derived from one real PlaceOrder recorded on the wire (capture-place-order.ts), so that it
 * cannot drift from what the code sends: every statement PostgreSQL received from the API
 * and the payment gateway during the call, in order, each with the parameters it was bound
 * with. Each bound value becomes:
 * - `'pgbench-' || :request` (`\set request random(...)`) for the request_id we sent, so every
 *   order has its own (the idempotency key is unique per customer);
 * - `:order_id` for the id the placement generated for the order, alone or inside a text (the
 *   charge's idempotency key "order-<id>", the ledger's "sold: order <id>"): the placement
 *   statement ends with `\gset order_`, which keeps its result row's columns;
 * - a charge id of the run's own in place of the one the gateway made (a primary key);
 * - the bench product numbered `:product` (`\set product random(1, N)`), alone or as the one
 *   element of an array, so orders spread over the products as the uniform workload does
 *   (bench products have ids built from their number: seed-rows.ts);
 * - a pgbench variable for an integer, and a literal for any other value (pgbench's `\set`
 *   takes numbers only). PostgreSQL types a literal where it stands as it types a parameter.
 *
 * What is replayed as captured: which statements run (an approved card, stock on hand, a
 * first attempt); the request fingerprint and the line's SKU, name and price (those of the
 * captured product, whichever product a run picks).
 */

import type { CapturedPlaceOrder, CapturedStatement } from "./capture-place-order.js";
import { benchProductIdSql } from "./seed-rows.js";

export interface PlaceOrderSqlContext {
  /** Places one real order through an API whose every statement is recorded. */
  capturePlaceOrder(): Promise<CapturedPlaceOrder>;
  /** Bench products are numbered from 1 to this (ids: seed-rows.ts). */
  productCount: number;
}

/** Returns a pgbench script: one run of it is the SQL of one PlaceOrder. */
export async function placeOrderPgbenchScript(context: PlaceOrderSqlContext): Promise<string> {
  const captured = await context.capturePlaceOrder();
  const header = [
    `-- One PlaceOrder (${captured.roundTrips} round trips, the gateway's included), captured: see place-order-sql.ts.`,
    `\\set product random(1, ${context.productCount})`,
    "\\set request random(1, 1000000000000000)",
  ];
  const variables: string[] = [];
  const commands = captured.statements.map((statement) => toCommand(statement, captured, variables));
  return `${[...header, ...variables, ...commands].join("\n")}\n`;
}

/** The placement: its one result row (a one-line order) carries the order's columns, "id" among them. */
const PLACEMENT = /insert into "customer_order"/;

function toCommand(statement: CapturedStatement, captured: CapturedPlaceOrder, variables: string[]): string {
  const sql = statement.sql.replace(/\$(\d+)/g, (_, position: string) => {
    const value = statement.parameters[Number(position) - 1];
    if (value === undefined) throw new Error(`statement has no parameter $${position}: ${statement.sql}`);
    return parameterExpression(value, captured, variables);
  });
  return PLACEMENT.test(statement.sql) ? `${sql}\n\\gset order_` : `${sql};`;
}

/** What replaces one bound parameter in the script (see the file's comment). */
function parameterExpression(value: string | null, captured: CapturedPlaceOrder, variables: string[]): string {
  if (value === null) return "null";
  const perOrder = perOrderExpression(value, captured);
  if (perOrder !== undefined) return perOrder;
  if (/^-?\d{1,18}$/.test(value)) {
    const name = `p${variables.length + 1}`;
    variables.push(`\\set ${name} ${value}`);
    return `:${name}`;
  }
  return literal(value);
}

/** The expression for a value that differs per order (see the file's comment), or undefined for a constant. */
function perOrderExpression(value: string, captured: CapturedPlaceOrder): string | undefined {
  if (value === captured.productId) return benchProductIdSql(":product");
  // An array of one product id, as pg writes arrays: {id} or {"id"}.
  if (value.replaceAll('"', "") === `{${captured.productId}}`) return `array[${benchProductIdSql(":product")}]`;
  const perOrder: [string, string][] = [
    [captured.requestId, "('pgbench-' || :request)"],
    [captured.chargeId, "('ch_pgbench_' || :request)"],
    [captured.orderId, ":order_id"],
  ];
  const [found, expression] = perOrder.find(([id]) => value.includes(id)) ?? [];
  if (found === undefined || expression === undefined) return undefined;
  if (value === found) return expression;
  const parts = value.split(found).map((text) => (text === "" ? undefined : literal(text)));
  return `(${parts
    .flatMap((text, index) => (index === 0 ? [text] : [expression, text]))
    .filter((part) => part !== undefined)
    .join(" || ")})`;
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
