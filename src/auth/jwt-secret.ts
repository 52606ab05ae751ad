import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/config.js";

/**
 * JWT_SECRET when set (always, in production). Otherwise a development secret generated once
 * and kept under DATA_DIR, so tokens survive restarts of `npm start`.
 */
export function resolveJwtSecret(config: Config): string {
  if (config.jwtSecret !== undefined) return config.jwtSecret;
  const file = join(config.dataDir, "jwt-secret");
  mkdirSync(config.dataDir, { recursive: true });
  // Written aside, then linked into place: of processes starting together, exactly one
  // secret wins, and nobody ever reads a half-written file.
  const draft = `${file}.${process.pid}.tmp`;
  writeFileSync(draft, randomBytes(48).toString("base64url"), { mode: 0o600 });
  try {
    linkSync(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    unlinkSync(draft);
  }
  return readFileSync(file, "utf8").trim();
}
