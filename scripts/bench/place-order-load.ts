import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { LoadResult } from "./h2load.js";
import { createLatencyHistogram } from "./latency-histogram.js";
import { loadAverage } from "./load-average.js";
import type { PlaceOrderLoad, PlaceOrderOutcome } from "./place-order-driver.js";

const run = promisify(execFile);

export interface PlaceOrderResult extends LoadResult {
  byStatus: Record<string, number>;
  /** Every call answered, warm-up included. */
  answered: number;
}

let runs = 0;

/**
 * Runs place-order-driver.ts in its own process and reads its outcome: `rate` counts the
 * orders placed (status OK), `failed` every other status.
 */
export async function runPlaceOrderLoad(
  load: Omit<PlaceOrderLoad, "requestIdPrefix" | "connections">,
): Promise<PlaceOrderResult> {
  const full: PlaceOrderLoad = {
    ...load,
    connections: Math.min(load.inFlight, 4),
    requestIdPrefix: `bench-${process.pid}-${++runs}`,
  };
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", "scripts/bench/place-order-driver.ts", JSON.stringify(full)],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const outcome = JSON.parse(stdout) as PlaceOrderOutcome;
  const histogram = createLatencyHistogram();
  histogram.add(outcome.histogram);
  return {
    rate: (outcome.byStatus.OK ?? 0) / outcome.measuredS,
    completed: outcome.completed,
    answered: outcome.answered,
    failed: outcome.completed - (outcome.byStatus.OK ?? 0),
    p50Ms: histogram.percentileMs(0.5),
    p99Ms: histogram.percentileMs(0.99),
    byStatus: outcome.byStatus,
    loadAverage: loadAverage(),
  };
}
