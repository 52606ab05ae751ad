import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import * as reflectionV1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as reflectionV1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/health/v1/health_pb.js";
import { MockPaymentGatewayService } from "../../gen/payment/v1/mock_payment_gateway_service_pb.js";
import { AuthService } from "../../gen/shop/v1/auth_service_pb.js";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { OrderService } from "../../gen/shop/v1/order_service_pb.js";
import { type BrokenRequest, brokenRequests, CATEGORIES } from "../support/broken-requests.js";
import { captureLogs, type LogLine } from "../support/captured-logs.js";
import { type RunningTestGateway, startTestGateway } from "../support/gateway.js";
import { createRawCaller, type RawAnswer } from "../support/raw-rpc.js";
import { type ListeningApi, startApiServer } from "../support/rpc-server.js";
import { seededRandom } from "../support/seeded-random.js";
import { createUser } from "../support/users.js";

const SEED = 20261129;
/** Calls in flight at once: enough to overlap database work, few enough for a small pool. */
const IN_FLIGHT = 8;
const INFRASTRUCTURE: DescService[] = [Health, reflectionV1.ServerReflection, reflectionV1alpha.ServerReflection];

interface Outcome {
  sent: BrokenRequest;
  answer?: RawAnswer;
  /** What went wrong with the answer, if anything. */
  problem?: string;
}

/** Sends every request, IN_FLIGHT at a time, and judges each answer against the contract. */
async function fuzz(baseUrl: string, domain: string, requests: BrokenRequest[]): Promise<Outcome[]> {
  const raw = createRawCaller(baseUrl);
  const outcomes: Outcome[] = [];
  let next = 0;
  const worker = async () => {
    for (let sent = requests[next++]; sent !== undefined; sent = requests[next++]) {
      try {
        const answer = await raw[sent.via](sent.request);
        outcomes.push({ sent, answer, problem: problemWith(sent, answer, domain) });
      } catch (error) {
        outcomes.push({ sent, problem: `no answer: ${error}` });
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  raw.close();
  return outcomes;
}

function problemWith(sent: BrokenRequest, answer: RawAnswer, domain: string): string | undefined {
  if (answer.outcome === "not an RPC") {
    // The protocols answer a content type they do not speak in plain HTTP: 415.
    return sent.category === "bad content type" && answer.httpStatus === 415
      ? undefined
      : `plain HTTP ${answer.httpStatus}`;
  }
  if (answer.outcome === "ok") return undefined;
  if (answer.outcome === Code.Internal || answer.outcome === Code.Unknown) {
    return `${Code[answer.outcome]}: ${answer.error?.rawMessage}`;
  }
  const [info, ...more] = answer.error?.findDetails(ErrorInfoSchema) ?? [];
  if (info === undefined || more.length > 0) return `${Code[answer.outcome]} without exactly one ErrorInfo`;
  if (info.domain !== domain || info.metadata.requestId !== answer.requestId || answer.requestId === null) {
    return `ErrorInfo ${JSON.stringify(info)} does not match domain ${domain} and request id ${answer.requestId}`;
  }
  return undefined;
}

function tally(outcomes: Outcome[], key: (outcome: Outcome) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[key(outcome)] = (counts[key(outcome)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

function statusOf({ answer }: Outcome): string {
  if (answer === undefined) return "no answer";
  if (answer.outcome === "not an RPC") return `HTTP ${answer.httpStatus}`;
  return answer.outcome === "ok" ? "OK" : Code[answer.outcome];
}

function report(server: string, outcomes: Outcome[]): void {
  const counted = (label: string, of: Outcome[], key: (outcome: Outcome) => string) =>
    `  ${label}: ${JSON.stringify(tally(of, key))}`;
  const broken = outcomes.filter(({ problem }) => problem !== undefined);
  console.log(
    [
      `${server}: ${outcomes.length} calls (seed ${SEED})`,
      counted("by category", outcomes, ({ sent }) => sent.category),
      counted("by protocol", outcomes, ({ sent }) => `${sent.protocol.name} over ${sent.via}`),
      counted("by answer", outcomes, statusOf),
      counted("contract broken", broken, ({ problem }) => problem?.split(":")[0] ?? ""),
      ...CATEGORIES.map((category) =>
        counted(
          category,
          outcomes.filter(({ sent }) => sent.category === category),
          statusOf,
        ),
      ),
    ].join("\n"),
  );
}

/** Every call answered in a protocol has an access log line with its request id. */
function unlogged(outcomes: Outcome[], lines: LogLine[]): string[] {
  const logged = new Set(lines.filter((line) => line.event === "rpc.completed").map((line) => line.correlationId));
  return outcomes
    .filter(({ answer }) => answer !== undefined && answer.outcome !== "not an RPC")
    .map(({ answer }) => answer?.requestId ?? "none")
    .filter((requestId) => !logged.has(requestId));
}

function methodsOf(...services: DescService[]): DescMethod[] {
  return services.flatMap((service) => service.methods);
}

function expectContractKept(outcomes: Outcome[], lines: LogLine[]): void {
  const problems = outcomes.filter(({ problem }) => problem !== undefined);
  const examples = problems
    .slice(0, 10)
    .map(
      ({ sent, problem }) =>
        `${sent.category}, ${sent.protocol.name} over ${sent.via}, ${sent.request.path}: ${problem}`,
    );
  expect(examples).toEqual([]);
  expect(unlogged(outcomes, lines).slice(0, 10)).toEqual([]);
}

async function expectServing(baseUrl: string): Promise<void> {
  const health = createClient(Health, createGrpcTransport({ baseUrl }));
  expect((await health.check({})).status).toBe(ServingStatus.SERVING);
}

describe("random and broken requests on every RPC and protocol", () => {
  const gatewayLogs = captureLogs();
  const apiLogs = captureLogs();
  let gateway: RunningTestGateway;
  let api: ListeningApi;
  beforeAll(async () => {
    gateway = await startTestGateway({}, { logger: gatewayLogs.logger });
    api = await startApiServer({ gatewayUrl: gateway.baseUrl, logger: apiLogs.logger });
  });
  afterAll(async () => {
    await api?.stop();
    await gateway?.stop();
  });

  it("the shop API answers them all in the error contract, never INTERNAL or UNKNOWN, and logs each", async () => {
    const admin = await createUser(api, "admin");
    const requests = brokenRequests(
      seededRandom(SEED),
      methodsOf(AuthService, InventoryService, OrderService, ...INFRASTRUCTURE),
      4,
      // Half of them signed in as an admin, so that what decodes reaches every handler.
      (random) => (random.chance(0.5) ? admin.auth.headers : {}),
    );
    const outcomes = await fuzz(api.baseUrl, "shop.v1", requests);
    report("shop API", outcomes);

    expectContractKept(outcomes, apiLogs.lines);
    await expectServing(api.baseUrl);
  });

  it("the payment gateway answers them all in the error contract, never INTERNAL or UNKNOWN, and logs each", async () => {
    const requests = brokenRequests(seededRandom(SEED), methodsOf(MockPaymentGatewayService, ...INFRASTRUCTURE), 6);
    const outcomes = await fuzz(gateway.baseUrl, "payment.v1", requests);
    report("payment gateway", outcomes);

    expectContractKept(outcomes, gatewayLogs.lines);
    await expectServing(gateway.baseUrl);
  });
});
