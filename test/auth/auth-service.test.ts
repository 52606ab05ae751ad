import { randomUUID } from "node:crypto";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AuthService, Role } from "../../gen/shop/v1/auth_service_pb.js";
import { failureOf } from "../support/failures.js";
import { type ListeningApi, startApiServer, TEST_JWT_SECRET } from "../support/rpc-server.js";

describe("AuthService", () => {
  let api: ListeningApi;
  let auth: ReturnType<typeof createClient<typeof AuthService>>;
  beforeAll(async () => {
    api = await startApiServer();
    auth = createClient(AuthService, createGrpcTransport({ baseUrl: api.baseUrl }));
  });
  afterAll(() => api.stop());

  const uniqueEmail = () => `Shopper.${randomUUID()}@Example.com`;
  const reasonOf = (error: { findDetails: typeof import("@connectrpc/connect").ConnectError.prototype.findDetails }) =>
    error.findDetails(ErrorInfoSchema)[0]?.reason;

  describe("Register", () => {
    it("creates a customer, keeping the email as typed", async () => {
      const email = uniqueEmail();
      const { user } = await auth.register({ email, password: "correct horse battery", displayName: " Ada " });
      expect(user).toMatchObject({ email, displayName: "Ada", role: Role.CUSTOMER });
      expect(user?.id).toMatch(/^[0-9a-f-]{36}$/);
    });

    it("refuses an email already taken, whatever its letter case, with ALREADY_EXISTS", async () => {
      const email = uniqueEmail();
      await auth.register({ email, password: "correct horse battery", displayName: "Ada" });
      const error = await failureOf(
        auth.register({ email: email.toUpperCase(), password: "another password", displayName: "Eve" }),
      );
      expect(error.code).toBe(Code.AlreadyExists);
      expect(reasonOf(error)).toBe("EMAIL_TAKEN");
    });

    it("reports every invalid field at once as INVALID_ARGUMENT with BadRequest", async () => {
      const error = await failureOf(auth.register({ email: "not-an-email", password: "short", displayName: "   " }));
      expect(error.code).toBe(Code.InvalidArgument);
      const [badRequest] = error.findDetails(BadRequestSchema);
      expect(badRequest?.fieldViolations.map(({ field, reason }) => ({ field, reason }))).toEqual([
        { field: "email", reason: "INVALID_FORMAT" },
        { field: "display_name", reason: "REQUIRED" },
        { field: "password", reason: "TOO_SHORT" },
      ]);
      expect(badRequest?.fieldViolations[0]?.description).toContain("email address");
    });

    it("bounds every field's size", async () => {
      const error = await failureOf(
        auth.register({
          email: `${"a".repeat(250)}@example.com`,
          password: "p".repeat(129),
          displayName: "d".repeat(101),
        }),
      );
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.reason)).toEqual([
        "TOO_LONG",
        "TOO_LONG",
        "TOO_LONG",
      ]);
    });
  });

  describe("Login", () => {
    it("returns a signed access token for the account, and GetCurrentUser knows the caller", async () => {
      const email = uniqueEmail();
      const { user } = await auth.register({ email, password: "correct horse battery", displayName: "Ada" });
      const session = await auth.login({ email: email.toLowerCase(), password: "correct horse battery" });
      expect(session.tokenType).toBe("Bearer");
      const claims = jwt.verify(session.accessToken, TEST_JWT_SECRET, { algorithms: ["HS256"] }) as jwt.JwtPayload;
      expect(claims).toMatchObject({ sub: user?.id, role: "customer", iss: "order-backend", aud: "shop.v1" });
      expect(Number(session.expireTime?.seconds)).toBe(claims.exp);

      const me = await auth.getCurrentUser({}, { headers: { authorization: `Bearer ${session.accessToken}` } });
      expect(me.user).toMatchObject({ id: user?.id, email, role: Role.CUSTOMER });
    });

    it("gives a wrong email and a wrong password the same UNAUTHENTICATED answer", async () => {
      const email = uniqueEmail();
      await auth.register({ email, password: "correct horse battery", displayName: "Ada" });
      const wrongPassword = await failureOf(auth.login({ email, password: "wrong horse battery" }));
      const unknownEmail = await failureOf(auth.login({ email: uniqueEmail(), password: "correct horse battery" }));
      for (const error of [wrongPassword, unknownEmail]) {
        expect(error.code).toBe(Code.Unauthenticated);
        expect(error.rawMessage).toBe("email or password is incorrect");
        expect(reasonOf(error)).toBe("INVALID_CREDENTIALS");
      }
    });

    it("throttles repeated failures for one email with RESOURCE_EXHAUSTED and RetryInfo, even for the right password", async () => {
      const email = uniqueEmail();
      await auth.register({ email, password: "correct horse battery", displayName: "Ada" });
      for (let attempt = 1; attempt <= 5; attempt++) {
        expect((await failureOf(auth.login({ email, password: `guess ${attempt}` }))).code).toBe(Code.Unauthenticated);
      }
      const throttled = await failureOf(auth.login({ email, password: "correct horse battery" }));
      expect(throttled.code).toBe(Code.ResourceExhausted);
      expect(reasonOf(throttled)).toBe("TOO_MANY_ATTEMPTS");
      const [retry] = throttled.findDetails(RetryInfoSchema);
      expect(Number(retry?.retryDelay?.seconds)).toBeGreaterThan(0);
      expect(Number(retry?.retryDelay?.seconds)).toBeLessThanOrEqual(30);
    });

    it("throttles unknown emails the same way, so throttling reveals no accounts", async () => {
      const email = uniqueEmail();
      for (let attempt = 1; attempt <= 5; attempt++) await failureOf(auth.login({ email, password: "whatever it is" }));
      expect((await failureOf(auth.login({ email, password: "whatever it is" }))).code).toBe(Code.ResourceExhausted);
    });
  });
});

describe("AuthService with hostile input", () => {
  let api: ListeningApi;
  beforeAll(async () => {
    api = await startApiServer();
  });
  afterAll(() => api.stop());

  it("answers NUL characters in an email or name with INVALID_ARGUMENT, never INTERNAL", async () => {
    const auth = createClient(AuthService, createGrpcTransport({ baseUrl: api.baseUrl }));
    const calls = [
      auth.register({ email: "a\u0000b@example.com", password: "long enough pw", displayName: "Ada" }),
      auth.register({ email: `ok-${randomUUID()}@example.com`, password: "long enough pw", displayName: "A\u0000da" }),
      auth.login({ email: "a\u0000b@example.com", password: "long enough pw" }),
    ];
    for (const error of await Promise.all(calls.map(failureOf))) expect(error.code).toBe(Code.InvalidArgument);
  });
});

describe("login throttling under parallel guessing", () => {
  let api: ListeningApi;
  beforeAll(async () => {
    api = await startApiServer();
  });
  afterAll(() => api.stop());

  it("lets at most five of 30 parallel guesses for one email be checked", async () => {
    const auth = createClient(AuthService, createGrpcTransport({ baseUrl: api.baseUrl }));
    const email = `parallel-${randomUUID()}@example.com`;
    await auth.register({ email, password: "correct horse battery", displayName: "Ada" });
    const errors = await Promise.all(
      Array.from({ length: 30 }, (_, i) => failureOf(auth.login({ email, password: `guess number ${i}` }))),
    );
    expect(errors.filter((e) => e.code === Code.Unauthenticated).length).toBeLessThanOrEqual(5);
    expect(errors.filter((e) => e.code === Code.ResourceExhausted).length).toBeGreaterThanOrEqual(25);
  });
});

describe("emails that grow when lower-cased", () => {
  let api: ListeningApi;
  beforeAll(async () => {
    api = await startApiServer();
  });
  afterAll(() => api.stop());

  it("are refused as too long, not failed as INTERNAL", async () => {
    const auth = createClient(AuthService, createGrpcTransport({ baseUrl: api.baseUrl }));
    const email = `${"\u0130".repeat(200)}@example.com`;
    const errors = await Promise.all([
      failureOf(auth.register({ email, password: "long enough pw", displayName: "Ada" })),
      failureOf(auth.login({ email, password: "long enough pw" })),
    ]);
    for (const error of errors) expect(error.code).toBe(Code.InvalidArgument);
  });
});
