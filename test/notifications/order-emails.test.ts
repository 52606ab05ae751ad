import { writeFileSync } from "node:fs";
import { join } from "node:path";
import nodemailer from "nodemailer";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderState } from "../../gen/shop/v1/order_service_pb.js";
import { loadConfig } from "../../src/config/config.js";
import { ORDER_EMAIL_KINDS, type OrderEmailKind } from "../../src/notifications/email-jobs.js";
import { createEmailRenderer } from "../../src/notifications/email-templates.js";
import { createOrderEmails, EmailBeingSent, type OrderEmails } from "../../src/notifications/order-emails.js";
import { sampleEmailContext } from "../../src/notifications/sample-order.js";
import type { Running } from "../../src/process/lifecycle.js";
import { startWorker } from "../../src/worker/start-worker.js";
import { useOrderApi } from "../support/order-fixture.js";
import { createProduct } from "../support/products.js";
import { testLogger } from "../support/silent-logger.js";
import { isAbout, type SmtpCatcher, startSmtpCatcher } from "../support/smtp-catcher.js";
import { temporaryDirectory } from "../support/temp-dirs.js";
import { until } from "../support/until.js";
import { createUser } from "../support/users.js";

function workerConfig(smtpUrl: string, templatesDir?: string) {
  return loadConfig({
    SMTP_URL: smtpUrl,
    MAIL_FROM: "Test Shop <orders@shop.test>",
    WORKER_PORT: "0",
    DATA_DIR: temporaryDirectory("worker"),
    ...(templatesDir && { EMAIL_TEMPLATES_DIR: templatesDir }),
  });
}

describe("confirmation emails", () => {
  const fixture = useOrderApi({}, { ownDatabase: "emails_confirmation" });
  let smtp: SmtpCatcher;
  let worker: Running;
  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    worker = await startWorker(workerConfig(smtp.url), fixture.databaseUrl, testLogger);
  });
  afterAll(async () => {
    await worker.stop();
    await smtp.stop();
  });

  it("sends the confirmation with every item and the totals; HTML shows a <script> name, never runs it", async () => {
    const customer = await createUser(fixture.api);
    const mug = await createProduct(fixture.inventory, fixture.admin, {
      name: "<script>alert(1)</script> Mug",
      amountMinor: 1250n,
      initialStock: 5,
    });
    const { order } = await fixture.place(customer, [{ productId: mug.id, quantity: 2 }]);
    expect(order?.state).toBe(OrderState.FULFILLED);

    const mail = await smtp.waitFor((m) => isAbout(m, order?.id));
    expect(mail.subject).toBe(`Your order #${order?.number} is confirmed`);
    expect(mail.to && "text" in mail.to ? mail.to.text : "").toBe(customer.email);
    expect(mail.messageId).toBe(`<order-confirmation-${order?.id}@shop.test>`);
    expect(mail.text).toContain(`<script>alert(1)</script> Mug (${mug.sku}): 2 x €12.50 = €25.00`);
    expect(mail.text).toContain("Total: €25.00");
    expect(mail.text).toContain(`Paid with Visa ending in 4242.`);
    expect(mail.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt; Mug");
    expect(mail.html).not.toContain("<script>");
  });

  it("when the order has several lines, then the confirmation lists each and totals them all", async () => {
    const customer = await createUser(fixture.api);
    const mug = await createProduct(fixture.inventory, fixture.admin, { name: "Mug", amountMinor: 1250n });
    const tea = await createProduct(fixture.inventory, fixture.admin, { name: "Tea", amountMinor: 700n });
    const { order } = await fixture.place(customer, [
      { productId: mug.id, quantity: 2 },
      { productId: tea.id, quantity: 3 },
    ]);
    expect(order?.total?.amountMinor).toBe(4600n);

    const mail = await smtp.waitFor((m) => isAbout(m, order?.id));
    expect(mail.text).toContain(
      `- Mug (${mug.sku}): 2 x €12.50 = €25.00\n- Tea (${tea.sku}): 3 x €7.00 = €21.00\n\nSubtotal: €46.00\nTotal: €46.00\n`,
    );
    for (const shown of ["€25.00", "€21.00", "€46.00"]) expect(mail.html).toContain(shown);
  });
});

describe("emails a shop would send", () => {
  const config = loadConfig({
    SHOP_NAME: "Teal Mugs & Co",
    SHOP_SUPPORT_EMAIL: "help@teal.example",
    SHOP_SUPPORT_URL: "https://teal.example/help",
    SHOP_TIME_ZONE: "Europe/Paris",
  });
  const renderer = createEmailRenderer(config);
  const render = (kind: OrderEmailKind, card = { brand: "visa", last4: "4242" }) => {
    const context = sampleEmailContext();
    return renderer.render(kind, { ...context, order: { ...context.order, card } });
  };

  it("come from the shop, by its name", () => {
    expect(config.mailFrom).toBe('"Teal Mugs & Co" <orders@shop.localhost>');
  });

  it.each(ORDER_EMAIL_KINDS)("%s: name the shop and where to ask questions, in both parts", (kind) => {
    const { html, text } = render(kind);
    expect(html).toContain(">Teal Mugs &amp; Co</header>");
    expect(html).toContain('<a href="mailto:help@teal.example"');
    expect(html).toContain('<a href="https://teal.example/help"');
    expect(text).toMatch(
      /\nTeal Mugs & Co\nQuestions\? Write to help@teal\.example, or visit https:\/\/teal\.example\/help\.\n$/,
    );
  });

  it.each(ORDER_EMAIL_KINDS)("%s: name the card's network as customers know it", (kind) => {
    expect(render(kind).text).toMatch(/(with|your) Visa ending in 4242/);
    expect(render(kind, { brand: "mastercard", last4: "4444" }).html).toMatch(/(with|your) Mastercard ending in 4444/);
    expect(render(kind, { brand: "unknown", last4: "0000" }).text).toMatch(/(with|your) card ending in 0000/);
  });

  it("give times in the shop's time zone, and name the zone", () => {
    // The sample order was placed at 15:09 UTC, in winter: 16:09 in Paris.
    for (const part of ["html", "text"] as const) {
      expect(render("confirmation")[part]).toContain("placed on 14 March 2026 at 16:09 CET");
    }
  });

  it.each(ORDER_EMAIL_KINDS)(
    "%s: list every line with its total, then the subtotal and total, in the text part too",
    (kind) => {
      const { text } = render(kind);
      expect(text).toContain("- Teal mug (MUG-TEAL): 2 x €12.50 = €25.00\n");
      expect(text).toContain("\nSubtotal: €47.40\nTotal: €47.40\n");
    },
  );

  it("without support details, ask customers to reply", () => {
    const { text, html } = createEmailRenderer(loadConfig({})).render("confirmation", sampleEmailContext());
    expect(text).toMatch(/\nDemo Shop\nQuestions\? Just reply to this email\.\n$/);
    expect(html).toContain("Questions? Just reply to this email.");
  });
});

describe("email delivery when SMTP is down for a while", () => {
  const fixture = useOrderApi({}, { ownDatabase: "emails_smtp_down" });

  it("delivers the email once SMTP is back, exactly once", async () => {
    const probe = await startSmtpCatcher();
    const port = probe.port;
    await probe.stop(); // nothing listens on this port now
    const worker = await startWorker(workerConfig(`smtp://127.0.0.1:${port}`), fixture.databaseUrl, testLogger);
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const { order } = await fixture.place(customer, [{ productId: product.id, quantity: 1 }]);
    const key = `order-confirmation:${order?.id}`;
    await until(async () => {
      const [job] = await fixture.api.orm.em
        .fork()
        .execute<{ attempts: number }[]>("select attempts from graphile_worker.jobs where key = ?", [key]);
      return (job?.attempts ?? 0) >= 1;
    }, "the worker to try");

    const smtp = await startSmtpCatcher({ port });
    await smtp.waitFor((m) => isAbout(m, order?.id));
    await worker.stop();
    expect(smtp.messages.filter((m) => isAbout(m, order?.id))).toHaveLength(1);
    await smtp.stop();
  });
});

describe("customized templates", () => {
  const fixture = useOrderApi({}, { ownDatabase: "emails_templates" });

  it("uses an override by file name and the built-in templates for the rest", async () => {
    const templates = temporaryDirectory("templates");
    writeFileSync(
      join(templates, "order-confirmation.subject.njk"),
      "Thanks {{ customer.displayName }}! Order #{{ order.number }}",
    );
    const smtp = await startSmtpCatcher();
    const worker = await startWorker(workerConfig(smtp.url, templates), fixture.databaseUrl, testLogger);
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const { order } = await fixture.place(customer, [{ productId: product.id, quantity: 1 }]);
    const mail = await smtp.waitFor((m) => isAbout(m, order?.id));
    await worker.stop();
    await smtp.stop();
    expect(mail.subject).toBe(`Thanks Test customer! Order #${order?.number}`);
    expect(mail.text).toContain("Total: €12.50");
  });

  it("restyles every email from an overridden layout alone", () => {
    const templates = temporaryDirectory("templates");
    writeFileSync(
      join(templates, "layout.html.njk"),
      '<html><body class="brand">{% block header %}{{ shop.name }}{% endblock %}<main>{% block content %}{% endblock %}</main></body></html>',
    );
    const renderer = createEmailRenderer(loadConfig({ EMAIL_TEMPLATES_DIR: templates, SHOP_NAME: "Teal Shop" }));
    for (const kind of ["confirmation", "cancellation"] as const) {
      const { html } = renderer.render(kind, sampleEmailContext());
      expect(html).toMatch(/^<html><body class="brand">Teal Shop<main>/);
      expect(html).toContain("Teal mug");
      expect(html).toContain("T-shirt &lt;b&gt;bold&lt;/b&gt; &amp; co");
    }
  });

  it("stops the worker's start-up on a broken override, naming the file and its line", async () => {
    const templates = temporaryDirectory("templates");
    writeFileSync(
      join(templates, "order-confirmation.text.njk"),
      "Hello\n\nTotal: {{ order.totalMinor | moneyy(order.currencyCode) }}\n",
    );
    await expect(
      startWorker(workerConfig("smtp://127.0.0.1:1", templates), fixture.databaseUrl, testLogger),
    ).rejects.toThrow(
      `email template ${join(templates, "order-confirmation.text.njk")}, line 3: unknown filter "moneyy"`,
    );
  });

  it.each([
    [
      "an unknown filter, even in a branch the sample order never takes",
      "layout.html.njk",
      "<html>\n{% block content %}{% endblock %}\n{% if false %}\n{{ shop.name | shout }}\n{% endif %}\n</html>",
      4,
      'unknown filter "shout"',
    ],
    [
      "an undefined variable",
      "order-cancellation.subject.njk",
      "Cancelled\n{{ order.nickname }}",
      2,
      "{{ order.nickname }} outputs a value that is undefined or null",
    ],
    [
      "a syntax error",
      "order-confirmation.text.njk",
      "Hello\nTotal: {{ order.totalMinor | }}\n",
      2,
      "expected symbol, got variable-end",
    ],
    [
      "a filter that fails (where nunjucks would name the line of extends)",
      "order-confirmation.html.njk",
      '{% extends "layout.html.njk" %}\n{% block content %}\n<p>Total</p>\n<p>{{ order.totalMinor | money("EURO") }}</p>\n{% endblock %}',
      4,
      "the money filter failed: Invalid currency code : EURO",
    ],
  ])("is refused at start-up for %s: file, real line and problem", (_, name, text, line, problem) => {
    const templates = temporaryDirectory("templates");
    writeFileSync(join(templates, name), text);
    expect(() => createEmailRenderer(loadConfig({ EMAIL_TEMPLATES_DIR: templates }))).toThrow(
      expect.objectContaining({ file: join(templates, name), line, problem: expect.stringContaining(problem) }),
    );
  });

  it("refuses an override no email uses, as a misspelt name would be", () => {
    const templates = temporaryDirectory("templates");
    writeFileSync(join(templates, "order-confirmaton.text.njk"), "Thanks!");
    expect(() => createEmailRenderer(loadConfig({ EMAIL_TEMPLATES_DIR: templates }))).toThrow(
      /order-confirmaton\.text\.njk: no email uses it; the templates it can replace are .*order-confirmation\.text\.njk/,
    );
  });
});

describe("a job that runs twice", () => {
  const fixture = useOrderApi({}, { ownDatabase: "emails_twice" });
  let smtp: SmtpCatcher;
  let lockPool: pg.Pool;
  let emails: OrderEmails;
  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    lockPool = new pg.Pool({ connectionString: fixture.databaseUrl, max: 4 });
    emails = createOrderEmails({
      em: fixture.api.orm.em,
      lockPool,
      transport: nodemailer.createTransport(smtp.url),
      renderer: createEmailRenderer(loadConfig({})),
      mailFrom: "Test Shop <orders@shop.test>",
      logger: testLogger,
    });
  });
  afterAll(async () => {
    await lockPool.end();
    await smtp.stop();
  });

  async function paidOrder(): Promise<string> {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const { order } = await fixture.place(customer, [{ productId: product.id, quantity: 1 }]);
    return order?.id ?? "";
  }

  it("sends the email once: the second run finds the sent marker", async () => {
    const orderId = await paidOrder();
    expect(await emails.send(orderId, "confirmation")).toBe("sent");
    expect(await emails.send(orderId, "confirmation")).toBe("already_sent");
    expect(smtp.messages.filter((m) => isAbout(m, orderId))).toHaveLength(1);
  });

  it("when a cancellation email's job runs twice, then it is sent once, apart from the order's confirmation", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const { order } = await fixture.place(customer, [{ productId: product.id, quantity: 1 }]);
    const orderId = order?.id ?? "";
    await fixture.orders.cancelOrder({ id: orderId, reason: "changed my mind" }, customer.auth);

    expect(await emails.send(orderId, "confirmation")).toBe("sent");
    expect(await emails.send(orderId, "cancellation")).toBe("sent");
    expect(await emails.send(orderId, "cancellation")).toBe("already_sent");
    expect(smtp.messages.filter((m) => isAbout(m, orderId)).map((m) => m.messageId)).toEqual([
      `<order-confirmation-${orderId}@shop.test>`,
      `<order-cancellation-${orderId}@shop.test>`,
    ]);
  });

  it("sends the email once when the second run starts while the first is still sending", async () => {
    const orderId = await paidOrder();
    const holding = await startSmtpCatcher({ holdAnswers: true });
    const slow = createOrderEmails({
      em: fixture.api.orm.em,
      lockPool,
      transport: nodemailer.createTransport(holding.url),
      renderer: createEmailRenderer(loadConfig({})),
      mailFrom: "Test Shop <orders@shop.test>",
      logger: testLogger,
    });
    const first = slow.send(orderId, "confirmation");
    await until(() => holding.unanswered() > 0, "the first run to reach the SMTP server");

    await expect(emails.send(orderId, "confirmation")).rejects.toBeInstanceOf(EmailBeingSent);
    holding.answerAll();
    expect(await first).toBe("sent");
    expect(await emails.send(orderId, "confirmation")).toBe("already_sent");
    expect(holding.messages).toHaveLength(1);
    expect(smtp.messages.filter((m) => isAbout(m, orderId))).toHaveLength(0);
    await holding.stop();
  });
});
