import { isAbsolute, resolve } from "node:path";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** Everything the processes read from the environment, validated once at start-up. */
export interface Config {
  nodeEnv: "development" | "production" | "test";
  port: number;
  paymentGatewayPort: number;
  /** Where the email worker answers gRPC health. */
  workerPort: number;
  /** Unset: the all-in-one process starts the built-in gateway on paymentGatewayPort. */
  paymentGatewayUrl: string | undefined;
  /** Unset: an embedded PostgreSQL under dataDir. */
  databaseUrl: string | undefined;
  /** Absolute path. */
  dataDir: string;
  /** Unset: the built-in development SMTP sink. */
  smtpUrl: string | undefined;
  mailFrom: string;
  /** Unset outside production: a development secret generated and kept under dataDir. */
  jwtSecret: string | undefined;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  emailTemplatesDir: string | undefined;
  logLevel: LogLevel;
  shutdownGraceMs: number;
  /** How long an order may stay PENDING_PAYMENT before recovery asks the gateway about it. */
  orderPendingTimeoutMs: number;
  /** The MockPaymentGateway's injected faults; none unless asked for. */
  paymentFaults: { latencyMs: number; failureRate: number; hangCharges: boolean };
}

/** Thrown with every offending variable at once, so one restart fixes them all. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * What each process needs set in production, where embedded defaults are refused: the
 * payment gateway signs no tokens and the worker checks none, only the worker sends mail, and
 * only the all-in-one `npm start` runs a gateway of its own.
 */
const PRODUCTION_REQUIREMENTS = {
  "shop-api": ["DATABASE_URL", "JWT_SECRET", "PAYMENT_GATEWAY_URL"],
  "payment-gateway": ["DATABASE_URL"],
  "email-worker": ["DATABASE_URL", "SMTP_URL"],
  "shop-dev": ["DATABASE_URL", "JWT_SECRET", "SMTP_URL"],
  migrate: ["DATABASE_URL"],
  "email-jobs": ["DATABASE_URL"],
} as const;

/** The processes this project runs, each with its own needs (PRODUCTION_REQUIREMENTS). */
export type ProcessName = keyof typeof PRODUCTION_REQUIREMENTS;

const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const NODE_ENVS = ["development", "production", "test"] as const;
const MIN_JWT_SECRET_LENGTH = 32;

export function loadConfig(env: Env = process.env, cwd = process.cwd(), processName: ProcessName = "shop-dev"): Config {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);

  const nodeEnv = read.oneOf("NODE_ENV", NODE_ENVS, "development");
  const config: Config = {
    nodeEnv,
    port: read.port("PORT", 50051),
    paymentGatewayPort: read.port("PAYMENT_GATEWAY_PORT", 50052),
    workerPort: read.port("WORKER_PORT", 50053),
    paymentGatewayUrl: read.url("PAYMENT_GATEWAY_URL", ["http:", "https:"]),
    databaseUrl: read.url("DATABASE_URL", ["postgres:", "postgresql:"]),
    dataDir: absolute(read.text("DATA_DIR") ?? ".data", cwd),
    smtpUrl: read.url("SMTP_URL", ["smtp:", "smtps:"]),
    mailFrom: read.text("MAIL_FROM") ?? "Shop <orders@shop.localhost>",
    jwtSecret: read.text("JWT_SECRET"),
    adminEmail: read.text("ADMIN_EMAIL"),
    adminPassword: read.text("ADMIN_PASSWORD"),
    emailTemplatesDir: optionalAbsolute(read.text("EMAIL_TEMPLATES_DIR"), cwd),
    logLevel: read.oneOf("LOG_LEVEL", LOG_LEVELS, "info"),
    shutdownGraceMs: read.integer("SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    orderPendingTimeoutMs: read.integer("ORDER_PENDING_TIMEOUT_MS", 60_000, 0, 86_400_000),
    paymentFaults: {
      latencyMs: read.integer("PAYMENT_GATEWAY_FAULT_LATENCY_MS", 0, 0, 600_000),
      failureRate: read.fraction("PAYMENT_GATEWAY_FAULT_FAILURE_RATE", 0),
      hangCharges: read.oneOf("PAYMENT_GATEWAY_FAULT_HANG", ["true", "false"], "false") === "true",
    },
  };

  if (config.jwtSecret !== undefined && config.jwtSecret.length < MIN_JWT_SECRET_LENGTH) {
    problems.push(`JWT_SECRET must be at least ${MIN_JWT_SECRET_LENGTH} characters long`);
  }
  if (nodeEnv === "production") {
    // Embedded defaults keep data on the container's disk and mail in a sink: not for production.
    const set = {
      DATABASE_URL: config.databaseUrl,
      JWT_SECRET: config.jwtSecret,
      SMTP_URL: config.smtpUrl,
      PAYMENT_GATEWAY_URL: config.paymentGatewayUrl,
    };
    for (const name of PRODUCTION_REQUIREMENTS[processName]) {
      if (set[name] === undefined) problems.push(`${name} is required when NODE_ENV=production`);
    }
  }
  if ((config.adminEmail === undefined) !== (config.adminPassword === undefined)) {
    problems.push("ADMIN_EMAIL and ADMIN_PASSWORD must be set together");
  }
  if (config.adminEmail !== undefined && !config.adminEmail.includes("@")) {
    problems.push(`ADMIN_EMAIL must be an email address, got "${config.adminEmail}"`);
  }
  if (config.adminPassword !== undefined && config.adminPassword.length < 8) {
    problems.push("ADMIN_PASSWORD must be at least 8 characters long");
  }
  if (config.port !== 0 && config.port === config.paymentGatewayPort && config.paymentGatewayUrl === undefined) {
    problems.push(`PORT and PAYMENT_GATEWAY_PORT must differ (both are ${config.port})`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Reads variables, recording a problem for each bad one instead of stopping at the first. */
class EnvReader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  /** Empty counts as unset, as it does for most tools that read the environment. */
  text(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  }

  fraction(name: string, fallback: number): number {
    const raw = this.text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d*\.?\d+$/.test(raw) || value > 1) {
      this.problems.push(`${name} must be a number from 0 to 1, got "${raw}"`);
      return fallback;
    }
    return value;
  }

  port(name: string, fallback: number): number {
    return this.integer(name, fallback, 0, 65_535);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.text(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    this.problems.push(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
    return fallback;
  }

  url(name: string, protocols: readonly string[]): string | undefined {
    const raw = this.text(name);
    if (raw === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      this.problems.push(`${name} must be a URL (${protocols.join(" or ")}//...), got an unparseable value`);
      return undefined;
    }
    if (!protocols.includes(parsed.protocol)) {
      this.problems.push(`${name} must use ${protocols.join(" or ")}, got "${parsed.protocol}"`);
      return undefined;
    }
    return raw;
  }
}

function absolute(path: string, cwd: string): string {
  return isAbsolute(path) ? path : resolve(cwd, path);
}

function optionalAbsolute(path: string | undefined, cwd: string): string | undefined {
  return path === undefined ? undefined : absolute(path, cwd);
}
