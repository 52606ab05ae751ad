import { UniqueConstraintViolationException } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import { type Kysely, sql } from "kysely";
import { createBatchedReads } from "../db/batched-reads.js";
import { boundStatement } from "../db/bound-statement.js";
import { statementBuilder, typedSql } from "../db/typed-sql.js";
import { RequestValidator } from "../validation/request-validator.js";
import type { AccessTokens } from "./access-tokens.js";
import { EmailTaken, InvalidCredentials, NotAuthenticated, TooManyLoginAttempts } from "./auth-errors.js";
import type { AuthTables } from "./auth-tables.js";
import type { Caller } from "./caller.js";
import {
  decoyPasswordHash,
  hashPassword,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  verifyPassword,
} from "./passwords.js";
import { type Role, User, type UserRecord } from "./user.entity.js";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const EMAIL_MAX_LENGTH = 254;

/** Failures within this window count towards a lockout; older ones are forgotten. */
const FAILURE_WINDOW_SECONDS = 15 * 60;
/** The fifth failure in a row locks the email for 30 s, then 60 s, 120 s, ... up to 15 min. */
const FAILURES_BEFORE_LOCKOUT = 5;
const FIRST_LOCKOUT_SECONDS = 30;
const MAX_LOCKOUT_SECONDS = 15 * 60;

export interface Session {
  token: string;
  expiresAt: Date;
  user: UserRecord;
}

export interface Accounts {
  register(input: { email: string; password: string; displayName: string }): Promise<UserRecord>;
  login(input: { email: string; password: string }): Promise<Session>;
  currentUser(caller: Caller): Promise<UserRecord>;
  /** The caller as it is now: the token's user must still exist; its role is read afresh. */
  authenticate(token: string): Promise<Caller>;
  /** Creates the admin, or resets its password and role. For start-up configuration. */
  ensureAdmin(input: { email: string; password: string; displayName?: string }): Promise<UserRecord>;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function createAccounts(deps: { em: EntityManager; tokens: AccessTokens }): Accounts {
  const { tokens } = deps;
  const em = () => deps.em.fork();
  const db = () => typedSql<AuthTables>(deps.em);
  const roleOf = createBatchedReads(async (userIds: string[]) => {
    const users = await rolesOf(db(), { userIds });
    return new Map(users.map((user) => [user.id, user]));
  });

  return {
    async register(input) {
      const check = new RequestValidator();
      const email = check.text("email", input.email, {
        min: 1,
        max: EMAIL_MAX_LENGTH,
        pattern: EMAIL,
        patternHint: "an email address like name@example.com",
      });
      // Lower-casing can lengthen some characters (İ becomes i̇): the stored form must fit too.
      if (email.length <= EMAIL_MAX_LENGTH && normalizeEmail(email).length > EMAIL_MAX_LENGTH) {
        check.violation("email", `must be at most ${EMAIL_MAX_LENGTH} characters long`, "TOO_LONG");
      }
      const displayName = check.text("display_name", input.displayName, { min: 1, max: 100 });
      checkPassword(check, input.password, email);
      check.throwIfInvalid();

      const conn = em();
      const user = conn.create(User, {
        email,
        emailNormalized: normalizeEmail(email),
        displayName,
        passwordHash: await hashPassword(input.password),
        role: "customer" satisfies Role,
      });
      try {
        await conn.persist(user).flush();
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) throw new EmailTaken();
        throw error;
      }
      return user;
    },

    async login(input) {
      const check = new RequestValidator();
      const email = check.text("email", input.email, { min: 1, max: EMAIL_MAX_LENGTH });
      if (email.length <= EMAIL_MAX_LENGTH && normalizeEmail(email).length > EMAIL_MAX_LENGTH) {
        check.violation("email", `must be at most ${EMAIL_MAX_LENGTH} characters long`, "TOO_LONG");
      }
      if (input.password === "") check.violation("password", "is required", "REQUIRED");
      else if (input.password.length > PASSWORD_MAX_LENGTH) {
        check.violation("password", `must be at most ${PASSWORD_MAX_LENGTH} characters long`, "TOO_LONG");
      }
      check.throwIfInvalid();

      const emailNormalized = normalizeEmail(input.email);
      const lock = await db()
        .selectFrom("login_throttle")
        .select(sql<number>`ceil(extract(epoch from (locked_until - now())) * 1000)::int8`.as("retryAfterMs"))
        .where("email_normalized", "=", emailNormalized)
        .where("locked_until", ">", sql<Date>`now()`)
        .executeTakeFirst();
      if (lock) throw new TooManyLoginAttempts(lock.retryAfterMs);
      // Counted before the (slow) password check, so parallel guesses cannot slip past the limit.
      const attempt = await countAttempt(db(), emailNormalized);
      if (attempt.failures > FAILURES_BEFORE_LOCKOUT) throw new TooManyLoginAttempts(attempt.retryAfterMs);

      const user = await em().findOne(User, { emailNormalized });
      // An unknown email costs a full password verification too: same answer, same time.
      const matches = await verifyPassword(input.password, user?.passwordHash ?? (await decoyPasswordHash()));
      if (!user || !matches) throw new InvalidCredentials();
      await db().deleteFrom("login_throttle").where("email_normalized", "=", emailNormalized).execute();
      const { token, expiresAt } = tokens.issue({ userId: user.id, role: user.role });
      return { token, expiresAt, user };
    },

    async currentUser(caller) {
      const user = await em().findOne(User, { id: caller.userId });
      if (!user) throw new NotAuthenticated("USER_UNKNOWN");
      return user;
    },

    async authenticate(token) {
      const claims = tokens.verify(token);
      const user = await roleOf(claims.userId);
      if (!user) throw new NotAuthenticated("USER_UNKNOWN");
      return { userId: claims.userId, role: user.role };
    },

    async ensureAdmin(input) {
      const conn = em();
      const emailNormalized = normalizeEmail(input.email);
      const passwordHash = await hashPassword(input.password);
      const existing = await conn.findOne(User, { emailNormalized });
      if (existing) {
        existing.passwordHash = passwordHash;
        existing.role = "admin";
        await conn.flush();
        return existing;
      }
      const admin = conn.create(User, {
        email: input.email.trim(),
        emailNormalized,
        displayName: input.displayName ?? "Administrator",
        passwordHash,
        role: "admin" satisfies Role,
      });
      await conn.persist(admin).flush();
      return admin;
    },
  };
}

/** Every authenticated call asks, so the calls of one tick share one statement. */
const rolesOf = boundStatement((p: { userIds: string[] }) =>
  statementBuilder<AuthTables>()
    .selectFrom("app_user")
    .select(["id", "role"])
    .where("id", "=", sql<string>`any(${p.userIds}::uuid[])`),
);

function checkPassword(check: RequestValidator, password: string, email: string): void {
  if (password.length < PASSWORD_MIN_LENGTH) {
    check.violation("password", `must be at least ${PASSWORD_MIN_LENGTH} characters long`, "TOO_SHORT");
  } else if (password.length > PASSWORD_MAX_LENGTH) {
    check.violation("password", `must be at most ${PASSWORD_MAX_LENGTH} characters long`, "TOO_LONG");
  } else if (password.trim() === "") {
    check.violation("password", "must not be only whitespace", "TOO_WEAK");
  } else if (normalizeEmail(password) === normalizeEmail(email)) {
    check.violation("password", "must not be the email address", "TOO_WEAK");
  }
}

/**
 * Counts a login attempt atomically as a failure until it succeeds (success deletes the
 * count), locking the email once too many fail in a row. The exponent is capped, so a
 * long-hammered email's lockout stays at the maximum instead of overflowing.
 */
async function countAttempt(db: Kysely<AuthTables>, emailNormalized: string) {
  const failures = sql<number>`case when login_throttle.last_failure_at < now() - make_interval(secs => ${FAILURE_WINDOW_SECONDS})
    then 1 else login_throttle.failures + 1 end`;
  const row = await db
    .insertInto("login_throttle")
    .values({ email_normalized: emailNormalized, failures: 1, last_failure_at: sql<Date>`now()`, locked_until: null })
    .onConflict((oc) =>
      oc.column("email_normalized").doUpdateSet({
        failures,
        last_failure_at: sql<Date>`now()`,
        locked_until: sql<Date | null>`case when ${failures} >= ${FAILURES_BEFORE_LOCKOUT}
          then now() + make_interval(secs => least(${MAX_LOCKOUT_SECONDS},
            ${FIRST_LOCKOUT_SECONDS} * power(2, least(${failures} - ${FAILURES_BEFORE_LOCKOUT}, 10))))
          else null end`,
      }),
    )
    .returning([
      "failures",
      sql<number | null>`ceil(extract(epoch from (locked_until - now())) * 1000)::int8`.as("retryAfterMs"),
    ])
    .executeTakeFirstOrThrow();
  return { failures: row.failures, retryAfterMs: row.retryAfterMs ?? FIRST_LOCKOUT_SECONDS * 1000 };
}
