import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ListeningApi, startApiServer } from "../support/rpc-server.js";
import { temporaryDirectory } from "../support/temp-dirs.js";

const run = promisify(execFile);
const root = JSON.parse(readFileSync("package.json", "utf8"));
/** The connect the shop runs on: a rebuild of a registry release (vendor/README.md). */
const connect = JSON.parse(readFileSync("node_modules/@connectrpc/connect/package.json", "utf8"));
const client = JSON.parse(readFileSync("client/package.json", "utf8"));
const TSC = "node_modules/typescript/bin/tsc";

/** The ```ts blocks of a Markdown file: the code the docs show. */
function tsBlocks(file: string): string[] {
  return [...readFileSync(file, "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] ?? "");
}

describe("the client package, installed from its tarball into another project", () => {
  let project: string;
  let api: ListeningApi;
  beforeAll(async () => {
    project = temporaryDirectory("client-package");
    await run("npm", ["run", "--silent", "build:client"]);
    const { stdout } = await run("npm", ["pack", "--silent", "./client", "--pack-destination", project]);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "shop-frontend", private: true, type: "module" }),
    );
    // What a newcomer types: the package and a transport; npm adds the peer dependencies.
    await run(
      "npm",
      ["install", "--no-audit", "--no-fund", "--prefer-offline", `./${stdout.trim()}`, "@connectrpc/connect-node@2"],
      { cwd: project },
    );
    api = await startApiServer();
  }, 180_000);
  afterAll(async () => {
    await api?.stop();
  });

  it("declares as peers the runtime it was generated for, at that version or a later one of the same major", () => {
    const generatedWith = /protoc-gen-es v([\d.]+)/.exec(readFileSync("gen/shop/v1/order_service_pb.ts", "utf8"))?.[1];
    expect(client.peerDependencies).toEqual({
      "@bufbuild/protobuf": `^${generatedWith}`,
      "@connectrpc/connect": `^${connect.version}`,
    });
    expect(root.dependencies["@bufbuild/protobuf"]).toBe(generatedWith);
    expect(client.version).toBe(root.version);
  });

  it("holds JavaScript and type declarations, and nothing of the repository besides", async () => {
    const { stdout } = await run("tar", ["-tzf", join(project, `order-backend-client-${client.version}.tgz`)]);
    const files = stdout.trim().split("\n").sort();
    expect(files).toContain("package/dist/shop/v1/order_service_pb.js");
    expect(files).toContain("package/dist/shop/v1/order_service_pb.d.ts");
    expect(files.filter((file) => !/^package\/(dist\/.*\.(js|d\.ts)|package\.json|README\.md)$/.test(file))).toEqual(
      [],
    );
  });

  it.each([
    ["docs/calling-it.md", [/status: 1/, /^\[\]$|'[^']+: \d+ available'/m, /^NotFound NOT_FOUND [0-9a-f-]{36}$/m]],
    ["client/README.md", [/placeOrder.*getOrder.*listOrders.*cancelOrder/]],
  ])(
    "runs the TypeScript of %s, compiled there with tsc, on plain node against a real server",
    async (file, prints) => {
      const [snippet = ""] = tsBlocks(file);
      writeFileSync(join(project, "snippet.ts"), snippet.replace("http://127.0.0.1:50051", api.baseUrl));
      writeFileSync(
        join(project, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: { module: "nodenext", target: "es2022", strict: true, skipLibCheck: true, types: [] },
          files: ["snippet.ts"],
        }),
      );
      await run(process.execPath, [join(process.cwd(), TSC), "-p", project]);

      const { stdout } = await run(process.execPath, ["snippet.js"], { cwd: project });
      for (const printed of prints) expect(stdout).toMatch(printed);
    },
  );
});
