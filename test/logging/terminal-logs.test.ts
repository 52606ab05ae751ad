import { spawn } from "node:child_process";
import { once } from "node:events";
import { stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descendantsOf } from "../support/process-tree.js";
import { TEST_JWT_SECRET } from "../support/rpc-server.js";
import { createScratchDatabase } from "../support/scratch-database.js";
import { until } from "../support/until.js";

/**
 * The shop API run in a pseudo-terminal (util-linux `script`), as in a person's terminal:
 * what it printed until it listened, then stopped with SIGTERM.
 */
async function outputOnTerminal(env: Record<string, string>): Promise<string> {
  const command = `"${process.execPath}" --import tsx src/bin/api.ts`;
  const terminal = spawn("script", ["--quiet", "--flush", "--return", "--command", command, "/dev/null"], {
    env: { PATH: process.env.PATH ?? "", PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  terminal.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = once(terminal, "exit");
  await until(() => output.includes("server.listening"), "the API to listen");
  const node = descendantsOf(terminal.pid as number).find((entry) => entry.command.includes("src/bin/api.ts"));
  process.kill(node?.pid as number, "SIGTERM");
  await exited;
  return stripVTControlCharacters(output).replaceAll("\r\n", "\n");
}

describe("logs on a terminal", () => {
  let database: { url: string; drop: () => Promise<void> };
  beforeAll(async () => {
    database = await createScratchDatabase("terminal_logs");
  });
  afterAll(() => database.drop());

  it("in development: one line per event, for a person to read", async () => {
    const output = await outputOnTerminal({ DATABASE_URL: database.url });
    expect(output).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} +INFO +shop-api +server\.listening +listening +host=127\.0\.0\.1 +port=\d+ /m,
    );
    expect(output).not.toContain('{"level"');
  });

  it("in production: JSON, as log collectors read it", async () => {
    const output = await outputOnTerminal({
      NODE_ENV: "production",
      DATABASE_URL: database.url,
      JWT_SECRET: TEST_JWT_SECRET,
      PAYMENT_GATEWAY_URL: "http://127.0.0.1:9",
    });
    const lines = output.trim().split("\n");
    expect(lines.map((line) => JSON.parse(line).event)).toContain("server.listening");
  });
});
