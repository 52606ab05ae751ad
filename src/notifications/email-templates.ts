import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import nunjucks from "nunjucks";
import type { OrderView } from "../orders/order-repository.js";
import type { OrderEmailKind } from "./email-jobs.js";

const BUILT_IN_DIR = fileURLToPath(new URL("../../templates/email/", import.meta.url));
const PARTS = ["subject", "html", "text"] as const;

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

/** What every order email template sees, besides `shopName`. */
export interface OrderEmailContext {
  order: OrderView;
  customer: { displayName: string };
}

export interface EmailRenderer {
  render(kind: OrderEmailKind, context: OrderEmailContext): RenderedEmail;
}

/** Raised at start-up for a template that does not compile, naming its file and line. */
export class TemplateError extends Error {}

/**
 * Renders `order-<kind>.{subject,html,text}.njk`. A template of the same name in
 * `overrideDir` replaces the built-in one; the rest fall back. HTML is autoescaped (a product
 * named `<script>` is shown, not run); subject and text are plain text and are not.
 * Every template is compiled here, so a broken override stops start-up, not a delivery.
 * With `rereadFiles`, each render reads the files again: template previews show an edit on
 * the next reload.
 */
export function createEmailRenderer(
  options: { overrideDir?: string; shopName?: string; rereadFiles?: boolean } = {},
): EmailRenderer {
  const searchPath = options.overrideDir ? [options.overrideDir, BUILT_IN_DIR] : [BUILT_IN_DIR];
  const noCache = options.rereadFiles ?? false;
  const html = environment(searchPath, true, noCache);
  const plain = environment(searchPath, false, noCache);

  const names = new Set(readdirSync(BUILT_IN_DIR).filter((name) => name.endsWith(".njk")));
  for (const name of names) {
    const env = name.endsWith(".html.njk") ? html : plain;
    try {
      env.getTemplate(name, true);
    } catch (error) {
      throw new TemplateError(`email template ${name} does not compile: ${(error as Error).message}`);
    }
  }

  return {
    render(kind, context) {
      const full = { shopName: options.shopName ?? "Shop", ...context };
      const [subject, htmlBody, text] = PARTS.map((part) =>
        (part === "html" ? html : plain).render(`order-${kind}.${part}.njk`, full),
      ) as [string, string, string];
      return { subject: subject.trim().replace(/\s+/g, " "), html: htmlBody, text };
    },
  };
}

function environment(searchPath: string[], autoescape: boolean, noCache: boolean): nunjucks.Environment {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(searchPath, { noCache }), {
    autoescape,
    throwOnUndefined: true,
  });
  env.addFilter("money", formatMoney);
  env.addFilter("date", (value: Date) =>
    new Intl.DateTimeFormat("en-GB", { dateStyle: "long", timeStyle: "short", timeZone: "UTC" }).format(value),
  );
  return env;
}

/** Minor units in the currency's own exponent: 1250 EUR is €12.50, 500 JPY is ¥500. */
export function formatMoney(amountMinor: number, currencyCode: string): string {
  const format = new Intl.NumberFormat("en-GB", { style: "currency", currency: currencyCode });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(amountMinor / 10 ** digits);
}
