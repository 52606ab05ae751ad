import { type Logger, pino } from "pino";
import type { LogLevel } from "../config/config.js";
import { prettyLines } from "./pretty-lines.js";

export type { Logger };

/**
 * Structured JSON logs on stdout; with `pretty`, the same lines written for a person at a
 * terminal. Secrets are redacted by key wherever they appear, as a second line of defence:
 * code should never log them in the first place.
 */
export function createLogger(options: { level: LogLevel; name: string; pretty?: boolean }): Logger {
  return pino(
    {
      name: options.name,
      level: options.level,
      base: { service: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ["password", "*.password", "authorization", "*.authorization", "token", "*.token", "card", "*.card"],
        censor: "[redacted]",
      },
    },
    options.pretty ? prettyLines(process.stdout) : process.stdout,
  );
}
