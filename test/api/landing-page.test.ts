import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as reflection from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { type RunningApi, startApi } from "../../src/api/start-api.js";
import { loadConfig } from "../../src/config/config.js";
import { createScratchDatabase } from "../support/scratch-database.js";
import { testLogger } from "../support/silent-logger.js";
import { temporaryDirectory } from "../support/temp-dirs.js";

/** The services a client finds through reflection, but for health and reflection themselves. */
async function servicesByReflection(baseUrl: string): Promise<string[]> {
  const client = createClient(reflection.ServerReflection, createGrpcTransport({ baseUrl }));
  async function* ask() {
    yield create(reflection.ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } });
  }
  for await (const { messageResponse } of client.serverReflectionInfo(ask())) {
    if (messageResponse.case !== "listServicesResponse") break;
    return messageResponse.value.service.map((service) => service.name).filter((name) => !name.startsWith("grpc."));
  }
  throw new Error("reflection listed no services");
}

describe("the page at / of the shop API's port", () => {
  let database: { url: string; drop: () => Promise<void> };
  const running: RunningApi[] = [];
  beforeAll(async () => {
    database = await createScratchDatabase("landing_page");
  });
  afterAll(async () => {
    for (const api of running) await api.stop();
    await database.drop();
  });

  async function apiWith(env: Record<string, string>) {
    const config = loadConfig({
      PORT: "0",
      DATA_DIR: temporaryDirectory("landing-page"),
      PAYMENT_GATEWAY_URL: "http://127.0.0.1:9",
      JWT_SECRET: "a-secret-for-the-landing-page-test-only",
      SHOP_NAME: "Teal Mugs",
      ...env,
    });
    const api = await startApi(config, database.url, testLogger);
    running.push(api);
    const address = `127.0.0.1:${api.port}`;
    return { address, page: await fetch(`http://${address}/`) };
  }

  it("lists every service the port serves, each call with the first sentence of its proto comment", async () => {
    const { address, page } = await apiWith({});
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await page.text();
    for (const service of await servicesByReflection(`http://${address}`))
      expect(html).toContain(`<h3>${service}</h3>`);
    expect(html).toContain(
      "<li><code>PlaceOrder</code>: Places an order for the caller: validates it, reserves stock for every line, charges the card and, once paid, fulfils it and enqueues the confirmation email.</li>",
    );
    expect(html).toContain("<strong>Teal Mugs</strong>");
  });

  it("links to the development mailbox and Buf Studio, with commands for its own address", async () => {
    const { address, page } = await apiWith({});
    const html = await page.text();
    expect(html).toContain('<a href="/mailbox">');
    expect(html).toContain(`<a href="https://buf.build/studio">Buf Studio (set its target to http://${address})</a>`);
    expect(html).toContain(`npx buf curl --protocol grpc --http2-prior-knowledge --list-methods http://${address}`);
  });

  it("names no mailbox where there is none: with SMTP_URL, emails go to a real server", async () => {
    const { page } = await apiWith({ SMTP_URL: "smtp://127.0.0.1:2525" });
    expect(await page.text()).not.toContain("/mailbox");
  });

  it("is not served in production", async () => {
    const { page } = await apiWith({
      NODE_ENV: "production",
      DATABASE_URL: database.url,
      SMTP_URL: "smtp://127.0.0.1:2525",
    });
    expect(page.status).toBe(404);
  });
});
