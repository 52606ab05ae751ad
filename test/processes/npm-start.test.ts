import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts, isListening } from "../support/network.js";
import { descendantsOf, isRunning } from "../support/process-tree.js";
import { spawnNpmScript } from "../support/spawn-deployable.js";
import { temporaryDirectory } from "../support/temp-dirs.js";
import { until } from "../support/until.js";

describe("npm start, stopped through npm", () => {
  let dataDir: string;
  /** Every process a test started, so that a failed test leaves none behind. */
  const seen: number[] = [];
  beforeAll(() => {
    dataDir = temporaryDirectory("npm-start");
  });
  afterAll(() => {
    for (const pid of seen.filter(isRunning)) process.kill(pid, "SIGKILL");
  });

  /** `npm start` on embedded defaults, up: npm, and every process under it. */
  async function npmStart() {
    const ports = await freePorts(3);
    const [port, gatewayPort, workerPort] = ports.map(String) as [string, string, string];
    const npm = spawnNpmScript("start", {
      DATA_DIR: dataDir,
      PORT: port,
      PAYMENT_GATEWAY_PORT: gatewayPort,
      WORKER_PORT: workerPort,
    });
    seen.push(npm.child.pid as number);
    await npm.waitForLog((line) => line.event === "worker.started");
    const started = descendantsOf(npm.child.pid as number);
    seen.push(...started.map((entry) => entry.pid));
    // The shell npm runs the script in execs node, which runs PostgreSQL under it.
    const commands = started.map((entry) => entry.command);
    expect(commands).toContainEqual(expect.stringMatching(/^node .*src\/bin\/dev\.ts$/));
    expect(commands).toContainEqual(expect.stringMatching(/postgres -D /));
    expect(commands).not.toContainEqual(expect.stringMatching(/^sh -c/));
    return { npm, started, ports };
  }

  it("SIGTERM to npm's pid, as a process manager sends it: every process stops, npm exits 0", async () => {
    const { npm, started, ports } = await npmStart();
    process.kill(npm.child.pid as number, "SIGTERM");

    expect(await npm.exited).toBe(0);
    await until(() => started.every((entry) => !isRunning(entry.pid)), "every process npm started to end");
    for (const port of ports) expect(await isListening(port)).toBe(false);
    expect(npm.logs.map((line) => line.event)).toEqual(
      expect.arrayContaining(["process.stopping", "embedded_postgres.stopped", "process.stopped"]),
    );
  });

  it("Ctrl-C, which signals the whole process group and which npm forwards too: one graceful stop", async () => {
    const { npm, started } = await npmStart();
    process.kill(-(npm.child.pid as number), "SIGINT");

    expect(await npm.exited).toBe(0);
    await until(() => started.every((entry) => !isRunning(entry.pid)), "every process npm started to end");
    const events = npm.logs.map((line) => line.event);
    expect(events).toContain("process.stopped");
    expect(events).not.toContain("process.forced_exit");
  });
});
