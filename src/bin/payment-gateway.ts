/** The MockPaymentGateway deployable: `node dist/src/bin/payment-gateway.js`. */
import { provideDatabaseServer } from "../db/database.js";
import { startGateway } from "../payment-gateway/start-gateway.js";
import { runProcess } from "./process-lifecycle.js";

await runProcess("payment-gateway", async (config, logger) => {
  const database = await provideDatabaseServer(config, logger);
  const gateway = await startGateway(config, database.databaseUrl, logger);
  return {
    async stop() {
      await gateway.stop();
      await database.stop();
    },
  };
});
