import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderService } from "../../gen/shop/v1/order_service_pb.js";
import { testCard } from "../support/gateway.js";
import { freePorts } from "../support/network.js";
import { createScratchDatabase } from "../support/scratch-database.js";
import { isAbout, type SmtpCatcher, startSmtpCatcher } from "../support/smtp-catcher.js";
import { type SystemProcesses, startSystemProcesses } from "../support/system-processes.js";
import { temporaryDirectory } from "../support/temp-dirs.js";
import { until } from "../support/until.js";

/** Debian's `prometheus` package; CI installs it (.ci/run), elsewhere its absence skips the test. */
const PROMETHEUS = "/usr/bin/prometheus";
const missing = !existsSync(PROMETHEUS) && !process.env.CI;

type Sample = { metric: Record<string, string>; value: [number, string] };

describe.skipIf(missing)("Prometheus scraping the three deployables", () => {
  let database: { url: string; drop: () => Promise<void> };
  let smtp: SmtpCatcher;
  let system: SystemProcesses;
  let prometheus: ChildProcess;
  let prometheusUrl: string;
  let prometheusOutput = "";

  beforeAll(async () => {
    database = await createScratchDatabase("prometheus");
    smtp = await startSmtpCatcher();
    system = await startSystemProcesses({ databaseUrl: database.url, smtpUrl: smtp.url });
    const dir = temporaryDirectory("prometheus");
    const [port] = await freePorts(1);
    prometheusUrl = `http://127.0.0.1:${port}`;
    // The scrape jobs of deploy/prometheus/prometheus.yml, on this test's ports, with its alert rules.
    const jobs = Object.entries(system.metricsPorts).map(
      ([job, metricsPort]) => `  - job_name: ${job}\n    static_configs: [{ targets: ["127.0.0.1:${metricsPort}"] }]`,
    );
    writeFileSync(
      join(dir, "prometheus.yml"),
      [
        "global: { scrape_interval: 1s, evaluation_interval: 1s }",
        `rule_files: ["${resolve("deploy/prometheus/alerts.yml")}"]`,
        "scrape_configs:",
        ...jobs,
        "",
      ].join("\n"),
    );
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    prometheus.stdout?.on("data", (chunk: Buffer) => (prometheusOutput += chunk));
    prometheus.stderr?.on("data", (chunk: Buffer) => (prometheusOutput += chunk));
  });
  afterAll(async () => {
    prometheus?.kill("SIGTERM");
    await system?.stop();
    await smtp?.stop();
    await database?.drop();
  });

  /** The samples of an instant PromQL query, as Prometheus's HTTP API answers it. */
  async function query(promql: string): Promise<Sample[]> {
    const answer = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`).catch(
      () => undefined,
    );
    if (!answer?.ok) return [];
    return ((await answer.json()) as { data: { result: Sample[] } }).data.result;
  }
  async function eventually(promql: string, holds: (samples: Sample[]) => boolean): Promise<Sample[]> {
    let samples: Sample[] = [];
    await until(async () => {
      samples = await query(promql);
      return holds(samples);
    }, `${promql} to hold`).catch((error: Error) => {
      throw new Error(`${error.message}; last answer ${JSON.stringify(samples)}\n${prometheusOutput}`);
    });
    return samples;
  }
  const byLabel = (samples: Sample[], label: string) =>
    Object.fromEntries(samples.map((sample) => [sample.metric[label], Number(sample.value[1])]));

  it("when orders are placed, then PromQL counts them by outcome, times PlaceOrder, and sees the emails sent", async () => {
    const product = await system.product(1);
    const customer = await system.customer();
    const orders = createClient(OrderService, createGrpcTransport({ baseUrl: system.apiUrl }));
    const place = (card: string) =>
      orders.placeOrder(
        { requestId: crypto.randomUUID(), lines: [{ productId: product.id, quantity: 1 }], card: testCard(card) },
        customer,
      );
    const declined = await place("4000000000009995").catch((thrown: unknown) => ConnectError.from(thrown));
    expect(declined).toMatchObject({ code: Code.FailedPrecondition });
    const { order } = await place("4242424242424242");
    const outOfStock = await place("4242424242424242").catch((thrown: unknown) => ConnectError.from(thrown));
    expect(outOfStock).toMatchObject({ code: Code.FailedPrecondition });
    await smtp.waitFor((mail) => isAbout(mail, order?.id));

    const up = await eventually("up", (samples) => samples.length === 3 && samples.every((s) => s.value[1] === "1"));
    expect(Object.keys(byLabel(up, "job")).sort()).toEqual(["email-worker", "payment-gateway", "shop-api"]);

    const placed = await eventually("sum by (outcome, decline_code) (shop_orders_placed_total)", (s) => s.length === 3);
    expect(placed.map(({ metric, value }) => ({ ...metric, count: value[1] }))).toEqual(
      expect.arrayContaining([
        { outcome: "fulfilled", count: "1" },
        { outcome: "out_of_stock", count: "1" },
        { outcome: "declined", decline_code: "insufficient_funds", count: "1" },
      ]),
    );

    const calls = await eventually(
      'sum by (rpc_grpc_status_code) (rpc_server_duration_count{job="shop-api", rpc_method="PlaceOrder"})',
      (s) => s.length === 2,
    );
    // OK once; FAILED_PRECONDITION (9) for the declined card and the stock that ran out.
    expect(byLabel(calls, "rpc_grpc_status_code")).toEqual({ "0": 1, "9": 2 });
    await eventually('rpc_client_duration_count{job="shop-api", rpc_method="Charge"}', (s) => s.length > 0);
    await eventually('rpc_server_duration_count{job="payment-gateway", rpc_method="Charge"}', (s) => s.length > 0);

    await eventually('shop_email_jobs_runs_total{outcome="sent"}', (s) => Number(s[0]?.value[1]) === 1);
    await eventually("max(shop_emails_waiting)", (s) => s[0]?.value[1] === "0");
    await eventually(
      'db_client_connection_count{job="shop-api", db_client_connection_pool_name="shop"}',
      (s) => s.length === 2,
    );
  });

  it("answers every query of the Grafana dashboard, on metrics the deployables export", async () => {
    const dashboard = JSON.parse(readFileSync("deploy/grafana/dashboards/order-backend.json", "utf8")) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
    for (const expr of queries) {
      const answer = await fetch(
        `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr.replaceAll("$__rate_interval", "1m"))}`,
      );
      expect(((await answer.json()) as { status: string }).status, expr).toBe("success");
    }
    // Without label matchers and groupings, what is left of a name is a metric's.
    const metricsOf = (expr: string) =>
      expr
        .replace(/\{[^}]*\}/g, "")
        .replace(/\bby \([^)]*\)/g, "")
        .match(/\b(?:rpc|shop|db|process|nodejs|v8js)_\w+/g) ?? [];
    const named = new Set(queries.flatMap(metricsOf));
    const exported = new Set(
      ((await (await fetch(`${prometheusUrl}/api/v1/label/__name__/values`)).json()) as { data: string[] }).data,
    );
    // Counters appear at their first event, which this test does not cause.
    const notHappened = ["shop_orders_recovered_total", "shop_orders_stock_conflicts_total"];
    expect([...named].filter((name) => !exported.has(name) && !notHappened.includes(name))).toEqual([]);
  });

  it("loads the alert rules, and none fires on a healthy system", async () => {
    let rules: { groups: { rules: { name: string; health: string; state: string }[] }[] } = { groups: [] };
    await until(async () => {
      const answer = await fetch(`${prometheusUrl}/api/v1/rules`).catch(() => undefined);
      if (answer?.ok) rules = ((await answer.json()) as { data: typeof rules }).data;
      return (
        rules.groups.length > 0 && rules.groups.every((group) => group.rules.every((rule) => rule.health === "ok"))
      );
    }, `the alert rules to be evaluated:\n${prometheusOutput}`);
    const all = rules.groups.flatMap((group) => group.rules);
    expect(all.map((rule) => rule.name)).toEqual(
      expect.arrayContaining(["ShopRpcErrorRatioHigh", "ShopEmailBacklogOld", "ShopOrdersPendingTooLong"]),
    );
    expect(all.filter((rule) => rule.state === "firing")).toEqual([]);
  });
});
