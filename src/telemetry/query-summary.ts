/**
 * A table named after from, into, update (not `for update of`) or join, unless it is a
 * function (`from unnest(...)`, `from now()`).
 */
const TABLE = /\b(?:from|into|(?<!for\s+)update|join)\s+"?([a-z_]\w*)"?(?:\."?([a-z_]\w*)"?)?(?![\w(])/gi;
/** The names a statement gives its parts (`with "priced" as (...)`): not tables. */
const COMMON_TABLE = /"?([a-z_]\w*)"?\s+as\s+(?:not\s+)?(?:materialized\s+)?\(/gi;

/** Statements have fixed texts here (see db/pg-client.ts): a few hundred summaries cover them. */
const MAX_REMEMBERED = 500;
const remembered = new Map<string, string>();

/**
 * What a statement does, in a few words, for the name of its span: its operation and the
 * tables it names, such as `SELECT product` or `WITH customer_order, order_line, product`.
 * Statements have fixed texts here, so the names are few, and each is worked out once.
 */
export function summaryOf(text: string): string {
  const known = remembered.get(text);
  if (known !== undefined) return known;
  const summary = summarise(text);
  if (remembered.size < MAX_REMEMBERED) remembered.set(text, summary);
  return summary;
}

function summarise(text: string): string {
  const operation = /^\s*([a-z]+)/i.exec(text)?.[1]?.toUpperCase() ?? "QUERY";
  const commonTables = new Set([...text.matchAll(COMMON_TABLE)].map((match) => match[1]?.toLowerCase()));
  const tables = new Set<string>();
  for (const [, schemaOrTable = "", table] of text.matchAll(TABLE)) {
    const name = (table === undefined ? schemaOrTable : `${schemaOrTable}.${table}`).toLowerCase();
    if (!commonTables.has(name)) tables.add(name);
  }
  return `${operation} ${[...tables].sort().join(", ")}`.trim().slice(0, 120);
}
