/** The shop API deployable: `node dist/src/bin/api.js`. */
// First, so that pg is instrumented as it loads.
import "../telemetry/instrument-libraries.js";
import { startApi } from "../api/start-api.js";
import { runProcess, startOnDatabase, startWithTelemetry } from "../process/lifecycle.js";
import { metricsPortOf } from "../telemetry/telemetry.js";

await runProcess(
  "shop-api",
  (config) => ({ PORT: config.port, METRICS_PORT: metricsPortOf(config, "shop-api") }),
  (config, logger) =>
    startWithTelemetry(config, logger, "shop-api", (telemetry) =>
      startOnDatabase(config, logger, (databaseUrl) => startApi(config, databaseUrl, logger, telemetry)),
    ),
);
