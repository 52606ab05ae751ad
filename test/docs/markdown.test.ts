import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

const DOCUMENTS = [
  "README.md",
  "CONTRIBUTING.md",
  "client/README.md",
  ...readdirSync("docs")
    .filter((name) => name.endsWith(".md"))
    .map((name) => join("docs", name)),
];

/** The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replaceAll(" ", "-");
}

function anchorsIn(file: string): string[] {
  return [...readFileSync(file, "utf8").matchAll(/^#{1,6} (.+)$/gm)].map((match) => anchorOf(match[1] ?? ""));
}

/** Links to files of this repository: neither a URL nor an anchor of the same page. */
function relativeLinks(file: string): string[] {
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1] ?? "")
    .filter((target) => !/^[a-z]+:/.test(target) && !target.startsWith("#"));
}

describe("the documentation", () => {
  it("keeps the README short enough to read first: under 10 KB", () => {
    expect(statSync("README.md").size).toBeLessThanOrEqual(10 * 1024);
  });

  it.each(DOCUMENTS)("%s: every link to a file of the repository, and its heading, exists", (file) => {
    for (const link of relativeLinks(file)) {
      const [path = "", anchor] = link.split("#");
      const target = join(dirname(file), path);
      expect(existsSync(target), `${file} links to ${link}`).toBe(true);
      if (anchor !== undefined) expect(anchorsIn(target), `${file} links to ${link}`).toContain(anchor);
    }
  });
});
