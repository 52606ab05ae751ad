import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { createdAt, updatedAt, uuidPrimaryKey } from "../db/common-properties.js";

export const ROLES = ["customer", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** A registered account. Emails are unique ignoring case, through `emailNormalized`. */
export const UserSchema = defineEntity({
  name: "User",
  tableName: "app_user",
  checks: [{ name: "app_user_role_check", expression: "role in ('customer', 'admin')" }],
  properties: {
    id: uuidPrimaryKey(),
    email: p.string().length(254),
    emailNormalized: p.string().length(254).unique(),
    displayName: p.string().length(100),
    passwordHash: p.string().length(255),
    role: p.string().length(16).$type<Role>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});

export class User extends UserSchema.class {}
UserSchema.setClass(User);
export type UserRecord = InferEntity<typeof UserSchema>;

/** Failed logins per email, shared by every API replica, for throttling. */
export const LoginThrottleSchema = defineEntity({
  name: "LoginThrottle",
  tableName: "login_throttle",
  properties: {
    emailNormalized: p.string().length(254).primary(),
    failures: p.integer(),
    lastFailureAt: p.datetime(),
    lockedUntil: p.datetime().nullable(),
  },
});

export class LoginThrottle extends LoginThrottleSchema.class {}
LoginThrottleSchema.setClass(LoginThrottle);
