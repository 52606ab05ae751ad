import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { SMTPServer } from "smtp-server";
import type { Logger } from "../logging/logger.js";

/**
 * The development SMTP server used when SMTP_URL is unset: a real SMTP peer on 127.0.0.1
 * that keeps every message it receives as an .eml file under `dir`, named so that names sort
 * by arrival. The development mailbox page (dev-mailbox.ts) shows them.
 */
export async function startDevSmtpSink(dir: string, logger: Logger): Promise<{ url: string; stop(): Promise<void> }> {
  mkdirSync(dir, { recursive: true });
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const name = `${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(4).toString("hex")}.eml`;
        const file = join(dir, name);
        // Renamed into place whole, so the mailbox never reads half a message.
        writeFileSync(`${file}.partial`, Buffer.concat(chunks));
        renameSync(`${file}.partial`, file);
        logger.info({ event: "dev_smtp.received", file }, "development mailbox received an email");
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
