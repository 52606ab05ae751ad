import { inspect } from "node:util";

/** Fields every line shows in its own place, or that say nothing in a terminal. */
const PLACED = new Set(["level", "time", "service", "name", "component", "event", "msg", "err"]);
const LEVEL_COLOURS: Record<string, number> = { fatal: 31, error: 31, warn: 33, info: 32, debug: 90, trace: 90 };

/**
 * pino's JSON lines as a person reads them in a terminal: time, level, component, event and
 * message, then the other fields as key=value, and an error's stack below. For development on
 * a TTY only: anything that reads logs (a file, a collector) gets the JSON.
 */
export function prettyLines(out: { write(text: string): unknown }): { write(line: string): void } {
  return {
    write(line) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      const level = String(entry.level);
      const time = String(entry.time).slice(11, 23);
      const where = String(entry.component ?? entry.name ?? "");
      const fields = Object.entries(entry)
        .filter(([key]) => !PLACED.has(key))
        .map(([key, value]) => `${dim(`${key}=`)}${typeof value === "string" ? value : JSON.stringify(value)}`);
      const head = [
        dim(time),
        colour(LEVEL_COLOURS[level] ?? 0, level.toUpperCase().padEnd(5)),
        dim(where.padEnd(15)),
        entry.event === undefined ? "" : bold(String(entry.event)),
        String(entry.msg ?? ""),
        ...fields,
      ].filter((part) => part !== "");
      const error = entry.err as { stack?: string } | undefined;
      const stack = error === undefined ? "" : `\n${indent(error.stack ?? inspect(error))}`;
      out.write(`${head.join("  ")}${stack}\n`);
    },
  };
}

const colour = (code: number, text: string) => `\u001b[${code}m${text}\u001b[39m`;
const dim = (text: string) => `\u001b[2m${text}\u001b[22m`;
const bold = (text: string) => `\u001b[1m${text}\u001b[22m`;
const indent = (text: string) => text.replace(/^/gm, "    ");
