import type { Kysely } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Orm } from "../../src/db/orm.js";
import { typedSql } from "../../src/db/typed-sql.js";
import { productsPageQuery } from "../../src/inventory/catalogue.js";
import type { InventoryTables } from "../../src/inventory/inventory-tables.js";
import {
  interruptedCancellationsQuery,
  type OrderTables,
  ordersPageQuery,
  stalePendingQuery,
} from "../../src/orders/order-repository.js";
import { openShopDatabase } from "../../src/shop-database/shop-database.js";
import { createScratchDatabase } from "../support/scratch-database.js";
import { testLogger } from "../support/silent-logger.js";

/** Enough rows that a sequential scan and a sort cost the planner more than walking an index. */
const PRODUCTS = 20_000;
const CUSTOMERS = 200;
const ORDERS = 40_000;

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  "Relation Name"?: string;
  "Sort Key"?: string[];
  Plans?: PlanNode[];
}

/** Every node of a plan, depth first. */
function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

describe("list queries on a large table", () => {
  let orm: Orm;
  let client: pg.Client;
  let drop: () => Promise<void>;
  let customerId: string;

  beforeAll(async () => {
    const database = await createScratchDatabase("plans");
    drop = database.drop;
    orm = await openShopDatabase(database.url, testLogger);
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query(`
      insert into product (id, sku, name, unit_price_minor, currency_code, stock_on_hand)
      select gen_random_uuid(), 'SKU-' || n, 'Product ' || md5(n::text), 100 + n % 900, 'EUR', n % 7
      from generate_series(1, ${PRODUCTS}) n`);
    await client.query(`
      insert into app_user (id, email, email_normalized, display_name, password_hash, role)
      select gen_random_uuid(), 'c' || n || '@example.com', 'c' || n || '@example.com', 'C' || n, 'x', 'customer'
      from generate_series(1, ${CUSTOMERS}) n`);
    await client.query(`
      with customers as (select id, row_number() over () as n from app_user)
      insert into customer_order (id, customer_id, request_id, request_fingerprint, state, currency_code,
        subtotal_minor, total_minor, card_brand, card_last4, created_at, updated_at)
      select gen_random_uuid(), c.id, 'r' || o, 'f', 'fulfilled', 'EUR', 1000, 1000, 'visa', '4242',
        now() - make_interval(secs => o), now() - make_interval(secs => o)
      from generate_series(1, ${ORDERS}) o join customers c on c.n = 1 + o % ${CUSTOMERS}`);
    await client.query(`
      insert into order_line (id, order_id, position, product_id, sku, product_name, quantity, unit_price_minor,
        line_total_minor)
      select gen_random_uuid(), o.id, 0, p.id, p.sku, p.name, 1, 1000, 1000
      from customer_order o cross join lateral (select id, sku, name from product limit 1) p`);
    await client.query("analyze");
    const { rows } = await client.query<{ id: string }>("select id from app_user limit 1");
    customerId = rows[0]?.id ?? "";
  }, 120_000);

  afterAll(async () => {
    await client?.end();
    await orm?.close(true);
    await drop?.();
  });

  async function planOf(query: { compile(): { sql: string; parameters: readonly unknown[] } }): Promise<PlanNode[]> {
    const { sql, parameters } = query.compile();
    const { rows } = await client.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(`explain (format json) ${sql}`, [
      ...parameters,
    ]);
    const [explained] = rows[0]?.["QUERY PLAN"] ?? [];
    return explained ? nodesOf(explained.Plan) : [];
  }

  /** The page is read from the named index, in its order: no scan of the whole table, no sort. */
  function expectIndexRange(nodes: PlanNode[], table: string, index: string) {
    const reads = nodes.filter((node) => node["Relation Name"] === table);
    expect(reads.map((node) => [node["Node Type"], node["Index Name"]])).toEqual([
      [expect.stringMatching(/^Index (Only )?Scan( Backward)?$/), index],
    ]);
    expect(nodes.map((node) => node["Node Type"])).not.toContain("Sort");
  }

  const products = () => typedSql<InventoryTables>(orm.em);
  const orders = () => typedSql<OrderTables>(orm.em) as Kysely<OrderTables>;
  const somewhere = { name: "Product 8", id: "00000000-0000-4000-8000-000000000000" };
  const lately = { createdMicros: Date.now() * 1000 - 3_600_000_000, id: "00000000-0000-4000-8000-000000000000" };

  it.each([
    ["the first page", { inStockOnly: false, nameContains: "" }, undefined],
    ["a later page", { inStockOnly: false, nameContains: "" }, somewhere],
    ["a later page of products in stock", { inStockOnly: true, nameContains: "" }, somewhere],
  ])("ListProducts reads %s from product_name_index", async (_, filters, after) => {
    expectIndexRange(await planOf(productsPageQuery(products(), filters, after, 21)), "product", "product_name_index");
  });

  it.each([
    ["an admin's first page", "customer_order_created_index", "all", undefined],
    ["an admin's later page", "customer_order_created_index", "all", lately],
    ["a customer's first page", "customer_order_customer_created_index", "customer", undefined],
    ["a customer's later page", "customer_order_customer_created_index", "customer", lately],
  ] as const)("ListOrders reads %s from %s", async (_, index, whose, after) => {
    const filter = { customerId: whose === "customer" ? customerId : "", state: undefined };
    const nodes = await planOf(ordersPageQuery(orders(), filter, after, 21));
    expectIndexRange(nodes, "customer_order", index);
    // Each order's lines come from the (order_id, position) index, not a scan of all lines.
    const lineReads = nodes.filter((node) => node["Relation Name"] === "order_line");
    expect(lineReads.map((node) => node["Index Name"])).toEqual(["order_line_position_unique"]);
  });

  it("no index but the customer's own yields a customer's page in order, so none is walked and filtered", async () => {
    // Were the admin's index or the idempotency key's able to, the planner could prefer walking
    // it for a customer holding many of the orders, reading thousands of others' for a page.
    await client.query("begin");
    try {
      await client.query("drop index customer_order_customer_created_index");
      const filter = { customerId, state: undefined };
      const nodes = await planOf(ordersPageQuery(orders(), filter, lately, 21));
      const reads = nodes.filter((node) => node["Relation Name"] === "customer_order");
      expect(reads.map((node) => node["Index Name"])).not.toContain("customer_order_created_index");
      // Every order of the customer under the cursor is read, then sorted: a plan no planner picks
      // while the customer's index exists.
      const sorts = nodes.filter((node) => node["Sort Key"]?.some((key) => key.includes("created_at")));
      expect(sorts.map((node) => node["Node Type"])).toEqual(["Sort"]);
    } finally {
      await client.query("rollback");
    }
  });

  it.each([
    ["pending orders", "customer_order_pending_index", () => stalePendingQuery(orders(), 60_000, 100)],
    [
      "interrupted cancellations",
      "customer_order_cancelling_index",
      () => interruptedCancellationsQuery(orders(), 60_000, 100),
    ],
  ] as const)("the recovery loop finds %s through %s, not by reading every order", async (_, index, query) => {
    const nodes = await planOf(query());
    const reads = nodes.filter((node) => node["Relation Name"] === "customer_order");
    expect(reads.map((node) => node["Index Name"])).toEqual([index]);
  });
});
