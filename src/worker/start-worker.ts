import { join } from "node:path";
import { Logger as GraphileLogger, run } from "graphile-worker";
import nodemailer from "nodemailer";
import pg from "pg";
import type { Running } from "../bin/process-lifecycle.js";
import type { Config } from "../config/config.js";
import { shopEntities } from "../db/entities.js";
import { shopMigrations } from "../db/migration-list.js";
import { openOrm } from "../db/orm.js";
import type { Logger } from "../logging/logger.js";
import { startDevSmtpSink } from "../notifications/dev-smtp-sink.js";
import { type OrderEmailKind, SEND_ORDER_EMAIL_TASK } from "../notifications/email-jobs.js";
import { createEmailRenderer } from "../notifications/email-templates.js";
import { createOrderEmails } from "../notifications/order-emails.js";

const CONCURRENCY = 4;

/**
 * The email worker: runs queued email jobs (graphile-worker, on the shop database) and sends
 * them over SMTP with nodemailer. Jobs that fail are retried with exponential backoff by the
 * queue; several replicas may run, each job is locked by one at a time.
 */
export async function startWorker(config: Config, databaseUrl: string, logger: Logger): Promise<Running> {
  const renderer = createEmailRenderer({ overrideDir: config.emailTemplatesDir });
  const sink = config.smtpUrl === undefined ? await startDevSmtpSink(join(config.dataDir, "mail"), logger) : undefined;
  const transport = nodemailer.createTransport(sink?.url ?? config.smtpUrl ?? "", { pool: true } as object);
  const orm = await openOrm({
    databaseUrl,
    entities: shopEntities,
    migrationsList: shopMigrations,
    migrationsTable: "shop_migrations",
    logger,
    poolSize: CONCURRENCY,
  });
  const emails = createOrderEmails({ em: orm.em, transport, renderer, mailFrom: config.mailFrom, logger });
  // Our own pool, so that an idle connection's error (the database restarting) is logged
  // rather than crashing the process, and so that stopping closes it for certain.
  const queuePool = new pg.Pool({ connectionString: databaseUrl, max: CONCURRENCY + 2 });
  queuePool.on("error", (error) => logger.warn({ event: "jobs.pool_error", err: error }, "job queue connection lost"));
  const runner = await run({
    pgPool: queuePool,
    concurrency: CONCURRENCY,
    noHandleSignals: true,
    pollInterval: 1_000,
    logger: new GraphileLogger(() => (level, message, meta) => {
      if (level === "error" || level === "warning") logger.warn({ event: "jobs.log", level, meta }, message);
    }),
    taskList: {
      async [SEND_ORDER_EMAIL_TASK](payload) {
        const { orderId, kind } = payload as { orderId: string; kind: OrderEmailKind };
        try {
          await emails.send(orderId, kind);
        } catch (error) {
          logger.warn({ event: "email.send_failed", orderId, kind, err: error }, "email not sent; will retry");
          throw error;
        }
      },
    },
  });
  logger.info({ event: "worker.started", smtp: sink ? "development sink" : "SMTP_URL" }, "email worker started");
  return {
    async stop() {
      await runner.stop();
      await queuePool.end();
      transport.close();
      await orm.close(true);
      await sink?.stop();
    },
  };
}
