import { createLogger, type Logger } from "../../src/logging/logger.js";

export type LogLine = Record<string, unknown>;

/** A logger whose lines a test reads back, for behaviour that is a log line (the access log). */
export function captureLogs(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger({
    level: "debug",
    name: "test",
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  return { logger, lines };
}
