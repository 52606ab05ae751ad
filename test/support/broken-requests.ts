import { gzipSync } from "node:zlib";
import { type DescMethod, type Message, toBinary, toJsonString } from "@bufbuild/protobuf";
import { randomMessage } from "./random-message.js";
import type { RawRequest } from "./raw-rpc.js";
import type { Random } from "./seeded-random.js";

export const CATEGORIES = [
  "random bytes",
  "mutated message",
  "valid message",
  "bad frame",
  "bad encoding",
  "bad content type",
  "bad headers",
] as const;
export type Category = (typeof CATEGORIES)[number];

export interface Protocol {
  name: string;
  family: "grpc" | "grpc-web" | "connect";
  json: boolean;
}

export const PROTOCOLS: readonly Protocol[] = [
  { name: "gRPC", family: "grpc", json: false },
  { name: "gRPC JSON", family: "grpc", json: true },
  { name: "gRPC-Web", family: "grpc-web", json: false },
  { name: "gRPC-Web JSON", family: "grpc-web", json: true },
  { name: "Connect", family: "connect", json: false },
  { name: "Connect JSON", family: "connect", json: true },
];

export interface BrokenRequest {
  category: Category;
  protocol: Protocol;
  method: DescMethod;
  via: "http1" | "http2";
  request: RawRequest;
}

/** Content types no protocol we serve uses (undefined: none at all). */
const FOREIGN_CONTENT_TYPES = [
  undefined,
  "text/plain",
  "application/xml",
  "application/octet-stream",
  "application/grpc+thrift",
  "application/grpc-web-text",
  "application/connect+cbor",
  "application/json; charset=iso-8859-1",
];
const BAD_TIMEOUTS = {
  grpc: ["abc", "-1m", "1.5S", "123456789S", "10x"],
  connect: ["abc", "-5", "1e3", "12345678901"],
};
const UNUSABLE_REQUEST_IDS = ["has a space", "x".repeat(200), "tab\there"];
const UNKNOWN_ENCODINGS = ["zstd", "snappy", "deflate", "GZIP", "gzip, br", "identity"];
const COMPRESSED = 0b1;
/** Frame flags a client never sets: end of stream, trailers, and bits with no meaning. */
const STRANGE_FLAGS = [0x02, 0x04, 0x40, 0x80, 0xfe];

/**
 * Every method in every protocol with every kind of breakage, `each` times, in a shuffled
 * order; the same `random` seed gives the same requests.
 */
export function brokenRequests(
  random: Random,
  methods: readonly DescMethod[],
  each: number,
  headersFor: (random: Random) => Record<string, string> = () => ({}),
): BrokenRequest[] {
  const requests: BrokenRequest[] = [];
  for (const method of methods) {
    for (const protocol of PROTOCOLS) {
      for (const category of CATEGORIES) {
        for (let n = 0; n < each; n++) {
          const id = `fuzz-${requests.length}`;
          const built = build(random, category, protocol, method, { "x-request-id": id, ...headersFor(random) });
          requests.push({ category, protocol, method, ...built });
        }
      }
    }
  }
  for (let i = requests.length - 1; i > 0; i--) {
    const j = random.below(i + 1);
    [requests[i], requests[j]] = [requests[j] as BrokenRequest, requests[i] as BrokenRequest];
  }
  return requests;
}

function build(
  random: Random,
  category: Category,
  protocol: Protocol,
  method: DescMethod,
  extraHeaders: Record<string, string>,
): Pick<BrokenRequest, "via" | "request"> {
  const streaming = method.methodKind !== "unary";
  // Connect's unary calls send the bare message; everything else sends framed messages.
  const framed = protocol.family !== "connect" || streaming;
  // gRPC needs HTTP/2 trailers, and bidi streams need HTTP/2 in every protocol.
  const via =
    protocol.family === "grpc" || method.methodKind === "bidi_streaming"
      ? "http2"
      : random.pick(["http1", "http2"] as const);
  const codec = protocol.json ? "json" : "proto";
  const contentType = {
    grpc: `application/grpc+${codec}`,
    "grpc-web": `application/grpc-web+${codec}`,
    connect: streaming ? `application/connect+${codec}` : `application/${codec}`,
  }[protocol.family];
  const encodingHeader =
    protocol.family !== "connect" ? "grpc-encoding" : streaming ? "connect-content-encoding" : "content-encoding";
  const timeoutHeader = protocol.family === "connect" ? "connect-timeout-ms" : "grpc-timeout";
  // Health/Watch streams until its deadline: every call gets one, a watch a short one.
  const deadlineMs = method.methodKind === "server_streaming" ? 50 : 10_000;
  const headers: Record<string, string> = {
    "content-type": contentType,
    [timeoutHeader]: protocol.family === "connect" ? String(deadlineMs) : `${deadlineMs}m`,
    ...extraHeaders,
  };
  const message = () => encode(method, protocol.json, randomMessage(random, method.input));
  const body = (payload: Uint8Array, flags = 0) => (framed ? frame(payload, flags) : payload);
  const request = (requestBody: Uint8Array) => ({ via, request: { path: pathOf(method), headers, body: requestBody } });

  switch (category) {
    case "random bytes":
      return request(body(random.bytes(random.below(48))));
    case "mutated message":
      return request(body(mutate(random, message())));
    case "valid message":
      return request(body(message()));
    case "bad frame":
      return request(framed ? badFrames(random, message(), message()) : badUnaryBody(random, message()));
    case "bad encoding": {
      const payload = message();
      const compressed = (bytes: Uint8Array) => body(bytes, COMPRESSED);
      switch (random.below(7)) {
        case 0:
          headers[encodingHeader] = "gzip";
          return request(compressed(random.bytes(1 + random.below(40))));
        case 1:
          headers[encodingHeader] = "br";
          return request(compressed(payload));
        case 2:
          headers[encodingHeader] = random.pick(UNKNOWN_ENCODINGS);
          return request(compressed(gzipSync(payload)));
        case 3:
          headers[encodingHeader] = "gzip";
          return request(compressed(gzipSync(payload).subarray(0, random.below(20))));
        case 4: // the control: compression done right
          headers[encodingHeader] = "gzip";
          return request(compressed(gzipSync(payload)));
        case 5: // compressed, without saying how
          return request(compressed(gzipSync(payload)));
        default:
          headers[encodingHeader] = "gzip";
          return request(compressed(inflatesPastTheLimit()));
      }
    }
    case "bad content type": {
      const foreign = random.pick(FOREIGN_CONTENT_TYPES);
      if (foreign === undefined) delete headers["content-type"];
      else headers["content-type"] = foreign;
      return request(body(message()));
    }
    case "bad headers":
      headers[timeoutHeader] = random.pick(BAD_TIMEOUTS[protocol.family === "connect" ? "connect" : "grpc"]);
      if (random.chance(0.5)) headers["x-request-id"] = random.pick(UNUSABLE_REQUEST_IDS);
      return request(body(message()));
  }
}

function pathOf(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function encode(method: DescMethod, json: boolean, message: Message): Uint8Array {
  if (!json) return toBinary(method.input, message);
  try {
    return new TextEncoder().encode(toJsonString(method.input, message));
  } catch {
    return new TextEncoder().encode("{}"); // values JSON cannot carry, such as a timestamp out of range
  }
}

/** One message frame: flags, length (what it claims, by default the truth), bytes. */
function frame(data: Uint8Array, flags = 0, length = data.length): Uint8Array {
  const header = Buffer.alloc(5);
  header.writeUInt8(flags, 0);
  header.writeUInt32BE(length, 1);
  return Buffer.concat([header, data]);
}

function badFrames(random: Random, message: Uint8Array, another: Uint8Array): Uint8Array {
  switch (random.below(7)) {
    case 0: // claims more than it sends
      return frame(message, 0, message.length + 1 + random.below(100));
    case 1: // claims less, leaving the rest to be read as a next frame
      return frame(message, 0, Math.max(0, message.length - 1 - random.below(4)));
    case 2: // a frame header cut short
      return random.bytes(1 + random.below(4));
    case 3: // two messages, where a unary call takes one
      return Buffer.concat([frame(message), frame(another)]);
    case 4: // no message at all
      return new Uint8Array();
    case 5:
      return frame(message, random.pick(STRANGE_FLAGS));
    default: // a length no server would buffer
      return frame(message, 0, 0xffffffff);
  }
}

function badUnaryBody(random: Random, message: Uint8Array): Uint8Array {
  switch (random.below(3)) {
    case 0: // framed, as if it were gRPC
      return frame(message);
    case 1:
      return new Uint8Array();
    default: // trailing garbage
      return Buffer.concat([message, random.bytes(1 + random.below(8))]);
  }
}

/** Flips, overwrites, cuts, inserts or deletes bytes, one to three times. */
function mutate(random: Random, original: Uint8Array): Uint8Array {
  const bytes = [...original];
  for (let n = 1 + random.below(3); n > 0; n--) {
    const at = random.below(bytes.length + 1);
    switch (random.below(5)) {
      case 0:
        if (at < bytes.length) bytes[at] = (bytes[at] as number) ^ (1 << random.below(8));
        break;
      case 1:
        if (at < bytes.length) bytes[at] = random.below(256);
        break;
      case 2:
        bytes.length = at;
        break;
      case 3:
        bytes.splice(at, 0, ...random.bytes(1 + random.below(4)));
        break;
      default:
        bytes.splice(at, 1 + random.below(4));
    }
  }
  return Uint8Array.from(bytes);
}

let bomb: Uint8Array | undefined;
/** 5 MiB of zeros in about 5 KiB of gzip: over the 4 MiB a server reads. */
function inflatesPastTheLimit(): Uint8Array {
  bomb ??= gzipSync(Buffer.alloc(5 * 1024 * 1024));
  return bomb;
}
