import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { AuthService, Role, type User, UserSchema } from "../../gen/shop/v1/auth_service_pb.js";
import type { Accounts } from "./accounts.js";
import { NotAuthenticated } from "./auth-errors.js";
import type { Access } from "./authentication.js";
import { type Caller, callerKey } from "./caller.js";
import type { UserRecord } from "./user.entity.js";

export const authAccess: [string, Access][] = [
  [`${AuthService.typeName}/Register`, "public"],
  [`${AuthService.typeName}/Login`, "public"],
  [`${AuthService.typeName}/GetCurrentUser`, "signed-in"],
];

export function registerAuthService(router: ConnectRouter, accounts: Accounts): void {
  router.service(AuthService, {
    async register(request) {
      const user = await accounts.register(request);
      return { user: toUserMessage(user) };
    },
    async login(request) {
      const session = await accounts.login(request);
      return {
        accessToken: session.token,
        tokenType: "Bearer",
        expireTime: timestampFromDate(session.expiresAt),
        user: toUserMessage(session.user),
      };
    },
    async getCurrentUser(_request, context) {
      return { user: toUserMessage(await accounts.currentUser(requireCaller(context))) };
    },
  });
}

/** The caller the authentication interceptor established; every non-public call has one. */
export function requireCaller(context: HandlerContext): Caller {
  const caller = context.values.get(callerKey);
  if (caller === undefined) throw new NotAuthenticated("TOKEN_MISSING");
  return caller;
}

function toUserMessage(user: UserRecord): User {
  return create(UserSchema, {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    role: user.role === "admin" ? Role.ADMIN : Role.CUSTOMER,
    createTime: timestampFromDate(user.createdAt),
  });
}
