import pg from "pg";

/**
 * How many distinct statements one process prepares. Our statements have fixed texts (lists
 * travel as arrays, never as a varying number of placeholders), so a few hundred cover them
 * all; past the cap a statement still runs, just unprepared.
 */
const MAX_PREPARED_STATEMENTS = 500;

/** Statement text -> its name, shared by every connection so a name always means one text. */
const statementNames = new Map<string, string>();

function nameOf(text: string): string | undefined {
  const known = statementNames.get(text);
  if (known !== undefined || statementNames.size >= MAX_PREPARED_STATEMENTS) return known;
  const name = `s${statementNames.size + 1}`;
  statementNames.set(text, name);
  return name;
}

const INT8 = 20;
const TIMESTAMPTZ = 1184;

/**
 * What the pool hands out: a pg client that prepares every statement with bound parameters
 * the first time a connection runs it and reuses it after (PostgreSQL then skips parsing
 * and, once it settles on a generic plan, planning), as postgres.js and Npgsql do.
 *
 * Statements with their values inlined (MikroORM's unit of work, `em.execute`) have no
 * parameters and run unprepared. Prepared statements list their columns: a `select *`
 * would fail once a migration adds a column while the statement is cached.
 *
 * It also reads int8 as a number (every int8 of ours is money or a count, far below 2^53)
 * and timestamptz as a Date, so rows match the types Kysely infers from the entities.
 */
export class PreparingClient extends pg.Client {
  constructor(config: pg.ClientConfig) {
    super({ ...config, types: readingNumbersAndDates(config.types) });
  }

  // biome-ignore lint/suspicious/noExplicitAny: pg's overloads cannot be re-declared one by one.
  override query(config: any, values?: any, callback?: any): any {
    if (typeof config === "string" && Array.isArray(values) && values.length > 0) {
      const name = nameOf(config);
      if (name !== undefined) return super.query({ name, text: config, values }, callback);
    }
    return super.query(config, values, callback);
  }
}

function readingNumbersAndDates(types: pg.CustomTypesConfig | undefined): pg.CustomTypesConfig {
  const fallback = types ?? pg.types;
  return {
    getTypeParser(oid: number, format?: "text" | "binary") {
      if (format !== "binary" && oid === INT8) return (value: string) => Number(value);
      if (format !== "binary" && oid === TIMESTAMPTZ) return (value: string) => new Date(value);
      // biome-ignore lint/suspicious/noExplicitAny: pg types its parser lookup per format.
      return (fallback.getTypeParser as any)(oid, format);
    },
  } as pg.CustomTypesConfig;
}
