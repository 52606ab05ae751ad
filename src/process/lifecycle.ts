import { type Config, ConfigError, loadConfig, type ProcessName } from "../config/config.js";
import { provideDatabaseServer } from "../db/database.js";
import { isTransientDatabaseFailure } from "../db/transient-failures.js";
import { createLogger, type Logger } from "../logging/logger.js";

export interface Running {
  stop(): Promise<void>;
}

/**
 * Runs one deployable: validates the configuration, starts it, and on SIGTERM or SIGINT stops
 * it gracefully and exits 0. A second signal exits at once; a failed start exits 1.
 */
export async function runProcess(
  name: ProcessName,
  start: (config: Config, logger: Logger) => Promise<Running>,
): Promise<void> {
  const config = loadConfigOrExit(name);
  const logger = createLogger({ level: config.logLevel, name });

  let running: Running | undefined;
  let stopping = false;
  const stopAndExit = async (code = 0) => {
    try {
      await running?.stop();
      logger.info({ event: "process.stopped" }, "stopped");
      process.exit(code);
    } catch (error) {
      logger.fatal({ event: "process.stop_failed", err: error }, "failed to stop cleanly");
      process.exit(1);
    }
  };
  // Listening before start() returns: an orchestrator may stop us while we are starting.
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ event: "process.forced_exit", signal }, "second signal: exiting now");
      process.exit(130);
    }
    stopping = true;
    logger.info({ event: "process.stopping", signal }, "stopping");
    if (running) void stopAndExit();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // A promise nobody awaited failed. During a database blip that is a library's bookkeeping
  // (graphile-worker's): what it left undone is taken over (the worker restarts its runner).
  // Anything else may have left this process half-working: better stopped and replaced.
  process.on("unhandledRejection", (reason) => {
    if (isTransientDatabaseFailure(reason)) {
      logger.warn({ event: "process.unhandled_rejection", err: reason }, "unawaited work failed on a database blip");
      return;
    }
    logger.fatal({ event: "process.unhandled_rejection", err: reason }, "unawaited work failed; stopping");
    if (!stopping) {
      stopping = true;
      void stopAndExit(1);
    }
  });

  try {
    running = await start(config, logger);
  } catch (error) {
    logger.fatal({ event: "process.start_failed", err: error }, "failed to start");
    process.exit(1);
  }
  if (stopping) await stopAndExit();
}

/**
 * Stops what was started, in reverse order of start, each once; one failing to stop does not
 * keep the others running. Rejects with every failure together.
 */
export async function stopInReverse(started: Running[]): Promise<void> {
  const failures: unknown[] = [];
  for (const component of started.splice(0).reverse()) {
    await component.stop().catch((error: unknown) => failures.push(error));
  }
  if (failures.length > 0) throw new AggregateError(failures, "some components failed to stop");
}

/** The process's configuration, or exit 1 naming every offending variable, without a stack trace. */
export function loadConfigOrExit(name: ProcessName): Config {
  try {
    return loadConfig(process.env, process.cwd(), name);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n`);
    process.exit(1);
  }
}

/**
 * Starts a deployable on its database: DATABASE_URL's, or an embedded one kept under
 * DATA_DIR that stops after the deployable has.
 */
export async function startOnDatabase(
  config: Config,
  logger: Logger,
  start: (databaseUrl: string) => Promise<Running>,
): Promise<Running> {
  const database = await provideDatabaseServer(config, logger);
  try {
    const running = await start(database.databaseUrl);
    return {
      async stop() {
        await running.stop();
        await database.stop();
      },
    };
  } catch (error) {
    await database.stop();
    throw error;
  }
}
