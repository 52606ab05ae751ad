import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { freePort } from "../../src/db/embedded-postgres.js";
import { type Deployable, spawnDeployable } from "../../test/support/spawn-deployable.js";

const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 20_000;

export interface BenchProcess {
  baseUrl: string;
  port: number;
  /** The process itself, whose CPU time /proc has. */
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts an entry point under src/bin as its own process, as the tests and a container start
 * it, on a free port, and resolves once its gRPC health says SERVING.
 */
export async function startBenchProcess(
  entry: string,
  portVariable: string,
  env: Record<string, string>,
): Promise<BenchProcess> {
  const port = await freePort();
  const child = spawnDeployable(entry, { LOG_LEVEL: "warn", ...env, [portVariable]: String(port) });
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await untilServing(baseUrl, child);
  } catch (error) {
    child.child.kill("SIGKILL");
    throw error;
  }
  return {
    baseUrl,
    port,
    pid: child.child.pid as number,
    async stop() {
      if (child.child.exitCode !== null) return;
      child.child.kill("SIGTERM");
      const exited = await Promise.race([child.exited.then(() => true), sleep(STOP_TIMEOUT_MS, false)]);
      if (!exited) child.child.kill("SIGKILL");
    },
  };
}

async function untilServing(baseUrl: string, child: Deployable): Promise<void> {
  const health = createClient(Health, createGrpcTransport({ baseUrl }));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exitCode: number | null | undefined;
  void child.exited.then((code) => {
    exitCode = code;
  });
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`process exited with ${exitCode} while starting:\n${child.stderr()}`);
    const status = await health
      .check({}, { timeoutMs: 1_000 })
      .then((answer) => answer.status)
      .catch(() => undefined);
    if (status === HealthCheckResponse_ServingStatus.SERVING) return;
    await sleep(200);
  }
  throw new Error(`not SERVING within ${READY_TIMEOUT_MS} ms:\n${child.stderr()}`);
}
