import type { EntityManager } from "@mikro-orm/postgresql";
import { typedSql } from "../db/typed-sql.js";
import type { AuthTables } from "./auth-tables.js";

export interface Contact {
  email: string;
  displayName: string;
}

/** Where and how to address a user: for the emails sent to them. */
export async function findContact(em: EntityManager, userId: string): Promise<Contact | undefined> {
  return typedSql<AuthTables>(em)
    .selectFrom("app_user")
    .select(["email", "display_name as displayName"])
    .where("id", "=", userId)
    .executeTakeFirst();
}
