import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { ParsedMail } from "mailparser";
import pg from "pg";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/health/v1/health_pb.js";
import { OrderService } from "../../gen/shop/v1/order_service_pb.js";
import { createAccessTokens } from "../../src/auth/access-tokens.js";
import { testCard } from "../support/gateway.js";
import { TEST_JWT_SECRET } from "../support/rpc-server.js";
import { type Deployable, spawnDeployable } from "../support/spawn-deployable.js";
import { until } from "../support/until.js";

/**
 * The whole system as real processes on a database of its own, for tests that break things
 * under load: a payment gateway, two API replicas and an email worker. What the load's calls
 * got back is kept, and what must hold afterwards (stock, money, emails) can be checked.
 */
export interface SystemUnderFaults {
  databaseUrl: string;
  /** The two API replicas. */
  apiUrls: string[];
  processes: Deployable[];
  /** Places orders from many customers on both replicas for `durationMs`, as retrying clients do. */
  placeOrders(options: { durationMs: number; inFlight: number; cards?: string[] }): Promise<LoadOutcome>;
  /** Until no order is pending, no cancellation unfinished, and every paid order's email was received. */
  settled(emails: () => ParsedMail[]): Promise<void>;
  /** What must hold whatever happened: see the checks. */
  invariants(emails: ParsedMail[]): Promise<Invariants>;
  stop(): Promise<void>;
}

export interface LoadOutcome {
  /** Every answer any call got, a retry's included: "OK", or the code and ErrorInfo reason. */
  answers: Map<string, number>;
  /** Calls that failed as the error contract does not allow: not retryable, not a business refusal. */
  outsideTheContract: string[];
}

export interface Invariants {
  /** Products whose initial stock is not what is on hand plus what was sold, or with stock still reserved. */
  stockMismatches: string[];
  /** Succeeded charges minus refunds, against the totals of fulfilled orders, in minor units. */
  netCharged: number;
  fulfilledTotal: number;
  pendingOrders: number;
  fulfilledOrders: number;
  /** Fulfilled orders without exactly one confirmation received. */
  confirmationsMissing: string[];
  confirmationsDuplicated: string[];
}

const PRODUCTS = 8;
/** Enough that orders are still being sold when the faults come; some products do run out. */
const INITIAL_STOCK = 300;

export async function startSystemUnderFaults(options: {
  serverUrl: string;
  smtpUrl: string;
  gatewayEnv?: Record<string, string>;
}): Promise<SystemUnderFaults> {
  const admin = new pg.Client({ connectionString: options.serverUrl });
  await admin.connect();
  const database = `faults_${randomUUID().slice(0, 8)}`;
  await admin.query(`create database "${database}"`);
  await admin.end();
  const url = new URL(options.serverUrl);
  url.pathname = `/${database}`;
  const databaseUrl = url.toString();

  const processes: Deployable[] = [];
  const spawn = (entry: string, env: Record<string, string>) => {
    const started = spawnDeployable(entry, { DATABASE_URL: databaseUrl, LOG_LEVEL: "info", ...env });
    processes.push(started);
    return started;
  };
  const portOf = async (deployable: Deployable) => {
    const listening = deployable.waitForLog((line) => line.event === "server.listening");
    const late = sleep(60_000).then(() => {
      throw new Error(`no server.listening within 60 s:\n${deployable.stderr()}`);
    });
    return ((await Promise.race([listening, late])) as Record<string, unknown>).port as number;
  };
  const killAll = () => {
    for (const started of processes) started.child.kill("SIGKILL");
  };

  try {
    return await startedOn(databaseUrl);
  } catch (error) {
    killAll();
    await dropDatabase(options.serverUrl, database);
    throw error;
  }

  async function startedOn(databaseUrl: string): Promise<SystemUnderFaults> {
    const gateway = spawn("payment-gateway", { PAYMENT_GATEWAY_PORT: "0", ...options.gatewayEnv });
    const gatewayUrl = `http://127.0.0.1:${await portOf(gateway)}`;
    const apiEnv = {
      PORT: "0",
      PAYMENT_GATEWAY_URL: gatewayUrl,
      JWT_SECRET: TEST_JWT_SECRET,
      // Pending orders are settled soon after the faults, not a minute later.
      ORDER_PENDING_TIMEOUT_MS: "1000",
      ORDER_RECOVERY_INTERVAL_MS: "500",
    };
    // The first replica migrates; the second and the worker start on a migrated database.
    const first = spawn("api", apiEnv);
    const firstUrl = `http://127.0.0.1:${await portOf(first)}`;
    const second = spawn("api", apiEnv);
    const worker = spawn("worker", {
      WORKER_PORT: "0",
      SMTP_URL: options.smtpUrl,
      MAIL_FROM: "Shop <orders@shop.test>",
    });
    const apiUrls = [firstUrl, `http://127.0.0.1:${await portOf(second)}`];
    await portOf(worker);

    const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    // The faults end the test's own connections too; the pool replaces them.
    db.on("error", () => {});
    const productIds = Array.from({ length: PRODUCTS }, () => randomUUID());
    await db.query(
      `insert into product (id, sku, name, unit_price_minor, currency_code, stock_on_hand)
     select id, 'FAULT-' || n, 'Fault product ' || n, 500 + n, 'EUR', $2
     from unnest($1::uuid[]) with ordinality as p(id, n)`,
      [productIds, INITIAL_STOCK],
    );
    const customerIds = Array.from({ length: 40 }, () => randomUUID());
    await db.query(
      `insert into app_user (id, email, email_normalized, display_name, password_hash, role)
     select id, id || '@example.com', id || '@example.com', 'Shopper', 'unusable', 'customer' from unnest($1::uuid[]) as id`,
      [customerIds],
    );
    const tokens = createAccessTokens(TEST_JWT_SECRET);
    const auth = customerIds.map((id) => ({
      headers: { authorization: `Bearer ${tokens.issue({ userId: id, role: "customer" }).token}` },
    }));
    const clients = apiUrls.map((baseUrl) => createClient(OrderService, createGrpcTransport({ baseUrl })));

    return {
      databaseUrl,
      apiUrls,
      processes,

      async placeOrders({ durationMs, inFlight, cards = ["4242424242424242"] }) {
        const answers = new Map<string, number>();
        const outsideTheContract: string[] = [];
        const count = (answer: string) => answers.set(answer, (answers.get(answer) ?? 0) + 1);
        const end = Date.now() + durationMs;
        let next = 0;

        /** One order, retried as a client following the error contract would, until it is settled or refused. */
        async function placeOne(): Promise<void> {
          const n = next++;
          const requestId = randomUUID();
          const request = {
            requestId,
            lines: [
              { productId: productIds[n % PRODUCTS] ?? "", quantity: 1 + (n % 3) },
              { productId: productIds[(n + 3) % PRODUCTS] ?? "", quantity: 1 },
            ],
            card: testCard(cards[n % cards.length] ?? "4242424242424242"),
          };
          for (let attempt = 0; attempt < 60; attempt++) {
            try {
              // Each attempt may go to either replica, as behind a load balancer.
              await clients[(n + attempt) % clients.length]?.placeOrder(request, auth[n % auth.length]);
              count("OK");
              return;
            } catch (thrown) {
              const error = ConnectError.from(thrown);
              const reason = error.findDetails(ErrorInfoSchema)[0]?.reason ?? "(no ErrorInfo)";
              count(`${Code[error.code]} ${reason}`);
              if (error.code === Code.FailedPrecondition && ["OUT_OF_STOCK", "PAYMENT_DECLINED"].includes(reason))
                return;
              const retryAfter = error.findDetails(RetryInfoSchema)[0]?.retryDelay;
              if (error.code === Code.Unavailable && retryAfter !== undefined) {
                await sleep(Math.min(2_000, Number(retryAfter.seconds) * 1000 + retryAfter.nanos / 1e6));
                continue;
              }
              outsideTheContract.push(`${Code[error.code]} ${reason}: ${error.rawMessage}`);
              return;
            }
          }
          outsideTheContract.push(`still retrying order ${requestId} after 60 attempts`);
        }

        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            while (Date.now() < end) await placeOne();
          }),
        );
        return { answers, outsideTheContract };
      },

      async settled(emails) {
        await until(async () => {
          const { rows } = await db.query<{ unsettled: number; unmailed: number }>(
            `select (select count(*)::int from customer_order
                    where state = 'pending_payment' or (cancel_requested_at is not null and state <> 'cancelled')) as unsettled,
                  (select count(*)::int from customer_order where state = 'fulfilled') as unmailed`,
          );
          const fulfilled = rows[0]?.unmailed ?? 0;
          const confirmed = new Set(emails().map((mail) => mail.messageId)).size;
          return rows[0]?.unsettled === 0 && confirmed >= fulfilled;
        }, "every order settled and every confirmation received");
      },

      async invariants(emails) {
        const { rows: stock } = await db.query<{ id: string; on_hand: number; reserved: number; sold: number }>(
          `select p.id, p.stock_on_hand as on_hand, p.stock_reserved as reserved,
           coalesce((select sum(l.quantity) from order_line l join customer_order o on o.id = l.order_id
                     where l.product_id = p.id and o.state = 'fulfilled'), 0)::int as sold
         from product p where p.id = any($1::uuid[])`,
          [productIds],
        );
        const { rows: money } = await db.query<{ charged: number; refunded: number; fulfilled: number }>(
          `select coalesce((select sum(amount_minor) from payment.charge where status = 'succeeded'), 0)::int as charged,
                coalesce((select sum(amount_refunded_minor) from payment.charge), 0)::int as refunded,
                coalesce((select sum(total_minor) from customer_order where state = 'fulfilled'), 0)::int as fulfilled`,
        );
        const { rows: orders } = await db.query<{ id: string; state: string }>("select id, state from customer_order");
        const copies = new Map<string, number>();
        for (const mail of emails) {
          const id = /order-confirmation-([0-9a-f-]{36})@/.exec(mail.messageId ?? "")?.[1];
          if (id) copies.set(id, (copies.get(id) ?? 0) + 1);
        }
        const fulfilled = orders.filter((order) => order.state === "fulfilled");
        return {
          stockMismatches: stock
            .filter((row) => row.on_hand + row.sold !== INITIAL_STOCK || row.reserved !== 0)
            .map((row) => `${row.id}: on hand ${row.on_hand} + sold ${row.sold}, reserved ${row.reserved}`),
          netCharged: (money[0]?.charged ?? 0) - (money[0]?.refunded ?? 0),
          fulfilledTotal: money[0]?.fulfilled ?? 0,
          pendingOrders: orders.filter((order) => order.state === "pending_payment").length,
          fulfilledOrders: fulfilled.length,
          confirmationsMissing: fulfilled.filter((order) => !copies.has(order.id)).map((order) => order.id),
          confirmationsDuplicated: [...copies].filter(([, n]) => n > 1).map(([id]) => id),
        };
      },

      async stop() {
        for (const process of processes) process.child.kill("SIGTERM");
        await Promise.all(processes.map((process) => process.exited));
        await db.end();
        await dropDatabase(options.serverUrl, database);
      },
    };
  }
}

async function dropDatabase(serverUrl: string, database: string): Promise<void> {
  const cleanup = new pg.Client({ connectionString: serverUrl });
  await cleanup.connect();
  await cleanup.query(`drop database if exists "${database}" with (force)`);
  await cleanup.end();
}

/** Whether a server's gRPC health says SERVING now. */
export async function isServing(baseUrl: string): Promise<boolean> {
  try {
    const { status } = await createClient(Health, createGrpcTransport({ baseUrl })).check({}, { timeoutMs: 1_000 });
    return status === ServingStatus.SERVING;
  } catch {
    return false;
  }
}

/** That every answer was one the error contract allows: OK, a business refusal, or retryable. */
export const ALLOWED_ANSWERS = /^(OK|FailedPrecondition (OUT_OF_STOCK|PAYMENT_DECLINED)|Unavailable \w+)$/;
