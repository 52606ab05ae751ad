import { createLogger } from "../../src/logging/logger.js";

/** Tests assert on behaviour, not on log lines; set LOG_LEVEL to see them. */
export const testLogger = createLogger({ level: (process.env.LOG_LEVEL as "info") ?? "silent", name: "test" });
