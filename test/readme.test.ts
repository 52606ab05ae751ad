import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ListeningApi, startApiServer } from "./support/rpc-server.js";

const SNIPPET_FILE = new URL("./readme-client.generated.ts", import.meta.url);

/** The README's TypeScript client snippet: the first ```ts block. */
function readmeClientSnippet(): string {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const snippet = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  if (snippet === undefined) throw new Error("README.md has no ```ts snippet");
  return snippet;
}

describe("the README's generated-client snippet", () => {
  let api: ListeningApi;
  beforeAll(async () => {
    api = await startApiServer();
  });
  afterAll(async () => {
    rmSync(SNIPPET_FILE, { force: true });
    await api.stop();
  });

  it("runs as written against a real server", async () => {
    const snippet = readmeClientSnippet().replace("http://127.0.0.1:50051", api.baseUrl);
    writeFileSync(SNIPPET_FILE, snippet);
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", SNIPPET_FILE.pathname]);
    expect(stdout).toContain("status: 1");
    expect(stdout).toMatch(/^\[\]$|'[^']+: \d+ available'/m);
    expect(stdout).toMatch(/^NotFound NOT_FOUND [0-9a-f-]{36}$/m);
  });
});
