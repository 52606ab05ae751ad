import type http2 from "node:http2";

/**
 * How long a client may hold a connection without making progress. Each idle or dribbling
 * connection ties up a descriptor and memory: without limits a few hundred slow clients
 * (slowloris) starve the server. Answering is never timed, so a long call is never cut.
 */
export interface ConnectionLimits {
  /**
   * From a request's first byte until its headers are complete (HTTP/1.1); for a new
   * connection, from connecting until its first request's headers or the HTTP/2 preface.
   */
  headersTimeoutMs: number;
  /** From an HTTP/1.1 request's first byte until its body has arrived, or it was answered. */
  requestTimeoutMs: number;
  /** How long an HTTP/1.1 connection may wait for its next request. */
  keepAliveTimeoutMs: number;
  /** How long an HTTP/2 connection may stay without any call in progress. */
  http2IdleTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  // Headers are a few hundred bytes that every real client sends at once, even over a poor
  // mobile link; 10 s is generous for them, and bounds how long a dribbler holds a socket.
  headersTimeoutMs: 10_000,
  // Only the upload is timed: our largest request (4 MiB) takes ~34 s at 1 Mbit/s. The call
  // that follows, however long, is not.
  requestTimeoutMs: 60_000,
  // Node's default, advertised in `Keep-Alive: timeout=5` and enforced a second later, so
  // that clients close first. Only direct clients (curl, browsers) use HTTP/1.1: proxies
  // speak h2c to us (deploy/kubernetes).
  keepAliveTimeoutMs: 5_000,
  // gRPC clients keep one connection and reuse it: one calling every few minutes keeps its
  // own. Below the 350 s after which AWS NLBs and many NATs silently forget a quiet flow, so
  // that we end it with a GOAWAY clients handle, rather than a client finding it dead.
  http2IdleTimeoutMs: 300_000,
};

export interface RequestClock {
  /** Bytes arrived: if no request was under way, one has begun and its headers are due. */
  started(): void;
  /** Its headers are complete: the rest is due within the request timeout of its first byte. */
  headersDone(): void;
  /** Received in full, or answered: nothing is due until the next request begins. */
  stop(): void;
}

/** An absolute deadline per request: a client dribbling a byte at a time cannot extend it. */
export function createRequestClock(limits: ConnectionLimits, expired: () => void): RequestClock {
  let timer: NodeJS.Timeout | undefined;
  let startedAt = 0;
  const dueIn = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(expired, Math.max(0, ms));
  };
  return {
    started() {
      if (timer !== undefined) return;
      startedAt = performance.now();
      dueIn(limits.headersTimeoutMs);
    },
    headersDone() {
      dueIn(limits.requestTimeoutMs - (performance.now() - startedAt));
    },
    stop() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * Closes the session (GOAWAY, so clients reconnect for their next call) once it has had no
 * stream open for `idleMs`. Pings do not count as use: a client that only pings is idle.
 */
export function closeWhenIdle(session: http2.ServerHttp2Session, idleMs: number): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const idle = () => {
    timer = setTimeout(() => session.close(), idleMs);
  };
  session.on("stream", (stream) => {
    open++;
    clearTimeout(timer);
    stream.once("close", () => {
      if (--open === 0) idle();
    });
  });
  session.once("close", () => clearTimeout(timer));
  idle();
}
