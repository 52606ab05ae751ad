import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { InventoryService, ListProductsRequestSchema } from "../../gen/shop/v1/inventory_service_pb.js";
import { ListOrdersRequestSchema, OrderService } from "../../gen/shop/v1/order_service_pb.js";
import type { BenchAccount } from "./bench-accounts.js";
import { writeGrpcBody } from "./grpc-body.js";
import { type LoadResult, runH2load } from "./h2load.js";
import type { BenchOptions } from "./options.js";
import type { Report } from "./report.js";
import { seedOrders, seedOtherCustomers, seedProducts } from "./seed-rows.js";

const PAGE_SIZE = 20;
/** "A later page": the one after this many, reached by following page tokens. */
const LATER_PAGE = 10;
const OTHER_CUSTOMERS = 1_000;
const SMALL = 1_000;

/**
 * ListProducts and ListOrders, first page and a later one, at 1 in flight: p50 with 1,000
 * rows, then again with `scale` rows (products; orders of the reading customer, and as many
 * again spread over other customers), which should cost no more than 1.5× as much.
 */
export async function measureReadsAtScale(options: {
  apiUrl: string;
  shopUrl: string;
  reader: BenchAccount;
  /** Bench products already seeded (1 to this). */
  productCount: number;
  productStock: number;
  bench: BenchOptions;
  workDir: string;
  report: Report;
}): Promise<void> {
  const { bench, report } = options;
  const db = new pg.Client({ connectionString: options.shopUrl });
  await db.connect();
  try {
    await seedOtherCustomers(db, OTHER_CUSTOMERS);
    await seedOrders(db, options.reader.id, 1, SMALL);
    await seedOrders(db, undefined, 1, SMALL);
    await settle(db);
    const small = await measureReads(options, `${SMALL}`);

    console.log(`  growing to ${bench.scale.toLocaleString("en")} rows`);
    await seedProducts(db, options.productCount + 1, bench.scale, options.productStock);
    await seedOrders(db, options.reader.id, SMALL + 1, bench.scale);
    await seedOrders(db, undefined, SMALL + 1, bench.scale);
    await settle(db);
    const large = await measureReads(options, bench.scale.toLocaleString("en"));

    for (const [what, atSmall] of small) {
      const atLarge = large.get(what) as LoadResult;
      report.figure(`${what}: p50 at ${SMALL} rows`, atSmall.p50Ms, "ms", atSmall.loadAverage);
      report.figure(
        `${what}: p50 at ${bench.scale.toLocaleString("en")} rows`,
        atLarge.p50Ms,
        "ms",
        atLarge.loadAverage,
      );
      report.goal(
        `${what}: p50 at ${bench.scale.toLocaleString("en")} / at ${SMALL} rows`,
        atLarge.p50Ms / atSmall.p50Ms,
        "×",
        "≤ 1.5×",
        (ratio) => ratio <= 1.5,
        atLarge.loadAverage,
      );
    }
  } finally {
    await db.end();
  }
}

/**
 * Tables as they are in steady use, not minutes after a bulk insert: vacuumed and analysed
 * now, so that autovacuum does not start on millions of fresh rows in the middle of a measurement.
 */
async function settle(db: pg.Client): Promise<void> {
  await db.query('vacuum (analyze) "product", "customer_order", "order_line"');
}

async function measureReads(
  options: { apiUrl: string; reader: BenchAccount; bench: BenchOptions; workDir: string },
  size: string,
): Promise<Map<string, LoadResult>> {
  const transport = createGrpcTransport({ baseUrl: options.apiUrl });
  const inventory = createClient(InventoryService, transport);
  const orders = createClient(OrderService, transport);
  // Following the tokens is also the real call h2load cannot make: it proves the status is OK.
  let productsToken = "";
  let ordersToken = "";
  for (let page = 0; page < LATER_PAGE; page++) {
    productsToken = (await inventory.listProducts({ pageSize: PAGE_SIZE, pageToken: productsToken })).nextPageToken;
    ordersToken = (await orders.listOrders({ pageSize: PAGE_SIZE, pageToken: ordersToken }, options.reader.auth))
      .nextPageToken;
  }
  const reads = [
    ["ListProducts, first page", "shop.v1.InventoryService/ListProducts", ListProductsRequestSchema, ""],
    ["ListProducts, later page", "shop.v1.InventoryService/ListProducts", ListProductsRequestSchema, productsToken],
    ["ListOrders, first page", "shop.v1.OrderService/ListOrders", ListOrdersRequestSchema, ""],
    ["ListOrders, later page", "shop.v1.OrderService/ListOrders", ListOrdersRequestSchema, ordersToken],
  ] as const;
  const results = new Map<string, LoadResult>();
  for (const [what, method, schema, pageToken] of reads) {
    const bodyFile = writeGrpcBody(options.workDir, "read", schema, { pageSize: PAGE_SIZE, pageToken });
    const result = await runH2load({
      url: `${options.apiUrl}/${method}`,
      bodyFile,
      headers: { authorization: options.reader.authorization },
      inFlight: 1,
      durationS: options.bench.durationS,
      warmUpS: options.bench.warmUpS,
      workDir: options.workDir,
    });
    console.log(`  ${what} at ${size} rows: p50 ${result.p50Ms.toFixed(2)} ms, ${result.rate.toFixed(0)}/s`);
    results.set(what, result);
  }
  return results;
}
