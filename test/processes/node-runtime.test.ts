import { execFile, execFileSync } from "node:child_process";
import { accessSync, constants, readFileSync, realpathSync } from "node:fs";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const manifest = JSON.parse(readFileSync("package.json", "utf8"));
const NPM_CLI = realpathSync(execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim());

/** A Node on this machine's PATH older than package.json's engines allow, if there is one. */
function olderMachineNode(): string | undefined {
  const [major = 0, minor = 0] = /(\d+)\.(\d+)/.exec(manifest.engines.node)?.slice(1).map(Number) ?? [];
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir.endsWith(join("node_modules", ".bin"))) continue;
    const node = join(dir, "node");
    try {
      accessSync(node, constants.X_OK);
    } catch {
      continue;
    }
    const [has = 0, hasMinor = 0] = execFileSync(node, ["-p", "process.versions.node"], { encoding: "utf8" })
      .split(".")
      .map(Number);
    if (has < major || (has === major && hasMinor < minor)) return node;
  }
  return undefined;
}
const oldNode = olderMachineNode();

describe("the Node the project runs on", () => {
  it("is the Node npm ci installed from the npm registry, for every npm script", async () => {
    const platformPackage = Object.keys(manifest.optionalDependencies).find((name) =>
      name.endsWith(`${process.platform}-${process.arch}`),
    );
    const { stdout } = await run("npm", ["exec", "--call", "node -p process.versions.node"]);
    expect(stdout.trim()).toBe(manifest.optionalDependencies[platformPackage ?? ""]);
  });

  it.skipIf(oldNode === undefined)("is that Node even when npm itself runs on an older one", async () => {
    const { stdout } = await run(oldNode as string, [NPM_CLI, "exec", "--call", "node -p process.versions.node"]);
    expect(stdout.trim()).toMatch(/^24\./);
  });

  it.skipIf(oldNode === undefined)(
    "where none was installed, an older Node is refused in one line saying what to install",
    async () => {
      const refused = await run(oldNode as string, ["scripts/check-node.cjs"]).catch(
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
      expect(refused).toMatchObject({ code: 1, stdout: "" });
      expect(refused.stderr).toMatch(/^order-backend needs Node\.js 22\.18 or later; this is .*\n$/);
      expect(refused.stderr.trim().split("\n")).toHaveLength(1);
      expect(refused.stderr).toContain("Install Node.js 24 (https://nodejs.org/en/download, or `nvm install`");
    },
  );

  it("lets a recent enough Node through without a word", async () => {
    expect(await run(process.execPath, ["scripts/check-node.cjs"])).toEqual({ stdout: "", stderr: "" });
  });
});
