/**
 * A real SMTP server on 127.0.0.1 for the container test, which runs the email worker from the
 * image against it. Prints the URL it listens on, then one JSON line per email it receives:
 * its Message-ID, from, to, subject and text. Stops on SIGTERM.
 *
 *   node --import tsx scripts/lib/smtp-sink.ts
 */
import type { AddressInfo } from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS"],
  logger: false,
  onData(stream, _session, callback) {
    simpleParser(stream).then((mail) => {
      const to = Array.isArray(mail.to) ? mail.to.map((address) => address.text).join(", ") : mail.to?.text;
      process.stdout.write(
        `${JSON.stringify({ messageId: mail.messageId, from: mail.from?.text, to, subject: mail.subject, text: mail.text })}\n`,
      );
      callback();
    }, callback);
  },
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}\n`);
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
