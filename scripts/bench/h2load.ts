import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { createLatencyHistogram } from "./latency-histogram.js";
import { loadAverage } from "./load-average.js";

const run = promisify(execFile);

export interface FixedBodyLoad {
  /** Full URL of the method: http://host:port/package.Service/Method. */
  url: string;
  /** A gRPC-framed request body (see grpc-body.ts). */
  bodyFile: string;
  headers?: Record<string, string>;
  inFlight: number;
  durationS: number;
  warmUpS: number;
  /** Where h2load writes its per-request log. */
  workDir: string;
}

export interface LoadResult {
  /** Completed calls per second. */
  rate: number;
  completed: number;
  /** Calls h2load counts as failed: not HTTP 2xx, or reset (it cannot see gRPC statuses in trailers). */
  failed: number;
  p50Ms: number;
  p99Ms: number;
  loadAverage: string;
}

/**
 * Calls one unary gRPC method with the same body over and over with h2load, `inFlight` calls
 * at a time over up to 4 HTTP/2 connections, for `durationS` after a warm-up. Percentiles
 * come from h2load's per-request log, since its summary gives only min, max, mean and sd.
 */
export async function runH2load(load: FixedBodyLoad): Promise<LoadResult> {
  const connections = Math.min(load.inFlight, 4);
  const logFile = join(load.workDir, "h2load-requests.log");
  const headers = {
    "content-type": "application/grpc",
    te: "trailers",
    ...load.headers,
  };
  const { stdout } = await run(
    "h2load",
    [
      "--threads=1",
      `--clients=${connections}`,
      `--max-concurrent-streams=${Math.ceil(load.inFlight / connections)}`,
      `--duration=${load.durationS}`,
      `--warm-up-time=${load.warmUpS}`,
      `--data=${load.bodyFile}`,
      `--log-file=${logFile}`,
      ...Object.entries(headers).map(([name, value]) => `--header=${name}: ${value}`),
      load.url,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const loadNow = loadAverage();
  const rate = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(stdout)?.[1]);
  const requests = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
    stdout,
  );
  if (!requests || Number.isNaN(rate)) throw new Error(`cannot read h2load's report:\n${stdout}`);
  const histogram = createLatencyHistogram();
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    const [, status, microseconds] = line.split("\t");
    if (status === "200" && microseconds !== undefined) histogram.record(Number(microseconds));
  }
  rmSync(logFile, { force: true });
  return {
    rate,
    completed: Number(requests[1]),
    failed: Number(requests[3]),
    p50Ms: histogram.percentileMs(0.5),
    p99Ms: histogram.percentileMs(0.99),
    loadAverage: loadNow,
  };
}
