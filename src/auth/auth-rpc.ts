import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { AuthService, Role, type User, UserSchema } from "../../gen/shop/v1/auth_service_pb.js";
import type { Accounts } from "./accounts.js";
import { type Access, requireCaller } from "./authentication-rpc.js";
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

function toUserMessage(user: UserRecord): User {
  return create(UserSchema, {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    role: user.role === "admin" ? Role.ADMIN : Role.CUSTOMER,
    createTime: timestampFromDate(user.createdAt),
  });
}
