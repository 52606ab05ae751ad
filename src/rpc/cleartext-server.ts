import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";
import {
  type ConnectionLimits,
  closeWhenIdle,
  createRequestClock,
  DEFAULT_CONNECTION_LIMITS,
  type RequestClock,
} from "./connection-limits.js";

/** Answers a request itself and returns true, or returns false to leave it to the next handler. */
export type PageHandler = (...request: Parameters<RequestHandler>) => boolean;

export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** Every HTTP/2 connection without TLS starts with these bytes (RFC 9113, section 3.4). */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** Per HTTP/2 connection; more concurrent calls queue in the client. */
const MAX_CONCURRENT_STREAMS = 100;

export interface CleartextServer {
  listen(port: number, host?: string): Promise<number>;
  /**
   * Stops accepting connections, asks HTTP/2 clients to open no new streams (GOAWAY), closes
   * HTTP/1.1 connections as soon as they have no request in flight, then waits up to graceMs
   * for in-flight requests before destroying what is left.
   */
  close(graceMs: number): Promise<void>;
}

/**
 * One port for cleartext HTTP/2 (gRPC clients use it with prior knowledge) and HTTP/1.1
 * (browsers, curl, Connect and gRPC-Web). Both start with bytes the client sends first, so
 * each connection is routed by whether it opens with the HTTP/2 preface.
 *
 * The HTTP servers never listen themselves, so Node's own connection tracking (idle
 * connections, header and request timeouts) does not apply: this module tracks connections
 * and enforces the limits instead.
 */
export function createCleartextServer(
  handler: RequestHandler,
  limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
): CleartextServer {
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS } });
  // Node times keep-alive itself, through the Duplex's setTimeout; the rest is ours.
  const h1 = http.createServer({ keepAliveTimeout: limits.keepAliveTimeoutMs });
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<net.Socket>();
  /** Connections whose protocol is not known yet. */
  const unrouted = new Set<net.Socket>();
  /** HTTP/1.1 connections: how many requests each has unanswered, and its request clock. */
  const h1Connections = new Map<Duplex, { busy: number; clock: RequestClock }>();
  let closing = false;

  // Registered before the handler, so it runs before any response can be sent (a CORS
  // preflight is answered synchronously).
  h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const conn = h1Connections.get(req.socket as unknown as Duplex);
    if (conn === undefined) return;
    conn.busy++;
    conn.clock.headersDone();
    req.once("end", conn.clock.stop);
    if (closing) res.shouldKeepAlive = false;
    res.once("close", () => {
      conn.clock.stop();
      conn.busy--;
      if (closing && conn.busy === 0) req.socket.destroy();
    });
  });
  h1.on("request", handler);
  h2.on("request", handler);

  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    closeWhenIdle(session, limits.http2IdleTimeoutMs);
    if (closing) session.close();
  });

  // Without TCP_NODELAY a small write waits for the ACK of the one before, which the peer
  // delays by up to 40 ms: an answer's HEADERS, DATA and trailers would cost a call ~40 ms.
  // Node's HTTP servers turn Nagle off only on sockets they accept themselves (HTTP/1.1 is
  // handed our Duplex, not the TCP socket), so the listener that does accept them must.
  const listener = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    sockets.add(socket);
    unrouted.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      unrouted.delete(socket);
    });
    // A reset (ECONNRESET from a port scanner or a load balancer's TCP probe) must never
    // become an unhandled error that ends the process.
    socket.on("error", () => socket.destroy());
    if (closing) return void socket.destroy();
    // Connecting starts the first request: its headers, or the HTTP/2 preface, are due
    // within the headers timeout however slowly they are dribbled.
    let http1: Duplex | undefined;
    const clock = createRequestClock(limits, () => (http1 ? failTimedOut(http1) : socket.destroy()));
    clock.started();
    socket.once("close", clock.stop);
    routeByPreface(socket, (isHttp2, head) => {
      unrouted.delete(socket);
      if (isHttp2) {
        clock.stop(); // the session's idle timeout takes over
        // The HTTP/2 session takes over the TCP socket itself, reading first what is buffered
        // on it: the sniffed bytes, given back. gRPC's every byte then stays in native code.
        socket.unshift(head);
        return void h2.emit("connection", socket);
      }
      // Registered before the Duplex forwards the bytes to the HTTP parser, which may
      // complete a request's headers on them.
      socket.on("data", clock.started);
      const conn = replaying(socket, head);
      http1 = conn;
      h1Connections.set(conn, { busy: 0, clock });
      conn.once("close", () => h1Connections.delete(conn));
      h1.emit("connection", conn);
    });
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
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const socket of unrouted) socket.destroy();
      for (const session of sessions) session.close();
      for (const [conn, { busy }] of h1Connections) if (busy === 0) conn.destroy();
      const deadline = setTimeout(() => {
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await closed;
      clearTimeout(deadline);
    },
  };
}

/**
 * Fails the connection as Node fails one whose request timed out: it answers 408 when no
 * answer has begun on it, then closes it.
 */
function failTimedOut(conn: Duplex): void {
  conn.emit("error", Object.assign(new Error("request timed out"), { code: "ERR_HTTP_REQUEST_TIMEOUT" }));
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
 * HTTP/1.1 connections go through a plain Duplex in front of the socket, starting with the
 * bytes consumed to sniff: it is what this module's limits hold on to (each connection's
 * request clock, a 408 on time-out), and HTTP/1.1 is the path of browsers and tools, where
 * reading through JavaScript costs nothing that matters.
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
  // What Node's HTTP servers read from a real socket: the peer, and timeouts (keepAliveTimeout).
  Object.assign(duplex, {
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    remoteFamily: socket.remoteFamily,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
    setTimeout(ms: number, cb?: () => void) {
      socket.setTimeout(ms);
      if (cb) duplex.once("timeout", cb);
      return duplex;
    },
    setNoDelay: (v?: boolean) => socket.setNoDelay(v),
    setKeepAlive: (e?: boolean, d?: number) => socket.setKeepAlive(e, d),
  });
  socket.on("timeout", () => duplex.emit("timeout"));
  duplex.push(head);
  socket.on("data", (chunk) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.once("end", () => duplex.push(null));
  socket.once("close", () => duplex.destroy());
  socket.on("error", (error) => duplex.destroy(error));
  return duplex;
}
