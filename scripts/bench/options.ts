/** What one bench run does, from the command line (`--quick`) and the environment. */
export interface BenchOptions {
  quick: boolean;
  /** A server to create the scratch databases on; unused with `embedded`. */
  serverUrl: string;
  embedded: boolean;
  /** Seconds each measured run lasts, after its warm-up. */
  durationS: number;
  warmUpS: number;
  /** Calls in flight tried when looking for a side's best rate. */
  inFlightLevels: number[];
  /** pgbench client counts tried; kept small, since the server allows 100 connections to everyone. */
  pgbenchClients: number[];
  /** A/B comparisons are run this many times, interleaved, and their median ratio reported. */
  rounds: number;
  /** Rows of the large step of "reads at scale". */
  scale: number;
}

export function readOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const quick = argv.includes("--quick");
  const scale = Number(env.BENCH_SCALE ?? (quick ? 20_000 : 1_000_000));
  if (!Number.isSafeInteger(scale) || scale < 1_000) throw new Error("BENCH_SCALE must be a whole number ≥ 1000");
  return {
    quick,
    serverUrl: env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
    embedded: env.BENCH_EMBEDDED === "1",
    durationS: quick ? 2 : 10,
    warmUpS: quick ? 1 : 2,
    inFlightLevels: [1, 4, 16, 64],
    pgbenchClients: quick ? [1, 4, 16] : [1, 2, 4, 8, 16],
    rounds: quick ? 2 : 3,
    scale,
  };
}
