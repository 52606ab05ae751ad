import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { OutOfStock, PaymentDeclined } from "../../src/orders/order-errors.js";
import { LEVEL_BY_CODE } from "../../src/rpc/access-log.js";
import { captureLogs } from "../support/captured-logs.js";
import { type ListeningServer, startServerWith } from "../support/rpc-server.js";

/** What GetProduct throws, by the id it is asked for. */
const FAILURES: Record<string, () => unknown> = {
  "out-of-stock": () => new OutOfStock([{ productId: "p", requested: 2, available: 1 }]),
  declined: () => new PaymentDeclined("order-1", "insufficient_funds"),
  bug: () => new TypeError("cannot read properties of undefined"),
  "database-down": () => Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
};

describe("the access log", () => {
  const logs = captureLogs();
  let server: ListeningServer;
  beforeAll(async () => {
    server = await startServerWith(
      (router) =>
        router.service(InventoryService, {
          getProduct(request: { id: string }) {
            logs.logger.info({ event: "test.inside_the_call" }, "a use case's line");
            const failure = FAILURES[request.id];
            if (failure) throw failure();
            throw new ConnectError(`failing with ${request.id}`, Code[request.id as keyof typeof Code] as Code);
          },
        } as never),
      { logger: logs.logger },
    );
  });
  afterAll(() => server.stop());

  const client = () => createClient(InventoryService, createGrpcTransport({ baseUrl: server.baseUrl }));
  async function levelOfCall(id: string): Promise<{ level: unknown; code: unknown }> {
    const correlationId = `access-log-${id}`;
    await client()
      .getProduct({ id }, { headers: { "x-request-id": correlationId } })
      .catch(() => {});
    const line = logs.lines.find((entry) => entry.event === "rpc.completed" && entry.correlationId === correlationId);
    return { level: line?.level, code: line?.code };
  }

  it.each([
    ["out-of-stock", "FailedPrecondition", "info"],
    ["declined", "FailedPrecondition", "info"],
    ["bug", "Internal", "error"],
    ["database-down", "Unavailable", "warn"],
  ])("when a call fails with %s (%s), then its line is at %s", async (id, code, level) => {
    expect(await levelOfCall(id)).toEqual({ level, code });
  });

  it("logs business refusals at info, server faults at error, and what may pass at warn", async () => {
    const expected = {
      info: [
        "InvalidArgument",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "FailedPrecondition",
        "Unauthenticated",
      ],
      error: ["Internal", "Unknown", "DataLoss"],
      warn: ["Unavailable", "DeadlineExceeded", "ResourceExhausted"],
    };
    for (const [level, codes] of Object.entries(expected)) {
      for (const code of codes) {
        expect(LEVEL_BY_CODE[Code[code as keyof typeof Code]], code).toBe(level);
        expect(await levelOfCall(code), code).toEqual({ level, code });
      }
    }
  });

  it("puts the call's correlation id in every line written during the call", async () => {
    await levelOfCall("NotFound");
    const inside = logs.lines.filter((line) => line.event === "test.inside_the_call");
    expect(inside.at(-1)).toMatchObject({ correlationId: "access-log-NotFound" });
  });
});
