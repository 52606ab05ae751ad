import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const DEV_ADMIN_EMAIL = "admin@shop.localhost";

/**
 * On embedded defaults, a development admin so the catalogue can be managed at once. Its
 * password is generated on first start, kept under DATA_DIR, and shown in the banner.
 */
export function devAdminCredentials(dataDir: string): { email: string; password: string } {
  const file = join(dataDir, "dev-admin-password");
  if (!existsSync(file)) writeFileSync(file, randomBytes(12).toString("base64url"), { mode: 0o600 });
  return { email: DEV_ADMIN_EMAIL, password: readFileSync(file, "utf8").trim() };
}
