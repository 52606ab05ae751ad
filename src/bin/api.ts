/** The shop API deployable: `node dist/src/bin/api.js`. */
import { startApi } from "../api/start-api.js";
import { runProcess, startOnDatabase } from "../process/lifecycle.js";

await runProcess(
  "shop-api",
  (config) => ({ PORT: config.port }),
  (config, logger) => startOnDatabase(config, logger, (databaseUrl) => startApi(config, databaseUrl, logger)),
);
