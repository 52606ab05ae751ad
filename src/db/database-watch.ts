import type { EntityManager } from "@mikro-orm/postgresql";
import { sql } from "kysely";
import type { Logger } from "../logging/logger.js";
import { startPeriodicTask } from "../shared/periodic-task.js";
import { typedSql } from "./typed-sql.js";

/** How often the database is asked whether it answers; an answer later than this is none. */
const PROBE_INTERVAL_MS = 2_000;

/**
 * Asks the database, through the ORM's pool, whether it answers, and says so when that
 * changes: a server reports NOT_SERVING while its database is unreachable (load balancers
 * send calls elsewhere) and SERVING again when it is back, without a restart.
 */
export function watchDatabase(
  em: EntityManager,
  onChange: (reachable: boolean) => void,
  logger: Logger,
  intervalMs = PROBE_INTERVAL_MS,
): { stop(): Promise<void> } {
  let reachable = true;
  const check = async () => {
    const now = await withDeadline(sql`select 1`.execute(typedSql(em)), intervalMs).then(
      () => true,
      (error: unknown) => {
        if (reachable) logger.warn({ event: "db.unreachable", err: error }, "the database does not answer");
        return false;
      },
    );
    if (now === reachable) return;
    reachable = now;
    if (now) logger.info({ event: "db.reachable" }, "the database answers again");
    onChange(now);
  };
  return startPeriodicTask(check, intervalMs);
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
