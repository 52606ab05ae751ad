import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import { until } from "./until.js";

export interface SmtpCatcher {
  url: string;
  port: number;
  /** Every message received in full, acknowledged or not. */
  messages: ParsedMail[];
  /** Messages received in full whose sender is still waiting for the server's answer. */
  unanswered(): number;
  /** Answers the messages held so far, and every later one at once. */
  answerAll(): void;
  /** The first message matching, waiting for it to arrive. */
  waitFor(predicate: (mail: ParsedMail) => boolean): Promise<ParsedMail>;
  stop(): Promise<void>;
}

/**
 * A real SMTP server (smtp-server) for tests, parsing what it receives with mailparser. With
 * `holdAnswers`, it keeps each sender waiting after the message's last byte, as a slow
 * server does: the moment when a sender has sent an email but does not know it.
 */
export async function startSmtpCatcher(options: { port?: number; holdAnswers?: boolean } = {}): Promise<SmtpCatcher> {
  const messages: ParsedMail[] = [];
  const held: (() => void)[] = [];
  let holding = options.holdAnswers ?? false;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          messages.push(mail);
          if (holding) held.push(() => callback());
          else callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const bound = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${bound}`,
    port: bound,
    messages,
    unanswered: () => held.length,
    answerAll() {
      holding = false;
      for (const answer of held.splice(0)) answer();
    },
    async waitFor(predicate) {
      await until(() => messages.some(predicate), "such an email to arrive");
      return messages.find(predicate) as ParsedMail;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Whether a message is one of this order's emails: its Message-ID names the order. */
export function isAbout(mail: ParsedMail, orderId: string | undefined): boolean {
  return orderId !== undefined && orderId !== "" && (mail.messageId?.includes(orderId) ?? false);
}
