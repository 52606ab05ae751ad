/**
 * How this codebase talks to PostgreSQL. Two styles, each where it serves:
 *
 * - Typed SQL (Kysely, through MikroORM's `em.getKysely()`) for everything that is hot or
 *   set-based: conditional updates, keyset pages, the order path. Table types are inferred
 *   from each feature's entities, so a misspelt column is a compile error; values are bound
 *   parameters, so PostgreSQL prepares each statement once per connection (pg-client.ts).
 *   A feature's queries see only its own tables' types: naming another feature's table does
 *   not compile.
 * - MikroORM's unit of work (`em.create`, `persist`, `flush`) for rare writes of one whole
 *   entity where change tracking and lifecycle hooks pay for themselves: registering an
 *   account, ensuring the admin.
 *
 * Raw SQL strings are for migrations (and creating the schema they run in) and tests only.
 */
import type { EntityManager } from "@mikro-orm/postgresql";
import type { InferKyselyDB } from "@mikro-orm/sql";
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type Transaction,
} from "kysely";

export type { InferKyselyDB as TablesOf };

/** Runs typed SQL on `em`'s connection: inside its transaction when it has one, else on the pool. */
export function typedSql<DB>(em: EntityManager): Kysely<DB> {
  // Without options it is MikroORM's own Kysely, no plugin: the table types are ours to give.
  return em.getKysely() as unknown as Kysely<DB>;
}

/** Runs `work` in one transaction of typed SQL, committed when it resolves. */
export function inTransaction<DB, T>(em: EntityManager, work: (tx: Transaction<DB>) => Promise<T>): Promise<T> {
  return typedSql<DB>(em).transaction().execute(work);
}

/**
 * Builds statements without running them: for parts that a module owning some tables hands
 * to a statement another module runs (stock changes inside an order's statement), and for
 * compiling statements to show them (the benchmark's pgbench script).
 */
export function statementBuilder<DB>(): Kysely<DB> {
  return new Kysely<DB>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
}

/** PostgreSQL's SQLSTATE of a failed statement, if it is one. */
export function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

const UNIQUE_VIOLATION = "23505";

/** Whether `error` is a unique violation, of the named constraint when one is given. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (sqlStateOf(error) !== UNIQUE_VIOLATION) return false;
  return constraint === undefined || (error as { constraint?: string }).constraint === constraint;
}
