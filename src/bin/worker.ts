/** The email worker deployable: `node dist/src/bin/worker.js`. */

import { runProcess, startOnDatabase } from "../process/lifecycle.js";
import { startWorker } from "../worker/start-worker.js";

await runProcess(
  "email-worker",
  (config) => ({ WORKER_PORT: config.workerPort }),
  (config, logger) => startOnDatabase(config, logger, (databaseUrl) => startWorker(config, databaseUrl, logger)),
);
