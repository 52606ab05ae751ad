import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface SmtpCatcher {
  url: string;
  port: number;
  messages: ParsedMail[];
  /** The first message matching, waiting for it to arrive. */
  waitFor(predicate: (mail: ParsedMail) => boolean): Promise<ParsedMail>;
  stop(): Promise<void>;
}

/** A real SMTP server (smtp-server) for tests, parsing what it receives with mailparser. */
export async function startSmtpCatcher(port = 0): Promise<SmtpCatcher> {
  const messages: ParsedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          messages.push(mail);
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const bound = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${bound}`,
    port: bound,
    messages,
    async waitFor(predicate) {
      for (let attempt = 0; attempt < 300; attempt++) {
        const found = messages.find(predicate);
        if (found) return found;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error("no such email arrived within 30 s");
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
