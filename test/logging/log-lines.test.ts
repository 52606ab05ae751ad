import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/logging/logger.js";
import { inCorrelationScope } from "../../src/telemetry/call-scope.js";

function rawLines() {
  const lines: string[] = [];
  const logger = createLogger({ level: "info", name: "test", destination: { write: (line) => void lines.push(line) } });
  return { logger, lines };
}

describe("log lines", () => {
  it("when a logged object has a field named level, then the line still has one level, pino's", () => {
    const { logger, lines } = rawLines();
    logger.warn({ event: "jobs.log", level: "warning" }, "a library's complaint");
    expect(lines[0]?.match(/"level":/g)).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ level: "warn", fieldLevel: "warning" });
  });

  it("when written in a scope, then a line carries its correlation id; outside, none", async () => {
    const { logger, lines } = rawLines();
    await inCorrelationScope("job-42", async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      logger.info({ event: "email.sent" }, "after an await");
    });
    logger.info({ event: "worker.started" }, "outside any scope");
    expect(lines.map((line) => JSON.parse(line).correlationId)).toEqual(["job-42", undefined]);
  });
});
