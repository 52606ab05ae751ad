import { randomUUID } from "node:crypto";
import jwt from "jsonwebtoken";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createAccessTokens } from "../../src/auth/access-tokens.js";

const SECRET = "a-secret-long-enough-for-hs256-signing-in-tests";

describe("access tokens", () => {
  afterEach(() => vi.useRealTimers());

  it("are refused once expired, however recently they were verified", () => {
    vi.useFakeTimers({ now: new Date("2026-11-29T12:00:00Z") });
    const tokens = createAccessTokens(SECRET, 60);
    const { token } = tokens.issue({ userId: randomUUID(), role: "customer" });
    expect(tokens.verify(token).role).toBe("customer");
    vi.setSystemTime(new Date("2026-11-29T12:01:01Z"));
    expect(() => tokens.verify(token)).toThrow(expect.objectContaining({ reason: "TOKEN_EXPIRED" }));
  });

  it("name their user as the database does, in lower case, whatever case the subject was signed in", () => {
    const userId = randomUUID();
    const token = jwt.sign({ role: "customer" }, SECRET, {
      algorithm: "HS256",
      subject: userId.toUpperCase(),
      issuer: "order-backend",
      audience: "shop.v1",
      expiresIn: 60,
    });
    expect(createAccessTokens(SECRET).verify(token).userId).toBe(userId);
  });

  it("are not taken from another secret's verifications", () => {
    const { token } = createAccessTokens(SECRET).issue({ userId: randomUUID(), role: "admin" });
    const other = createAccessTokens("another-secret-long-enough-for-hs256-signing");
    expect(() => other.verify(token)).toThrow(expect.objectContaining({ reason: "TOKEN_INVALID_SIGNATURE" }));
  });
});
