import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService } from "../../gen/shop/v1/auth_service_pb.js";

export interface BenchAccount {
  id: string;
  /** Call options carrying the account's access token. */
  auth: { headers: { authorization: string } };
  authorization: string;
}

/** Registers a customer through the API and logs in, as a shopper would. */
export async function signUpCustomer(baseUrl: string, name: string): Promise<BenchAccount> {
  const auth = createClient(AuthService, createGrpcTransport({ baseUrl }));
  const email = `${name}-${randomUUID()}@bench.example`;
  const password = `pw-${randomUUID()}`;
  await auth.register({ email, password, displayName: name });
  return logIn(baseUrl, email, password);
}

export async function logIn(baseUrl: string, email: string, password: string): Promise<BenchAccount> {
  const auth = createClient(AuthService, createGrpcTransport({ baseUrl }));
  const { accessToken } = await auth.login({ email, password });
  const authorization = `Bearer ${accessToken}`;
  const { user } = await auth.getCurrentUser({}, { headers: { authorization } });
  if (!user) throw new Error(`no user behind ${email}'s token`);
  return { id: user.id, auth: { headers: { authorization } }, authorization };
}
