import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { type RestartablePostgres, startRestartablePostgres } from "../support/restartable-postgres.js";
import { type SmtpCatcher, startSmtpCatcher } from "../support/smtp-catcher.js";
import { until } from "../support/until.js";
import {
  ALLOWED_ANSWERS,
  isServing,
  type LoadOutcome,
  type SystemUnderFaults,
  startSystemUnderFaults,
} from "./system-under-faults.js";

/**
 * Faults an operator meets, while orders flow through two API replicas, a payment gateway and
 * an email worker, each a process of its own on a PostgreSQL of the test's own. Afterwards no
 * process has died, every call got an answer the error contract allows (OK, a business
 * refusal, or UNAVAILABLE with a time to retry after), and what must hold holds: per product,
 * initial stock = on hand + sold with nothing left reserved; money charged = totals of the
 * fulfilled orders; no order pending; one confirmation per fulfilled order.
 */
describe("faults under load", { timeout: 240_000 }, () => {
  let server: RestartablePostgres | undefined;
  let system: SystemUnderFaults | undefined;
  const catchers: SmtpCatcher[] = [];
  const received = () => catchers.flatMap((catcher) => catcher.messages);

  afterEach(async () => {
    await system?.stop();
    for (const catcher of catchers.splice(0)) await catcher.stop().catch(() => {});
    await server?.stop();
    system = undefined;
    server = undefined;
  });

  async function start(gatewayEnv: Record<string, string> = {}) {
    server = await startRestartablePostgres();
    const smtp = await startSmtpCatcher();
    catchers.push(smtp);
    system = await startSystemUnderFaults({ serverUrl: server.url, smtpUrl: smtp.url, gatewayEnv });
    return { server, smtp, system };
  }

  /** Everything the description above promises, once the system has settled. */
  async function expectEverythingHeld(running: SystemUnderFaults, load: LoadOutcome, what: string) {
    await running.settled(received);
    console.log(`${what}: answers ${JSON.stringify(Object.fromEntries(load.answers))}`);
    for (const process of running.processes) expect(process.child.exitCode, process.stderr()).toBeNull();
    expect(load.outsideTheContract).toEqual([]);
    for (const answer of load.answers.keys()) expect(answer).toMatch(ALLOWED_ANSWERS);
    expect(load.answers.get("OK") ?? 0).toBeGreaterThan(0);
    const held = await running.invariants(received());
    console.log(`${what}: ${held.fulfilledOrders} orders fulfilled, ${received().length} emails received`);
    expect(held.stockMismatches).toEqual([]);
    expect(held.netCharged).toBe(held.fulfilledTotal);
    expect(held.pendingOrders).toBe(0);
    expect(held.confirmationsMissing).toEqual([]);
    expect(held.confirmationsDuplicated).toEqual([]);
    for (const url of running.apiUrls) expect(await isServing(url)).toBe(true);
  }

  it("a PostgreSQL restart (pg_ctl restart -m fast) in the middle of the load", async () => {
    const { server, system } = await start();
    const load = system.placeOrders({ durationMs: 9_000, inFlight: 8 });
    await sleep(3_000);
    await server.restart();
    await expectEverythingHeld(system, await load, "database restart");
  });

  it("the SMTP server down for a while: every confirmation arrives once it is back", async () => {
    const { smtp, system } = await start();
    const load = system.placeOrders({ durationMs: 8_000, inFlight: 6 });
    await sleep(1_500);
    await smtp.stop();
    await sleep(4_000);
    catchers.push(await startSmtpCatcher({ port: smtp.port }));
    await expectEverythingHeld(system, await load, "SMTP outage");
  });

  it("a payment gateway failing a third of its calls, and some cards declined", async () => {
    const { system } = await start({ PAYMENT_GATEWAY_FAULT_FAILURE_RATE: "0.33" });
    const load = await system.placeOrders({
      durationMs: 8_000,
      inFlight: 6,
      cards: ["4242424242424242", "4242424242424242", "4000000000000002"],
    });
    await expectEverythingHeld(system, load, "flaky gateway");
    expect(load.answers.get("FailedPrecondition PAYMENT_DECLINED") ?? 0).toBeGreaterThan(0);
  });

  it("health: NOT_SERVING while the database is down, SERVING again without a restart", async () => {
    const { server, system } = await start();
    const [api] = system.apiUrls;
    expect(await isServing(api ?? "")).toBe(true);
    await server.down();
    await until(async () => !(await isServing(api ?? "")), "the API to report NOT_SERVING");
    await server.up();
    await until(() => isServing(api ?? ""), "the API to report SERVING again");
    for (const process of system.processes) expect(process.child.exitCode, process.stderr()).toBeNull();
  });
});
