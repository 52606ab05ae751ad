import { createContextKey } from "@connectrpc/connect";
import type { Role } from "./user.entity.js";

/** Who is calling, as established by the access token. */
export interface Caller {
  userId: string;
  role: Role;
}

/** Set by the authentication interceptor; undefined on public calls without a token. */
export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "authenticated caller" });
