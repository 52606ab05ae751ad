import type { TablesOf } from "../db/typed-sql.js";
import type { LoginThrottleSchema, UserSchema } from "./user.entity.js";

/** Accounts' tables, as its typed SQL sees them. */
export type AuthTables = TablesOf<typeof UserSchema | typeof LoginThrottleSchema>;
