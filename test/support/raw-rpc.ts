import http from "node:http";
import http2 from "node:http2";
import { promisify } from "node:util";
import zlib from "node:zlib";
import { Code, ConnectError } from "@connectrpc/connect";
import { endStreamFlag, endStreamFromJson, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse } from "@connectrpc/connect/protocol-grpc-web";

/** A request exactly as it goes on the wire: whatever the headers and body say. */
export interface RawRequest {
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** How a client of the protocol the server answered in reads the answer. */
export interface RawAnswer {
  httpStatus: number;
  /**
   * "ok", the call's status code, or "not an RPC" when the server answered in plain HTTP
   * (415 for a content type it does not serve, say), which no protocol reads as a status.
   */
  outcome: "ok" | Code | "not an RPC";
  /** The error, with its details, when the outcome is a status code. */
  error?: ConnectError;
  /** The x-request-id response header. */
  requestId: string | null;
}

/** Longer than any answer should take: a call still unanswered by then fails. */
const ANSWER_WITHIN_MS = 10_000;

/**
 * Sends hand-made requests over HTTP/2 (prior knowledge, one connection, reopened if the
 * server closes it) or HTTP/1.1 (keep-alive), and decodes the answers with connect's own
 * readers for gRPC, gRPC-Web and Connect: what a real client of each would conclude.
 */
export function createRawCaller(baseUrl: string) {
  let session: http2.ClientHttp2Session | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const connected = () => {
    if (session === undefined || session.closed || session.destroyed) {
      session = http2.connect(baseUrl);
      session.on("error", () => {});
    }
    return session;
  };

  return {
    http2(request: RawRequest): Promise<RawAnswer> {
      return new Promise((resolve, reject) => {
        const stream = connected().request(
          { ":method": "POST", ":path": request.path, ...request.headers },
          { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) },
        );
        let headers = new Headers();
        let httpStatus = 0;
        let trailers = new Headers();
        const chunks: Buffer[] = [];
        stream.on("response", (received) => {
          httpStatus = Number(received[":status"]);
          headers = toHeaders(received);
        });
        stream.on("trailers", (received) => {
          trailers = toHeaders(received);
        });
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => readAnswer(httpStatus, headers, trailers, Buffer.concat(chunks)).then(resolve, reject));
        stream.on("error", reject);
        stream.end(request.body);
      });
    },
    http1(request: RawRequest): Promise<RawAnswer> {
      return new Promise((resolve, reject) => {
        http
          .request(new URL(request.path, baseUrl), {
            method: "POST",
            agent,
            headers: request.headers,
            signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
          })
          .on("response", (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("end", () => {
              const trailers = new Headers(res.trailers as Record<string, string>);
              readAnswer(res.statusCode ?? 0, toHeaders(res.headers), trailers, Buffer.concat(chunks)).then(
                resolve,
                reject,
              );
            });
            res.on("error", reject);
          })
          .on("error", reject)
          .end(request.body);
      });
    },
    close() {
      session?.close();
      agent.destroy();
    },
  };
}

function toHeaders(received: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(received)) {
    if (name.startsWith(":") || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, String(one));
  }
  return headers;
}

async function readAnswer(httpStatus: number, headers: Headers, trailers: Headers, body: Buffer): Promise<RawAnswer> {
  const contentType = headers.get("content-type") ?? "";
  const requestId = headers.get("x-request-id");
  const answer = (error: ConnectError | undefined): RawAnswer =>
    error === undefined
      ? { httpStatus, outcome: "ok", requestId }
      : { httpStatus, outcome: error.code, error, requestId };

  if (contentType.startsWith("application/grpc-web")) {
    const frames = await framesOf(body, headers.get("grpc-encoding"));
    const trailer = frames.find(({ flags }) => (flags & trailerFlag) === trailerFlag);
    // A trailers-only answer carries its status in the headers.
    return answer(statusIn(trailer ? trailerParse(trailer.data) : headers));
  }
  if (contentType.startsWith("application/grpc")) {
    // A trailers-only answer carries its status in the headers.
    return answer(statusIn(trailers.has("grpc-status") ? trailers : headers));
  }
  if (contentType.startsWith("application/connect+")) {
    const frames = await framesOf(body, headers.get("connect-content-encoding"));
    const end = frames.find(({ flags }) => (flags & endStreamFlag) === endStreamFlag);
    if (end === undefined) return answer(new ConnectError("stream ended without an end-stream message", Code.Internal));
    return answer(endStreamFromJson(end.data).error);
  }
  if (/^application\/(json|proto)/.test(contentType)) {
    if (httpStatus === 200) return answer(undefined);
    const bytes = await decompressed(body, headers.get("content-encoding"));
    return answer(errorFromJsonBytes(bytes, headers, new ConnectError(`HTTP ${httpStatus}`, Code.Unknown)));
  }
  return { httpStatus, outcome: "not an RPC", requestId };
}

/** The gRPC status in these headers or trailers; clients read an answer without one as INTERNAL. */
function statusIn(fields: Headers): ConnectError | undefined {
  if (!fields.has("grpc-status")) return new ConnectError("answer without grpc-status", Code.Internal);
  return findTrailerError(fields);
}

async function framesOf(body: Buffer, encoding: string | null): Promise<{ flags: number; data: Uint8Array }[]> {
  const frames = [];
  for (let at = 0; at + 5 <= body.length; ) {
    const flags = body.readUInt8(at);
    const length = body.readUInt32BE(at + 1);
    const data = body.subarray(at + 5, at + 5 + length);
    frames.push({ flags, data: flags & 0b1 ? await decompressed(data, encoding) : data });
    at += 5 + length;
  }
  return frames;
}

const gunzip = promisify(zlib.gunzip);
const brotliDecompress = promisify(zlib.brotliDecompress);

async function decompressed(data: Uint8Array, encoding: string | null): Promise<Uint8Array> {
  if (encoding === "gzip") return gunzip(data);
  if (encoding === "br") return brotliDecompress(data);
  return data;
}
