import { execFile } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../src/db/embedded-postgres.js";

const run = promisify(execFile);
/** The machine's PostgreSQL (Debian's packages): a server of the tests' own, to restart at will. */
const BIN = "/usr/lib/postgresql/15/bin";

export interface RestartablePostgres {
  /** The `postgres` database; its port stays the same across restarts. */
  url: string;
  /** `pg_ctl restart -m fast`: every session is terminated (57P01), as an operator's restart does. */
  restart(): Promise<void>;
  /** Shuts the server down (fast), until `up()`: connections are refused meanwhile. */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A PostgreSQL server of a test's own in a temporary directory, for tests that restart the
 * database under load. Never the shared server: other suites run on it.
 */
export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const dir = mkdtempSync(join(tmpdir(), "restartable-pg-"));
  chmodSync(dir, 0o755);
  const pgdata = join(dir, "pgdata");
  const port = await freePort();
  // initdb refuses to run as root: as root, the server is the postgres user's.
  const asServer = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  if (asServer.length > 0) chownSync(dir, ...(await postgresIds()));
  const ctl = (...args: string[]) => {
    const [command = "", ...rest] = [...asServer, `${BIN}/pg_ctl`, ...args];
    return run(command, rest);
  };
  const [initdb = "", ...initArgs] = [...asServer, `${BIN}/initdb`, "-D", pgdata, "-U", "postgres", "-A", "trust"];
  await run(initdb, [...initArgs, "--no-sync"]);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c max_connections=60`;
  await ctl("start", "-D", pgdata, "-w", "-l", join(dir, "server.log"), "-o", options);
  // Should the test process end without stopping it, the server goes too (an immediate stop).
  const stopOnExit = () => {
    try {
      process.kill(Number(readFileSync(join(pgdata, "postmaster.pid"), "utf8").split("\n")[0]), "SIGQUIT");
    } catch {}
  };
  process.once("exit", stopOnExit);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async down() {
      await ctl("stop", "-D", pgdata, "-w", "-m", "fast");
    },
    async up() {
      await ctl("start", "-D", pgdata, "-w", "-l", join(dir, "server.log"), "-o", options);
    },
    async restart() {
      // The log file also keeps the server off our pipes, which would otherwise never close.
      await ctl("restart", "-D", pgdata, "-w", "-m", "fast", "-l", join(dir, "server.log"), "-o", options);
    },
    async stop() {
      process.off("exit", stopOnExit);
      await ctl("stop", "-D", pgdata, "-w", "-m", "immediate").catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresIds(): Promise<[number, number]> {
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
    run("id", ["-u", "postgres"]),
    run("id", ["-g", "postgres"]),
  ]);
  return [Number(uid), Number(gid)];
}
