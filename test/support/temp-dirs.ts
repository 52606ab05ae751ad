import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

const made: string[] = [];

// Registered when a test file first imports this module, that is at the file's top level: the
// directories made anywhere in the file are removed after its last test and its last hook.
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * A new empty directory under the system's temporary one, removed when the test file is done.
 * Others may read it: as root, an embedded PostgreSQL in it runs as the postgres user.
 */
export function temporaryDirectory(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  chmodSync(dir, 0o755);
  made.push(dir);
  return dir;
}
