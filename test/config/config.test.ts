import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, type ProcessName } from "../../src/config/config.js";

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env, "/srv/shop");
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("configuration", () => {
  it("runs on embedded defaults when nothing is set", () => {
    expect(loadConfig({}, "/srv/shop")).toEqual({
      nodeEnv: "development",
      host: "127.0.0.1",
      port: 50051,
      paymentGatewayPort: 50052,
      workerPort: 50053,
      paymentGatewayUrl: undefined,
      databaseUrl: undefined,
      dataDir: "/srv/shop/.data",
      smtpUrl: undefined,
      shop: { name: "Demo Shop", supportEmail: undefined, supportUrl: undefined, timeZone: "UTC" },
      mailFrom: '"Demo Shop" <orders@shop.localhost>',

      jwtSecret: undefined,
      adminEmail: undefined,
      adminPassword: undefined,
      emailTemplatesDir: undefined,
      logLevel: "info",
      shutdownGraceMs: 10_000,
      orderPendingTimeoutMs: 60_000,
      orderRecoveryIntervalMs: 15_000,
      telemetry: {
        metricsPort: undefined,
        sdkDisabled: false,
        serviceName: undefined,
        exporterEndpoint: undefined,
        tracesEndpoint: undefined,
        protocol: "http/protobuf",
        sampler: "parentbased_always_on",
        samplerArg: 1,
        metricsExporter: "none",
        metricExportIntervalMs: 60_000,
      },
      paymentFaults: { latencyMs: 0, failureRate: 0, hangCharges: false },
    });
  });

  it("reads every variable", () => {
    const config = loadConfig(
      {
        NODE_ENV: "production",
        HOST: "::",
        PORT: "8080",
        PAYMENT_GATEWAY_PORT: "8081",
        WORKER_PORT: "8082",
        PAYMENT_GATEWAY_URL: "http://payments:8081",
        DATABASE_URL: "postgres://shop:secret@db:5432/shop",
        DATA_DIR: "/var/lib/shop",
        SMTP_URL: "smtps://user:pass@smtp.example.com:465",
        MAIL_FROM: "Orders <orders@example.com>",
        JWT_SECRET: "a".repeat(48),
        ADMIN_EMAIL: "admin@example.com",
        ADMIN_PASSWORD: "long enough",
        EMAIL_TEMPLATES_DIR: "templates/custom",
        LOG_LEVEL: "debug",
        SHUTDOWN_GRACE_MS: "30000",
        METRICS_PORT: "9464",
        OTEL_SERVICE_NAME: "shop-api-eu",
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "0.25",
        OTEL_METRICS_EXPORTER: "otlp",
      },
      "/srv/shop",
    );
    expect(config).toMatchObject({
      nodeEnv: "production",
      host: "::",
      port: 8080,
      workerPort: 8082,
      paymentGatewayUrl: "http://payments:8081",
      dataDir: "/var/lib/shop",
      emailTemplatesDir: "/srv/shop/templates/custom",
      logLevel: "debug",
      shutdownGraceMs: 30_000,
      telemetry: {
        metricsPort: 9464,
        serviceName: "shop-api-eu",
        exporterEndpoint: "http://collector:4318",
        protocol: "http/json",
        sampler: "parentbased_traceidratio",
        samplerArg: 0.25,
        metricsExporter: "otlp",
      },
    });
    expect(loadConfig({ METRICS_PORT: "off" }, "/srv/shop").telemetry.metricsPort).toBe("off");
  });

  it("names every offending variable at once, without echoing secrets", () => {
    const problems = problemsOf({
      HOST: "localhost:80",
      PORT: "http",
      PAYMENT_GATEWAY_PORT: "70000",
      DATABASE_URL: "mysql://root:hunter2@db/shop",
      SMTP_URL: "not a url",
      LOG_LEVEL: "loud",
      JWT_SECRET: "short",
      ADMIN_EMAIL: "admin@example.com",
      SHOP_TIME_ZONE: "Mars/Olympus",
      METRICS_PORT: "none",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
    });
    expect(problems).toEqual([
      'HOST must be an IP address, such as 127.0.0.1, 0.0.0.0 or ::, got "localhost:80"',
      'PORT must be a whole number from 0 to 65535, got "http"',
      'PAYMENT_GATEWAY_PORT must be a whole number from 0 to 65535, got "70000"',
      'DATABASE_URL must use postgres: or postgresql:, got "mysql:"',
      "JWT_SECRET must be at least 32 characters long",
      'SHOP_TIME_ZONE must be an IANA time zone, such as UTC or Europe/Paris, got "Mars/Olympus"',
      "SMTP_URL must be a URL (smtp: or smtps://...), got an unparseable value",
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'METRICS_PORT must be a whole number from 0 to 65535, or off, got "none"',
      'OTEL_EXPORTER_OTLP_PROTOCOL must be one of http/protobuf, http/json, got "grpc"',
      "ADMIN_EMAIL and ADMIN_PASSWORD must be set together",
    ]);
    expect(problems.join("\n")).not.toContain("hunter2");
  });

  it("requires real infrastructure in production, not embedded defaults", () => {
    expect(problemsOf({ NODE_ENV: "production" })).toEqual([
      "DATABASE_URL is required when NODE_ENV=production",
      "JWT_SECRET is required when NODE_ENV=production",
      "SMTP_URL is required when NODE_ENV=production",
    ]);
  });

  it("requires in production only what each process uses", () => {
    const problems = (processName: ProcessName) => {
      try {
        loadConfig({ NODE_ENV: "production" }, "/srv/shop", processName);
      } catch (error) {
        if (error instanceof ConfigError) return error.problems.map((problem) => problem.split(" ")[0]);
        throw error;
      }
      return [];
    };
    expect(problems("shop-api")).toEqual(["PAYMENT_GATEWAY_URL", "DATABASE_URL", "JWT_SECRET"]);
    expect(problems("payment-gateway")).toEqual(["DATABASE_URL"]);
    expect(problems("email-worker")).toEqual(["DATABASE_URL", "SMTP_URL"]);
    expect(problems("migrate")).toEqual(["DATABASE_URL"]);
    expect(problems("email-jobs")).toEqual(["DATABASE_URL"]);
  });

  it("accepts any free port (0) for both servers", () => {
    expect(loadConfig({ PORT: "0", PAYMENT_GATEWAY_PORT: "0" }, "/srv/shop")).toMatchObject({ port: 0 });
  });

  it("treats empty variables as unset", () => {
    expect(loadConfig({ PORT: "", DATABASE_URL: " " }, "/srv/shop")).toMatchObject({
      port: 50051,
      databaseUrl: undefined,
    });
  });
});
