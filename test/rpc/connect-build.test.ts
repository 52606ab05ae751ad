import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

/** A module of an installed package, from the directory its `import` entry point is in. */
function esModuleSource(packageName: string, file: string): string {
  const directory = join("node_modules", packageName);
  const manifest = JSON.parse(readFileSync(join(directory, "package.json"), "utf8"));
  const entryPoint: string = manifest.exports["."].import;
  return readFileSync(join(directory, dirname(entryPoint), file), "utf8");
}

describe("connect, as installed", () => {
  // A down-levelled async generator makes a new generator closure per call, whose map pins the
  // call's state in the old generation: every call's garbage then outlives its call
  // (vendor/README.md). An upgrade from the registry would bring that back.
  it.each([
    ["@connectrpc/connect", "protocol/async-iterable.js"],
    ["@connectrpc/connect-node", "node-universal-handler.js"],
  ])("%s runs its async generators natively (%s)", (packageName, file) => {
    const source = esModuleSource(packageName, file);
    expect(source).toContain("async function*");
    expect(source).not.toContain("__asyncGenerator");
  });
});
