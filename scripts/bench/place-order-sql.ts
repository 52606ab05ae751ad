/**
 * The SQL of one PlaceOrder as a pgbench script, the baseline PlaceOrder is measured against.
 * The harness runs it with `pgbench -n -M prepared -T <seconds> -c <clients> -j 2`.
 *
 * REPLACEABLE: when the order path's new SQL lands, whoever wrote it can replace the body of
 * placeOrderPgbenchScript with the statements themselves. Until then it is derived from one
 * real PlaceOrder, recorded on the wire (capture-place-order.ts), as follows.
 *
 * What is derived, and how:
 * - Every statement PostgreSQL received during the call, in order, the transaction
 *   statements (begin, commit) and the authentication lookup of the caller included: a simple
 *   query as its text, a bound statement as the text it was parsed with.
 * - Each value becomes what follows, whether it was a bound parameter or, as MikroORM's
 *   execute() sends values today, a quoted literal inlined in a simple query's text (then only
 *   the per-order values below are replaced; other literals stay as they are):
 *   - `:request` (`\set request random(...)`), wherever the request_id we sent appears, so every
 *     order has its own (the idempotency key is unique per customer);
 *   - `:order_id`, wherever the id the server generated for the order appears, alone or inside
 *     a text ("sold: order <id>", the email job's key): the INSERT into "customer_order" that
 *     RETURNs "id" ends with `\gset order_`, so each script run uses its own order's id;
 *   - the bench product numbered `:product` (`\set product random(1, N)`) wherever the product
 *     id appears, so orders spread over the products as PlaceOrder's uniform workload does
 *     (bench products have ids built from their number: seed-rows.ts);
 *   - a pgbench variable (`\set pN <value>`) holding the captured value, when it is an integer;
 *   - otherwise the captured value as a SQL literal, because pgbench's `\set` takes numbers only
 *     (text variables exist only as `-D` options, outside a script file). PostgreSQL infers an
 *     untyped literal's type as it infers a parameter's, and -M prepared still parses each
 *     statement once per connection.
 *
 * What cannot be derived, so is replayed as captured:
 * - which statements run depends on the outcome: this is an approved card and stock on hand,
 *   no replay of a duplicate request, no shortage, no decline;
 * - values the payment gateway returned (the charge id) are the captured ones for every order;
 * - the request fingerprint and the order line's SKU, name and price are those of the captured
 *   product, whichever product a run picks;
 * - the link between the order id and the statement that returned it is read from the SQL
 *   text (the wire counter sees what the server receives, not what it answers);
 * - the gateway's own SQL is not here: it is another deployable, on another database.
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
    `-- One PlaceOrder (${captured.roundTrips} round trips), derived from a captured call: see place-order-sql.ts.`,
    `\\set product random(1, ${context.productCount})`,
    "\\set request random(1, 1000000000000000)",
  ];
  const variables: string[] = [];
  const commands = captured.statements.map((statement) => toCommand(statement, captured, variables));
  return `${[...header, ...variables, ...commands].join("\n")}\n`;
}

const ORDER_INSERT = /^\s*insert\s+into\s+"?customer_order"?[\s\S]*\breturning\s+"?id"?/i;
const QUOTED_LITERAL = /'((?:[^']|'')*)'/g;

function toCommand(statement: CapturedStatement, captured: CapturedPlaceOrder, variables: string[]): string {
  const withLiterals = statement.sql.replace(
    QUOTED_LITERAL,
    (quoted, text: string) => perOrderExpression(text.replaceAll("''", "'"), captured) ?? quoted,
  );
  const sql = withLiterals.replace(/\$(\d+)/g, (_, position: string) => {
    const value = statement.parameters[Number(position) - 1];
    if (value === undefined) throw new Error(`statement has no parameter $${position}: ${statement.sql}`);
    return parameterExpression(value, captured, variables);
  });
  return ORDER_INSERT.test(statement.sql) ? `${sql}\n\\gset order_` : `${sql};`;
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
  const perOrder: [string, string][] = [
    [captured.requestId, "('pgbench-' || :request)"],
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
