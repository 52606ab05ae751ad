import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { type PgWireCounter, startPgWireCounter } from "./pg-wire-counter.js";

describe("the PostgreSQL wire counter", () => {
  let counter: PgWireCounter;
  const clients: pg.Client[] = [];

  beforeAll(async () => {
    counter = await startPgWireCounter(inject("databaseUrl"));
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.end();
  });
  afterAll(async () => {
    await counter.stop();
  });

  /** A real pg client through the proxy, connected, with the counts of its start-up forgotten. */
  async function connectedClient(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: counter.url });
    clients.push(client);
    await client.connect();
    counter.reset();
    return client;
  }

  it("when a client sends a simple query, then it counts one round trip and one Query", async () => {
    const client = await connectedClient();
    await client.query("select 1");
    const { total, events } = counter.snapshot();
    expect(total).toEqual({ roundTrips: 1, queries: 1, parses: 0, binds: 0, syncs: 0 });
    expect(events).toMatchObject([{ kind: "query", sql: "select 1" }]);
  });

  it("when a client sends a parameterized query, then it counts one round trip (one Sync) and one Parse", async () => {
    const client = await connectedClient();
    await client.query("select $1::int + $2::int as sum", [1, null]);
    const { total, events } = counter.snapshot();
    expect(total).toEqual({ roundTrips: 1, queries: 0, parses: 1, binds: 1, syncs: 1 });
    expect(events.find((event) => event.kind === "bind")).toMatchObject({
      sql: "select $1::int + $2::int as sum",
      statementName: "",
      parameters: ["1", null],
    });
  });

  it("when a named statement runs twice on one connection, then it counts two round trips but one Parse", async () => {
    const client = await connectedClient();
    const statement = { name: "counter-named", text: "select $1::text as echo" };
    await client.query({ ...statement, values: ["first"] });
    await client.query({ ...statement, values: ["second"] });
    const { total, events } = counter.snapshot();
    expect(total).toMatchObject({ roundTrips: 2, parses: 1, binds: 2 });
    expect(events.filter((event) => event.kind === "bind")).toMatchObject([
      { statementName: "counter-named", sql: statement.text, parameters: ["first"] },
      { statementName: "counter-named", sql: statement.text, parameters: ["second"] },
    ]);
  });

  it("when a transaction runs BEGIN, a statement and COMMIT, then it counts three round trips", async () => {
    const client = await connectedClient();
    await client.query("begin");
    await client.query("select $1::int", [42]);
    await client.query("commit");
    expect(counter.snapshot().total.roundTrips).toBe(3);
  });

  it("when two connections talk, then each is counted on its own and in the total", async () => {
    const first = await connectedClient();
    const second = await connectedClient();
    await first.query("select 1");
    await second.query("select 2");
    await second.query("select 3");
    const { total, byConnection, events } = counter.snapshot();
    expect(total.roundTrips).toBe(3);
    const [firstId, secondId] = [events[0]?.connectionId, events[1]?.connectionId] as [number, number];
    expect(firstId).not.toBe(secondId);
    expect(byConnection.get(firstId)?.roundTrips).toBe(1);
    expect(byConnection.get(secondId)?.roundTrips).toBe(2);
  });

  it("when reset, then the window starts empty and the proxied connection keeps working", async () => {
    const client = await connectedClient();
    await client.query("select 1");
    counter.reset();
    expect(counter.snapshot().events).toEqual([]);
    const { rows } = await client.query("select 'still here' as answer");
    expect(rows).toEqual([{ answer: "still here" }]);
    expect(counter.snapshot().total.roundTrips).toBe(1);
  });
});
