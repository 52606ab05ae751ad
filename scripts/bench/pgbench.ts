import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { loadAverage } from "./load-average.js";

const run = promisify(execFile);

export interface PgbenchResult {
  /** Transactions (script runs) per second, without the initial connection time. */
  rate: number;
  completed: number;
  failed: number;
  loadAverage: string;
}

/** Runs a pgbench script file: `-n -M prepared -T seconds -c clients -j 2` against the database at `databaseUrl`. */
export async function runPgbench(options: {
  databaseUrl: string;
  scriptFile: string;
  clients: number;
  durationS: number;
}): Promise<PgbenchResult> {
  const url = new URL(options.databaseUrl);
  const { stdout } = await run(
    "pgbench",
    [
      "-n",
      "-M",
      "prepared",
      "-T",
      String(options.durationS),
      "-c",
      String(options.clients),
      "-j",
      String(Math.min(2, options.clients)), // pgbench refuses more threads than clients
      "-f",
      options.scriptFile,
      "-h",
      url.hostname,
      "-p",
      url.port || "5432",
      "-U",
      decodeURIComponent(url.username || "postgres"),
      decodeURIComponent(url.pathname.slice(1)),
    ],
    { env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) }, maxBuffer: 16 * 1024 * 1024 },
  );
  const rate = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1]);
  const completed = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1]);
  const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  if (Number.isNaN(rate) || Number.isNaN(completed)) throw new Error(`cannot read pgbench's report:\n${stdout}`);
  return { rate, completed, failed, loadAverage: loadAverage() };
}
