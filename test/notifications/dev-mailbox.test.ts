import { once } from "node:events";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/shop/v1/auth_service_pb.js";
import { InventoryService } from "../../gen/shop/v1/inventory_service_pb.js";
import { OrderService } from "../../gen/shop/v1/order_service_pb.js";
import { type RunningApi, startApi } from "../../src/api/start-api.js";
import { loadConfig } from "../../src/config/config.js";
import { type RunningWorker, startWorker } from "../../src/worker/start-worker.js";
import { type RunningTestGateway, startTestGateway, testCard } from "../support/gateway.js";
import { ownNetworkAddress } from "../support/network.js";
import { uniqueSku } from "../support/products.js";
import { createScratchDatabase } from "../support/scratch-database.js";
import { testLogger } from "../support/silent-logger.js";
import { temporaryDirectory } from "../support/temp-dirs.js";
import { until } from "../support/until.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Where the screenshots are kept for people to look at. */
const ARTIFACTS = "test-results/dev-mailbox";
/** CI installs Chromium and must run the browser tests; elsewhere they need it installed. */
const browserMissing = !existsSync(CHROMIUM) && process.env.CI === undefined;

/** A plain HTTP/1.1 GET with the headers given, as any browser or page might send. */
function get(port: number, path: string, headers: Record<string, string> = {}, host = "127.0.0.1") {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    http
      .get({ host, port, path, headers }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on("error", reject);
  });
}

describe("the development mailbox, on embedded defaults", () => {
  let database: { url: string; drop: () => Promise<void> };
  let gateway: RunningTestGateway;
  let api: RunningApi;
  let worker: RunningWorker;
  let dataDir: string;
  let templatesDir: string;
  /** What people see of the order: "#1042". */
  let orderNumber: string;
  let browser: Browser | undefined;

  beforeAll(async () => {
    database = await createScratchDatabase("dev_mailbox");
    gateway = await startTestGateway({}, { databaseUrl: database.url });
    dataDir = temporaryDirectory("mailbox");
    templatesDir = temporaryDirectory("mailbox-templates");
    // No SMTP_URL: the worker sends to the development sink, the API shows the mailbox.
    const config = loadConfig({
      // Every interface: a request may then come from another machine, which the mailbox refuses.
      HOST: "::",
      PORT: "0",
      WORKER_PORT: "0",
      DATA_DIR: dataDir,
      PAYMENT_GATEWAY_URL: gateway.baseUrl,
      EMAIL_TEMPLATES_DIR: templatesDir,
      ADMIN_EMAIL: "admin@mailbox.test",
      ADMIN_PASSWORD: "mailbox admin password",
      SHOP_NAME: "Teal Mugs & Co",
      SHOP_SUPPORT_EMAIL: "help@teal.example",
      SHOP_SUPPORT_URL: "https://teal.example/help",
      SHOP_TIME_ZONE: "Europe/Paris",
    });
    api = await startApi(config, database.url, testLogger);
    worker = await startWorker(config, database.url, testLogger);

    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${api.port}` });
    const auth = createClient(AuthService, transport);
    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
    const admin = await auth.login({ email: "admin@mailbox.test", password: "mailbox admin password" });
    const { product } = await createClient(InventoryService, transport).createProduct(
      {
        sku: uniqueSku("LAMP"),
        name: '<script>document.title = "pwned"</script> Desk lamp',
        unitPrice: { currencyCode: "EUR", amountMinor: 3450n },
        initialStock: 3,
      },
      bearer(admin.accessToken),
    );
    await auth.register({ email: "grace@mailbox.test", password: "grace's password", displayName: "Grace Hopper" });
    const customer = await auth.login({ email: "grace@mailbox.test", password: "grace's password" });
    const placed = await createClient(OrderService, transport).placeOrder(
      {
        requestId: "mailbox-1",
        lines: [{ productId: product?.id ?? "", quantity: 2 }],
        card: testCard("4242424242424242"),
      },
      bearer(customer.accessToken),
    );
    orderNumber = `#${placed.order?.number}`;
    await until(
      () => readdirSync(join(dataDir, "mail")).some((name) => name.endsWith(".eml")),
      "the development sink to receive the confirmation",
    );
    if (!browserMissing) {
      mkdirSync(ARTIFACTS, { recursive: true });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
      });
    }
  });

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    await api?.stop();
    await gateway?.stop();
    await database?.drop();
  });

  it.skipIf(browserMissing)(
    "in Chromium, lists the confirmation and shows it as the customer sees it: from the shop, its <script> as text",
    async () => {
      const page = await (browser as Browser).newPage({ viewport: { width: 1100, height: 1200 } });
      const dialogs: string[] = [];
      page.on("dialog", (dialog) => dialogs.push(dialog.message()));
      // Where a newcomer starts: the API's address in a browser.
      await page.goto(`http://127.0.0.1:${api.port}/`);
      await page.screenshot({ path: join(ARTIFACTS, "landing-page.png"), fullPage: true });
      await page.getByRole("link", { name: /^Development mailbox/ }).click();
      await page.getByRole("link", { name: `Your order ${orderNumber} is confirmed` }).click();

      await expect.poll(() => page.locator("dl.headers").textContent()).toContain("grace@mailbox.test");
      expect(await page.locator("dl.headers").textContent()).toContain('"Teal Mugs & Co" <orders@shop.localhost>');
      const email = page.frameLocator("iframe.email");
      await email.getByText(`Thank you for your order ${orderNumber}`).waitFor();
      expect(await email.locator("header").textContent()).toBe("Teal Mugs & Co");
      const shown = await email.locator("body").textContent();
      expect(shown).toContain("Hi Grace Hopper");
      expect(shown).toContain('<script>document.title = "pwned"</script> Desk lamp');
      expect(shown).toMatch(/placed on \d{1,2} \w+ \d{4} at \d\d:\d\d CES?T\./);
      expect(shown).toMatch(/Total\s*€69\.00/);
      expect(shown).toContain("Paid with Visa ending in 4242.");
      expect(await email.getByRole("link", { name: "help@teal.example" }).getAttribute("href")).toBe(
        "mailto:help@teal.example",
      );
      const text = await page.locator("pre.text").textContent();
      expect(text).toContain("Total: €69.00");
      expect(text).toContain("Paid with Visa ending in 4242.");
      expect(await email.locator("script").count()).toBe(0);
      expect(dialogs).toEqual([]);
      await page.screenshot({ path: join(ARTIFACTS, "confirmation.png"), fullPage: true });
    },
  );

  it.skipIf(browserMissing)(
    "in Chromium, previews every template on sample data, totals in the text part",
    async () => {
      const page = await (browser as Browser).newPage({ viewport: { width: 1100, height: 1200 } });
      await page.goto(`http://127.0.0.1:${api.port}/mailbox`);
      await page.getByRole("link", { name: "Order cancellation" }).click();
      const email = page.frameLocator("iframe.email");
      await email.getByText("Your order #1042 is cancelled").waitFor();
      expect(await email.locator("body").textContent()).toContain("T-shirt <b>bold</b> & co");
      expect(await email.locator("body").textContent()).toContain("refunded €47.40 to your Visa ending in 4242");
      const text = await page.locator("pre.text").textContent();
      expect(text).toContain("- Teal mug (MUG-TEAL): 2 x €12.50 = €25.00\n");
      expect(text).toContain("Subtotal: €47.40\nTotal: €47.40\n");
      await page.screenshot({ path: join(ARTIFACTS, "cancellation-preview.png"), fullPage: true });
    },
  );

  it.skipIf(browserMissing)("in Chromium, shows what is wrong with a broken template, and where", async () => {
    const html = join(templatesDir, "order-cancellation.html.njk");
    writeFileSync(
      html,
      '{% extends "layout.html.njk" %}\n{% block content %}\n<p>Refunded: {{ order.totalMinor | refund }}</p>\n{% endblock %}\n',
    );
    const page = await (browser as Browser).newPage({ viewport: { width: 1100, height: 700 } });
    await page.goto(`http://127.0.0.1:${api.port}/mailbox/previews/cancellation`);
    await expect.poll(() => page.locator("dd.problem").textContent()).toBe('unknown filter "refund"');
    expect(await page.locator("dd.line").textContent()).toBe("3");
    expect(await page.locator("pre.source span.at").textContent()).toBe(
      "3  <p>Refunded: {{ order.totalMinor | refund }}</p>",
    );
    await page.screenshot({ path: join(ARTIFACTS, "template-error.png"), fullPage: true });
    rmSync(html);
  });

  it("sends no CORS headers, so no other web site can read it", async () => {
    const inbox = await get(api.port, "/mailbox", { origin: "https://evil.example" });
    expect(inbox.status).toBe(200);
    expect(inbox.body).toContain(orderNumber);
    expect(inbox.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("refuses a request addressed to another name, as DNS rebinding would send", async () => {
    const rebound = await get(api.port, "/mailbox", { host: `evil.example:${api.port}` });
    expect(rebound.status).toBe(403);
    expect(rebound.body).not.toContain(orderNumber);
  });

  it("refuses a request from another machine, when HOST lets other machines reach it", async (context) => {
    const address = ownNetworkAddress();
    if (address === undefined) {
      return context.skip("this machine has no network address but loopback: no other machine can reach it");
    }
    const remote = await get(api.port, "/mailbox", { host: `${address}:${api.port}` }, address);
    expect(remote.status).toBe(403);
    expect(remote.body).not.toContain(orderNumber);
  });

  it("takes a message's name literally: an encoded path outside its folder is not found", async () => {
    // A file next to the mail folder, where "../" would reach if a name were decoded.
    writeFileSync(join(dataDir, "secret.eml"), "Subject: not yours\r\n\r\nsecret");
    for (const path of [
      "/mailbox/messages/..%2Fsecret.eml",
      "/mailbox/messages/..%2Fsecret.eml/source",
      "/mailbox/messages/%2E%2E%2Fsecret.eml/html",
    ]) {
      const reply = await get(api.port, path);
      expect(reply.status, path).toBe(404);
      expect(reply.body).not.toContain("secret");
    }
  });

  it("survives a request line that is not a valid URL", async () => {
    const socket = connect(api.port, "127.0.0.1").resume();
    socket.end("GET http://a:b/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    await once(socket, "close");
    expect((await get(api.port, "/mailbox")).status).toBe(200);
  });

  it("is read-only", async () => {
    const reply = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http
        .request({ host: "127.0.0.1", port: api.port, path: "/mailbox", method: "DELETE" }, resolve)
        .on("error", reject)
        .end();
    });
    expect(reply.statusCode).toBe(405);
    expect(reply.headers.allow).toBe("GET, HEAD");
    reply.resume();
  });

  it("serves an email's HTML in a sandbox where no script runs", async () => {
    const [name] = readdirSync(join(dataDir, "mail")).filter((file) => file.endsWith(".eml"));
    const html = await get(api.port, `/mailbox/messages/${name}/html`);
    expect(html.headers["content-security-policy"]).toMatch(/^sandbox; default-src 'none'/);
  });

  it("previews a template as it is on disk now: an edit shows on reload, a broken one what and where", async () => {
    const subject = join(templatesDir, "order-confirmation.subject.njk");
    writeFileSync(subject, "Merci {{ customer.displayName }}, order {{ order.id }}");
    const edited = await get(api.port, "/mailbox/previews/confirmation");
    expect(edited.body).toContain("Merci Ada Lovelace, order 0b5f3c1e-6a2d-4c8e-9f47-3d2a1b0c9e8f");

    writeFileSync(subject, "Merci\n{{ customer.displayName | shout }}");
    const broken = await get(api.port, "/mailbox/previews/confirmation");
    expect(broken.status).toBe(500);
    expect(broken.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(broken.body).toContain(`<dd class="file">${subject}</dd>`);
    expect(broken.body).toContain('<dd class="line">2</dd>');
    expect(broken.body).toContain('<dd class="problem">unknown filter &quot;shout&quot;</dd>');
    expect(broken.body).toContain('<span class="at">2  {{ customer.displayName | shout }}</span>');
    rmSync(subject);
  });
});
