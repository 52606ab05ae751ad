import { AlreadyExists, RateLimited, Unauthenticated } from "../shared/domain-error.js";

export class EmailTaken extends AlreadyExists {
  readonly reason = "EMAIL_TAKEN";
  constructor() {
    super("an account with this email already exists");
  }
}

/** Wrong email or wrong password: deliberately the same answer for both. */
export class InvalidCredentials extends Unauthenticated {
  readonly reason = "INVALID_CREDENTIALS";
  constructor() {
    super("email or password is incorrect");
  }
}

export class TooManyLoginAttempts extends RateLimited {
  readonly reason = "TOO_MANY_ATTEMPTS";
  constructor(retryAfterMs: number) {
    super(`too many failed logins for this email; try again in ${Math.ceil(retryAfterMs / 1000)} s`, retryAfterMs);
  }
}

/** Why a call is not authenticated; each cause has its own ErrorInfo reason. */
export type TokenProblem =
  | "TOKEN_MISSING"
  | "TOKEN_MALFORMED"
  | "TOKEN_EXPIRED"
  | "TOKEN_INVALID_SIGNATURE"
  | "TOKEN_INVALID"
  | "USER_UNKNOWN";

const TOKEN_PROBLEM_MESSAGES: Record<TokenProblem, string> = {
  TOKEN_MISSING: "this call needs an access token: send `authorization: Bearer <token>` from Login",
  TOKEN_MALFORMED: "the authorization header is not `Bearer <token>` with a well-formed JWT",
  TOKEN_EXPIRED: "the access token has expired; log in again",
  TOKEN_INVALID_SIGNATURE: "the access token's signature is not ours",
  TOKEN_INVALID: "the access token is not valid for this service",
  USER_UNKNOWN: "the access token's user no longer exists",
};

export class NotAuthenticated extends Unauthenticated {
  readonly reason: TokenProblem;
  constructor(problem: TokenProblem) {
    super(TOKEN_PROBLEM_MESSAGES[problem]);
    this.reason = problem;
  }
}
