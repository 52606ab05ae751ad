import { createHmac } from "node:crypto";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { Health } from "../../gen/health/v1/health_pb.js";
import { AuthService } from "../../gen/shop/v1/auth_service_pb.js";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { failureOf } from "../support/failures.js";
import { type ListeningApi, startApiServer, TEST_JWT_SECRET } from "../support/rpc-server.js";
import { createUser } from "../support/users.js";

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("authentication and authorization", () => {
  let api: ListeningApi;
  beforeAll(async () => {
    api = await startApiServer();
  });
  afterAll(() => api.stop());

  const authClient = () => createClient(AuthService, createGrpcTransport({ baseUrl: api.baseUrl }));
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  const claimsFor = (userId: string) => ({ sub: userId, role: "customer", iss: "order-backend", aud: "shop.v1" });

  async function refusal(options: { headers?: Record<string, string> }) {
    const error = await failureOf(authClient().getCurrentUser({}, options));
    return { code: error.code, reason: error.findDetails(ErrorInfoSchema)[0]?.reason };
  }

  it("lets anyone call public methods, health and reflection without a token", async () => {
    const inventory = createClient(InventoryService, createGrpcTransport({ baseUrl: api.baseUrl }));
    await expect(inventory.listProducts({ pageSize: 1 })).resolves.toBeDefined();
    await expect(createClient(Health, createGrpcTransport({ baseUrl: api.baseUrl })).check({})).resolves.toBeDefined();
  });

  it("refuses a call without a token: UNAUTHENTICATED, TOKEN_MISSING", async () => {
    expect(await refusal({})).toEqual({ code: Code.Unauthenticated, reason: "TOKEN_MISSING" });
  });

  it("refuses a header that is not a bearer token, and a token that is not a JWT: TOKEN_MALFORMED", async () => {
    expect(await refusal({ headers: { authorization: "Basic dXNlcjpwYXNz" } })).toEqual({
      code: Code.Unauthenticated,
      reason: "TOKEN_MALFORMED",
    });
    expect(await refusal(bearer("not.a.jwt"))).toEqual({ code: Code.Unauthenticated, reason: "TOKEN_MALFORMED" });
  });

  it("refuses a token signed with another key: TOKEN_INVALID_SIGNATURE", async () => {
    const customer = await createUser(api);
    const forged = jwt.sign(claimsFor(customer.id), "some-other-secret-of-sufficient-length!!", { algorithm: "HS256" });
    expect(await refusal(bearer(forged))).toEqual({ code: Code.Unauthenticated, reason: "TOKEN_INVALID_SIGNATURE" });
  });

  it("refuses an unsigned token (alg: none)", async () => {
    const customer = await createUser(api);
    const unsigned = `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claimsFor(customer.id))}.`;
    expect((await refusal(bearer(unsigned))).code).toBe(Code.Unauthenticated);
  });

  it("refuses a token using another algorithm with our secret (HS512 instead of the pinned HS256)", async () => {
    const customer = await createUser(api);
    const header = base64url({ alg: "HS512", typ: "JWT" });
    const payload = base64url({ ...claimsFor(customer.id), exp: Math.floor(Date.now() / 1000) + 600 });
    const signature = createHmac("sha512", TEST_JWT_SECRET).update(`${header}.${payload}`).digest("base64url");
    expect((await refusal(bearer(`${header}.${payload}.${signature}`))).code).toBe(Code.Unauthenticated);
  });

  it("refuses an expired token: TOKEN_EXPIRED", async () => {
    const customer = await createUser(api);
    const expired = jwt.sign({ ...claimsFor(customer.id), exp: Math.floor(Date.now() / 1000) - 60 }, TEST_JWT_SECRET, {
      algorithm: "HS256",
    });
    expect(await refusal(bearer(expired))).toEqual({ code: Code.Unauthenticated, reason: "TOKEN_EXPIRED" });
  });

  it("refuses a token for another audience: TOKEN_INVALID", async () => {
    const customer = await createUser(api);
    const foreign = jwt.sign({ ...claimsFor(customer.id), aud: "billing.v1" }, TEST_JWT_SECRET, {
      algorithm: "HS256",
      expiresIn: 600,
    });
    expect(await refusal(bearer(foreign))).toEqual({ code: Code.Unauthenticated, reason: "TOKEN_INVALID" });
  });

  it.each(["not-a-uuid", "1 or 1=1"])(
    "refuses a token signed with our secret whose subject %j is not a user id: TOKEN_INVALID, never INTERNAL",
    async (sub) => {
      const forged = jwt.sign(claimsFor(sub), TEST_JWT_SECRET, { algorithm: "HS256", expiresIn: 600 });
      expect(await refusal(bearer(forged))).toEqual({ code: Code.Unauthenticated, reason: "TOKEN_INVALID" });
    },
  );

  it("refuses the token of a deleted user: USER_UNKNOWN", async () => {
    const customer = await createUser(api);
    await api.orm.em.fork().execute("delete from app_user where id = ?", [customer.id]);
    expect(await refusal(customer.auth)).toEqual({ code: Code.Unauthenticated, reason: "USER_UNKNOWN" });
  });

  it("answers a customer calling an admin-only method with PERMISSION_DENIED", async () => {
    const customer = await createUser(api);
    const inventory = createClient(
      InventoryService,
      createConnectTransport({ baseUrl: api.baseUrl, httpVersion: "1.1" }),
    );
    const error = await failureOf(
      inventory.createProduct(
        { sku: "NOPE-1", name: "Nope", unitPrice: { currencyCode: "EUR", amountMinor: 100n } },
        customer.auth,
      ),
    );
    expect(error.code).toBe(Code.PermissionDenied);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("PERMISSION_DENIED");
  });

  it("reads the role afresh: a customer promoted to admin gets admin rights with the same token", async () => {
    const customer = await createUser(api);
    await api.orm.em.fork().execute("update app_user set role = 'admin' where id = ?", [customer.id]);
    const inventory = createClient(InventoryService, createGrpcTransport({ baseUrl: api.baseUrl }));
    const created = await inventory.createProduct(
      { sku: `PROMO-${Date.now()}`, name: "Promoted", unitPrice: { currencyCode: "EUR", amountMinor: 100n } },
      customer.auth,
    );
    expect(created.product?.name).toBe("Promoted");
  });
});
