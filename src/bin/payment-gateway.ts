/** The MockPaymentGateway deployable: `node dist/src/bin/payment-gateway.js`. */
// First, so that pg is instrumented as it loads.
import "../telemetry/instrument-libraries.js";
import { startGateway } from "../payment-gateway/start-gateway.js";
import { runProcess, startOnDatabase, startWithTelemetry } from "../process/lifecycle.js";
import { metricsPortOf } from "../telemetry/telemetry.js";

await runProcess(
  "payment-gateway",
  (config) => ({
    PAYMENT_GATEWAY_PORT: config.paymentGatewayPort,
    METRICS_PORT: metricsPortOf(config, "payment-gateway"),
  }),
  (config, logger) =>
    startWithTelemetry(config, logger, "payment-gateway", (telemetry) =>
      startOnDatabase(config, logger, (databaseUrl) => startGateway(config, databaseUrl, logger, telemetry)),
    ),
);
