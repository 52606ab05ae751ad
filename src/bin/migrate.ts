/** Applies pending migrations and exits: `npm run migrate`, or a deployment's migration job. */

import { provideDatabaseServer } from "../db/database.js";
import { loadConfigOrExit, processLogger } from "../process/lifecycle.js";
import { openShopDatabase } from "../shop-database/shop-database.js";

const config = loadConfigOrExit("migrate");
const logger = processLogger("migrate", config);
const database = await provideDatabaseServer(config, logger);
try {
  const orm = await openShopDatabase(database.databaseUrl, logger);
  await orm.close(true);
  logger.info({ event: "db.up_to_date" }, "database schema is up to date");
} finally {
  await database.stop();
}
