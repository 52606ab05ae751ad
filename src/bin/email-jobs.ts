/**
 * Admin command for email jobs that used up their attempts:
 *   npm run email-jobs -- list            the failed jobs, with order id and last error
 *   npm run email-jobs -- retry ID [ID…]  retry them now, with a fresh set of attempts
 */

import { createLogger } from "../logging/logger.js";
import { listFailedEmailJobs, retryEmailJobs } from "../notifications/failed-email-jobs.js";
import { loadConfigOrExit } from "../process/lifecycle.js";
import { openShopDatabase } from "../shop-database/shop-database.js";

const [command, ...ids] = process.argv.slice(2);
const config = loadConfigOrExit("email-jobs");
if (config.databaseUrl === undefined) {
  process.stderr.write("email-jobs: set DATABASE_URL to the shop database\n");
  process.exit(2);
}
const orm = await openShopDatabase(config.databaseUrl, createLogger({ level: "warn", name: "email-jobs" }));
try {
  if (command === "list") {
    const failed = await listFailedEmailJobs(orm.em.fork());
    process.stdout.write(`${failed.length} failed email job(s)\n`);
    for (const job of failed) {
      process.stdout.write(
        `${job.jobId}\t${job.kind}\torder ${job.orderId}\t${job.attempts} attempts\t${job.lastError ?? ""}\n`,
      );
    }
  } else if (command === "retry" && ids.length > 0 && ids.every((id) => /^\d+$/.test(id))) {
    const retried = await retryEmailJobs(orm.em.fork(), ids);
    process.stdout.write(`retrying ${retried.length} job(s): ${retried.join(", ")}\n`);
  } else {
    process.stderr.write("usage: email-jobs list | email-jobs retry JOB_ID [JOB_ID...]\n");
    process.exitCode = 2;
  }
} finally {
  await orm.close(true);
}
