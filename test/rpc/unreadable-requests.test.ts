import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { HealthCheckRequestSchema } from "../../gen/health/v1/health_pb.js";
import { captureLogs } from "../support/captured-logs.js";
import { createRawCaller, type RawRequest } from "../support/raw-rpc.js";
import { type ListeningServer, startServerWith } from "../support/rpc-server.js";

/** One gRPC, gRPC-Web or Connect streaming message frame: flags, length, bytes. */
function frame(data: Uint8Array, { flags = 0, length = data.length } = {}): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(flags, 0);
  header.writeUInt32BE(length, 1);
  return Buffer.concat([header, data]);
}

const COMPRESSED = 0b1;
const CHECK = "/grpc.health.v1.Health/Check";
const WATCH = "/grpc.health.v1.Health/Watch";
const REFLECTION = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
const GRPC = { "content-type": "application/grpc" };
const valid = toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "shop.v1.OrderService" }));
/** Field 1 (a string) of length 2, holding bytes that are not UTF-8. */
const notUtf8 = Uint8Array.of(0x0a, 0x02, 0xc3, 0x28);
/** Field 1 with wire type 7, which does not exist. */
const noSuchWireType = Uint8Array.of(0x0f, 0x00);
const truncated = Uint8Array.of(0x0a, 0x10, 0x61);
/** Over the 4 MiB the server reads, once inflated. */
const bomb = gzipSync(Buffer.alloc(5 * 1024 * 1024));

type Transport = "http1" | "http2";
type Expected = [Code, string];
const MALFORMED: Expected = [Code.InvalidArgument, "MALFORMED_MESSAGE"];

const cases: [string, Transport, Omit<RawRequest, "headers"> & { headers: Record<string, string> }, Expected][] = [
  ["gRPC: protobuf cut short", "http2", { path: CHECK, headers: GRPC, body: frame(truncated) }, MALFORMED],
  ["gRPC: invalid UTF-8 in a string", "http2", { path: CHECK, headers: GRPC, body: frame(notUtf8) }, MALFORMED],
  [
    "gRPC: a wire type that does not exist",
    "http2",
    { path: CHECK, headers: GRPC, body: frame(noSuchWireType) },
    MALFORMED,
  ],
  [
    "gRPC: the compressed flag without an encoding",
    "http2",
    { path: CHECK, headers: GRPC, body: frame(valid, { flags: COMPRESSED }) },
    MALFORMED,
  ],
  [
    "gRPC: a gzip frame that is not gzip",
    "http2",
    { path: CHECK, headers: { ...GRPC, "grpc-encoding": "gzip" }, body: frame(valid, { flags: COMPRESSED }) },
    MALFORMED,
  ],
  [
    "gRPC: an encoding the server does not know",
    "http2",
    { path: CHECK, headers: { ...GRPC, "grpc-encoding": "zstd" }, body: frame(valid, { flags: COMPRESSED }) },
    [Code.Unimplemented, "UNSUPPORTED_ENCODING"],
  ],
  [
    "gRPC: a message that inflates past the limit",
    "http2",
    { path: CHECK, headers: { ...GRPC, "grpc-encoding": "gzip" }, body: frame(bomb, { flags: COMPRESSED }) },
    [Code.ResourceExhausted, "MESSAGE_TOO_LARGE"],
  ],
  [
    "gRPC: a unary call without a message",
    "http2",
    { path: CHECK, headers: GRPC, body: new Uint8Array() },
    [Code.Unimplemented, "UNEXPECTED_MESSAGE_COUNT"],
  ],
  [
    "gRPC: JSON that does not parse",
    "http2",
    { path: CHECK, headers: { "content-type": "application/grpc+json" }, body: frame(Buffer.from("{")) },
    MALFORMED,
  ],
  ["gRPC: a server-streaming call", "http2", { path: WATCH, headers: GRPC, body: frame(truncated) }, MALFORMED],
  ["gRPC: a bidi-streaming call", "http2", { path: REFLECTION, headers: GRPC, body: frame(truncated) }, MALFORMED],
  [
    "gRPC-Web over HTTP/1.1",
    "http1",
    { path: CHECK, headers: { "content-type": "application/grpc-web+proto" }, body: frame(truncated) },
    MALFORMED,
  ],
  [
    "gRPC-Web: the compressed flag without an encoding",
    "http1",
    { path: CHECK, headers: { "content-type": "application/grpc-web+proto" }, body: frame(valid, { flags: 1 }) },
    MALFORMED,
  ],
  [
    "Connect binary over HTTP/1.1",
    "http1",
    { path: CHECK, headers: { "content-type": "application/proto" }, body: truncated },
    MALFORMED,
  ],
  [
    "Connect JSON with a wrong type",
    "http1",
    { path: CHECK, headers: { "content-type": "application/json" }, body: Buffer.from('{"service": 5}') },
    MALFORMED,
  ],
  [
    "Connect: content-encoding br on a plain body",
    "http1",
    { path: CHECK, headers: { "content-type": "application/proto", "content-encoding": "br" }, body: valid },
    MALFORMED,
  ],
  [
    "Connect: a truncated gzip body",
    "http2",
    {
      path: CHECK,
      headers: { "content-type": "application/proto", "content-encoding": "gzip" },
      body: gzipSync(valid).subarray(0, 12),
    },
    MALFORMED,
  ],
  [
    "Connect: an encoding the server does not know",
    "http1",
    { path: CHECK, headers: { "content-type": "application/proto", "content-encoding": "zstd" }, body: valid },
    [Code.Unimplemented, "UNSUPPORTED_ENCODING"],
  ],
  [
    "Connect streaming",
    "http1",
    { path: WATCH, headers: { "content-type": "application/connect+proto" }, body: frame(truncated) },
    MALFORMED,
  ],
];

describe("requests the server cannot read", () => {
  const logs = captureLogs();
  let server: ListeningServer;
  let raw: ReturnType<typeof createRawCaller>;
  beforeAll(async () => {
    server = await startServerWith(() => {}, { logger: logs.logger });
    raw = createRawCaller(server.baseUrl);
  });
  afterAll(async () => {
    raw.close();
    await server.stop();
  });

  it.each(cases)("%s: answered in the error contract and logged", async (name, transport, request, [code, reason]) => {
    const requestId = `unreadable-${name.replace(/\W+/g, "-")}`;
    const answer = await raw[transport]({ ...request, headers: { ...request.headers, "x-request-id": requestId } });

    expect(answer.outcome).toBe(code);
    expect(answer.requestId).toBe(requestId);
    expect(answer.error?.findDetails(ErrorInfoSchema)).toEqual([
      expect.objectContaining({ reason, domain: "shop.v1", metadata: { requestId } }),
    ]);
    expect(logs.lines).toContainEqual(
      expect.objectContaining({ event: "rpc.completed", code: Code[code], correlationId: requestId }),
    );
  });

  it("tells a client of another gRPC stack (grpc-js) sending bytes that are not the message why", async () => {
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set("x-request-id", "unreadable-from-grpc-js");
    const error = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest(
        CHECK,
        (bytes: Uint8Array) => Buffer.from(bytes),
        (bytes: Buffer) => bytes,
        truncated,
        metadata,
        resolve,
      ),
    );
    client.close();

    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    const [details] = error?.metadata.get("grpc-status-details-bin") ?? [];
    const status = findTrailerError(
      new Headers({
        "grpc-status": String(error?.code),
        "grpc-status-details-bin": String(details?.toString("base64")),
      }),
    );
    expect(status?.findDetails(ErrorInfoSchema)).toEqual([
      expect.objectContaining({
        reason: "MALFORMED_MESSAGE",
        domain: "shop.v1",
        metadata: { requestId: "unreadable-from-grpc-js" },
      }),
    ]);
  });
});
