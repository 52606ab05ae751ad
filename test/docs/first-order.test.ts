import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts } from "../support/network.js";
import { descendantsOf, isRunning } from "../support/process-tree.js";
import { type Deployable, spawnNpmScript } from "../support/spawn-deployable.js";
import { temporaryDirectory } from "../support/temp-dirs.js";
import { until } from "../support/until.js";

/*
 * The first order of the README, and its curl variant in docs/calling-it.md, run as a newcomer
 * runs them: `npm start` on embedded defaults, then the section's sh blocks, exactly as written,
 * in bash, with only the shop API's address changed to this test's port. The commands live in
 * the docs alone, so editing them there changes what this test runs.
 */

/** Where the documented commands call the shop API: `npm start`'s default. */
const DOCUMENTED_API = "127.0.0.1:50051";

/**
 * Runs a shell script as a reader's terminal would, except that it stops at the first command that fails.
 * Nothing on its stdin: bash reads its startup files when stdin is a socket, as Node's pipes are.
 */
async function bash(script: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn("bash", ["-euo", "pipefail", "-c", script], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [status] = await once(child, "close");
  return { status, stdout, stderr };
}

/**
 * The ```sh blocks of a section of a Markdown file, from its heading to the next heading: the
 * commands a reader copies, in the order they are read.
 */
function shellBlocks(file: string, heading: string): string[] {
  const text = readFileSync(file, "utf8");
  const start = text.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`${file} has no heading "${heading}"`);
  const next = text.slice(start + heading.length + 2).search(/^#{1,6} /m);
  const section = text.slice(start, next === -1 ? undefined : start + heading.length + 2 + next);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? "");
}

/** Every JSON object the commands printed, in order, whatever else they printed around them. */
function printedObjects(output: string): Record<string, unknown>[] {
  const objects: Record<string, unknown>[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let index = 0; index < output.length; index++) {
    const char = output[index];
    if (inString) {
      if (char === "\\") index++;
      else if (char === '"') inString = false;
    } else if (char === '"' && depth > 0) {
      inString = true;
    } else if (char === "{") {
      if (depth++ === 0) start = index;
    } else if (char === "}" && depth > 0 && --depth === 0) {
      objects.push(JSON.parse(output.slice(start, index + 1)));
    }
  }
  return objects;
}

interface PrintedOrder {
  id: string;
  state: string;
  number: string;
}

describe("your first order, as the docs show it, against npm start", () => {
  let npm: Deployable;
  let port: number;
  let banner = "";

  beforeAll(async () => {
    const [api, gateway, worker] = await freePorts(3);
    port = api as number;
    npm = spawnNpmScript("start", {
      DATA_DIR: temporaryDirectory("first-order"),
      PORT: String(api),
      PAYMENT_GATEWAY_PORT: String(gateway),
      WORKER_PORT: String(worker),
    });
    npm.child.stdout.on("data", (chunk: Buffer) => {
      banner += chunk.toString();
    });
    await npm.waitForLog((line) => line.event === "worker.started");
    await until(() => banner.includes("Stop with Ctrl-C."), "the banner");
  }, 120_000);

  afterAll(async () => {
    if (npm === undefined) return;
    // npm and its node stop on Ctrl-C, and node stops its PostgreSQL, which runs in a process
    // group of its own: whatever is still running after that is killed.
    const started = [npm.child.pid as number, ...descendantsOf(npm.child.pid as number).map((entry) => entry.pid)];
    process.kill(-(npm.child.pid as number), "SIGINT");
    await Promise.race([npm.exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
    for (const pid of started.filter(isRunning)) process.kill(pid, "SIGKILL");
  });

  it("the banner offers npx buf curl first, grpcurl after, and points at the README's first order", () => {
    expect(banner.indexOf("npx buf curl")).toBeGreaterThan(-1);
    expect(banner.indexOf("npx buf curl")).toBeLessThan(banner.indexOf("grpcurl"));
    expect(banner).toContain("README.md#your-first-order");
    expect(readFileSync("README.md", "utf8")).toMatch(/^## Your first order$/m);
  });

  it.each([
    ["README.md", "## Your first order"],
    ["docs/calling-it.md", "## Your first order with curl"],
  ])(
    "%s, %s, pasted into bash: the order is fulfilled, confirmed in the mailbox with its number, listed, then cancelled",
    async (file, heading) => {
      const blocks = shellBlocks(file, heading);
      expect(blocks.length).toBeGreaterThan(0);
      const commands = blocks.join("\n");
      expect(commands).toContain(DOCUMENTED_API);

      // As a reader pastes them into a shell in the repository, on this test's port only: never
      // on a developer's own npm start.
      const script = commands.replaceAll(DOCUMENTED_API, `127.0.0.1:${port}`);
      const called = [...script.matchAll(/(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)/g)].map((match) => match[1]);
      expect(new Set(called)).toEqual(new Set([String(port)]));
      const { status, stdout, stderr } = await bash(script);
      expect(status, `the commands of ${file} failed:\n${stderr}\n${stdout}`).toBe(0);

      const printed = printedObjects(stdout);
      const orders = printed.flatMap((object) => (object.order ? [object.order as PrintedOrder] : []));
      const lists = printed.flatMap((object) => (object.orders ? [object.orders as PrintedOrder[]] : []));
      const [got, cancelled] = [orders.at(0), orders.at(-1)];
      expect(got).toMatchObject({ state: "ORDER_STATE_FULFILLED", number: expect.stringMatching(/^\d+$/) });
      expect(lists.flat().map((order) => order.id)).toContain(got?.id);
      expect(cancelled).toMatchObject({ id: got?.id, state: "ORDER_STATE_CANCELLED" });

      const confirmation = new RegExp(`>[^<]*#${got?.number}\\b[^<]*confirmed[^<]*</a>`);
      await until(async () => {
        const mailbox = await fetch(`http://127.0.0.1:${port}/mailbox`);
        return confirmation.test(await mailbox.text());
      }, `the mailbox to list the confirmation of order #${got?.number}`);
    },
    60_000,
  );
});
