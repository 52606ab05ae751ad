import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AddressObject, type ParsedMail, simpleParser } from "mailparser";
import nunjucks from "nunjucks";
import type { Logger } from "../logging/logger.js";
import type { PageHandler } from "../rpc/cleartext-server.js";
import { isLoopback } from "../rpc/listen-address.js";
import { ORDER_EMAIL_KINDS, type OrderEmailKind } from "./email-jobs.js";
import { type EmailRenderer, TemplateError } from "./email-templates.js";
import { sampleEmailContext } from "./sample-order.js";

const PAGES_DIR = fileURLToPath(new URL("../../templates/dev-mailbox/", import.meta.url));
/** The newest this many emails are listed; older ones stay on disk. */
const LISTED = 200;
const MESSAGE_NAME = /^[\w-]+\.eml$/;

/** Our own pages: no scripts at all, frames only from here. */
const PAGE_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; img-src data:; form-action 'none'";
/** An email's HTML: a sandbox of its own origin where nothing runs and nothing loads. */
const EMAIL_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/**
 * The development mailbox: the emails the development SMTP sink saved under `mailDir`, each
 * shown as its recipient would see it, and a preview of every email template on sample data.
 * It exists only when SMTP_URL is unset. It sends no CORS headers, and answers only requests
 * from this machine addressed to localhost or a loopback address, so neither another machine
 * nor a web site can read it, even through DNS rebinding.
 */
export function createDevMailbox(options: { mailDir: string; renderer: EmailRenderer; logger: Logger }): PageHandler {
  const pages = new nunjucks.Environment(new nunjucks.FileSystemLoader(PAGES_DIR), {
    autoescape: true,
    throwOnUndefined: true,
  });
  const routes: [RegExp, (match: RegExpMatchArray) => Promise<Reply>][] = [
    [/^\/mailbox\/?$/, () => inbox()],
    [/^\/mailbox\/messages\/([^/]+)$/, ([, name]) => message(name ?? "")],
    [/^\/mailbox\/messages\/([^/]+)\/html$/, ([, name]) => messageHtml(name ?? "")],
    [/^\/mailbox\/messages\/([^/]+)\/source$/, ([, name]) => messageSource(name ?? "")],
    [/^\/mailbox\/previews\/([a-z]+)$/, ([, kind]) => preview(kind ?? "")],
    [/^\/mailbox\/previews\/([a-z]+)\/html$/, ([, kind]) => previewHtml(kind ?? "")],
  ];

  const page = (template: string, context: object): Reply => ({
    status: 200,
    type: "text/html; charset=utf-8",
    policy: PAGE_POLICY,
    body: pages.render(template, context),
  });

  async function inbox(): Promise<Reply> {
    const names = (await readdir(options.mailDir).catch(unlessMissing([] as string[])))
      .filter((name) => MESSAGE_NAME.test(name))
      .sort()
      .reverse();
    const listed = await Promise.all(
      names.slice(0, LISTED).map(async (name) => summary(name, await simpleParser(await readMessage(name)))),
    );
    return page("inbox.html.njk", {
      messages: listed,
      unlisted: names.length - listed.length,
      kinds: ORDER_EMAIL_KINDS,
      mailDir: options.mailDir,
    });
  }

  async function message(name: string): Promise<Reply> {
    const mail = await simpleParser(await readMessage(name));
    return page("message.html.njk", { message: summary(name, mail), text: mail.text ?? "", hasHtml: !!mail.html });
  }

  async function messageHtml(name: string): Promise<Reply> {
    const mail = await simpleParser(await readMessage(name));
    return { status: 200, type: "text/html; charset=utf-8", policy: EMAIL_POLICY, body: mail.html || "" };
  }

  async function messageSource(name: string): Promise<Reply> {
    return { status: 200, type: "text/plain; charset=utf-8", policy: EMAIL_POLICY, body: await readMessage(name) };
  }

  async function preview(kind: string): Promise<Reply> {
    const email = renderSample(kind);
    return page("preview.html.njk", { kind, subject: email.subject, text: email.text, kinds: ORDER_EMAIL_KINDS });
  }

  async function previewHtml(kind: string): Promise<Reply> {
    return { status: 200, type: "text/html; charset=utf-8", policy: EMAIL_POLICY, body: renderSample(kind).html };
  }

  function renderSample(kind: string) {
    if (!(ORDER_EMAIL_KINDS as readonly string[]).includes(kind)) throw new NotFound();
    return options.renderer.render(kind as OrderEmailKind, sampleEmailContext());
  }

  async function readMessage(name: string): Promise<Buffer> {
    if (!MESSAGE_NAME.test(name)) throw new NotFound();
    return readFile(join(options.mailDir, name)).catch(
      unlessMissing<Buffer>(() => {
        throw new NotFound();
      }),
    );
  }

  /** A template edited into a broken state: what and where, as start-up would say it. */
  function templateErrorPage(path: string, error: TemplateError): Reply {
    const kind = /^\/mailbox\/previews\/([a-z]+)/.exec(path)?.[1] ?? "";
    const lines = error.source.split("\n");
    const around = error.line === undefined ? [] : lines.slice(Math.max(0, error.line - 4), error.line + 3);
    const first = error.line === undefined ? 0 : Math.max(1, error.line - 3);
    const excerpt = around.map((text, index) => ({ number: first + index, text }));
    return { ...page("template-error.html.njk", { kind, error, excerpt }), status: 500 };
  }

  async function answer(path: string, method: string): Promise<Reply> {
    if (method !== "GET" && method !== "HEAD") return plain(405, "The mailbox is read-only.");
    for (const [pattern, handle] of routes) {
      const match = path.match(pattern);
      if (match) return handle(match);
    }
    throw new NotFound();
  }

  return (req, res) => {
    const url = URL.parse(req.url ?? "/", "http://mailbox");
    if (url === null || (url.pathname !== "/mailbox" && !url.pathname.startsWith("/mailbox/"))) return false;
    const host = req.headers.host ?? req.headers[":authority"];
    const reply = isFromThisMachine(req.socket.remoteAddress, typeof host === "string" ? host : "")
      ? answer(url.pathname, req.method ?? "GET")
      : Promise.resolve(plain(403, "The development mailbox answers only on this machine, at localhost or 127.0.0.1."));
    reply
      .catch((error: unknown) => {
        if (error instanceof NotFound) return plain(404, "No such email or template.");
        if (error instanceof TemplateError) return templateErrorPage(url.pathname, error);
        options.logger.warn({ event: "dev_mailbox.failed", err: error, path: url.pathname }, "mailbox page failed");
        return plain(500, error instanceof Error ? error.message : String(error));
      })
      .then((done) => {
        res.statusCode = done.status;
        for (const [name, value] of Object.entries({
          "content-type": done.type,
          "content-security-policy": done.policy,
          "x-content-type-options": "nosniff",
          "referrer-policy": "no-referrer",
          "cache-control": "no-store",
          ...(done.status === 405 && { allow: "GET, HEAD" }),
        })) {
          res.setHeader(name, value);
        }
        if (req.method === "HEAD") res.end();
        else res.end(done.body);
      });
    return true;
  };
}

interface Reply {
  status: number;
  type: string;
  policy: string;
  body: string | Buffer;
}

class NotFound extends Error {}

/** What to do when a file or folder does not exist; any other error (EACCES, EMFILE) is not that. */
function unlessMissing<T>(fallback: T | (() => T)): (error: NodeJS.ErrnoException) => T {
  return (error) => {
    if (error.code !== "ENOENT") throw error;
    return typeof fallback === "function" ? (fallback as () => T)() : fallback;
  };
}

function plain(status: number, body: string): Reply {
  return { status, type: "text/plain; charset=utf-8", policy: EMAIL_POLICY, body };
}

function summary(name: string, mail: ParsedMail) {
  return {
    name,
    subject: mail.subject ?? "(no subject)",
    from: addresses(mail.from),
    to: addresses(mail.to),
    date:
      mail.date
        ?.toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, " UTC") ?? "",
    messageId: mail.messageId ?? "",
  };
}

function addresses(value: AddressObject | AddressObject[] | undefined): string {
  return (Array.isArray(value) ? value : value ? [value] : []).map((address) => address.text).join(", ");
}

/**
 * From a loopback address, and addressed to localhost, *.localhost or a loopback IP: never
 * from another machine, and never from a page whose DNS name was rebound to 127.0.0.1.
 */
function isFromThisMachine(remoteAddress: string | undefined, host: string): boolean {
  const hostname = host
    .replace(/:\d+$/, "")
    .replace(/^\[(.*)\]$/, "$1")
    .toLowerCase();
  const localName = hostname === "localhost" || hostname.endsWith(".localhost") || isLoopback(hostname);
  return localName && isLoopback(remoteAddress ?? "");
}
