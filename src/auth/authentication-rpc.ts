import { createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { PermissionDenied } from "../shared/domain-error.js";
import type { Accounts } from "./accounts.js";
import { NotAuthenticated } from "./auth-errors.js";
import type { Caller } from "./caller.js";

/** Who may call a procedure: anyone, any signed-in user, or admins only. */
export type Access = "public" | "signed-in" | "admin";

/** Access per procedure ("package.Service/Method"); unlisted procedures need a signed-in user. */
export type AccessPolicy = ReadonlyMap<string, Access>;

const BEARER = /^Bearer ([A-Za-z0-9_\-.=]+)$/;

/** Set by the authentication interceptor; undefined on public calls without a token. */
const callerKey = createContextKey<Caller | undefined>(undefined, { description: "authenticated caller" });

/** The caller the authentication interceptor established; every non-public call has one. */
export function requireCaller(context: HandlerContext): Caller {
  const caller = context.values.get(callerKey);
  if (caller === undefined) throw new NotAuthenticated("TOKEN_MISSING");
  return caller;
}

/**
 * Reads `authorization: Bearer <token>`, establishes the caller for the handlers, and
 * enforces each procedure's access. A token on a public call is still checked when present,
 * so a client learns early that its token went stale.
 */
export function createAuthenticationInterceptor(accounts: Accounts, policy: AccessPolicy): Interceptor {
  return (next) => async (req) => {
    const access = policy.get(`${req.service.typeName}/${req.method.name}`) ?? "signed-in";
    const header = req.header.get("authorization");
    if (header === null) {
      if (access !== "public") throw new NotAuthenticated("TOKEN_MISSING");
      return next(req);
    }
    const token = BEARER.exec(header.trim())?.[1];
    if (token === undefined) throw new NotAuthenticated("TOKEN_MALFORMED");
    const caller = await accounts.authenticate(token);
    if (access === "admin" && caller.role !== "admin") {
      throw new PermissionDenied(`${req.method.name} is for admins only`);
    }
    req.contextValues.set(callerKey, caller);
    return next(req);
  };
}
