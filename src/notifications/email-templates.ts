import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import nunjucks from "nunjucks";
import type { Config } from "../config/config.js";
import { brandName } from "../shared/card-numbers.js";
import { ORDER_EMAIL_KINDS, type OrderEmailKind } from "./email-jobs.js";
import type { OrderEmailContext } from "./order-email-context.js";
import { sampleEmailContext } from "./sample-order.js";

const BUILT_IN_DIR = fileURLToPath(new URL("../../templates/email/", import.meta.url));
const PARTS = ["subject", "html", "text"] as const;

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

/** The shop as its emails present it, and the time zone of their times. */
export type EmailSettings = Pick<Config, "emailTemplatesDir" | "shop">;

export interface EmailRenderer {
  /** Throws TemplateError for a template that cannot render this email. */
  render(kind: OrderEmailKind, context: OrderEmailContext): RenderedEmail;
}

/** A template that cannot render: which file, which line when known, and why. */
export class TemplateError extends Error {
  constructor(
    /** Absolute path of the template. */
    readonly file: string,
    /** 1-based; undefined when nunjucks cannot tell it. */
    readonly line: number | undefined,
    readonly problem: string,
    /** The template's text, as it was rendered. */
    readonly source: string,
  ) {
    super(`email template ${file}${line === undefined ? "" : `, line ${line}`}: ${problem}`);
    this.name = "TemplateError";
  }
}

/**
 * Renders `order-<kind>.{subject,html,text}.njk`. A template of the same name in
 * `emailTemplatesDir` replaces the built-in one; the rest fall back. HTML is autoescaped (a product
 * named `<script>` is shown, not run); subject and text are plain text and are not.
 *
 * Every email is rendered here, on the sample order, with an undefined variable and an unknown
 * filter as errors, so a broken template stops start-up rather than every delivery after it;
 * an override no email uses (a misspelt name) stops it too. With `rereadFiles`, each render
 * reads the files again and checks them the same way: template previews show an edit, or
 * what is wrong with it, on the next reload.
 */
export function createEmailRenderer(settings: EmailSettings, options: { rereadFiles?: boolean } = {}): EmailRenderer {
  const overrideDir = settings.emailTemplatesDir;
  const searchPath = overrideDir ? [overrideDir, BUILT_IN_DIR] : [BUILT_IN_DIR];
  const noCache = options.rereadFiles ?? false;
  const html = environment(searchPath, true, noCache, settings.shop.timeZone);
  const plain = environment(searchPath, false, noCache, settings.shop.timeZone);
  const shop = {
    name: settings.shop.name,
    supportEmail: settings.shop.supportEmail,
    supportUrl: settings.shop.supportUrl,
  };
  /** Every template read so far, by path, as last read. */
  const sources = new Map<string, string>();
  /** The templates read by the render under way: every one, with rereadFiles; else only new ones. */
  const readNow = new Set<string>();
  for (const env of [html, plain]) {
    env.on("load", (_name, source) => {
      sources.set(source.path, source.src);
      readNow.add(source.path);
    });
  }

  function render(kind: OrderEmailKind, context: OrderEmailContext): RenderedEmail {
    readNow.clear();
    const full = { shop, ...context };
    let parts: string[] | undefined;
    let failure: unknown;
    try {
      parts = PARTS.map((part) => (part === "html" ? html : plain).render(`order-${kind}.${part}.njk`, full));
    } catch (error) {
      failure = error;
    }
    // nunjucks finds an unknown filter only where it runs, and cannot say on which line: look
    // for every filter in every file just read, where the line is known.
    for (const file of readNow) unknownFilter(file, sources.get(file) ?? "", html);
    if (failure !== undefined) throw templateError(failure, sources);
    const [subject = "", htmlBody = "", text = ""] = parts ?? [];
    return { subject: subject.trim().replace(/\s+/g, " "), html: htmlBody, text: `${text.trimEnd()}\n` };
  }

  for (const kind of ORDER_EMAIL_KINDS) render(kind, sampleEmailContext());
  if (overrideDir) {
    for (const name of readdirSync(overrideDir).filter((file) => file.endsWith(".njk"))) {
      const file = join(overrideDir, name);
      if (!sources.has(file)) {
        const builtIn = readdirSync(BUILT_IN_DIR).join(", ");
        throw new TemplateError(file, undefined, `no email uses it; the templates it can replace are ${builtIn}`, "");
      }
    }
  }
  return { render };
}

function environment(searchPath: string[], autoescape: boolean, noCache: boolean, timeZone: string) {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(searchPath, { noCache }), {
    autoescape,
    throwOnUndefined: true,
  });
  // A time means nothing to a customer without its zone: "14 March 2026 at 16:09 CET".
  const dates = new Intl.DateTimeFormat("en-GB", {
    day: "numeric",
    month: "long",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
    timeZone,
  });
  addFilter(env, "money", formatMoney);
  addFilter(env, "date", (value: Date) => dates.format(value));
  addFilter(env, "cardBrand", brandName);
  return env;
}

/** A filter whose failure names it, since nunjucks cannot say on which line it was called. */
function addFilter(env: nunjucks.Environment, name: string, filter: (...args: never[]) => unknown): void {
  env.addFilter(name, (...args: never[]) => {
    try {
      return filter(...args);
    } catch (error) {
      throw new Error(`the ${name} filter failed: ${(error as Error).message}`);
    }
  });
}

/** Minor units in the currency's own exponent: 1250 EUR is €12.50, 500 JPY is ¥500. */
export function formatMoney(amountMinor: number, currencyCode: string): string {
  const format = new Intl.NumberFormat("en-GB", { style: "currency", currency: currencyCode });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(amountMinor / 10 ** digits);
}

/** A node of nunjucks' syntax tree (its parser is not in its type definitions). */
interface SyntaxNode {
  typename: string;
  /** 0-based. */
  lineno: number;
  /** The names of the properties holding its children. */
  fields: string[];
  name?: { value: string };
  [field: string]: unknown;
}
const { parser } = nunjucks as unknown as { parser: { parse(source: string): SyntaxNode } };

/** Throws TemplateError at the first filter of `source` that `env` does not know. */
function unknownFilter(file: string, source: string, env: nunjucks.Environment): void {
  for (const node of filterCalls(source)) {
    const name = node.name?.value ?? "";
    try {
      env.getFilter(name);
    } catch {
      throw new TemplateError(file, node.lineno + 1, `unknown filter "${name}"`, source);
    }
  }
}

/** The filters a template calls, in order; none when it does not parse (rendering says why). */
function filterCalls(source: string): SyntaxNode[] {
  let root: SyntaxNode;
  try {
    root = parser.parse(source);
  } catch {
    return [];
  }
  const calls: SyntaxNode[] = [];
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== "object" || !("typename" in node)) return;
    const syntax = node as SyntaxNode;
    if (syntax.typename === "Filter" || syntax.typename === "FilterAsync") calls.push(syntax);
    for (const field of syntax.fields) {
      const value = syntax[field];
      for (const child of Array.isArray(value) ? value : [value]) visit(child);
    }
  };
  visit(root);
  return calls.sort((a, b) => a.lineno - b.lineno);
}

/**
 * nunjucks says where a render failed in its message, as a chain of "(path) [Line n, Column
 * m]": the last path is the file that failed. Its line is right for a syntax error and for an
 * undefined value, and unreliable for errors thrown while rendering (it may name the line of
 * `{% extends %}`): a filter that failed is placed on the line that calls it, when only one
 * does, and any other such error gets no line rather than a wrong one.
 */
function templateError(error: unknown, sources: Map<string, string>): TemplateError {
  const message = error instanceof Error ? error.message : String(error);
  const places = [...message.matchAll(/\(([^()\n]+)\)(?: \[Line (\d+)(?:, Column \d+)?\])?/g)];
  const [, file = "", reported] = places.at(-1) ?? [];
  const source = sources.get(file) ?? "";
  const problem = (message.split("\n").at(-1) ?? message).trim().replace(/^Error: /, "");
  const line = reported === undefined ? undefined : Number(reported);
  if (!parses(source)) return new TemplateError(file, line, problem, source);
  if (problem === "attempted to output null or undefined value") {
    const code = line === undefined ? "" : `${source.split("\n")[line - 1]?.trim()} `;
    return new TemplateError(file, line, `${code}outputs a value that is undefined or null`, source);
  }
  const filter = /^the (\w+) filter failed/.exec(problem)?.[1];
  const calls = filterCalls(source).filter((node) => node.name?.value === filter);
  const [call] = calls;
  return new TemplateError(file, calls.length === 1 && call ? call.lineno + 1 : undefined, problem, source);
}

function parses(source: string): boolean {
  try {
    parser.parse(source);
    return true;
  } catch {
    return false;
  }
}
