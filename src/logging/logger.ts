import { type Logger, pino } from "pino";
import type { LogLevel } from "../config/config.js";

export type { Logger };

/**
 * Structured JSON logs on stdout. Secrets are redacted by key wherever they appear, as a
 * second line of defence: code should never log them in the first place.
 */
export function createLogger(options: { level: LogLevel; name: string }): Logger {
  return pino({
    name: options.name,
    level: options.level,
    base: { service: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ["password", "*.password", "authorization", "*.authorization", "token", "*.token", "card", "*.card"],
      censor: "[redacted]",
    },
  });
}
