import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import pg from "pg";

const SAMPLE_EVERY_MS = 100;
/** Server processes that work for every database: WAL and dirty pages written on behalf of our commits. */
const SHARED_WORKERS = /\b(walwriter|checkpointer|background writer)\b/;
const CLOCK_TICKS_PER_S = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

export interface CpuMeter {
  /** CPU milliseconds (user + system) the measured processes used since the meter started. */
  stop(): number;
}

/**
 * Measures the CPU a PostgreSQL server spends on one database: its backends (process title
 * naming the database), autovacuum on it, and the shared WAL and page writers. Other
 * databases' backends are left out, since other people's tests share the machine's server.
 *
 * Backends come and go (pgbench's end with its run), and an exited process's time is gone
 * from /proc, so the processes are sampled every 100 ms and each one's last reading kept:
 * what a backend spends in its last 100 ms of life can be missed.
 */
export function startCpuMeter(postmasterPid: number, database: string): CpuMeter {
  const atStart = new Map<number, number>();
  const latest = new Map<number, number>();
  const included = new Map<number, boolean>();

  const sample = (first: boolean) => {
    for (const pid of childrenOf(postmasterPid)) {
      if (!included.has(pid)) {
        const measured = isMeasured(pid, database);
        if (measured === undefined) continue;
        included.set(pid, measured);
      }
      if (!included.get(pid)) continue;
      const ticks = cpuTicks(pid);
      if (ticks === undefined) continue;
      if (!atStart.has(pid)) atStart.set(pid, first ? ticks : 0);
      latest.set(pid, ticks);
    }
  };
  sample(true);
  const timer = setInterval(() => sample(false), SAMPLE_EVERY_MS);
  return {
    stop() {
      sample(false);
      clearInterval(timer);
      let ticks = 0;
      for (const [pid, last] of latest) ticks += last - (atStart.get(pid) ?? 0);
      return (ticks * 1_000) / CLOCK_TICKS_PER_S;
    },
  };
}

/**
 * The server's postmaster: the parent of a backend of ours. Undefined when the server's
 * processes are not visible from here (another machine, another container), where the
 * backend's process id names nothing, or some unrelated process.
 */
export async function findPostmaster(databaseUrl: string): Promise<number | undefined> {
  const database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>("select pg_backend_pid() as pid");
    const backend = rows[0]?.pid;
    if (backend === undefined || isMeasured(backend, database) !== true) return undefined;
    const parent = statFields(backend)?.[1];
    return parent === undefined ? undefined : Number(parent);
  } finally {
    await client.end();
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Undefined while a just-forked backend still shows the postmaster's command line instead of its title. */
function isMeasured(pid: number, database: string): boolean | undefined {
  try {
    const title = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    if (!title.startsWith("postgres:")) return undefined;
    return title.split(/\s+/).includes(database) || SHARED_WORKERS.test(title);
  } catch {
    return false;
  }
}

/** The fields of /proc/<pid>/stat after the command name (which may contain spaces): state first. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** utime + stime, fields 14 and 15 of /proc/<pid>/stat. */
function cpuTicks(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields === undefined ? undefined : Number(fields[11]) + Number(fields[12]);
}
