/** The email worker deployable: `node dist/src/bin/worker.js`. */
// First, so that pg is instrumented as it loads.
import "../telemetry/instrument-libraries.js";
import { runProcess, startOnDatabase, startWithTelemetry } from "../process/lifecycle.js";
import { metricsPortOf } from "../telemetry/telemetry.js";
import { startWorker } from "../worker/start-worker.js";

await runProcess(
  "email-worker",
  (config) => ({ WORKER_PORT: config.workerPort, METRICS_PORT: metricsPortOf(config, "email-worker") }),
  (config, logger) =>
    startWithTelemetry(config, logger, "email-worker", (telemetry) =>
      startOnDatabase(config, logger, (databaseUrl) => startWorker(config, databaseUrl, logger, {}, telemetry)),
    ),
);
