import { createSecretKey } from "node:crypto";
import jwt from "jsonwebtoken";
import { isUuid } from "../validation/request-validator.js";
import { NotAuthenticated } from "./auth-errors.js";
import type { Role } from "./user.entity.js";

const ALGORITHM = "HS256";
const ISSUER = "order-backend";
const AUDIENCE = "shop.v1";
export const ACCESS_TOKEN_TTL_SECONDS = 60 * 60;
/** Tokens verified lately, remembered so that a client's next calls skip the HMAC; bounded. */
const VERIFIED_TOKENS_KEPT = 10_000;

export interface AccessTokenClaims {
  userId: string;
  role: Role;
}

export interface AccessTokens {
  issue(claims: AccessTokenClaims): { token: string; expiresAt: Date };
  /** Throws NotAuthenticated saying why the token is refused. */
  verify(token: string): AccessTokenClaims;
}

/**
 * Signed JWTs (HS256). Verification pins the algorithm, so `alg: none` and tokens signed with
 * a public key as an HMAC secret are refused, and checks expiry, issuer and audience. The
 * subject must be a user id (a UUID): a token signed with our secret but naming anything
 * else is refused before it reaches a query.
 */
export function createAccessTokens(secret: string, ttlSeconds = ACCESS_TOKEN_TTL_SECONDS): AccessTokens {
  // Made once: given a string, jsonwebtoken would build a key from it on every call. A secret
  // KeyObject is also never mistaken for a public key, and HS256 stays pinned below.
  const key = createSecretKey(Buffer.from(secret, "utf8"));
  /** Token -> its claims and expiry: a signature checked once holds until the token expires. */
  const verified = new Map<string, { claims: AccessTokenClaims; expiresAtMs: number }>();

  function remember(token: string, claims: AccessTokenClaims, expiresAtSeconds: number | undefined) {
    if (verified.size >= VERIFIED_TOKENS_KEPT) verified.clear();
    verified.set(token, { claims, expiresAtMs: (expiresAtSeconds ?? 0) * 1000 });
  }

  return {
    issue({ userId, role }) {
      const token = jwt.sign({ role }, key, {
        algorithm: ALGORITHM,
        subject: userId,
        issuer: ISSUER,
        audience: AUDIENCE,
        expiresIn: ttlSeconds,
      });
      const { exp } = jwt.decode(token) as { exp: number };
      return { token, expiresAt: new Date(exp * 1000) };
    },

    verify(token) {
      const known = verified.get(token);
      if (known && Date.now() < known.expiresAtMs) return known.claims;
      let payload: jwt.JwtPayload;
      try {
        payload = jwt.verify(token, key, {
          algorithms: [ALGORITHM],
          issuer: ISSUER,
          audience: AUDIENCE,
          complete: false,
        }) as jwt.JwtPayload;
      } catch (error) {
        throw new NotAuthenticated(problemOf(error));
      }
      const { sub, role } = payload;
      if (!isUuid(sub) || (role !== "customer" && role !== "admin")) {
        throw new NotAuthenticated("TOKEN_INVALID");
      }
      // Ids are compared as PostgreSQL writes them: lower case.
      const claims = { userId: sub.toLowerCase(), role } as const;
      remember(token, claims, payload.exp);
      return claims;
    },
  };
}

function problemOf(error: unknown) {
  if (error instanceof jwt.TokenExpiredError) return "TOKEN_EXPIRED" as const;
  if (error instanceof jwt.JsonWebTokenError) {
    if (error.message === "invalid signature") return "TOKEN_INVALID_SIGNATURE" as const;
    if (error.message === "jwt malformed" || error.message.startsWith("invalid token"))
      return "TOKEN_MALFORMED" as const;
  }
  return "TOKEN_INVALID" as const;
}
