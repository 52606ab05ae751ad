/** The MockPaymentGateway deployable: `node dist/src/bin/payment-gateway.js`. */
import { startGateway } from "../payment-gateway/start-gateway.js";
import { runProcess } from "./process-lifecycle.js";

await runProcess("payment-gateway", (config, logger) => startGateway(config, logger));
