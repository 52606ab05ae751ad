import { type DestinationStream, type Logger, pino } from "pino";
import type { LogLevel } from "../config/config.js";
import { scopeLogFields } from "../telemetry/call-scope.js";
import { prettyLines } from "./pretty-lines.js";

export type { Logger };

/**
 * Structured JSON logs on stdout; with `pretty`, the same lines written for a person at a
 * terminal. Every line written during a call or a job carries its scope: the correlation id,
 * and the trace and span when it is traced (see telemetry/call-scope.ts). Secrets are redacted
 * by key wherever they appear, as a second line of defence: code should never log them in the
 * first place.
 */
export function createLogger(options: {
  level: LogLevel;
  name: string;
  pretty?: boolean;
  /** Where lines go instead of stdout (tests read them back). */
  destination?: DestinationStream;
}): Logger {
  const stdout = options.pretty ? prettyLines(process.stdout) : process.stdout;
  return pino(
    {
      name: options.name,
      level: options.level,
      base: { service: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: scopeLogFields,
      formatters: { level: (label) => ({ level: label }), log: withOneLevel },
      redact: {
        paths: ["password", "*.password", "authorization", "*.authorization", "token", "*.token", "card", "*.card"],
        censor: "[redacted]",
      },
    },
    options.destination ?? stdout,
  );
}

/**
 * A line has one `level`, pino's. A field of that name in what is logged (another library's
 * level, passed through) would be a second `level` key in the JSON, which log collectors read
 * one way or the other; it is kept as `fieldLevel`.
 */
function withOneLevel(fields: Record<string, unknown>): Record<string, unknown> {
  if (!("level" in fields)) return fields;
  const { level, ...rest } = fields;
  return { ...rest, fieldLevel: level };
}
