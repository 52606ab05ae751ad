import { ConnectError } from "@connectrpc/connect";

/** The error a call fails with; fails the test if the call succeeds. */
export async function failureOf(call: Promise<unknown>): Promise<ConnectError> {
  return call.then(
    () => {
      throw new Error("expected the call to fail, but it succeeded");
    },
    (thrown: unknown) => ConnectError.from(thrown),
  );
}
