import type { Role } from "./user.entity.js";

/** Who is calling, as established by the access token. */
export interface Caller {
  userId: string;
  role: Role;
}
