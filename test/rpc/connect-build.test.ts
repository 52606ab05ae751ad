import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

/** The JavaScript of an installed package's ES modules: what `import` loads, here. */
function esModuleFiles(packageName: string): string[] {
  const directory = join("node_modules", packageName);
  const manifest = JSON.parse(readFileSync(join(directory, "package.json"), "utf8"));
  const esm = join(directory, dirname(manifest.exports["."].import));
  return readdirSync(esm, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".js"))
    .map((file) => join(esm, file));
}

/** The packages installed rebuilt from vendor/. */
const REBUILT = ["@connectrpc/connect", "@connectrpc/connect-node"];

/** tslib's helpers for async generators and `for await`, as an ES2017 build emits them. */
const DOWN_LEVELLED = /__asyncGenerator|__asyncValues|__asyncDelegator/;

describe("connect, as installed", () => {
  // A down-levelled async generator makes a new generator closure per call, whose map pins the
  // call's state in the old generation, so a share of every call's garbage outlives the call
  // (vendor/README.md). An upgrade from the registry would bring that back. Only the ES
  // modules are rebuilt: the CommonJS build, which this ES module application never loads, is
  // the registry's.
  it.each(REBUILT)("%s runs its async generators natively", (name) => {
    const files = esModuleFiles(name);
    const native = files.filter((file) => readFileSync(file, "utf8").includes("async function*"));
    const downLevelled = files.filter((file) => DOWN_LEVELLED.test(readFileSync(file, "utf8")));
    expect(native.length).toBeGreaterThan(0);
    expect(downLevelled).toEqual([]);
  });

  // npm does not check a local tarball against the lockfile's integrity: this does, so that a
  // rebuilt tarball cannot land without its lockfile entry.
  it("is installed from the vendored tarballs the lockfile pins, byte for byte", () => {
    const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
    for (const name of REBUILT) {
      const entry = lock.packages[`node_modules/${name}`];
      expect(entry.resolved).toMatch(/^file:vendor\/.+-es2018\.tgz$/);
      const tarball = readFileSync(entry.resolved.slice("file:".length));
      expect(`sha512-${createHash("sha512").update(tarball).digest("base64")}`).toBe(entry.integrity);
    }
  });
});
