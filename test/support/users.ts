import { randomUUID } from "node:crypto";
import { createAccounts } from "../../src/auth/accounts.js";
import type { Role } from "../../src/auth/user.entity.js";
import type { ListeningApi } from "./rpc-server.js";

export interface TestUser {
  id: string;
  email: string;
  password: string;
  role: Role;
  /** Call options carrying this user's access token. */
  auth: { headers: { authorization: string } };
}

/** A new account with a unique email, signed in: tests never share users. */
export async function createUser(api: ListeningApi, role: Role = "customer"): Promise<TestUser> {
  const accounts = createAccounts({ em: api.orm.em, tokens: api.accessTokens });
  const email = `${role}-${randomUUID()}@example.com`;
  const password = `pw-${randomUUID()}`;
  const user =
    role === "admin"
      ? await accounts.ensureAdmin({ email, password })
      : await accounts.register({ email, password, displayName: `Test ${role}` });
  const { token } = api.accessTokens.issue({ userId: user.id, role });
  return { id: user.id, email, password, role, auth: { headers: { authorization: `Bearer ${token}` } } };
}
