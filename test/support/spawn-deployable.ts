import { type ChildProcessByStdio, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

export interface Deployable {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  stderr: () => string;
  /** Resolves with the first log line matching, failing if the process exits first. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/**
 * What every process a test starts gets unless the test says otherwise: its metrics on a free
 * port, as in production, where the development defaults (9464 and on) would clash between
 * tests running at once.
 */
const TEST_ENV = { LOG_LEVEL: "info", METRICS_PORT: "0" };

/** Starts one of src/bin's entry points as its own process, as a container would run it. */
export function spawnDeployable(entry: string, env: Record<string, string>): Deployable {
  return watchLogs(
    spawn(process.execPath, ["--import", "tsx", `src/bin/${entry}.ts`], {
      env: { PATH: process.env.PATH ?? "", ...TEST_ENV, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
}

/**
 * Runs `npm run <script>` as a person does in a terminal: npm is the process we start, in a
 * process group of its own (as a terminal's foreground job), with the PATH of this test run.
 */
export function spawnNpmScript(script: string, env: Record<string, string>): Deployable {
  return watchLogs(
    spawn("npm", ["run", "--silent", script], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...TEST_ENV, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    }),
  );
}

function watchLogs(child: ChildProcessByStdio<null, Readable, Readable>): Deployable {
  const logs: Record<string, unknown>[] = [];
  const waiters: {
    predicate: (line: Record<string, unknown>) => boolean;
    resolve: (line: Record<string, unknown>) => void;
  }[] = [];
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout }).on("line", (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text);
    } catch {
      return; // the banner and other prose
    }
    logs.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = once(child, "exit").then(([code]) => code as number | null);
  return {
    child,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog(predicate) {
      const seen = logs.find(predicate);
      if (seen) return Promise.resolve(seen);
      return Promise.race([
        new Promise<Record<string, unknown>>((resolve) => waiters.push({ predicate, resolve })),
        exited.then((code) => {
          throw new Error(`process exited with ${code} before the expected log line:\n${stderr}`);
        }),
      ]);
    },
  };
}
