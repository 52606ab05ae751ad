/**
 * `npm run bench:telemetry [-- --quick]`: what observing the system costs. The same API and
 * payment gateway run three times over, as processes of their own on one scratch database:
 *
 * - off: no metrics endpoint (METRICS_PORT=off), no tracing;
 * - metrics: /metrics served and scraped every 5 s, as Prometheus would;
 * - tracing: metrics, plus every call traced (100 % sampling) and exported over OTLP
 *   (http/protobuf) to a receiver in this process, which reads and drops what it gets.
 *
 * Each round measures the empty RPC (health Check, sent with a sampled traceparent, so that it
 * is traced when tracing is on) with h2load and PlaceOrder with the load driver, on the three
 * in turn, in a rotated order: the rate, and the CPU time the API and the gateway processes
 * spent per call while it was measured (from /proc), which the machine's other work disturbs
 * far less than the rate. The ratios to "off" within a round are what counts on this noisy
 * machine, and the median of the rounds is reported, each figure with the load average.
 * BENCH_TELEMETRY_ROUNDS sets how many rounds (3 by default, 2 with --quick).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { HealthCheckRequestSchema } from "../../gen/health/v1/health_pb.js";
import { freePorts } from "../../test/support/network.js";
import { signUpCustomer } from "./bench-accounts.js";
import { createBenchDatabases } from "./bench-databases.js";
import { writeGrpcBody } from "./grpc-body.js";
import { type LoadResult, runH2load } from "./h2load.js";
import { readOptions } from "./options.js";
import { runPlaceOrderLoad } from "./place-order-load.js";
import { type BenchProcess, startBenchProcess } from "./processes.js";
import { createReport } from "./report.js";
import { benchProductId, seedProducts } from "./seed-rows.js";
import { median } from "./statistics.js";

const PRODUCTS = 1_000;
const PRODUCT_STOCK = 1_000_000_000;
const IN_FLIGHT = 16;
const SCRAPE_EVERY_MS = 5_000;
const SETUPS = ["off", "metrics", "tracing"] as const;
type Setup = (typeof SETUPS)[number];
const CLOCK_TICKS_PER_S = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** CPU milliseconds (user and system) these processes have used so far. */
function cpuMsOf(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    // After the command, which is in parentheses and may hold spaces: utime and stime are the
    // 12th and 13th fields.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1_000) / CLOCK_TICKS_PER_S;
}

type Measured = LoadResult & { cpuMsPerCall: number };

/** Runs a load, and the CPU the processes spent per call between its warm-up's end and its end. */
async function withCpu(pids: number[], run: () => Promise<LoadResult>): Promise<Measured> {
  let atWarm = 0;
  const warm = setTimeout(() => {
    atWarm = cpuMsOf(pids);
  }, bench.warmUpS * 1_000);
  const result = await run();
  clearTimeout(warm);
  return { ...result, cpuMsPerCall: (cpuMsOf(pids) - atWarm) / Math.max(result.completed, 1) };
}

const bench = readOptions(process.argv.slice(2), process.env);
/** More rounds than the bench's default narrow the median on a busy machine. */
const ROUNDS = Number(process.env.BENCH_TELEMETRY_ROUNDS ?? bench.rounds);
const workDir = mkdtempSync(join(tmpdir(), "bench-telemetry-"));
const report = createReport();
const started: BenchProcess[] = [];
const databases = await createBenchDatabases(bench);
const step = (what: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${what}`);

/** An OTLP/HTTP receiver that reads every export and drops it, as a collector's would cost us. */
const sink = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => res.writeHead(200, { "content-type": "application/x-protobuf" }).end());
});
await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
const scrapers: NodeJS.Timeout[] = [];

try {
  const jwtSecret = randomBytes(36).toString("base64url");
  const tracing = { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_TRACES_SAMPLER: "always_on" };
  const apis = {} as Record<Setup, BenchProcess>;
  const pidsOf = {} as Record<Setup, number[]>;
  for (const setup of SETUPS) {
    step(`starting the payment gateway and the API with ${setup}`);
    const metricsPorts = setup === "off" ? [] : await freePorts(2);
    const envOf = (metricsPort: number | undefined) => ({
      DATABASE_URL: databases.shopUrl,
      METRICS_PORT: metricsPort === undefined ? "off" : String(metricsPort),
      ...(setup === "tracing" && tracing),
    });
    const gateway = await startBenchProcess("payment-gateway", "PAYMENT_GATEWAY_PORT", envOf(metricsPorts[0]));
    started.push(gateway);
    const api = await startBenchProcess("api", "PORT", {
      ...envOf(metricsPorts[1]),
      PAYMENT_GATEWAY_URL: gateway.baseUrl,
      JWT_SECRET: jwtSecret,
    });
    started.push(api);
    apis[setup] = api;
    pidsOf[setup] = [api.pid, gateway.pid];
    for (const metricsPort of metricsPorts) {
      const scrape = () => fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((answer) => answer.text());
      scrapers.push(setInterval(() => void scrape().catch(() => {}), SCRAPE_EVERY_MS));
    }
  }

  step(`seeding ${PRODUCTS} products and a customer`);
  const db = new pg.Client({ connectionString: databases.shopUrl });
  await db.connect();
  await seedProducts(db, 1, PRODUCTS, PRODUCT_STOCK).finally(() => db.end());
  const customer = await signUpCustomer(apis.off.baseUrl, "bench-telemetry");
  const productIds = Array.from({ length: PRODUCTS }, (_, index) => benchProductId(index + 1));
  const emptyBody = writeGrpcBody(workDir, "health-check", HealthCheckRequestSchema, {});
  const traceparent = `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;

  const emptyRpc = (setup: Setup) =>
    withCpu(pidsOf[setup], () =>
      runH2load({
        url: `${apis[setup].baseUrl}/grpc.health.v1.Health/Check`,
        bodyFile: emptyBody,
        headers: { traceparent },
        inFlight: IN_FLIGHT,
        durationS: bench.durationS,
        warmUpS: bench.warmUpS,
        workDir,
      }),
    );
  const placeOrder = (setup: Setup) =>
    withCpu(pidsOf[setup], () =>
      runPlaceOrderLoad({
        baseUrl: apis[setup].baseUrl,
        authorization: customer.authorization,
        productIds,
        inFlight: IN_FLIGHT,
        durationS: bench.durationS,
        warmUpS: bench.warmUpS,
      }),
    );

  const rounds: Record<"empty" | "order", Record<Setup, Measured>>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Rotated, so that no setup always runs first, on a machine warmer or cooler than the rest.
    const order = SETUPS.map((_, index) => SETUPS[(index + round) % SETUPS.length] as Setup);
    const measured = { empty: {}, order: {} } as (typeof rounds)[number];
    for (const setup of order) {
      measured.empty[setup] = await emptyRpc(setup);
      measured.order[setup] = await placeOrder(setup);
      const { empty, order: placed } = { empty: measured.empty[setup], order: measured.order[setup] };
      console.log(
        `  round ${round + 1}, ${setup}: empty RPC ${empty.rate.toFixed(0)}/s ${empty.cpuMsPerCall.toFixed(3)} ms CPU/call, PlaceOrder ${placed.rate.toFixed(0)}/s ${placed.cpuMsPerCall.toFixed(2)} ms CPU/call (${placed.failed} not OK), loadavg ${placed.loadAverage}`,
      );
    }
    rounds.push(measured);
  }

  for (const [load, what] of [
    ["empty", "empty RPC"],
    ["order", "PlaceOrder"],
  ] as const) {
    for (const setup of SETUPS) {
      const last = rounds.at(-1)?.[load][setup];
      report.figure(
        `${what}, ${setup}, ${IN_FLIGHT} in flight (median of ${ROUNDS})`,
        median(rounds.map((measured) => measured[load][setup].rate)),
        "/s",
        last?.loadAverage ?? "",
      );
      report.figure(
        `${what}, ${setup}: API and gateway CPU per call (median of ${ROUNDS})`,
        median(rounds.map((measured) => measured[load][setup].cpuMsPerCall)),
        "ms",
        last?.loadAverage ?? "",
      );
    }
    for (const [setup, goal, within] of [
      ["metrics", "≥ 0.95× (≤ 5 %)", 0.95],
      ["tracing", "≥ 0.85× (≤ 15 %)", 0.85],
    ] as const) {
      report.goal(
        `${what}: ${setup} / off (median of ${ROUNDS} rounds' ratios)`,
        median(rounds.map((measured) => measured[load][setup].rate / measured[load].off.rate)),
        "×",
        goal,
        (ratio) => ratio >= within,
        rounds.at(-1)?.[load][setup].loadAverage ?? "",
      );
      report.goal(
        `${what}: off / ${setup} CPU per call (median of ${ROUNDS} rounds' ratios)`,
        median(rounds.map((measured) => measured[load].off.cpuMsPerCall / measured[load][setup].cpuMsPerCall)),
        "×",
        goal,
        (ratio) => ratio >= within,
        rounds.at(-1)?.[load][setup].loadAverage ?? "",
      );
    }
  }
} finally {
  step("stopping and dropping the scratch database");
  for (const scraper of scrapers) clearInterval(scraper);
  for (const running of started.reverse()) await running.stop();
  sink.close();
  await databases.drop();
  rmSync(workDir, { recursive: true, force: true });
  console.log(`\n${report.print()}`);
}
