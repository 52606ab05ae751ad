import { isIP } from "node:net";
import { isAbsolute, resolve } from "node:path";

/**
 * The processes this project runs. Each reads only its variables, and in production needs only
 * what it uses: the payment gateway signs no tokens and the worker checks none, only the worker
 * sends mail, and only the all-in-one `npm start` runs a gateway of its own.
 */
export const PROCESSES = {
  "shop-dev": "`npm start`",
  "shop-api": "shop API",
  "payment-gateway": "payment gateway",
  "email-worker": "email worker",
  migrate: "`migrate`",
  "email-jobs": "`email-jobs`",
} as const;

export type ProcessName = keyof typeof PROCESSES;

const EVERY_PROCESS = Object.keys(PROCESSES) as ProcessName[];
/** The processes that serve on a port and stop gracefully. */
const SERVERS: ProcessName[] = ["shop-dev", "shop-api", "payment-gateway", "email-worker"];

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const NODE_ENVS = ["development", "production", "test"] as const;
/** The samplers of OTEL_TRACES_SAMPLER, as the OpenTelemetry specification names them. */
const TRACE_SAMPLERS = [
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
  "always_on",
  "always_off",
  "traceidratio",
] as const;
export type TraceSampler = (typeof TRACE_SAMPLERS)[number];

/** One environment variable: how it is read, its default, what it means, and who reads it. */
export interface Variable<T> {
  readonly name: string;
  /** Reads a value that is set; throws Invalid saying what is wrong with it. */
  readonly parse: (raw: string, cwd: string) => T;
  /** The value unset means, as one would write it; read like a set value. */
  readonly default?: string;
  /** What unset means, for a variable with no default value. */
  readonly unset?: string;
  /** One or two sentences for the documentation. */
  readonly meaning: string;
  readonly readBy: readonly ProcessName[];
  /** The processes that refuse to start without it when NODE_ENV=production. */
  readonly requiredInProductionBy?: readonly ProcessName[];
  /** For .env.example, when unset is the default: a value one might set. */
  readonly example?: string;
}

interface VariableSpec<T> extends Omit<Variable<T>, "default" | "unset"> {}

function variable<T>(spec: VariableSpec<T> & { default: string }): Variable<T>;
function variable<T>(spec: VariableSpec<T> & { unset: string }): Variable<T | undefined>;
function variable<T>(spec: Variable<T>): Variable<T> {
  return spec;
}

/** What a value is wrong with, said after the variable's name. */
class Invalid extends Error {}

const text = (raw: string) => raw;

function integer(min: number, max: number) {
  return (raw: string) => {
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      throw new Invalid(`must be a whole number from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  };
}

const port = integer(0, 65_535);

function portOrOff(raw: string): number | "off" {
  if (raw === "off") return "off";
  if (!/^\d+$/.test(raw) || Number(raw) > 65_535) {
    throw new Invalid(`must be a whole number from 0 to 65535, or off, got "${raw}"`);
  }
  return Number(raw);
}

function fraction(raw: string): number {
  if (!/^\d*\.?\d+$/.test(raw) || Number(raw) > 1) throw new Invalid(`must be a number from 0 to 1, got "${raw}"`);
  return Number(raw);
}

function oneOf<T extends string>(allowed: readonly T[]) {
  return (raw: string): T => {
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    throw new Invalid(`must be one of ${allowed.join(", ")}, got "${raw}"`);
  };
}

const flag = (raw: string) => oneOf(["true", "false"])(raw) === "true";

/** Never echoes the value: a URL may hold a password. */
function url(protocols: readonly string[]) {
  return (raw: string) => {
    const parsed = URL.parse(raw);
    if (parsed === null) throw new Invalid(`must be a URL (${protocols.join(" or ")}//...), got an unparseable value`);
    if (!protocols.includes(parsed.protocol))
      throw new Invalid(`must use ${protocols.join(" or ")}, got "${parsed.protocol}"`);
    return raw;
  };
}

const path = (raw: string, cwd: string) => (isAbsolute(raw) ? raw : resolve(cwd, raw));

/** Never echoes the value: it is a secret. */
function secret(minLength: number) {
  return (raw: string) => {
    if (raw.length < minLength) throw new Invalid(`must be at least ${minLength} characters long`);
    return raw;
  };
}

function ipAddress(raw: string): string {
  if (isIP(raw) === 0) throw new Invalid(`must be an IP address, such as 127.0.0.1, 0.0.0.0 or ::, got "${raw}"`);
  return raw;
}

function timeZone(raw: string): string {
  try {
    return new Intl.DateTimeFormat("en-GB", { timeZone: raw }).resolvedOptions().timeZone;
  } catch {
    throw new Invalid(`must be an IANA time zone, such as UTC or Europe/Paris, got "${raw}"`);
  }
}

function emailAddress(raw: string): string {
  if (!raw.includes("@")) throw new Invalid(`must be an email address, got "${raw}"`);
  return raw;
}

/**
 * Every variable the processes read, in the order the documentation lists them. Adding one here
 * is all it takes for it to be read, validated, typed in Config and documented: run
 * `npm run docs:config` to regenerate docs/configuration.md and .env.example.
 */
export const CONFIG_SCHEMA = {
  nodeEnv: variable({
    name: "NODE_ENV",
    parse: oneOf(NODE_ENVS),
    default: "development",
    meaning:
      "`development`, `production` or `test`. In production, embedded defaults are refused, and each process requires the variables it uses.",
    readBy: EVERY_PROCESS,
  }),
  host: variable({
    name: "HOST",
    parse: ipAddress,
    default: "127.0.0.1",
    meaning:
      "Address the servers listen on. The default answers this machine only. `::` listens on every interface (IPv6 and IPv4) and `0.0.0.0` on every IPv4 one, as containers must: the image, compose.yaml and the Kubernetes manifests set `::`.",
    readBy: SERVERS,
  }),
  port: variable({
    name: "PORT",
    parse: port,
    default: "50051",
    meaning:
      "Port of the shop API, for every protocol (gRPC, gRPC-Web, Connect) and the development pages. 0: any free port.",
    readBy: ["shop-dev", "shop-api"],
  }),
  paymentGatewayPort: variable({
    name: "PAYMENT_GATEWAY_PORT",
    parse: port,
    default: "50052",
    meaning:
      "Port of the MockPaymentGateway. Without `PAYMENT_GATEWAY_URL`, the shop API finds the gateway on this port of this machine.",
    readBy: ["shop-dev", "shop-api", "payment-gateway"],
  }),
  workerPort: variable({
    name: "WORKER_PORT",
    parse: port,
    default: "50053",
    meaning: "Port where the email worker answers gRPC health. Replicas on one host need one each.",
    readBy: ["shop-dev", "email-worker"],
  }),
  paymentGatewayUrl: variable({
    name: "PAYMENT_GATEWAY_URL",
    parse: url(["http:", "https:"]),
    unset: "`npm start` runs the built-in gateway on `PAYMENT_GATEWAY_PORT`",
    meaning: "URL of the payment gateway the shop API charges cards through.",
    readBy: ["shop-dev", "shop-api"],
    requiredInProductionBy: ["shop-api"],
    example: "http://payment-gateway:50052",
  }),
  databaseUrl: variable({
    name: "DATABASE_URL",
    parse: url(["postgres:", "postgresql:"]),
    unset: "an embedded PostgreSQL under `DATA_DIR/postgres`",
    meaning:
      "`postgres://` URL of the shop database, read whole: add `?sslmode=verify-full` for TLS. The gateway keeps its own `payment` schema there.",
    readBy: EVERY_PROCESS,
    requiredInProductionBy: EVERY_PROCESS,
    example: "postgres://shop:secret@127.0.0.1:5432/shop",
  }),
  dataDir: variable({
    name: "DATA_DIR",
    parse: path,
    default: ".data",
    meaning:
      "Where embedded defaults keep their state: the database, the development JWT secret and admin password, the emails of the development mailbox.",
    readBy: SERVERS.concat("migrate"),
  }),
  jwtSecret: variable({
    name: "JWT_SECRET",
    parse: secret(32),
    unset: "a development secret generated and kept under `DATA_DIR`",
    meaning: "Secret that signs access tokens (HS256), at least 32 characters. Replicas of the shop API share it.",
    readBy: ["shop-dev", "shop-api"],
    requiredInProductionBy: ["shop-dev", "shop-api"],
  }),
  adminEmail: variable({
    name: "ADMIN_EMAIL",
    parse: emailAddress,
    unset: "no admin account, except `admin@shop.localhost` when `npm start` runs on embedded defaults",
    meaning: "An admin account created, or its password and role reset, at start-up. Set it with `ADMIN_PASSWORD`.",
    readBy: ["shop-dev", "shop-api"],
    example: "admin@example.com",
  }),
  adminPassword: variable({
    name: "ADMIN_PASSWORD",
    parse: secret(8),
    unset: "see `ADMIN_EMAIL`",
    meaning: "The password of `ADMIN_EMAIL`, at least 8 characters.",
    readBy: ["shop-dev", "shop-api"],
  }),
  shop: {
    name: variable({
      name: "SHOP_NAME",
      parse: text,
      default: "Demo Shop",
      meaning: "The shop's name, as its emails show it: in their header, their footer and their sender.",
      readBy: ["shop-dev", "shop-api", "email-worker"],
    }),
    supportEmail: variable({
      name: "SHOP_SUPPORT_EMAIL",
      parse: emailAddress,
      unset: "emails ask customers to reply to them",
      meaning: "Where customers write with questions, named in every email.",
      readBy: ["shop-dev", "shop-api", "email-worker"],
      example: "help@example.com",
    }),
    supportUrl: variable({
      name: "SHOP_SUPPORT_URL",
      parse: url(["https:", "http:"]),
      unset: "no link",
      meaning: "A help page of the shop, linked from every email.",
      readBy: ["shop-dev", "shop-api", "email-worker"],
      example: "https://example.com/help",
    }),
    timeZone: variable({
      name: "SHOP_TIME_ZONE",
      parse: timeZone,
      default: "UTC",
      meaning: 'IANA time zone of the times in emails ("placed on 14 March 2026 at 16:09 CET"); emails name the zone.',
      readBy: ["shop-dev", "shop-api", "email-worker"],
    }),
  },
  smtpUrl: variable({
    name: "SMTP_URL",
    parse: url(["smtp:", "smtps:"]),
    unset: "a development SMTP server, whose emails the shop API shows at `/mailbox`",
    meaning: "`smtp://` or `smtps://` URL of the mail server, with its credentials.",
    readBy: ["shop-dev", "shop-api", "email-worker"],
    requiredInProductionBy: ["shop-dev", "email-worker"],
    example: "smtps://user:password@smtp.example.com:465",
  }),
  mailFrom: variable({
    name: "MAIL_FROM",
    parse: text,
    unset: "`SHOP_NAME` at `orders@shop.localhost`",
    meaning: "Sender of every email. Use an address of a domain your mail provider has verified.",
    readBy: ["shop-dev", "email-worker"],
    example: "Teal Mugs <orders@example.com>",
  }),
  emailTemplatesDir: variable({
    name: "EMAIL_TEMPLATES_DIR",
    parse: path,
    unset: "the built-in templates",
    meaning: "A folder of email templates, each replacing the built-in template of the same file name.",
    readBy: ["shop-dev", "shop-api", "email-worker"],
    example: "./my-templates",
  }),
  logLevel: variable({
    name: "LOG_LEVEL",
    parse: oneOf(LOG_LEVELS),
    default: "info",
    meaning: "`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`.",
    readBy: EVERY_PROCESS,
  }),
  shutdownGraceMs: variable({
    name: "SHUTDOWN_GRACE_MS",
    parse: integer(0, 600_000),
    default: "10000",
    meaning: "After SIGTERM, how long in-flight calls may run before they are cut off, in milliseconds.",
    readBy: SERVERS,
  }),
  orderPendingTimeoutMs: variable({
    name: "ORDER_PENDING_TIMEOUT_MS",
    parse: integer(0, 86_400_000),
    default: "60000",
    meaning:
      "How long an order may stay pending before the recovery loop asks the gateway what happened, in milliseconds.",
    readBy: ["shop-dev", "shop-api"],
  }),
  orderRecoveryIntervalMs: variable({
    name: "ORDER_RECOVERY_INTERVAL_MS",
    parse: integer(100, 3_600_000),
    default: "15000",
    meaning:
      "How often each API replica's recovery loop looks for orders left pending and cancellations left unfinished, in milliseconds.",
    readBy: ["shop-dev", "shop-api"],
  }),
  telemetry: {
    metricsPort: variable({
      name: "METRICS_PORT",
      parse: portOrOff,
      unset:
        "9464 for the shop API, 9465 for the payment gateway and 9466 for the email worker; in production, no metrics endpoint",
      meaning:
        "Port where a deployable serves its metrics as Prometheus text, at `/metrics`, on `HOST`. `off`: none. Under `npm start` it is the API's, and the gateway and the worker serve on the next two ports. 0: any free port.",
      readBy: SERVERS,
      example: "9464",
    }),
    sdkDisabled: variable({
      name: "OTEL_SDK_DISABLED",
      parse: flag,
      default: "false",
      meaning: "`true` turns OpenTelemetry off: no traces and no metrics pushed, whatever else is set.",
      readBy: SERVERS,
    }),
    serviceName: variable({
      name: "OTEL_SERVICE_NAME",
      parse: text,
      unset: "`shop-api`, `payment-gateway` or `email-worker`, by deployable",
      meaning:
        "The `service.name` of a deployable's traces and metrics. `npm start` keeps the three names, as it runs all three.",
      readBy: ["shop-api", "payment-gateway", "email-worker"],
      example: "shop-api-eu",
    }),
    exporterEndpoint: variable({
      name: "OTEL_EXPORTER_OTLP_ENDPOINT",
      parse: url(["http:", "https:"]),
      unset: "no traces are recorded or exported, at no cost",
      meaning:
        "Base URL of an OTLP/HTTP receiver (an OpenTelemetry Collector, Jaeger, Tempo): traces go to its `/v1/traces`. The exporters also read the other standard `OTEL_EXPORTER_OTLP_*` variables (headers, timeout, certificates) and `OTEL_RESOURCE_ATTRIBUTES`.",
      readBy: SERVERS,
      example: "http://127.0.0.1:4318",
    }),
    tracesEndpoint: variable({
      name: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
      parse: url(["http:", "https:"]),
      unset: "`OTEL_EXPORTER_OTLP_ENDPOINT`'s `/v1/traces`",
      meaning: "Full URL traces are sent to, when they go elsewhere than the other signals; it turns tracing on too.",
      readBy: SERVERS,
      example: "http://127.0.0.1:4318/v1/traces",
    }),
    protocol: variable({
      name: "OTEL_EXPORTER_OTLP_PROTOCOL",
      parse: oneOf(["http/protobuf", "http/json"] as const),
      default: "http/protobuf",
      meaning: "`http/protobuf` or `http/json`: how traces and pushed metrics are encoded.",
      readBy: SERVERS,
    }),
    sampler: variable({
      name: "OTEL_TRACES_SAMPLER",
      parse: oneOf(TRACE_SAMPLERS),
      default: "parentbased_always_on",
      meaning:
        "Which calls are traced: `parentbased_*` follow the caller's `traceparent` and apply the rest to calls that start a trace; `traceidratio` keeps the share `OTEL_TRACES_SAMPLER_ARG` of them.",
      readBy: SERVERS,
    }),
    samplerArg: variable({
      name: "OTEL_TRACES_SAMPLER_ARG",
      parse: fraction,
      default: "1",
      meaning: "The share of traces (0 to 1) the `traceidratio` samplers keep.",
      readBy: SERVERS,
    }),
    metricsExporter: variable({
      name: "OTEL_METRICS_EXPORTER",
      parse: oneOf(["none", "otlp"] as const),
      default: "none",
      meaning:
        "`otlp` also pushes the metrics over OTLP (to `OTEL_EXPORTER_OTLP_ENDPOINT`'s `/v1/metrics`), besides serving them on `METRICS_PORT`.",
      readBy: SERVERS,
    }),
    metricExportIntervalMs: variable({
      name: "OTEL_METRIC_EXPORT_INTERVAL",
      parse: integer(1_000, 3_600_000),
      default: "60000",
      meaning: "How often pushed metrics are sent, in milliseconds.",
      readBy: SERVERS,
    }),
  },
  paymentFaults: {
    latencyMs: variable({
      name: "PAYMENT_GATEWAY_FAULT_LATENCY_MS",
      parse: integer(0, 600_000),
      default: "0",
      meaning: "Fault injection: the MockPaymentGateway answers this many milliseconds late, after doing the work.",
      readBy: ["shop-dev", "payment-gateway"],
    }),
    failureRate: variable({
      name: "PAYMENT_GATEWAY_FAULT_FAILURE_RATE",
      parse: fraction,
      default: "0",
      meaning: "Fault injection: the share of calls (0 to 1) the MockPaymentGateway answers `UNAVAILABLE`.",
      readBy: ["shop-dev", "payment-gateway"],
    }),
    hangCharges: variable({
      name: "PAYMENT_GATEWAY_FAULT_HANG",
      parse: flag,
      default: "false",
      meaning: "Fault injection: `true` makes the MockPaymentGateway's charges never answer.",
      readBy: ["shop-dev", "payment-gateway"],
    }),
  },
};

type Schema = { readonly [key: string]: Variable<unknown> | Schema };
type ConfigOf<S> = { -readonly [K in keyof S]: S[K] extends Variable<infer T> ? T : ConfigOf<S[K]> };

/**
 * Everything the processes read from the environment, validated once at start-up. MAIL_FROM's
 * default is made of another variable's value, so it is set after reading (see loadConfig).
 */
export type Config = Omit<ConfigOf<typeof CONFIG_SCHEMA>, "mailFrom"> & { mailFrom: string };

/** Every variable of a schema, in order. */
export function variablesOf(schema: Schema = CONFIG_SCHEMA): Variable<unknown>[] {
  return Object.values(schema).flatMap((entry) => (isVariable(entry) ? [entry] : variablesOf(entry)));
}

/** A group may hold a variable under the key `name` (shop.name): a variable is told by its parser. */
function isVariable(entry: Variable<unknown> | Schema): entry is Variable<unknown> {
  return typeof entry.parse === "function";
}

/** Thrown with every offending variable at once, so one restart fixes them all. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(env: Env = process.env, cwd = process.cwd(), processName: ProcessName = "shop-dev"): Config {
  const problems: string[] = [];
  const production = env.NODE_ENV?.trim() === "production";
  const read = (schema: Schema): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(schema).map(([key, entry]) => {
        if (!isVariable(entry)) return [key, read(entry)];
        // Empty counts as unset, as it does for most tools that read the environment.
        const raw = env[entry.name]?.trim() || undefined;
        if (raw === undefined && production && entry.requiredInProductionBy?.includes(processName)) {
          // Embedded defaults keep data on the container's disk and mail in a sink: not for production.
          problems.push(`${entry.name} is required when NODE_ENV=production`);
        }
        const given = raw ?? entry.default;
        try {
          return [key, given === undefined ? undefined : entry.parse(given, cwd)];
        } catch (error) {
          if (!(error instanceof Invalid)) throw error;
          problems.push(`${entry.name} ${error.message}`);
          return [key, undefined];
        }
      }),
    );
  const values = read(CONFIG_SCHEMA) as ConfigOf<typeof CONFIG_SCHEMA>;
  const config: Config = {
    ...values,
    mailFrom: values.mailFrom ?? `${quoted(values.shop.name)} <orders@shop.localhost>`,
  };

  const isSet = (name: string) => (env[name]?.trim() ?? "") !== "";
  if (isSet("ADMIN_EMAIL") !== isSet("ADMIN_PASSWORD")) {
    problems.push("ADMIN_EMAIL and ADMIN_PASSWORD must be set together");
  }
  // A port that failed to read is undefined here: only two valid, non-zero ports can clash.
  if (config.port > 0 && config.port === config.paymentGatewayPort && config.paymentGatewayUrl === undefined) {
    problems.push(`PORT and PAYMENT_GATEWAY_PORT must differ (both are ${config.port})`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** A display name as an email header may hold it, whatever punctuation the shop's name has. */
function quoted(name: string): string {
  return `"${name.replace(/["\\]/g, "\\$&")}"`;
}
