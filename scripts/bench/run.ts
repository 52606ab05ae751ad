/**
 * `npm run bench [-- --quick]`: the system measured against the layer below it, as ratios
 * taken within one run on this shared, noisy machine. See "Measuring it" in README.md.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { logIn, signUpCustomer } from "./bench-accounts.js";
import { createBenchDatabases } from "./bench-databases.js";
import { capturePlaceOrder } from "./capture-place-order.js";
import { measureEnqueue } from "./enqueue-phase.js";
import { readOptions } from "./options.js";
import { measurePlaceOrder } from "./place-order-phase.js";
import { findPostmaster } from "./postgres-cpu.js";
import { type BenchProcess, startBenchProcess } from "./processes.js";
import { measureReadsAtScale } from "./reads-at-scale-phase.js";
import { createReport } from "./report.js";
import { measureRpcServer } from "./rpc-server-phase.js";
import { benchProductId, seedProducts } from "./seed-rows.js";

const PRODUCTS = 1_000;
/** Enough that no run of PlaceOrder or pgbench runs out: a shortage would measure another path. */
const PRODUCT_STOCK = 1_000_000_000;
/** The most CreateProduct accepts at once. */
const HOT_PRODUCT_STOCK = 1_000_000;

const bench = readOptions(process.argv.slice(2), process.env);
for (const tool of ["h2load", "pgbench"]) {
  try {
    execFileSync(tool, ["--version"], { stdio: "ignore" });
  } catch {
    console.error(`${tool} is needed on PATH (Debian: apt-get install nghttp2-client postgresql-client)`);
    process.exit(1);
  }
}

const workDir = mkdtempSync(join(tmpdir(), "bench-"));
const report = createReport();
const started: BenchProcess[] = [];
const databases = await createBenchDatabases(bench);
const step = (what: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${what}`);
try {
  step(`scratch databases ready; starting the payment gateway, the API and the plain baseline server`);
  const jwtSecret = randomBytes(36).toString("base64url");
  const admin = { email: "admin@bench.example", password: randomBytes(18).toString("base64url") };
  const gateway = await startBenchProcess("payment-gateway", "PAYMENT_GATEWAY_PORT", {
    DATABASE_URL: databases.shopUrl,
  });
  started.push(gateway);
  // In production mode, as it is deployed: no development pages on the port.
  const api = await startBenchProcess("api", "PORT", {
    NODE_ENV: "production",
    DATABASE_URL: databases.shopUrl,
    PAYMENT_GATEWAY_URL: gateway.baseUrl,
    JWT_SECRET: jwtSecret,
    ADMIN_EMAIL: admin.email,
    ADMIN_PASSWORD: admin.password,
  });
  started.push(api);
  // Not deployables, but started the same way, from src/bin's point of view.
  const [plain, bare] = await Promise.all(
    ["same-stack", "bare"].map((baseline) =>
      startBenchProcess("../../scripts/bench/plain-rpc-server", "PORT", {
        BASELINE: baseline,
        DATABASE_URL: databases.shopUrl,
        PAYMENT_GATEWAY_URL: gateway.baseUrl,
        JWT_SECRET: jwtSecret,
      }),
    ),
  );
  started.push(plain as BenchProcess, bare as BenchProcess);

  step(`seeding ${PRODUCTS} products, a hot product, a customer and a reader`);
  const db = new pg.Client({ connectionString: databases.shopUrl });
  await db.connect();
  await seedProducts(db, 1, PRODUCTS, PRODUCT_STOCK).finally(() => db.end());
  const adminAccount = await logIn(api.baseUrl, admin.email, admin.password);
  const { product: hot } = await createClient(
    InventoryService,
    createGrpcTransport({ baseUrl: api.baseUrl }),
  ).createProduct(
    {
      sku: "HOT-1",
      name: "Hot product",
      unitPrice: { currencyCode: "EUR", amountMinor: 1250n },
      initialStock: HOT_PRODUCT_STOCK,
    },
    adminAccount.auth,
  );
  if (!hot) throw new Error("CreateProduct returned no product");
  const customer = await signUpCustomer(api.baseUrl, "bench-customer");
  const reader = await signUpCustomer(api.baseUrl, "bench-reader");
  const productIds = Array.from({ length: PRODUCTS }, (_, index) => benchProductId(index + 1));

  step("the RPC server: empty RPC on the one-port API and on a plain http2 server, GetProduct");
  await measureRpcServer({
    apiUrl: api.baseUrl,
    plainUrl: (plain as BenchProcess).baseUrl,
    bareUrl: (bare as BenchProcess).baseUrl,
    productId: benchProductId(1),
    bench,
    workDir,
    report,
  });

  step("PlaceOrder against pgbench running its SQL; the hot product");
  const placeOrderScript = await measurePlaceOrder({
    apiUrl: api.baseUrl,
    customerAuthorization: customer.authorization,
    productIds,
    hotProductId: hot.id,
    shopUrl: databases.shopUrl,
    postmasterPid: await findPostmaster(databases.shopUrl),
    sql: {
      productCount: PRODUCTS,
      capturePlaceOrder: () =>
        capturePlaceOrder({
          databaseUrl: databases.shopUrl,
          jwtSecret,
          customer,
          productId: benchProductId(1),
        }),
    },
    bench,
    workDir,
    report,
  });

  step("the confirmation email as an outbox row, against queueing its job in the paid transaction");
  await measureEnqueue({ placeOrderScript, shopUrl: databases.shopUrl, bench, workDir, report });

  step(`reads at ${PRODUCTS.toLocaleString("en")} and ${bench.scale.toLocaleString("en")} rows`);
  await measureReadsAtScale({
    apiUrl: api.baseUrl,
    shopUrl: databases.shopUrl,
    reader,
    productCount: PRODUCTS,
    productStock: PRODUCT_STOCK,
    bench,
    workDir,
    report,
  });
} finally {
  step("stopping and dropping the scratch databases");
  for (const running of started.reverse()) await running.stop();
  await databases.drop();
  rmSync(workDir, { recursive: true, force: true });
  // What was measured before a failure is still worth reading.
  console.log(`\n${report.print()}`);
}
