import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckRequestSchema } from "../../gen/health/v1/health_pb.js";
import { GetProductRequestSchema, InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { writeGrpcBody } from "./grpc-body.js";
import { type LoadResult, runH2load } from "./h2load.js";
import type { BenchOptions } from "./options.js";
import type { Report } from "./report.js";
import { fastest, median } from "./statistics.js";

/**
 * The server layer against the layer below: the empty RPC (health Check) on the one-port API,
 * on a plain http2 server with the API's own request handling (what the one-port listener
 * costs), and on a plain http2 server with connect-node alone (what our whole server layer
 * costs); and GetProduct (one row by primary key) against the empty RPC. Interleaved level by
 * level and round by round so that the machine's noise falls on every side alike.
 */
export async function measureRpcServer(options: {
  apiUrl: string;
  plainUrl: string;
  bareUrl: string;
  productId: string;
  bench: BenchOptions;
  workDir: string;
  report: Report;
}): Promise<void> {
  const { bench, workDir, report } = options;
  // h2load sees only HTTP statuses: one real call each first proves the gRPC status is OK.
  for (const baseUrl of [options.apiUrl, options.plainUrl, options.bareUrl]) {
    await createClient(Health, createGrpcTransport({ baseUrl })).check({});
  }
  await createClient(InventoryService, createGrpcTransport({ baseUrl: options.apiUrl })).getProduct({
    id: options.productId,
  });
  const emptyBody = writeGrpcBody(workDir, "health-check", HealthCheckRequestSchema, {});
  const getProductBody = writeGrpcBody(workDir, "get-product", GetProductRequestSchema, { id: options.productId });
  const load = (url: string, bodyFile: string, inFlight: number) =>
    runH2load({ url, bodyFile, inFlight, durationS: bench.durationS, warmUpS: bench.warmUpS, workDir });

  const rounds: { api: LoadResult[]; plain: LoadResult[]; bare: LoadResult[]; getProduct: LoadResult[] }[] = [];
  for (let round = 1; round <= bench.rounds; round++) {
    const runs = {
      api: [] as LoadResult[],
      plain: [] as LoadResult[],
      bare: [] as LoadResult[],
      getProduct: [] as LoadResult[],
    };
    for (const inFlight of bench.inFlightLevels) {
      runs.api.push(await load(`${options.apiUrl}/grpc.health.v1.Health/Check`, emptyBody, inFlight));
      runs.plain.push(await load(`${options.plainUrl}/grpc.health.v1.Health/Check`, emptyBody, inFlight));
      runs.bare.push(await load(`${options.bareUrl}/grpc.health.v1.Health/Check`, emptyBody, inFlight));
      runs.getProduct.push(
        await load(`${options.apiUrl}/shop.v1.InventoryService/GetProduct`, getProductBody, inFlight),
      );
      const last = (side: LoadResult[]) => side.at(-1)?.rate.toFixed(0);
      console.log(
        `  round ${round}, ${inFlight} in flight: empty RPC ${last(runs.api)}/s, same stack on plain http2 ${last(runs.plain)}/s, connect-node alone ${last(runs.bare)}/s, GetProduct ${last(runs.getProduct)}/s`,
      );
    }
    rounds.push(runs);
  }

  const last = rounds.at(-1) as (typeof rounds)[number];
  const atOne = (side: "api" | "plain") => median(rounds.map((runs) => runs[side][0]?.p50Ms ?? Number.NaN));
  for (const [what, side] of [
    ["empty RPC, one-port API", "api"],
    ["empty RPC, the API's handling on a plain http2 server", "plain"],
    ["empty RPC, connect-node alone on a plain http2 server", "bare"],
    ["GetProduct", "getProduct"],
  ] as const) {
    const best = fastest(last[side]);
    report.figure(
      `${what}: best rate (${best.completed} calls, ${best.failed} failed)`,
      best.rate,
      "/s",
      best.loadAverage,
    );
  }
  report.figure(
    "empty RPC, the API's handling on plain http2: p50 at 1 in flight",
    atOne("plain"),
    "ms",
    last.plain[0]?.loadAverage ?? "",
  );
  report.goal(
    "empty RPC p50 at 1 in flight",
    atOne("api"),
    "ms",
    "≤ 1 ms",
    (p50) => p50 <= 1,
    last.api[0]?.loadAverage ?? "",
  );
  report.figure(
    `one-port API / connect-node alone, empty RPC best rate (median of ${bench.rounds})`,
    median(rounds.map((runs) => fastest(runs.api).rate / fastest(runs.bare).rate)),
    "×",
    fastest(last.bare).loadAverage,
  );
  report.goal(
    `one-port API / the same handling on plain http2, empty RPC best rate (median of ${bench.rounds})`,
    median(rounds.map((runs) => fastest(runs.api).rate / fastest(runs.plain).rate)),
    "×",
    "≥ 0.9×",
    (ratio) => ratio >= 0.9,
    fastest(last.api).loadAverage,
  );
  report.goal(
    `GetProduct / empty RPC best rate (median of ${bench.rounds})`,
    median(rounds.map((runs) => fastest(runs.getProduct).rate / fastest(runs.api).rate)),
    "×",
    "≥ 0.8×",
    (ratio) => ratio >= 0.8,
    fastest(last.getProduct).loadAverage,
  );
}
