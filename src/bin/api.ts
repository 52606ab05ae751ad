/** The shop API deployable: `node dist/src/bin/api.js`. */
import { startApi } from "../api/start-api.js";
import { provideDatabaseServer } from "../db/database.js";
import { runProcess } from "./process-lifecycle.js";

await runProcess("shop-api", async (config, logger) => {
  const database = await provideDatabaseServer(config, logger);
  const api = await startApi(config, database.databaseUrl, logger);
  return {
    async stop() {
      await api.stop();
      await database.stop();
    },
  };
});
