/** The email worker deployable: `node dist/src/bin/worker.js`. */
import { provideDatabaseServer } from "../db/database.js";
import { startWorker } from "../worker/start-worker.js";
import { runProcess } from "./process-lifecycle.js";

await runProcess("email-worker", async (config, logger) => {
  const database = await provideDatabaseServer(config, logger);
  const worker = await startWorker(database.databaseUrl, logger);
  return {
    async stop() {
      await worker.stop();
      await database.stop();
    },
  };
});
