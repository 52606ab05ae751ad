import { type Compilable, CompiledQuery, type InferResult, type Kysely } from "kysely";

const SLOT = Symbol("parameter slot");

/** Whatever runs compiled SQL: a Kysely instance, or a transaction of one. */
export type StatementRunner = Pick<Kysely<unknown>, "executeQuery">;

/** Stands in for a parameter while a statement is built once: which parameter goes here. */
interface Slot {
  readonly [SLOT]: string;
}

/**
 * A statement of the hot path, built and compiled by Kysely once, then run with new values:
 * building a large statement (an order's placement is a dozen parts) costs more CPU than
 * PostgreSQL spends running it prepared. `build` receives stand-ins for its parameters, typed
 * as the values they stand for; every value that varies must come from them, and anything
 * that shapes the SQL (a list of states, which filters apply) must not, since the SQL is
 * fixed at the first call. The stand-ins can be named, not enumerated: spell out an inserted
 * row column by column.
 */
export function boundStatement<P extends object, Q extends Compilable<unknown>>(
  build: (params: P) => Q,
): (db: StatementRunner, params: P) => Promise<InferResult<Q>> {
  let compiled: { sql: string; bind(params: P): unknown[] } | undefined;
  return async (db, params) => {
    compiled ??= compile(build);
    const result = await db.executeQuery(CompiledQuery.raw(compiled.sql, compiled.bind(params)));
    return result.rows as InferResult<Q>;
  };
}

function compile<P extends object>(build: (params: P) => Compilable<unknown>) {
  const slots = new Proxy({} as P, { get: (_, name) => ({ [SLOT]: String(name) }) satisfies Slot });
  const { sql, parameters } = build(slots).compile();
  /** Per parameter: the name of the one it stands for, or the constant the statement holds. */
  const sources = parameters.map((value): { param: string } | { constant: unknown } =>
    isSlot(value) ? { param: value[SLOT] } : { constant: value },
  );
  return {
    sql,
    bind: (params: P) =>
      sources.map((source) =>
        "param" in source ? (params as Record<string, unknown>)[source.param] : source.constant,
      ),
  };
}

function isSlot(value: unknown): value is Slot {
  return typeof value === "object" && value !== null && SLOT in value;
}
