import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { type ListeningApi, startApiServer } from "../support/rpc-server.js";

type Request = v1.ServerReflectionRequest["messageRequest"];

describe.each([
  ["grpc.reflection.v1", v1.ServerReflection, v1.ServerReflectionRequestSchema],
  ["grpc.reflection.v1alpha", v1alpha.ServerReflection, v1alpha.ServerReflectionRequestSchema],
] as const)("server reflection (%s)", (_version, service, requestSchema) => {
  let api: ListeningApi;
  beforeAll(async () => {
    api = await startApiServer();
  });
  afterAll(() => api.stop());

  /** Sends the requests on one stream, as grpcurl does, and collects the answers. */
  async function ask(...requests: Request[]) {
    const client = createClient(service, createGrpcTransport({ baseUrl: api.baseUrl }));
    async function* send() {
      for (const messageRequest of requests) yield create(requestSchema, { messageRequest } as never);
    }
    const answers = [];
    for await (const response of client.serverReflectionInfo(send())) answers.push(response.messageResponse);
    return answers;
  }

  function filesOf(answer: Awaited<ReturnType<typeof ask>>[number] | undefined): FileDescriptorProto[] {
    if (answer?.case !== "fileDescriptorResponse") throw new Error(`expected files, got ${answer?.case}`);
    return answer.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
  }

  it("lists the shop services, health and reflection", async () => {
    const [answer] = await ask({ case: "listServices", value: "" });
    expect(answer?.case).toBe("listServicesResponse");
    const names = answer?.case === "listServicesResponse" ? answer.value.service.map((s) => s.name) : [];
    expect(names.sort()).toEqual([
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "shop.v1.AuthService",
      "shop.v1.InventoryService",
      "shop.v1.OrderService",
    ]);
  });

  it("serves a service's file with every dependency, enough to build a client without proto files", async () => {
    const [answer] = await ask({ case: "fileContainingSymbol", value: "shop.v1.OrderService" });
    const files = filesOf(answer);
    expect(files[0]?.name).toBe("shop/v1/order_service.proto");
    const names = files.map((file) => file.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "shop/v1/money.proto",
        "google/protobuf/timestamp.proto",
        "google/api/field_behavior.proto",
      ]),
    );
    const [root, ...dependencies] = files;
    const registry = createFileRegistry(root as FileDescriptorProto, (name) =>
      dependencies.find((f) => f.name === name),
    );
    expect(registry.getService("shop.v1.OrderService")?.methods.map((m) => m.name)).toEqual([
      "PlaceOrder",
      "GetOrder",
      "ListOrders",
      "CancelOrder",
    ]);
  });

  it("carries the proto comments, so tools show our documentation", async () => {
    const [answer] = await ask({ case: "fileContainingSymbol", value: "shop.v1.InventoryService.AdjustStock" });
    const [file] = filesOf(answer);
    const comments = file?.sourceCodeInfo?.location.map((location) => location.leadingComments).join("\n") ?? "";
    expect(comments).toContain("Concurrent adjustments are applied atomically");
  });

  it("sends a dependency once per stream, but always the file asked for", async () => {
    const [first, second, again] = await ask(
      { case: "fileContainingSymbol", value: "shop.v1.OrderService" },
      { case: "fileContainingSymbol", value: "shop.v1.InventoryService" },
      { case: "fileContainingSymbol", value: "shop.v1.Money" },
    );
    expect(filesOf(first).map((file) => file.name)).not.toContain("shop/v1/inventory_service.proto");
    expect(filesOf(second).map((file) => file.name)).toEqual([
      "shop/v1/inventory_service.proto",
      "google/protobuf/field_mask.proto",
    ]);
    expect(filesOf(again).map((file) => file.name)).toEqual(["shop/v1/money.proto"]);
  });

  it("finds files by name, and error-detail types for decoding ErrorInfo", async () => {
    const [byName, detailType] = await ask(
      { case: "fileByFilename", value: "shop/v1/money.proto" },
      { case: "fileContainingSymbol", value: "google.rpc.ErrorInfo" },
    );
    expect(filesOf(byName)[0]?.name).toBe("shop/v1/money.proto");
    expect(filesOf(detailType)[0]?.name).toBe("google/rpc/error_details.proto");
  });

  it("answers unknown symbols and files with NOT_FOUND inside the stream", async () => {
    const answers = await ask(
      { case: "fileContainingSymbol", value: "shop.v1.NoSuchService" },
      { case: "fileByFilename", value: "nope.proto" },
    );
    for (const answer of answers) {
      expect(answer).toMatchObject({ case: "errorResponse", value: { errorCode: 5 } });
    }
  });
});
