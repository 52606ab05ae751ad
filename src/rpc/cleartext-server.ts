import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";

type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** Every HTTP/2 connection without TLS starts with these bytes (RFC 9113, section 3.4). */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export interface CleartextServer {
  listen(port: number, host?: string): Promise<number>;
  /**
   * Stops accepting connections, asks HTTP/2 clients to open no new streams (GOAWAY) and
   * closes idle HTTP/1.1 connections, then waits up to graceMs for in-flight requests before
   * destroying what is left.
   */
  close(graceMs: number): Promise<void>;
}

/**
 * One port for cleartext HTTP/2 (gRPC clients use it with prior knowledge) and HTTP/1.1
 * (browsers, curl, Connect and gRPC-Web). Both start with bytes the client sends first, so
 * each connection is routed by whether it opens with the HTTP/2 preface.
 */
export function createCleartextServer(handler: RequestHandler): CleartextServer {
  const h2 = http2.createServer({}, handler);
  const h1 = http.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<net.Socket>();
  let closing = false;

  // While closing, an HTTP/1.1 connection is closed as soon as its request is answered.
  h1.on("request", (_req, res) => {
    if (closing) res.setHeader("connection", "close");
    res.once("finish", () => {
      if (closing) setImmediate(() => h1.closeIdleConnections());
    });
  });

  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });

  const listener = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    routeByPreface(socket, (isHttp2, head) => (isHttp2 ? h2 : h1).emit("connection", replaying(socket, head)));
  });

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        listener.once("error", reject);
        listener.listen(port, host, () => {
          listener.off("error", reject);
          resolve((listener.address() as net.AddressInfo).port);
        });
      });
    },

    async close(graceMs) {
      closing = true;
      // Resolves once every connection has ended, not just when listening stops.
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const session of sessions) session.close();
      h1.closeIdleConnections();
      const deadline = setTimeout(() => {
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await closed;
      clearTimeout(deadline);
    },
  };
}

function routeByPreface(socket: net.Socket, route: (isHttp2: boolean, head: Buffer) => void): void {
  let received = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    const compared = Math.min(received.length, HTTP2_PREFACE.length);
    const matches = received.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
    if (matches && compared < HTTP2_PREFACE.length) return; // too few bytes to tell yet
    socket.off("data", onData);
    socket.pause();
    route(matches, received);
  };
  socket.on("data", onData);
}

/**
 * Node's HTTP servers read a net.Socket's native handle directly, so bytes already read
 * from it cannot be given back with unshift(). A plain Duplex in front of the socket makes
 * them read through JavaScript instead, starting with the bytes we consumed to sniff.
 */
function replaying(socket: net.Socket, head: Buffer): Duplex {
  const duplex = new Duplex({
    read: () => {
      socket.resume();
    },
    write: (chunk, encoding, callback) => {
      socket.write(chunk, encoding, callback);
    },
    final: (callback) => {
      socket.end(callback);
    },
    destroy: (error, callback) => {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  duplex.push(head);
  socket.on("data", (chunk) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.once("end", () => duplex.push(null));
  socket.once("close", () => duplex.destroy());
  socket.once("error", (error) => duplex.destroy(error));
  return duplex;
}
