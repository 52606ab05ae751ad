import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/health/v1/health_pb.js";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { startServerWith } from "../support/rpc-server.js";

/** A handler that stays in flight until the test lets it go. */
function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  let entered: () => void = () => {};
  const inFlight = new Promise<void>((resolve) => {
    entered = resolve;
  });
  return { open, opened, entered, inFlight };
}

describe("graceful shutdown", () => {
  it("lets an in-flight call finish, refuses new calls, and tells watchers NOT_SERVING", async () => {
    const slowCall = gate();
    const { server, baseUrl } = await startServerWith((router) =>
      router.service(InventoryService, {
        async getProduct(request) {
          slowCall.entered();
          await slowCall.opened;
          return { product: { id: request.id, name: "finished after stop began" } };
        },
      }),
    );
    const transport = createGrpcTransport({ baseUrl });
    const inventory = createClient(InventoryService, transport);
    const health = createClient(Health, transport);

    const watched: ServingStatus[] = [];
    const firstStatus = gate();
    const watching = (async () => {
      for await (const { status } of health.watch({})) {
        watched.push(status);
        firstStatus.entered();
      }
    })();
    const pending = inventory.getProduct({ id: "p-1" });
    await Promise.all([slowCall.inFlight, firstStatus.inFlight]);

    const stopped = server.stop();
    await expect(watching).resolves.toBeUndefined();
    expect(watched).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);

    const freshClient = createClient(Health, createGrpcTransport({ baseUrl }));
    const refused = await freshClient.check({}).then(
      () => undefined,
      (thrown: unknown) => ConnectError.from(thrown),
    );
    expect(refused?.code).toBe(Code.Unavailable);

    slowCall.open();
    await expect(pending).resolves.toMatchObject({ product: { id: "p-1", name: "finished after stop began" } });
    await expect(stopped).resolves.toBeUndefined();
  });

  it("cuts off calls still running when the grace period ends", async () => {
    const stuckCall = gate();
    const { server, baseUrl } = await startServerWith(
      (router) =>
        router.service(InventoryService, {
          async getProduct(_request, context) {
            stuckCall.entered();
            await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
            throw new ConnectError("aborted by shutdown", Code.Unavailable);
          },
        }),
      { shutdownGraceMs: 200 },
    );
    const inventory = createClient(InventoryService, createGrpcTransport({ baseUrl }));
    const pending = inventory.getProduct({ id: "p-2" }).catch((thrown: unknown) => ConnectError.from(thrown));
    await stuckCall.inFlight;

    await server.stop();
    const outcome = await pending;
    expect(outcome).toBeInstanceOf(ConnectError);
    expect((outcome as ConnectError).code).toBe(Code.Unavailable); // retryable, unlike CANCELLED
  });
});
