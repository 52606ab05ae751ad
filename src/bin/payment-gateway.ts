/** The MockPaymentGateway deployable: `node dist/src/bin/payment-gateway.js`. */
import { startGateway } from "../payment-gateway/start-gateway.js";
import { runProcess, startOnDatabase } from "../process/lifecycle.js";

await runProcess("payment-gateway", (config, logger) =>
  startOnDatabase(config, logger, (databaseUrl) => startGateway(config, databaseUrl, logger)),
);
