/**
 * `npm start`: the whole system on one machine with no configuration. An embedded PostgreSQL
 * (unless DATABASE_URL), the MockPaymentGateway (unless PAYMENT_GATEWAY_URL), the shop API and
 * the email worker, each on its own port or connection as in production. Each reports as itself:
 * its own service name in traces, its own /metrics port (METRICS_PORT and the next two).
 */
// First, so that pg is instrumented as it loads.
import "../telemetry/instrument-libraries.js";
import { startApi } from "../api/start-api.js";
import { devAdminCredentials } from "../auth/dev-admin.js";
import type { Config } from "../config/config.js";
import { provideDatabaseServer } from "../db/database.js";
import { seedDemoCatalogue } from "../inventory/demo-catalogue.js";
import { startGateway } from "../payment-gateway/start-gateway.js";
import { type Running, runProcess, stopInReverse } from "../process/lifecycle.js";
import { isLoopback, localUrlHost } from "../rpc/listen-address.js";
import { openShopDatabase } from "../shop-database/shop-database.js";
import { type Deployable, metricsPortOf, type RunningTelemetry, startTelemetry } from "../telemetry/telemetry.js";
import { startWorker } from "../worker/start-worker.js";

/** The address the README's first order calls: `npm start`'s defaults. */
const FIRST_ORDER_API = "127.0.0.1:50051";
const builtInGateway = (config: Config) => config.paymentGatewayUrl === undefined;

const listensOn = (config: Config) => ({
  PORT: config.port,
  // The built-in gateway runs only when no other is named.
  PAYMENT_GATEWAY_PORT: builtInGateway(config) ? config.paymentGatewayPort : undefined,
  WORKER_PORT: config.workerPort,
  METRICS_PORT: metricsPortOf(config, "shop-api", true),
  "METRICS_PORT+1": builtInGateway(config) ? metricsPortOf(config, "payment-gateway", true) : undefined,
  "METRICS_PORT+2": metricsPortOf(config, "email-worker", true),
});

const COMPONENTS: Record<Deployable, string> = {
  "shop-api": "api",
  "payment-gateway": "payment-gateway",
  "email-worker": "worker",
};

await runProcess("shop-dev", listensOn, async (config, logger) => {
  const started: Running[] = [];
  const stopAll = () => stopInReverse(started);
  const telemetries: RunningTelemetry[] = [];
  /** Each deployable's, started before it and so stopped after it. */
  const telemetryOf = async (deployable: Deployable): Promise<RunningTelemetry> => {
    const telemetry = await startTelemetry({
      config,
      deployable,
      logger: logger.child({ component: COMPONENTS[deployable] }),
      metricsPort: metricsPortOf(config, deployable, true),
      allInOne: true,
    });
    started.push(telemetry);
    telemetries.push(telemetry);
    return telemetry;
  };
  try {
    const database = await provideDatabaseServer(config, logger);
    started.push(database);
    const admin =
      config.adminEmail === undefined && database.embedded
        ? devAdminCredentials(config.dataDir)
        : { email: config.adminEmail, password: config.adminPassword };
    if (database.embedded) {
      const orm = await openShopDatabase(database.databaseUrl, logger);
      const seeded = await seedDemoCatalogue(orm.em);
      if (seeded > 0) logger.info({ event: "db.seeded", products: seeded }, "seeded the demo catalogue");
      await orm.close(true);
    }
    const gateway = builtInGateway(config)
      ? await startGateway(
          config,
          database.databaseUrl,
          logger.child({ component: COMPONENTS["payment-gateway"] }),
          await telemetryOf("payment-gateway"),
        )
      : undefined;
    if (gateway) started.push(gateway);
    const api = await startApi(
      { ...config, adminEmail: admin.email, adminPassword: admin.password },
      database.databaseUrl,
      logger.child({ component: COMPONENTS["shop-api"] }),
      await telemetryOf("shop-api"),
    );
    started.push(api);
    const worker = await startWorker(
      config,
      database.databaseUrl,
      logger.child({ component: COMPONENTS["email-worker"] }),
      {},
      await telemetryOf("email-worker"),
    );
    started.push(worker);
    const metrics = telemetries.flatMap((telemetry) =>
      telemetry.metricsPort === undefined ? [] : [{ of: telemetry.serviceName, port: telemetry.metricsPort }],
    );
    process.stdout.write(
      banner(config, { api: api.port, gateway: gateway?.port, worker: worker.port, metrics }, admin),
    );
  } catch (error) {
    await stopAll();
    throw error;
  }
  return { stop: stopAll };
});

function banner(
  config: Config,
  ports: {
    api: number;
    gateway: number | undefined;
    worker: number;
    /** Where each deployable serves /metrics, by its name. */
    metrics: { of: string; port: number }[];
  },
  admin: { email: string | undefined; password: string | undefined },
): string {
  const host = localUrlHost(config.host);
  const api = `${host}:${ports.api}`;
  const bufCurl = "npx buf curl --protocol grpc --http2-prior-knowledge";
  const login = `{"email": "${admin.email}", "password": "${admin.password}"}`;
  const adminLines =
    admin.email === undefined
      ? ""
      : `  Admin account:      ${admin.email}${config.adminEmail === undefined ? `  password: ${admin.password}` : "  (from ADMIN_EMAIL)"}
    TOKEN=$(${bufCurl} -d '${config.adminEmail === undefined ? login : '{"email": "…", "password": "…"}'}' http://${api}/shop.v1.AuthService/Login | node -p 'JSON.parse(fs.readFileSync(0)).accessToken')
    ${bufCurl} -H "authorization: Bearer $TOKEN" http://${api}/shop.v1.AuthService/GetCurrentUser

`;
  const gateway = ports.gateway === undefined ? config.paymentGatewayUrl : `${host}:${ports.gateway}`;
  const reach = isLoopback(config.host)
    ? `for this machine only (HOST=${config.host})`
    : `on ${config.host} (HOST), where other machines can reach it`;
  return `
  Shop backend is running ${reach}.

    In a browser      http://${api}/  (the services, their calls, links to the mailbox and Buf Studio)
    Shop API          ${api}  (gRPC, gRPC-Web and Connect; reflection and health enabled)
    Payment gateway   ${gateway}
    Database          ${config.databaseUrl === undefined ? `embedded PostgreSQL in ${config.dataDir}/postgres` : "DATABASE_URL"}
    Email worker      health on ${host}:${ports.worker}
    Metrics           ${metricsLines(host, ports.metrics)}
    Emails            ${config.smtpUrl === undefined ? `development mailbox: http://${api}/mailbox  (saved in ${config.dataDir}/mail)` : "SMTP_URL"}

  Try it, from another terminal in this directory:
    ${bufCurl} --list-methods http://${api}
    ${bufCurl} -d '{"page_size": 5}' http://${api}/shop.v1.InventoryService/ListProducts
    curl -s -H 'content-type: application/json' -d '{}' http://${api}/grpc.health.v1.Health/Check
  or with grpcurl, if you have it:
    grpcurl -plaintext ${api} list

  Your first order, from sign-up to its email in the mailbox: README.md#your-first-order${
    api === FIRST_ORDER_API
      ? ""
      : `
  (its commands call ${FIRST_ORDER_API}: use ${api} instead)`
  }

${adminLines}  Buf Studio: https://buf.build/studio with target http://${api}
  Stop with Ctrl-C.

`;
}

/** Each deployable's /metrics, the API's first, one a line. */
function metricsLines(host: string, metrics: { of: string; port: number }[]): string {
  if (metrics.length === 0) return "off (METRICS_PORT=off)";
  return metrics
    .sort((a, b) => a.port - b.port)
    .map(({ of, port }) => `http://${host}:${port}/metrics  (${of})`)
    .join(`\n${" ".repeat(22)}`);
}
