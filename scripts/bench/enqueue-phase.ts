import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BenchOptions } from "./options.js";
import { runPgbench } from "./pgbench.js";
import type { Report } from "./report.js";
import { median } from "./statistics.js";

/** The settlement, the statement that writes the order's outbox event. */
const SETTLEMENT = /update "customer_order" set "state"/;

/**
 * Why the confirmation email is an outbox row and not a job queued in the paid transaction:
 * PlaceOrder's SQL under pgbench, its settlement in a transaction of its own, once as it is
 * (the outbox row) and once also queueing the email job with graphile-worker's add_job,
 * whose NOTIFY takes a database-wide lock held through each commit. Interleaved, per client
 * count; the ratio is queued / outbox.
 */
export async function measureEnqueue(options: {
  placeOrderScript: string;
  shopUrl: string;
  bench: BenchOptions;
  workDir: string;
  report: Report;
}): Promise<void> {
  const { bench, report } = options;
  const variant = (queueJob: boolean) => {
    const commands = options.placeOrderScript.split(/;\n/);
    const settlement = commands.findIndex((command) => SETTLEMENT.test(command));
    if (settlement < 0) throw new Error("no settlement statement in PlaceOrder's script");
    const job = `select graphile_worker.add_job('send_order_email', json_build_object('orderId', (:order_id)::text, 'kind', 'confirmation'), max_attempts => 25, job_key => 'order-confirmation:' || (:order_id)::text, job_key_mode => 'unsafe_dedupe')`;
    commands[settlement] = ["begin", commands[settlement], ...(queueJob ? [job] : []), "commit"].join(";\n");
    const file = join(options.workDir, queueJob ? "place-order-notify.pgbench" : "place-order-outbox.pgbench");
    writeFileSync(file, commands.join(";\n"));
    return file;
  };
  const outbox = variant(false);
  const queued = variant(true);
  const clientCounts = bench.quick ? [16] : [16, 48];
  for (const clients of clientCounts) {
    const ratios: number[] = [];
    let last: { outbox: number; queued: number; loadAverage: string } | undefined;
    for (let round = 1; round <= bench.rounds; round++) {
      const run = (scriptFile: string) =>
        runPgbench({ databaseUrl: options.shopUrl, scriptFile, clients, durationS: bench.durationS });
      const withOutbox = await run(outbox);
      const withQueue = await run(queued);
      ratios.push(withQueue.rate / withOutbox.rate);
      last = { outbox: withOutbox.rate, queued: withQueue.rate, loadAverage: withQueue.loadAverage };
      console.log(
        `  round ${round}, ${clients} clients: outbox ${withOutbox.rate.toFixed(0)}/s, add_job in the transaction ${withQueue.rate.toFixed(0)}/s`,
      );
    }
    if (!last) continue;
    report.figure(
      `pgbench PlaceOrder, email as an outbox row, ${clients} clients`,
      last.outbox,
      "/s",
      last.loadAverage,
    );
    report.figure(
      `pgbench PlaceOrder, email job queued (NOTIFY), ${clients} clients`,
      last.queued,
      "/s",
      last.loadAverage,
    );
    report.figure(
      `queued in the transaction / outbox, ${clients} clients (median of ${bench.rounds})`,
      median(ratios),
      "×",
      last.loadAverage,
    );
  }
}
