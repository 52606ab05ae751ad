import type pg from "pg";

/**
 * Rows the API would take too long to create, written with SQL into the scratch database:
 * products, other customers, and orders with one line each. Columns as the migrations
 * in src/db/migrations define them.
 */

/**
 * Bench products get ids built from their number, so pgbench can pick one at random as the
 * PlaceOrder driver does: this is the SQL expression of the id of product number `n`.
 */
export function benchProductIdSql(n: string): string {
  return `('00000000-0000-4000-8000-' || lpad((${n})::text, 12, '0'))::uuid`;
}

export function benchProductId(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
}

const BATCH = 100_000;

/** Products numbered from `from` to `to`, each with `stock` on hand, in batches, reporting progress. */
export async function seedProducts(db: pg.Client, from: number, to: number, stock: number): Promise<void> {
  await inBatches(from, to, "products", (first, last) =>
    db.query(
      `insert into "product" ("id", "sku", "name", "description", "unit_price_minor", "currency_code",
         "stock_on_hand", "stock_reserved")
       select ${benchProductIdSql("n")}, 'BENCH-' || lpad(n::text, 8, '0'), 'Bench product ' || lpad(n::text, 8, '0'),
         '', 1250, 'EUR', $3, 0
       from generate_series($1::int, $2::int) as n`,
      [first, last, stock],
    ),
  );
  await db.query(`analyze "product"`);
}

/** Customers other than ours, so that an index that does not narrow to one customer shows. */
export async function seedOtherCustomers(db: pg.Client, count: number): Promise<void> {
  await db.query(
    `insert into "app_user" ("id", "email", "email_normalized", "display_name", "password_hash", "role")
     select gen_random_uuid(), 'other-' || n || '@bench.example', 'other-' || n || '@bench.example', 'Other ' || n,
       'not-a-hash', 'customer'
     from generate_series(1, $1::int) as n`,
    [count],
  );
}

/**
 * Fulfilled orders numbered from `from` to `to` for one customer, or spread over the other
 * customers when `customerId` is undefined; each one line of one of the first 1,000 products,
 * each created a second before the one numbered before it.
 */
export async function seedOrders(
  db: pg.Client,
  customerId: string | undefined,
  from: number,
  to: number,
): Promise<void> {
  const customer =
    customerId === undefined
      ? `(array(select "id" from "app_user" where "email" like 'other-%@bench.example' order by "id"))[1 + n % 1000]`
      : "$3::uuid";
  const requestPrefix = customerId === undefined ? "seed-other-" : "seed-";
  await inBatches(
    from,
    to,
    customerId === undefined ? "orders of other customers" : "orders of one customer",
    (first, last) =>
      db.query(
        `with "seeded" as (
         insert into "customer_order" ("id", "customer_id", "request_id", "request_fingerprint", "state",
           "currency_code", "subtotal_minor", "total_minor", "card_brand", "card_last4", "created_at", "updated_at")
         select gen_random_uuid(), ${customer}, '${requestPrefix}' || n, repeat('0', 64), 'fulfilled', 'EUR', 1250, 1250,
           'visa', '4242', now() - make_interval(secs => n), now() - make_interval(secs => n)
         from generate_series($1::int, $2::int) as n
         returning "id", "request_id"
       )
       insert into "order_line" ("id", "order_id", "position", "product_id", "sku", "product_name", "quantity",
         "unit_price_minor", "line_total_minor")
       select gen_random_uuid(), "id", 0, ${benchProductIdSql(`1 + substring("request_id" from '[0-9]+$')::int % 1000`)},
         'BENCH', 'Bench product', 1, 1250, 1250
       from "seeded"`,
        customerId === undefined ? [first, last] : [first, last, customerId],
      ),
  );
  await db.query(`analyze "customer_order", "order_line"`);
}

async function inBatches(
  from: number,
  to: number,
  what: string,
  insert: (first: number, last: number) => Promise<unknown>,
): Promise<void> {
  for (let first = from; first <= to; first += BATCH) {
    const last = Math.min(to, first + BATCH - 1);
    await insert(first, last);
    if (to - from >= BATCH) console.log(`  seeded ${what} ${last.toLocaleString("en")} of ${to.toLocaleString("en")}`);
  }
}
