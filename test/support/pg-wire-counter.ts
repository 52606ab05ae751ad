import net from "node:net";
import { performance } from "node:perf_hooks";
import { createFrontendStream, type FrontendMessage } from "./pg-frontend-stream.js";

/**
 * A TCP proxy in front of PostgreSQL that records what the server really receives, so a test
 * can bound the round trips of a use case ("PlaceOrder costs at most N") whatever the ORM or
 * driver does underneath. The bytes pass through unaltered.
 */
export interface PgWireCounter {
  /** The database URL given, pointing at the proxy instead: hand it to the process under test. */
  readonly url: string;
  /** What was received since the start or the last reset(). */
  snapshot(): PgWireSnapshot;
  /** Starts a new window; statements prepared before it stay known on their connections. */
  reset(): void;
  /** Closes the listener and every proxied connection. */
  stop(): Promise<void>;
}

export type PgWireEventKind = "query" | "parse" | "bind" | "sync";

export interface PgWireEvent {
  kind: PgWireEventKind;
  /** Numbered from 1 in the order clients connected to the proxy. */
  connectionId: number;
  /** Milliseconds since the counter started. */
  atMs: number;
  /** A query's text, a parse's text, or for a bind the text of the statement it binds. */
  sql?: string;
  /** For parse and bind; "" is the unnamed statement. */
  statementName?: string;
  /** For bind: each parameter as sent (text, or `\x` hex when sent in binary), null for NULL. */
  parameters?: (string | null)[];
}

export interface PgWireCounts {
  /** One per simple Query and one per Sync: each is a wait for the server's ReadyForQuery. */
  roundTrips: number;
  queries: number;
  parses: number;
  binds: number;
  syncs: number;
}

export interface PgWireSnapshot {
  events: PgWireEvent[];
  total: PgWireCounts;
  byConnection: Map<number, PgWireCounts>;
}

export async function startPgWireCounter(databaseUrl: string): Promise<PgWireCounter> {
  const target = new URL(databaseUrl);
  const targetHost = target.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
  const targetPort = Number(target.port || 5432);
  const started = performance.now();
  const sockets = new Set<net.Socket>();
  let events: PgWireEvent[] = [];
  let nextConnectionId = 1;

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const connectionId = nextConnectionId++;
    const upstream = net.connect({ host: targetHost, port: targetPort, allowHalfOpen: true });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.once("close", () => sockets.delete(socket));
      // Either side failing ends both, as a direct connection would end.
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());

    /** Statement names are per connection: a bind is resolved to the text its statement was parsed with. */
    const statements = new Map<string, string>();
    const stream = createFrontendStream((message) => {
      const event = toEvent(message, connectionId, statements, performance.now() - started);
      if (event) events.push(event);
    });
    client.on("data", (chunk: Buffer) => stream.push(chunk));
    upstream.on("data", (chunk: Buffer) => {
      if (stream.awaitingEncryptionAnswer) stream.serverAnswered(chunk[0] as number);
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const proxied = new URL(databaseUrl);
  proxied.hostname = "127.0.0.1";
  proxied.port = String((server.address() as net.AddressInfo).port);

  return {
    url: proxied.toString(),
    snapshot() {
      const byConnection = new Map<number, PgWireCounts>();
      const total = emptyCounts();
      for (const event of events) {
        const counts = byConnection.get(event.connectionId) ?? emptyCounts();
        byConnection.set(event.connectionId, counts);
        for (const tally of [counts, total]) count(tally, event.kind);
      }
      return { events: [...events], total, byConnection };
    },
    reset() {
      events = [];
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function toEvent(
  message: FrontendMessage,
  connectionId: number,
  statements: Map<string, string>,
  atMs: number,
): PgWireEvent | undefined {
  switch (message.type) {
    case "query":
      return { kind: "query", connectionId, atMs, sql: message.sql };
    case "parse":
      statements.set(message.statementName, message.sql);
      return { kind: "parse", connectionId, atMs, sql: message.sql, statementName: message.statementName };
    case "bind":
      return {
        kind: "bind",
        connectionId,
        atMs,
        sql: statements.get(message.statementName),
        statementName: message.statementName,
        parameters: message.parameters,
      };
    case "sync":
      return { kind: "sync", connectionId, atMs };
    default:
      return undefined; // start-up and encryption negotiation cost no statement
  }
}

function emptyCounts(): PgWireCounts {
  return { roundTrips: 0, queries: 0, parses: 0, binds: 0, syncs: 0 };
}

function count(counts: PgWireCounts, kind: PgWireEventKind): void {
  if (kind === "query") {
    counts.queries++;
    counts.roundTrips++;
  } else if (kind === "sync") {
    counts.syncs++;
    counts.roundTrips++;
  } else if (kind === "parse") {
    counts.parses++;
  } else {
    counts.binds++;
  }
}
