/** The MockPaymentGateway deployable: `node dist/src/bin/payment-gateway.js`. */
import { startGateway } from "../payment-gateway/start-gateway.js";
import { runProcess, startOnDatabase } from "../process/lifecycle.js";

await runProcess(
  "payment-gateway",
  (config) => ({ PAYMENT_GATEWAY_PORT: config.paymentGatewayPort }),
  (config, logger) => startOnDatabase(config, logger, (databaseUrl) => startGateway(config, databaseUrl, logger)),
);
