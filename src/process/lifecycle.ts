import { type Config, ConfigError, loadConfig, type ProcessName } from "../config/config.js";
import { provideDatabaseServer } from "../db/database.js";
import { isTransientDatabaseFailure } from "../db/transient-failures.js";
import { createLogger, type Logger } from "../logging/logger.js";
import { type Deployable, metricsPortOf, startTelemetry, type Telemetry } from "../telemetry/telemetry.js";
import { listenProblem, type Ports } from "./listen-problems.js";

/**
 * Ctrl-C under `npm start` arrives twice at once: the terminal signals the whole process group,
 * and npm forwards its own copy. A second signal this soon is that copy, not a second Ctrl-C.
 */
const SAME_SIGNAL_MS = 500;

export interface Running {
  stop(): Promise<void>;
}

/**
 * Runs one deployable: validates the configuration, checks that the ports it listens on are
 * free, starts it, and on SIGTERM or SIGINT stops it gracefully and exits 0. A second signal
 * (not the echo of the first) exits at once; a failed start exits 1.
 */
export async function runProcess(
  name: ProcessName,
  listensOn: (config: Config) => Ports,
  start: (config: Config, logger: Logger) => Promise<Running>,
): Promise<void> {
  const config = loadConfigOrExit(name);
  const portProblem = await listenProblem(listensOn(config), config.host);
  if (portProblem !== undefined) exitSaying(name, portProblem);
  const logger = processLogger(name, config);

  let running: Running | undefined;
  /** When the first SIGTERM or SIGINT came; unset while running. */
  let signalledAt: number | undefined;
  let stopping = false;
  const stopAndExit = async (code = 0) => {
    stopping = true;
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
    if (signalledAt !== undefined) {
      if (Date.now() - signalledAt < SAME_SIGNAL_MS) return;
      logger.warn({ event: "process.forced_exit", signal }, "second signal: exiting now");
      process.exit(130);
    }
    signalledAt = Date.now();
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
    if (!stopping) void stopAndExit(1);
  });

  try {
    running = await start(config, logger);
  } catch (error) {
    logger.fatal({ event: "process.start_failed", err: error }, "failed to start");
    process.exit(1);
  }
  if (signalledAt !== undefined) await stopAndExit();
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
    exitSaying(name, error.message);
  }
}

/** JSON lines, but for a person at a terminal in development: the same lines, made readable. */
export function processLogger(name: ProcessName, config: Config): Logger {
  return createLogger({
    level: config.logLevel,
    name,
    pretty: config.nodeEnv === "development" && process.stdout.isTTY === true,
  });
}

/** For what a person must fix before a start can work: said plainly, without a stack trace. */
function exitSaying(name: ProcessName, problem: string): never {
  process.stderr.write(`${name}: ${problem}\n`);
  process.exit(1);
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

/**
 * Starts a deployable with what it reports through (telemetry.ts), which stops after it: the
 * spans of the calls that the shutdown let finish are sent too.
 */
export async function startWithTelemetry(
  config: Config,
  logger: Logger,
  deployable: Deployable,
  start: (telemetry: Telemetry) => Promise<Running>,
): Promise<Running> {
  const telemetry = await startTelemetry({
    config,
    deployable,
    logger,
    metricsPort: metricsPortOf(config, deployable),
  });
  try {
    const running = await start(telemetry);
    return {
      async stop() {
        await running.stop();
        await telemetry.stop();
      },
    };
  } catch (error) {
    await telemetry.stop();
    throw error;
  }
}
